//! `generic`: any CSV with the contract's column names and their aliases
//! (docs/API.md, "Imports"), dates per `date_format`, fees per `fee_sign`.

use super::row::{Col, Header, Row};
use super::values::timestamp;
use super::{BrokerFormat, Read, RowError};
use crate::error::FieldError;
use crate::trading::{Fees, Multiplier, Notes, Side, Tags};

const SYMBOL: Col = Col::new("symbol", &["symbol"]);
const SIDE: Col = Col::new("side", &["side", "action"]);
const QUANTITY: Col = Col::new("quantity", &["quantity", "qty", "shares"]);
const PRICE: Col = Col::new("price", &["price"]);
const FEES: Col = Col::new("fees", &["fees", "commission"]);
const MULTIPLIER: Col = Col::new("multiplier", &["multiplier"]);
const EXECUTED_AT: Col = Col::new("executed_at", &["executedat"]);
const DATE: Col = Col::new("date", &["date"]);
const TIME: Col = Col::new("time", &["time"]);
const ID: Col = Col::new("id", &["id", "executionid", "tradeid"]);
const NOTES: Col = Col::new("notes", &["notes"]);
const TAGS: Col = Col::new("tags", &["tags"]);

pub(super) struct Generic;

/// `buy`/`sell`, also `b`/`s`, `bot`/`sld`, any case.
fn side(text: &str) -> Option<Side> {
    match text.to_ascii_lowercase().as_str() {
        "buy" | "b" | "bot" => Some(Side::Buy),
        "sell" | "s" | "sld" => Some(Side::Sell),
        _ => None,
    }
}

impl BrokerFormat for Generic {
    fn recognises(&self, header: &Header) -> bool {
        self.missing(header).is_empty()
    }

    fn missing(&self, header: &Header) -> Vec<FieldError> {
        let mut missing = Vec::new();
        if !(header.has(&EXECUTED_AT) || (header.has(&DATE) && header.has(&TIME))) {
            missing.push(FieldError::new(
                EXECUTED_AT.name,
                "required column missing from the header (or `date` and `time`)",
            ));
        }
        missing.extend(header.missing(&[&SYMBOL, &QUANTITY, &PRICE]));
        missing
    }

    fn read(&self, row: &Row<'_>) -> Result<Read, RowError> {
        let symbol = row.symbol(&SYMBOL)?;
        let side = row
            .text(&SIDE)
            .map(|t| side(t).ok_or_else(|| row.fail(&SIDE, "must be buy/sell (or b/s, bot/sld)")))
            .transpose()?;
        let side_quantity = row.side_quantity(side, &QUANTITY)?;
        let price = row.price(&PRICE)?;
        let fees = match row.number(&FEES)? {
            Some(fees) if row.reading.signed_fees => Fees::new(fees),
            // Brokers write commissions negative (a cost): the sign is ignored.
            Some(fees) => Fees::new(fees.abs()),
            None => Ok(Fees::ZERO),
        }
        .map_err(|m| row.fail(&FEES, m))?;
        let multiplier = row
            .number(&MULTIPLIER)?
            .map(Multiplier::new)
            .transpose()
            .map_err(|m| row.fail(&MULTIPLIER, m))?
            .unwrap_or_default();
        let (at_col, at_text) = match row.text(&EXECUTED_AT) {
            Some(text) => (&EXECUTED_AT, text.to_owned()),
            None => (
                &DATE,
                format!(
                    "{} {}",
                    row.text(&DATE).unwrap_or(""),
                    row.text(&TIME).unwrap_or("")
                ),
            ),
        };
        let executed_at = timestamp(&at_text, row.reading.dates, row.reading.tz)
            .map_err(|m| row.fail(at_col, m))?;
        let notes = row
            .text(&NOTES)
            .map(str::parse::<Notes>)
            .transpose()
            .map_err(|m| row.fail(&NOTES, m))?;
        let tags = Tags::parse(
            row.text(&TAGS)
                .unwrap_or("")
                .split(';')
                .filter(|t| !t.trim().is_empty()),
        )
        .map_err(|m| row.fail(&TAGS, m))?;
        Ok(Read::Fill(Box::new(super::Candidate {
            fees,
            multiplier,
            broker_id: row.text(&ID).map(str::to_owned),
            notes,
            tags,
            ..row.fill(symbol, side_quantity, price, executed_at)
        })))
    }
}
