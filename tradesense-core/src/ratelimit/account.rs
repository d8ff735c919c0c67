//! Account protection: repeated failed logins for one account slow down,
//! whatever IPs they come from (the per-IP limit cannot see a distributed
//! guesser), without ever locking anyone out for good.
//!
//! Policy ([`ThrottlePolicy::default`]): the first 4 failures within 15
//! minutes cost nothing; the 5th locks the account's password checks for
//! 15 s, and each further failure doubles the lock (30 s, 1 min, 2 min,
//! 4 min), capped at 5 min. The count is forgotten 15 minutes after the
//! first failure, and a success clears it.
//!
//! The bound holds under concurrency because an attempt is *reserved*
//! ([`LoginThrottle::reserve`]) before the password is checked: the check
//! for a lock and the count of the attempt are one atomic step, and the
//! attempt counts as a failure until the caller reports it right. A burst
//! of simultaneous wrong passwords therefore gets exactly as many checks
//! as the same attempts one after another. The caller names the account (TradeSense passes
//! the normalised email, `users::Email::normalize`); keys are its keyed
//! pseudonym ([`Pseudonyms`], HMAC-SHA-256 under a key from `SECRET_KEY`),
//! so neither Redis nor memory holds addresses, nor a bare hash that a
//! reader of the keys could match against guessed addresses. With
//! Redis the count is shared by every instance; without it (or while it is
//! down) each instance counts on its own.

use crate::pseudonym::Pseudonyms;
use crate::shared_redis::SharedRedis;
use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};
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
    pseudonyms: Pseudonyms,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("policy", &self.policy)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

/// Reserves an attempt in Redis, atomically: refused (the lock's remaining
/// milliseconds, negated) while the account is locked; otherwise the
/// attempt is counted as a failure within the window, the lock is (re)set
/// when the count reaches the threshold, and the new count is returned.
const RESERVE_SCRIPT: &str = r"
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return -locked end
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
static RESERVE: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RESERVE_SCRIPT));

/// The account's password checks are locked: answer `429` with
/// `Retry-After` and check nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// How long the lock still holds.
    pub retry_after: Duration,
}

