//! [`PasskeyStore`] and [`ChallengeStore`] on [`SqlStore`]: the
//! `passkeys` and `passkey_challenges` tables of the
//! [`Passkeys`](crate::store::MigrationSet::Passkeys) migrations, which
//! stand alone (their `user_id` references no table).
//!
//! Both "once" rules are single statements whose result decides: a
//! challenge is taken by `DELETE ... RETURNING` (two finishes cannot both
//! get it), and a login's counter is raised by a conditional `UPDATE` (two
//! logins with the same counter cannot both pass). The database
//! arbitrates, so they hold across instances.

use super::store::{CeremonyKind, Challenge, ChallengeStore, PasskeyRecord, PasskeyStore};
use crate::store::{SqlStore, StoreError, to_micros};
use crate::with_pool;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

type PasskeyRow = (
    Uuid,
    Uuid,
    Vec<u8>,
    String,
    String,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, credential, name, sign_count, created_at, last_used_at"
    };
}

fn record(row: PasskeyRow) -> Result<PasskeyRecord, StoreError> {
    let (id, user_id, credential_id, credential, name, sign_count, created_at, last_used_at) = row;
    let credential: Passkey = serde_json::from_str(&credential)
        .map_err(|err| StoreError::Corrupt(format!("passkey {id}: {err}")))?;
    Ok(PasskeyRecord {
        id,
        user_id,
        credential_id,
        credential,
        name,
        sign_count: u32::try_from(sign_count)
            .map_err(|_| StoreError::Corrupt(format!("passkey {id}: sign_count")))?,
        created_at,
        last_used_at,
    })
}

fn credential_json(credential: &Passkey) -> Result<String, StoreError> {
    serde_json::to_string(credential).map_err(|err| StoreError::Corrupt(err.to_string()))
}

#[async_trait]
impl PasskeyStore for SqlStore {
    async fn create_passkey(&self, record: &PasskeyRecord) -> Result<(), StoreError> {
        let credential = credential_json(&record.credential)?;
        with_pool!(self.db(), |pool| {
            sqlx::query(
                "INSERT INTO passkeys (id, user_id, credential_id, credential, name, sign_count, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(record.id)
            .bind(record.user_id)
            .bind(&record.credential_id)
            .bind(&credential)
            .bind(&record.name)
            .bind(i64::from(record.sign_count))
            .bind(to_micros(record.created_at))
            .bind(record.last_used_at.map(to_micros))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn passkeys_of(&self, user_id: Uuid) -> Result<Vec<PasskeyRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        );
        let rows: Vec<PasskeyRow> = with_pool!(self.db(), |pool| {
            sqlx::query_as(sql).bind(user_id).fetch_all(pool).await?
        });
        rows.into_iter().map(record).collect()
    }

    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_id = $1"
        );
        let row: Option<PasskeyRow> = with_pool!(self.db(), |pool| {
            sqlx::query_as(sql)
                .bind(credential_id)
                .fetch_optional(pool)
                .await?
        });
        row.map(record).transpose()
    }

    async fn record_passkey_use(
        &self,
        id: Uuid,
        credential: &Passkey,
        sign_count: u32,
        used_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let credential = credential_json(credential)?;
        let rows = with_pool!(self.db(), |pool| {
            sqlx::query(
                "UPDATE passkeys SET credential = $2, sign_count = $3, last_used_at = $4 \
                 WHERE id = $1 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))",
            )
            .bind(id)
            .bind(&credential)
            .bind(i64::from(sign_count))
            .bind(to_micros(used_at))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(rows == 1)
    }

    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let rows = with_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(rows == 1)
    }
}

#[async_trait]
impl ChallengeStore for SqlStore {
    async fn put_challenge(&self, challenge: &Challenge, now_ms: i64) -> Result<(), StoreError> {
        with_pool!(self.db(), |pool| {
            // Sweeping here keeps the table at the ceremonies of the last
            // few minutes without a background job (abandoned ones too).
            sqlx::query("DELETE FROM passkey_challenges WHERE expires_at < $1")
                .bind(now_ms)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO passkey_challenges (id, kind, user_id, state, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(challenge.id)
            .bind(challenge.kind.as_str())
            .bind(challenge.user_id)
            .bind(&challenge.state)
            .bind(challenge.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn take_challenge(
        &self,
        id: Uuid,
        kind: CeremonyKind,
        user_id: Option<Uuid>,
    ) -> Result<Option<Challenge>, StoreError> {
        // `user_id = NULL` matches nothing in SQL, hence two statements.
        let row: Option<(String, i64)> = with_pool!(self.db(), |pool| {
            match user_id {
                Some(user_id) => {
                    sqlx::query_as(
                        "DELETE FROM passkey_challenges \
                         WHERE id = $1 AND kind = $2 AND user_id = $3 \
                         RETURNING state, expires_at",
                    )
                    .bind(id)
                    .bind(kind.as_str())
                    .bind(user_id)
                    .fetch_optional(pool)
                    .await?
                }
                None => {
                    sqlx::query_as(
                        "DELETE FROM passkey_challenges \
                         WHERE id = $1 AND kind = $2 AND user_id IS NULL \
                         RETURNING state, expires_at",
                    )
                    .bind(id)
                    .bind(kind.as_str())
                    .fetch_optional(pool)
                    .await?
                }
            }
        });
        Ok(row.map(|(state, expires_at)| Challenge {
            id,
            kind,
            user_id,
            state,
            expires_at,
        }))
    }
}
