//! The MFA rules over [`MfaStore`]: setup with a pending secret held
//! server-side, verification that enables MFA and issues recovery codes,
//! disabling, and the code check of the MFA login, with the replay guard
//! and the lockout after repeated wrong codes.
//!
//! Time is a parameter (`now`) of every operation rather than read inside,
//! so expiry, skew and lockout windows are testable without sleeping.

use super::crypto::SecretCipher;
use super::recovery::RecoveryCode;
use super::totp::{Provisioning, TotpCode, TotpError, TotpSecret};
use crate::store::StoreError;
use crate::store::mfa::{MfaState, MfaStore};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;
use uuid::Uuid;

/// How long a setup waits for its `/mfa/verify`.
pub const PENDING_TTL: TimeDelta = TimeDelta::minutes(10);

/// When wrong codes lock a user's MFA challenge.
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
}

/// The MFA operations. Cheap to clone.
#[derive(Clone)]
pub struct MfaService {
    store: Arc<dyn MfaStore>,
    cipher: SecretCipher,
    lockout: LockoutPolicy,
}

impl std::fmt::Debug for MfaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaService")
            .field("lockout", &self.lockout)
            .finish_non_exhaustive()
    }
}

fn unix(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}

impl MfaService {
    /// The service over `store`, sealing secrets with `cipher`.
    pub fn new(store: Arc<dyn MfaStore>, cipher: SecretCipher) -> Self {
        Self {
            store,
            cipher,
            lockout: LockoutPolicy::default(),
        }
    }

    /// Replaces the lockout policy.
    pub fn with_lockout(mut self, lockout: LockoutPolicy) -> Self {
        self.lockout = lockout;
        self
    }

    /// Whether MFA is on for the user.
    pub async fn is_enabled(&self, user_id: Uuid) -> Result<bool, MfaError> {
        Ok(self.store.mfa_state(user_id).await?.enabled)
    }

    /// Starts (or restarts) a setup: a fresh secret held server-side, sealed,
    /// for [`PENDING_TTL`]. Returns what the user scans, shown this once.
    pub async fn setup(
        &self,
        user_id: Uuid,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Provisioning, MfaError> {
        if self.store.mfa_state(user_id).await?.enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        let secret = TotpSecret::generate();
        let provisioning = secret.provisioning(email)?;
        let sealed = self.cipher.seal(user_id, secret.as_bytes());
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
        self.check_lockout(user_id, now).await?;
        let state = self.store.mfa_state(user_id).await?;
        if state.enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        let pending = match state.pending {
            Some(pending) if pending.expires_at > now => pending,
            _ => return Err(MfaError::SetupRequired),
        };
        let secret = self.open(user_id, &pending.sealed)?;
        // Only a TOTP code can prove the app has the secret.
        let Some(step) = TotpCode::parse(code).and_then(|c| secret.verify(&c, unix(now))) else {
            return Err(self.failure(user_id, now).await);
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
        self.check_lockout(user_id, now).await?;
        let state = self.store.mfa_state(user_id).await?;
        if !state.enabled {
            return Err(MfaError::NotEnabled);
        }
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
        self.check_lockout(user_id, now).await?;
        let state = self.store.mfa_state(user_id).await?;
        if !state.enabled {
            return Err(MfaError::NotEnabled);
        }
        let matched = self.match_code(user_id, &state, code, now).await?;
        // The token is spent before the code: a reused token must not burn
        // the user's code, and only a right code may spend a token (a typo
        // must not force a new password login).
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
    /// recovery code) without spending it; a miss counts as a failure.
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
        Err(self.failure(user_id, now).await)
    }

    /// Spends a matched code with one conditional write: of two concurrent
    /// requests with the same code, exactly one passes.
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
            Matched::Recovery(id) => self.store.consume_recovery_code(user_id, id, now).await?,
        };
        if spent {
            Ok(())
        } else {
            Err(self.failure(user_id, now).await)
        }
    }

