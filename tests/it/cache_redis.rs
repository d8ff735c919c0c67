//! The tiered cache against real Redis servers: the shared one at
//! `TEST_REDIS_URL` (two instances see each other's writes and
//! invalidations) and a private `redis-server` this test starts and kills
//! (degradation and recovery). Ignored without a Redis; run on purpose
//! (`.ci/run`), a missing or unreachable Redis fails them.

use crate::common::wait_until;
use crate::redis_support::{PrivateRedis, shared_redis, wait_for_status};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tradesense_core::cache::{Cache, CacheConfig, Namespace, RedisStatus};
use tradesense_core::health::{CheckStatus, ReadinessCheck};

/// A config with a key prefix of its own, so parallel tests sharing one
/// Redis never see each other's keys.
fn config() -> CacheConfig {
    CacheConfig {
        key_prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
        ..CacheConfig::default()
    }
}

/// Two caches on one Redis and one key prefix: two server instances.
async fn pair(url: &str) -> (Cache, Cache) {
    let config = config();
    let a = Cache::with_redis(config.clone(), url).unwrap();
    let b = Cache::with_redis(config, url).unwrap();
    wait_for_status(&a, RedisStatus::Up).await;
    wait_for_status(&b, RedisStatus::Up).await;
    (a, b)
}

/// Waits for `get` to answer `want`: a broadcast travels through Redis
/// asynchronously.
async fn eventually(ns: &Namespace<String>, key: &str, want: Option<&str>) {
    let seen = wait_until(Duration::from_secs(5), async || {
        ns.get(key).await.as_deref() == want
    })
    .await;
    if !seen {
        assert_eq!(ns.get(key).await.as_deref(), want);
    }
}

fn counting_load(
    loads: &AtomicUsize,
    value: &'static str,
) -> impl std::future::Future<Output = Result<String, String>> {
    loads.fetch_add(1, Ordering::SeqCst);
    async move { Ok(value.to_owned()) }
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn two_instances_share_values_and_invalidations() {
    let (url, _) = shared_redis().await;
    let (a, b) = pair(&url).await;
    let on_a = a.namespace::<String>("user", Duration::from_secs(60));
    let on_b = b.namespace::<String>("user", Duration::from_secs(60));
    let loads = AtomicUsize::new(0);

    let value = on_a.get_or_load("1", || counting_load(&loads, "v1")).await;
    assert_eq!(value.unwrap(), "v1");
    // B finds A's value in Redis: no second load.
    let value = on_b
        .get_or_load("1", || counting_load(&loads, "other"))
        .await;
    assert_eq!(value.unwrap(), "v1");
    assert_eq!(loads.load(Ordering::SeqCst), 1);

    // B holds a local copy now; A's overwrite must evict it.
    on_a.insert("1", &"v2".to_owned()).await;
    eventually(&on_b, "1", Some("v2")).await;

    // And A's invalidation must remove it everywhere.
    assert_eq!(on_b.get("1").await.as_deref(), Some("v2"));
    on_a.invalidate("1").await;
    eventually(&on_b, "1", None).await;
    assert_eq!(on_a.get("1").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn hundred_concurrent_misses_load_once_with_redis_behind() {
    let (url, _) = shared_redis().await;
    let (a, b) = pair(&url).await;
    let on_a = a.namespace::<String>("page", Duration::from_secs(60));
    let loads = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (ns, loads, barrier) = (on_a.clone(), loads.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                ns.get_or_load("hot", || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    // A slow load is the scenario, not a synchronisation:
                    // callers arriving while it runs must share it. (One
                    // arriving after it gets a hit, which the count also
                    // accepts.)
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
    let on_b = b.namespace::<String>("page", Duration::from_secs(60));
    assert_eq!(
        on_b.get("hot").await.as_deref(),
        Some("v"),
        "read from Redis"
    );
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn a_shared_redis_cache_is_ready() {
    let (url, _) = shared_redis().await;
    let (a, _b) = pair(&url).await;
    assert_eq!(a.check().await, CheckStatus::Ok);
}

#[tokio::test]
#[ignore = "needs Redis: starts redis-server from PATH (.ci/run has it)"]
async fn redis_dying_mid_run_changes_no_answer_and_recovers() {
    let mut redis = PrivateRedis::start().await;
    let (a, b) = pair(&redis.url()).await;
    let on_a = a.namespace::<String>("session", Duration::from_secs(60));
    let on_b = b.namespace::<String>("session", Duration::from_secs(60));
    on_a.insert("s", &"valid".to_owned()).await;
    assert_eq!(on_b.get("s").await.as_deref(), Some("valid"));

    redis.kill();
    // The database (the loader) stays the source of truth.
    let db = "revoked";
    for ns in [&on_a, &on_b] {
        ns.invalidate("s").await;
        let value = ns.get_or_load("s", || async { Ok::<_, String>(db.into()) });
        assert_eq!(value.await.unwrap(), "revoked");
    }
    wait_for_status(&a, RedisStatus::Down).await;
    wait_for_status(&b, RedisStatus::Down).await;
    assert_eq!(
        a.check().await,
        CheckStatus::Degraded("redis unreachable".into())
    );
    assert_eq!(
        on_a.get_or_load("t", || async { Ok::<_, String>("x".into()) })
            .await
            .unwrap(),
        "x"
    );

    // Back on the same port: both reconnect, flush what they cached while
    // blind, and broadcasts flow again.
    let _redis = PrivateRedis::start_on(redis.port).await;
    wait_for_status(&a, RedisStatus::Up).await;
    wait_for_status(&b, RedisStatus::Up).await;
    assert_eq!(a.check().await, CheckStatus::Ok);
    assert_eq!(on_b.get("s").await, None, "flushed on reconnect");
    on_a.insert("s", &"again".to_owned()).await;
    eventually(&on_b, "s", Some("again")).await;
    on_a.invalidate("s").await;
    eventually(&on_b, "s", None).await;
}
