//! Cache counters through the `metrics` facade. Whoever installs a recorder
//! (the metrics module) exposes them; without one they cost next to nothing.
//!
//! - `cache_hits_total{namespace, tier}`: answered by `tier` (`local`, `redis`)
//! - `cache_misses_total{namespace, tier}`: `tier` did not have it
//! - `cache_errors_total{namespace, tier="redis"}`: a Redis command or
//!   connection attempt failed (`namespace="(connection)"` for the latter)
//! - `cache_redis_up`: 1 while the Redis tier is connected, else 0

/// The in-process tier's label.
pub(crate) const LOCAL: &str = "local";
/// The Redis tier's label.
pub(crate) const REDIS: &str = "redis";

pub(crate) fn hit(namespace: &'static str, tier: &'static str) {
    metrics::counter!("cache_hits_total", "namespace" => namespace, "tier" => tier).increment(1);
}

pub(crate) fn miss(namespace: &'static str, tier: &'static str) {
    metrics::counter!("cache_misses_total", "namespace" => namespace, "tier" => tier).increment(1);
}

pub(crate) fn error(namespace: &'static str) {
    metrics::counter!("cache_errors_total", "namespace" => namespace, "tier" => REDIS).increment(1);
}

pub(crate) fn redis_up(up: bool) {
    metrics::gauge!("cache_redis_up").set(if up { 1.0 } else { 0.0 });
}
