//! Imports on [`SqlStore`]: one transaction per import (or per undo).
//!
//! The import locks its groups as a trade write does, loads each symbol's
//! current trades once, plans every row in memory ([`plan`]), writes the
//! created trades, their tags and dedupe keys in multi-row inserts, and
//! refolds each touched group once (positions and round trips), so a
//! 50 000-row file costs a few hundred statements, not 50 000 refolds.
//! A dry run does all of it and rolls back.

use super::bulk::{Bulk, KeyScope, NewRow, TagRow};
use super::group_sql::group_sql;
use super::import::{Decision, Group, ImportRecord, NewImport, plan};
use super::imports::{RowError, dedupe_keys};
use super::rows::{TRADE_COLUMNS, TradeRow, corrupt, trade_leg};
use super::store::TradeWriteError;
use super::{Cursor, Symbol, Trade};
use crate::store::{DbDecimal, SqlStore, StoreError, to_micros};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// Files with more keys than this read all the user's keys at once.
const FULL_READ_AT: usize = 2_000;

/// Keys per dedupe lookup: PostgreSQL plans a long `IN` list slowly (a
/// 500-key list measured ~80x slower per key than 100).
const KEY_CHUNK: usize = 100;

const IMPORT_COLUMNS: &str =
    "id, user_id, format, portfolio_id, rows, created, duplicates, skipped, errors, created_at";

