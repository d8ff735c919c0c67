//! The Redis connection the shared limits use: connected lazily (layers
//! are built synchronously), bounded by short timeouts, and marked down for
//! a moment after a failure so an outage costs requests nothing but a
//! fallback to the in-process limits.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How long one Redis round trip may take before the in-process limit
/// answers instead: a limiter must never be what makes a request slow.
pub(super) const REDIS_DEADLINE: Duration = Duration::from_millis(250);
/// After a failure, Redis is not tried again for this long.
const DOWN_BACKOFF: Duration = Duration::from_secs(2);

/// A lazily connected, shareable Redis handle (cheap to clone).
#[derive(Clone)]
pub struct SharedRedis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    down_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("SharedRedis").finish_non_exhaustive()
    }
}

impl SharedRedis {
    /// A handle for `url` (`redis://...`); nothing connects until first use.
    pub fn open(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            inner: Arc::new(Inner {
                client: redis::Client::open(url)?,
                manager: OnceCell::new(),
                down_until: Mutex::new(None),
            }),
        })
    }

    /// A connection, or `None` while Redis is (recently found) down.
    pub(super) async fn connection(&self) -> Option<ConnectionManager> {
        if self.is_marked_down() {
            return None;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_DEADLINE))
            .set_response_timeout(Some(REDIS_DEADLINE))
            .set_number_of_retries(1);
        let connected = tokio::time::timeout(
            REDIS_DEADLINE * 2,
            self.inner.manager.get_or_try_init(|| {
                ConnectionManager::new_with_config(self.inner.client.clone(), config)
            }),
        )
        .await;
        match connected {
            Ok(Ok(manager)) => Some(manager.clone()),
            Ok(Err(err)) => {
                self.mark_down(&err);
                None
            }
            Err(_) => {
                self.mark_down(&"connect timed out");
                None
            }
        }
    }

    /// Records a failure: skip Redis for [`DOWN_BACKOFF`].
    pub(super) fn mark_down(&self, why: &dyn std::fmt::Display) {
        let mut down = self
            .inner
            .down_until
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if down.is_none_or(|until| until <= Instant::now()) {
            // Logged once per backoff period, not per request.
            tracing::warn!(error = %why, "redis unavailable for rate limits; using in-process limits");
        }
        *down = Some(Instant::now() + DOWN_BACKOFF);
    }

    fn is_marked_down(&self) -> bool {
        self.inner
            .down_until
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .is_some_and(|until| until > Instant::now())
    }

    /// Runs `script` with a deadline; any failure marks Redis down.
    pub(super) async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let mut connection = self.connection().await?;
        match tokio::time::timeout(REDIS_DEADLINE, invocation.invoke_async(&mut connection)).await {
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

    /// Runs one command with a deadline; any failure marks Redis down.
    pub(super) async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
        let mut connection = self.connection().await?;
        match tokio::time::timeout(REDIS_DEADLINE, cmd.query_async(&mut connection)).await {
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