impl Locked {
    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up (a
    /// client retrying after it finds the lock gone).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

/// One password check the throttle allowed, already counted as a failure:
/// report [`succeeded`](Self::succeeded) when the password was right;
/// dropping it leaves the failure counted.
///
/// Counting before the check is what makes the bound hold under
/// concurrency: of N simultaneous attempts, only those the throttle
/// reserved get checked, exactly as if they had come one after another.
#[must_use = "an attempt that is dropped counts as a failure"]
#[derive(Debug)]
pub struct Reservation {
    throttle: LoginThrottle,
    key: String,
    /// Failures counted with this one.
    failures: u32,
}

impl Reservation {
    /// Whether this attempt, if it fails, locks the account (the
    /// `account_locked` event).
    pub fn locks_on_failure(&self) -> bool {
        self.throttle.policy.lock_after(self.failures).is_some()
    }

    /// The password was right: clears the account's count and lock.
    pub async fn succeeded(self) {
        self.throttle.clear_key(&self.key).await;
    }
}

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
            pseudonyms: Pseudonyms::ephemeral(),
        }
    }

    /// Names accounts by `pseudonyms` (default: a random key of this
    /// process). Instances sharing counts through Redis must share the key
    /// ([`Pseudonyms::from_secret_key`] with one `SECRET_KEY`).
    pub fn pseudonyms(mut self, pseudonyms: Pseudonyms) -> Self {
        self.pseudonyms = pseudonyms;
        self
    }

    /// Shares the counts through Redis under `prefix` (give every instance
    /// the same [`pseudonyms`](Self::pseudonyms)).
    pub fn shared_via(mut self, redis: SharedRedis, prefix: &str) -> Self {
        self.shared = Some((redis, Arc::from(prefix)));
        self
    }

    /// The policy.
    pub fn policy(&self) -> ThrottlePolicy {
        self.policy
    }

    /// Reserves one password check for `account`, before the password is
    /// looked at: `Err` while the account is locked (answer `429`, check
    /// nothing, for known and unknown accounts alike); otherwise the
    /// attempt is counted as a failure at once, in one atomic step (a Lua
    /// script on Redis, a per-key compute in process), and the returned
    /// [`Reservation`] clears the count if the password turns out right.
    ///
    /// ```
    /// use tradesense_core::ratelimit::{LoginThrottle, ThrottlePolicy};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let throttle = LoginThrottle::new(ThrottlePolicy::default());
    /// for _ in 0..5 {
    ///     // Five wrong passwords: each reserved, checked, dropped.
    ///     let _wrong = throttle.reserve("ada@example.com").await.unwrap();
    /// }
    /// let locked = throttle.reserve("ada@example.com").await.unwrap_err();
    /// assert_eq!(locked.retry_after_secs(), 15);
    /// # });
    /// ```
    pub async fn reserve(&self, account: &str) -> Result<Reservation, Locked> {
        let key = self.pseudonyms.pseudonym(account);
        // Always counted locally too: the fallback while Redis is down.
        let local = self.reserve_local(&key).await;
        let decision = match &self.shared {
            Some((redis, prefix)) => {
                let policy = self.policy;
                let mut invocation = RESERVE.prepare_invoke();
                invocation
                    .key(format!("{prefix}fail:{key}"))
                    .key(format!("{prefix}lock:{key}"))
                    .arg(millis(policy.window))
                    .arg(policy.lock_from_failure)
                    .arg(millis(policy.base_lock))
                    .arg(millis(policy.max_lock));
                match redis.run::<i64>(&invocation).await {
                    Some(n) if n < 0 => Err(Locked {
                        retry_after: Duration::from_millis(n.unsigned_abs()),
                    }),
                    Some(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
                    None => local,
                }
            }
            None => local,
        };
        decision.map(|failures| Reservation {
            throttle: self.clone(),
            key,
            failures,
        })
    }

    /// The in-process reservation: moka runs computes on one key one after
    /// another, so the check and the count are one step.
    async fn reserve_local(&self, key: &str) -> Result<u32, Locked> {
        let policy = self.policy;
        let result = self
            .local
            .entry(key.to_owned())
            .and_compute_with(|existing| async move {
                let now = Instant::now();
                let existing = existing.map(|e| e.into_value());
                // A lock may outlast the window it was set in: look first.
                if existing.is_some_and(|e| e.locked_until.is_some_and(|until| until > now)) {
                    return Op::Nop;
                }
                let mut entry = existing.filter(|e| e.forget_at > now).unwrap_or(Entry {
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
        match result {
            CompResult::Unchanged(entry) => {
                let now = Instant::now();
                match entry.into_value().locked_until {
                    Some(until) if until > now => Err(Locked {
                        retry_after: until - now,
                    }),
                    // The lock ran out between the compute and now.
                    _ => Ok(0),
                }
            }
            CompResult::Inserted(entry) | CompResult::ReplacedWith(entry) => {
                Ok(entry.into_value().failures)
            }
            _ => Ok(0),
        }
    }

    /// Clears the account's count and lock, as a successful check does
    /// (an administrator's unlock, or an embedder's own success path).
    pub async fn clear(&self, account: &str) {
        self.clear_key(&self.pseudonyms.pseudonym(account)).await;
    }

    async fn clear_key(&self, key: &str) {
        self.local.invalidate(key).await;
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
    fn accounts_are_keyed_pseudonyms() {
        let throttle = LoginThrottle::new(ThrottlePolicy::default());
        let key = throttle.pseudonyms.pseudonym("alice@example.com");
        assert_eq!(key.len(), 64);
        assert!(!key.contains("alice"));
    }

    #[tokio::test]
    async fn fifth_reservation_locks_success_clears() {
        let throttle = LoginThrottle::new(ThrottlePolicy::default());
        for _ in 0..5 {
            drop(throttle.reserve("bob@example.com").await.unwrap());
        }
        let retry = throttle.reserve("bob@example.com").await.unwrap_err();
        assert!(retry.retry_after > Duration::from_secs(14));
        assert!(retry.retry_after <= Duration::from_secs(15));
        assert_eq!(retry.retry_after_secs(), 15);
        // Other accounts are untouched; a clear unlocks.
        let carol = throttle.reserve("carol@example.com").await.unwrap();
        carol.succeeded().await;
        throttle.clear("bob@example.com").await;
        let bob = throttle.reserve("bob@example.com").await.unwrap();
        bob.succeeded().await;
        for _ in 0..4 {
            drop(throttle.reserve("bob@example.com").await.unwrap());
        }
        // A success clears the count: four more go unlocked.
        throttle
            .reserve("bob@example.com")
            .await
            .unwrap()
            .succeeded()
            .await;
        for _ in 0..4 {
            drop(throttle.reserve("bob@example.com").await.unwrap());
        }
    }

    /// The reservation is one step: of many simultaneous attempts, exactly
    /// the threshold's worth get through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_reservations_never_exceed_the_threshold() {
        let throttle = LoginThrottle::new(ThrottlePolicy::default());
        let attempts = (0..64).map(|_| {
            let throttle = throttle.clone();
            tokio::spawn(async move { throttle.reserve("eve@example.com").await.is_ok() })
        });
        let granted = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count();
        assert_eq!(granted, 5);
    }

    #[tokio::test]
    async fn locks_expire_and_further_failures_double_them() {
        let throttle = LoginThrottle::new(ThrottlePolicy {
            lock_from_failure: 1,
            window: Duration::from_secs(60),
            base_lock: Duration::from_millis(30),
            max_lock: Duration::from_millis(100),
        });
        drop(throttle.reserve("dave@example.com").await.unwrap());
        let locked = throttle.reserve("dave@example.com").await.unwrap_err();
        assert!(locked.retry_after <= Duration::from_millis(30));
        tokio::time::sleep(Duration::from_millis(40)).await;
        drop(throttle.reserve("dave@example.com").await.unwrap());
        let locked = throttle.reserve("dave@example.com").await.unwrap_err();
        assert!(locked.retry_after > Duration::from_millis(30), "{locked:?}");
    }
}
