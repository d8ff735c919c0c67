//! Portfolios on [`SqlStore`]: their rows, their positions, and the
//! change of a portfolio's rules, which refolds every group of the
//! portfolio under its lock in one transaction (see
//! [`TradingStore::update_portfolio`](super::TradingStore::update_portfolio)).

use super::rows::{PORTFOLIO_COLUMNS, PortfolioRow, PositionRow, TRADE_COLUMNS, TradeRow, corrupt};
use super::sql::POSITIONS_SQL;
use super::store::TradeWriteError;
use super::{Currency, Portfolio, PortfolioChanges, PortfolioName, Position, Rules, Symbol, Trade};
use crate::store::{DbDecimal, SqlStore, StoreError, to_micros};
use chrono::{DateTime, Utc};
use uuid::Uuid;

impl SqlStore {
    pub(super) async fn insert_portfolio(
        &self,
        user_id: Uuid,
        name: &PortfolioName,
        base_currency: &Currency,
        rules: Rules,
    ) -> Result<Portfolio, StoreError> {
        let sql = format!(
            "INSERT INTO portfolios ({PORTFOLIO_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {PORTFOLIO_COLUMNS}"
        );
        let row: PortfolioRow = crate::with_pool!(self.db(), |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(Uuid::now_v7())
                .bind(user_id)
                .bind(name.as_str())
                .bind(base_currency.as_str())
                .bind(rules.allow_short)
                .bind(rules.cost_basis.as_str())
                .bind(to_micros(Utc::now()))
                .fetch_one(pool)
                .await?
        });
        row.try_into()
    }

    pub(super) async fn select_portfolios(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<Portfolio>, StoreError> {
        let sql = format!(
            "SELECT {PORTFOLIO_COLUMNS} FROM portfolios WHERE user_id = $1 ORDER BY created_at, id"
        );
        let rows: Vec<PortfolioRow> = crate::with_pool!(self.db(), |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Portfolio::try_from).collect()
    }

    pub(super) async fn select_portfolio(
        &self,
        user_id: Uuid,
        id: Uuid,
    ) -> Result<Portfolio, StoreError> {
        let sql =
            format!("SELECT {PORTFOLIO_COLUMNS} FROM portfolios WHERE id = $1 AND user_id = $2");
        let row: PortfolioRow = crate::with_pool!(self.db(), |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(user_id)
                .fetch_one(pool)
                .await?
        });
        row.try_into()
    }

    pub(super) async fn change_portfolio(
        &self,
        user_id: Uuid,
        id: Uuid,
        changes: &PortfolioChanges,
    ) -> Result<Portfolio, TradeWriteError> {
        let begin = self.begin_write();
        // SQLite: queued for the write lock (`SqlStore::write_turn`).
        let _turn = self.write_turn().await;
        let update = format!(
            "UPDATE portfolios SET name = COALESCE($3, name), allow_short = $4, cost_basis = $5 \
             WHERE id = $1 AND user_id = $2 RETURNING {PORTFOLIO_COLUMNS}"
        );
        let row: PortfolioRow = crate::with_pool!(self.db(), |pool| {
            let mut tx = pool.begin_with(begin).await?;
            // The lock every trade write of the portfolio takes: no write
            // folds under the old rules while this one refolds.
            let before = lock_portfolio!(self, tx, user_id, id);
            let rules = Rules {
                allow_short: changes.allow_short.unwrap_or(before.allow_short),
                cost_basis: changes.cost_basis.unwrap_or(before.cost_basis),
            };
            let row: PortfolioRow = sqlx::query_as(sqlx::AssertSqlSafe(update))
                .bind(id)
                .bind(user_id)
                .bind(changes.name.as_ref().map(PortfolioName::as_str))
                .bind(rules.allow_short)
                .bind(rules.cost_basis.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if rules != before {
                // Every group of the portfolio, from its first trade: a
                // refusal (a trade the new rules make invalid) rolls the
                // whole change back.
                let symbols: Vec<(String,)> = sqlx::query_as(
                    "SELECT DISTINCT symbol FROM trades WHERE portfolio_id = $1 ORDER BY symbol",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                for (symbol,) in symbols {
                    let symbol: Symbol = symbol.parse().map_err(corrupt("symbol"))?;
                    refold_group!(tx, user_id, Some(id), &symbol, None, rules);
                }
            }
            tx.commit().await?;
            row
        });
        Ok(row.try_into()?)
    }

    pub(super) async fn remove_portfolio(&self, user_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        // Trades and positions go with it through ON DELETE CASCADE (SQLite
        // connections enable foreign keys).
        let deleted = crate::with_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM portfolios WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn select_positions(
        &self,
        user_id: Uuid,
        portfolio_id: Uuid,
    ) -> Result<Vec<Position>, StoreError> {
        self.select_portfolio(user_id, portfolio_id).await?;
        let rows: Vec<PositionRow> = crate::with_pool!(self.db(), |pool| {
            sqlx::query_as(POSITIONS_SQL)
                .bind(portfolio_id)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|row| {
                Ok(Position {
                    symbol: row.symbol.parse().map_err(corrupt("symbol"))?,
                    quantity: row.quantity.0,
                    average_cost: row.average_cost.0,
                    realized_pnl: row.realized_pnl.0,
                })
            })
            .collect()
    }
}
