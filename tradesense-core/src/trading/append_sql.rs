//! The append of a trade that is the newest of its group, in constant time
//! (issue 14): instead of re-reading and re-folding the group's whole
//! history (`refold_group!`), the fold resumes from what is stored, the
//! position row and the open round trip with its exact sums
//! (`round_trips.buy_value`, `sell_value`, `book_cost`), and applies the one
//! trade.
//!
//! Only a trade that sorts after every other trade of its group, in the
//! fold's `(executed_at, id)` order, is appended; a back-dated insert, an
//! edit, a delete or an import re-folds the history as before. So does a
//! group whose stored state is missing (rows written before migration
//! 4005) or inconsistent: the append is an optimisation that falls back,
//! never a second definition. The fold applied is the same
//! [`TripFold`](super::trip_fold::TripFold) the full re-fold runs, and a
//! property test checks that resuming it from stored rows gives what the
//! full fold gives (`append_tests.rs`).
//!
//! Nothing stays proportional to the history but one thing, once per
//! round trip: an open round trip's row does not keep its `trade_ids` up
//! to date (appending to a JSON array rewrites the whole row, 38 bytes a
//! trade: a position bought into 10 000 times rewrote 380 kB a write);
//! the listing reads them from the trades (`trip_ids_sql`), and the write
//! that closes the round trip stores them.

use super::fold::Book;
use super::round_trip::Direction;
use super::rows::{PositionRow, corrupt};
use super::trip_fold::{Open, TripFold};
use super::{CostBasis, Rules};
use super::{Position, Symbol, Tags};
use crate::store::{DbDecimal, StoreError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

/// The stored open round trip of a group, without its `trade_ids`.
#[derive(sqlx::FromRow)]
pub(super) struct OpenTripRow {
    pub(super) id: Uuid,
    pub(super) direction: String,
    pub(super) multiplier: DbDecimal,
    pub(super) opened_at: DateTime<Utc>,
    pub(super) quantity: DbDecimal,
    pub(super) bought: DbDecimal,
    pub(super) sold: DbDecimal,
    pub(super) fees: DbDecimal,
    pub(super) realized_pnl: DbDecimal,
    pub(super) tags: String,
    pub(super) buy_value: Option<DbDecimal>,
    pub(super) sell_value: Option<DbDecimal>,
    pub(super) book_cost: Option<DbDecimal>,
}

/// Columns of [`OpenTripRow`].
pub(super) const OPEN_TRIP_COLUMNS: &str = "id, direction, multiplier, opened_at, quantity, \
     bought, sold, fees, realized_pnl, tags, buy_value, sell_value, book_cost";

/// The SQL of the append for a group with a portfolio (`filed`) or without:
/// any trade of the group after `($3, $4)` in fold order (binds: group
/// key, symbol, executed_at, id), the open round trip (binds: user,
/// symbol[, portfolio]).
pub(super) fn append_sql(filed: bool) -> (&'static str, String) {
    if filed {
        (
            "SELECT id FROM trades WHERE portfolio_id = $1 AND symbol = $2 \
             AND executed_at >= $3 AND (executed_at > $3 OR id > $4) LIMIT 1",
            format!(
                "SELECT {OPEN_TRIP_COLUMNS} FROM round_trips WHERE user_id = $1 AND symbol = $2 \
                 AND portfolio_id = $3 AND closed_at IS NULL"
            ),
        )
    } else {
        (
            "SELECT id FROM trades WHERE user_id = $1 AND portfolio_id IS NULL AND symbol = $2 \
             AND executed_at >= $3 AND (executed_at > $3 OR id > $4) LIMIT 1",
            format!(
                "SELECT {OPEN_TRIP_COLUMNS} FROM round_trips WHERE user_id = $1 AND symbol = $2 \
                 AND portfolio_id IS NULL AND closed_at IS NULL"
            ),
        )
    }
}

/// What a group without an open round trip says of itself: its latest
/// trade before the new one, with its multiplier, the group's (binds:
/// group key, symbol, the new trade's id), and, as the evidence that the
/// group is flat when it has no position row either, a round trip that
/// closed at or after it (binds: user, symbol, that time[, portfolio]).
pub(super) fn flat_sql(filed: bool) -> (&'static str, &'static str) {
    if filed {
        (
            "SELECT executed_at, multiplier FROM trades WHERE portfolio_id = $1 AND symbol = $2 \
             AND id <> $3 ORDER BY executed_at DESC, id DESC LIMIT 1",
            "SELECT id FROM round_trips WHERE user_id = $1 AND symbol = $2 AND closed_at >= $3 \
             AND portfolio_id = $4 LIMIT 1",
        )
    } else {
        (
            "SELECT executed_at, multiplier FROM trades WHERE user_id = $1 \
             AND portfolio_id IS NULL AND symbol = $2 AND id <> $3 \
             ORDER BY executed_at DESC, id DESC LIMIT 1",
            "SELECT id FROM round_trips WHERE user_id = $1 AND symbol = $2 AND closed_at >= $3 \
             AND portfolio_id IS NULL LIMIT 1",
        )
    }
}

/// Rewrites the appended-to round trip (binds in order: id, status,
/// closed_at, quantity, bought, sold, average_entry, average_exit, fees,
/// realized_pnl, holding_seconds, tags, buy_value, sell_value, book_cost,
/// the whole `trade_ids` when it closes, else `NULL`).
pub(super) const UPDATE_TRIP: &str = "UPDATE round_trips SET status = $2, closed_at = $3, \
     quantity = $4, bought = $5, sold = $6, average_entry = $7, average_exit = $8, fees = $9, \
     realized_pnl = $10, holding_seconds = $11, tags = $12, buy_value = $13, sell_value = $14, \
     book_cost = $15, trade_ids = COALESCE($16, trade_ids) WHERE id = $1";

/// Stores the exact sums of an open round trip (binds: id, buy_value,
/// sell_value, book_cost).
pub(super) const STORE_OPEN_STATE: &str =
    "UPDATE round_trips SET buy_value = $2, sell_value = $3, book_cost = $4 WHERE id = $1";

/// The ids of a round trip's trades: its group's from its first trade
/// on, in fold order (binds: group key, symbol, opened_at, first id). For
/// an open one, or the one a write just closed, that is all of them.
pub(super) fn trip_ids_sql(filed: bool) -> &'static str {
    if filed {
        "SELECT id FROM trades WHERE portfolio_id = $1 AND symbol = $2 \
         AND executed_at >= $3 AND (executed_at > $3 OR id >= $4) ORDER BY executed_at, id"
    } else {
        "SELECT id FROM trades WHERE user_id = $1 AND portfolio_id IS NULL AND symbol = $2 \
         AND executed_at >= $3 AND (executed_at > $3 OR id >= $4) ORDER BY executed_at, id"
    }
}

