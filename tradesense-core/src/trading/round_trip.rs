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

use super::fold::{Book, Rules};
use super::money::serialize_decimal;
use super::{FoldError, Position, Side, Symbol, Tags, Trade};
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

/// A round trip being built.
#[derive(Debug, Clone)]
pub(super) struct Open {
    pub(super) first: Uuid,
    pub(super) direction: Direction,
    pub(super) multiplier: Decimal,
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

impl Open {
    fn new(trade: &Trade) -> Self {
        Self {
            first: trade.id,
            direction: Direction::opened_by(trade.side),
            multiplier: trade.multiplier.get(),
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
        }
    }

    /// Adds `quantity` of `trade` (all of it, or its share on one side of
    /// zero) with `fees` and what it `realized`.
    fn add(
        &mut self,
        trade: &Trade,
        quantity: Decimal,
        fees: Decimal,
        realized: Decimal,
    ) -> Option<()> {
        let value = quantity.checked_mul(trade.price.get())?;
        match trade.side {
            Side::Buy => {
                self.bought = self.bought.checked_add(quantity)?;
                self.buy_value = self.buy_value.checked_add(value)?;
            }
            Side::Sell => {
                self.sold = self.sold.checked_add(quantity)?;
                self.sell_value = self.sell_value.checked_add(value)?;
            }
        }
        self.fees = self.fees.checked_add(fees)?;
        self.realized = self.realized.checked_add(realized)?;
        self.trade_ids.push(trade.id);
        self.tags.extend(&trade.tags);
        Some(())
    }
}

/// The exact sums an open round trip carries between writes, beside its
/// row (`round_trips.buy_value`, `sell_value`, `book_cost`), so the next
/// newest trade is folded from them instead of from the whole history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OpenState {
    pub(super) buy_value: Decimal,
    pub(super) sell_value: Decimal,
    /// The fold's basis of the quantity held ([`Book::basis`]).
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
    /// An empty group under `rules`.
    pub(super) fn new(symbol: Symbol, rules: Rules) -> Self {
        Self::resume(Book::new(symbol, rules), None)
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
    /// closes is finished at once, and the part of it beyond zero opens
    /// the next.
    pub(super) fn push(&mut self, trade: &Trade) -> Result<(), FoldError> {
        let overflow = || FoldError::Overflow {
            symbol: self.symbol.clone(),
        };
        let fill = self.book.apply(&super::rows::trade_leg(trade))?;
        if let Some(closed) = fill.closed {
            let trip = self.open.get_or_insert_with(|| Open::new(trade));
            trip.add(trade, closed.quantity, closed.fees, closed.realized)
                .ok_or_else(overflow)?;
            if closed.flat
                && let Some(done) = self.open.take()
            {
                let trip = finish(done, trade, &self.symbol, Some(trade.executed_at))
                    .ok_or_else(overflow)?;
                self.trips.push(trip);
            }
        }
        if let Some(opened) = fill.opened {
            let trip = self.open.get_or_insert_with(|| Open::new(trade));
            trip.add(trade, opened.quantity, opened.fees, Decimal::ZERO)
                .ok_or_else(overflow)?;
            trip.peak = trip.peak.max(self.book.position.quantity.abs());
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
                book_cost: self.book.basis(),
            });
            let trip =
                finish(still, last, &self.symbol, None).ok_or_else(|| FoldError::Overflow {
                    symbol: self.symbol.clone(),
                })?;
            self.trips.push(trip);
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

/// [`derive_round_trips`] with the exact sums of the open round trip, for
/// the store to keep beside it.
pub(super) fn derive_with_state(
    trades: &[Trade],
    rules: Rules,
) -> Result<(Vec<RoundTrip>, Option<OpenState>), FoldError> {
    Ok(fold_group(trades, rules)?
        .map(|folded| (folded.trips, folded.open_state))
        .unwrap_or_default())
}

/// Everything a group's trades fold into: its position, its round trips
/// and the exact sums of the open one.
pub(super) struct GroupFold {
    pub(super) position: Position,
    pub(super) trips: Vec<RoundTrip>,
    pub(super) open_state: Option<OpenState>,
}

/// Folds one group's trades (in `(executed_at, id)` order) once, for both
/// its position and its round trips; `None` for no trades.
pub(super) fn fold_group(trades: &[Trade], rules: Rules) -> Result<Option<GroupFold>, FoldError> {
    let Some(first) = trades.first() else {
        return Ok(None);
    };
    let mut fold = TripFold::new(first.symbol.clone(), rules);
    for trade in trades {
        fold.push(trade)?;
    }
    let position = fold.book.position.clone();
    let (trips, open_state) = fold.finish(trades.last())?;
    Ok(Some(GroupFold {
        position,
        trips,
        open_state,
    }))
}

fn finish(
    trip: Open,
    last: &Trade,
    symbol: &Symbol,
    closed_at: Option<DateTime<Utc>>,
) -> Option<RoundTrip> {
    let realized_pnl = match closed_at {
        // Exactly proceeds - cost - fees, in money, with no rounding at
        // all (the fold's shares add up to the whole once flat).
        Some(_) => trip
            .sell_value
            .checked_sub(trip.buy_value)?
            .checked_mul(trip.multiplier)?
            .checked_sub(trip.fees)?,
        None => trip.realized,
    };
    let (entry, entered, exit, exited) = match trip.direction {
        Direction::Long => (trip.buy_value, trip.bought, trip.sell_value, trip.sold),
        Direction::Short => (trip.sell_value, trip.sold, trip.buy_value, trip.bought),
    };
    Some(RoundTrip {
        id: trip.first,
        user_id: last.user_id,
        portfolio_id: last.portfolio_id,
        symbol: symbol.clone(),
        direction: trip.direction,
        status: if closed_at.is_some() {
            RoundTripStatus::Closed
        } else {
            RoundTripStatus::Open
        },
        multiplier: trip.multiplier.normalize(),
        opened_at: trip.opened_at,
        closed_at,
        quantity: trip.peak.normalize(),
        bought: trip.bought.normalize(),
        sold: trip.sold.normalize(),
        average_entry: divide(entry, entered).unwrap_or(Decimal::ZERO),
        average_exit: if exited.is_zero() {
            None
        } else {
            divide(exit, exited)
        },
        fees: trip.fees.normalize(),
        realized_pnl: realized_pnl.normalize(),
        holding_seconds: closed_at.map(|at| (at - trip.opened_at).num_seconds()),
        trade_ids: trip.trade_ids,
        tags: trip.tags,
    })
}
