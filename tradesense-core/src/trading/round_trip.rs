//! Round trips (docs/API.md, "The journal"): the stretches of one
//! portfolio's symbol between flat and flat, derived from its trades in the
//! fold's `(executed_at, id)` order. Pure; the store keeps the answer in
//! `round_trips`, rebuilt inside every trade write's transaction.
//!
//! A round trip opens with the trade that takes the quantity from zero and
//! closes with the one that brings it back, long (opened by a buy) or
//! short (opened by a sell); a trade crossing zero closes one and opens
//! the next, its quantity and fees split between them. Its `realized_pnl`
//! is the sum of the fold's realized P&L over its trades, which for a
//! closed one is exactly `(sells - buys) * multiplier - fees` (the fold's
//! basis shares add up to the whole basis once the position is flat).

use super::money::serialize_decimal;
use super::trip_fold::derive_with_state;
use super::{FoldError, Rules, Side, Symbol, Tags, Trade};
use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use uuid::Uuid;

/// Decimal places of every division the journal reports.
pub const JOURNAL_DP: u32 = 8;

/// `numerator / denominator` rounded half-even to [`JOURNAL_DP`] places,
/// `None` for a zero denominator (or an out-of-range quotient).
pub fn divide(numerator: Decimal, denominator: Decimal) -> Option<Decimal> {
    numerator.checked_div(denominator).map(|q| {
        q.round_dp_with_strategy(JOURNAL_DP, RoundingStrategy::MidpointNearestEven)
            .normalize()
    })
}

/// Open (the position is not flat after its last trade) or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoundTripStatus {
    /// Still holding.
    Open,
    /// Back to zero.
    Closed,
}

impl RoundTripStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

impl std::str::FromStr for RoundTripStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            _ => Err("must be `open` or `closed`".to_owned()),
        }
    }
}

/// Which way a round trip went: bought first (`long`) or sold first
/// (`short`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Opened by a buy.
    Long,
    /// Opened by a sell.
    Short,
}

impl Direction {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Long => "long",
            Self::Short => "short",
        }
    }

    /// The direction a trade on `side` opens.
    pub fn opened_by(side: Side) -> Self {
        match side {
            Side::Buy => Self::Long,
            Side::Sell => Self::Short,
        }
    }
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "long" => Ok(Self::Long),
            "short" => Ok(Self::Short),
            _ => Err("must be `long` or `short`".to_owned()),
        }
    }
}

/// One round trip, as stored and sent (`user_id` is never sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RoundTrip {
    /// The id of its first trade: stable while that trade stays first.
    pub id: Uuid,
    /// Owner.
    #[serde(skip)]
    pub user_id: Uuid,
    /// Its portfolio (`null`: the trades without one).
    pub portfolio_id: Option<Uuid>,
    /// Instrument.
    #[schema(value_type = String)]
    pub symbol: Symbol,
    /// `long` (opened by a buy) or `short` (opened by a sell).
    pub direction: Direction,
    /// `open` or `closed`.
    pub status: RoundTripStatus,
    /// Its trades' multiplier.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub multiplier: Decimal,
    /// Its first trade's time.
    pub opened_at: DateTime<Utc>,
    /// Its closing trade's time (`null` while open).
    pub closed_at: Option<DateTime<Utc>>,
    /// The largest position it reached (in absolute value).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Quantity bought (of a trade crossing zero, its share).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub bought: Decimal,
    /// Quantity sold (of a trade crossing zero, its share).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub sold: Decimal,
    /// Volume-weighted entry price without fees (a long's buys, a
    /// short's sells; 8 places, half-even).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub average_entry: Decimal,
    /// Volume-weighted exit price without fees; `null` while nothing was
    /// exited.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub average_exit: Option<Decimal>,
    /// All its trades' fees (of a trade crossing zero, its share).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// Realized P&L in money, after fees (so far, while open).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub realized_pnl: Decimal,
    /// `closed_at - opened_at` in whole seconds (closed only).
    pub holding_seconds: Option<i64>,
    /// Its trades in fold order (a trade crossing zero is in both).
    pub trade_ids: Vec<Uuid>,
    /// The union of its trades' tags, sorted.
    #[schema(value_type = Vec<String>)]
    pub tags: Tags,
}

/// Serializes an optional decimal as its normalized string or `null`.
pub(crate) fn serialize_option_decimal<S: serde::Serializer>(
    value: &Option<Decimal>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(&value.normalize()),
        None => serializer.serialize_none(),
    }
}

/// The round trips of one group's trades (one portfolio, or none, and one
/// symbol), given in `(executed_at, id)` order; refused where the fold
/// refuses.
///
/// ```
/// use tradesense_core::trading::{derive_round_trips, RoundTripStatus};
/// # use tradesense_core::trading::{Trade, Tags};
/// # fn t(side: &str, q: &str, p: &str, minute: i64) -> Trade {
/// #     Trade { id: uuid::Uuid::now_v7(), user_id: uuid::Uuid::nil(), symbol: "X".parse().unwrap(),
/// #         side: side.parse().unwrap(), quantity: q.parse().unwrap(), price: p.parse().unwrap(),
/// #         fees: "1".parse().unwrap(), multiplier: Default::default(), executed_at: chrono::DateTime::from_timestamp(minute * 60, 0).unwrap(),
/// #         portfolio_id: None, notes: None, tags: Tags::new(), import_id: None,
/// #         created_at: chrono::Utc::now() } }
/// let trips = derive_round_trips(&[t("buy", "2", "10", 0), t("sell", "2", "12", 1), t("buy", "1", "5", 2)], Default::default()).unwrap();
/// assert_eq!(trips.len(), 2);
/// assert_eq!(trips[0].status, RoundTripStatus::Closed);
/// assert_eq!(trips[0].realized_pnl.to_string(), "2"); // 24 - 20 - 2 fees
/// assert_eq!(trips[0].holding_seconds, Some(60));
/// assert_eq!(trips[1].status, RoundTripStatus::Open);
/// ```
pub fn derive_round_trips(trades: &[Trade], rules: Rules) -> Result<Vec<RoundTrip>, FoldError> {
    Ok(derive_with_state(trades, rules)?.0)
}
