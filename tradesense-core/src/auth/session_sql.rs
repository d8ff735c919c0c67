//! [`SessionStore`] on [`SqlStore`]: the `sessions` table of the
//! [`Sessions`](crate::store::MigrationSet::Sessions) migrations, which
//! stands alone (its `user_id` references no table, so an embedder's own
//! users table will do).
//!
//! Liveness (not revoked, not expired) is decided in Rust rather than in SQL:
//! SQLite keeps timestamps as text, and comparing them in Rust keeps one
//! definition of "live" for both backends.

use super::session_store::{NewSession, SessionRecord, SessionStore};
use crate::store::{SqlStore, StoreError, to_micros};
use crate::with_pool;
use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

// A macro, not a const: sqlx takes only literal SQL (`concat!` of literals).
macro_rules! session_columns {
    () => {
        "id, user_id, user_agent, ip, created_at, last_seen_at, expires_at, revoked_at"
    };
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        let record = new.record_at(Utc::now());
        with_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, token_hash, user_agent, ip, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
            )
            .bind(record.id)
            .bind(record.user_id)
            .bind(&new.token_hash)
            .bind(&record.user_agent)
            .bind(&record.ip)
            .bind(record.created_at)
            .bind(record.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(record)
    }

    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        );
        with_pool!(self.db(), |pool| {
            Ok(sqlx::query_as::<_, SessionRecord>(sql)
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    async fn touch_session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let sql = concat!(
            "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 RETURNING ",
            session_columns!(),
            ""
        );
        with_pool!(self.db(), |pool| {
            Ok(sqlx::query_as::<_, SessionRecord>(sql)
                .bind(id)
                .bind(to_micros(Utc::now()))
                .fetch_optional(pool)
                .await?)
        })
    }

    async fn live_sessions(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id"
        );
        let rows: Vec<SessionRecord> = with_pool!(self.db(), |pool| {
            sqlx::query_as::<_, SessionRecord>(sql)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        });
        let now = Utc::now();
        Ok(rows.into_iter().filter(|s| s.is_live(now)).collect())
    }

    async fn revoke_session(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let done = with_pool!(self.db(), |pool| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $3 \
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(user_id)
            .bind(to_micros(Utc::now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done > 0)
    }

    async fn revoke_other_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<Vec<Uuid>, StoreError> {
        // `keep` None -> compare against the nil uuid, which no session has.
        let keep = keep.unwrap_or(Uuid::nil());
        let ids: Vec<(Uuid,)> = with_pool!(self.db(), |pool| {
            sqlx::query_as(
                "UPDATE sessions SET revoked_at = $3 \
                 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id",
            )
            .bind(user_id)
            .bind(keep)
            .bind(to_micros(Utc::now()))
            .fetch_all(pool)
            .await?
        });
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::session_contract;
    use super::*;
    use crate::store::MigrationSet;
    use crate::store::testing::TestDatabase;

    #[tokio::test]
    async fn session_store_contract() {
        for db in TestDatabase::all().await {
            let store = &db.store;
            let user = crate::store::testing::insert_bare_user(store).await;
            session_contract::check(store, user).await;
        }
    }

    /// An embedder's database: the sessions set alone, no users table, and
    /// a user id from the embedder's own accounts.
    #[tokio::test]
    async fn sessions_alone_round_trip() {
        for db in TestDatabase::all_with_sets(&[MigrationSet::Sessions]).await {
            let store: &dyn SessionStore = &db.store;
            let user_id = Uuid::now_v7();
            let created = store
                .create_session(NewSession {
                    id: Uuid::now_v7(),
                    user_id,
                    token_hash: "cd".repeat(32),
                    user_agent: None,
                    ip: None,
                    expires_at: Utc::now() + chrono::TimeDelta::hours(1),
                })
                .await
                .unwrap();
            let touched = store.touch_session(created.id).await.unwrap().unwrap();
            assert_eq!((touched.id, touched.user_id), (created.id, user_id));
            assert_eq!(store.live_sessions(user_id).await.unwrap(), vec![touched]);
            assert!(store.revoke_session(user_id, created.id).await.unwrap());
            assert!(store.live_sessions(user_id).await.unwrap().is_empty());

            session_contract::check(store, Uuid::now_v7()).await;
        }
    }
}
