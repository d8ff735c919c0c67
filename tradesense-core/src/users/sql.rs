//! [`UserStore`] on [`SqlStore`] (the `users` table of the
//! [`Users`](crate::store::MigrationSet::Users) migrations; for now also
//! the [`Mfa`](crate::store::MigrationSet::Mfa) set's `mfa_factors`, see
//! `user_columns!`).
//!
//! Emails arrive here already normalised (trimmed, lower-cased) by the
//! [`Email`] newtype; the unique index on `lower(email)` makes uniqueness
//! case-insensitive even for rows written by other means.

use super::{Email, NewUser, User, UserCredentials, UserStore};
use crate::store::{SqlStore, StoreError, to_micros};
use crate::with_pool;
use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

// A macro, not a const: sqlx takes only literal SQL (`concat!` of literals).
//
// TEMPORARY bridge: MFA state left `users` (migration 8001), but `User`
// still carries `mfa_enabled`, read here from the MFA set's table until the
// user record is replaced (`MfaStore::mfa_enabled` is the source of truth).
macro_rules! user_columns {
    () => {
        "id, email, full_name, \
         EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = users.id AND f.enabled) \
         AS mfa_enabled, timezone, created_at"
    };
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let now = to_micros(Utc::now());
        let user = User {
            id: Uuid::now_v7(),
            email: new.email.as_str().to_owned(),
            full_name: new.full_name,
            mfa_enabled: false,
            timezone: "UTC".to_owned(),
            created_at: now,
        };
        with_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(user.id)
            .bind(&user.email)
            .bind(&new.password_hash)
            .bind(&user.full_name)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(user)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        with_pool!(self.db(), |pool| {
            Ok(sqlx::query_as::<_, User>(sql)
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    async fn credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE lower(email) = $1"
        );
        with_pool!(self.db(), |pool| {
            Ok(sqlx::query_as::<_, UserCredentials>(sql)
                .bind(email.as_str())
                .fetch_optional(pool)
                .await?)
        })
    }

    async fn credentials_by_id(&self, id: Uuid) -> Result<Option<UserCredentials>, StoreError> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE id = $1"
        );
        with_pool!(self.db(), |pool| {
            Ok(sqlx::query_as::<_, UserCredentials>(sql)
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    async fn update_full_name(&self, id: Uuid, full_name: &str) -> Result<User, StoreError> {
        let sql = concat!(
            "UPDATE users SET full_name = $2, updated_at = $3 WHERE id = $1 RETURNING ",
            user_columns!(),
            ""
        );
        with_pool!(self.db(), |pool| {
            sqlx::query_as::<_, User>(sql)
                .bind(id)
                .bind(full_name)
                .bind(to_micros(Utc::now()))
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)
        })
    }

    async fn update_timezone(&self, id: Uuid, timezone: &str) -> Result<User, StoreError> {
        let sql = concat!(
            "UPDATE users SET timezone = $2, updated_at = $3 WHERE id = $1 RETURNING ",
            user_columns!(),
            ""
        );
        with_pool!(self.db(), |pool| {
            sqlx::query_as::<_, User>(sql)
                .bind(id)
                .bind(timezone)
                .bind(to_micros(Utc::now()))
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)
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

    fn new_user(email: &str) -> NewUser {
        NewUser {
            email: email.parse().unwrap(),
            password_hash: "$argon2id$fake".to_owned(),
            full_name: "Test User".to_owned(),
        }
    }

    fn email(raw: &str) -> Email {
        raw.parse().unwrap()
    }

    #[tokio::test]
    async fn user_store_contract() {
        for db in TestDatabase::all().await {
            let store = &db.store;
            let user = store.create_user(new_user("a@example.com")).await.unwrap();
            assert!(!user.mfa_enabled);
            // Case-insensitive uniqueness holds even for rows not normalised.
            let dup = store.create_user(new_user("A@Example.com")).await;
            assert!(
                matches!(dup, Err(StoreError::Conflict(_))),
                "{:?}",
                store.backend()
            );
            // ... also for a row another program wrote without normalising.
            let raw = Uuid::now_v7();
            with_pool!(store.db(), |pool| {
                sqlx::query(
                    "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) \
                     VALUES ($1, 'C@Example.com', 'x', 'Raw', $2, $2)",
                )
                .bind(raw)
                .bind(to_micros(Utc::now()))
                .execute(pool)
                .await
                .unwrap();
            });
            let dup = store.create_user(new_user("c@example.com")).await;
            assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
            let found = store.credentials_by_email(&email("c@example.com")).await;
            assert_eq!(found.unwrap().unwrap().user.id, raw);

            assert_eq!(store.user_by_id(user.id).await.unwrap(), Some(user.clone()));
            assert_eq!(store.user_by_id(Uuid::now_v7()).await.unwrap(), None);
            let creds = store
                .credentials_by_email(&email("A@EXAMPLE.COM"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(creds.user, user);
            assert_eq!(creds.password_hash, "$argon2id$fake");
            assert!(
                store
                    .credentials_by_email(&email("b@example.com"))
                    .await
                    .unwrap()
                    .is_none()
            );

            let renamed = store.update_full_name(user.id, "Renamed").await.unwrap();
            assert_eq!(renamed.full_name, "Renamed");
            assert!(matches!(
                store.update_full_name(Uuid::now_v7(), "x").await,
                Err(StoreError::NotFound)
            ));
            store
                .update_password_hash(user.id, "$argon2id$new")
                .await
                .unwrap();
            let creds = store.credentials_by_id(user.id).await.unwrap().unwrap();
            assert_eq!(creds.password_hash, "$argon2id$new");
        }
    }

    #[tokio::test]
    async fn a_password_change_and_its_event_commit_together() {
        use crate::events::{
            EventContext, EventQuery, SecurityEvent, SecurityEventStore, SecurityEventType,
        };
        for db in TestDatabase::all().await {
            let store = &db.store;
            let user = store.create_user(new_user("p@example.com")).await.unwrap();
            let event = SecurityEvent::new(
                SecurityEventType::PasswordChanged,
                user.id,
                EventContext::default(),
            );
            let recorded = store
                .update_password_hash_recording(user.id, "$argon2id$one", &event)
                .await
                .unwrap();
            assert!(recorded);
            let page = EventQuery {
                limit: 10,
                after: None,
            };
            assert_eq!(
                store.list_events(user.id, &page).await.unwrap(),
                vec![event.clone()]
            );
            // The same event id again: the insert fails, and the hash
            // written before it in the transaction is rolled back.
            let again = store
                .update_password_hash_recording(user.id, "$argon2id$two", &event)
                .await;
            assert!(again.is_err(), "{:?}", store.backend());
            let creds = store.credentials_by_id(user.id).await.unwrap().unwrap();
            assert_eq!(
                creds.password_hash,
                "$argon2id$one",
                "{:?}",
                store.backend()
            );
        }
    }
}
