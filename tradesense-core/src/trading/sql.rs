//! [`TradingStore`] on [`SqlStore`]: each query written once for both
//! backends; only the transaction start and the portfolio lock differ.

use super::group_sql::{ClosedTripRow, RoundTripRow, push_round_trips};
use super::rows::{PositionRow, TRADE_COLUMNS, TradeRow, corrupt};
use super::store::{TradeWriteError, TradingStore};
use super::{
    Currency, Cursor, NewTrade, Portfolio, PortfolioChanges, PortfolioName, Position, RoundTrip,
    RoundTripQuery, RoundTripStatus, Rules, Symbol, Tags, Trade, TradeChanges, TradeQuery,
};
use super::{ImportRecord, NewImport};
use crate::store::to_micros;
use crate::store::{Backend, DbDecimal, SqlStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

/// One symbol's trades in fold order (after `SELECT <columns>`).
pub(super) const FOLD_TRADES_FROM: &str =
    "FROM trades WHERE portfolio_id = $1 AND symbol = $2 ORDER BY executed_at, id";
/// A portfolio's stored positions.
pub(super) const POSITIONS_SQL: &str = "SELECT symbol, quantity, average_cost, realized_pnl \
     FROM positions WHERE portfolio_id = $1 ORDER BY symbol";

impl SqlStore {
    /// The statement opening a trade write: SQLite takes its write lock at
    /// once so concurrent writers queue instead of failing on lock upgrade.
    pub(super) fn begin_write(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Checks the portfolio is the user's, reads its rules and, on
    /// PostgreSQL, locks it until the transaction ends (SQLite's
    /// transaction already holds the lock).
    pub(super) fn lock_portfolio_sql(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => {
                "SELECT allow_short, cost_basis FROM portfolios WHERE id = $1 AND user_id = $2"
            }
            Backend::Postgres => {
                "SELECT allow_short, cost_basis FROM portfolios WHERE id = $1 AND user_id = $2 \
                 FOR UPDATE"
            }
        }
    }
}

/// Replaces a trade's rows in `trade_tags` (the index behind `?tag=`).
macro_rules! write_trade_tags {
    ($tx:expr, $trade_id:expr, $user_id:expr, $tags:expr) => {{
        sqlx::query("DELETE FROM trade_tags WHERE trade_id = $1")
            .bind($trade_id)
            .execute(&mut *$tx)
            .await?;
        insert_trade_tags!($tx, $trade_id, $user_id, $tags);
    }};
}

/// Adds a trade's rows to `trade_tags`.
macro_rules! insert_trade_tags {
    ($tx:expr, $trade_id:expr, $user_id:expr, $tags:expr) => {{
        for tag in $tags.iter() {
            sqlx::query("INSERT INTO trade_tags (trade_id, user_id, tag) VALUES ($1, $2, $3)")
                .bind($trade_id)
                .bind($user_id)
                .bind(tag.as_str())
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

#[async_trait]
impl TradingStore for SqlStore {
    async fn create_portfolio(
        &self,
        user_id: Uuid,
        name: &PortfolioName,
        base_currency: &Currency,
        rules: Rules,
    ) -> Result<Portfolio, StoreError> {
        self.insert_portfolio(user_id, name, base_currency, rules)
            .await
    }

    async fn list_portfolios(&self, user_id: Uuid) -> Result<Vec<Portfolio>, StoreError> {
        self.select_portfolios(user_id).await
    }

    async fn get_portfolio(&self, user_id: Uuid, id: Uuid) -> Result<Portfolio, StoreError> {
        self.select_portfolio(user_id, id).await
    }

    async fn update_portfolio(
        &self,
        user_id: Uuid,
        id: Uuid,
        changes: &PortfolioChanges,
    ) -> Result<Portfolio, TradeWriteError> {
        self.change_portfolio(user_id, id, changes).await
    }

    async fn delete_portfolio(&self, user_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        self.remove_portfolio(user_id, id).await
    }

    async fn positions(
        &self,
        user_id: Uuid,
        portfolio_id: Uuid,
    ) -> Result<Vec<Position>, StoreError> {
        self.select_positions(user_id, portfolio_id).await
    }

    async fn create_trade(&self, new: NewTrade) -> Result<Trade, TradeWriteError> {
        let begin = self.begin_write();
        // SQLite: queued for the write lock (`SqlStore::write_turn`).
        let _turn = self.write_turn().await;
        let insert = format!(
            "INSERT INTO trades ({TRADE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             RETURNING {TRADE_COLUMNS}"
        );
        let trade: Trade = crate::with_pool!(self.db(), |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let rules = lock_group!(self, tx, new.user_id, new.portfolio_id, &new.symbol);
            let now = Utc::now();
            let trade: Trade = sqlx::query_as::<_, TradeRow>(sqlx::AssertSqlSafe(insert))
                .bind(Uuid::now_v7())
                .bind(new.user_id)
                .bind(new.portfolio_id)
                .bind(new.symbol.as_str())
                .bind(new.side.as_str())
                .bind(DbDecimal(new.quantity.get()))
                .bind(DbDecimal(new.price.get()))
                .bind(DbDecimal(new.fees.get()))
                .bind(to_micros(new.executed_at.unwrap_or(now)))
                .bind(new.notes.as_ref().map(|n| n.as_str()))
                .bind(new.tags.to_json())
                .bind(new.import_id)
                .bind(to_micros(now))
                .bind(DbDecimal(new.multiplier.get()))
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
            // A new id has no tag rows to replace.
            insert_trade_tags!(tx, trade.id, new.user_id, new.tags);
            // The newest trade of its group (the usual case) is folded onto
            // the stored state; anything else re-folds the history.
            if !append_group!(tx, &trade, rules) {
                refold_group!(
                    tx,
                    new.user_id,
                    new.portfolio_id,
                    &new.symbol,
                    Some(trade.executed_at),
                    rules
                );
            }
            tx.commit().await?;
            trade
        });
        Ok(trade)
    }

    async fn get_trade(&self, user_id: Uuid, id: Uuid) -> Result<Trade, StoreError> {
        let sql = format!("SELECT {TRADE_COLUMNS} FROM trades WHERE id = $1 AND user_id = $2");
        let row: TradeRow = crate::with_pool!(self.db(), |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(user_id)
                .fetch_one(pool)
                .await?
        });
        row.try_into()
    }

    async fn list_trades(
        &self,
        user_id: Uuid,
        query: &TradeQuery,
    ) -> Result<Vec<Trade>, StoreError> {
        let rows: Vec<TradeRow> = crate::with_pool!(self.db(), |pool| {
            let mut sql = QueryBuilder::new("");
            push_list_trades(&mut sql, user_id, query);
            sql.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(Trade::try_from).collect()
    }

    async fn update_trade(
        &self,
        user_id: Uuid,
        id: Uuid,
        changes: &TradeChanges,
    ) -> Result<Trade, TradeWriteError> {
        let begin = self.begin_write();
        // SQLite: queued for the write lock (`SqlStore::write_turn`).
        let _turn = self.write_turn().await;
        let select = format!("SELECT {TRADE_COLUMNS} FROM trades WHERE id = $1 AND user_id = $2");
        let update = format!(
            "UPDATE trades SET symbol = $3, side = $4, quantity = $5, price = $6, fees = $7, \
             multiplier = $8, executed_at = $9, portfolio_id = $10, notes = $11, tags = $12 \
             WHERE id = $1 AND user_id = $2 RETURNING {TRADE_COLUMNS}"
        );
        let row: TradeRow = crate::with_pool!(self.db(), |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let current: Trade = sqlx::query_as::<_, TradeRow>(sqlx::AssertSqlSafe(select.clone()))
                .bind(id)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
            let target = changes.apply_to(&current);
            let from = (current.portfolio_id, current.symbol.clone());
            let to = (target.portfolio_id, target.symbol.clone());
            // Both groups' locks, in one order for every writer (a move
            // from A to B and one from B to A cannot wait on each other).
            // A portfolio that is not the caller's answers `NotFound`.
            let mut groups = vec![from.clone()];
            if to != from {
                groups.push(to.clone());
            }
            groups.sort_by_key(|(portfolio_id, symbol)| {
                super::group_sql::group_lock_key(user_id, *portfolio_id, symbol)
            });
            let mut locked = Vec::with_capacity(groups.len());
            for (portfolio_id, symbol) in &groups {
                let rules = lock_group!(self, tx, user_id, *portfolio_id, symbol);
                locked.push(((*portfolio_id, symbol.clone()), rules));
            }
            let rules_of = |group: &(Option<Uuid>, Symbol)| {
                locked
                    .iter()
                    .find(|(g, _)| g == group)
                    .map_or_else(Rules::default, |(_, r)| *r)
            };
            // Read again under the locks: a writer that held them may have
            // changed the trade since; if it moved the trade out of the
            // group locked, this write refuses rather than fold unlocked.
            let current: Trade = sqlx::query_as::<_, TradeRow>(sqlx::AssertSqlSafe(select))
                .bind(id)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
            if (current.portfolio_id, current.symbol.clone()) != from {
                return Err(StoreError::Conflict(
                    "the trade was moved by a concurrent write".to_owned(),
                )
                .into());
            }
            let edited = changes.apply_to(&current);
            let row: TradeRow = sqlx::query_as(sqlx::AssertSqlSafe(update))
                .bind(id)
                .bind(user_id)
                .bind(edited.symbol.as_str())
                .bind(edited.side.as_str())
                .bind(DbDecimal(edited.quantity.get()))
                .bind(DbDecimal(edited.price.get()))
                .bind(DbDecimal(edited.fees.get()))
                .bind(DbDecimal(edited.multiplier.get()))
                .bind(to_micros(edited.executed_at))
                .bind(edited.portfolio_id)
                .bind(edited.notes.as_ref().map(|n| n.as_str()))
                .bind(edited.tags.to_json())
                .fetch_one(&mut *tx)
                .await?;
            if changes.tags.is_some() {
                write_trade_tags!(tx, id, user_id, edited.tags);
            }
            if to == from {
                let since = current.executed_at.min(edited.executed_at);
                refold_group!(tx, user_id, from.0, &from.1, Some(since), rules_of(&from));
            } else {
                refold_group!(
                    tx,
                    user_id,
                    from.0,
                    &from.1,
                    Some(current.executed_at),
                    rules_of(&from)
                );
                refold_group!(
                    tx,
                    user_id,
                    to.0,
                    &to.1,
                    Some(edited.executed_at),
                    rules_of(&to)
                );
            }
            tx.commit().await?;
            row
        });
        Ok(row.try_into()?)
    }

    async fn delete_trade(&self, user_id: Uuid, id: Uuid) -> Result<(), TradeWriteError> {
        let begin = self.begin_write();
        // SQLite: queued for the write lock (`SqlStore::write_turn`).
        let _turn = self.write_turn().await;
        crate::with_pool!(self.db(), |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let (portfolio_id, symbol, executed_at): (Option<Uuid>, String, DateTime<Utc>) =
                sqlx::query_as(
                    "SELECT portfolio_id, symbol, executed_at FROM trades WHERE id = $1 AND user_id = $2",
                )
                .bind(id)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            let symbol: Symbol = symbol.parse().map_err(corrupt("symbol"))?;
            let rules = lock_group!(self, tx, user_id, portfolio_id, &symbol);
            // Deleted only if still in the group locked: a writer that held
            // the lock before us may have deleted or moved it.
            let deleted = sqlx::query(
                "DELETE FROM trades WHERE id = $1 AND user_id = $2 AND symbol = $3 \
                 AND portfolio_id IS NOT DISTINCT FROM $4",
            )
            .bind(id)
            .bind(user_id)
            .bind(symbol.as_str())
            .bind(portfolio_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            refold_group!(tx, user_id, portfolio_id, &symbol, Some(executed_at), rules);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn list_round_trips(
        &self,
        user_id: Uuid,
        query: &RoundTripQuery,
    ) -> Result<Vec<RoundTrip>, StoreError> {
        self.round_trips(user_id, query).await
    }

    async fn closed_round_trips(
        &self,
        user_id: Uuid,
        query: &RoundTripQuery,
    ) -> Result<Vec<super::ClosedTrip>, StoreError> {
        let query = RoundTripQuery {
            status: Some(RoundTripStatus::Closed),
            after: None,
            ..query.clone()
        };
        let rows: Vec<ClosedTripRow> = crate::with_pool!(self.db(), |pool| {
            let mut sql = QueryBuilder::new("");
            push_round_trips(&mut sql, user_id, &query, true);
            sql.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(super::ClosedTrip::try_from).collect()
    }

    async fn user_timezone(&self, user_id: Uuid) -> Result<String, StoreError> {
        // The users set is required by the trading set: the column exists.
        let (timezone,): (String,) = crate::with_pool!(self.db(), |pool| {
            sqlx::query_as("SELECT timezone FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_one(pool)
                .await?
        });
        Ok(timezone)
    }

    async fn import_trades(&self, import: NewImport) -> Result<ImportRecord, TradeWriteError> {
        self.import_in_tx(import).await
    }

    async fn list_imports(
        &self,
        user_id: Uuid,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        self.imports_page(user_id, limit, after).await
    }

    async fn delete_import(&self, user_id: Uuid, id: Uuid) -> Result<(), TradeWriteError> {
        self.undo_import(user_id, id).await
    }
}

impl SqlStore {
    async fn round_trips(
        &self,
        user_id: Uuid,
        query: &RoundTripQuery,
    ) -> Result<Vec<RoundTrip>, StoreError> {
        let mut trips: Vec<RoundTrip> = crate::with_pool!(self.db(), |pool| {
            let mut sql = QueryBuilder::new("");
            push_round_trips(&mut sql, user_id, query, false);
            let rows: Vec<RoundTripRow> = sql.build_query_as().fetch_all(pool).await?;
            rows.into_iter()
                .map(RoundTrip::try_from)
                .collect::<Result<_, _>>()?
        });
        // An open round trip's row does not list its trades (an append
        // would rewrite an ever longer array: `append_sql.rs`); they are
        // the group's trades from its first on.
        for trip in trips.iter_mut().filter(|t| t.closed_at.is_none()) {
            let sql = super::append_sql::trip_ids_sql(trip.portfolio_id.is_some());
            let ids: Vec<(Uuid,)> = crate::with_pool!(self.db(), |pool| {
                sqlx::query_as(sql)
                    .bind(trip.portfolio_id.unwrap_or(trip.user_id))
                    .bind(trip.symbol.as_str())
                    .bind(to_micros(trip.opened_at))
                    .bind(trip.id)
                    .fetch_all(pool)
                    .await?
            });
            trip.trade_ids = ids.into_iter().map(|(id,)| id).collect();
        }
        Ok(trips)
    }
}

/// Appends the listing query for `query`'s shape to `sql`, binding the
/// user and each filter in use.
///
/// Only the filters in use appear in the SQL, so each shape gets a plan
/// that uses its index (a catch-all `($2 IS NULL OR symbol = $2)` would
/// defeat PostgreSQL's generic plans).
pub(super) fn push_list_trades<DB>(sql: &mut QueryBuilder<DB>, user_id: Uuid, query: &TradeQuery)
where
    DB: Database,
    Uuid: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: for<'q> Encode<'q, DB> + Type<DB>,
{
    sql.push(format_args!(
        "SELECT {TRADE_COLUMNS} FROM trades WHERE user_id = "
    ))
    .push_bind(user_id);
    if let Some(symbol) = &query.symbol {
        sql.push(" AND symbol = ")
            .push_bind(symbol.as_str().to_owned());
    }
    if let Some(portfolio_id) = query.portfolio_id {
        sql.push(" AND portfolio_id = ").push_bind(portfolio_id);
    }
    if let Some(tag) = &query.tag {
        sql.push(" AND id IN (SELECT trade_id FROM trade_tags WHERE user_id = ")
            .push_bind(user_id)
            .push(" AND tag = ")
            .push_bind(tag.as_str().to_owned())
            .push(")");
    }
    if let Some(from) = query.from {
        sql.push(" AND executed_at >= ").push_bind(to_micros(from));
    }
    if let Some(to) = query.to {
        sql.push(" AND executed_at <= ").push_bind(to_micros(to));
    }
    if let Some(Cursor {
        at: executed_at,
        id,
    }) = query.after
    {
        let at = to_micros(executed_at);
        // The redundant `executed_at <= at` is what an index can seek on
        // (PostgreSQL does not turn the OR into a range), so a deep page
        // starts at its place instead of filtering every newer row.
        sql.push(" AND executed_at <= ")
            .push_bind(at)
            .push(" AND (executed_at < ")
            .push_bind(at)
            .push(" OR (executed_at = ")
            .push_bind(at)
            .push(" AND id < ")
            .push_bind(id)
            .push("))");
    }
    // A number, not input: safe as literal text.
    sql.push(format_args!(
        " ORDER BY executed_at DESC, id DESC LIMIT {}",
        query.limit
    ));
}
