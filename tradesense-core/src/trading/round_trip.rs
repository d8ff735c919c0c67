//! Round trips (docs/API.md, "The journal"): the stretches of one
//! portfolio's symbol between flat and flat, derived from its trades in the
//! fold's `(executed_at, id)` order. Pure; the store keeps the answer in
//! `round_trips`, rebuilt inside every trade write's transaction.
//!
//! A round trip opens with the trade that takes the quantity from zero and
//! closes with the one that brings it back; its `realized_pnl` is the sum
//! of the fold's realized P&L over its trades, which for a closed one is
//! exactly proceeds - cost - fees (the fold's cost removals add up to the
//! whole cost once the position is flat).

use super::fold::Book;
use super::money::serialize_decimal;
use super::{FoldError, Side, Symbol, Tags, Trade};
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
    /// `open` or `closed`.
    pub status: RoundTripStatus,
    /// Its first trade's time.
    pub opened_at: DateTime<Utc>,
    /// Its closing trade's time (`null` while open).
    pub closed_at: Option<DateTime<Utc>>,
    /// The largest position it reached.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Quantity bought.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub bought: Decimal,
    /// Quantity sold.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub sold: Decimal,
    /// Volume-weighted buy price without fees (8 places, half-even).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub average_entry: Decimal,
    /// Volume-weighted sell price without fees; `null` while nothing was sold.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub average_exit: Option<Decimal>,
    /// All its trades' fees.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// Realized P&L after fees (so far, while open).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub realized_pnl: Decimal,
    /// `closed_at - opened_at` in whole seconds (closed only).
    pub holding_seconds: Option<i64>,
    /// Its trades in fold order.
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

/// A round trip being built.
#[derive(Debug, Clone)]
pub(super) struct Open {
    pub(super) first: Uuid,
    pub(super) opened_at: DateTime<Utc>,
    pub(super) peak: Decimal,
    pub(super) bought: Decimal,
    pub(super) sold: Decimal,
    /// Exact `sum(q*p)` of its buys and sells: the averages are rounded,
    /// these are what a resumed fold carries on from.
    pub(super) buy_value: Decimal,
    pub(super) sell_value: Decimal,
    pub(super) fees: Decimal,
    pub(super) realized: Decimal,
    pub(super) trade_ids: Vec<Uuid>,
    pub(super) tags: Tags,
}

/// The exact sums an open round trip carries between writes, beside its
/// row (`round_trips.buy_value`, `sell_value`, `book_cost`), so the next
/// newest trade is folded from them instead of from the whole history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OpenState {
    pub(super) buy_value: Decimal,
    pub(super) sell_value: Decimal,
    /// The fold's exact total cost of the quantity held ([`Book::cost`]).
    pub(super) book_cost: Decimal,
}

/// The round-trip fold of one group, trade by trade: from empty
/// ([`derive_round_trips`]) or resumed from the stored open round trip
/// (the append of a newest trade, `append_sql.rs`). One definition, so the
/// two cannot disagree.
pub(super) struct TripFold {
    symbol: Symbol,
    pub(super) book: Book,
    open: Option<Open>,
    trips: Vec<RoundTrip>,
}

impl TripFold {
    /// An empty group.
    pub(super) fn new(symbol: Symbol) -> Self {
        Self::resume(Book::new(symbol), None)
    }

    /// A group whose fold stands at `book`, with `open` still open (flat
    /// when `None`).
    pub(super) fn resume(book: Book, open: Option<Open>) -> Self {
        Self {
            symbol: book.position.symbol.clone(),
            book,
            open,
            trips: Vec::new(),
        }
    }

    /// Folds the next trade in `(executed_at, id)` order; a round trip it
    /// closes is finished at once.
    pub(super) fn push(&mut self, trade: &Trade) -> Result<(), FoldError> {
        let symbol = &self.symbol;
        let overflow = || FoldError::Overflow {
            symbol: symbol.clone(),
        };
        let book = &mut self.book;
        let before = book.position.realized_pnl;
        book.apply(&super::rows::trade_leg(trade))?;
        let trip = self.open.get_or_insert_with(|| Open {
            first: trade.id,
            opened_at: trade.executed_at,
            peak: Decimal::ZERO,
            bought: Decimal::ZERO,
            sold: Decimal::ZERO,
            buy_value: Decimal::ZERO,
            sell_value: Decimal::ZERO,
            fees: Decimal::ZERO,
            realized: Decimal::ZERO,
            trade_ids: Vec::new(),
            tags: Tags::new(),
        });
        let (q, p, f) = (trade.quantity.get(), trade.price.get(), trade.fees.get());
        let value = q.checked_mul(p).ok_or_else(overflow)?;
        match trade.side {
            Side::Buy => {
                trip.bought = trip.bought.checked_add(q).ok_or_else(overflow)?;
                trip.buy_value = trip.buy_value.checked_add(value).ok_or_else(overflow)?;
            }
            Side::Sell => {
                trip.sold = trip.sold.checked_add(q).ok_or_else(overflow)?;
                trip.sell_value = trip.sell_value.checked_add(value).ok_or_else(overflow)?;
            }
        }
        trip.fees = trip.fees.checked_add(f).ok_or_else(overflow)?;
        trip.realized = trip
            .realized
            .checked_add(book.position.realized_pnl - before)
            .ok_or_else(overflow)?;
        trip.peak = trip.peak.max(book.position.quantity);
        trip.trade_ids.push(trade.id);
        trip.tags.extend(&trade.tags);
        if book.position.quantity.is_zero()
            && let Some(done) = self.open.take()
        {
            self.trips
                .push(finish(done, trade, symbol, Some(trade.executed_at))?);
        }
        Ok(())
    }

