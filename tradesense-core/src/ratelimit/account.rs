//! Account protection: repeated failed logins for one account slow down,
//! whatever IPs they come from (the per-IP limit cannot see a distributed
//! guesser), without ever locking anyone out for good.
//!
//! Policy ([`ThrottlePolicy::default`]): the first 4 failures within 15
//! minutes cost nothing; the 5th locks the account's logins for 15 s, and
//! each further failure doubles the lock (30 s, 1 min, 2 min, 4 min), capped
//! at 5 min. The count is forgotten 15 minutes after the first failure, and
//! a success clears it. The caller names the account (TradeSense passes
//! the normalised email, `users::Email::normalize`); keys are a SHA-256 of
//! that name, so neither Redis nor memory holds addresses. With
//! Redis the count is shared by every instance; without it (or while it is
//! down) each instance counts on its own.

use crate::shared_redis::SharedRedis;
use moka::future::Cache;
use moka::ops::compute::Op;
use sha2::{Digest, Sha256};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// The numbers of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// The failure that starts locking (counted within `window`).
    pub lock_from_failure: u32,
    /// How long failures are remembered (from the first one).
    pub window: Duration,
    /// The first lock; each further failure doubles it.
    pub base_lock: Duration,
    /// The longest lock: never permanent.
    pub max_lock: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            lock_from_failure: 5,
            window: Duration::from_secs(15 * 60),
            base_lock: Duration::from_secs(15),
            max_lock: Duration::from_secs(5 * 60),
        }
    }
}

impl ThrottlePolicy {
    /// The lock after the `failures`-th failure in the window, if any.
    pub fn lock_after(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.lock_from_failure)?;
        let factor = 2u32.checked_pow(over.min(31)).unwrap_or(u32::MAX);
        Some(
            self.base_lock
                .checked_mul(factor)
                .map_or(self.max_lock, |lock| lock.min(self.max_lock)),
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    forget_at: Instant,
    locked_until: Option<Instant>,
}

/// Counts failed logins per account. Cheap to clone.
#[derive(Clone)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    local: Cache<String, Entry>,
    shared: Option<(SharedRedis, Arc<str>)>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("policy", &self.policy)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

/// Records a failure in Redis: count within the window, and (re)lock.
/// Returns the failure count.
const FAILURE_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local from = tonumber(ARGV[2])
if n >= from then
  local lock = tonumber(ARGV[3]) * (2 ^ math.min(n - from, 31))
  lock = math.floor(math.min(lock, tonumber(ARGV[4])))
  redis.call('SET', KEYS[2], '1', 'PX', lock)
end
return n
";

/// Built once: `Script::new` hashes the source (SHA-1) for `EVALSHA`.
static FAILURE: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(FAILURE_SCRIPT));

