//! `fidelity`: Fidelity's Account History export
//! (`Run Date,Action,Symbol,Description,Type,Quantity,Price ($),Commission ($),Fees ($),Accrued Interest ($),Amount ($),Settlement Date`).
//!
//! `Run Date` is `MM/DD/YYYY` (or `MM-DD-YYYY`) without a time (midnight
//! in `tz`; Fidelity lists newest first). `YOU BOUGHT ...`, `YOU SOLD ...`
//! and `REINVESTMENT` (a buy) are fills; dividends, interest and transfers
//! are skipped, and so are the disclaimer lines under the data. Sells carry
//! a negative `Quantity`. An option's `Symbol` is `-NVDA260710P195`
//! (root, `YYMMDD`, `C`/`P`, the strike as written).

use super::contracts::{Right, occ_symbol};
use super::row::{Col, Header, Row};
use super::{BrokerFormat, Read, RowError};
use crate::error::FieldError;
use crate::trading::{Side, Symbol};
use chrono::NaiveDate;

const RUN_DATE: Col = Col::new("Run Date", &["rundate"]);
const ACTION: Col = Col::new("Action", &["action"]);
const SYMBOL: Col = Col::new("Symbol", &["symbol"]);
const QUANTITY: Col = Col::new("Quantity", &["quantity"]);
const PRICE: Col = Col::new("Price ($)", &["price($)", "price"]);
const COMMISSION: Col = Col::new("Commission ($)", &["commission($)", "commission"]);
const FEES: Col = Col::new("Fees ($)", &["fees($)", "fees"]);

pub(super) struct Fidelity;

/// The side of an action, `None` for one that is not a trade.
fn side(action: &str) -> Option<Side> {
    let action = action.to_ascii_uppercase();
    if action.starts_with("YOU BOUGHT") || action.starts_with("REINVESTMENT") {
        Some(Side::Buy)
    } else if action.starts_with("YOU SOLD") {
        Some(Side::Sell)
    } else {
        None
    }
}

/// `-NVDA260710P195` as an OCC symbol, `None` for a plain symbol.
fn option(row: &Row<'_>, text: &str) -> Option<Result<Symbol, RowError>> {
    let text = text.strip_prefix('-')?.trim();
    if !text.is_ascii() {
        return None;
    }
    let right_at = text.rfind(['C', 'P'])?;
    let (head, strike) = (&text[..right_at], &text[right_at + 1..]);
    let date_at = head.len().checked_sub(6)?;
    let (root, expiry) = head.split_at(date_at);
    let build = || -> Result<Symbol, String> {
        let expiry = NaiveDate::parse_from_str(expiry, "%y%m%d")
            .map_err(|_| format!("`{expiry}` is not `YYMMDD`"))?;
        let right = Right::parse(&text[right_at..=right_at]).ok_or("must hold `C` or `P`")?;
        let strike = super::values::number(strike, row.reading.decimal, row.reading.grouping)?;
        occ_symbol(root, expiry, right, strike)
    };
    Some(build().map_err(|m: String| row.fail(&SYMBOL, format!("option `-{text}`: {m}"))))
}

impl BrokerFormat for Fidelity {
    fn recognises(&self, header: &Header) -> bool {
        header.has_all(&["rundate", "action", "symbol"])
    }

    fn missing(&self, header: &Header) -> Vec<FieldError> {
        header.missing(&[&RUN_DATE, &ACTION, &SYMBOL, &QUANTITY, &PRICE])
    }

    fn read(&self, row: &Row<'_>) -> Result<Read, RowError> {
        if row.is_note() {
            return Ok(Read::Skipped);
        }
        let Some(side) = side(row.text(&ACTION).unwrap_or("")) else {
            return Ok(Read::Skipped);
        };
        let symbol_text = row.required(&SYMBOL)?;
        let (symbol, multiplier) = row.option_or_symbol(option(row, symbol_text), &SYMBOL)?;
        let side_quantity = row.side_quantity(Some(side), &QUANTITY)?;
        let price = row.price(&PRICE)?;
        let fees = row.costs(&[&COMMISSION, &FEES])?;
        let executed_at = row.us_day(&RUN_DATE, row.required(&RUN_DATE)?)?;
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
