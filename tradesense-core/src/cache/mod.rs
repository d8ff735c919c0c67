//! The tiered cache: moka in-process (always on), with Redis as an optional
//! shared tier behind it.
//!
//! Values are serde-serialised and keys namespaced per use
//! ([`Cache::namespace`]), so one cache serves sessions, user records, trade
//! pages and positions without key collisions. Concurrent misses for one key
//! run the loader once ([`Namespace::get_or_load`]), also when Redis is the
//! second tier: the Redis read and the loader both run inside moka's
//! single-flight section.
//!
//! With Redis ([`Cache::with_shared_redis`] on the process's one
//! [`SharedRedis`] handle, or [`Cache::with_redis`]) reads go moka -> Redis -> loader; writes and invalidations go to
//! both tiers, and every invalidation (and every overwrite) is broadcast on a
//! pub/sub channel so that every instance evicts its moka copy at once.
//!
//! Redis is never required: when it is unreachable (at start or mid-run) the
//! cache keeps answering from moka and the loader, the background supervisor
//! retries, readiness reports `degraded: redis unreachable`, and errors are
//! counted (see the `metrics` submodule docs for the counter names). Three
//! guards keep a stale entry from outliving a missed broadcast (a logout on
//! another instance must not be forgotten, an acknowledged write must be
//! listed everywhere):
//! - while Redis is not `Up` (not subscribed: this instance cannot hear
//!   invalidations), a local entry is trusted for at most
//!   [`CacheConfig::degraded_ttl`], by default **zero**: sessions and
//!   per-user reads go to the loader (the database) until the subscription
//!   is back. The supervisor also `PING`s every second while subscribed,
//!   so a silent partition is noticed within about a second;
//! - when the subscription is (re)established, the whole local tier is
//!   flushed, since broadcasts sent meanwhile are lost;
//! - an instance that could not take a write or an invalidation to Redis
//!   (it was down for it) purges the shared tier's keys (its prefix) when
//!   it reconnects, before it goes `Up`, and tells every instance to flush
//!   its local tier: a Redis that survived the outage would otherwise
//!   serve the copy that invalidation was meant to remove.
//!
//! Building blocks on top: [`Cache::scoped`] ([`Scoped`]) for groups of
//! keys invalidated as a whole (all trade pages of a user). This module
//! knows no feature: the store decorators that read through it and
//! invalidate on every write live in their slices (`users::CachedUsers`,
//! `mfa::CachedMfaStore`, `trading::InvalidatingTradingStore`),
//! and session liveness (`auth::Sessions`) uses a plain namespace.
//!
//! ```
//! use std::time::Duration;
//! use tradesense_core::cache::{Cache, CacheConfig};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = Cache::in_process(CacheConfig::default());
//! let users = cache.namespace::<String>("user", Duration::from_secs(60));
//! let name = users
//!     .get_or_load("42", || async { Ok::<_, std::io::Error>("ada".to_owned()) })
//!     .await
//!     .unwrap();
//! assert_eq!(name, "ada");
//! assert_eq!(users.get("42").await.as_deref(), Some("ada"));
//! users.invalidate("42").await;
//! assert_eq!(users.get("42").await, None);
//! # });
//! ```

mod local;
mod metrics;
mod namespace;
mod redis;
mod response;
mod scoped;

pub use self::namespace::Namespace;
pub use self::redis::RedisStatus;
pub use self::response::{CachedJson, ResponseCache, ResponseCacheLayer};
pub use self::scoped::Scoped;

