//! User records through the cache: a [`UserStore`] decorator, so every
//! component that reads users by id (`/api/v1/users/me` on each request)
//! reads them from memory, and every write through the trait invalidates.

use super::{Email, NewUser, User, UserCredentials, UserStore};
use crate::cache::{Cache, Namespace};
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a user record may be answered from the cache. Every write
/// through [`CachedUsers`] invalidates at once (on every instance); the TTL
/// only bounds staleness for writes made behind its back (another program
/// on the database), so it is kept short.
pub const USER_CACHE_TTL: Duration = Duration::from_secs(60);

/// A [`UserStore`] whose `user_by_id` is cached (namespace `user`).
///
/// Writes made outside this trait that change the user object must call
/// [`CachedUsers::invalidate`]. (The cached `mfa_enabled` is not kept in
/// step with MFA changes: ask `mfa::MfaStore::mfa_enabled` instead.)
#[derive(Clone)]
pub struct CachedUsers {
    inner: Arc<dyn UserStore>,
    users: Namespace<Option<User>>,
}

impl std::fmt::Debug for CachedUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedUsers")
            .field("cache", &self.users)
            .finish_non_exhaustive()
    }
}

impl CachedUsers {
    /// `inner`, read through `cache`.
    pub fn new(inner: Arc<dyn UserStore>, cache: &Cache) -> Self {
        Self {
            inner,
            users: cache.namespace("user", USER_CACHE_TTL),
        }
    }

    /// The cache it reads through.
    pub fn cache(&self) -> &Cache {
        self.users.cache()
    }

    /// Forgets user `id` everywhere (call after a write that bypassed this
    /// store).
    pub async fn invalidate(&self, id: Uuid) {
        self.users.invalidate(&id.to_string()).await;
    }
}

#[async_trait]
impl UserStore for CachedUsers {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.inner.create_user(new).await
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let inner = self.inner.clone();
        self.users
            .get_or_load(
                &id.to_string(),
                || async move { inner.user_by_id(id).await },
            )
            .await
            // Loader errors are shared between concurrent callers; rebuild
            // an owned one for this caller.
            .map_err(|error| error.clone_shared())
    }

    async fn credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError> {
        // Login reads the password hash: always from the database, never
        // kept in memory longer than the request.
        self.inner.credentials_by_email(email).await
    }

    async fn credentials_by_id(&self, id: Uuid) -> Result<Option<UserCredentials>, StoreError> {
        self.inner.credentials_by_id(id).await
    }

    async fn update_full_name(&self, id: Uuid, full_name: &str) -> Result<User, StoreError> {
        let result = self.inner.update_full_name(id, full_name).await;
        // Invalidate also on error: the write may have happened before the
        // error surfaced.
        self.invalidate(id).await;
        result
    }

    async fn update_timezone(&self, id: Uuid, timezone: &str) -> Result<User, StoreError> {
        let result = self.inner.update_timezone(id, timezone).await;
        self.invalidate(id).await;
        result
    }

    async fn update_password_hash(&self, id: Uuid, password_hash: &str) -> Result<(), StoreError> {
        // The cached `User` carries no hash, so nothing to invalidate.
        self.inner.update_password_hash(id, password_hash).await
    }

    async fn update_password_hash_recording(
        &self,
        id: Uuid,
        password_hash: &str,
        event: &crate::events::SecurityEvent,
    ) -> Result<bool, StoreError> {
        self.inner
            .update_password_hash_recording(id, password_hash, event)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheConfig;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// One user in memory, counting reads.
    struct OneUser {
        user: Mutex<User>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl UserStore for OneUser {
        async fn create_user(&self, _new: NewUser) -> Result<User, StoreError> {
            Err(StoreError::Conflict("users_email".into()))
        }
        async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let user = self.user.lock().unwrap().clone();
            Ok((user.id == id).then_some(user))
        }
        async fn credentials_by_email(
            &self,
            _email: &Email,
        ) -> Result<Option<UserCredentials>, StoreError> {
            Ok(None)
        }
        async fn credentials_by_id(
            &self,
            _id: Uuid,
        ) -> Result<Option<UserCredentials>, StoreError> {
            Ok(None)
        }
        async fn update_full_name(&self, id: Uuid, full_name: &str) -> Result<User, StoreError> {
            let mut user = self.user.lock().unwrap();
            if user.id != id {
                return Err(StoreError::NotFound);
            }
            user.full_name = full_name.to_owned();
            Ok(user.clone())
        }
        async fn update_timezone(&self, _id: Uuid, _timezone: &str) -> Result<User, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn update_password_hash(&self, _id: Uuid, _hash: &str) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn reads_are_cached_and_writes_invalidate() {
        let id = Uuid::now_v7();
        let store = Arc::new(OneUser {
            user: Mutex::new(User {
                id,
                email: "ada@example.com".into(),
                full_name: "Ada".into(),
                mfa_enabled: false,
                timezone: "UTC".into(),
                created_at: chrono::Utc::now(),
            }),
            reads: AtomicUsize::new(0),
        });
        let users = CachedUsers::new(store.clone(), &Cache::in_process(CacheConfig::default()));
        for _ in 0..3 {
            let user = users.user_by_id(id).await.unwrap().unwrap();
            assert_eq!(user.full_name, "Ada");
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);

        users.update_full_name(id, "Ada King").await.unwrap();
        let user = users.user_by_id(id).await.unwrap().unwrap();
        assert_eq!(user.full_name, "Ada King");
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);

        // A write behind the decorator's back, then the explicit hook.
        store.user.lock().unwrap().mfa_enabled = true;
        users.invalidate(id).await;
        assert!(users.user_by_id(id).await.unwrap().unwrap().mfa_enabled);
    }
}
