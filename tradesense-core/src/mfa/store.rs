//! Storage of MFA state: the pending and active (sealed) TOTP secrets,
//! the replay guard, recovery code hashes, single-use MFA-pending tokens and
//! the failure window behind the MFA lockout. The trait [`MfaService`](super::MfaService)
//! programs against; the sqlx implementation is in `sql.rs`.

use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

/// A user's MFA state. The secrets are sealed (see `mfa::crypto`);
/// `Debug` still shows only their presence. The default is a user who
/// never set MFA up: off, nothing stored.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MfaState {
    /// Whether MFA is on.
    pub enabled: bool,
    /// The sealed active secret, when enabled.
    pub secret: Option<Vec<u8>>,
    /// The sealed secret of a setup not yet verified, with its expiry.
    pub pending: Option<PendingSecret>,
    /// The last TOTP step accepted.
    pub last_step: Option<i64>,
    /// When MFA was last turned on, unix milliseconds (`None` while off,
    /// or for an enrolment older than the record of it): MFA-pending
    /// tokens issued before it are refused.
    pub enabled_at_ms: Option<i64>,
}

/// A setup awaiting `/mfa/verify`.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingSecret {
    /// The sealed secret.
    pub sealed: Vec<u8>,
    /// When the setup lapses.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for MfaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaState")
            .field("enabled", &self.enabled)
            .field("has_secret", &self.secret.is_some())
            .field(
                "pending_expires_at",
                &self.pending.as_ref().map(|p| p.expires_at),
            )
            .field("last_step", &self.last_step)
            .field("enabled_at_ms", &self.enabled_at_ms)
            .finish()
    }
}

impl fmt::Debug for PendingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSecret")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The current failure window of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureWindow {
    /// Code checks reserved in the window and not cleared by a right code
    /// (so: wrong codes, and checks still running).
    pub failures: u32,
    /// Unix seconds of the window's first failure.
    pub window_start: i64,
}

/// MFA storage.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's MFA state; the default (off, nothing stored) for a user
    /// the store has nothing on. The store does not know who exists: it
    /// takes any user id.
    async fn mfa_state(&self, user_id: Uuid) -> Result<MfaState, StoreError>;

    /// Whether MFA is on for the user (`false` for a user the store has
    /// nothing on): the one answer to "does this login need a second
    /// factor". Cheap (one indexed lookup), and what
    /// [`CachedMfaStore`](super::CachedMfaStore) caches.
    async fn mfa_enabled(&self, user_id: Uuid) -> Result<bool, StoreError>;

    /// Stores (or replaces) the pending secret, creating the user's MFA
    /// state if there was none. `false` (nothing changed) when MFA is
    /// already enabled.
    async fn set_pending_secret(
        &self,
        user_id: Uuid,
        sealed: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// In one transaction: promotes the pending secret `expected_pending`
    /// to the active one, records `step` as the last step used, and
    /// replaces the user's recovery codes with `recovery_hashes`. `false`
    /// (nothing changed) when MFA is already on or the pending secret is no
    /// longer `expected_pending` (a concurrent setup replaced it).
    async fn enable_mfa(
        &self,
        user_id: Uuid,
        expected_pending: &[u8],
        step: i64,
        recovery_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Turns MFA off: clears the secrets and the last step, deletes the
    /// recovery codes. `false` when it was not on.
    async fn disable_mfa(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// The replay guard: records `step` as used if it is later than the last
    /// used step. `true` only for the one caller whose write happened.
    async fn accept_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError>;

    /// `(id, code_hash)` of the user's unused recovery codes.
    async fn unused_recovery_codes(&self, user_id: Uuid)
    -> Result<Vec<(Uuid, String)>, StoreError>;

    /// Marks a recovery code used. `true` only for the one caller that did.
    async fn consume_recovery_code(
        &self,
        user_id: Uuid,
        code_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records that an MFA-pending token was exchanged. `true` the first
    /// time, `false` on every later attempt for as long as the token could
    /// still be accepted: the row is kept until `expires_at` plus
    /// [`LEEWAY_SECS`](crate::auth::LEEWAY_SECS) (verification tolerates that
    /// much clock skew past `exp`), and only then swept.
    async fn consume_mfa_token(
        &self,
        token_id: Uuid,
        user_id: Uuid,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Reserves one code check, in one atomic statement: counts it as a
    /// failure in the user's window (a new window starts at `now` when the
    /// current one began `window_secs` or more ago) and returns the updated
    /// window. The caller checks the code only when the returned count is
    /// at most `max_attempts`; a count past it is not raised further. A
    /// right code then clears the window ([`clear_mfa_failures`](Self::clear_mfa_failures)).
    ///
    /// Counting before the check is what bounds a burst of simultaneous
    /// wrong codes: the database serialises the reservations, so no more
    /// than `max_attempts` of them are ever granted in one window.
    async fn reserve_mfa_attempt(
        &self,
        user_id: Uuid,
        now: i64,
        window_secs: i64,
        max_attempts: u32,
    ) -> Result<FailureWindow, StoreError>;

    /// The user's failure window, if any failure was recorded.
    async fn mfa_failures(&self, user_id: Uuid) -> Result<Option<FailureWindow>, StoreError>;

    /// Forgets the user's failures (after a right code).
    async fn clear_mfa_failures(&self, user_id: Uuid) -> Result<(), StoreError>;
}
