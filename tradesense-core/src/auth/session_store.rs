//! Login sessions as storage sees them: one record per login, revocable.
//! The trait the auth layer and endpoints use; implementations: the sqlx
//! one on [`SqlStore`](crate::store::SqlStore) and
//! [`MemorySessionStore`](super::MemorySessionStore).

use crate::store::{StoreError, to_micros};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a login stores.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session id (the token's `sid`), fresh for every login.
    pub id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// SHA-256 (hex) of the issued token: the token itself is never stored.
    pub token_hash: String,
    /// The `User-Agent` the login sent.
    pub user_agent: Option<String>,
    /// The client address of the login.
    pub ip: Option<String>,
    /// When the session (and its token) expires.
    pub expires_at: DateTime<Utc>,
}

impl NewSession {
    /// The record this login starts at `now`: created and last seen then,
    /// not revoked, times to the microsecond (what every store keeps, so a
    /// record reads back equal).
    pub fn record_at(&self, now: DateTime<Utc>) -> SessionRecord {
        let now = to_micros(now);
        SessionRecord {
            id: self.id,
            user_id: self.user_id,
            user_agent: self.user_agent.clone(),
            ip: self.ip.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: to_micros(self.expires_at),
            revoked_at: None,
        }
    }
}

/// A session as `GET /users/me/sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    /// The session id (`sid`).
    pub id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// The login's user agent.
    pub user_agent: Option<String>,
    /// The login's client address.
    pub ip: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When a request last used it, coarsely: it may lag the last request by
    /// [`SessionConfig::last_seen_lag`](super::SessionConfig::last_seen_lag)
    /// (2 minutes by default).
    pub last_seen_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl SessionRecord {
    /// Not revoked and not expired at `now` (the idle timeout is the
    /// [`SessionConfig`](super::SessionConfig)'s to judge).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Storage of login sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a new session.
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError>;
    /// The session (live or not), without changing it; `None` if there is
    /// no such session. What the liveness check reads.
    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError>;
    /// Marks the session as seen now and returns it (live or not); `None` if
    /// there is no such session. [`Sessions`](super::Sessions) calls it at
    /// most once per write interval per session, not per request.
    async fn touch_session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError>;
    /// The user's live sessions, oldest first.
    async fn live_sessions(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError>;
    /// Revokes one of the user's sessions; `false` if the user has no such
    /// live session.
    async fn revoke_session(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError>;
    /// Revokes every live session of the user except `keep`, returning the
    /// ids revoked (so caches can forget them).
    async fn revoke_other_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<Vec<Uuid>, StoreError>;
}
