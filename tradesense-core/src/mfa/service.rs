//! The MFA rules over [`MfaStore`]: setup with a pending secret held
//! server-side, verification that enables MFA and issues recovery codes,
//! disabling, and the code check of the MFA login, with the replay guard
//! and the lockout after repeated wrong codes.
//!
//! Time is a parameter (`now`) of every operation rather than read inside,
//! so expiry, skew and lockout windows are testable without sleeping.

use super::crypto::SecretCipher;
use super::recovery::RecoveryCode;
use super::store::{MfaState, MfaStore};
use super::totp::{DEFAULT_ISSUER, Provisioning, TotpCode, TotpError, TotpSecret, validate_issuer};
use crate::store::StoreError;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;
use uuid::Uuid;

/// How long a setup waits for its `/mfa/verify`.
pub const PENDING_TTL: TimeDelta = TimeDelta::minutes(10);

/// When wrong codes lock a user's MFA challenge.
///
/// The count is per user, in the database, so neither a fresh MFA token, a
/// second server instance nor another client IP buys more guesses (the
/// per-IP auth rate limit on `/mfa/login` is a separate, earlier brake).
/// The trade-off: someone who already has the password (for `/mfa/login`)
/// or a session (for `/mfa/verify`, `/mfa/disable`) can keep the owner's
/// second factor locked; a lock-out is preferred to a guessable factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Wrong codes allowed in one window; the next attempt is refused.
    pub max_failures: u32,
    /// The window length, which is also the longest lock.
    pub window: TimeDelta,
}

impl Default for LockoutPolicy {
    /// 5 wrong codes per 15 minutes: a 6-digit code guessed at that rate
    /// has a 3-in-a-million chance per window (3 codes are live at once).
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: TimeDelta::minutes(15),
        }
    }
}

/// Why an MFA operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// Setup or verify while MFA is already on.
    #[error("MFA is already enabled")]
    AlreadyEnabled,
    /// Disable or MFA login while MFA is off.
    #[error("MFA is not enabled")]
    NotEnabled,
    /// Verify without a live pending setup (none, expired, or replaced).
    #[error("no MFA setup is pending")]
    SetupRequired,
    /// The code is malformed, wrong, already used or out of the window.
    #[error("invalid MFA code")]
    InvalidCode,
    /// The MFA-pending token was already exchanged for a session.
    #[error("the MFA token was already used")]
    TokenUsed,
    /// The MFA-pending token is older than the user's current enrolment
    /// (MFA turned off and on again since its password step).
    #[error("the MFA token predates the current MFA enrolment")]
    TokenStale,
    /// Too many wrong codes: refused until the window ends.
    #[error("too many wrong MFA codes")]
    LockedOut {
        /// Seconds until the lock lifts.
        retry_after_secs: u64,
    },
    /// The stored secret cannot be decrypted (`SECRET_KEY` changed, or
    /// the row was tampered with).
    #[error("the stored MFA secret cannot be decrypted")]
    Undecryptable,
    /// A new secret could not be encrypted for storage.
    #[error("the MFA secret could not be encrypted")]
    Unsealable,
    /// Provisioning data could not be built.
    #[error(transparent)]
    Provisioning(#[from] TotpError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A code that matched, before it is spent.
enum Matched {
    Totp(u64),
    Recovery(Uuid),
}

/// The MFA-pending token presented to the MFA login, for its single use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginChallenge {
    /// The token's unique id.
    pub token_id: Uuid,
    /// Its expiry, unix seconds.
    pub expires_at: i64,
    /// When it was issued, unix milliseconds (refused if before the
    /// current enrolment).
    pub issued_at_ms: i64,
}

/// The MFA operations. Cheap to clone.
#[derive(Clone)]
pub struct MfaService {
    store: Arc<dyn MfaStore>,
    cipher: SecretCipher,
    lockout: LockoutPolicy,
    issuer: Arc<str>,
}

impl std::fmt::Debug for MfaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaService")
            .field("lockout", &self.lockout)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn unix(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}

impl MfaService {
    /// The service over `store`, sealing secrets with `cipher`, naming
    /// [`DEFAULT_ISSUER`] in authenticator apps.
    pub fn new(store: Arc<dyn MfaStore>, cipher: SecretCipher) -> Self {
        Self {
            store,
            cipher,
            lockout: LockoutPolicy::default(),
            issuer: Arc::from(DEFAULT_ISSUER),
        }
    }