/// The fold of a group as stored, ready for its next trade, or `None` when
/// the stored state cannot be resumed from (missing sums, several open
/// round trips, a position that disagrees with its open round trip, lots
/// that are not stored): the caller re-folds the history instead.
///
/// `position` is the group's position row (`None` for a group without a
/// portfolio, or one without trades), `open` its open round trips,
/// `last_multiplier` the multiplier of its latest earlier trade (read when
/// it has no open round trip) and `flat` whether the group's earlier
/// trades are known to end flat (none, or the last of them closed a round
/// trip): with no open round trip and no position to say otherwise, a
/// group of trades from before round trips were kept (migration 4003
/// filled none in) may still hold a quantity.
pub(super) fn resume(
    symbol: &Symbol,
    filed: bool,
    rules: Rules,
    position: Option<PositionRow>,
    mut open: Vec<OpenTripRow>,
    last_multiplier: Option<Decimal>,
    flat: bool,
) -> Result<Option<TripFold>, StoreError> {
    // Lots (fifo, lifo) live only in a fold of the history.
    if rules.cost_basis != CostBasis::Average || open.len() > 1 {
        return Ok(None);
    }
    let mut position = match position {
        Some(row) => Position {
            symbol: row.symbol.parse().map_err(corrupt("symbol"))?,
            quantity: row.quantity.0,
            average_cost: row.average_cost.0,
            realized_pnl: row.realized_pnl.0,
        },
        None => Position::empty(symbol.clone()),
    };
    let Some(row) = open.pop() else {
        // Flat (or no trades yet): the fold's basis is zero when flat.
        if !position.quantity.is_zero() || !flat {
            return Ok(None);
        }
        return Ok(Some(TripFold::resume(
            Book::resume(position, Decimal::ZERO, last_multiplier, rules),
            None,
        )));
    };
    let (Some(buy_value), Some(sell_value), Some(book_cost)) =
        (row.buy_value, row.sell_value, row.book_cost)
    else {
        return Ok(None);
    };
    let direction: Direction = row.direction.parse().map_err(corrupt("direction"))?;
    // Signed: a short holds less than nothing.
    let held = (row.bought.0 - row.sold.0).normalize();
    let consistent = match direction {
        Direction::Long => held > Decimal::ZERO,
        Direction::Short => held < Decimal::ZERO,
    };
    if !consistent || (filed && position.quantity != held) {
        return Ok(None);
    }
    // Without a portfolio there is no position row: only the quantity and
    // the basis matter to the round trips (they use realized P&L deltas).
    position.quantity = held;
    let open = Open {
        first: row.id,
        direction,
        multiplier: row.multiplier.0,
        opened_at: row.opened_at,
        peak: row.quantity.0,
        bought: row.bought.0,
        sold: row.sold.0,
        buy_value: buy_value.0,
        sell_value: sell_value.0,
        fees: row.fees.0,
        realized: row.realized_pnl.0,
        // Appended in the database, not reloaded (see the module doc).
        trade_ids: Vec::new(),
        tags: Tags::from_json(&row.tags).map_err(corrupt("tags"))?,
    };
    Ok(Some(TripFold::resume(
        Book::resume(position, book_cost.0, Some(row.multiplier.0), rules),
        Some(open),
    )))
}

