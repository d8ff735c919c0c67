//! [`MemorySessionStore`]: sessions in process memory, for tests, examples
//! and single-instance services that accept that a restart logs everyone
//! out. Behaves as the sqlx store does (the same contract tests run on
//! both), timestamps included: they are kept to the microsecond, as
//! PostgreSQL keeps them.

use super::session_store::{NewSession, SessionRecord, SessionStore};
use crate::store::{StoreError, to_micros};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uuid::Uuid;

/// A [`SessionStore`] in memory. Cheap to clone; clones share the sessions.
/// Not shared between processes: with several instances, use a database.
///
/// Like the `sessions` table, it keeps ended sessions (listing and
/// revocation need them until they expire);
/// [`forget_ended_before`](Self::forget_ended_before) bounds the memory of
/// a long-running service.
///
/// ```
/// use std::sync::Arc;
/// use tradesense_core::auth::{MemorySessionStore, Sessions};
/// use tradesense_core::cache::{Cache, CacheConfig};
///
/// let sessions = Sessions::new(
///     Arc::new(MemorySessionStore::new()),
///     &Cache::in_process(CacheConfig::default()),
/// );
/// # let _ = sessions;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemorySessionStore {
    sessions: Arc<Mutex<HashMap<Uuid, SessionRecord>>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while the lock was held cannot leave a record half-written
    // (every change is one field assignment or one insert), so a poisoned
    // lock is still consistent: carry on rather than fail every request.
    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, SessionRecord>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the sessions that expired or were revoked before `before`,
    /// returning how many. Nothing asks about them any more once their
    /// token has expired too (tokens never outlive their session).
    pub fn forget_ended_before(&self, before: DateTime<Utc>) -> usize {
        let mut sessions = self.lock();
        let count = sessions.len();
        sessions.retain(|_, s| s.expires_at >= before && s.revoked_at.is_none_or(|r| r >= before));
        count - sessions.len()
    }

    /// How many sessions are kept (live or not).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is kept.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        let record = new.record_at(Utc::now());
        let mut sessions = self.lock();
        if sessions.contains_key(&record.id) {
            // What the table's primary key answers.
            return Err(StoreError::Conflict("sessions_pkey".to_owned()));
        }
        sessions.insert(record.id, record.clone());
        Ok(record)
    }

    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.lock().get(&id).cloned())
    }

    async fn touch_session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let now = to_micros(Utc::now());
        Ok(self.lock().get_mut(&id).map(|record| {
            record.last_seen_at = now;
            record.clone()
        }))
    }

    async fn live_sessions(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError> {
        let now = Utc::now();
        let mut live: Vec<SessionRecord> = self
            .lock()
            .values()
            .filter(|s| s.user_id == user_id && s.is_live(now))
            .cloned()
            .collect();
        live.sort_by_key(|s| (s.created_at, s.id));
        Ok(live)
    }

    async fn revoke_session(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let now = to_micros(Utc::now());
        Ok(match self.lock().get_mut(&id) {
            Some(record) if record.user_id == user_id && record.revoked_at.is_none() => {
                record.revoked_at = Some(now);
                true
            }
            _ => false,
        })
    }

    async fn revoke_other_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let now = to_micros(Utc::now());
        let mut revoked = Vec::new();
        for record in self.lock().values_mut() {
            if record.user_id == user_id && Some(record.id) != keep && record.revoked_at.is_none() {
                record.revoked_at = Some(now);
                revoked.push(record.id);
            }
        }
        Ok(revoked)
    }
}

/// An authenticator over a fresh [`MemorySessionStore`] and in-process
/// cache, with a test key and one-minute tokens: what the unit tests of the
/// endpoints and extractors sign in with.
#[cfg(test)]
pub(crate) fn test_authenticator() -> super::Authenticator {
    let cache = crate::cache::Cache::in_process(crate::cache::CacheConfig::default());
    let keys = super::TokenKeys::new(
        b"0123456789abcdef0123456789abcdef",
        &[],
        std::time::Duration::from_secs(60),
    );
    let sessions = super::Sessions::new(Arc::new(MemorySessionStore::new()), &cache);
    super::Authenticator::new(keys, sessions)
}

#[cfg(test)]
mod tests {
    use super::super::session_contract;
    use super::*;
    use chrono::TimeDelta;

    fn new_session(user_id: Uuid, expires_in: TimeDelta) -> NewSession {
        NewSession {
            id: Uuid::now_v7(),
            user_id,
            token_hash: "ef".repeat(32),
            user_agent: None,
            ip: None,
            expires_at: Utc::now() + expires_in,
        }
    }

    #[tokio::test]
    async fn memory_session_store_contract() {
        let store = MemorySessionStore::new();
        session_contract::check(&store, Uuid::now_v7()).await;
        // Users do not see each other's sessions.
        session_contract::check(&store, Uuid::now_v7()).await;
    }

    #[tokio::test]
    async fn a_session_id_is_unique() {
        let store = MemorySessionStore::new();
        let new = new_session(Uuid::now_v7(), TimeDelta::hours(1));
        store.create_session(new.clone()).await.unwrap();
        assert!(matches!(
            store.create_session(new).await,
            Err(StoreError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn clones_share_and_ended_sessions_can_be_forgotten() {
        let store = MemorySessionStore::new();
        let clone = store.clone();
        let user = Uuid::now_v7();
        let live = clone
            .create_session(new_session(user, TimeDelta::hours(1)))
            .await
            .unwrap();
        let expired = clone
            .create_session(new_session(user, TimeDelta::hours(-2)))
            .await
            .unwrap();
        let revoked = clone
            .create_session(new_session(user, TimeDelta::hours(1)))
            .await
            .unwrap();
        assert!(store.revoke_session(user, revoked.id).await.unwrap());
        assert_eq!(store.len(), 3);

        // Revoked just now: kept when forgetting what ended an hour ago.
        assert_eq!(
            store.forget_ended_before(Utc::now() - TimeDelta::hours(1)),
            1
        );
        assert!(clone.touch_session(expired.id).await.unwrap().is_none());
        assert!(clone.touch_session(revoked.id).await.unwrap().is_some());
        assert_eq!(
            store.forget_ended_before(Utc::now() + TimeDelta::seconds(1)),
            1
        );
        assert_eq!(store.live_sessions(user).await.unwrap()[0].id, live.id);
        assert!(!store.is_empty());
    }
}
