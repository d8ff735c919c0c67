//! The tiered cache against real Redis servers: the shared one at
//! `TEST_REDIS_URL` (two instances see each other's writes and
//! invalidations) and a private `redis-server` this test starts and kills
//! (degradation and recovery). Without `TEST_REDIS_URL` these tests return
//! at once; with it set, an unreachable Redis fails them.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tradesense_core::cache::{Cache, CacheConfig, Namespace, RedisStatus};
use tradesense_core::health::{CheckStatus, ReadinessCheck};

/// The shared Redis, if this run has one.
fn shared_redis() -> Option<String> {
    std::env::var("TEST_REDIS_URL").ok()
}

/// A config with a key prefix of its own, so parallel tests sharing one
/// Redis never see each other's keys.
fn config() -> CacheConfig {
    CacheConfig {
        key_prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
        ..CacheConfig::default()
    }
}

async fn wait_for(cache: &Cache, status: RedisStatus) {
    for _ in 0..250 {
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

/// Two caches on one Redis and one key prefix: two server instances.
async fn pair(url: &str) -> (Cache, Cache) {
    let config = config();
    let a = Cache::with_redis(config.clone(), url).unwrap();
    let b = Cache::with_redis(config, url).unwrap();
    wait_for(&a, RedisStatus::Up).await;
    wait_for(&b, RedisStatus::Up).await;
    (a, b)
}

/// Polls `get` briefly: a broadcast travels through Redis asynchronously.
async fn eventually(ns: &Namespace<String>, key: &str, want: Option<&str>) {
    for _ in 0..50 {
        if ns.get(key).await.as_deref() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ns.get(key).await.as_deref(), want);
}

fn counting_load(
    loads: &AtomicUsize,
    value: &'static str,
) -> impl std::future::Future<Output = Result<String, String>> {
    loads.fetch_add(1, Ordering::SeqCst);
    async move { Ok(value.to_owned()) }
}

#[tokio::test]
async fn two_instances_share_values_and_invalidations() {
    let Some(url) = shared_redis() else { return };
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
async fn hundred_concurrent_misses_load_once_with_redis_behind() {
    let Some(url) = shared_redis() else { return };
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
async fn a_shared_redis_cache_is_ready() {
    let Some(url) = shared_redis() else { return };
    let (a, _b) = pair(&url).await;
    assert_eq!(a.check().await, CheckStatus::Ok);
}

/// A `redis-server` of this test's own, on a free port, without persistence.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start_on(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (needed when TEST_REDIS_URL is set)");
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self {
                    port,
                    child: Some(child),
                };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("private redis-server did not start on port {port}");
    }

    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        Self::start_on(port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn redis_dying_mid_run_changes_no_answer_and_recovers() {
    // Gated like the others: a run with TEST_REDIS_URL has redis-server.
    if shared_redis().is_none() {
        return;
    }
    let mut redis = PrivateRedis::start();
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
    wait_for(&a, RedisStatus::Down).await;
    wait_for(&b, RedisStatus::Down).await;
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
    let _redis = PrivateRedis::start_on(redis.port);
    wait_for(&a, RedisStatus::Up).await;
    wait_for(&b, RedisStatus::Up).await;
    assert_eq!(a.check().await, CheckStatus::Ok);
    assert_eq!(on_b.get("s").await, None, "flushed on reconnect");
    on_a.insert("s", &"again".to_owned()).await;
    eventually(&on_b, "s", Some("again")).await;
    on_a.invalidate("s").await;
    eventually(&on_b, "s", None).await;
}