    /// The round trips folded (the open one last, its row finished at
    /// `last`, the last trade pushed) and the exact sums of the open one.
    pub(super) fn finish(
        mut self,
        last: Option<&Trade>,
    ) -> Result<(Vec<RoundTrip>, Option<OpenState>), FoldError> {
        let mut state = None;
        if let (Some(still), Some(last)) = (self.open, last) {
            state = Some(OpenState {
                buy_value: still.buy_value,
                sell_value: still.sell_value,
                book_cost: self.book.cost(),
            });
            self.trips.push(finish(still, last, &self.symbol, None)?);
        }
        Ok((self.trips, state))
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
/// #         fees: "1".parse().unwrap(), executed_at: chrono::DateTime::from_timestamp(minute * 60, 0).unwrap(),
/// #         portfolio_id: None, notes: None, tags: Tags::new(), import_id: None,
/// #         created_at: chrono::Utc::now() } }
/// let trips = derive_round_trips(&[t("buy", "2", "10", 0), t("sell", "2", "12", 1), t("buy", "1", "5", 2)]).unwrap();
/// assert_eq!(trips.len(), 2);
/// assert_eq!(trips[0].status, RoundTripStatus::Closed);
/// assert_eq!(trips[0].realized_pnl.to_string(), "2"); // 24 - 20 - 2 fees
/// assert_eq!(trips[0].holding_seconds, Some(60));
/// assert_eq!(trips[1].status, RoundTripStatus::Open);
/// ```
pub fn derive_round_trips(trades: &[Trade]) -> Result<Vec<RoundTrip>, FoldError> {
    Ok(derive_with_state(trades)?.0)
}

/// [`derive_round_trips`] with the exact sums of the open round trip, for
/// the store to keep beside it.
pub(super) fn derive_with_state(
    trades: &[Trade],
) -> Result<(Vec<RoundTrip>, Option<OpenState>), FoldError> {
    let Some(first) = trades.first() else {
        return Ok((Vec::new(), None));
    };
    let mut fold = TripFold::new(first.symbol.clone());
    for trade in trades {
        fold.push(trade)?;
    }
    fold.finish(trades.last())
}

fn finish(
    trip: Open,
    last: &Trade,
    symbol: &Symbol,
    closed_at: Option<DateTime<Utc>>,
) -> Result<RoundTrip, FoldError> {
    let overflow = || FoldError::Overflow {
        symbol: symbol.clone(),
    };
    let realized_pnl = match closed_at {
        // Exactly proceeds - cost - fees, with no rounding at all.
        Some(_) => trip
            .sell_value
            .checked_sub(trip.buy_value)
            .and_then(|v| v.checked_sub(trip.fees))
            .ok_or_else(overflow)?,
        None => trip.realized,
    };
    Ok(RoundTrip {
        id: trip.first,
        user_id: last.user_id,
        portfolio_id: last.portfolio_id,
        symbol: symbol.clone(),
        status: if closed_at.is_some() {
            RoundTripStatus::Closed
        } else {
            RoundTripStatus::Open
        },
        opened_at: trip.opened_at,
        closed_at,
        quantity: trip.peak.normalize(),
        bought: trip.bought.normalize(),
        sold: trip.sold.normalize(),
        average_entry: divide(trip.buy_value, trip.bought).unwrap_or(Decimal::ZERO),
        average_exit: if trip.sold.is_zero() {
            None
        } else {
            divide(trip.sell_value, trip.sold)
        },
        fees: trip.fees.normalize(),
        realized_pnl: realized_pnl.normalize(),
        holding_seconds: closed_at.map(|at| (at - trip.opened_at).num_seconds()),
        trade_ids: trip.trade_ids,
        tags: trip.tags,
    })
}
