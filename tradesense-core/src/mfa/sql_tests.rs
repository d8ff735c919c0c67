//! The MFA storage contract, run on SQLite and (when configured) PostgreSQL.
use super::*;
use crate::store::testing::TestDatabase;
use std::sync::Arc;

async fn user(store: &SqlStore) -> Uuid {
    crate::store::testing::insert_bare_user(store).await
}

fn hashes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("hash-{i}")).collect()
}

#[tokio::test]
async fn pending_setup_enable_and_disable() {
    for db in TestDatabase::all().await {
        let store = &db.store;
        let id = user(store).await;
        let fresh = store.mfa_state(id).await.unwrap();
        assert!(!fresh.enabled && fresh.secret.is_none() && fresh.pending.is_none());
        // The store takes any user id: one it has nothing on has MFA off.
        let unknown = Uuid::now_v7();
        assert_eq!(store.mfa_state(unknown).await.unwrap(), MfaState::default());
        assert!(!store.mfa_enabled(unknown).await.unwrap());
        assert!(!store.mfa_enabled(id).await.unwrap());

        let expires = Utc::now() + chrono::TimeDelta::minutes(10);
        assert!(
            store
                .set_pending_secret(id, b"first", expires)
                .await
                .unwrap()
        );
        // A second setup replaces the first.
        assert!(
            store
                .set_pending_secret(id, b"second", expires)
                .await
                .unwrap()
        );
        let state = store.mfa_state(id).await.unwrap();
        let pending = state.pending.unwrap();
        assert_eq!(pending.sealed, b"second");
        assert_eq!(pending.expires_at, to_micros(expires));

        // Enabling against a replaced setup changes nothing.
        assert!(
            !store
                .enable_mfa(id, b"first", 7, &hashes(10), Utc::now())
                .await
                .unwrap()
        );
        assert!(
            store
                .enable_mfa(id, b"second", 7, &hashes(10), Utc::now())
                .await
                .unwrap()
        );
        let state = store.mfa_state(id).await.unwrap();
        assert!(state.enabled);
        assert!(store.mfa_enabled(id).await.unwrap());
        assert_eq!(state.secret.as_deref(), Some(&b"second"[..]));
        assert!(state.pending.is_none());
        assert_eq!(state.last_step, Some(7));
        assert_eq!(store.unused_recovery_codes(id).await.unwrap().len(), 10);
        // Enabled: no new setup, no second enable.
        assert!(
            !store
                .set_pending_secret(id, b"third", expires)
                .await
                .unwrap()
        );
        assert!(
            !store
                .enable_mfa(id, b"second", 8, &hashes(10), Utc::now())
                .await
                .unwrap()
        );

        assert!(store.disable_mfa(id, Utc::now()).await.unwrap());
        assert!(!store.disable_mfa(id, Utc::now()).await.unwrap());
        let state = store.mfa_state(id).await.unwrap();
        assert!(!state.enabled && state.secret.is_none() && state.last_step.is_none());
        assert!(state.enabled_at_ms.is_none());
        assert!(!store.mfa_enabled(id).await.unwrap());
        assert!(store.unused_recovery_codes(id).await.unwrap().is_empty());
        assert!(format!("{state:?}").contains("has_secret"));
    }
}

#[tokio::test]
async fn a_step_is_accepted_once_even_concurrently() {
    for db in TestDatabase::all().await {
        let store = Arc::new(db.store.clone());
        let id = user(&store).await;
        assert!(store.accept_totp_step(id, 100).await.unwrap());
        assert!(!store.accept_totp_step(id, 100).await.unwrap());
        assert!(!store.accept_totp_step(id, 99).await.unwrap());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.accept_totp_step(id, 101).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1);
    }
}

#[tokio::test]
async fn recovery_codes_are_single_use_even_concurrently() {
    for db in TestDatabase::all().await {
        let store = Arc::new(db.store.clone());
        let id = user(&store).await;
        let other = user(&store).await;
        store
            .set_pending_secret(id, b"s", Utc::now())
            .await
            .unwrap();
        store
            .enable_mfa(id, b"s", 1, &hashes(10), Utc::now())
            .await
            .unwrap();
        let codes = store.unused_recovery_codes(id).await.unwrap();
        let (code_id, _) = codes[3].clone();
        // Another user cannot burn it.
        assert!(
            !store
                .consume_recovery_code(other, code_id, Utc::now())
                .await
                .unwrap()
        );
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .consume_recovery_code(id, code_id, Utc::now())
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1);
        let left = store.unused_recovery_codes(id).await.unwrap();
        assert_eq!(left.len(), 9);
        assert!(left.iter().all(|(c, _)| *c != code_id));
    }
}

/// Issue 21: a used token stays used for as long as verification could
/// still accept it (`exp` plus the leeway), and is swept only after.
#[tokio::test]
async fn mfa_tokens_are_single_use_until_expiry_plus_leeway_then_swept() {
    let leeway = crate::auth::LEEWAY_SECS as i64;
    for db in TestDatabase::all().await {
        let store = &db.store;
        let id = user(store).await;
        let token = Uuid::now_v7();
        assert!(
            store
                .consume_mfa_token(token, id, 1_000, 700)
                .await
                .unwrap()
        );
        // Replays before, at, one second after `exp` and at the end of the
        // leeway (the token verifies until then): still used.
        for now in [800, 1_000, 1_001, 1_000 + leeway] {
            assert!(
                !store
                    .consume_mfa_token(token, id, 1_000, now)
                    .await
                    .unwrap(),
                "replay at {now} of a token expiring at 1000"
            );
        }
        // Past the leeway the row is swept (the token itself is refused
        // by its own `exp` before this is ever asked).
        assert!(
            store
                .consume_mfa_token(token, id, 2_000, 1_001 + leeway)
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn reservations_count_within_a_window_stop_at_the_limit_and_reset() {
    for db in TestDatabase::all().await {
        let store = &db.store;
        let id = user(store).await;
        assert_eq!(store.mfa_failures(id).await.unwrap(), None);
        for n in 1..=6u32 {
            let w = store
                .reserve_mfa_attempt(id, 1_000 + i64::from(n), 900, 5)
                .await
                .unwrap();
            assert_eq!(
                w,
                FailureWindow {
                    failures: n,
                    window_start: 1_001
                }
            );
        }
        // Past the limit the count no longer grows.
        let w = store.reserve_mfa_attempt(id, 1_100, 900, 5).await.unwrap();
        assert_eq!(w.failures, 6);
        assert_eq!(store.mfa_failures(id).await.unwrap().unwrap().failures, 6);
        // A reservation after the window starts a new one.
        let w = store.reserve_mfa_attempt(id, 1_901, 900, 5).await.unwrap();
        assert_eq!(
            w,
            FailureWindow {
                failures: 1,
                window_start: 1_901
            }
        );
        store.clear_mfa_failures(id).await.unwrap();
        assert_eq!(store.mfa_failures(id).await.unwrap(), None);
    }
}

/// The statement is the arbiter: of many simultaneous reservations, each
/// sees the count the previous one left, so exactly `max` are granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_reservations_are_counted_one_by_one() {
    for db in TestDatabase::all().await {
        let id = user(&db.store).await;
        let attempts = (0..30).map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move { store.reserve_mfa_attempt(id, 5_000, 900, 5).await })
        });
        let mut counts: Vec<u32> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap().failures)
            .collect();
        counts.sort_unstable();
        let granted = counts.iter().filter(|&&n| n <= 5).count();
        assert_eq!(granted, 5, "{counts:?}");
        assert_eq!(&counts[..5], &[1, 2, 3, 4, 5], "{db:?}");
    }
}
