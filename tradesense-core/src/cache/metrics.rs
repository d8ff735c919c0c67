//! Cache counters through the `metrics` facade. Whoever installs a recorder
//! (the metrics module) exposes them; without one they cost next to nothing.
//!
//! - `cache_hits_total{namespace, tier}`: answered by `tier` (`local`, `redis`)
//! - `cache_misses_total{namespace, tier}`: `tier` did not have it
//! - `cache_errors_total{namespace, tier="redis"}`: a Redis command or
//!   connection attempt failed (`namespace="(connection)"` for the latter)
//! - `cache_redis_up`: 1 while the Redis tier is connected, else 0

use metrics::Counter;

/// One namespace's counters, registered once (on first use) and kept: a
/// registry lookup per cache hit would cost about as much as the hit
/// itself. Resolved lazily so that a recorder installed after the cache was
/// built (but before the first request) is the one that counts.
pub(crate) struct Counters {
    pub(crate) local_hit: Counter,
    pub(crate) local_miss: Counter,
    pub(crate) redis_hit: Counter,
    pub(crate) redis_miss: Counter,
    pub(crate) redis_error: Counter,
}

impl Counters {
    pub(crate) fn new(namespace: &'static str) -> Self {
        let hits = |tier: &'static str| metrics::counter!("cache_hits_total", "namespace" => namespace, "tier" => tier);
        let misses = |tier: &'static str| metrics::counter!("cache_misses_total", "namespace" => namespace, "tier" => tier);
        Self {
            local_hit: hits(LOCAL),
            local_miss: misses(LOCAL),
            redis_hit: hits(REDIS),
            redis_miss: misses(REDIS),
            redis_error: metrics::counter!(
                "cache_errors_total", "namespace" => namespace, "tier" => REDIS
            ),
        }
    }
}

/// The in-process tier's label.
pub(crate) const LOCAL: &str = "local";
/// The Redis tier's label.
pub(crate) const REDIS: &str = "redis";

pub(crate) fn error(namespace: &'static str) {
    metrics::counter!("cache_errors_total", "namespace" => namespace, "tier" => REDIS).increment(1);
}

pub(crate) fn redis_up(up: bool) {
    metrics::gauge!("cache_redis_up").set(if up { 1.0 } else { 0.0 });
}
