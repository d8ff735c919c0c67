//! The application's own record of an account, read through the cache:
//! [`LoadUser`] is what the application implements over its table (any
//! record type: TradeSense's profile, a stranger's `Account` row),
//! [`UserCache`] answers it from memory (and Redis, when shared), and
//! [`CurrentUser`](crate::auth::CurrentUser) hands it to handlers.

use crate::cache::{Cache, Namespace};
use crate::store::StoreError;
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a user record may be answered from the cache. A write through
/// the application's own code calls [`UserCache::invalidate`] (on every
/// instance, with Redis); the TTL only bounds staleness for writes made
/// behind its back (another program on the database), so it is kept short.
pub const USER_CACHE_TTL: Duration = Duration::from_secs(60);

/// Reads the application's record of an account by its handle (the UUID
/// that tokens, sessions, MFA and passkeys name it by).
#[async_trait]
pub trait LoadUser: Send + Sync + 'static {
    /// The record: whatever the application's handlers want of the caller.
    /// Serialisable because the cache may keep it in Redis: never put a
    /// password hash or a secret in it.
    type User: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The account with this handle; `None` if it is gone or may not be
    /// used (its sessions then stop authenticating [`CurrentUser`](crate::auth::CurrentUser)).
    async fn load_user(&self, id: Uuid) -> Result<Option<Self::User>, StoreError>;
}

/// [`LoadUser`] through the cache (namespace `user`): concurrent misses for
/// one account load once. Cheap to clone (two reference counts).
///
/// Handlers reach it through [`CurrentUser`](crate::auth::CurrentUser),
/// which finds it in the request's extensions: add it to the routes with
/// `.layer(axum::Extension(user_cache))`.
pub struct UserCache<U> {
    loader: Arc<dyn LoadUser<User = U>>,
    users: Namespace<Option<U>>,
}

impl<U> Clone for UserCache<U> {
    fn clone(&self) -> Self {
        Self {
            loader: self.loader.clone(),
            users: self.users.clone(),
        }
    }
}

impl<U> std::fmt::Debug for UserCache<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCache")
            .field("cache", &self.users)
            .finish_non_exhaustive()
    }
}

impl<U> UserCache<U>
where
    U: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// `loader`, read through `cache`.
    pub fn new(loader: impl LoadUser<User = U>, cache: &Cache) -> Self {
        Self {
            loader: Arc::new(loader),
            users: cache.namespace("user", USER_CACHE_TTL),
        }
    }

    /// The record of account `id`, from the cache or the loader.
    pub async fn get(&self, id: Uuid) -> Result<Option<U>, StoreError> {
        let loader = self.loader.clone();
        self.users
            .get_or_load(
                &id.to_string(),
                || async move { loader.load_user(id).await },
            )
            .await
            // Loader errors are shared between concurrent callers; rebuild
            // an owned one for this caller.
            .map_err(|error| error.clone_shared())
    }

    /// Forgets account `id` everywhere: call it after every write to the
    /// record (also after a failed one: it may have committed).
    pub async fn invalidate(&self, id: Uuid) {
        self.users.invalidate(&id.to_string()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheConfig;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Account {
        number: i64,
        name: String,
    }

    /// One account in memory, counting reads.
    struct OneAccount {
        id: Uuid,
        account: Mutex<Account>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl LoadUser for Arc<OneAccount> {
        type User = Account;
        async fn load_user(&self, id: Uuid) -> Result<Option<Account>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok((id == self.id).then(|| self.account.lock().unwrap().clone()))
        }
    }

    #[tokio::test]
    async fn reads_are_cached_until_invalidated() {
        let id = Uuid::now_v7();
        let store = Arc::new(OneAccount {
            id,
            account: Mutex::new(Account {
                number: 7,
                name: "Ada".into(),
            }),
            reads: AtomicUsize::new(0),
        });
        let users = UserCache::new(store.clone(), &Cache::in_process(CacheConfig::default()));
        for _ in 0..3 {
            assert_eq!(users.get(id).await.unwrap().unwrap().name, "Ada");
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
        // An unknown account is remembered as unknown too.
        assert_eq!(users.get(Uuid::now_v7()).await.unwrap(), None);

        store.account.lock().unwrap().name = "Ada King".into();
        assert_eq!(users.get(id).await.unwrap().unwrap().name, "Ada");
        users.invalidate(id).await;
        assert_eq!(users.get(id).await.unwrap().unwrap().name, "Ada King");
    }
}
