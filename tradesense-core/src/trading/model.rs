//! The records of the trading API: portfolios, trades, their inputs, and the
//! listing query. Storage reads and writes these; handlers render them.

use super::{CostBasis, Fees, Multiplier, Price, Quantity, Rules, Side, Symbol, Tag, Tags};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::str::FromStr;
use uuid::Uuid;

/// A portfolio name: 1-100 characters once surrounding blanks are trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortfolioName(String);

impl PortfolioName {
    /// The longest name accepted, in characters.
    pub const MAX_LEN: usize = 100;

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PortfolioName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let name = s.trim();
        if name.is_empty()
            || name.chars().count() > Self::MAX_LEN
            || name.chars().any(char::is_control)
        {
            return Err(format!("must be 1-{} printable characters", Self::MAX_LEN));
        }
        Ok(Self(name.to_owned()))
    }
}

/// A currency code: three ASCII letters, stored upper case (`usd` is `USD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Currency(String);

impl Currency {
    /// The currency code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The default base currency.
    pub fn usd() -> Self {
        Self("USD".to_owned())
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(s.to_ascii_uppercase()))
        } else {
            Err("must be a three-letter currency code".to_owned())
        }
    }
}

/// Free-text notes on a trade: at most 1000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notes(String);

impl Notes {
    /// The longest notes accepted, in characters.
    pub const MAX_LEN: usize = 1000;

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Notes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.chars().count() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A portfolio, as stored and sent (`user_id` is never sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Portfolio {
    /// Id.
    pub id: Uuid,
    /// Owner.
    #[serde(skip)]
    pub user_id: Uuid,
    /// Display name.
    #[schema(value_type = String)]
    pub name: PortfolioName,
    /// Currency the portfolio is valued in.
    #[schema(value_type = String)]
    pub base_currency: Currency,
    /// Whether a sell beyond the held quantity opens a short.
    pub allow_short: bool,
    /// How closing trades realize: `average`, `fifo` or `lifo`.
    pub cost_basis: CostBasis,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Portfolio {
    /// The rules its trades fold under.
    pub fn rules(&self) -> Rules {
        Rules {
            allow_short: self.allow_short,
            cost_basis: self.cost_basis,
        }
    }
}

/// The editable fields of a portfolio; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PortfolioChanges {
    /// New name.
    pub name: Option<PortfolioName>,
    /// New short-selling rule (refolds the portfolio).
    pub allow_short: Option<bool>,
    /// New cost-basis method (refolds the portfolio).
    pub cost_basis: Option<CostBasis>,
}

/// A trade, as stored and sent (`user_id` is never sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Trade {
    /// Id (UUID v7).
    pub id: Uuid,
    /// Owner.
    #[serde(skip)]
    pub user_id: Uuid,
    /// Instrument.
    #[schema(value_type = String)]
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// How much.
    #[schema(value_type = String)]
    pub quantity: Quantity,
    /// Unit price.
    #[schema(value_type = String)]
    pub price: Price,
    /// Fees (negative: a rebate).
    #[schema(value_type = String)]
    pub fees: Fees,
    /// Money per unit of price and quantity (options 100, ES 50).
    #[schema(value_type = String)]
    pub multiplier: Multiplier,
    /// When it executed: its place in the fold.
    pub executed_at: DateTime<Utc>,
    /// The portfolio whose positions it moves, if any.
    pub portfolio_id: Option<Uuid>,
    /// Free text.
    #[schema(value_type = Option<String>)]
    pub notes: Option<Notes>,
    /// Tags, sorted, lower case.
    #[schema(value_type = Vec<String>)]
    pub tags: Tags,
    /// The import that created it, if one did.
    pub import_id: Option<Uuid>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// A trade to record.
#[derive(Debug, Clone)]
pub struct NewTrade {
    /// Owner.
    pub user_id: Uuid,
    /// Instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// How much.
    pub quantity: Quantity,
    /// Unit price.
    pub price: Price,
    /// Fees (negative: a rebate).
    pub fees: Fees,
    /// Money per unit of price and quantity.
    pub multiplier: Multiplier,
    /// When it executed; `None`: now, as the store records it, taken once
    /// the write holds its group's lock, so concurrent writes without a
    /// time sort in the order they commit (each is the newest of its
    /// group, and folds in constant time: `append_sql.rs`).
    pub executed_at: Option<DateTime<Utc>>,
    /// The portfolio, if any (must be the owner's).
    pub portfolio_id: Option<Uuid>,
    /// Free text.
    pub notes: Option<Notes>,
    /// Tags.
    pub tags: Tags,
    /// The import creating it, if any.
    pub import_id: Option<Uuid>,
}

/// The editable fields of a trade; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, utoipa::ToSchema)]
pub struct TradeChanges {
    /// New symbol (moves the trade to that symbol's group).
    #[schema(value_type = Option<String>)]
    pub symbol: Option<Symbol>,
    /// New side.
    pub side: Option<Side>,
    /// New quantity: greater than zero.
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Quantity>,
    /// New price: zero or more.
    #[schema(value_type = Option<String>)]
    pub price: Option<Price>,
    /// New fees (negative: a rebate).
    #[schema(value_type = Option<String>)]
    pub fees: Option<Fees>,
    /// New multiplier: greater than zero.
    #[schema(value_type = Option<String>)]
    pub multiplier: Option<Multiplier>,
    /// New execution time (moves the trade in the fold).
    pub executed_at: Option<DateTime<Utc>>,
    /// New portfolio (`null`: none); moves the trade to that group.
    #[schema(value_type = Option<Uuid>)]
    pub portfolio_id: Option<Option<Uuid>>,
    /// New notes, up to 1000 characters; `null` clears them.
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<Notes>>,
    /// New tags (replacing the old; `[]` clears them).
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Option<Tags>,
}

impl TradeChanges {
    /// `trade` with these changes applied.
    pub fn apply_to(&self, trade: &Trade) -> Trade {
        Trade {
            symbol: self.symbol.clone().unwrap_or_else(|| trade.symbol.clone()),
            side: self.side.unwrap_or(trade.side),
            quantity: self.quantity.unwrap_or(trade.quantity),
            price: self.price.unwrap_or(trade.price),
            fees: self.fees.unwrap_or(trade.fees),
            multiplier: self.multiplier.unwrap_or(trade.multiplier),
            executed_at: self.executed_at.unwrap_or(trade.executed_at),
            portfolio_id: self.portfolio_id.unwrap_or(trade.portfolio_id),
            notes: self.notes.clone().unwrap_or_else(|| trade.notes.clone()),
            tags: self.tags.clone().unwrap_or_else(|| trade.tags.clone()),
            ..trade.clone()
        }
    }
}

/// A place in the trade listing's order, `(executed_at, id)`: the shared
/// keyset cursor.
pub use crate::http::PageCursor as Cursor;

/// What to list: the owner's trades, newest `executed_at` first.
#[derive(Debug, Clone)]
pub struct TradeQuery {
    /// Only this symbol.
    pub symbol: Option<Symbol>,
    /// Only this portfolio.
    pub portfolio_id: Option<Uuid>,
    /// Only trades carrying this tag.
    pub tag: Option<Tag>,
    /// Executed at or after.
    pub from: Option<DateTime<Utc>>,
    /// Executed at or before.
    pub to: Option<DateTime<Utc>>,
    /// Page size (the store returns at most this many).
    pub limit: u32,
    /// Continue after this place.
    pub after: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        let cursor = Cursor::new(
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            Uuid::now_v7(),
        );
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(""), None);
    }

    #[test]
    fn names_and_currencies() {
        assert_eq!("  Main ".parse::<PortfolioName>().unwrap().as_str(), "Main");
        assert!("   ".parse::<PortfolioName>().is_err());
        assert!("x".repeat(101).parse::<PortfolioName>().is_err());
        assert_eq!("eur".parse::<Currency>().unwrap().as_str(), "EUR");
        assert!("EURO".parse::<Currency>().is_err());
    }
}