impl LoginThrottle {
    /// An in-process throttle. Memory is bounded: at most 100,000 accounts
    /// are remembered, each for at most the window plus the longest lock.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            local: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(policy.window + policy.max_lock)
                .build(),
            shared: None,
        }
    }

    /// Shares the counts through Redis under `prefix`.
    pub fn shared_via(mut self, redis: SharedRedis, prefix: &str) -> Self {
        self.shared = Some((redis, Arc::from(prefix)));
        self
    }

    /// The policy.
    pub fn policy(&self) -> ThrottlePolicy {
        self.policy
    }

    /// `Err(retry_after)` while the account's logins are locked. Call it
    /// before checking the password (a locked account must not be an
    /// oracle for guesses), answer `429` with `Retry-After` on `Err`.
    pub async fn check(&self, email: &str) -> Result<(), Duration> {
        let key = account_key(email);
        if let Some((redis, prefix)) = &self.shared {
            let mut cmd = redis::cmd("PTTL");
            cmd.arg(format!("{prefix}lock:{key}"));
            if let Some(ttl_ms) = redis.query::<i64>(&cmd).await {
                return match u64::try_from(ttl_ms) {
                    Ok(ms) if ms > 0 => Err(Duration::from_millis(ms)),
                    _ => Ok(()),
                };
            }
        }
        let now = Instant::now();
        match self.local.get(&key).await.and_then(|e| e.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failed login (wrong password, unknown account alike).
    pub async fn record_failure(&self, email: &str) {
        let key = account_key(email);
        // Always counted locally too: the fallback while Redis is down.
        let policy = self.policy;
        self.local
            .entry(key.clone())
            .and_compute_with(|existing| async move {
                let now = Instant::now();
                let mut entry = existing
                    .map(|e| e.into_value())
                    .filter(|e| e.forget_at > now)
                    .unwrap_or(Entry {
                        failures: 0,
                        forget_at: now + policy.window,
                        locked_until: None,
                    });
                entry.failures = entry.failures.saturating_add(1);
                if let Some(lock) = policy.lock_after(entry.failures) {
                    entry.locked_until = Some(now + lock);
                }
                Op::Put(entry)
            })
            .await;
        if let Some((redis, prefix)) = &self.shared {
            let mut invocation = FAILURE.prepare_invoke();
            invocation
                .key(format!("{prefix}fail:{key}"))
                .key(format!("{prefix}lock:{key}"))
                .arg(millis(policy.window))
                .arg(policy.lock_from_failure)
                .arg(millis(policy.base_lock))
                .arg(millis(policy.max_lock));
            let _ = redis.run::<i64>(&invocation).await;
        }
    }

    /// A successful login clears the account's count and lock.
    pub async fn record_success(&self, email: &str) {
        let key = account_key(email);
        self.local.invalidate(&key).await;
        if let Some((redis, prefix)) = &self.shared {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(format!("{prefix}fail:{key}"))
                .arg(format!("{prefix}lock:{key}"));
            let _ = redis.query::<i64>(&cmd).await;
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The hashed account key.
fn account_key(account: &str) -> String {
    hex::encode(Sha256::digest(account.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_exponentially_and_are_capped() {
        let policy = ThrottlePolicy::default();
        assert_eq!(policy.lock_after(4), None);
        assert_eq!(policy.lock_after(5), Some(Duration::from_secs(15)));
        assert_eq!(policy.lock_after(6), Some(Duration::from_secs(30)));
        assert_eq!(policy.lock_after(9), Some(Duration::from_secs(240)));
        assert_eq!(policy.lock_after(10), Some(Duration::from_secs(300)));
        assert_eq!(policy.lock_after(u32::MAX), Some(Duration::from_secs(300)));
    }

    #[test]
    fn accounts_are_hashed() {
        assert_eq!(account_key("alice@example.com").len(), 64);
        assert!(!account_key("alice@example.com").contains("alice"));
    }

    #[tokio::test]
    async fn fifth_failure_locks_success_clears() {
        let throttle = LoginThrottle::new(ThrottlePolicy::default());
        for _ in 0..4 {
            throttle.record_failure("bob@example.com").await;
            assert_eq!(throttle.check("bob@example.com").await, Ok(()));
        }
        throttle.record_failure("bob@example.com").await;
        let retry = throttle.check("bob@example.com").await.unwrap_err();
        assert!(retry > Duration::from_secs(14) && retry <= Duration::from_secs(15));
        assert_eq!(throttle.check("carol@example.com").await, Ok(()));
        throttle.record_success("bob@example.com").await;
        assert_eq!(throttle.check("bob@example.com").await, Ok(()));
    }

    #[tokio::test]
    async fn locks_expire() {
        let throttle = LoginThrottle::new(ThrottlePolicy {
            lock_from_failure: 1,
            window: Duration::from_secs(60),
            base_lock: Duration::from_millis(30),
            max_lock: Duration::from_millis(50),
        });
        throttle.record_failure("dave@example.com").await;
        assert!(throttle.check("dave@example.com").await.is_err());
        // Time passing is what is tested: the 30 ms lock runs out.
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(throttle.check("dave@example.com").await, Ok(()));
    }
}
