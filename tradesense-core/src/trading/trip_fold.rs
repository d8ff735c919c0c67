//! The round-trip fold of one group, trade by trade (docs/API.md, "The
//! journal"): the position fold (`fold.rs`) says how each trade moved the
//! book, a close, an open or both across zero, and this cuts the trades
//! into round trips accordingly. One definition, run from empty by every
//! re-fold ([`fold_group`]) and resumed from the stored open round trip by
//! the append of a newest trade (`append_sql.rs`).

use super::fold::Book;
use super::round_trip::{Direction, RoundTrip, RoundTripStatus, divide};
use super::{FoldError, Position, Rules, Side, Symbol, Tags, Trade};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

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
