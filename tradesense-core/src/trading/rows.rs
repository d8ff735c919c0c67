//! Row types of the trading tables and their conversion into domain
//! records (a stored value that no longer parses is `StoreError::Corrupt`).

use super::{Portfolio, Trade, TradeLeg};
use crate::store::{DbDecimal, StoreError};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(super) const PORTFOLIO_COLUMNS: &str =
    "id, user_id, name, base_currency, allow_short, cost_basis, created_at";
pub(super) const TRADE_COLUMNS: &str = "id, user_id, portfolio_id, symbol, side, quantity, price, fees, executed_at, notes, tags, import_id, created_at, multiplier";

#[derive(sqlx::FromRow)]
pub(super) struct PortfolioRow {
    pub(super) id: Uuid,
    pub(super) user_id: Uuid,
    pub(super) name: String,
    pub(super) base_currency: String,
    pub(super) allow_short: bool,
    pub(super) cost_basis: String,
    pub(super) created_at: DateTime<Utc>,
}

impl TryFrom<PortfolioRow> for Portfolio {
    type Error = StoreError;
    fn try_from(row: PortfolioRow) -> Result<Self, StoreError> {
        Ok(Portfolio {
            id: row.id,
            user_id: row.user_id,
            name: row.name.parse().map_err(corrupt("portfolio name"))?,
            base_currency: row
                .base_currency
                .parse()
                .map_err(corrupt("base_currency"))?,
            allow_short: row.allow_short,
            cost_basis: row.cost_basis.parse().map_err(corrupt("cost_basis"))?,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TradeRow {
    pub(super) id: Uuid,
    pub(super) user_id: Uuid,
    pub(super) portfolio_id: Option<Uuid>,
    pub(super) symbol: String,
    pub(super) side: String,
    pub(super) quantity: DbDecimal,
    pub(super) price: DbDecimal,
    pub(super) fees: DbDecimal,
    pub(super) executed_at: DateTime<Utc>,
    pub(super) notes: Option<String>,
    pub(super) tags: String,
    pub(super) import_id: Option<Uuid>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) multiplier: DbDecimal,
}

impl TryFrom<TradeRow> for Trade {
    type Error = StoreError;
    fn try_from(row: TradeRow) -> Result<Self, StoreError> {
        use super::{Fees, Multiplier, Price, Quantity};
        Ok(Trade {
            id: row.id,
            user_id: row.user_id,
            portfolio_id: row.portfolio_id,
            symbol: row.symbol.parse().map_err(corrupt("symbol"))?,
            side: row.side.parse().map_err(corrupt("side"))?,
            quantity: Quantity::new(row.quantity.0).map_err(corrupt("quantity"))?,
            price: Price::new(row.price.0).map_err(corrupt("price"))?,
            fees: Fees::new(row.fees.0).map_err(corrupt("fees"))?,
            multiplier: Multiplier::new(row.multiplier.0).map_err(corrupt("multiplier"))?,
            executed_at: row.executed_at,
            notes: row
                .notes
                .map(|n| n.parse())
                .transpose()
                .map_err(corrupt("notes"))?,
            tags: super::Tags::from_json(&row.tags).map_err(corrupt("tags"))?,
            import_id: row.import_id,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct PositionRow {
    pub(super) symbol: String,
    pub(super) quantity: DbDecimal,
    pub(super) average_cost: DbDecimal,
    pub(super) realized_pnl: DbDecimal,
}

pub(super) fn corrupt(what: &'static str) -> impl Fn(String) -> StoreError {
    move |err| StoreError::Corrupt(format!("{what}: {err}"))
}

pub(super) fn trade_leg(trade: &Trade) -> TradeLeg {
    TradeLeg {
        id: trade.id,
        symbol: trade.symbol.clone(),
        side: trade.side,
        quantity: trade.quantity,
        price: trade.price,
        fees: trade.fees,
        multiplier: trade.multiplier,
    }
}