use self::local::{Entry, Local};
use self::redis::RedisTier;
use crate::health::{CheckStatus, ReadinessCheck};
use crate::shared_redis::SharedRedis;
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Bounds and knobs of the cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// The in-process tier holds at most this many entries (across
    /// namespaces).
    pub max_entries: u64,
    /// ... and at most about this many bytes: keys, serialised values and
    /// the decoded copy an entry keeps (counted as the serialised size
    /// again).
    pub max_bytes: u64,
    /// Prepended to every Redis key and to the invalidation channel, so
    /// several deployments (or test runs) can share one Redis.
    pub key_prefix: String,
    /// Bound on each Redis round trip on a request path; past it, Redis
    /// counts as down.
    pub redis_timeout: Duration,
    /// While Redis is configured but not subscribed, local entries are
    /// trusted for at most this long (broadcasts may be missed meanwhile).
    /// Default zero: not at all, every read goes to the loader. Only a
    /// cache holding nothing that another instance may invalidate (no
    /// sessions, no per-user data) should raise it.
    pub degraded_ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            // Enough for thousands of trade pages and every live session and
            // user of a small deployment; the whole server aims at staying
            // under 64 MiB resident (benches/README.md).
            max_bytes: 32 * 1024 * 1024,
            key_prefix: "tradesense:cache:".to_owned(),
            redis_timeout: Duration::from_millis(250),
            degraded_ttl: Duration::ZERO,
        }
    }
}

/// Why a cache could not be built. Never quotes the URL (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// `REDIS_URL` is not a usable Redis URL.
    #[error("REDIS_URL is not a valid redis URL")]
    InvalidRedisUrl,
}

/// Independent epochs, so an invalidation only disturbs in-flight loads of
/// keys in the same stripe.
const EPOCH_STRIPES: usize = 64;

/// What every clone of a [`Cache`] shares.
pub(crate) struct Inner {
    local: Local,
    redis: Option<Arc<RedisTier>>,
    config: CacheConfig,
    /// Bumped on every invalidation of a key in the stripe. A load that
    /// sees its stripe's epoch change while it ran may have read data older
    /// than the invalidation, so its result is returned but not kept.
    epochs: Box<[AtomicU64]>,
    /// Whether the Redis supervisor task runs (it is started lazily when the
    /// cache is built outside a Tokio runtime).
    started: AtomicBool,
}

impl Inner {
    fn stripe(&self, full_key: &str) -> &AtomicU64 {
        // FNV-1a: cheap and good enough to spread keys over the stripes.
        let hash = full_key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.epochs[(hash % EPOCH_STRIPES as u64) as usize]
    }

    fn epoch(&self, full_key: &str) -> u64 {
        self.stripe(full_key).load(Ordering::Acquire)
    }

    fn bump(&self, full_key: &str) {
        self.stripe(full_key).fetch_add(1, Ordering::AcqRel);
    }

    /// Drops every local entry (and disowns in-flight loads).
    pub(crate) fn flush_local(&self) {
        for epoch in &self.epochs {
            epoch.fetch_add(1, Ordering::AcqRel);
        }
        self.local.invalidate_all();
    }

    /// Drops one local entry (a broadcast from another instance).
    pub(crate) async fn evict_local(&self, full_key: &str) {
        self.bump(full_key);
        self.local.invalidate(full_key).await;
    }

    /// The Redis tier, when configured and connected.
    fn redis_up(&self) -> Option<&RedisTier> {
        self.redis.as_deref().filter(|tier| tier.is_up())
    }

    /// Whether Redis is configured but not connected right now.
    fn degraded(&self) -> bool {
        self.redis.as_deref().is_some_and(|tier| !tier.is_up())
    }

    /// Whether a local entry may be served.
    fn trusts(&self, entry: &Entry) -> bool {
        let ttl = self.config.degraded_ttl;
        !self.degraded() || (!ttl.is_zero() && entry.stored_at.elapsed() <= ttl)
    }

    /// A write or invalidation that should have reached Redis did not:
    /// the shared tier may hold a copy it was meant to replace.
    pub(crate) fn missed_redis_write(&self) {
        if let Some(tier) = &self.redis {
            tier.note_missed_write();
        }
    }

    /// The local TTL for a new entry of a namespace with `ttl`.
    fn local_ttl(&self, ttl: Duration) -> Duration {
        if self.degraded() {
            ttl.min(self.config.degraded_ttl)
        } else {
            ttl
        }
    }
}

/// The cache. Cheap to clone; clones share the tiers.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.inner.local.entry_count())
            .field("redis", &self.redis_status())
            .finish()
    }
}

