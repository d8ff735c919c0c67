//! `etrade`: E*TRADE's transaction history, in either header generation:
//! `TransactionDate,TransactionType,SecurityType,Symbol,Quantity,Amount,Price,Commission,Description`
//! or `Activity/Trade Date,Transaction/Settlement Date,Activity Type,Description,Symbol,Cusip,Quantity #,Price $,Amount $,Commission,...`.
//!
//! Dates are `MM/DD/YY` without a time (midnight in `tz`; E*TRADE lists
//! newest first). `Bought`, `Sold`, `Bought To Open`, `Sold Short`,
//! `Bought To Cover`, ... are fills; dividends, interest, transfers and
//! expirations are skipped. Sells carry a negative `Quantity`. An option's
//! `Description` reads `PUT  MDB    07/17/26   312.500`.

use super::contracts::{Right, occ_symbol};
use super::row::{Col, Header, Row};
use super::values::{DateOrder, date};
use super::{BrokerFormat, Read, RowError};
use crate::error::FieldError;
use crate::trading::{Side, Symbol};

const DATE: Col = Col::new(
    "Transaction Date",
    &["transactiondate", "activity/tradedate"],
);
const TYPE: Col = Col::new("Transaction Type", &["transactiontype", "activitytype"]);
const DESCRIPTION: Col = Col::new("Description", &["description"]);
const SYMBOL: Col = Col::new("Symbol", &["symbol"]);
const QUANTITY: Col = Col::new("Quantity", &["quantity", "quantity#"]);
const PRICE: Col = Col::new("Price", &["price", "price$"]);
const COMMISSION: Col = Col::new("Commission", &["commission"]);

pub(super) struct Etrade;

/// The side of a transaction type, `None` for one that is not a trade.
fn side(kind: &str) -> Option<Side> {
    let kind = kind.to_ascii_lowercase();
    if kind.starts_with("bought") {
        Some(Side::Buy)
    } else if kind.starts_with("sold") {
        Some(Side::Sell)
    } else {
        None
    }
}

/// `PUT  MDB    07/17/26   312.500` as an OCC symbol, `None` for a
/// description that is not an option's.
fn option(row: &Row<'_>) -> Option<Result<Symbol, RowError>> {
    let text = row.text(&DESCRIPTION)?;
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [right, root, expiry, strike, ..] = parts.as_slice() else {
        return None;
    };
    let right = Right::parse(right).filter(|_| right.len() > 1)?;
    let build = || -> Result<Symbol, String> {
        let expiry = date(expiry, DateOrder::Us).ok_or("its expiry is not `MM/DD/YY`")?;
        let strike = super::values::number(strike, row.reading.decimal, row.reading.grouping)?;
        occ_symbol(root, expiry, right, strike)
    };
    Some(build().map_err(|m: String| row.fail(&DESCRIPTION, format!("option `{text}`: {m}"))))
}

impl BrokerFormat for Etrade {
    fn recognises(&self, header: &Header) -> bool {
        header.has_all(&["transactiondate", "transactiontype"])
            || header.has_all(&["activity/tradedate", "activitytype"])
    }

    fn missing(&self, header: &Header) -> Vec<FieldError> {
        header.missing(&[&DATE, &TYPE, &SYMBOL, &QUANTITY, &PRICE])
    }

    fn read(&self, row: &Row<'_>) -> Result<Read, RowError> {
        if row.is_note() {
            return Ok(Read::Skipped);
        }
        let Some(side) = side(row.text(&TYPE).unwrap_or("")) else {
            return Ok(Read::Skipped);
        };
        let (symbol, multiplier) = row.option_or_symbol(option(row), &SYMBOL)?;
        let side_quantity = row.side_quantity(Some(side), &QUANTITY)?;
        let price = row.price(&PRICE)?;
        let fees = row.costs(&[&COMMISSION])?;
        let executed_at = row.us_day(&DATE, row.required(&DATE)?)?;
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
