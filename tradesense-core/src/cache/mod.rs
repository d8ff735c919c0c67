//! The tiered cache: moka in-process (always on), with Redis as an optional
//! shared tier behind it.
//!
//! Values are serde-serialised and keys namespaced per use
//! ([`Cache::namespace`]), so one cache serves sessions, user records, trade
//! pages and positions without key collisions. Concurrent misses for one key
//! run the loader once ([`Namespace::get_or_load`]).

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Bounds of the in-process tier.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// At most this many entries (across namespaces).
    pub max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
        }
    }
}

/// A stored value with its expiry: entries of different namespaces have
/// different TTLs, so expiry is per entry.
#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    ttl: Duration,
}

struct PerEntryExpiry;

impl moka::Expiry<String, Entry> for PerEntryExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        entry: &Entry,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The cache. Cheap to clone; clones share the tiers.
#[derive(Clone)]
pub struct Cache {
    local: moka::future::Cache<String, Entry>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.local.entry_count())
            .finish()
    }
}

impl Cache {
    /// An in-process-only cache.
    pub fn in_process(config: CacheConfig) -> Self {
        let local = moka::future::Cache::builder()
            .max_capacity(config.max_entries)
            .expire_after(PerEntryExpiry)
            .build();
        Self { local }
    }

    /// A typed view of one namespace (`"session"`, `"user"`, ...), whose
    /// entries live at most `ttl`.
    pub fn namespace<V>(&self, name: &'static str, ttl: Duration) -> Namespace<V>
    where
        V: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        Namespace {
            cache: self.clone(),
            name,
            ttl,
            _value: PhantomData,
        }
    }
}

/// A typed, namespaced view of a [`Cache`].
pub struct Namespace<V> {
    cache: Cache,
    name: &'static str,
    ttl: Duration,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for Namespace<V> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
            name: self.name,
            ttl: self.ttl,
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
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn full_key(&self, key: &str) -> String {
        format!("{}:{}", self.name, key)
    }

    fn encode(&self, value: &V) -> Option<Entry> {
        serde_json::to_vec(value).ok().map(|bytes| Entry {
            bytes: bytes.into(),
            ttl: self.ttl,
        })
    }

    fn decode(entry: &Entry) -> Option<V> {
        serde_json::from_slice(&entry.bytes).ok()
    }

    /// The cached value, if any.
    pub async fn get(&self, key: &str) -> Option<V> {
        let entry = self.cache.local.get(&self.full_key(key)).await?;
        Self::decode(&entry)
    }

    /// The cached value, or the loader's, stored on success. Concurrent
    /// callers for one missing key share a single run of `load` (and, on
    /// failure, its error).
    pub async fn get_or_load<F, Fut, E>(&self, key: &str, load: F) -> Result<V, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
        E: Send + Sync + 'static,
    {
        let full_key = self.full_key(key);
        let ttl = self.ttl;
        let entry = self
            .cache
            .local
            .try_get_with(full_key, async move {
                let value = load().await?;
                let bytes = serde_json::to_vec(&value).unwrap_or_default();
                Ok::<_, E>(Entry {
                    bytes: bytes.into(),
                    ttl,
                })
            })
            .await;
        let entry = entry?;
        Ok(Self::decode(&entry).expect("a value serialised by this namespace deserialises"))
    }

    /// Stores `value` under `key`.
    pub async fn insert(&self, key: &str, value: &V) {
        if let Some(entry) = self.encode(value) {
            self.cache.local.insert(self.full_key(key), entry).await;
        }
    }

    /// Removes `key` (on every instance, once the Redis tier is on).
    pub async fn invalidate(&self, key: &str) {
        self.cache.local.invalidate(&self.full_key(key)).await;
    }
}
