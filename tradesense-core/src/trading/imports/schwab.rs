//! `schwab`: Charles Schwab's transaction history export
//! (`Date,Action,Symbol,Description,Quantity,Price,Fees & Comm,Amount`).
//!
//! `Date` is `MM/DD/YYYY`, sometimes `07/15/2026 as of 07/14/2026` (the
//! first date is the trade's); there is no time of day, so fills are at
//! midnight in `tz` and a file listed newest first (Schwab's default) keeps
//! each day's fills in the order they happened. Buys and sells of every
//! kind (`Buy`, `Sell Short`, `Buy to Cover`, `Sell to Open`, ..., and
//! `Reinvest Shares`, a buy) are fills; dividends, interest, transfers,
//! journals, expirations and the `Transactions Total` line are skipped. An
//! option's `Symbol` is `MDB 07/17/2026 312.50 P`.

use super::contracts::{Right, occ_symbol};
use super::row::{Col, Header, Row};
use super::values::{DateOrder, date};
use super::{BrokerFormat, Read, RowError};
use crate::error::FieldError;
use crate::trading::{Side, Symbol};

const DATE: Col = Col::new("Date", &["date"]);
const ACTION: Col = Col::new("Action", &["action"]);
const SYMBOL: Col = Col::new("Symbol", &["symbol"]);
const QUANTITY: Col = Col::new("Quantity", &["quantity"]);
const PRICE: Col = Col::new("Price", &["price"]);
const FEES: Col = Col::new("Fees & Comm", &["fees&comm"]);

pub(super) struct Schwab;

/// The side of a trade action, `None` for an action that is not a trade.
fn side(action: &str) -> Option<Side> {
    let action = action.to_ascii_lowercase();
    if action == "reinvest shares" || action.starts_with("buy") {
        Some(Side::Buy)
    } else if action.starts_with("sell") {
        Some(Side::Sell)
    } else {
        None
    }
}

/// `MDB 07/17/2026 312.50 P` as an OCC symbol, `None` for a plain symbol.
fn option(row: &Row<'_>, text: &str) -> Option<Result<Symbol, RowError>> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [root, expiry, strike, right] = parts.as_slice() else {
        return None;
    };
    let build = || -> Result<Symbol, String> {
        let expiry = date(expiry, DateOrder::Us).ok_or("its expiry is not `MM/DD/YYYY`")?;
        let right = Right::parse(right).ok_or("must end in `P` or `C`")?;
        let strike = super::values::number(strike, row.reading.decimal, row.reading.grouping)?;
        occ_symbol(root, expiry, right, strike)
    };
    Some(build().map_err(|m: String| row.fail(&SYMBOL, format!("option `{text}`: {m}"))))
}

impl BrokerFormat for Schwab {
    fn recognises(&self, header: &Header) -> bool {
        header.has_all(&["date", "action", "symbol", "fees&comm"])
    }

    fn missing(&self, header: &Header) -> Vec<FieldError> {
        header.missing(&[&DATE, &ACTION, &SYMBOL, &QUANTITY, &PRICE])
    }

    fn read(&self, row: &Row<'_>) -> Result<Read, RowError> {
        let date_text = row.required(&DATE)?;
        if row.is_note() || date_text.eq_ignore_ascii_case("transactions total") {
            return Ok(Read::Skipped);
        }
        let Some(side) = side(row.text(&ACTION).unwrap_or("")) else {
            return Ok(Read::Skipped);
        };
        let symbol_text = row.required(&SYMBOL)?;
        let (symbol, multiplier) = row.option_or_symbol(option(row, symbol_text), &SYMBOL)?;
        let side_quantity = row.side_quantity(Some(side), &QUANTITY)?;
        let price = row.price(&PRICE)?;
        let fees = row.costs(&[&FEES])?;
        // `07/15/2026 as of 07/14/2026`: the first date.
        let day = date_text.split_whitespace().next().unwrap_or("");
        let executed_at = row.us_day(&DATE, day)?;
        Ok(Read::Fill(Box::new(super::Candidate {
            fees,
            multiplier,
            ..row.fill(symbol, side_quantity, price, executed_at)
        })))
    }

    fn newest_first(&self) -> bool {
        true
    }
}
