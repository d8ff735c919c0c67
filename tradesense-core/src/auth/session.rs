//! Sessions as the auth layer sees them: creation at login, the liveness
//! check on every request (answered from the cache), and revocation.
//!
//! The hot path is one cache lookup: `session:<sid>` holds the session's
//! user id while it is live (`null` once revoked or expired). A miss loads
//! the row *and* stamps `last_seen_at` in the same statement, so
//! `last_seen_at` is precise to the cache TTL without a write per request.
//! Every revocation invalidates the entry, which the cache makes
//! cross-instance when the Redis tier is on; the short TTL bounds staleness
//! should an invalidation ever be lost.

use super::session_store::{NewSession, SessionRecord, SessionStore};
use crate::cache::{Cache, Namespace};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a session's liveness may be answered from the cache.
pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(30);

/// The session service: the store plus the liveness cache.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    live: Namespace<Option<Uuid>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("cache", &self.live)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions in `store`, with liveness cached in `cache` (namespace
    /// `session`).
    pub fn new(store: Arc<dyn SessionStore>, cache: &Cache) -> Self {
        Self {
            store,
            live: cache.namespace("session", SESSION_CACHE_TTL),
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// Records a new session and primes the cache with it.
    pub async fn create(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        let record = self.store.create_session(new).await?;
        self.live
            .insert(&record.id.to_string(), &Some(record.user_id))
            .await;
        Ok(record)
    }

    /// Whether session `sid` is live and belongs to `user_id`. Concurrent
    /// misses for one session load once.
    pub async fn is_live(&self, user_id: Uuid, sid: Uuid) -> Result<bool, Arc<StoreError>> {
        let store = self.store.clone();
        let owner = self
            .live
            .get_or_load(&sid.to_string(), || async move {
                let now: DateTime<Utc> = Utc::now();
                let record = store.touch_session(sid).await?;
                Ok::<_, StoreError>(record.filter(|r| r.is_live(now)).map(|r| r.user_id))
            })
            .await?;
        Ok(owner == Some(user_id))
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
