//! [`Namespace`]: the typed face of the cache, and the read-through logic
//! (moka -> Redis -> loader) with its write and invalidation paths.

use super::Cache;
use super::local::Entry;
use super::metrics::Counters;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A typed, namespaced view of a [`Cache`]. Cheap to clone.
pub struct Namespace<V> {
    cache: Cache,
    name: &'static str,
    ttl: Duration,
    counters: Arc<OnceLock<Counters>>,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for Namespace<V> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
            name: self.name,
            ttl: self.ttl,
            counters: self.counters.clone(),
            _value: PhantomData,
        }
    }
}

impl<V> std::fmt::Debug for Namespace<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl<V> Namespace<V>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    pub(super) fn new(cache: Cache, name: &'static str, ttl: Duration) -> Self {
        Self {
            cache,
            name,
            ttl,
            counters: Arc::new(OnceLock::new()),
            _value: PhantomData,
        }
    }

    fn counters(&self) -> &Counters {
        self.counters.get_or_init(|| Counters::new(self.name))
    }

    /// The cache this namespace lives in.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The namespace's name (its metrics label).
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}:{}", self.name, key)
    }

    /// The value as JSON, or `None` (logged) for a type that cannot be
    /// JSON at all (a map with non-string keys): a programming error, which
    /// costs the value its caching rather than the request its answer.
    fn encode(&self, value: &V) -> Option<Vec<u8>> {
        serde_json::to_vec(value)
            .map_err(|error| {
                tracing::error!(namespace = self.name, %error, "cache: value does not serialise; not cached");
            })
            .ok()
    }

    fn decode(bytes: &[u8]) -> Option<V> {
        serde_json::from_slice(bytes).ok()
    }

    /// The local entry, if present and trustworthy.
    async fn local_get(&self, full_key: &str) -> Option<V> {
        let inner = &self.cache.inner;
        let entry = inner.local.get(full_key).await?;
        if inner.trusts(&entry)
            && let Some(value) = entry.value::<V>()
        {
            return Some(value);
        }
        // Too old to trust while degraded, or written by another type under
        // the same namespace name: drop it and read through.
        inner.local.invalidate(full_key).await;
        None
    }

    /// The Redis copy, if Redis is up and has a decodable one, as a local
    /// entry holding its value (decoded once, here) with the TTL `ttl`
    /// gives.
    async fn redis_get(&self, full_key: &str, ttl: impl FnOnce() -> Duration) -> Option<Entry> {
        let tier = self.cache.inner.redis_up()?;
        let bytes = match tier.get(full_key).await {
            Ok(bytes) => bytes,
            Err(()) => {
                self.counters().redis_error.increment(1);
                return None;
            }
        };
        match bytes.and_then(|bytes| Some((Self::decode(&bytes)?, bytes))) {
            Some((value, bytes)) => {
                self.counters().redis_hit.increment(1);
                Some(Entry::with_value(bytes, value, ttl()))
            }
            None => {
                // Absent, or written by an older release in another shape.
                self.counters().redis_miss.increment(1);
                None
            }
        }
    }

    /// The TTL for a local entry of a read that started at `epoch`: zero
    /// (returned to the callers, not kept) if the key was invalidated
    /// meanwhile, since the read may predate the invalidation.
    fn ttl_since(&self, full_key: &str, epoch: u64) -> Duration {
        let inner = &self.cache.inner;
        if inner.epoch(full_key) == epoch {
            inner.local_ttl(self.ttl)
        } else {
            Duration::ZERO
        }
    }

    /// The cached value, if any (moka, then Redis; a Redis hit is copied
    /// into moka).
    pub async fn get(&self, key: &str) -> Option<V> {
        self.cache.ensure_started();
        let full_key = self.full_key(key);
        if let Some(value) = self.local_get(&full_key).await {
            self.counters().local_hit.increment(1);
            return Some(value);
        }
        self.counters().local_miss.increment(1);
        let epoch = self.cache.inner.epoch(&full_key);
        let entry = self
            .redis_get(&full_key, || self.ttl_since(&full_key, epoch))
            .await?;
        let value = entry.value::<V>()?;
        if !entry.ttl.is_zero() {
            self.cache.inner.local.insert(full_key, entry).await;
        }
        Some(value)
    }

    /// The cached value, or the loader's, stored in both tiers on success.
    /// Concurrent callers for one missing key share a single Redis read and
    /// a single run of `load` (and, on failure, its error, which is not
    /// cached). `load` is `Clone` so that a caller whose shared entry turns
    /// out unreadable (another type under this name, a value that could not
    /// be encoded) can load for itself instead of failing.
    pub async fn get_or_load<F, Fut, E>(&self, key: &str, load: F) -> Result<V, Arc<E>>
    where
        F: FnOnce() -> Fut + Clone,
        Fut: std::future::Future<Output = Result<V, E>>,
        E: Send + Sync + 'static,
    {
        self.cache.ensure_started();
        let full_key = self.full_key(key);
        if let Some(value) = self.local_get(&full_key).await {
            self.counters().local_hit.increment(1);
            return Ok(value);
        }
        self.counters().local_miss.increment(1);
        let inner = &self.cache.inner;
        let epoch = inner.epoch(&full_key);
        let fallback = load.clone();
        let init = async {
            if let Some(entry) = self
                .redis_get(&full_key, || self.ttl_since(&full_key, epoch))
                .await
            {
                return Ok(entry);
            }
            let value = load().await?;
            let entry = match self.encode(&value) {
                Some(bytes) => {
                    let ttl = self.ttl_since(&full_key, epoch);
                    // Only a read no invalidation overtook may fill Redis.
                    if !ttl.is_zero()
                        && let Some(tier) = inner.redis_up()
                        && tier.set(&full_key, &bytes, self.ttl, false).await.is_err()
                    {
                        self.counters().redis_error.increment(1);
                    }
                    Entry::with_value(bytes, value, ttl)
                }
                // Not cacheable: an entry that expires at once (its value
                // still answers the callers waiting on this load).
                None => Entry::with_value(Vec::new(), value, Duration::ZERO),
            };
            Ok(entry)
        };
        let entry = inner.local.try_get_with(full_key.clone(), init).await?;
        // The loader's own value, or what Redis had, decoded once.
        if let Some(value) = entry.value::<V>() {
            return Ok(value);
        }
        // Bytes this namespace cannot read are no value: drop them and load
        // for this caller, uncached.
        tracing::warn!(namespace = self.name, "cache: unreadable entry dropped");
        inner.local.invalidate(&full_key).await;
        fallback().await.map_err(Arc::new)
    }

    /// Stores `value` under `key` in both tiers; other instances drop their
    /// local copy.
    pub async fn insert(&self, key: &str, value: &V) {
        self.cache.ensure_started();
        let Some(bytes) = self.encode(value) else {
            // Not cacheable: at least no tier may keep the previous value.
            return self.invalidate(key).await;
        };
        let full_key = self.full_key(key);
        let inner = &self.cache.inner;
        match inner.redis_up() {
            Some(tier) => {
                if tier.set(&full_key, &bytes, self.ttl, true).await.is_err() {
                    self.counters().redis_error.increment(1);
                    inner.missed_redis_write();
                }
            }
            None => inner.missed_redis_write(),
        }
        // Disown in-flight loads, which may carry the previous value.
        inner.bump(&full_key);
        let entry = Entry::with_value(bytes, value.clone(), inner.local_ttl(self.ttl));
        inner.local.insert(full_key, entry).await;
    }

    /// Removes `key` from both tiers, on every instance.
    pub async fn invalidate(&self, key: &str) {
        self.cache.ensure_started();
        let full_key = self.full_key(key);
        let inner = &self.cache.inner;
        inner.bump(&full_key);
        // Redis first: a local read racing with us then finds neither copy.
        match inner.redis_up() {
            Some(tier) => {
                if tier.invalidate(&full_key).await.is_err() {
                    self.counters().redis_error.increment(1);
                    inner.missed_redis_write();
                }
            }
            // Redis keeps the old copy: purged when we reconnect.
            None => inner.missed_redis_write(),
        }
        inner.bump(&full_key);
        inner.local.invalidate(&full_key).await;
    }
}
