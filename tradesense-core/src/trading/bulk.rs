//! Many-row inserts inside a write's transaction, per backend: SQLite takes
//! multi-row `VALUES` lists; PostgreSQL takes one array per column through
//! `UNNEST`, because a 500-row `VALUES` list (6 500 parameters) cost ~40 ms
//! a statement there against a few for the arrays. Dispatched on the
//! transaction's type, so the `with_pool!` bodies call one name.

use super::RoundTrip;
use super::group_sql::{CHUNK, INSERT_ROUND_TRIPS, ids_json};
use crate::store::{DbDecimal, to_micros};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction};
use uuid::Uuid;

/// A trade row to insert.
pub(super) struct NewRow<'a> {
    pub(super) id: Uuid,
    pub(super) user_id: Uuid,
    pub(super) portfolio_id: Option<Uuid>,
    pub(super) symbol: &'a str,
    pub(super) side: &'static str,
    pub(super) quantity: DbDecimal,
    pub(super) price: DbDecimal,
    pub(super) fees: DbDecimal,
    pub(super) multiplier: DbDecimal,
    pub(super) executed_at: DateTime<Utc>,
    pub(super) notes: Option<&'a str>,
    pub(super) tags: String,
    pub(super) import_id: Option<Uuid>,
    pub(super) created_at: DateTime<Utc>,
}

/// Whose dedupe keys an import writes: the user's, in one portfolio (or
/// none) and one layout, held by one import.
pub(super) struct KeyScope<'a> {
    pub(super) user_id: Uuid,
    pub(super) portfolio_id: Option<Uuid>,
    pub(super) format: &'a str,
    pub(super) import_id: Uuid,
}

/// `(owner id, user id, tag)` rows of `trade_tags` or `round_trip_tags`.
pub(super) type TagRow = (Uuid, Uuid, String);

pub(super) trait Bulk {
    async fn insert_trades(&mut self, rows: &[NewRow<'_>]) -> Result<(), sqlx::Error>;
    /// `table` is `trade_tags` or `round_trip_tags` (a constant, not input).
    async fn insert_tags(&mut self, table: &str, rows: &[TagRow]) -> Result<(), sqlx::Error>;
    async fn insert_keys(&mut self, scope: &KeyScope<'_>, keys: &[&str])
    -> Result<(), sqlx::Error>;
    async fn insert_round_trips(&mut self, trips: &[&RoundTrip]) -> Result<(), sqlx::Error>;
}

fn tag_columns(table: &str) -> &'static str {
    if table == "round_trip_tags" {
        "INSERT INTO round_trip_tags (round_trip_id, user_id, tag) "
    } else {
        "INSERT INTO trade_tags (trade_id, user_id, tag) "
    }
}

const KEY_INSERT: &str = "INSERT INTO import_keys (user_id, portfolio_id, format, key, import_id) ";

const TRADE_INSERT: &str = "INSERT INTO trades (id, user_id, portfolio_id, symbol, side, \
     quantity, price, fees, executed_at, notes, tags, import_id, created_at, multiplier) ";

impl Bulk for Transaction<'_, Sqlite> {
    async fn insert_trades(&mut self, rows: &[NewRow<'_>]) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(TRADE_INSERT);
            sql.push_values(chunk, |mut b, r| {
                b.push_bind(r.id)
                    .push_bind(r.user_id)
                    .push_bind(r.portfolio_id)
                    .push_bind(r.symbol.to_owned())
                    .push_bind(r.side)
                    .push_bind(r.quantity)
                    .push_bind(r.price)
                    .push_bind(r.fees)
                    .push_bind(r.executed_at)
                    .push_bind(r.notes.map(str::to_owned))
                    .push_bind(r.tags.clone())
                    .push_bind(r.import_id)
                    .push_bind(r.created_at)
                    .push_bind(r.multiplier);
            });
            sql.build().execute(&mut **self).await?;
        }
        Ok(())
    }

    async fn insert_tags(&mut self, table: &str, rows: &[TagRow]) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(tag_columns(table));
            sql.push_values(chunk, |mut b, (id, user, tag)| {
                b.push_bind(*id).push_bind(*user).push_bind(tag.clone());
            });
            sql.build().execute(&mut **self).await?;
        }
        Ok(())
    }

    async fn insert_keys(
        &mut self,
        scope: &KeyScope<'_>,
        keys: &[&str],
    ) -> Result<(), sqlx::Error> {
        for chunk in keys.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(KEY_INSERT);
            sql.push_values(chunk, |mut b, key| {
                b.push_bind(scope.user_id)
                    .push_bind(scope.portfolio_id)
                    .push_bind(scope.format.to_owned())
                    .push_bind((*key).to_owned())
                    .push_bind(scope.import_id);
            });
            sql.build().execute(&mut **self).await?;
        }
        Ok(())
    }

    async fn insert_round_trips(&mut self, trips: &[&RoundTrip]) -> Result<(), sqlx::Error> {
        for chunk in trips.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(INSERT_ROUND_TRIPS);
            sql.push_values(chunk, |mut b, t| {
                b.push_bind(t.id)
                    .push_bind(t.user_id)
                    .push_bind(t.portfolio_id)
                    .push_bind(t.symbol.as_str().to_owned())
                    .push_bind(t.status.as_str())
                    .push_bind(to_micros(t.opened_at))
                    .push_bind(t.closed_at.map(to_micros))
                    .push_bind(DbDecimal(t.quantity))
                    .push_bind(DbDecimal(t.bought))
                    .push_bind(DbDecimal(t.sold))
                    .push_bind(DbDecimal(t.average_entry))
                    .push_bind(t.average_exit.map(DbDecimal))
                    .push_bind(DbDecimal(t.fees))
                    .push_bind(DbDecimal(t.realized_pnl))
                    .push_bind(t.holding_seconds)
                    .push_bind(ids_json(&t.trade_ids))
                    .push_bind(t.tags.to_json())
                    .push_bind(t.direction.as_str())
                    .push_bind(DbDecimal(t.multiplier));
            });
            sql.build().execute(&mut **self).await?;
        }
        Ok(())
    }
}

