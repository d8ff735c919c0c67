//! The Redis servers of the Redis tests: the shared one at `TEST_REDIS_URL`
//! and private `redis-server`s a test starts and kills.
//!
//! Those tests are `#[ignore]`d (a fresh machine has no Redis) and run by
//! `.ci/run` with `--ignored`. Run on purpose, a test whose Redis is missing
//! fails: an unset `TEST_REDIS_URL`, a shared Redis that does not answer, a
//! `redis-server` that is not on `PATH` or does not come up.

use crate::common::wait_until;
use redis::aio::MultiplexedConnection;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tradesense_core::cache::{Cache, RedisStatus};

/// The variable naming the shared Redis.
const TEST_REDIS_URL: &str = "TEST_REDIS_URL";

/// How long a Redis (or a cache's view of it) may take to come up.
const STARTUP: Duration = Duration::from_secs(5);

/// A connection to the Redis at `url` that has answered `PING`, if one does.
async fn answering(url: &str) -> Option<MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    let connect = client.get_multiplexed_async_connection();
    let mut connection = tokio::time::timeout(STARTUP, connect).await.ok()?.ok()?;
    let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut connection).await;
    pong.ok().map(|_| connection)
}

/// The shared Redis: its URL and a connection that has answered `PING`.
///
/// # Panics
/// When `TEST_REDIS_URL` is unset or its Redis does not answer (the URL is
/// not printed: it may hold a password).
pub async fn shared_redis() -> (String, MultiplexedConnection) {
    let url = std::env::var(TEST_REDIS_URL).unwrap_or_else(|_| {
        panic!("{TEST_REDIS_URL} is unset: this test needs Redis (.ci/run sets it)")
    });
    match answering(&url).await {
        Some(connection) => (url, connection),
        None => panic!("{TEST_REDIS_URL} is set but its Redis does not answer PING"),
    }
}

/// Waits until `cache` sees its Redis tier as `status` (it connects and
/// reconnects in the background).
pub async fn wait_for_status(cache: &Cache, status: RedisStatus) {
    let reached = wait_until(STARTUP, async || cache.redis_status() == status).await;
    assert!(
        reached,
        "redis status stayed {:?}, wanted {status:?}",
        cache.redis_status()
    );
}

/// A `redis-server` of the test's own on a free port, without persistence;
/// killed (and reaped) on drop.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one on a free port and waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port).await
    }

    /// Starts one on `port` (again, after [`kill`](Self::kill)) and waits
    /// until it answers.
    pub async fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (the Redis tests start private instances)");
        // Owned at once, so a failed start still kills and reaps it.
        let redis = Self {
            port,
            child: Some(child),
        };
        let url = redis.url();
        let up = wait_until(STARTUP, async || answering(&url).await.is_some()).await;
        assert!(up, "private redis-server did not start on port {port}");
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it now (Redis dying mid-run).
    pub fn kill(&mut self) {
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
