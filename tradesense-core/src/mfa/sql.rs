//! [`MfaStore`] on [`SqlStore`]: the MFA columns of `users` (the
//! [`Users`](crate::store::MigrationSet::Users) migrations) and the tables
//! of the [`Mfa`](crate::store::MigrationSet::Mfa) migrations.
//!
//! Every "use once" rule is a single conditional write whose affected-row
//! count decides, so two concurrent requests can never both pass: the
//! database arbitrates, not a read-then-write in the application.

use super::store::{FailureWindow, MfaState, MfaStore, PendingSecret};
use crate::auth::LEEWAY_SECS;
use crate::store::{SqlStore, StoreError, to_micros};
use crate::with_pool;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

type StateRow = (
    bool,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<i64>,
);

fn window((failures, window_start): (i32, i64)) -> FailureWindow {
    FailureWindow {
        failures: u32::try_from(failures).unwrap_or(0),
        window_start,
    }
}

#[async_trait]
impl MfaStore for SqlStore {
    async fn mfa_state(&self, user_id: Uuid) -> Result<MfaState, StoreError> {
        let row: StateRow = with_pool!(self.db(), |pool| {
            sqlx::query_as(
                "SELECT mfa_enabled, mfa_secret, mfa_pending_secret, mfa_pending_expires_at, \
                 mfa_last_step, mfa_enabled_at FROM users WHERE id = $1",
            )
            .bind(user_id)
            .fetch_one(pool)
            .await?
        });
        let (enabled, secret, pending, pending_expires_at, last_step, enabled_at_ms) = row;
        let pending = match (pending, pending_expires_at) {
            (Some(sealed), Some(expires_at)) => Some(PendingSecret { sealed, expires_at }),
            _ => None,
        };
        Ok(MfaState {
            enabled,
            secret,
            pending,
            last_step,
            enabled_at_ms,
        })
    }

    async fn set_pending_secret(
        &self,
        user_id: Uuid,
        sealed: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let rows = with_pool!(self.db(), |pool| {
            sqlx::query(
                "UPDATE users SET mfa_pending_secret = $2, mfa_pending_expires_at = $3 \
                 WHERE id = $1 AND mfa_enabled = FALSE",
            )
            .bind(user_id)
            .bind(sealed)
            .bind(to_micros(expires_at))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(rows == 1)
    }

    async fn enable_mfa(
        &self,
        user_id: Uuid,
        expected_pending: &[u8],
        step: i64,
        recovery_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let enabled_at_ms = now.timestamp_millis();
        let now = to_micros(now);
        with_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            // Comparing the pending ciphertext makes the promotion
            // conditional on the exact setup the code was checked against.
            let rows = sqlx::query(
                "UPDATE users SET mfa_enabled = TRUE, mfa_secret = mfa_pending_secret, \
                 mfa_pending_secret = NULL, mfa_pending_expires_at = NULL, \
                 mfa_last_step = $3, updated_at = $4, mfa_enabled_at = $5 \
                 WHERE id = $1 AND mfa_enabled = FALSE AND mfa_pending_secret = $2",
            )
            .bind(user_id)
            .bind(expected_pending)
            .bind(step)
            .bind(now)
            .bind(enabled_at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if rows != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            for hash in recovery_hashes {
                sqlx::query(
                    "INSERT INTO recovery_codes (id, user_id, code_hash, used_at, created_at) \
                     VALUES ($1, $2, $3, NULL, $4)",
                )
                .bind(Uuid::now_v7())
                .bind(user_id)
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn disable_mfa(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        with_pool!(self.db(), |pool| {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query(
                "UPDATE users SET mfa_enabled = FALSE, mfa_secret = NULL, \
                 mfa_pending_secret = NULL, mfa_pending_expires_at = NULL, \
                 mfa_last_step = NULL, mfa_enabled_at = NULL, updated_at = $2 \
                 WHERE id = $1 AND mfa_enabled = TRUE",
            )
            .bind(user_id)
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if rows != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn accept_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError> {
        let rows = with_pool!(self.db(), |pool| {
            sqlx::query(
                "UPDATE users SET mfa_last_step = $2 \
                 WHERE id = $1 AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
            )
            .bind(user_id)
            .bind(step)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(rows == 1)
    }

    async fn unused_recovery_codes(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        Ok(with_pool!(self.db(), |pool| {
            sqlx::query_as(
                "SELECT id, code_hash FROM recovery_codes \
                 WHERE user_id = $1 AND used_at IS NULL ORDER BY id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    async fn consume_recovery_code(
        &self,
        user_id: Uuid,
        code_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let rows = with_pool!(self.db(), |pool| {
            sqlx::query(
                "UPDATE recovery_codes SET used_at = $3 \
                 WHERE id = $1 AND user_id = $2 AND used_at IS NULL",
            )
            .bind(code_id)
            .bind(user_id)
            .bind(to_micros(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(rows == 1)
    }

    async fn consume_mfa_token(
        &self,
        token_id: Uuid,
        user_id: Uuid,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let rows = with_pool!(self.db(), |pool| {
            // Sweeping here keeps the table at the tokens of the last few
            // minutes without a background job. A row goes only once its
            // token is refused by its own `exp`, leeway included: sweeping
            // at `exp` let a used token replay in the leeway after it.
            sqlx::query("DELETE FROM mfa_used_tokens WHERE expires_at < $1")
                .bind(now - LEEWAY_SECS as i64)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO mfa_used_tokens (token_id, user_id, expires_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (token_id) DO NOTHING",
            )
            .bind(token_id)
            .bind(user_id)
            .bind(expires_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(rows == 1)
    }

    async fn reserve_mfa_attempt(
        &self,
        user_id: Uuid,
        now: i64,
        window_secs: i64,
        max_attempts: u32,
    ) -> Result<FailureWindow, StoreError> {
        let max = i32::try_from(max_attempts).unwrap_or(i32::MAX - 1);
        let row: (i32, i64) = with_pool!(self.db(), |pool| {
            // One statement: the row lock (Postgres) or the write lock
            // (SQLite) orders concurrent reservations, and each sees the
            // count the previous one left. Past the limit the count stays
            // put (no overflow, however long a flood goes on).
            sqlx::query_as(
                "INSERT INTO mfa_failures (user_id, failures, window_start) VALUES ($1, 1, $2) \
                 ON CONFLICT (user_id) DO UPDATE SET \
                 failures = CASE WHEN mfa_failures.window_start <= $3 THEN 1 \
                                 WHEN mfa_failures.failures > $4 THEN mfa_failures.failures \
                                 ELSE mfa_failures.failures + 1 END, \
                 window_start = CASE WHEN mfa_failures.window_start <= $3 THEN $2 \
                                     ELSE mfa_failures.window_start END \
                 RETURNING failures, window_start",
            )
            .bind(user_id)
            .bind(now)
            .bind(now - window_secs)
            .bind(max)
            .fetch_one(pool)
            .await?
        });
        Ok(window(row))
    }

    async fn mfa_failures(&self, user_id: Uuid) -> Result<Option<FailureWindow>, StoreError> {
        let row: Option<(i32, i64)> = with_pool!(self.db(), |pool| {
            sqlx::query_as("SELECT failures, window_start FROM mfa_failures WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(window))
    }

    async fn clear_mfa_failures(&self, user_id: Uuid) -> Result<(), StoreError> {
        with_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM mfa_failures WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
