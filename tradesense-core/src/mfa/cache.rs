//! Keeps cached user records honest across MFA changes: an [`MfaStore`]
//! decorator that invalidates the user (whose `mfa_enabled` flips) after
//! every enable or disable. A decorator rather than a call in the MFA code:
//! no MFA write can then forget the cache, and `mfa` stays unaware of it.

use super::store::{FailureWindow, MfaState, MfaStore};
use crate::store::StoreError;
use crate::users::CachedUsers;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

/// `inner`, invalidating `users` when a user's MFA flag may have changed.
#[derive(Clone)]
pub struct UserInvalidatingMfaStore {
    inner: Arc<dyn MfaStore>,
    users: CachedUsers,
}

impl std::fmt::Debug for UserInvalidatingMfaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInvalidatingMfaStore")
            .finish_non_exhaustive()
    }
}

impl UserInvalidatingMfaStore {
    /// Wraps `inner`; `users` is the cache to keep in step.
    pub fn new(inner: Arc<dyn MfaStore>, users: CachedUsers) -> Self {
        Self { inner, users }
    }
}

#[async_trait]
impl MfaStore for UserInvalidatingMfaStore {
    async fn mfa_state(&self, user_id: Uuid) -> Result<MfaState, StoreError> {
        self.inner.mfa_state(user_id).await
    }

    async fn set_pending_secret(
        &self,
        user_id: Uuid,
        sealed: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner
            .set_pending_secret(user_id, sealed, expires_at)
            .await
    }

    async fn enable_mfa(
        &self,
        user_id: Uuid,
        expected_pending: &[u8],
        step: i64,
        recovery_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .inner
            .enable_mfa(user_id, expected_pending, step, recovery_hashes, now)
            .await;
        // Also on error: the write may have committed before it surfaced.
        self.users.invalidate(user_id).await;
        result
    }

    async fn disable_mfa(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = self.inner.disable_mfa(user_id, now).await;
        self.users.invalidate(user_id).await;
        result
    }

    async fn accept_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError> {
        self.inner.accept_totp_step(user_id, step).await
    }

    async fn unused_recovery_codes(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        self.inner.unused_recovery_codes(user_id).await
    }

    async fn consume_recovery_code(
        &self,
        user_id: Uuid,
        code_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner
            .consume_recovery_code(user_id, code_id, now)
            .await
    }

    async fn consume_mfa_token(
        &self,
        token_id: Uuid,
        user_id: Uuid,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .consume_mfa_token(token_id, user_id, expires_at, now)
            .await
    }

    async fn reserve_mfa_attempt(
        &self,
        user_id: Uuid,
        now: i64,
        window_secs: i64,
        max_attempts: u32,
    ) -> Result<FailureWindow, StoreError> {
        self.inner
            .reserve_mfa_attempt(user_id, now, window_secs, max_attempts)
            .await
    }

    async fn mfa_failures(&self, user_id: Uuid) -> Result<Option<FailureWindow>, StoreError> {
        self.inner.mfa_failures(user_id).await
    }

    async fn clear_mfa_failures(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.inner.clear_mfa_failures(user_id).await
    }
}
