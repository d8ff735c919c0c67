//! The optional shared tier: Redis through a reconnecting
//! [`ConnectionManager`], plus the supervisor task that owns the pub/sub
//! subscription carrying invalidations between instances.
//!
//! State machine: `Connecting` (start) -> `Up` <-> `Down`. Request paths
//! only talk to Redis while `Up`; the first failed command (or the end of the
//! subscription) flips it to `Down`, and from then on requests are served
//! from moka and the loader (the database) without waiting on the network,
//! while the supervisor retries in the background. Every transition is logged
//! once.

use super::Inner;
use super::metrics as m;
use crate::shared_redis::SharedRedis;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Where the Redis tier stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisStatus {
    /// No `REDIS_URL`: the cache is in-process only, by configuration.
    Disabled,
    /// Configured, first connection not made yet.
    Connecting,
    /// Connected and subscribed to invalidations.
    Up,
    /// Unreachable: serving from moka and the loader, retrying.
    Down,
}

const CONNECTING: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// The Redis tier of one [`super::Cache`], over the process's
/// [`SharedRedis`]. Its state is stricter than the handle's: `Up` only while
/// subscribed to invalidations (after the flush that follows every gap), so
/// a failure anyone saw on the handle (the rate limiter, say) takes the
/// cache off Redis too, until the supervisor has resubscribed.
pub(crate) struct RedisTier {
    redis: SharedRedis,
    /// Prepended to every key and to the channel name.
    prefix: String,
    channel: String,
    /// Bound on every Redis round trip made on a request path.
    timeout: Duration,
    state: AtomicU8,
    /// Identifies this instance's own broadcasts, which it skips.
    instance: String,
    /// A write or invalidation did not reach Redis since the last purge.
    missed_write: AtomicBool,
}

/// The broadcast "flush your whole local tier" (after a purge).
const FLUSH_ALL: &str = "*";

impl RedisTier {
    pub(crate) fn new(redis: SharedRedis, prefix: &str, timeout: Duration) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            channel: format!("{prefix}invalidate"),
            timeout,
            state: AtomicU8::new(CONNECTING),
            instance: format!("{:016x}", rand::random::<u64>()),
            missed_write: AtomicBool::new(false),
        }
    }

    pub(crate) fn note_missed_write(&self) {
        self.missed_write.store(true, Ordering::Release);
    }

    /// Deletes every key under the prefix and tells every instance to
    /// flush its local tier: what a reconnect does after this instance
    /// could not take a write or an invalidation to Redis. `SCAN` in
    /// batches, so Redis is never blocked by one big command.
    async fn purge(&self) -> Result<(), String> {
        let mut conn = self.redis.probe_connection();
        let pattern = format!("{}*", escape_glob(&self.prefix));
        let purge = async {
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await?;
                if !keys.is_empty() {
                    redis::cmd("UNLINK")
                        .arg(&keys)
                        .query_async::<()>(&mut conn)
                        .await?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(self.message(FLUSH_ALL))
                .query_async::<()>(&mut conn)
                .await
        };
        match tokio::time::timeout(self.timeout * 40, purge).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("purge timed out".into()),
        }
    }

    pub(crate) fn status(&self) -> RedisStatus {
        match self.state.load(Ordering::Acquire) {
            UP => RedisStatus::Up,
            DOWN => RedisStatus::Down,
            _ => RedisStatus::Connecting,
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.state.load(Ordering::Acquire) == UP
    }

    fn mark_up(&self) {
        self.redis.mark_up();
        let previous = self.state.swap(UP, Ordering::AcqRel);
        if previous != UP {
            m::redis_up(true);
            match previous {
                CONNECTING => tracing::info!("cache: redis tier connected"),
                _ => tracing::info!("cache: redis reachable again; in-process tier flushed"),
            }
        }
    }

    /// Records a failure seen on a cache path: on the shared handle (so
    /// the limits stop trying too) and here; logs only on the transition.
    pub(crate) fn mark_down(&self, error: &dyn std::fmt::Display) {
        self.redis.mark_down(error);
        self.go_down(error);
    }

    /// This tier is off Redis until the supervisor resubscribes.
    fn go_down(&self, error: &dyn std::fmt::Display) {
        let previous = self.state.swap(DOWN, Ordering::AcqRel);
        if previous != DOWN {
            m::redis_up(false);
            tracing::warn!(
                error = %error,
                "cache: redis unreachable; serving from the in-process tier and the database, retrying"
            );
        }
    }

    fn key(&self, full_key: &str) -> String {
        format!("{}{full_key}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        command: impl FnOnce(&mut ConnectionManager) -> redis::RedisFuture<'_, T>,
    ) -> Result<T, ()> {
        let Some(mut conn) = self.redis.connection() else {
            // Someone else saw Redis fail a moment ago.
            self.go_down(&"marked down");
            return Err(());
        };
        match tokio::time::timeout(self.timeout, command(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.mark_down(&error);
                Err(())
            }
            Err(_) => {
                self.mark_down(&"timed out");
                Err(())
            }
        }
    }

    /// `GET`; `Err` means Redis failed (already recorded).
    pub(crate) async fn get(&self, full_key: &str) -> Result<Option<Vec<u8>>, ()> {
        let cmd = redis::cmd("GET").arg(self.key(full_key)).clone();
        self.run(|conn| Box::pin(async move { cmd.query_async(conn).await }))
            .await
    }

    /// `SET .. PX`, and, when `broadcast`, tell the other instances to drop
    /// their local copy.
    pub(crate) async fn set(
        &self,
        full_key: &str,
        bytes: &[u8],
        ttl: Duration,
        broadcast: bool,
    ) -> Result<(), ()> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.key(full_key))
            .arg(bytes)
            .arg("PX")
            .arg(millis)
            .ignore();
        if broadcast {
            pipe.cmd("PUBLISH")
                .arg(&self.channel)
                .arg(self.message(full_key))
                .ignore();
        }
        self.run(|conn| Box::pin(async move { pipe.query_async(conn).await }))
            .await
    }

    /// `DEL` and broadcast, atomically.
    pub(crate) async fn invalidate(&self, full_key: &str) -> Result<(), ()> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(self.key(full_key))
            .ignore()
            .cmd("PUBLISH")
            .arg(&self.channel)
            .arg(self.message(full_key))
            .ignore();
        self.run(|conn| Box::pin(async move { pipe.query_async(conn).await }))
            .await
    }

    /// One `PING` (readiness).
    pub(crate) async fn ping(&self) -> Result<(), ()> {
        let cmd = redis::cmd("PING");
        self.run(|conn| Box::pin(async move { cmd.query_async::<()>(conn).await }))
            .await
    }

    fn message(&self, full_key: &str) -> String {
        format!("{} {full_key}", self.instance)
    }

    /// The key a broadcast names, unless this instance sent it.
    fn parse_message<'a>(&self, payload: &'a str) -> Option<&'a str> {
        let (instance, key) = payload.split_once(' ')?;
        (instance != self.instance).then_some(key)
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSub, String> {
        let connect = async {
            let mut pubsub = self.redis.client().get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(self.timeout * 4, connect).await {
            Ok(Ok(pubsub)) => Ok(pubsub),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".into()),
        }
    }
}

