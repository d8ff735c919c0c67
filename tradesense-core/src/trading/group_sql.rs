//! What a trade write maintains besides the trade: the group's position and
//! its round trips, rebuilt inside the write's transaction from the group's
//! trades in fold order (unless the write is an append of the newest trade:
//! `append_sql.rs`), and the round trips' SQL (rows, listing).
//!
//! A group is one portfolio's symbol, or the symbol of the user's trades
//! without a portfolio. Round trips are rebuilt from `since` (the earliest
//! execution time the write touched) on: one that closed before it is made
//! only of earlier trades, which the write did not change, so the usual
//! append rewrites one row (the open round trip) instead of the history.

use super::rows::corrupt;
use super::{Cursor, RoundTrip, RoundTripStatus, Tag, Tags};
use crate::store::{DbDecimal, StoreError, to_micros};
use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

pub(super) const ROUND_TRIP_COLUMNS: &str = "id, user_id, portfolio_id, symbol, status, opened_at, \
     closed_at, quantity, bought, sold, average_entry, average_exit, fees, realized_pnl, \
     holding_seconds, trade_ids, tags, direction, multiplier";

/// The head of a multi-row insert of round trips (19 binds a row, in
/// [`ROUND_TRIP_COLUMNS`] order).
pub(super) const INSERT_ROUND_TRIPS: &str = "INSERT INTO round_trips (id, user_id, portfolio_id, \
     symbol, status, opened_at, closed_at, quantity, bought, sold, average_entry, average_exit, \
     fees, realized_pnl, holding_seconds, trade_ids, tags, direction, multiplier) ";

/// Rows per multi-row insert: 19 binds a row stays well below both
/// backends' bind limits (SQLite 32 766, PostgreSQL 65 535).
pub(super) const CHUNK: usize = 500;

/// One group's trades in fold order, and the deletion of its round trips
/// from a time on: with a portfolio, and for the trades without one.
pub(super) fn group_sql(filed: bool) -> (&'static str, &'static str) {
    if filed {
        (
            super::sql::FOLD_TRADES_FROM,
            "DELETE FROM round_trips WHERE user_id = $1 AND symbol = $2 \
             AND (closed_at IS NULL OR closed_at >= $3) AND portfolio_id = $4",
        )
    } else {
        (
            "FROM trades WHERE user_id = $1 AND portfolio_id IS NULL AND symbol = $2 \
             ORDER BY executed_at, id",
            "DELETE FROM round_trips WHERE user_id = $1 AND symbol = $2 \
             AND (closed_at IS NULL OR closed_at >= $3) AND portfolio_id IS NULL",
        )
    }
}

/// Checks the portfolio is the user's (`NotFound` otherwise), locks it
/// until the transaction ends and evaluates to its [`Rules`](super::Rules).
macro_rules! lock_portfolio {
    ($store:expr, $tx:expr, $user_id:expr, $portfolio_id:expr) => {{
        let (allow_short, cost_basis): (bool, String) = sqlx::query_as($store.lock_portfolio_sql())
            .bind($portfolio_id)
            .bind($user_id)
            .fetch_one(&mut *$tx)
            .await?;
        super::Rules {
            allow_short,
            cost_basis: cost_basis
                .parse()
                .map_err(super::rows::corrupt("cost_basis"))?,
        }
    }};
}

/// Takes the write lock of a group and evaluates to the rules it folds
/// under: the portfolio row (checking it is the user's) or, for the
/// trades without a portfolio, a PostgreSQL advisory lock on the user and
/// symbol (SQLite's `BEGIN IMMEDIATE` already serialises every writer)
/// and the default rules.
macro_rules! lock_group {
    ($store:expr, $tx:expr, $user_id:expr, $portfolio_id:expr, $symbol:expr) => {{
        match $portfolio_id {
            Some(portfolio_id) => lock_portfolio!($store, $tx, $user_id, portfolio_id),
            None => {
                if $store.backend() == crate::store::Backend::Postgres {
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                        .bind(super::group_sql::group_lock_key($user_id, None, $symbol))
                        .execute(&mut *$tx)
                        .await?;
                }
                super::Rules::default()
            }
        }
    }};
}

/// A group's place in the order locks are taken in: a write that locks
/// two groups (a trade moved to another portfolio or symbol) takes them in
/// this key's order, so two such writes cannot wait on each other.
pub(super) fn group_lock_key(
    user_id: Uuid,
    portfolio_id: Option<Uuid>,
    symbol: &super::Symbol,
) -> String {
    match portfolio_id {
        Some(portfolio_id) => format!("portfolio:{portfolio_id}"),
        None => format!("trades:{user_id}:{}", symbol.as_str()),
    }
}

