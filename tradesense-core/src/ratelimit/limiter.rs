//! One limit ("N requests per minute per key"): governor's keyed GCRA in
//! process, or the same GCRA as an atomic Redis script when the limit is
//! shared by several instances.

use crate::shared_redis::SharedRedis;
use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

/// Keys kept in process before idle ones are swept (checked every
/// [`SWEEP_EVERY`] requests). A flood of distinct keys beyond this, all
/// still active within one replenish period, resets the table instead of
/// growing it: briefly forgetting limits beats running out of memory.
const MAX_KEYS: usize = 100_000;
/// Requests between two sweeps of idle keys (amortises the O(n) sweep
/// instead of needing a timer task on some runtime).
const SWEEP_EVERY: u64 = 4096;

type Local = DefaultKeyedRateLimiter<String, StateInformationMiddleware>;

/// The outcome of one check, with what the `RateLimit-*` headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The limit (requests per window).
    pub limit: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Until the allowance is full again.
    pub reset: Duration,
    /// When rejected: until one request would be allowed.
    pub retry_after: Duration,
}

/// A keyed per-minute limit. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Limiter {
    scope: &'static str,
    per_minute: NonZeroU32,
    local: Arc<LocalState>,
    shared: Option<(SharedRedis, Arc<str>)>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("scope", &self.scope)
            .field("per_minute", &self.per_minute)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

struct LocalState {
    limiter: RwLock<Arc<Local>>,
    checks: AtomicU64,
}

/// The GCRA on Redis: the theoretical arrival time (TAT) per key, in
/// milliseconds of Redis's own clock (so instances with skewed clocks still
/// agree). Returns {allowed, remaining, retry_after_ms, reset_ms}.
const GCRA_SCRIPT: &str = r"
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tau = t * burst
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + t
local allow_at = new_tat - tau
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, new_tat - now))
return {1, math.floor((tau - (new_tat - now)) / t), 0, new_tat - now}
";

/// Built once: `Script::new` hashes the source (SHA-1) for `EVALSHA`.
static GCRA: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA_SCRIPT));

impl Limiter {
    /// A limit of `per_minute` requests per key; `None` when `0` (limit
    /// off). `scope` names it in keys and in `rate_limit_rejections_total`.
    pub fn per_minute(scope: &'static str, per_minute: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(Self {
            scope,
            per_minute,
            local: Arc::new(LocalState {
                limiter: RwLock::new(Arc::new(Self::fresh(per_minute))),
                checks: AtomicU64::new(0),
            }),
            shared: None,
        })
    }

    /// Shares this limit through Redis (keys `<prefix><scope>:<key>`), with
    /// the in-process limit as the fallback while Redis is unreachable.
    pub fn shared_via(mut self, redis: SharedRedis, prefix: &str) -> Self {
        self.shared = Some((redis, Arc::from(prefix)));
        self
    }

    /// Whether the limit is shared through Redis (else decided in process).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The scope name.
    pub fn scope(&self) -> &'static str {
        self.scope
    }

    /// Requests per minute.
    pub fn limit(&self) -> u32 {
        self.per_minute.get()
    }

    /// Counts one request for `key` and says whether it may proceed.
    pub async fn check(&self, key: &str) -> Decision {
        if let Some((redis, prefix)) = &self.shared {
            let period_ms = 60_000 / u64::from(self.per_minute.get());
            let mut invocation = GCRA.prepare_invoke();
            invocation
                .key(format!("{prefix}{}:{key}", self.scope))
                .arg(period_ms.max(1))
                .arg(self.per_minute.get());
            if let Some((allowed, remaining, retry_ms, reset_ms)) =
                redis.run::<(u8, u32, u64, u64)>(&invocation).await
            {
                return Decision {
                    allowed: allowed == 1,
                    limit: self.per_minute.get(),
                    remaining,
                    reset: Duration::from_millis(reset_ms),
                    retry_after: Duration::from_millis(retry_ms),
                };
            }
        }
        self.check_local(key)
    }

    /// The in-process decision.
    pub fn check_local(&self, key: &str) -> Decision {
        self.sweep_now_and_then();
        let limiter = self
            .local
            .limiter
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        let limit = self.per_minute.get();
        let period = Duration::from_secs(60) / limit;
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(limit);
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset: period * (limit - remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let retry_after = not_until.wait_time_from(limiter.clock().now());
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset: retry_after + period * (limit - 1),
                    retry_after,
                }
            }
        }
    }

    /// Keys held in process (for tests and diagnostics).
    pub fn local_keys(&self) -> usize {
        self.local
            .limiter
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .len()
    }

    fn fresh(per_minute: NonZeroU32) -> Local {
        DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)).with_middleware()
    }

    /// Every [`SWEEP_EVERY`] checks: drop keys whose allowance is full again
    /// (idle for a period), and if that still leaves more than
    /// [`MAX_KEYS`], start over with an empty table.
    fn sweep_now_and_then(&self) {
        let n = self.local.checks.fetch_add(1, Ordering::Relaxed);
        if n % SWEEP_EVERY != SWEEP_EVERY - 1 {
            return;
        }
        let limiter = self
            .local
            .limiter
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        limiter.retain_recent();
        limiter.shrink_to_fit();
        if limiter.len() > MAX_KEYS {
            tracing::warn!(
                scope = self.scope,
                keys = limiter.len(),
                "rate-limit key table full; resetting it"
            );
            *self
                .local
                .limiter
                .write()
                .unwrap_or_else(|poison| poison.into_inner()) =
                Arc::new(Self::fresh(self.per_minute));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_process_gcra_allows_the_burst_then_refuses() {
        let limiter = Limiter::per_minute("t", 5).unwrap();
        for expected_remaining in (0..5).rev() {
            let decision = limiter.check("a").await;
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
            assert_eq!(decision.limit, 5);
        }
        let refused = limiter.check("a").await;
        assert!(!refused.allowed);
        assert!(refused.retry_after > Duration::from_secs(10), "{refused:?}");
        assert!(
            refused.retry_after <= Duration::from_secs(12),
            "{refused:?}"
        );
        assert!(limiter.check("b").await.allowed, "keys are independent");
    }

    #[test]
    fn zero_turns_the_limit_off() {
        assert!(Limiter::per_minute("t", 0).is_none());
    }

    #[test]
    fn idle_keys_are_swept() {
        // 60,000 per minute: a key is fully replenished 1 ms after its use.
        let limiter = Limiter::per_minute("t", 60_000).unwrap();
        for i in 0..(SWEEP_EVERY - 1) {
            limiter.check_local(&format!("k{i}"));
        }
        assert_eq!(limiter.local_keys(), (SWEEP_EVERY - 1) as usize);
        // Time passing is what is tested: only a replenished key is idle.
        std::thread::sleep(Duration::from_millis(20));
        limiter.check_local("trigger");
        assert!(limiter.local_keys() <= 1, "{}", limiter.local_keys());
    }

    #[tokio::test]
    async fn unreachable_redis_falls_back_to_the_in_process_limit() {
        // Nothing listens on port 1.
        let redis = SharedRedis::open("redis://127.0.0.1:1").unwrap();
        let limiter = Limiter::per_minute("t", 2)
            .unwrap()
            .shared_via(redis, "test:");
        assert!(limiter.check("a").await.allowed);
        assert!(limiter.check("a").await.allowed);
        assert!(!limiter.check("a").await.allowed);
    }
}
