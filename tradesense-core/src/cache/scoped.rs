//! Groups of keys invalidated together: every trade page and position of
//! one user goes stale on any of their trade writes, and the writer cannot
//! enumerate the pages that were cached (one per filter and cursor).
//!
//! Each scope has a random *generation* (itself a cached value, so shared
//! through Redis and evicted by broadcast); values live under
//! `<scope>:<generation>:<key>`. Invalidating a scope drops its generation,
//! so the next read draws a new one and every old key becomes unreachable
//! (they age out by TTL). Trade-off: one extra local lookup per read, in
//! exchange for an O(1) invalidation of any number of keys, on every
//! instance, without scanning Redis.

use super::Namespace;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::sync::Arc;
use uuid::Uuid;

/// Values of type `V` grouped by scope. Build with
/// [`Cache::scoped`](super::Cache::scoped).
pub struct Scoped<V> {
    generations: Namespace<Uuid>,
    values: Namespace<V>,
}

impl<V> Clone for Scoped<V> {
    fn clone(&self) -> Self {
        Self {
            generations: self.generations.clone(),
            values: self.values.clone(),
        }
    }
}

impl<V> std::fmt::Debug for Scoped<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped")
            .field("generations", &self.generations)
            .field("values", &self.values)
            .finish()
    }
}

impl<V> Scoped<V>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    pub(super) fn new(generations: Namespace<Uuid>, values: Namespace<V>) -> Self {
        Self {
            generations,
            values,
        }
    }

    async fn key(&self, scope: &str, key: &str) -> String {
        let generation = self
            .generations
            .get_or_load(scope, || async { Ok::<_, Infallible>(Uuid::new_v4()) })
            .await
            .unwrap_or_else(|never| match *never {});
        format!("{scope}:{}:{key}", generation.simple())
    }

    /// The value of `key` in `scope`, or the loader's (see
    /// [`Namespace::get_or_load`]).
    pub async fn get_or_load<F, Fut, E>(&self, scope: &str, key: &str, load: F) -> Result<V, Arc<E>>
    where
        F: FnOnce() -> Fut + Clone,
        Fut: std::future::Future<Output = Result<V, E>>,
        E: Send + Sync + 'static,
    {
        let key = self.key(scope, key).await;
        self.values.get_or_load(&key, load).await
    }

    /// Makes every value of `scope` (of every [`Scoped`] sharing its
    /// generations) unreachable, on every instance.
    pub async fn invalidate(&self, scope: &str) {
        self.generations.invalidate(scope).await;
    }
}

#[cfg(test)]
mod tests {
    use crate::cache::{Cache, CacheConfig};
    use std::time::Duration;

    #[tokio::test]
    async fn invalidating_a_scope_drops_all_its_keys_and_only_them() {
        let cache = Cache::in_process(CacheConfig::default());
        let pages = cache.scoped::<u32>("trading", "page", Duration::from_secs(60));
        let positions = cache.scoped::<u32>("trading", "positions", Duration::from_secs(60));
        let load = |v: u32| move || async move { Ok::<_, ()>(v) };
        assert_eq!(pages.get_or_load("ada", "p1", load(1)).await, Ok(1));
        assert_eq!(pages.get_or_load("ada", "p2", load(2)).await, Ok(2));
        assert_eq!(positions.get_or_load("ada", "x", load(3)).await, Ok(3));
        assert_eq!(pages.get_or_load("bob", "p1", load(4)).await, Ok(4));
        // Cached: the loaders are not consulted.
        assert_eq!(pages.get_or_load("ada", "p1", load(0)).await, Ok(1));

        pages.invalidate("ada").await;
        assert_eq!(pages.get_or_load("ada", "p1", load(10)).await, Ok(10));
        assert_eq!(pages.get_or_load("ada", "p2", load(20)).await, Ok(20));
        // Same scope group: positions went too.
        assert_eq!(positions.get_or_load("ada", "x", load(30)).await, Ok(30));
        assert_eq!(pages.get_or_load("bob", "p1", load(0)).await, Ok(4));
    }
}