#[derive(sqlx::FromRow)]
struct ImportRow {
    id: Uuid,
    user_id: Uuid,
    format: String,
    portfolio_id: Option<Uuid>,
    rows: i64,
    created: i64,
    duplicates: i64,
    skipped: i64,
    errors: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<ImportRow> for ImportRecord {
    type Error = StoreError;
    fn try_from(row: ImportRow) -> Result<Self, StoreError> {
        let count = |n: i64| u64::try_from(n).map_err(|e| StoreError::Corrupt(e.to_string()));
        Ok(Self {
            id: row.id,
            user_id: row.user_id,
            format: row.format.parse().map_err(corrupt("format"))?,
            portfolio_id: row.portfolio_id,
            rows: count(row.rows)?,
            created: count(row.created)?,
            duplicates: count(row.duplicates)?,
            skipped: count(row.skipped)?,
            errors: serde_json::from_str(&row.errors)
                .map_err(|e| StoreError::Corrupt(format!("errors: {e}")))?,
            dry_run: false,
            created_at: row.created_at,
        })
    }
}

impl SqlStore {
    /// See [`TradingStore::import_trades`](super::TradingStore::import_trades).
    pub(super) async fn import_in_tx(
        &self,
        new: NewImport,
    ) -> Result<ImportRecord, TradeWriteError> {
        let user_id = new.user_id;
        let keys = dedupe_keys(&new.candidates);
        let symbols: Vec<Symbol> = new
            .candidates
            .iter()
            .map(|c| c.symbol.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let (trades_where, _) = group_sql(new.portfolio_id.is_some());
        let begin = self.begin_write();
        // SQLite: queued for the write lock (`SqlStore::write_turn`).
        let _turn = self.write_turn().await;
        let record = crate::with_pool!(self.db(), |pool| {
            let started = std::time::Instant::now();
            let mut tx = pool.begin_with(begin).await?;
            // The same locks as single writes, in symbol order (no deadlock
            // between two imports).
            // (An empty file still checks the portfolio is the user's.)
            let rules = if let Some(portfolio_id) = new.portfolio_id {
                lock_portfolio!(self, tx, user_id, portfolio_id)
            } else {
                for symbol in &symbols {
                    lock_group!(self, tx, user_id, None::<Uuid>, symbol);
                }
                super::Rules::default()
            };
            // Keys are scoped to the portfolio (or none) and the layout.
            let scoped = |sql: &mut QueryBuilder<_>| {
                sql.push_bind(user_id)
                    .push(" AND format = ")
                    .push_bind(new.format.as_str());
                match new.portfolio_id {
                    Some(portfolio_id) => {
                        sql.push(" AND portfolio_id = ").push_bind(portfolio_id);
                    }
                    None => {
                        sql.push(" AND portfolio_id IS NULL");
                    }
                }
            };
            let mut existing = HashSet::new();
            if keys.len() > FULL_READ_AT {
                // A big file: one pass over the scope's keys beats thousands
                // of lookups (and does not depend on the planner having
                // fresh statistics after the last big import).
                let mut sql = QueryBuilder::new("SELECT key FROM import_keys WHERE user_id = ");
                scoped(&mut sql);
                let found: Vec<(String,)> = sql.build_query_as().fetch_all(&mut *tx).await?;
                existing.extend(found.into_iter().map(|(k,)| k));
            } else {
                for chunk in keys.chunks(KEY_CHUNK) {
                    let mut sql = QueryBuilder::new("SELECT key FROM import_keys WHERE user_id = ");
                    scoped(&mut sql);
                    sql.push(" AND key IN (");
                    let mut list = sql.separated(", ");
                    for key in chunk {
                        list.push_bind(key.clone());
                    }
                    sql.push(")");
                    let found: Vec<(String,)> = sql.build_query_as().fetch_all(&mut *tx).await?;
                    existing.extend(found.into_iter().map(|(k,)| k));
                }
            }
            let t_keys = started.elapsed();
            let mut groups = HashMap::new();
            for symbol in &symbols {
                let rows: Vec<TradeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {TRADE_COLUMNS} {trades_where}"
                )))
                .bind(new.portfolio_id.unwrap_or(user_id))
                .bind(symbol.as_str())
                .fetch_all(&mut *tx)
                .await?;
                let mut trades = Vec::with_capacity(rows.len());
                for row in rows {
                    let trade = Trade::try_from(row)?;
                    trades.push((trade.executed_at, trade.id, trade_leg(&trade)));
                }
                groups.insert(symbol.clone(), Group::new(symbol.clone(), rules, trades)?);
            }
            let t_groups = started.elapsed();
            let decisions = plan(&new.candidates, &keys, &existing, &mut groups);
            let (mut created, mut duplicates) = (0u64, 0u64);
            let mut errors: Vec<RowError> = new.errors.clone();
            let mut accepted = Vec::new();
            let mut since: BTreeMap<&Symbol, DateTime<Utc>> = BTreeMap::new();
            for (i, decision) in decisions.into_iter().enumerate() {
                match decision {
                    Decision::Create(id) => {
                        created += 1;
                        let c = &new.candidates[i];
                        let at = since.entry(&c.symbol).or_insert(c.executed_at);
                        *at = (*at).min(c.executed_at);
                        accepted.push((id, c, &keys[i]));
                    }
                    Decision::Duplicate => duplicates += 1,
                    Decision::Refused(error) => errors.push(error),
                }
            }
            errors.sort_by_key(|e| e.row);
            let record = ImportRecord {
                id: Uuid::now_v7(),
                user_id,
                format: new.format,
                portfolio_id: new.portfolio_id,
                rows: new.rows,
                created,
                duplicates,
                skipped: new.skipped,
                errors,
                dry_run: new.dry_run,
                created_at: to_micros(Utc::now()),
            };
            let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO imports ({IMPORT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            )))
            .bind(record.id)
            .bind(user_id)
            .bind(record.format.as_str())
            .bind(record.portfolio_id)
            .bind(count(record.rows))
            .bind(count(record.created))
            .bind(count(record.duplicates))
            .bind(count(record.skipped))
            .bind(serde_json::to_string(&record.errors).unwrap_or_else(|_| "[]".to_owned()))
            .bind(record.created_at)
            .execute(&mut *tx)
            .await?;
            let now = to_micros(Utc::now());
            let rows: Vec<NewRow<'_>> = accepted
                .iter()
                .map(|(id, c, _)| NewRow {
                    id: *id,
                    user_id,
                    portfolio_id: new.portfolio_id,
                    symbol: c.symbol.as_str(),
                    side: c.side.as_str(),
                    quantity: DbDecimal(c.quantity.get()),
                    price: DbDecimal(c.price.get()),
                    fees: DbDecimal(c.fees.get()),
                    multiplier: DbDecimal(c.multiplier.get()),
                    executed_at: to_micros(c.executed_at),
                    notes: c.notes.as_ref().map(|n| n.as_str()),
                    tags: c.tags.to_json(),
                    import_id: Some(record.id),
                    created_at: now,
                })
                .collect();
            Bulk::insert_trades(&mut tx, &rows).await?;
            let created_keys: Vec<&str> = accepted.iter().map(|(_, _, k)| k.as_str()).collect();
            let scope = KeyScope {
                user_id,
                portfolio_id: new.portfolio_id,
                format: new.format.as_str(),
                import_id: record.id,
            };
            Bulk::insert_keys(&mut tx, &scope, &created_keys).await?;
            let tags: Vec<TagRow> = accepted
                .iter()
                .flat_map(|(id, c, _)| c.tags.iter().map(|t| (*id, user_id, t.as_str().to_owned())))
                .collect();
            Bulk::insert_tags(&mut tx, "trade_tags", &tags).await?;
            let t_inserts = started.elapsed();
            for (symbol, at) in since {
                refold_group!(tx, user_id, new.portfolio_id, symbol, Some(at), rules);
            }
            tracing::debug!(
                rows = new.rows,
                ?t_keys,
                ?t_groups,
                ?t_inserts,
                refolded = ?started.elapsed(),
                "import phases"
            );
            if new.dry_run {
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
            record
        });
        Ok(record)
    }

    /// See [`TradingStore::list_imports`](super::TradingStore::list_imports).
    pub(super) async fn imports_page(
        &self,
        user_id: Uuid,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        let rows: Vec<ImportRow> = crate::with_pool!(self.db(), |pool| {
            let mut sql = QueryBuilder::new(format!(
                "SELECT {IMPORT_COLUMNS} FROM imports WHERE user_id = "
            ));
            sql.push_bind(user_id);
            if let Some(Cursor {
                at: executed_at,
                id,
            }) = after
            {
                let at = to_micros(executed_at);
                sql.push(" AND (created_at < ")
                    .push_bind(at)
                    .push(" OR (created_at = ")
                    .push_bind(at)
                    .push(" AND id < ")
                    .push_bind(id)
                    .push("))");
            }
            sql.push(format_args!(
                " ORDER BY created_at DESC, id DESC LIMIT {limit}"
            ));
            sql.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(ImportRecord::try_from).collect()
    }

    /// See [`TradingStore::delete_import`](super::TradingStore::delete_import).
    pub(super) async fn undo_import(&self, user_id: Uuid, id: Uuid) -> Result<(), TradeWriteError> {
        let begin = self.begin_write();
        // SQLite: queued for the write lock (`SqlStore::write_turn`).
        let _turn = self.write_turn().await;
        crate::with_pool!(self.db(), |pool| {
            let mut tx = pool.begin_with(begin).await?;
            // `NotFound` unless the import is the user's.
            let _: (Option<Uuid>,) =
                sqlx::query_as("SELECT portfolio_id FROM imports WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let trades: Vec<(Option<Uuid>, String, DateTime<Utc>)> = sqlx::query_as(
                "SELECT portfolio_id, symbol, executed_at FROM trades \
                 WHERE import_id = $1 AND user_id = $2",
            )
            .bind(id)
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut groups: BTreeMap<(Option<Uuid>, Symbol), DateTime<Utc>> = BTreeMap::new();
            for (portfolio, symbol, at) in trades {
                let symbol: Symbol = symbol.parse().map_err(corrupt("symbol"))?;
                let since = groups.entry((portfolio, symbol)).or_insert(at);
                *since = (*since).min(at);
            }
            // Grouped by each trade's own portfolio: the import's may be
            // gone (its trades with it). Locked in the one order every
            // multi-group write uses (`group_lock_key`), so this cannot
            // wait on a trade edit that moves a trade the other way.
            let mut order: Vec<&(Option<Uuid>, Symbol)> = groups.keys().collect();
            order.sort_by_key(|(portfolio, symbol)| {
                super::group_sql::group_lock_key(user_id, *portfolio, symbol)
            });
            let mut rules = BTreeMap::new();
            for (portfolio, symbol) in order {
                let locked = lock_group!(self, tx, user_id, *portfolio, symbol);
                rules.insert((*portfolio, symbol.clone()), locked);
            }
            sqlx::query("DELETE FROM trades WHERE import_id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            for ((portfolio, symbol), since) in &groups {
                let group_rules = rules
                    .get(&(*portfolio, symbol.clone()))
                    .copied()
                    .unwrap_or_default();
                refold_group!(tx, user_id, *portfolio, symbol, Some(*since), group_rules);
            }
            sqlx::query("DELETE FROM imports WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