impl Bulk for Transaction<'_, Postgres> {
    async fn insert_trades(&mut self, rows: &[NewRow<'_>]) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "{TRADE_INSERT} SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], \
             $5::text[], $6::numeric[], $7::numeric[], $8::numeric[], $9::timestamptz[], \
             $10::text[], $11::text[], $12::uuid[], $13::timestamptz[], $14::numeric[])"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.portfolio_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.symbol.to_owned()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.side.to_owned()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.quantity).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.price).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.fees).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.executed_at).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| r.notes.map(str::to_owned))
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|r| r.tags.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.import_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.multiplier).collect::<Vec<_>>())
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn insert_tags(&mut self, table: &str, rows: &[TagRow]) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "{} SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[])",
            tag_columns(table)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>())
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn insert_keys(
        &mut self,
        scope: &KeyScope<'_>,
        keys: &[&str],
    ) -> Result<(), sqlx::Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!("{KEY_INSERT} SELECT $1, $2, $3, k, $4 FROM UNNEST($5::text[]) AS k");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.user_id)
            .bind(scope.portfolio_id)
            .bind(scope.format)
            .bind(scope.import_id)
            .bind(keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>())
            .execute(&mut **self)
            .await?;
        Ok(())
    }

    async fn insert_round_trips(&mut self, trips: &[&RoundTrip]) -> Result<(), sqlx::Error> {
        if trips.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "{INSERT_ROUND_TRIPS} SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], \
             $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::numeric[], \
             $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[], \
             $14::numeric[], $15::int8[], $16::text[], $17::text[], $18::text[], \
             $19::numeric[])"
        );
        let col =
            |f: &dyn Fn(&RoundTrip) -> DbDecimal| trips.iter().map(|t| f(t)).collect::<Vec<_>>();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(trips.iter().map(|t| t.id).collect::<Vec<_>>())
            .bind(trips.iter().map(|t| t.user_id).collect::<Vec<_>>())
            .bind(trips.iter().map(|t| t.portfolio_id).collect::<Vec<_>>())
            .bind(
                trips
                    .iter()
                    .map(|t| t.symbol.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(
                trips
                    .iter()
                    .map(|t| t.status.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(
                trips
                    .iter()
                    .map(|t| to_micros(t.opened_at))
                    .collect::<Vec<_>>(),
            )
            .bind(
                trips
                    .iter()
                    .map(|t| t.closed_at.map(to_micros))
                    .collect::<Vec<_>>(),
            )
            .bind(col(&|t| DbDecimal(t.quantity)))
            .bind(col(&|t| DbDecimal(t.bought)))
            .bind(col(&|t| DbDecimal(t.sold)))
            .bind(col(&|t| DbDecimal(t.average_entry)))
            .bind(
                trips
                    .iter()
                    .map(|t| t.average_exit.map(DbDecimal))
                    .collect::<Vec<_>>(),
            )
            .bind(col(&|t| DbDecimal(t.fees)))
            .bind(col(&|t| DbDecimal(t.realized_pnl)))
            .bind(trips.iter().map(|t| t.holding_seconds).collect::<Vec<_>>())
            .bind(
                trips
                    .iter()
                    .map(|t| ids_json(&t.trade_ids))
                    .collect::<Vec<_>>(),
            )
            .bind(trips.iter().map(|t| t.tags.to_json()).collect::<Vec<_>>())
            .bind(
                trips
                    .iter()
                    .map(|t| t.direction.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(col(&|t| DbDecimal(t.multiplier)))
            .execute(&mut **self)
            .await?;
        Ok(())
    }
}
