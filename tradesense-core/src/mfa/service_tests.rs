//! Tests of the MFA rules on every backend, with time injected.
use super::*;
use crate::store::testing::{TestDatabase, insert_bare_user};
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

/// A token issued at `T0 + 1` (after the enrolment of [`enabled_user`]).
fn challenge() -> LoginChallenge {
    LoginChallenge {
        token_id: Uuid::now_v7(),
        expires_at: T0 + 100_000,
        issued_at_ms: (T0 + 1) * 1000,
    }
}

/// A user with MFA enabled at `T0`; returns (user, base32 secret, codes).
async fn enabled_user(mfa: &MfaService, db: &TestDatabase) -> (Uuid, String, Vec<RecoveryCode>) {
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

/// Issue 21: a pending token issued before an MFA reset (off, then on
/// again with a new secret) is refused, even with a right code of the new
/// secret; one issued after the new enrolment, to the millisecond, works.
#[tokio::test]
async fn a_token_from_before_an_mfa_reset_is_refused() {
    for db in TestDatabase::all().await {
        let mfa = service(&db);
        let (id, secret, _) = enabled_user(&mfa, &db).await;
        let before_reset = challenge();
        let off = at(T0 + 60);
        mfa.disable(id, &code(&secret, off), off).await.unwrap();
        let on = at(T0 + 120);
        let p = mfa.setup(id, "a@example.com", on).await.unwrap();
        mfa.verify(id, &code(&p.secret, on), on).await.unwrap();
        let now = at(T0 + 180);
        let stale = mfa
            .complete_login(id, before_reset, &code(&p.secret, now), now)
            .await;
        assert!(matches!(stale, Err(MfaError::TokenStale)), "{stale:?}");
        let just_before = LoginChallenge {
            issued_at_ms: on.timestamp_millis() - 1,
            ..challenge()
        };
        let stale = mfa
            .complete_login(id, just_before, &code(&p.secret, now), now)
            .await;
        assert!(matches!(stale, Err(MfaError::TokenStale)), "{stale:?}");
        let after = LoginChallenge {
            issued_at_ms: on.timestamp_millis(),
            ..challenge()
        };
        mfa.complete_login(id, after, &code(&p.secret, now), now)
            .await
            .unwrap();
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
