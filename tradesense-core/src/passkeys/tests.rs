//! The ceremonies in-process, with the software authenticator, on every
//! store: the sqlx one on SQLite (and PostgreSQL when `TEST_DATABASE_URL`
//! is set; unreachable then is a failure) with the passkeys set alone, and
//! the memory one.

use super::testing::SoftAuthenticator;
use super::wire::{AuthenticationCredential, RegistrationCredential};
use super::*;
use crate::store::MigrationSet;
use crate::store::testing::TestDatabase;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use uuid::Uuid;

const ORIGIN: &str = "http://localhost:8000";

/// A service over `store` whose clock runs `offset` milliseconds ahead.
fn service<S>(store: S, offset: &Arc<AtomicI64>) -> PasskeyService
where
    S: PasskeyStore + ChallengeStore + Clone + 'static,
{
    let offset = offset.clone();
    let clock: Clock = Arc::new(move || -> DateTime<Utc> {
        Utc::now() + TimeDelta::milliseconds(offset.load(Ordering::SeqCst))
    });
    let rp = RelyingParty::new(ORIGIN, None, "Test").unwrap();
    PasskeyService::builder(rp, Arc::new(store.clone()), Arc::new(store))
        .clock(clock)
        .build()
        .unwrap()
}

fn registration(json: Value) -> RegistrationCredential {
    serde_json::from_value(json).unwrap()
}

fn assertion(json: Value) -> AuthenticationCredential {
    serde_json::from_value(json).unwrap()
}

fn is_invalid<T: std::fmt::Debug>(result: Result<T, PasskeyError>) -> bool {
    matches!(result, Err(PasskeyError::Invalid(_)))
}

async fn register(
    service: &PasskeyService,
    authenticator: &mut SoftAuthenticator,
    user: Uuid,
) -> PasskeyRecord {
    let started = service
        .start_registration(user, "ada@example.com", "Ada", Some("Laptop".to_owned()))
        .await
        .unwrap();
    let credential = registration(authenticator.create(&started.options).unwrap());
    service
        .finish_registration(user, started.challenge_id, &credential)
        .await
        .unwrap()
}

async fn login(
    service: &PasskeyService,
    authenticator: &mut SoftAuthenticator,
) -> Result<PasskeyLogin, PasskeyError> {
    let started = service.start_login().await.unwrap();
    let credential = assertion(authenticator.get(&started.options).unwrap());
    service
        .finish_login(started.challenge_id, &credential)
        .await
}

/// Every rule, on one store.
async fn ceremonies<S>(store: S)
where
    S: PasskeyStore + ChallengeStore + Clone + 'static,
{
    let offset = Arc::new(AtomicI64::new(0));
    let service = service(store.clone(), &offset);
    let mut phone = SoftAuthenticator::new(ORIGIN);
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());

    // Registration: options as the browser wants them.
    let started = service
        .start_registration(ada, "ada@example.com", "Ada", None)
        .await
        .unwrap();
    let options = &started.options;
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["rp"]["id"], "localhost");
    assert!(options.get("publicKey").is_none(), "{options}");
    let credential = registration(phone.create(options).unwrap());
    // Another user cannot finish Ada's ceremony, and trying spends nothing.
    assert!(is_invalid(
        service
            .finish_registration(bob, started.challenge_id, &credential)
            .await
    ));
    let record = service
        .finish_registration(ada, started.challenge_id, &credential)
        .await
        .unwrap();
    assert_eq!(record.name, DEFAULT_PASSKEY_NAME);
    // Each challenge works once.
    assert!(is_invalid(
        service
            .finish_registration(ada, started.challenge_id, &credential)
            .await
    ));
    // Her passkeys are excluded from her next registration.
    let again = service
        .start_registration(ada, "ada@example.com", "Ada", None)
        .await
        .unwrap();
    assert!(
        phone
            .create(&again.options)
            .unwrap_err()
            .contains("InvalidState")
    );

    // Login: discoverable, user verification required.
    let started = service.start_login().await.unwrap();
    assert!(started.options.get("allowCredentials").is_none());
    assert_eq!(started.options["userVerification"], "required");
    let credential = assertion(phone.get(&started.options).unwrap());
    let done = service
        .finish_login(started.challenge_id, &credential)
        .await
        .unwrap();
    assert_eq!(
        done,
        PasskeyLogin {
            user_id: ada,
            passkey_id: record.id
        }
    );
    // Replay of the whole request: the challenge is gone.
    assert!(is_invalid(
        service
            .finish_login(started.challenge_id, &credential)
            .await
    ));
    // Replay of the assertion on a fresh challenge: signed for another.
    let fresh = service.start_login().await.unwrap();
    assert!(is_invalid(
        service.finish_login(fresh.challenge_id, &credential).await
    ));
    let listed = service.passkeys_of(ada).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sign_count, 1);
    assert!(listed[0].last_used_at.is_some());

    // A counter that goes backwards (a cloned key) is refused.
    login(&service, &mut phone).await.unwrap();
    phone.set_counter(0);
    assert!(is_invalid(login(&service, &mut phone).await));
    phone.set_counter(10);
    login(&service, &mut phone).await.unwrap();

    // Expiry after five minutes, by the service's clock.
    let started = service.start_login().await.unwrap();
    let credential = assertion(phone.get(&started.options).unwrap());
    offset.store(5 * 60 * 1000 + 1, Ordering::SeqCst);
    assert!(is_invalid(
        service
            .finish_login(started.challenge_id, &credential)
            .await
    ));
    let started = service.start_login().await.unwrap();
    let credential = assertion(phone.get(&started.options).unwrap());
    offset.store(5 * 60 * 1000 + 1 + 4 * 60 * 1000, Ordering::SeqCst);
    service
        .finish_login(started.challenge_id, &credential)
        .await
        .unwrap();
    offset.store(0, Ordering::SeqCst);

    // A login challenge does not finish a registration, nor the reverse.
    let started = service.start_login().await.unwrap();
    let reg = service
        .start_registration(ada, "ada@example.com", "Ada", None)
        .await
        .unwrap();
    let mut laptop = SoftAuthenticator::new(ORIGIN);
    let new_key = registration(laptop.create(&reg.options).unwrap());
    assert!(is_invalid(
        service
            .finish_registration(ada, started.challenge_id, &new_key)
            .await
    ));
    let credential = assertion(phone.get(&started.options).unwrap());
    assert!(is_invalid(
        service.finish_login(reg.challenge_id, &credential).await
    ));

    // A phishing origin, or no user verification: refused.
    let mut phished = phone.clone();
    phished.origin = "http://localhost:9999".to_owned();
    assert!(is_invalid(login(&service, &mut phished).await));
    let mut lazy = phone.clone();
    lazy.verifies_user = false;
    assert!(is_invalid(login(&service, &mut lazy).await));

    // Removed: logs in no more; only the owner removes.
    assert!(!service.remove(bob, record.id).await.unwrap());
    assert!(service.remove(ada, record.id).await.unwrap());
    assert!(!service.remove(ada, record.id).await.unwrap());
    assert!(is_invalid(login(&service, &mut phone).await));
    assert!(service.passkeys_of(ada).await.unwrap().is_empty());

    // Concurrent finishes of one login: exactly one passes.
    register(&service, &mut phone, ada).await;
    let started = service.start_login().await.unwrap();
    let credential = assertion(phone.get(&started.options).unwrap());
    let results = futures_util::future::join_all(
        (0..4).map(|_| service.finish_login(started.challenge_id, &credential)),
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
}

