//! [`UserStore`] on [`SqlStore`]: the login columns (`id`, `email`,
//! `password_hash`) of TradeSense's `users` table (the
//! [`Users`](crate::store::MigrationSet::Users) migrations). The rest of
//! that table is TradeSense's profile ([`profile`](crate::profile)).
//!
//! Emails arrive here already normalised (trimmed, lower-cased) by the
//! [`Email`] newtype; the unique index on `lower(email)` makes uniqueness
//! case-insensitive even for rows written by other means.

use super::{Credentials, Email, UserStore};
use crate::store::{SqlStore, StoreError, to_micros};
use crate::with_pool;
use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

#[async_trait]
impl UserStore for SqlStore {
    async fn credentials_by_email(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        with_pool!(self.db(), |pool| {
            Ok(sqlx::query_as::<_, Credentials>(
                "SELECT id, email, password_hash FROM users WHERE lower(email) = $1",
            )
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?)
        })
    }

    async fn credentials_by_id(&self, id: Uuid) -> Result<Option<Credentials>, StoreError> {
        with_pool!(self.db(), |pool| {
            Ok(sqlx::query_as::<_, Credentials>(
                "SELECT id, email, password_hash FROM users WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?)
        })
    }

    async fn update_password_hash(&self, id: Uuid, password_hash: &str) -> Result<(), StoreError> {
        with_pool!(self.db(), |pool| {
            let done =
                sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(password_hash)
                    .bind(to_micros(Utc::now()))
                    .execute(pool)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        });
        Ok(())
    }

    /// One transaction: the new hash and its `password_changed` event (the
    /// `security_events` table must exist: the
    /// [`SecurityEvents`](crate::store::MigrationSet::SecurityEvents) set).
    async fn update_password_hash_recording(
        &self,
        id: Uuid,
        password_hash: &str,
        event: &crate::events::SecurityEvent,
    ) -> Result<bool, StoreError> {
        with_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            let done =
                sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(password_hash)
                    .bind(to_micros(Utc::now()))
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            crate::insert_event!(&mut *tx, event)?;
            tx.commit().await?;
        });
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::TestDatabase;

    /// A row of `users` as another program (or TradeSense's registration)
    /// writes it: not normalised.
    async fn insert(store: &SqlStore, email: &str) -> Uuid {
        let id = Uuid::now_v7();
        with_pool!(store.db(), |pool| {
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) \
                 VALUES ($1, $2, '$argon2id$fake', 'Raw', $3, $3)",
            )
            .bind(id)
            .bind(email)
            .bind(to_micros(Utc::now()))
            .execute(pool)
            .await
            .unwrap();
        });
        id
    }

    fn email(raw: &str) -> Email {
        raw.parse().unwrap()
    }

    #[tokio::test]
    async fn user_store_contract() {
        for db in TestDatabase::all().await {
            let store = &db.store;
            let id = insert(store, "C@Example.com").await;
            // Found case-insensitively, also for a row not normalised.
            let found = store
                .credentials_by_email(&email("c@example.com"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(found.id, id);
            assert_eq!(found.password_hash, "$argon2id$fake");
            assert!(
                store
                    .credentials_by_email(&email("b@example.com"))
                    .await
                    .unwrap()
                    .is_none()
            );
            assert_eq!(
                store.credentials_by_id(id).await.unwrap().unwrap().email,
                "C@Example.com"
            );
            assert!(
                store
                    .credentials_by_id(Uuid::now_v7())
                    .await
                    .unwrap()
                    .is_none()
            );
            store
                .update_password_hash(id, "$argon2id$new")
                .await
                .unwrap();
            let creds = store.credentials_by_id(id).await.unwrap().unwrap();
            assert_eq!(creds.password_hash, "$argon2id$new");
            assert!(matches!(
                store.update_password_hash(Uuid::now_v7(), "x").await,
                Err(StoreError::NotFound)
            ));
        }
    }

    #[tokio::test]
    async fn a_password_change_and_its_event_commit_together() {
        use crate::events::{
            EventContext, EventQuery, SecurityEvent, SecurityEventStore, SecurityEventType,
        };
        for db in TestDatabase::all().await {
            let store = &db.store;
            let user = insert(store, "p@example.com").await;
            let event = SecurityEvent::new(
                SecurityEventType::PasswordChanged,
                user,
                EventContext::default(),
            );
            let recorded = store
                .update_password_hash_recording(user, "$argon2id$one", &event)
                .await
                .unwrap();
            assert!(recorded);
            let page = EventQuery {
                limit: 10,
                after: None,
            };
            assert_eq!(
                store.list_events(user, &page).await.unwrap(),
                vec![event.clone()]
            );
            // The same event id again: the insert fails, and the hash
            // written before it in the transaction is rolled back.
            let again = store
                .update_password_hash_recording(user, "$argon2id$two", &event)
                .await;
            assert!(again.is_err(), "{:?}", store.backend());
            let creds = store.credentials_by_id(user).await.unwrap().unwrap();
            assert_eq!(
                creds.password_hash,
                "$argon2id$one",
                "{:?}",
                store.backend()
            );
        }
    }
}