/// The earliest time a refold can start from: `None` as a refold's
/// `since` rebuilds every round trip of the group.
pub(super) fn beginning_of_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Rebuilds the position (portfolio groups) and the round trips of the
/// group `($user_id, $portfolio_id, $symbol)` under `$rules` from `$since`
/// on (`None`: all of them), or returns the fold's refusal (which rolls
/// the transaction back). A macro because the transaction type differs
/// per backend (`with_pool!`).
macro_rules! refold_group {
    ($tx:expr, $user_id:expr, $portfolio_id:expr, $symbol:expr, $since:expr, $rules:expr) => {{
        let portfolio_id: Option<Uuid> = $portfolio_id;
        let symbol: &Symbol = $symbol;
        let since: Option<DateTime<Utc>> = $since;
        let (trades_where, delete_trips) = super::group_sql::group_sql(portfolio_id.is_some());
        let rows: Vec<TradeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TRADE_COLUMNS} {trades_where}"
        )))
        .bind(portfolio_id.map_or($user_id, |p| p))
        .bind(symbol.as_str())
        .fetch_all(&mut *$tx)
        .await?;
        let mut trades = Vec::with_capacity(rows.len());
        for row in rows {
            trades.push(Trade::try_from(row)?);
        }
        // The fold decides (refusing an oversell, a short where none is
        // allowed, a second multiplier) for both kinds of group; only a
        // portfolio keeps a position row.
        let folded = super::trip_fold::fold_group(&trades, $rules)?;
        if let Some(portfolio_id) = portfolio_id {
            match &folded {
                None => {
                    sqlx::query("DELETE FROM positions WHERE portfolio_id = $1 AND symbol = $2")
                        .bind(portfolio_id)
                        .bind(symbol.as_str())
                        .execute(&mut *$tx)
                        .await?;
                }
                Some(folded) => upsert_position!($tx, portfolio_id, &folded.position),
            }
        }
        let since: DateTime<Utc> =
            to_micros(since.unwrap_or_else(super::group_sql::beginning_of_time));
        let mut delete = sqlx::query(delete_trips)
            .bind($user_id)
            .bind(symbol.as_str())
            .bind(since);
        if let Some(portfolio_id) = portfolio_id {
            delete = delete.bind(portfolio_id);
        }
        delete.execute(&mut *$tx).await?;
        if let Some(folded) = folded {
            let trips = &folded.trips;
            let kept: Vec<&super::RoundTrip> = trips
                .iter()
                .filter(|t| t.closed_at.is_none_or(|closed| closed >= since))
                .collect();
            // Many rows at once: an import's refold writes thousands.
            super::bulk::Bulk::insert_round_trips(&mut $tx, &kept).await?;
            // What the next append resumes from (`append_sql.rs`).
            if let Some(open) = trips.last().filter(|t| t.closed_at.is_none()) {
                store_open_state!($tx, open.id, folded.open_state.as_ref());
            }
            let tags: Vec<super::bulk::TagRow> = kept
                .iter()
                .flat_map(|t| {
                    t.tags
                        .iter()
                        .map(|tag| (t.id, t.user_id, tag.as_str().to_owned()))
                })
                .collect();
            super::bulk::Bulk::insert_tags(&mut $tx, "round_trip_tags", &tags).await?;
        }
    }};
}

pub(super) fn ids_json(ids: &[Uuid]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) const CLOSED_TRIP_COLUMNS: &str =
    "id, symbol, closed_at, realized_pnl, holding_seconds, tags";

#[derive(sqlx::FromRow)]
pub(super) struct ClosedTripRow {
    id: Uuid,
    symbol: String,
    closed_at: Option<DateTime<Utc>>,
    realized_pnl: DbDecimal,
    holding_seconds: Option<i64>,
    tags: String,
}