#[tokio::test]
async fn ceremonies_on_the_sql_store() {
    for db in TestDatabase::all_with_sets(&[MigrationSet::Passkeys]).await {
        ceremonies(db.store.clone()).await;
    }
}

#[tokio::test]
async fn ceremonies_in_memory() {
    ceremonies(MemoryPasskeyStore::new()).await;
}

/// Two concurrent logins with the same counter (two assertions of one
/// cloned key, each on its own challenge): the store's conditional write
/// lets one through.
#[tokio::test]
async fn one_counter_value_logs_in_once() {
    for db in TestDatabase::all_with_sets(&[MigrationSet::Passkeys]).await {
        let offset = Arc::new(AtomicI64::new(0));
        let service = service(db.store.clone(), &offset);
        let mut key = SoftAuthenticator::new(ORIGIN);
        register(&service, &mut key, Uuid::now_v7()).await;
        let mut clone = key.clone();
        let (a, b) = (
            service.start_login().await.unwrap(),
            service.start_login().await.unwrap(),
        );
        let first = assertion(key.get(&a.options).unwrap());
        let second = assertion(clone.get(&b.options).unwrap());
        let (x, y) = tokio::join!(
            service.finish_login(a.challenge_id, &first),
            service.finish_login(b.challenge_id, &second),
        );
        assert_eq!(
            usize::from(x.is_ok()) + usize::from(y.is_ok()),
            1,
            "{x:?} {y:?}"
        );
    }
}

#[test]
fn a_credential_whose_id_is_not_its_raw_id_is_a_shape_error() {
    let mut phone = SoftAuthenticator::new(ORIGIN);
    let options = serde_json::json!({
        "rp": {"id": "localhost", "name": "T"},
        "user": {"id": "AAAA", "name": "a", "displayName": "A"},
        "challenge": "AAAA",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    });
    let mut json = phone.create(&options).unwrap();
    json["id"] = "AAAA".into();
    let shape = registration(json).to_webauthn().unwrap_err();
    assert_eq!(shape.field, "id");
}

/// The store's counter rule itself (what makes the check hold between
/// instances, where webauthn-rs on each sees only the credential it read):
/// a use is recorded only with a higher counter (or 0 on both sides), and
/// never for a removed passkey.
async fn counter_rule<S>(store: S)
where
    S: PasskeyStore + ChallengeStore + Clone + 'static,
{
    let offset = Arc::new(AtomicI64::new(0));
    let service = service(store.clone(), &offset);
    let mut key = SoftAuthenticator::new(ORIGIN);
    let user = Uuid::now_v7();
    let record = register(&service, &mut key, user).await;
    let credential = &record.credential;
    let now = Utc::now();
    // 0 stays 0: an authenticator that keeps no counter.
    assert!(
        store
            .record_passkey_use(record.id, credential, 0, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_passkey_use(record.id, credential, 5, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_passkey_use(record.id, credential, 5, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_passkey_use(record.id, credential, 4, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_passkey_use(record.id, credential, 0, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_passkey_use(record.id, credential, 6, now)
            .await
            .unwrap()
    );
    let stored = store.passkeys_of(user).await.unwrap();
    assert_eq!(stored[0].sign_count, 6);
    assert!(store.delete_passkey(user, record.id).await.unwrap());
    assert!(
        !store
            .record_passkey_use(record.id, credential, 7, now)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_counter_must_rise_on_every_store() {
    for db in TestDatabase::all_with_sets(&[MigrationSet::Passkeys]).await {
        counter_rule(db.store.clone()).await;
    }
    counter_rule(MemoryPasskeyStore::new()).await;
}
