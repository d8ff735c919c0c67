//! Unit tests of the tiers without a Redis server (the Redis-backed ones
//! live in the workspace's `tests/it/cache_redis.rs`).

use super::*;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

fn ns(cache: &Cache, ttl: Duration) -> Namespace<String> {
    cache.namespace("test", ttl)
}

#[tokio::test]
async fn get_or_load_loads_once_and_then_hits() {
    let cache = Cache::in_process(CacheConfig::default());
    let users = ns(&cache, Duration::from_secs(60));
    let loads = AtomicUsize::new(0);
    for _ in 0..3 {
        let value = users
            .get_or_load("k", || async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>("v".to_owned())
            })
            .await
            .unwrap();
        assert_eq!(value, "v");
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_misses_run_one_load() {
    let cache = Cache::in_process(CacheConfig::default());
    let users = ns(&cache, Duration::from_secs(60));
    let loads = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (users, loads, barrier) = (users.clone(), loads.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                users
                    .get_or_load("hot", || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        // Slow enough that every caller arrives meanwhile: a
                        // slow load is the scenario, not a synchronisation
                        // (a caller arriving after it gets a hit, which the
                        // count also accepts).
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, String>("v".to_owned())
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "v");
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_load_is_shared_but_not_cached() {
    let cache = Cache::in_process(CacheConfig::default());
    let users = ns(&cache, Duration::from_secs(60));
    let error = users
        .get_or_load("k", || async { Err::<String, _>("db down") })
        .await
        .unwrap_err();
    assert_eq!(*error, "db down");
    assert_eq!(users.get("k").await, None);
    let value = users
        .get_or_load("k", || async { Ok::<_, &str>("v".to_owned()) })
        .await
        .unwrap();
    assert_eq!(value, "v");
}

#[tokio::test]
async fn entries_expire_after_the_namespace_ttl() {
    let cache = Cache::in_process(CacheConfig::default());
    let short = ns(&cache, Duration::from_millis(50));
    short.insert("k", &"v".to_owned()).await;
    assert_eq!(short.get("k").await.as_deref(), Some("v"));
    // Time passing is what is tested: the 50 ms TTL runs out.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(short.get("k").await, None);
}

#[tokio::test]
async fn insert_overwrites_and_invalidate_removes() {
    let cache = Cache::in_process(CacheConfig::default());
    let users = ns(&cache, Duration::from_secs(60));
    users.insert("k", &"old".to_owned()).await;
    users.insert("k", &"new".to_owned()).await;
    assert_eq!(users.get("k").await.as_deref(), Some("new"));
    users.invalidate("k").await;
    assert_eq!(users.get("k").await, None);
}

#[tokio::test]
async fn namespaces_do_not_collide() {
    let cache = Cache::in_process(CacheConfig::default());
    let a = cache.namespace::<u32>("a", Duration::from_secs(60));
    let b = cache.namespace::<u32>("b", Duration::from_secs(60));
    a.insert("k", &1).await;
    b.insert("k", &2).await;
    assert_eq!(a.get("k").await, Some(1));
    assert_eq!(b.get("k").await, Some(2));
    b.invalidate("k").await;
    assert_eq!(a.get("k").await, Some(1));
}

#[tokio::test]
async fn a_load_overtaken_by_an_invalidation_is_returned_but_not_kept() {
    let cache = Cache::in_process(CacheConfig::default());
    let users = ns(&cache, Duration::from_secs(60));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    // Loaders are `Clone` (a caller may need to load again): the one-shot
    // channels sit behind shared slots.
    let started_tx = Arc::new(Mutex::new(Some(started_tx)));
    let go_rx = Arc::new(Mutex::new(Some(go_rx)));
    let loader = {
        let users = users.clone();
        tokio::spawn(async move {
            users
                .get_or_load("k", move || async move {
                    // The loader read the old row, then a write happens.
                    let started = started_tx.lock().unwrap().take().unwrap();
                    started.send(()).unwrap();
                    let go = go_rx.lock().unwrap().take().unwrap();
                    go.await.unwrap();
                    Ok::<_, String>("stale".to_owned())
                })
                .await
        })
    };
    started_rx.await.unwrap();
    users.invalidate("k").await;
    go_tx.send(()).unwrap();
    assert_eq!(loader.await.unwrap().unwrap(), "stale");
    assert_eq!(users.get("k").await, None, "the stale read must not stick");
}

#[tokio::test]
async fn the_in_process_cache_is_ready() {
    let cache = Cache::in_process(CacheConfig::default());
    assert_eq!(cache.redis_status(), RedisStatus::Disabled);
    assert_eq!(cache.check().await, CheckStatus::Ok);
}

#[test]
fn an_invalid_redis_url_is_refused_without_quoting_it() {
    let error = Cache::with_redis(CacheConfig::default(), "redis://:sekrit@[bad").unwrap_err();
    assert!(!error.to_string().contains("sekrit"));
}

/// A port nothing listens on: bind one, note it, close it.
fn dead_redis_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("redis://127.0.0.1:{port}")
}

async fn wait_for(cache: &Cache, status: RedisStatus) {
    for _ in 0..100 {
        if cache.redis_status() == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "redis status stayed {:?}, wanted {status:?}",
        cache.redis_status()
    );
}

#[tokio::test]
async fn unreachable_redis_degrades_without_changing_answers() {
    let config = CacheConfig {
        degraded_ttl: Duration::from_millis(100),
        ..CacheConfig::default()
    };
    let cache = Cache::with_redis(config, &dead_redis_url()).unwrap();
    wait_for(&cache, RedisStatus::Down).await;
    assert_eq!(
        cache.check().await,
        CheckStatus::Degraded("redis unreachable".into())
    );
    let users = ns(&cache, Duration::from_secs(60));
    let loads = AtomicUsize::new(0);
    let load = || async {
        loads.fetch_add(1, Ordering::SeqCst);
        Ok::<_, String>("v".to_owned())
    };
    assert_eq!(users.get_or_load("k", load).await.unwrap(), "v");
    assert_eq!(users.get_or_load("k", load).await.unwrap(), "v");
    assert_eq!(loads.load(Ordering::SeqCst), 1, "moka still serves");
    users.invalidate("k").await;
    assert_eq!(users.get("k").await, None);
    // While degraded, local entries are trusted only briefly: another
    // instance's invalidations cannot reach us.
    users.insert("k", &"v".to_owned()).await;
    // Time passing is what is tested: the 100 ms degraded TTL runs out.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(users.get("k").await, None);
}
