//! The in-process tier: a moka cache of serialised entries shared by every
//! namespace, bounded both by entry count and by bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A stored value with its expiry. Entries of different namespaces have
/// different TTLs, so expiry is per entry; `stored_at` lets a degraded cache
/// distrust old entries (see [`super::CacheConfig::degraded_ttl`]).
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) ttl: Duration,
    pub(crate) stored_at: Instant,
}

impl Entry {
    pub(crate) fn new(bytes: impl Into<Arc<[u8]>>, ttl: Duration) -> Self {
        Self {
            bytes: bytes.into(),
            ttl,
            stored_at: Instant::now(),
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
            let size = (key.len() + entry.bytes.len()) as u64;
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
