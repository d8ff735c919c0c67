//! [`ProfileStore`] on [`SqlStore`]: the profile columns of TradeSense's
//! `users` table (the [`Users`](crate::store::MigrationSet::Users)
//! migrations), beside the login columns `users::UserStore` reads.

use super::model::{ProfileChanges, ProfileRecord, ProfileStore};
use crate::auth::NewAccount;
use crate::store::{SqlStore, StoreError, to_micros};
use crate::with_pool;
use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

// A macro, not a const: sqlx takes only literal SQL (`concat!` of literals).
macro_rules! profile_columns {
    () => {
        "id, email, full_name, timezone, created_at"
    };
}

#[async_trait]
impl ProfileStore for SqlStore {
    async fn create_profile(
        &self,
        account: NewAccount,
        full_name: &str,
    ) -> Result<ProfileRecord, StoreError> {
        let now = to_micros(Utc::now());
        let record = ProfileRecord {
            id: account.id,
            email: account.email.as_str().to_owned(),
            full_name: full_name.to_owned(),
            timezone: "UTC".to_owned(),
            created_at: now,
        };
        with_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, full_name, timezone, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(record.id)
            .bind(&record.email)
            .bind(&account.password_hash)
            .bind(&record.full_name)
            .bind(&record.timezone)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(record)
    }

    async fn profile(&self, id: Uuid) -> Result<Option<ProfileRecord>, StoreError> {
        let sql = concat!("SELECT ", profile_columns!(), " FROM users WHERE id = $1");
        with_pool!(self.db(), |pool| {
            Ok(sqlx::query_as::<_, ProfileRecord>(sql)
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    async fn update_profile(
        &self,
        id: Uuid,
        changes: &ProfileChanges,
    ) -> Result<ProfileRecord, StoreError> {
        // One statement for both fields: a change is all or nothing.
        let sql = concat!(
            "UPDATE users SET full_name = COALESCE($2, full_name), \
             timezone = COALESCE($3, timezone), updated_at = $4 WHERE id = $1 RETURNING ",
            profile_columns!()
        );
        with_pool!(self.db(), |pool| {
            sqlx::query_as::<_, ProfileRecord>(sql)
                .bind(id)
                .bind(changes.full_name.as_deref())
                .bind(changes.timezone.as_deref())
                .bind(to_micros(Utc::now()))
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::TestDatabase;
    use crate::users::{Email, UserStore};

    fn account(email: &str) -> NewAccount {
        NewAccount {
            id: Uuid::now_v7(),
            email: email.parse().unwrap(),
            password_hash: "$argon2id$fake".to_owned(),
        }
    }

    #[tokio::test]
    async fn profile_store_contract() {
        for db in TestDatabase::all().await {
            let store = &db.store;
            let ada = store
                .create_profile(account("a@example.com"), "Ada")
                .await
                .unwrap();
            assert_eq!(ada.timezone, "UTC");
            // Case-insensitive uniqueness of the login.
            let dup = store.create_profile(account("A@Example.com"), "Eve").await;
            assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
            assert_eq!(store.profile(ada.id).await.unwrap(), Some(ada.clone()));
            assert_eq!(store.profile(Uuid::now_v7()).await.unwrap(), None);
            // The login columns are the users slice's view of the same row.
            let email: Email = "a@example.com".parse().unwrap();
            let credentials = store.credentials_by_email(&email).await.unwrap().unwrap();
            assert_eq!(credentials.id, ada.id);
            assert_eq!(credentials.password_hash, "$argon2id$fake");

            let renamed = store
                .update_profile(
                    ada.id,
                    &ProfileChanges {
                        full_name: Some("Ada King".into()),
                        timezone: None,
                    },
                )
                .await
                .unwrap();
            assert_eq!(
                (renamed.full_name.as_str(), renamed.timezone.as_str()),
                ("Ada King", "UTC")
            );
            let moved = store
                .update_profile(
                    ada.id,
                    &ProfileChanges {
                        full_name: None,
                        timezone: Some("Europe/Berlin".into()),
                    },
                )
                .await
                .unwrap();
            assert_eq!(
                (moved.full_name.as_str(), moved.timezone.as_str()),
                ("Ada King", "Europe/Berlin")
            );
            assert!(matches!(
                store
                    .update_profile(Uuid::now_v7(), &ProfileChanges::default())
                    .await,
                Err(StoreError::NotFound)
            ));
        }
    }
}