    /// Names `issuer` (the application, e.g. `"Acme Books"`) in the
    /// provisioning URI, so authenticator apps list the codes under it.
    ///
    /// Checked here, once, when the service is configured, rather than at
    /// each setup: an issuer that is empty or has a `:` (which separates
    /// issuer and account in the URI's label) is a configuration mistake,
    /// answered with a [`TotpError`] at startup instead of a failed setup
    /// for every user later.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tradesense_core::mfa::{MfaService, SecretCipher};
    /// use tradesense_core::store::{Db, SqlStore};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    /// # let store = Arc::new(SqlStore::from_db(Db::Sqlite(pool)));
    /// # let cipher = SecretCipher::from_secret_key(&"x".repeat(32).into());
    /// let mfa = MfaService::new(store.clone(), cipher.clone()).with_issuer("Acme Books");
    /// assert!(mfa.is_ok());
    /// assert!(MfaService::new(store, cipher).with_issuer("Acme:Books").is_err());
    /// # }
    /// ```
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Result<Self, TotpError> {
        let issuer = issuer.into();
        validate_issuer(&issuer)?;
        self.issuer = Arc::from(issuer);
        Ok(self)
    }

    /// Replaces the lockout policy.
    pub fn with_lockout(mut self, lockout: LockoutPolicy) -> Self {
        self.lockout = lockout;
        self
    }

    /// Whether MFA is on for the user ([`MfaStore::mfa_enabled`], cached
    /// when the store is a [`CachedMfaStore`](super::CachedMfaStore)).
    pub async fn is_enabled(&self, user_id: Uuid) -> Result<bool, MfaError> {
        Ok(self.store.mfa_enabled(user_id).await?)
    }

