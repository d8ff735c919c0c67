//! The liveness check's bookkeeping: no write per request, a write per
//! interval, and the idle timeout on every instance (two `Sessions` over
//! one store, each with its own cache, are two instances).
use super::*;
use crate::cache::CacheConfig;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A store whose records a test can age, counting reads and writes.
#[derive(Default)]
struct CountingStore {
    records: Mutex<HashMap<Uuid, SessionRecord>>,
    reads: AtomicUsize,
    touches: AtomicUsize,
}

impl CountingStore {
    fn age(&self, id: Uuid, by: TimeDelta) {
        let mut records = self.records.lock().unwrap();
        let record = records.get_mut(&id).unwrap();
        record.last_seen_at -= by;
    }

    fn last_seen(&self, id: Uuid) -> DateTime<Utc> {
        self.records.lock().unwrap()[&id].last_seen_at
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        let record = new.record_at(Utc::now());
        self.records
            .lock()
            .unwrap()
            .insert(record.id, record.clone());
        Ok(record)
    }

    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.records.lock().unwrap().get(&id).cloned())
    }

    async fn touch_session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        self.touches.fetch_add(1, Ordering::SeqCst);
        let mut records = self.records.lock().unwrap();
        Ok(records.get_mut(&id).map(|r| {
            r.last_seen_at = crate::store::to_micros(Utc::now());
            r.clone()
        }))
    }

    async fn live_sessions(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError> {
        let now = Utc::now();
        Ok(self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.user_id == user_id && r.is_live(now))
            .cloned()
            .collect())
    }

    async fn revoke_session(&self, _: Uuid, _: Uuid) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn revoke_other_sessions(
        &self,
        _: Uuid,
        _: Option<Uuid>,
    ) -> Result<Vec<Uuid>, StoreError> {
        Ok(Vec::new())
    }
}

/// An instance: its own (in-process) cache over the shared store.
fn instance(store: &Arc<CountingStore>, config: SessionConfig) -> Sessions {
    Sessions::with_config(
        store.clone(),
        &Cache::in_process(CacheConfig::default()),
        config,
    )
}

async fn login(sessions: &Sessions, user_id: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    sessions
        .create(NewSession {
            id,
            user_id,
            token_hash: "ab".repeat(32),
            user_agent: None,
            ip: None,
            expires_at: Utc::now() + TimeDelta::hours(24),
        })
        .await
        .unwrap();
    id
}

#[test]
fn the_coarseness_follows_the_idle_timeout() {
    let default = SessionConfig::default();
    assert_eq!(default.cache_ttl(), Duration::from_secs(30));
    assert_eq!(default.write_interval(), Duration::from_secs(60));
    assert_eq!(default.last_seen_lag(), Duration::from_secs(120));
    let short = SessionConfig {
        idle_timeout: Some(Duration::from_secs(8)),
        ..default
    };
    assert_eq!(short.cache_ttl(), Duration::from_secs(2));
    assert_eq!(short.write_interval(), Duration::from_secs(2));
    let off = SessionConfig {
        idle_timeout: None,
        ..default
    };
    assert_eq!(off.cache_ttl(), SESSION_CACHE_TTL);
}

#[tokio::test]
async fn requests_cost_no_write_and_a_stale_stamp_one() {
    let store = Arc::new(CountingStore::default());
    let user = Uuid::now_v7();
    let a = instance(&store, SessionConfig::default());
    let sid = login(&a, user).await;
    for _ in 0..500 {
        assert!(a.is_live(user, sid).await.unwrap());
    }
    // Primed at login: not even a read, and no write.
    assert_eq!(store.reads.load(Ordering::SeqCst), 0);
    assert_eq!(store.touches.load(Ordering::SeqCst), 0);

    // Another instance (cold cache): one read; the stamp is fresh, no write.
    let b = instance(&store, SessionConfig::default());
    for _ in 0..500 {
        assert!(b.is_live(user, sid).await.unwrap());
    }
    assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    assert_eq!(store.touches.load(Ordering::SeqCst), 0);

    // A stamp older than the interval: the next load writes, once.
    store.age(sid, TimeDelta::seconds(61));
    let c = instance(&store, SessionConfig::default());
    for _ in 0..500 {
        assert!(c.is_live(user, sid).await.unwrap());
    }
    assert_eq!(store.touches.load(Ordering::SeqCst), 1);
    assert!(Utc::now() - store.last_seen(sid) < TimeDelta::seconds(5));
    // Someone else's session id is no one's.
    assert!(!c.is_live(Uuid::now_v7(), sid).await.unwrap());
}

#[tokio::test]
async fn an_idle_session_is_over_and_zero_turns_the_rule_off() {
    let store = Arc::new(CountingStore::default());
    let user = Uuid::now_v7();
    let config = SessionConfig::default();
    let sid = login(&instance(&store, config), user).await;
    store.age(sid, TimeDelta::hours(8) + TimeDelta::seconds(1));
    assert!(!instance(&store, config).is_live(user, sid).await.unwrap());
    let sessions = instance(&store, config);
    assert!(sessions.active_sessions(user).await.unwrap().is_empty());
    // An idle session is not revived by the refusal: no write.
    assert_eq!(store.touches.load(Ordering::SeqCst), 0);

    let off = SessionConfig {
        idle_timeout: None,
        ..config
    };
    let sessions = instance(&store, off);
    assert!(sessions.is_live(user, sid).await.unwrap());
    assert_eq!(sessions.active_sessions(user).await.unwrap().len(), 1);
}

/// With a short timeout: activity on instance A keeps the session alive on
/// B, whose cache saw it long ago; silence ends it on both, although both
/// had it cached as live. Real time passes here: it is what is tested.
#[tokio::test]
async fn idleness_is_seen_on_every_instance_despite_the_cache() {
    let store = Arc::new(CountingStore::default());
    let user = Uuid::now_v7();
    let config = SessionConfig {
        idle_timeout: Some(Duration::from_secs(2)),
        ..SessionConfig::default()
    };
    let (a, b) = (instance(&store, config), instance(&store, config));
    let sid = login(&a, user).await;
    assert!(b.is_live(user, sid).await.unwrap());
    // 3 s of requests on A only, every 100 ms: longer than the timeout.
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(a.is_live(user, sid).await.unwrap());
    }
    assert!(
        b.is_live(user, sid).await.unwrap(),
        "A's activity counts on B"
    );
    // Writes stayed coarse: at most one per 500 ms interval.
    assert!(store.touches.load(Ordering::SeqCst) <= 8);
    // Silence past the timeout: over on both.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert!(!a.is_live(user, sid).await.unwrap());
    assert!(!b.is_live(user, sid).await.unwrap());
}
