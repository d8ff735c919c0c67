//! [`SharedRedis`]: the one Redis handle of a process, shared by the cache's
//! shared tier, the rate limits and the login throttle, with one view of
//! whether Redis is up.
//!
//! One connection manager (multiplexed, reconnecting, created lazily: a
//! service builds its layers synchronously and must start while Redis is
//! away), short deadlines on every round trip (Redis must never be what
//! makes a request slow), and after a failure a short backoff during which
//! request paths do not try Redis at all. Whoever sees a failure marks it;
//! everyone else stops trying, and the cache's supervisor (which owns the
//! invalidation subscription) hears of it and resubscribes.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The default bound on one Redis round trip on a request path.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(250);
/// After a failure, request paths skip Redis for this long.
const DOWN_BACKOFF: Duration = Duration::from_secs(2);

/// A lazily connected, shareable Redis handle. Cheap to clone: clones share
/// the connection and the up/down state.
///
/// ```
/// use tradesense_core::shared_redis::SharedRedis;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // Nothing connects yet; a bad URL is refused here, an unreachable
/// // server only on first use.
/// let redis = SharedRedis::open("redis://127.0.0.1:6379").unwrap();
/// assert!(!redis.is_marked_down());
/// assert!(SharedRedis::open("redis://:secret@[bad").is_err());
/// # });
/// ```
#[derive(Clone)]
pub struct SharedRedis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    manager: ConnectionManager,
    deadline: Duration,
    down_until: Mutex<Option<Instant>>,
    /// Wakes whoever wants to hear of failures (the cache's supervisor).
    failed: Notify,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("SharedRedis")
            .field("marked_down", &self.is_marked_down())
            .finish_non_exhaustive()
    }
}

/// A Redis URL the client cannot use. Never quotes the URL (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
#[error("not a usable redis URL")]
pub struct InvalidRedisUrl;

impl SharedRedis {
    /// A handle for `url` (`redis://...`) with the default deadline;
    /// nothing connects until first use.
    pub fn open(url: &str) -> Result<Self, InvalidRedisUrl> {
        Self::with_deadline(url, DEFAULT_DEADLINE)
    }

    /// As [`open`](Self::open), each round trip bounded by `deadline`.
    pub fn with_deadline(url: &str, deadline: Duration) -> Result<Self, InvalidRedisUrl> {
        let client = redis::Client::open(url).map_err(|_| InvalidRedisUrl)?;
        // Few, quick retries: while Redis is away, the backoff (and the
        // cache's supervisor) own the retrying, so a request never waits out
        // a long reconnect.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200))
            .set_connection_timeout(Some(deadline))
            .set_response_timeout(Some(deadline));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|_| InvalidRedisUrl)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                manager,
                deadline,
                down_until: Mutex::new(None),
                failed: Notify::new(),
            }),
        })
    }

    /// The bound on one round trip.
    pub fn deadline(&self) -> Duration {
        self.inner.deadline
    }

    /// The shared connection, or `None` while Redis is (recently found)
    /// down.
    pub fn connection(&self) -> Option<ConnectionManager> {
        (!self.is_marked_down()).then(|| self.inner.manager.clone())
    }

    /// The shared connection even while marked down: for probes that decide
    /// whether it is back.
    pub(crate) fn probe_connection(&self) -> ConnectionManager {
        self.inner.manager.clone()
    }

    /// The client, for connections of their own (pub/sub).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// Whether a failure was seen within the backoff period.
    pub fn is_marked_down(&self) -> bool {
        self.lock_down().is_some_and(|until| until > Instant::now())
    }

    /// Records a failure: request paths skip Redis for a moment, and the
    /// cache's supervisor hears of it. Logged once per backoff period.
    pub fn mark_down(&self, why: &dyn std::fmt::Display) {
        let mut down = self.lock_down();
        if down.is_none_or(|until| until <= Instant::now()) {
            // The redis error names host and port at most, never the password.
            tracing::warn!(error = %why, "redis unavailable; in-process fallbacks until it is back");
        }
        *down = Some(Instant::now() + DOWN_BACKOFF);
        drop(down);
        self.inner.failed.notify_waiters();
    }

    /// Records that Redis answered again (the cache's supervisor, after a
    /// successful probe).
    pub(crate) fn mark_up(&self) {
        *self.lock_down() = None;
    }

    /// Completes at the next [`mark_down`](Self::mark_down).
    pub(crate) async fn failure(&self) {
        self.inner.failed.notified().await;
    }

    fn lock_down(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.inner
            .down_until
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Runs `script` within the deadline; any failure marks Redis down.
    /// `None` when Redis is down or failed.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let mut connection = self.connection()?;
        match tokio::time::timeout(self.deadline(), invocation.invoke_async(&mut connection)).await
        {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) => {
                self.mark_down(&err);
                None
            }
            Err(_) => {
                self.mark_down(&"script timed out");
                None
            }
        }
    }

    /// Runs one command within the deadline; any failure marks Redis down.
    /// `None` when Redis is down or failed.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
        let mut connection = self.connection()?;
        match tokio::time::timeout(self.deadline(), cmd.query_async(&mut connection)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) => {
                self.mark_down(&err);
                None
            }
            Err(_) => {
                self.mark_down(&"command timed out");
                None
            }
        }
    }
}