    /// Starts (or restarts) a setup: a fresh secret held server-side, sealed,
    /// for [`PENDING_TTL`]. Returns what the user scans, shown this once:
    /// `account` (e.g. the email) under the service's issuer.
    pub async fn setup(
        &self,
        user_id: Uuid,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<Provisioning, MfaError> {
        if self.store.mfa_state(user_id).await?.enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        let secret = TotpSecret::generate();
        let provisioning = secret.provisioning(&self.issuer, account)?;
        let sealed = self
            .cipher
            .seal(user_id, secret.as_bytes())
            .map_err(|_| MfaError::Unsealable)?;
        if !self
            .store
            .set_pending_secret(user_id, &sealed, now + PENDING_TTL)
            .await?
        {
            // Enabled between the read and the write.
            return Err(MfaError::AlreadyEnabled);
        }
        Ok(provisioning)
    }

    /// Checks `code` against the pending setup and, if right, enables MFA.
    /// Returns the recovery codes: the only time they exist in clear.
    pub async fn verify(
        &self,
        user_id: Uuid,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<RecoveryCode>, MfaError> {
        let state = self.store.mfa_state(user_id).await?;
        if state.enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        let pending = match state.pending {
            Some(pending) if pending.expires_at > now => pending,
            _ => return Err(MfaError::SetupRequired),
        };
        let secret = self.open(user_id, &pending.sealed)?;
        self.reserve(user_id, now).await?;
        // Only a TOTP code can prove the app has the secret.
        let Some(step) = TotpCode::parse(code).and_then(|c| secret.verify(&c, unix(now))) else {
            // (`mfa_failed` is recorded by the endpoint that asked.)
            return Err(MfaError::InvalidCode);
        };
        let codes = RecoveryCode::generate_set();
        let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if !self
            .store
            .enable_mfa(user_id, &pending.sealed, step, &hashes, now)
            .await?
        {
            return Err(MfaError::SetupRequired);
        }
        self.store.clear_mfa_failures(user_id).await?;
        Ok(codes)
    }

    /// Turns MFA off after a TOTP or recovery code.
    pub async fn disable(
        &self,
        user_id: Uuid,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<(), MfaError> {
        let state = self.store.mfa_state(user_id).await?;
        if !state.enabled {
            return Err(MfaError::NotEnabled);
        }
        self.reserve(user_id, now).await?;
        let matched = self.match_code(user_id, &state, code, now).await?;
        self.spend(user_id, matched, now).await?;
        if !self.store.disable_mfa(user_id, now).await? {
            return Err(MfaError::NotEnabled);
        }
        self.store.clear_mfa_failures(user_id).await?;
        Ok(())
    }

    /// The second factor of a login: checks `code` (TOTP or recovery) and
    /// spends `challenge`, the MFA-pending token, so it works once.
    pub async fn complete_login(
        &self,
        user_id: Uuid,
        challenge: LoginChallenge,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<(), MfaError> {
        let state = self.store.mfa_state(user_id).await?;
        if !state.enabled {
            return Err(MfaError::NotEnabled);
        }
        // A token from before this enrolment stands for a login of the
        // enrolment that was reset: refused before any code is looked at.
        if state
            .enabled_at_ms
            .is_some_and(|enabled_at| challenge.issued_at_ms < enabled_at)
        {
            return Err(MfaError::TokenStale);
        }
        self.reserve(user_id, now).await?;
        let matched = self.match_code(user_id, &state, code, now).await?;
        // The token is spent before the code: a reused token must not burn
        // the user's code, and only a right code may spend a token (a typo
        // must not force a new password login). A reused token leaves the
        // reservation counted: a replay is no proof of the second factor.
        if !self
            .store
            .consume_mfa_token(
                challenge.token_id,
                user_id,
                challenge.expires_at,
                now.timestamp(),
            )
            .await?
        {
            return Err(MfaError::TokenUsed);
        }
        self.spend(user_id, matched, now).await?;
        self.store.clear_mfa_failures(user_id).await?;
        Ok(())
    }

    fn open(&self, user_id: Uuid, sealed: &[u8]) -> Result<TotpSecret, MfaError> {
        let bytes = self
            .cipher
            .open(user_id, sealed)
            .map_err(|_| MfaError::Undecryptable)?;
        TotpSecret::from_bytes(&bytes).ok_or(MfaError::Undecryptable)
    }

    /// Finds what `input` is (a TOTP code in the window, or an unused
    /// recovery code) without spending it. A miss needs no bookkeeping:
    /// the reservation already counted it.
    async fn match_code(
        &self,
        user_id: Uuid,
        state: &MfaState,
        input: &str,
        now: DateTime<Utc>,
    ) -> Result<Matched, MfaError> {
        if let Some(code) = TotpCode::parse(input) {
            let sealed = state.secret.as_deref().ok_or(MfaError::NotEnabled)?;
            let secret = self.open(user_id, sealed)?;
            if let Some(step) = secret.verify(&code, unix(now)) {
                // Checked early so a replay is refused before anything is
                // spent; `spend` re-checks atomically.
                if state.last_step.is_none_or(|last| (step as i64) > last) {
                    return Ok(Matched::Totp(step));
                }
            }
        } else if let Some(code) = RecoveryCode::parse(input) {
            let unused = self.store.unused_recovery_codes(user_id).await?;
            if let Some(id) = code.find_in(&unused) {
                return Ok(Matched::Recovery(id));
            }
        }
        Err(MfaError::InvalidCode)
    }

    /// Spends a matched code with one conditional write: of two concurrent
    /// requests with the same code, exactly one passes (the other's code
    /// counts as wrong: its reservation stays).
    async fn spend(
        &self,
        user_id: Uuid,
        matched: Matched,
        now: DateTime<Utc>,
    ) -> Result<(), MfaError> {
        let spent = match matched {
            Matched::Totp(step) => {
                let step = i64::try_from(step).unwrap_or(i64::MAX);
                self.store.accept_totp_step(user_id, step).await?
            }
            // (`recovery_code_used` is recorded by the endpoint once spent.)
            Matched::Recovery(id) => self.store.consume_recovery_code(user_id, id, now).await?,
        };
        if spent {
            Ok(())
        } else {
            Err(MfaError::InvalidCode)
        }
    }

    /// Reserves one code check for the user before the code is looked at:
    /// [`MfaError::LockedOut`] once the window's
    /// [`max_failures`](LockoutPolicy::max_failures) checks are spent.
    /// The database counts the attempt in the same statement that decides,
    /// so simultaneous wrong codes get no more checks than sequential ones.
    async fn reserve(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<(), MfaError> {
        let window_secs = self.lockout.window.num_seconds();
        let window = self
            .store
            .reserve_mfa_attempt(
                user_id,
                now.timestamp(),
                window_secs,
                self.lockout.max_failures,
            )
            .await?;
        if window.failures > self.lockout.max_failures {
            let ends = window.window_start + window_secs;
            // The lockout itself leaves its trail as `mfa_failed` events.
            return Err(MfaError::LockedOut {
                retry_after_secs: u64::try_from(ends - now.timestamp()).unwrap_or(0).max(1),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