impl Cache {
    fn build(config: CacheConfig, redis: Option<RedisTier>) -> Self {
        let local = local::build(config.max_entries, config.max_bytes);
        let epochs = (0..EPOCH_STRIPES).map(|_| AtomicU64::new(0)).collect();
        let cache = Self {
            inner: Arc::new(Inner {
                local,
                redis: redis.map(Arc::new),
                config,
                epochs,
                started: AtomicBool::new(false),
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            cache.ensure_started();
        }
        cache
    }

    /// An in-process-only cache.
    pub fn in_process(config: CacheConfig) -> Self {
        Self::build(config, None)
    }

    /// A moka + Redis cache on a Redis handle of its own. Does not wait for
    /// Redis: it connects in the background (and the cache works without it
    /// meanwhile), so a Redis outage at start never blocks or fails the
    /// service.
    pub fn with_redis(config: CacheConfig, url: &str) -> Result<Self, CacheError> {
        let redis = SharedRedis::with_deadline(url, config.redis_timeout)
            .map_err(|_| CacheError::InvalidRedisUrl)?;
        Ok(Self::with_shared_redis(config, redis))
    }

    /// A moka + Redis cache on `redis`, the handle the process shares with
    /// its rate limits and login throttle (one connection, one view of up
    /// and down).
    pub fn with_shared_redis(config: CacheConfig, redis: SharedRedis) -> Self {
        let tier = RedisTier::new(redis, &config.key_prefix, config.redis_timeout);
        Self::build(config, Some(tier))
    }

    /// Starts the Redis supervisor if it is not running yet.
    fn ensure_started(&self) {
        if let Some(tier) = &self.inner.redis
            && !self.inner.started.load(Ordering::Relaxed)
            && !self.inner.started.swap(true, Ordering::AcqRel)
        {
            tokio::spawn(redis::supervise(Arc::downgrade(&self.inner), tier.clone()));
        }
    }

    /// Where the Redis tier stands.
    pub fn redis_status(&self) -> RedisStatus {
        self.inner
            .redis
            .as_ref()
            .map_or(RedisStatus::Disabled, |tier| tier.status())
    }

    /// Drops every entry of this instance's in-process tier (Redis keeps its
    /// copies).
    pub fn clear_local(&self) {
        self.inner.flush_local();
    }

    /// A typed view of one namespace (`"session"`, `"user"`, ...), whose
    /// entries live at most `ttl`.
    pub fn namespace<V>(&self, name: &'static str, ttl: Duration) -> Namespace<V>
    where
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        Namespace::new(self.clone(), name, ttl)
    }

    /// Values grouped in scopes that are invalidated as a whole (all trade
    /// pages of a user). Every [`Scoped`] built with the same `group` shares
    /// the scopes' generations: invalidating scope `s` through one drops
    /// `s` in all of them. Values live at most `ttl`.
    pub fn scoped<V>(&self, group: &'static str, name: &'static str, ttl: Duration) -> Scoped<V>
    where
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        Scoped::new(self.namespace(group, ttl), self.namespace(name, ttl))
    }
}

/// `ok` in-process only or connected; `degraded` (never failed: the
/// database is the source of truth) while Redis is unreachable.
#[async_trait]
impl ReadinessCheck for Cache {
    async fn check(&self) -> CheckStatus {
        self.ensure_started();
        let Some(tier) = &self.inner.redis else {
            return CheckStatus::Ok;
        };
        match tier.status() {
            // A real round trip: a silent partition shows here first.
            RedisStatus::Up => match tier.ping().await {
                Ok(()) => CheckStatus::Ok,
                Err(()) => CheckStatus::Degraded("redis unreachable".into()),
            },
            RedisStatus::Connecting => CheckStatus::Degraded("redis connecting".into()),
            RedisStatus::Down | RedisStatus::Disabled => {
                CheckStatus::Degraded("redis unreachable".into())
            }
        }
    }
}

#[cfg(test)]
mod tests;