/// Upserts a portfolio group's position row.
macro_rules! upsert_position {
    ($tx:expr, $portfolio_id:expr, $position:expr) => {{
        let position: &super::Position = $position;
        sqlx::query(
            "INSERT INTO positions (portfolio_id, symbol, quantity, average_cost, realized_pnl, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (portfolio_id, symbol) DO UPDATE SET \
             quantity = excluded.quantity, average_cost = excluded.average_cost, \
             realized_pnl = excluded.realized_pnl, updated_at = excluded.updated_at",
        )
        .bind($portfolio_id)
        .bind(position.symbol.as_str())
        .bind(DbDecimal(position.quantity))
        .bind(DbDecimal(position.average_cost))
        .bind(DbDecimal(position.realized_pnl))
        .bind(to_micros(Utc::now()))
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Stores the exact sums of the open round trip `$trip_id` (a no-op
/// without one).
macro_rules! store_open_state {
    ($tx:expr, $trip_id:expr, $state:expr) => {{
        if let Some(state) = $state {
            let state: &super::trip_fold::OpenState = state;
            sqlx::query(super::append_sql::STORE_OPEN_STATE)
                .bind($trip_id)
                .bind(DbDecimal(state.buy_value))
                .bind(DbDecimal(state.sell_value))
                .bind(DbDecimal(state.book_cost))
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

/// Appends `$trade` (already inserted) to its group's position and round
/// trips if it is the group's newest trade and the stored state resumes;
/// evaluates to whether it did (`false`: nothing was written, re-fold).
/// A fold refusal returns it (rolling the transaction back), as the
/// re-fold would.
macro_rules! append_group {
    ($tx:expr, $trade:expr, $rules:expr) => {{
        let trade: &Trade = $trade;
        let rules: super::Rules = $rules;
        let filed = trade.portfolio_id.is_some();
        let (newer_sql, open_sql) = super::append_sql::append_sql(filed);
        let newer: Option<(Uuid,)> = sqlx::query_as(newer_sql)
            .bind(trade.portfolio_id.unwrap_or(trade.user_id))
            .bind(trade.symbol.as_str())
            .bind(trade.executed_at)
            .bind(trade.id)
            .fetch_optional(&mut *$tx)
            .await?;
        // Lots are not stored: `fifo`/`lifo` groups always re-fold.
        let fold = if newer.is_some() || rules.cost_basis != super::CostBasis::Average {
            None
        } else {
            let mut open =
                sqlx::query_as::<_, super::append_sql::OpenTripRow>(sqlx::AssertSqlSafe(open_sql))
                    .bind(trade.user_id)
                    .bind(trade.symbol.as_str());
            if let Some(portfolio_id) = trade.portfolio_id {
                open = open.bind(portfolio_id);
            }
            let open = open.fetch_all(&mut *$tx).await?;
            let position: Option<PositionRow> = match trade.portfolio_id {
                Some(portfolio_id) => {
                    sqlx::query_as(
                        "SELECT symbol, quantity, average_cost, realized_pnl FROM positions \
                         WHERE portfolio_id = $1 AND symbol = $2",
                    )
                    .bind(portfolio_id)
                    .bind(trade.symbol.as_str())
                    .fetch_optional(&mut *$tx)
                    .await?
                }
                None => None,
            };
            // No open round trip: the group's multiplier is its latest
            // trade's and, with no position row saying the group is flat,
            // that is only believed if its earlier trades end in a close.
            let mut flat = true;
            let mut last_multiplier = None;
            if open.is_empty() {
                let (last_sql, closed_sql) = super::append_sql::flat_sql(filed);
                let last: Option<(DateTime<Utc>, DbDecimal)> = sqlx::query_as(last_sql)
                    .bind(trade.portfolio_id.unwrap_or(trade.user_id))
                    .bind(trade.symbol.as_str())
                    .bind(trade.id)
                    .fetch_optional(&mut *$tx)
                    .await?;
                last_multiplier = last.as_ref().map(|(_, m)| m.0);
                if let Some((last, _)) = last.filter(|_| position.is_none()) {
                    let mut closed = sqlx::query_as::<_, (Uuid,)>(closed_sql)
                        .bind(trade.user_id)
                        .bind(trade.symbol.as_str())
                        .bind(last);
                    if let Some(portfolio_id) = trade.portfolio_id {
                        closed = closed.bind(portfolio_id);
                    }
                    flat = closed.fetch_optional(&mut *$tx).await?.is_some();
                }
            }
            let existing = open.first().map(|row| (row.id, Tags::from_json(&row.tags)));
            super::append_sql::resume(
                &trade.symbol,
                filed,
                rules,
                position,
                open,
                last_multiplier,
                flat,
            )?
            .map(|fold| (fold, existing))
        };
        match fold {
            None => false,
            Some((mut fold, existing)) => {
                fold.push(trade)?;
                let position = fold.book.position.clone();
                let (trips, state) = fold.finish(Some(trade))?;
                // A trade ends, continues or opens one round trip; one that
                // crosses zero (closing one, opening the next) is rare
                // enough to re-fold, nothing having been written yet.
                if trips.len() != 1 {
                    false
                } else {
                    if let Some(portfolio_id) = trade.portfolio_id {
                        upsert_position!($tx, portfolio_id, &position);
                    }
                    let trip = &trips[0];
                    let new_tags: Vec<super::bulk::TagRow> = match &existing {
                        Some((id, old)) => {
                            let old = old.clone().map_err(corrupt("tags"))?;
                            trade
                                .tags
                                .iter()
                                .filter(|tag| !old.contains(tag))
                                .map(|tag| (*id, trade.user_id, tag.as_str().to_owned()))
                                .collect()
                        }
                        None => trip
                            .tags
                            .iter()
                            .map(|tag| (trip.id, trade.user_id, tag.as_str().to_owned()))
                            .collect(),
                    };
                    match existing {
                        Some((id, _)) => {
                            // Closed: its trades are listed once and for all.
                            let mut ids = None;
                            if trip.closed_at.is_some() {
                                let rows: Vec<(Uuid,)> =
                                    sqlx::query_as(super::append_sql::trip_ids_sql(filed))
                                        .bind(trade.portfolio_id.unwrap_or(trade.user_id))
                                        .bind(trade.symbol.as_str())
                                        .bind(to_micros(trip.opened_at))
                                        .bind(id)
                                        .fetch_all(&mut *$tx)
                                        .await?;
                                let rows: Vec<Uuid> = rows.into_iter().map(|(id,)| id).collect();
                                ids = Some(super::group_sql::ids_json(&rows));
                            }
                            sqlx::query(super::append_sql::UPDATE_TRIP)
                                .bind(id)
                                .bind(trip.status.as_str())
                                .bind(trip.closed_at.map(to_micros))
                                .bind(DbDecimal(trip.quantity))
                                .bind(DbDecimal(trip.bought))
                                .bind(DbDecimal(trip.sold))
                                .bind(DbDecimal(trip.average_entry))
                                .bind(trip.average_exit.map(DbDecimal))
                                .bind(DbDecimal(trip.fees))
                                .bind(DbDecimal(trip.realized_pnl))
                                .bind(trip.holding_seconds)
                                .bind(trip.tags.to_json())
                                .bind(state.as_ref().map(|s| DbDecimal(s.buy_value)))
                                .bind(state.as_ref().map(|s| DbDecimal(s.sell_value)))
                                .bind(state.as_ref().map(|s| DbDecimal(s.book_cost)))
                                .bind(ids)
                                .execute(&mut *$tx)
                                .await?;
                        }
                        None => {
                            super::bulk::Bulk::insert_round_trips(&mut $tx, &[trip]).await?;
                            store_open_state!($tx, trip.id, state.as_ref());
                        }
                    }
                    super::bulk::Bulk::insert_tags(&mut $tx, "round_trip_tags", &new_tags).await?;
                    true
                }
            }
        }
    }};
}
