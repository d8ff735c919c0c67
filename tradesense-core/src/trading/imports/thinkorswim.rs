//! `thinkorswim`: the Account Trade History section of a thinkorswim (or
//! paperMoney) account statement
//! (`,Exec Time,Spread,Side,Qty,Pos Effect,Symbol,Exp,Strike,Type,Price,Net Price,Order Type`).
//!
//! `Exec Time` is `M/D/YY H:MM:SS` (or a four-digit year) in `tz`; a
//! multi-leg order's later legs leave it blank and share the first leg's.
//! `Qty` is signed (`+10`, `-10`) beside `Side`. `Type` `CALL`/`PUT` with
//! `Exp` (`17 JUL 26`) and `Strike` becomes the OCC symbol, multiplier
//! 100; `FUTURE` takes its root's multiplier. The history has no fees. A
//! line holding only its first cell (a section title) is skipped.

use super::contracts::{Right, futures_multiplier, futures_root, occ_symbol, option_multiplier};
use super::row::{Col, Header, Row};
use super::values::{DateOrder, local, local_to_utc};
use super::{BrokerFormat, Read, RowError};
use crate::error::FieldError;
use crate::trading::{Multiplier, Side, Symbol};
use chrono::NaiveDate;

const EXEC_TIME: Col = Col::new("Exec Time", &["exectime"]);
const SIDE: Col = Col::new("Side", &["side"]);
const QTY: Col = Col::new("Qty", &["qty"]);
const SYMBOL: Col = Col::new("Symbol", &["symbol"]);
const EXP: Col = Col::new("Exp", &["exp"]);
const STRIKE: Col = Col::new("Strike", &["strike"]);
const TYPE: Col = Col::new("Type", &["type"]);
const PRICE: Col = Col::new("Price", &["price"]);

pub(super) struct Thinkorswim;

impl Thinkorswim {
    fn instrument(row: &Row<'_>) -> Result<(Symbol, Multiplier), RowError> {
        let kind = row.text(&TYPE).unwrap_or("STOCK").to_ascii_uppercase();
        let symbol_text = row.required(&SYMBOL)?;
        if let Some(right) = Right::parse(&kind) {
            let exp_text = row.required(&EXP)?;
            let expiry = NaiveDate::parse_from_str(exp_text, "%d %b %y")
                .map_err(|_| row.fail(&EXP, format!("`{exp_text}` is not `DD MON YY`")))?;
            let strike = row.decimal(&STRIKE)?;
            let symbol =
                occ_symbol(symbol_text, expiry, right, strike).map_err(|m| row.fail(&SYMBOL, m))?;
            return Ok((symbol, option_multiplier()));
        }
        let symbol: Symbol = symbol_text.parse().map_err(|m| row.fail(&SYMBOL, m))?;
        if kind == "FUTURE" || symbol_text.starts_with('/') {
            let multiplier = futures_root(symbol_text)
                .and_then(futures_multiplier)
                .ok_or_else(|| {
                    row.fail(
                        &SYMBOL,
                        format!("`{symbol_text}` is not a known futures contract"),
                    )
                })?;
            return Ok((symbol, multiplier));
        }
        Ok((symbol, Multiplier::ONE))
    }
}

impl BrokerFormat for Thinkorswim {
    fn recognises(&self, header: &Header) -> bool {
        header.has_all(&["exectime", "poseffect", "side", "qty"])
    }

    fn missing(&self, header: &Header) -> Vec<FieldError> {
        header.missing(&[&EXEC_TIME, &SIDE, &QTY, &SYMBOL, &PRICE])
    }

    fn read(&self, row: &Row<'_>) -> Result<Read, RowError> {
        if row.is_note() {
            return Ok(Read::Skipped);
        }
        let executed_at = match (row.text(&EXEC_TIME), row.previous_at) {
            (Some(text), _) => {
                let at = local(text, DateOrder::Us).ok_or_else(|| {
                    row.fail(&EXEC_TIME, format!("`{text}` is not `M/D/YY H:MM:SS`"))
                })?;
                local_to_utc(at, row.reading.tz).map_err(|m| row.fail(&EXEC_TIME, m))?
            }
            (None, Some(previous)) => previous,
            (None, None) => return Err(row.fail(&EXEC_TIME, "is empty")),
        };
        let side = match row.required(&SIDE)?.to_ascii_uppercase().as_str() {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            _ => return Err(row.fail(&SIDE, "must be BUY or SELL")),
        };
        let side_quantity = row.side_quantity(Some(side), &QTY)?;
        let (symbol, multiplier) = Self::instrument(row)?;
        let price = row.price(&PRICE)?;
        Ok(Read::Fill(Box::new(super::Candidate {
            multiplier,
            ..row.fill(symbol, side_quantity, price, executed_at)
        })))
    }
}
