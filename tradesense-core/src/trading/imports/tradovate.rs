//! `tradovate`: Tradovate's fills or orders export (`B/S`, `Contract`,
//! `filledQty` or `Quantity`, `avgPrice` or `Price`, `Fill Time` or
//! `Timestamp`, optional `Commission`; headers often carry blanks).
//!
//! Times are `MM/DD/YYYY HH:MM:SS` (or ISO) in `tz`. The multiplier comes
//! from the contract's root (`ESZ6` is `ES`: 50; `Product`, when present,
//! names the root): a root not in the table is a row error naming
//! `multiplier`, never a guessed 1. An orders export's rows whose `Status`
//! is not `Filled` (cancelled, rejected, working) are skipped. The broker
//! id is the fill's id, else the order's.

use super::contracts::{futures_multiplier, futures_root};
use super::row::{Col, Header, Row};
use super::values::{DateOrder, timestamp};
use super::{BrokerFormat, Read, RowError};
use crate::error::FieldError;
use crate::trading::Side;

const SIDE: Col = Col::new("B/S", &["b/s"]);
const CONTRACT: Col = Col::new("Contract", &["contract"]);
const PRODUCT: Col = Col::new("Product", &["product"]);
const QUANTITY: Col = Col::new("filledQty", &["filledqty", "quantity", "qty"]);
const PRICE: Col = Col::new("avgPrice", &["avgprice", "price", "avgfillprice"]);
const TIME: Col = Col::new("Fill Time", &["filltime", "timestamp"]);
const COMMISSION: Col = Col::new("Commission", &["commission"]);
const STATUS: Col = Col::new("Status", &["status"]);
const ID: Col = Col::new("Fill ID", &["fillid", "id", "orderid"]);
const MULTIPLIER: Col = Col::new("multiplier", &[]);

pub(super) struct Tradovate;

impl BrokerFormat for Tradovate {
    fn recognises(&self, header: &Header) -> bool {
        header.has_all(&["b/s", "contract"])
    }

    fn missing(&self, header: &Header) -> Vec<FieldError> {
        header.missing(&[&SIDE, &CONTRACT, &QUANTITY, &PRICE, &TIME])
    }

    fn read(&self, row: &Row<'_>) -> Result<Read, RowError> {
        if row
            .text(&STATUS)
            .is_some_and(|s| !s.eq_ignore_ascii_case("filled"))
        {
            return Ok(Read::Skipped);
        }
        let symbol = row.symbol(&CONTRACT)?;
        let root = row
            .text(&PRODUCT)
            .or_else(|| futures_root(symbol.as_str()))
            .ok_or_else(|| {
                row.fail(
                    &CONTRACT,
                    format!("`{symbol}` is not a contract code (root, month, year)"),
                )
            })?;
        let multiplier = futures_multiplier(root).ok_or_else(|| {
            row.fail(
                &MULTIPLIER,
                format!("no multiplier is known for the futures root `{root}`"),
            )
        })?;
        let side = match row.required(&SIDE)?.to_ascii_lowercase().as_str() {
            "buy" | "b" => Side::Buy,
            "sell" | "s" => Side::Sell,
            _ => return Err(row.fail(&SIDE, "must be Buy or Sell")),
        };
        let side_quantity = row.side_quantity(Some(side), &QUANTITY)?;
        let price = row.price(&PRICE)?;
        let fees = row.costs(&[&COMMISSION])?;
        let time = row.required(&TIME)?;
        let executed_at = timestamp(time, DateOrder::Us, row.reading.tz)
            .or_else(|_| timestamp(time, DateOrder::Iso, row.reading.tz))
            .map_err(|m| row.fail(&TIME, m))?;
        Ok(Read::Fill(Box::new(super::Candidate {
            fees,
            multiplier,
            broker_id: row.text(&ID).map(str::to_owned),
            ..row.fill(symbol, side_quantity, price, executed_at)
        })))
    }
}
