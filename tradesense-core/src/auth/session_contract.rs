//! The [`SessionStore`] contract, one suite for every implementation: the
//! sqlx store with TradeSense's schema and with the sessions set alone,
//! [`MemorySessionStore`](super::MemorySessionStore), and an embedder's own
//! store over its own table (`examples/embed_auth_axum.rs` runs it on one).
//! Behind the `testing` feature; it panics on the first broken rule, as a
//! test helper does.

use super::session_store::{NewSession, SessionStore};
use chrono::Utc;
use uuid::Uuid;

fn session(user_id: Uuid, expires_in: i64) -> NewSession {
    NewSession {
        id: Uuid::now_v7(),
        user_id,
        token_hash: "ab".repeat(32),
        user_agent: Some("ua".to_owned()),
        ip: Some("127.0.0.1".to_owned()),
        expires_at: Utc::now() + chrono::TimeDelta::seconds(expires_in),
    }
}

/// Runs the contract on `store` for a user `user_id` that has no sessions
/// yet (a store whose sessions reference its users table needs a real
/// one): creation, touching, listing, revocation by the owner only, and
/// revoking the others.
///
/// # Panics
///
/// On the first rule `store` breaks, or on any store error.
pub async fn check(store: &dyn SessionStore, user_id: Uuid) {
    let a = store.create_session(session(user_id, 3600)).await.unwrap();
    let b = store.create_session(session(user_id, 3600)).await.unwrap();
    let expired = store.create_session(session(user_id, -10)).await.unwrap();

    // A read changes nothing.
    assert_eq!(store.session(a.id).await.unwrap(), Some(a.clone()));
    assert!(store.session(Uuid::now_v7()).await.unwrap().is_none());
    let touched = store.touch_session(a.id).await.unwrap().unwrap();
    assert_eq!(store.session(a.id).await.unwrap(), Some(touched.clone()));
    assert_eq!(touched.id, a.id);
    assert_eq!(touched.created_at, a.created_at);
    assert_eq!(touched.expires_at, a.expires_at);
    assert!(touched.last_seen_at >= a.last_seen_at);
    assert!(touched.is_live(Utc::now()));
    let stale = store.touch_session(expired.id).await.unwrap().unwrap();
    assert!(!stale.is_live(Utc::now()));
    assert!(store.touch_session(Uuid::now_v7()).await.unwrap().is_none());

    let live: Vec<Uuid> = store
        .live_sessions(user_id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, vec![a.id, b.id]);

    // Only the owner can revoke, and only once.
    assert!(!store.revoke_session(Uuid::now_v7(), a.id).await.unwrap());
    assert!(store.revoke_session(user_id, a.id).await.unwrap());
    assert!(!store.revoke_session(user_id, a.id).await.unwrap());
    assert!(
        store
            .touch_session(a.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    let c = store.create_session(session(user_id, 3600)).await.unwrap();
    let mut revoked = store
        .revoke_other_sessions(user_id, Some(c.id))
        .await
        .unwrap();
    revoked.sort();
    let mut expected = vec![b.id, expired.id];
    expected.sort();
    assert_eq!(revoked, expected);
    let live: Vec<Uuid> = store
        .live_sessions(user_id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, vec![c.id]);
    assert_eq!(
        store.revoke_other_sessions(user_id, None).await.unwrap(),
        vec![c.id]
    );
}
