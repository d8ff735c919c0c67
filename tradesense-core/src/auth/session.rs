//! Sessions as the auth layer sees them: creation at login, the liveness
//! check on every request (answered from the cache), the idle timeout, and
//! revocation.
//!
//! The hot path is one cache lookup: `session:<sid>` holds the session's
//! user id while it is live (`null` once revoked, expired or idle). A miss
//! reads the row and decides in Rust (one definition of "active" for every
//! store); only when the row's `last_seen_at` is older than the write
//! interval does it also stamp `last_seen_at`, so an active session costs
//! one read per cache TTL per instance and one write per interval, never a
//! write per request. Every revocation invalidates the entry, which the
//! cache makes cross-instance when the Redis tier is on; the short TTL
//! bounds staleness should an invalidation ever be lost.
//!
//! ## How coarse `last_seen_at` is, and why idleness cannot hide
//!
//! With `T` the cache TTL and `W` the write interval ([`SessionConfig`]):
//! a cached "live" answer was stored by a request on this instance at most
//! `T` earlier (a database load, or a copy of the shared tier's entry, which
//! a load at most `T` before that wrote), and that load left `last_seen_at`
//! at most `W` old. So `last_seen_at` lags the last request by at most
//! `2T + W` (2 min by default), on every instance. The idle rule is judged
//! on the database value and errs early, never late: a session unused for
//! the idle timeout is always refused, one unused for the timeout minus
//! `2T + W` may be. And the cache cannot stretch an idle session: every
//! cached answer is younger than `T` (at most a quarter of the idle
//! timeout) counted from a request of that very session.

use super::session_store::{NewSession, SessionRecord, SessionStore};
use crate::cache::{Cache, Namespace};
use crate::store::StoreError;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a session's liveness may be answered from the cache (at most;
/// shorter for a short idle timeout).
pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(30);

/// The session rules an embedder chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// A session without a request for this long is over (`None`: no idle
    /// timeout, only revocation and the token's `exp` end it). Default 8 h.
    pub idle_timeout: Option<Duration>,
    /// `last_seen_at` is written at most this often per session (default
    /// 60 s; at most a quarter of the idle timeout).
    pub last_seen_write_interval: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Some(Duration::from_secs(8 * 60 * 60)),
            last_seen_write_interval: Duration::from_secs(60),
        }
    }
}

impl SessionConfig {
    /// A quarter of the idle timeout, if there is one: the longest the cache
    /// and the write interval may each be without stretching it.
    fn idle_quarter(&self) -> Option<Duration> {
        self.idle_timeout.map(|idle| idle / 4)
    }

    /// The cache TTL of a liveness answer.
    pub fn cache_ttl(&self) -> Duration {
        self.idle_quarter()
            .map_or(SESSION_CACHE_TTL, |q| q.min(SESSION_CACHE_TTL))
    }

    /// How often `last_seen_at` is written, at most.
    pub fn write_interval(&self) -> Duration {
        self.idle_quarter()
            .map_or(self.last_seen_write_interval, |q| {
                q.min(self.last_seen_write_interval)
            })
    }

    /// How far `last_seen_at` may lag the session's last request: twice
    /// the cache TTL (an entry copied from the shared tier just before it
    /// expired there) plus the write interval (see the module docs).
    pub fn last_seen_lag(&self) -> Duration {
        self.cache_ttl() * 2 + self.write_interval()
    }

    /// Whether `record` is live (not revoked, not expired) and not idle at
    /// `now`.
    pub fn is_active(&self, record: &SessionRecord, now: DateTime<Utc>) -> bool {
        record.is_live(now)
            && self
                .idle_timeout
                .is_none_or(|idle| now.signed_duration_since(record.last_seen_at) <= delta(idle))
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// The session service: the store plus the liveness cache.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    live: Namespace<Option<Uuid>>,
    config: SessionConfig,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("cache", &self.live)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions in `store`, with liveness cached in `cache` (namespace
    /// `session`), under the default [`SessionConfig`].
    pub fn new(store: Arc<dyn SessionStore>, cache: &Cache) -> Self {
        Self::with_config(store, cache, SessionConfig::default())
    }

    /// Sessions under `config` (the idle timeout).
    pub fn with_config(store: Arc<dyn SessionStore>, cache: &Cache, config: SessionConfig) -> Self {
        Self {
            store,
            live: cache.namespace("session", config.cache_ttl()),
            config,
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The rules in force.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Records a new session and primes the cache with it.
    pub async fn create(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        let record = self.store.create_session(new).await?;
        self.live
            .insert(&record.id.to_string(), &Some(record.user_id))
            .await;
        Ok(record)
    }

    /// Whether session `sid` is active (live and not idle) and belongs to
    /// `user_id`. Concurrent misses for one session load once.
    pub async fn is_live(&self, user_id: Uuid, sid: Uuid) -> Result<bool, Arc<StoreError>> {
        let store = self.store.clone();
        let config = self.config;
        let owner = self
            .live
            .get_or_load(&sid.to_string(), || async move {
                let now: DateTime<Utc> = Utc::now();
                let Some(record) = store.session(sid).await? else {
                    return Ok::<_, StoreError>(None);
                };
                if !config.is_active(&record, now) {
                    return Ok(None);
                }
                // Coarse on purpose: a write only when the stored time is
                // older than the interval (see the module docs).
                if now.signed_duration_since(record.last_seen_at) >= delta(config.write_interval())
                {
                    store.touch_session(sid).await?;
                }
                Ok(Some(record.user_id))
            })
            .await?;
        Ok(owner == Some(user_id))
    }

    /// The user's active sessions (live and not idle), oldest first.
    pub async fn active_sessions(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError> {
        let now = Utc::now();
        let mut sessions = self.store.live_sessions(user_id).await?;
        sessions.retain(|s| self.config.is_active(s, now));
        Ok(sessions)
    }

    /// Revokes one of the user's sessions; `false` if it was not theirs or
    /// not live.
    pub async fn revoke(&self, user_id: Uuid, sid: Uuid) -> Result<bool, StoreError> {
        let revoked = self.store.revoke_session(user_id, sid).await?;
        // Invalidate even when nothing changed: it is cheap, and a stale
        // entry must never outlive a revocation attempt.
        self.live.invalidate(&sid.to_string()).await;
        Ok(revoked)
    }

    /// Revokes every session of the user except `keep` (password change,
    /// MFA changes), returning how many were revoked.
    pub async fn revoke_all_except(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<usize, StoreError> {
        let revoked = self.store.revoke_other_sessions(user_id, keep).await?;
        for sid in &revoked {
            self.live.invalidate(&sid.to_string()).await;
        }
        Ok(revoked.len())
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