impl TryFrom<ClosedTripRow> for super::ClosedTrip {
    type Error = StoreError;
    fn try_from(row: ClosedTripRow) -> Result<Self, StoreError> {
        let open = || StoreError::Corrupt("a closed round trip without its close".to_owned());
        Ok(Self {
            id: row.id,
            symbol: row.symbol.parse().map_err(corrupt("symbol"))?,
            closed_at: row.closed_at.ok_or_else(open)?,
            realized_pnl: row.realized_pnl.0,
            holding_seconds: row.holding_seconds.ok_or_else(open)?,
            tags: Tags::from_json(&row.tags).map_err(corrupt("tags"))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RoundTripRow {
    id: Uuid,
    user_id: Uuid,
    portfolio_id: Option<Uuid>,
    symbol: String,
    status: String,
    opened_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    quantity: DbDecimal,
    bought: DbDecimal,
    sold: DbDecimal,
    average_entry: DbDecimal,
    average_exit: Option<DbDecimal>,
    fees: DbDecimal,
    realized_pnl: DbDecimal,
    holding_seconds: Option<i64>,
    trade_ids: String,
    tags: String,
    direction: String,
    multiplier: DbDecimal,
}

impl TryFrom<RoundTripRow> for RoundTrip {
    type Error = StoreError;
    fn try_from(row: RoundTripRow) -> Result<Self, StoreError> {
        Ok(RoundTrip {
            id: row.id,
            user_id: row.user_id,
            portfolio_id: row.portfolio_id,
            symbol: row.symbol.parse().map_err(corrupt("symbol"))?,
            direction: row.direction.parse().map_err(corrupt("direction"))?,
            status: row.status.parse().map_err(corrupt("status"))?,
            multiplier: row.multiplier.0,
            opened_at: row.opened_at,
            closed_at: row.closed_at,
            quantity: row.quantity.0,
            bought: row.bought.0,
            sold: row.sold.0,
            average_entry: row.average_entry.0,
            average_exit: row.average_exit.map(|d| d.0),
            fees: row.fees.0,
            realized_pnl: row.realized_pnl.0,
            holding_seconds: row.holding_seconds,
            trade_ids: serde_json::from_str(&row.trade_ids)
                .map_err(|err| StoreError::Corrupt(format!("trade_ids: {err}")))?,
            tags: Tags::from_json(&row.tags).map_err(corrupt("tags"))?,
        })
    }
}

/// What to list or summarise: the owner's round trips.
#[derive(Debug, Clone, Default)]
pub struct RoundTripQuery {
    /// Only this portfolio.
    pub portfolio_id: Option<Uuid>,
    /// Only this symbol.
    pub symbol: Option<super::Symbol>,
    /// Only those with this tag.
    pub tag: Option<Tag>,
    /// Only open or only closed ones.
    pub status: Option<RoundTripStatus>,
    /// `closed_at` (open ones: `opened_at`) at or after.
    pub from: Option<DateTime<Utc>>,
    /// `closed_at` (open ones: `opened_at`) at or before.
    pub to: Option<DateTime<Utc>>,
    /// Page size (`0`: no limit, for analytics).
    pub limit: u32,
    /// Continue after this `(opened_at, id)`.
    pub after: Option<Cursor>,
}

/// Appends the round-trip query of `query`'s shape: newest `opened_at`
/// first for a page; in `(closed_at, id)` order when `by_close` (the
/// analytics read closed ones in closing order).
pub(super) fn push_round_trips<DB>(
    sql: &mut QueryBuilder<DB>,
    user_id: Uuid,
    query: &RoundTripQuery,
    by_close: bool,
) where
    DB: Database,
    Uuid: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: for<'q> Encode<'q, DB> + Type<DB>,
{
    // The analytics read only what the statistics need.
    let columns = if by_close {
        CLOSED_TRIP_COLUMNS
    } else {
        ROUND_TRIP_COLUMNS
    };
    sql.push(format_args!(
        "SELECT {columns} FROM round_trips WHERE user_id = "
    ))
    .push_bind(user_id);
    if let Some(status) = query.status {
        sql.push(" AND status = ")
            .push_bind(status.as_str().to_owned());
    }
    if let Some(portfolio_id) = query.portfolio_id {
        sql.push(" AND portfolio_id = ").push_bind(portfolio_id);
    }
    if let Some(symbol) = &query.symbol {
        sql.push(" AND symbol = ")
            .push_bind(symbol.as_str().to_owned());
    }
    if let Some(tag) = &query.tag {
        sql.push(" AND id IN (SELECT round_trip_id FROM round_trip_tags WHERE user_id = ")
            .push_bind(user_id)
            .push(" AND tag = ")
            .push_bind(tag.as_str().to_owned())
            .push(")");
    }
    // Closed ones by their close, open ones by their open.
    let at = if by_close {
        "closed_at"
    } else {
        "COALESCE(closed_at, opened_at)"
    };
    if let Some(from) = query.from {
        sql.push(format_args!(" AND {at} >= "))
            .push_bind(to_micros(from));
    }
    if let Some(to) = query.to {
        sql.push(format_args!(" AND {at} <= "))
            .push_bind(to_micros(to));
    }
    if by_close {
        sql.push(" ORDER BY closed_at, id");
        return;
    }
    if let Some(Cursor {
        at: executed_at,
        id,
    }) = query.after
    {
        let at = to_micros(executed_at);
        sql.push(" AND opened_at <= ")
            .push_bind(at)
            .push(" AND (opened_at < ")
            .push_bind(at)
            .push(" OR (opened_at = ")
            .push_bind(at)
            .push(" AND id < ")
            .push_bind(id)
            .push("))");
    }
    // A number, not input: safe as literal text.
    sql.push(format_args!(
        " ORDER BY opened_at DESC, id DESC LIMIT {}",
        query.limit
    ));
}