    async fn check_lockout(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<(), MfaError> {
        if let Some(window) = self.store.mfa_failures(user_id).await? {
            let ends = window.window_start + self.lockout.window.num_seconds();
            if window.failures >= self.lockout.max_failures && ends > now.timestamp() {
                return Err(MfaError::LockedOut {
                    retry_after_secs: u64::try_from(ends - now.timestamp()).unwrap_or(1),
                });
            }
        }
        Ok(())
    }

    /// Records a wrong code and returns the error to answer with.
    async fn failure(&self, user_id: Uuid, now: DateTime<Utc>) -> MfaError {
        match self
            .store
            .record_mfa_failure(user_id, now.timestamp(), self.lockout.window.num_seconds())
            .await
        {
            Ok(_) => MfaError::InvalidCode,
            Err(err) => MfaError::Store(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mfa::insert_bare_user;
    use crate::store::testing::TestDatabase;
    use secrecy::SecretString;

    fn cipher(key: &str) -> SecretCipher {
        SecretCipher::from_secret_key(&SecretString::from(key.to_owned()))
    }

    fn service(db: &TestDatabase) -> MfaService {
        MfaService::new(Arc::new(db.store.clone()), cipher(&"k".repeat(32)))
    }

    fn at(unix: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(unix, 0).unwrap()
    }

    /// The code for `secret` (base32, as the user's app has it) at `when`.
    fn code(secret: &str, when: DateTime<Utc>) -> String {
        let bytes = totp_rs::Secret::try_from_base32(secret).unwrap();
        TotpSecret::from_bytes(bytes.as_bytes())
            .unwrap()
            .code_at(unix(when))
    }

    const T0: i64 = 1_800_000_000;

    fn challenge() -> LoginChallenge {
        LoginChallenge {
            token_id: Uuid::now_v7(),
            expires_at: T0 + 100_000,
        }
    }

    /// A user with MFA enabled at `T0`; returns (user, base32 secret, codes).
    async fn enabled_user(
        mfa: &MfaService,
        db: &TestDatabase,
    ) -> (Uuid, String, Vec<RecoveryCode>) {
        let id = insert_bare_user(&db.store).await;
        let p = mfa.setup(id, "a@example.com", at(T0)).await.unwrap();
        let codes = mfa
            .verify(id, &code(&p.secret, at(T0)), at(T0))
            .await
            .unwrap();
        (id, p.secret, codes)
    }

    #[tokio::test]
    async fn setup_then_verify_enables_and_returns_ten_codes() {
        for db in TestDatabase::all().await {
            let mfa = service(&db);
            let id = insert_bare_user(&db.store).await;
            let first = mfa.setup(id, "a@example.com", at(T0)).await.unwrap();
            // A second setup replaces the first: the first secret is dead.
            let second = mfa.setup(id, "a@example.com", at(T0)).await.unwrap();
            assert_ne!(first.secret, second.secret);
            let stale = code(&first.secret, at(T0));
            if stale != code(&second.secret, at(T0)) {
                assert!(matches!(
                    mfa.verify(id, &stale, at(T0)).await,
                    Err(MfaError::InvalidCode)
                ));
            }
            // The secret is stored sealed, never in clear.
            let state = db.store.mfa_state(id).await.unwrap();
            let sealed = state.pending.unwrap().sealed;
            assert!(!sealed.windows(20).any(|w| {
                w == totp_rs::Secret::try_from_base32(&second.secret)
                    .unwrap()
                    .as_bytes()
            }));

            let codes = mfa
                .verify(id, &code(&second.secret, at(T0)), at(T0))
                .await
                .unwrap();
            assert_eq!(codes.len(), 10);
            assert!(mfa.is_enabled(id).await.unwrap());
            assert!(matches!(
                mfa.setup(id, "a@example.com", at(T0)).await,
                Err(MfaError::AlreadyEnabled)
            ));
            // The enabling code cannot be replayed for a login.
            let replay = mfa
                .complete_login(id, challenge(), &code(&second.secret, at(T0)), at(T0))
                .await;
            assert!(matches!(replay, Err(MfaError::InvalidCode)));
        }
    }

    #[tokio::test]
    async fn a_pending_setup_expires_after_ten_minutes() {
        for db in TestDatabase::all().await {
            let mfa = service(&db);
            let id = insert_bare_user(&db.store).await;
            assert!(matches!(
                mfa.verify(id, "123456", at(T0)).await,
                Err(MfaError::SetupRequired)
            ));
            let p = mfa.setup(id, "a@example.com", at(T0)).await.unwrap();
            let late = at(T0) + PENDING_TTL + TimeDelta::seconds(1);
            let result = mfa.verify(id, &code(&p.secret, late), late).await;
            assert!(matches!(result, Err(MfaError::SetupRequired)));
            let in_time = at(T0) + PENDING_TTL - TimeDelta::seconds(1);
            mfa.verify(id, &code(&p.secret, in_time), in_time)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn login_codes_work_once_and_tokens_work_once() {
        for db in TestDatabase::all().await {
            let mfa = service(&db);
            let (id, secret, _) = enabled_user(&mfa, &db).await;
            let now = at(T0 + 60);
            let c = challenge();
            mfa.complete_login(id, c, &code(&secret, now), now)
                .await
                .unwrap();
            // The same code again (a replay), with a fresh token: refused.
            let replay = mfa
                .complete_login(id, challenge(), &code(&secret, now), now)
                .await;
            assert!(matches!(replay, Err(MfaError::InvalidCode)));
            // A later code with the spent token: refused, code not burnt.
            let later = at(T0 + 90);
            let reuse = mfa
                .complete_login(id, c, &code(&secret, later), later)
                .await;
            assert!(matches!(reuse, Err(MfaError::TokenUsed)));
            mfa.complete_login(id, challenge(), &code(&secret, later), later)
                .await
                .unwrap();
            // The previous step's code is inside the ±1 window but older than
            // the last used step: refused.
            let earlier = mfa
                .complete_login(id, challenge(), &code(&secret, now), later)
                .await;
            assert!(matches!(earlier, Err(MfaError::InvalidCode)));
        }
    }

    #[tokio::test]
    async fn recovery_codes_work_once_and_disable() {
        for db in TestDatabase::all().await {
            let mfa = service(&db);
            let (id, _, codes) = enabled_user(&mfa, &db).await;
            let now = at(T0 + 60);
            let shown = codes[0].to_string();
            mfa.complete_login(id, challenge(), &shown, now)
                .await
                .unwrap();
            let again = mfa.complete_login(id, challenge(), &shown, now).await;
            assert!(matches!(again, Err(MfaError::InvalidCode)));
            // Upper case, no dashes: the same code.
            let typed = codes[1].to_string().replace('-', "").to_uppercase();
            mfa.disable(id, &typed, now).await.unwrap();
            assert!(!mfa.is_enabled(id).await.unwrap());
            assert!(matches!(
                mfa.disable(id, &codes[2].to_string(), now).await,
                Err(MfaError::NotEnabled)
            ));
            let login = mfa
                .complete_login(id, challenge(), &codes[2].to_string(), now)
                .await;
            assert!(matches!(login, Err(MfaError::NotEnabled)));
        }
    }

    #[tokio::test]
    async fn five_wrong_codes_lock_until_the_window_ends() {
        for db in TestDatabase::all().await {
            let mfa = service(&db);
            let (id, secret, _) = enabled_user(&mfa, &db).await;
            let now = at(T0 + 300);
            let right = code(&secret, now);
            let wrong = if right == "000000" {
                "111111"
            } else {
                "000000"
            };
            for input in [wrong, "nonsense", "", "0000-0000-0000", wrong] {
                let result = mfa.complete_login(id, challenge(), input, now).await;
                assert!(matches!(result, Err(MfaError::InvalidCode)), "{input:?}");
            }
            // Even the right code is refused now, on every MFA operation.
            match mfa.complete_login(id, challenge(), &right, now).await {
                Err(MfaError::LockedOut { retry_after_secs }) => {
                    assert!(retry_after_secs > 0 && retry_after_secs <= 900)
                }
                other => panic!("expected a lockout, got {other:?}"),
            }
            assert!(matches!(
                mfa.disable(id, &right, now).await,
                Err(MfaError::LockedOut { .. })
            ));
            // After the window the right code works and resets the count.
            let after = now + TimeDelta::minutes(16);
            mfa.complete_login(id, challenge(), &code(&secret, after), after)
                .await
                .unwrap();
            assert_eq!(db.store.mfa_failures(id).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn a_changed_secret_key_fails_closed() {
        for db in TestDatabase::all().await {
            let mfa = service(&db);
            let (id, secret, _) = enabled_user(&mfa, &db).await;
            let rotated = MfaService::new(Arc::new(db.store.clone()), cipher(&"z".repeat(32)));
            let now = at(T0 + 60);
            let result = rotated
                .complete_login(id, challenge(), &code(&secret, now), now)
                .await;
            assert!(matches!(result, Err(MfaError::Undecryptable)));
        }
    }
}
