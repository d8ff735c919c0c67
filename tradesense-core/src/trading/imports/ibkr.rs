//! `ibkr`: Interactive Brokers' Flex Query trades CSV.
//!
//! `DateTime` is `YYYYMMDD;HHMMSS` (also `YYYY-MM-DD;HH:MM:SS` and
//! `YYYY-MM-DD, HH:MM:SS`) in `tz`; without it a `TradeDate` is midnight.
//! `Buy/Sell` gives the side, else the sign of `Quantity`. `IBCommission`
//! keeps its sign: negative is a cost, positive a rebate. `AssetClass`
//! `OPT` becomes the OCC symbol from `UnderlyingSymbol` (else `Symbol`'s
//! root), `Expiry`, `Put/Call` and `Strike`; `Multiplier` is read when
//! there (an option's default 100, a future's its root's). With a
//! `LevelOfDetail` column only `EXECUTION` rows are fills (order,
//! closed-lot and summary rows repeat them).

use super::contracts::{Right, futures_multiplier, futures_root, occ_symbol, option_multiplier};
use super::row::{Col, Header, Row};
use super::values::{DateOrder, date, local_to_utc};
use super::{BrokerFormat, Read, RowError};
use crate::error::FieldError;
use crate::trading::{Fees, Multiplier, Side, Symbol};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

const SYMBOL: Col = Col::new("Symbol", &["symbol"]);
const UNDERLYING: Col = Col::new("UnderlyingSymbol", &["underlyingsymbol"]);
const SIDE: Col = Col::new("Buy/Sell", &["buy/sell"]);
const QUANTITY: Col = Col::new("Quantity", &["quantity"]);
const PRICE: Col = Col::new("TradePrice", &["tradeprice"]);
const COMMISSION: Col = Col::new("IBCommission", &["ibcommission"]);
const DATE_TIME: Col = Col::new("DateTime", &["datetime"]);
const TRADE_DATE: Col = Col::new("TradeDate", &["tradedate"]);
const TRADE_ID: Col = Col::new("TradeID", &["tradeid"]);
const ASSET_CLASS: Col = Col::new("AssetClass", &["assetclass"]);
const MULTIPLIER: Col = Col::new("Multiplier", &["multiplier"]);
const EXPIRY: Col = Col::new("Expiry", &["expiry"]);
const PUT_CALL: Col = Col::new("Put/Call", &["put/call"]);
const STRIKE: Col = Col::new("Strike", &["strike"]);
const LEVEL: Col = Col::new("LevelOfDetail", &["levelofdetail"]);

pub(super) struct Ibkr;

impl Ibkr {
    fn time(row: &Row<'_>) -> Result<chrono::DateTime<chrono::Utc>, RowError> {
        let (col, text) = match row.text(&DATE_TIME) {
            Some(text) => (&DATE_TIME, text),
            None => (&TRADE_DATE, row.required(&TRADE_DATE)?),
        };
        let formats = [
            "%Y%m%d;%H%M%S",
            "%Y%m%d %H%M%S",
            "%Y-%m-%d;%H:%M:%S",
            "%Y-%m-%d, %H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
        ];
        let local = formats
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
            .or_else(|| {
                ["%Y%m%d", "%Y-%m-%d"]
                    .iter()
                    .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
                    .map(|d| d.and_time(NaiveTime::MIN))
            })
            .ok_or_else(|| row.fail(col, "must be `YYYYMMDD;HHMMSS`"))?;
        local_to_utc(local, row.reading.tz).map_err(|m| row.fail(col, m))
    }

    /// The OCC symbol of an `OPT` row.
    fn option(row: &Row<'_>) -> Result<Symbol, RowError> {
        let root = match row.text(&UNDERLYING) {
            Some(root) => root,
            // `Symbol` is the OCC symbol with its root padded by blanks.
            None => row
                .required(&SYMBOL)?
                .split_whitespace()
                .next()
                .unwrap_or(""),
        };
        let expiry_text = row.required(&EXPIRY)?;
        let expiry = NaiveDate::parse_from_str(expiry_text, "%Y%m%d")
            .ok()
            .or_else(|| date(expiry_text, DateOrder::Iso))
            .ok_or_else(|| row.fail(&EXPIRY, "must be `YYYYMMDD`"))?;
        let right = Right::parse(row.required(&PUT_CALL)?)
            .ok_or_else(|| row.fail(&PUT_CALL, "must be `P` or `C`"))?;
        let strike = row.decimal(&STRIKE)?;
        occ_symbol(root, expiry, right, strike).map_err(|m| row.fail(&SYMBOL, m))
    }
}

impl BrokerFormat for Ibkr {
    fn recognises(&self, header: &Header) -> bool {
        header.has_all(&["symbol", "tradeprice", "quantity"])
    }

    fn missing(&self, header: &Header) -> Vec<FieldError> {
        let mut missing = Vec::new();
        if !header.has(&DATE_TIME) && !header.has(&TRADE_DATE) {
            missing.push(FieldError::new(
                DATE_TIME.name,
                "required column missing from the header (or `TradeDate`)",
            ));
        }
        missing.extend(header.missing(&[&SYMBOL, &QUANTITY, &PRICE]));
        missing
    }

    fn read(&self, row: &Row<'_>) -> Result<Read, RowError> {
        if row
            .text(&LEVEL)
            .is_some_and(|level| !level.eq_ignore_ascii_case("EXECUTION"))
        {
            return Ok(Read::Skipped);
        }
        let class = row.text(&ASSET_CLASS).unwrap_or("STK").to_ascii_uppercase();
        let symbol = if class == "OPT" {
            Self::option(row)?
        } else {
            row.symbol(&SYMBOL)?
        };
        let side = match row.text(&SIDE) {
            Some(text) => Some(match text.to_ascii_uppercase().as_str() {
                "BUY" | "BOT" => Side::Buy,
                "SELL" | "SLD" => Side::Sell,
                _ => return Err(row.fail(&SIDE, "must be BUY or SELL")),
            }),
            None => None,
        };
        let side_quantity = row.side_quantity(side, &QUANTITY)?;
        let price = row.price(&PRICE)?;
        // Negative is a cost, positive a rebate: the opposite of `fees`.
        let fees = Fees::new(-row.number(&COMMISSION)?.unwrap_or_default())
            .map_err(|m| row.fail(&COMMISSION, m))?;
        let multiplier = match row.number(&MULTIPLIER)? {
            Some(m) => Multiplier::new(m).map_err(|msg| row.fail(&MULTIPLIER, msg))?,
            None if class == "OPT" => option_multiplier(),
            None if class == "FUT" => {
                let root = row
                    .text(&UNDERLYING)
                    .or_else(|| futures_root(symbol.as_str()))
                    .unwrap_or(symbol.as_str());
                futures_multiplier(root).ok_or_else(|| {
                    row.fail(
                        &MULTIPLIER,
                        format!("no `Multiplier`, and `{root}` is not a known futures root"),
                    )
                })?
            }
            None => Multiplier::ONE,
        };
        let executed_at = Self::time(row)?;
        Ok(Read::Fill(Box::new(super::Candidate {
            fees,
            multiplier,
            broker_id: row.text(&TRADE_ID).map(str::to_owned),
            ..row.fill(symbol, side_quantity, price, executed_at)
        })))
    }
}
