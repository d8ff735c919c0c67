//! The in-process tier: a moka cache of serialised entries shared by every
//! namespace, bounded both by entry count and by bytes.

use serde::de::DeserializeOwned;
use std::any::Any;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A stored value with its expiry. Entries of different namespaces have
/// different TTLs, so expiry is per entry; `stored_at` lets a degraded cache
/// distrust old entries (see [`super::CacheConfig::degraded_ttl`]).
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) bytes: Arc<[u8]>,
    /// The value the bytes encode, decoded at most once per entry (never,
    /// when the entry was stored from the value itself), so a hit clones a
    /// value instead of parsing JSON: on `GET /api/v1/users/me` the user's
    /// record was decoded on every request. Shared by the clones moka hands
    /// out. Weighed as the size of the bytes again (see `build`).
    decoded: Arc<OnceLock<Box<dyn Any + Send + Sync>>>,
    pub(crate) ttl: Duration,
    pub(crate) stored_at: Instant,
}

/// What an entry holds when its bytes do not decode as the first type that
/// asked.
struct Undecodable;

impl Entry {
    pub(crate) fn new(bytes: impl Into<Arc<[u8]>>, ttl: Duration) -> Self {
        Self {
            bytes: bytes.into(),
            decoded: Arc::default(),
            ttl,
            stored_at: Instant::now(),
        }
    }

    /// An entry for `bytes`, the encoding of `value`.
    pub(crate) fn with_value<V: Send + Sync + 'static>(
        bytes: impl Into<Arc<[u8]>>,
        value: V,
        ttl: Duration,
    ) -> Self {
        let entry = Self::new(bytes, ttl);
        let _ = entry.decoded.set(Box::new(value));
        entry
    }

    /// The value of type `V` this entry holds, decoded on first use.
    pub(crate) fn value<V>(&self) -> Option<V>
    where
        V: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let decoded = self
            .decoded
            .get_or_init(|| match serde_json::from_slice::<V>(&self.bytes) {
                Ok(value) => Box::new(value),
                Err(_) => Box::new(Undecodable),
            });
        match decoded.downcast_ref::<V>() {
            Some(value) => Some(value.clone()),
            // Another type under the same key (two namespaces sharing a
            // name) decoded first: this one reads the bytes itself.
            None if !decoded.is::<Undecodable>() => serde_json::from_slice(&self.bytes).ok(),
            None => None,
        }
    }
}

struct PerEntryExpiry;

impl moka::Expiry<String, Entry> for PerEntryExpiry {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        // An overwrite restarts the clock with the new entry's TTL.
        Some(entry.ttl)
    }
}

/// The moka cache holding every namespace's entries.
pub(crate) type Local = moka::future::Cache<String, Entry>;

/// Builds the local tier.
///
/// moka bounds a cache by one total weight, and we want two bounds (entries
/// and bytes). Trade-off: the capacity is `max_bytes` and every entry weighs
/// at least `max_bytes / max_entries`, so neither bound can be exceeded; many
/// tiny entries are limited by count, a few big ones by bytes.
pub(crate) fn build(max_entries: u64, max_bytes: u64) -> Local {
    let max_entries = max_entries.max(1);
    let max_bytes = max_bytes.max(max_entries);
    let min_weight = max_bytes / max_entries;
    moka::future::Cache::builder()
        .max_capacity(max_bytes)
        .weigher(move |key: &String, entry: &Entry| {
            // The decoded copy, if any, weighs about what its bytes do.
            let size = (key.len() + 2 * entry.bytes.len()) as u64;
            u32::try_from(size.max(min_weight)).unwrap_or(u32::MAX)
        })
        .expire_after(PerEntryExpiry)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire_after_their_own_ttl() {
        let local = build(100, 1 << 20);
        local
            .insert(
                "short".into(),
                Entry::new(&b"1"[..], Duration::from_millis(50)),
            )
            .await;
        local
            .insert(
                "long".into(),
                Entry::new(&b"2"[..], Duration::from_secs(60)),
            )
            .await;
        // Time passing is what is tested: the 50 ms TTL runs out.
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(local.get("short").await.is_none());
        assert!(local.get("long").await.is_some());
    }

    #[tokio::test]
    async fn entry_count_is_bounded() {
        let local = build(10, 1 << 20);
        for i in 0..100 {
            local
                .insert(
                    format!("k{i}"),
                    Entry::new(&b"x"[..], Duration::from_secs(60)),
                )
                .await;
        }
        local.run_pending_tasks().await;
        assert!(local.entry_count() <= 10, "{}", local.entry_count());
    }

    #[tokio::test]
    async fn bytes_are_bounded() {
        let local = build(1_000, 10_000);
        let big = vec![0u8; 2_000];
        for i in 0..20 {
            local
                .insert(
                    format!("k{i}"),
                    Entry::new(big.clone(), Duration::from_secs(60)),
                )
                .await;
        }
        local.run_pending_tasks().await;
        assert!(local.weighted_size() <= 10_000, "{}", local.weighted_size());
        assert!(local.entry_count() <= 5, "{}", local.entry_count());
    }
}
