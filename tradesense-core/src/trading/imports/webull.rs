//! `webull`: Webull's orders export
//! (`Name,Symbol,Side,Status,Filled,Total Qty,Price,Avg Price,Time-in-Force,Placed Time,Filled Time`).
//!
//! Only `Filled` orders are fills (`Filled` shares at `Avg Price`, at
//! `Filled Time`, `MM/DD/YYYY HH:MM:SS EDT`: the zone abbreviation gives
//! the offset); cancelled, failed and working orders are skipped. `Side`
//! is `Buy`, `Sell` or `Short` (a sell). Options are listed by their OCC
//! symbol (`MDB260717P00312500`) and get multiplier 100. The export has no
//! fees.

use super::contracts::{is_occ, option_multiplier};
use super::row::{Col, Header, Row};
use super::values::zoned;
use super::{BrokerFormat, Read, RowError};
use crate::error::FieldError;
use crate::trading::{Multiplier, Side};

const SYMBOL: Col = Col::new("Symbol", &["symbol"]);
const SIDE: Col = Col::new("Side", &["side"]);
const STATUS: Col = Col::new("Status", &["status"]);
const FILLED: Col = Col::new("Filled", &["filled", "filledqty"]);
const AVG_PRICE: Col = Col::new("Avg Price", &["avgprice", "filledavgprice"]);
const FILLED_TIME: Col = Col::new("Filled Time", &["filledtime", "filltime"]);

pub(super) struct Webull;

impl BrokerFormat for Webull {
    fn recognises(&self, header: &Header) -> bool {
        header.has_all(&[
            "symbol",
            "side",
            "status",
            "filled",
            "avgprice",
            "filledtime",
        ])
    }

    fn missing(&self, header: &Header) -> Vec<FieldError> {
        header.missing(&[&SYMBOL, &SIDE, &STATUS, &FILLED, &AVG_PRICE, &FILLED_TIME])
    }

    fn read(&self, row: &Row<'_>) -> Result<Read, RowError> {
        if !row.required(&STATUS)?.eq_ignore_ascii_case("filled") {
            return Ok(Read::Skipped);
        }
        let symbol = row.symbol(&SYMBOL)?;
        let multiplier = if is_occ(symbol.as_str()) {
            option_multiplier()
        } else {
            Multiplier::ONE
        };
        let side = match row.required(&SIDE)?.to_ascii_lowercase().as_str() {
            "buy" => Side::Buy,
            "sell" | "short" => Side::Sell,
            _ => return Err(row.fail(&SIDE, "must be Buy, Sell or Short")),
        };
        let side_quantity = row.side_quantity(Some(side), &FILLED)?;
        let price = row.price(&AVG_PRICE)?;
        let executed_at = zoned(row.required(&FILLED_TIME)?, row.reading.tz)
            .map_err(|m| row.fail(&FILLED_TIME, m))?;
        Ok(Read::Fill(Box::new(super::Candidate {
            multiplier,
            ..row.fill(symbol, side_quantity, price, executed_at)
        })))
    }
}
