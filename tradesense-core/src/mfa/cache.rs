//! "Is MFA on for this user?" through the cache: an [`MfaStore`] decorator
//! answering [`mfa_enabled`](MfaStore::mfa_enabled), asked on every login,
//! from memory, and forgetting the answer after every enable or disable. A
//! decorator rather than calls in the MFA code: no MFA write can then
//! forget the cache. Everything else passes through uncached: secrets never
//! sit in a cache, and the replay guard, recovery codes, token uses and
//! failure windows are decided by the database's conditional writes.

use super::store::{FailureWindow, MfaState, MfaStore};
use crate::cache::{Cache, Namespace};
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long "MFA is on" may be answered from the cache. Every enable and
/// disable through [`CachedMfaStore`] invalidates at once (on every
/// instance sharing the cache); the TTL only bounds staleness for writes
/// made behind its back, so it is kept short.
pub const MFA_ENABLED_CACHE_TTL: Duration = Duration::from_secs(60);

/// `inner`, with [`mfa_enabled`](MfaStore::mfa_enabled) cached (namespace
/// `mfa_enabled`, keyed by user id).
#[derive(Clone)]
pub struct CachedMfaStore {
    inner: Arc<dyn MfaStore>,
    enabled: Namespace<bool>,
}

impl std::fmt::Debug for CachedMfaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedMfaStore")
            .field("cache", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl CachedMfaStore {
    /// `inner`, its `mfa_enabled` read through `cache`.
    pub fn new(inner: Arc<dyn MfaStore>, cache: &Cache) -> Self {
        Self {
            inner,
            enabled: cache.namespace("mfa_enabled", MFA_ENABLED_CACHE_TTL),
        }
    }

    /// Forgets the cached answer for `user_id` everywhere (after a write
    /// that bypassed this store).
    pub async fn invalidate(&self, user_id: Uuid) {
        self.enabled.invalidate(&user_id.to_string()).await;
    }
}

#[async_trait]
impl MfaStore for CachedMfaStore {
    async fn mfa_state(&self, user_id: Uuid) -> Result<MfaState, StoreError> {
        self.inner.mfa_state(user_id).await
    }

    async fn mfa_enabled(&self, user_id: Uuid) -> Result<bool, StoreError> {
        let inner = self.inner.clone();
        self.enabled
            .get_or_load(&user_id.to_string(), || async move {
                inner.mfa_enabled(user_id).await
            })
            .await
            // Loader errors are shared between concurrent callers; rebuild
            // an owned one for this caller.
            .map_err(|error| error.clone_shared())
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
        self.invalidate(user_id).await;
        result
    }

    async fn disable_mfa(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = self.inner.disable_mfa(user_id, now).await;
        self.invalidate(user_id).await;
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

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