/// The supervisor: (re)subscribes, flips the state, applies broadcasts.
/// Holds the cache weakly and ends once every `Cache` clone is gone.
pub(crate) async fn supervise(cache: Weak<Inner>, tier: Arc<RedisTier>) {
    const MIN_BACKOFF: Duration = Duration::from_millis(100);
    const MAX_BACKOFF: Duration = Duration::from_secs(2);
    let mut backoff = MIN_BACKOFF;
    loop {
        if cache.strong_count() == 0 {
            return;
        }
        match tier.subscribe().await {
            Ok(pubsub) if tier.ping_quietly().await => {
                // Writes this instance could not take to Redis leave copies
                // there that no invalidation removed: purge them first.
                if tier.missed_write.swap(false, Ordering::AcqRel)
                    && let Err(error) = tier.purge().await
                {
                    tier.note_missed_write();
                    tier.mark_down(&error);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                let Some(inner) = cache.upgrade() else { return };
                // Invalidations broadcast while we were not subscribed are
                // lost, so nothing cached locally before this point can be
                // trusted: flush, then go Up. (Chosen over a revocation
                // epoch in Redis: one flush per outage is cheap, and it
                // keeps the hot path free of any network round trip.)
                inner.flush_local();
                drop(inner);
                tier.mark_up();
                backoff = MIN_BACKOFF;
                listen(&cache, &tier, pubsub).await;
                if cache.strong_count() == 0 {
                    return;
                }
                if tier.is_up() {
                    tier.mark_down(&"subscription lost");
                }
            }
            Ok(_) => tier.mark_down(&"ping failed"),
            Err(error) => {
                m::error("(connection)");
                tier.mark_down(&error);
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

impl RedisTier {
    /// `PING` without flipping the state (the supervisor decides).
    async fn ping_quietly(&self) -> bool {
        let mut conn = self.redis.probe_connection();
        let ping = async move { redis::cmd("PING").query_async::<()>(&mut conn).await };
        matches!(tokio::time::timeout(self.timeout, ping).await, Ok(Ok(())))
    }
}

/// Applies broadcasts until the subscription ends or a request path saw
/// Redis fail.
async fn listen(cache: &Weak<Inner>, tier: &RedisTier, pubsub: redis::aio::PubSub) {
    let mut messages = pubsub.into_on_message();
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return };
                let Some(inner) = cache.upgrade() else { return };
                if let Ok(payload) = std::str::from_utf8(message.get_payload_bytes())
                    && let Some(full_key) = tier.parse_message(payload)
                {
                    if full_key == FLUSH_ALL {
                        inner.flush_local();
                    } else {
                        inner.evict_local(full_key).await;
                    }
                }
            }
            // A failure anyone saw on the shared handle: resubscribe (the
            // gap may have cost broadcasts).
            () = tier.redis.failure() => {
                tier.go_down(&"redis failure seen on the shared handle");
                return;
            }
            // Notice a dropped cache even when no message arrives, and a
            // silent partition: a subscription that hears nothing looks the
            // same as one that cannot hear, so Redis must answer a PING.
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if cache.strong_count() == 0 {
                    return;
                }
                if !tier.ping_quietly().await {
                    tier.mark_down(&"heartbeat PING failed");
                    return;
                }
            }
        }
    }
}

/// `prefix` with the glob metacharacters of `SCAN MATCH` escaped.
fn escape_glob(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(super::escape_glob("tradesense:cache:"), "tradesense:cache:");
        assert_eq!(super::escape_glob("a*b?[c]"), "a\\*b\\?\\[c\\]");
    }
}
