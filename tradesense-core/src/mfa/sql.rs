//! [`MfaStore`] on [`SqlStore`]: the `mfa_` tables of the
//! [`Mfa`](crate::store::MigrationSet::Mfa) migrations, keyed by the user id
//! with no foreign key, so it works beside any users table. A user without
//! an `mfa_factors` row has MFA off; the first setup (or replay-guard
//! write) creates the row.
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
        let row: Option<StateRow> = with_pool!(self.db(), |pool| {
            sqlx::query_as(
                "SELECT enabled, secret, pending_secret, pending_expires_at, last_step, \
                 enabled_at FROM mfa_factors WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else {
            return Ok(MfaState::default());
        };
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

    async fn mfa_enabled(&self, user_id: Uuid) -> Result<bool, StoreError> {
        let row: Option<(bool,)> = with_pool!(self.db(), |pool| {
            sqlx::query_as("SELECT enabled FROM mfa_factors WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.is_some_and(|(enabled,)| enabled))
    }

    async fn set_pending_secret(
        &self,
        user_id: Uuid,
        sealed: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let rows = with_pool!(self.db(), |pool| {
            // An upsert whose update is conditional: with MFA on, neither the
            // insert (the row exists) nor the update (its WHERE) happens.
            sqlx::query(
                "INSERT INTO mfa_factors (user_id, enabled, pending_secret, pending_expires_at, \
                 updated_at) VALUES ($1, FALSE, $2, $3, $4) \
                 ON CONFLICT (user_id) DO UPDATE SET pending_secret = excluded.pending_secret, \
                 pending_expires_at = excluded.pending_expires_at, \
                 updated_at = excluded.updated_at \
                 WHERE mfa_factors.enabled = FALSE",
            )
            .bind(user_id)
            .bind(sealed)
            .bind(to_micros(expires_at))
            .bind(to_micros(Utc::now()))
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
                "UPDATE mfa_factors SET enabled = TRUE, secret = pending_secret, \
                 pending_secret = NULL, pending_expires_at = NULL, \
                 last_step = $3, updated_at = $4, enabled_at = $5 \
                 WHERE user_id = $1 AND enabled = FALSE AND pending_secret = $2",
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
            sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            for hash in recovery_hashes {
                sqlx::query(
                    "INSERT INTO mfa_recovery_codes (id, user_id, code_hash, used_at, created_at) \
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
                "UPDATE mfa_factors SET enabled = FALSE, secret = NULL, \
                 pending_secret = NULL, pending_expires_at = NULL, \
                 last_step = NULL, enabled_at = NULL, updated_at = $2 \
                 WHERE user_id = $1 AND enabled = TRUE",
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
            sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn accept_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError> {
        let rows = with_pool!(self.db(), |pool| {
            // An upsert, so the guard holds for any user id (a row with MFA
            // off records the step too); the update's WHERE is the guard.
            sqlx::query(
                "INSERT INTO mfa_factors (user_id, enabled, last_step, updated_at) \
                 VALUES ($1, FALSE, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET last_step = excluded.last_step \
                 WHERE mfa_factors.last_step IS NULL OR mfa_factors.last_step < excluded.last_step",
            )
            .bind(user_id)
            .bind(step)
            .bind(to_micros(Utc::now()))
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
                "SELECT id, code_hash FROM mfa_recovery_codes \
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
                "UPDATE mfa_recovery_codes SET used_at = $3 \
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
            sqlx::query("DELETE FROM mfa_token_uses WHERE expires_at < $1")
                .bind(now - LEEWAY_SECS as i64)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO mfa_token_uses (token_id, user_id, expires_at) \
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
                "INSERT INTO mfa_failure_windows (user_id, failures, window_start) \
                 VALUES ($1, 1, $2) \
                 ON CONFLICT (user_id) DO UPDATE SET \
                 failures = CASE WHEN mfa_failure_windows.window_start <= $3 THEN 1 \
                                 WHEN mfa_failure_windows.failures > $4 THEN mfa_failure_windows.failures \
                                 ELSE mfa_failure_windows.failures + 1 END, \
                 window_start = CASE WHEN mfa_failure_windows.window_start <= $3 THEN $2 \
                                     ELSE mfa_failure_windows.window_start END \
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
            sqlx::query_as(
                "SELECT failures, window_start FROM mfa_failure_windows WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(window))
    }

    async fn clear_mfa_failures(&self, user_id: Uuid) -> Result<(), StoreError> {
        with_pool!(self.db(), |pool| {
            sqlx::query("DELETE FROM mfa_failure_windows WHERE user_id = $1")
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
