//! `CachedMfaStore` over the SQL store on every backend: "is MFA on" is
//! answered from the cache, and enabling or disabling through the
//! decorator forgets the answer; writes behind its back are not seen
//! until then.
use super::*;
use crate::cache::CacheConfig;
use crate::store::testing::TestDatabase;

#[tokio::test]
async fn mfa_enabled_is_cached_and_enable_and_disable_invalidate() {
    for db in TestDatabase::all().await {
        let inner = Arc::new(db.store.clone());
        let cached = CachedMfaStore::new(inner.clone(), &Cache::in_process(CacheConfig::default()));
        let id = Uuid::now_v7();
        let now = Utc::now();
        assert!(!cached.mfa_enabled(id).await.unwrap());

        // Enabled behind the decorator's back: the cached answer stands.
        assert!(inner.set_pending_secret(id, b"one", now).await.unwrap());
        assert!(inner.enable_mfa(id, b"one", 1, &[], now).await.unwrap());
        assert!(!cached.mfa_enabled(id).await.unwrap(), "{db:?}: cached");

        // Disabled through it: forgotten, the next read is the database's.
        assert!(cached.disable_mfa(id, now).await.unwrap());
        assert!(!cached.mfa_enabled(id).await.unwrap());
        // (The database says off, and so does the cache now: prove it is
        // cached again by enabling behind its back once more.)
        assert!(inner.set_pending_secret(id, b"two", now).await.unwrap());
        assert!(inner.enable_mfa(id, b"two", 2, &[], now).await.unwrap());
        assert!(!cached.mfa_enabled(id).await.unwrap(), "{db:?}: cached");
        assert!(inner.disable_mfa(id, now).await.unwrap());

        // Enabled through it: forgotten.
        assert!(cached.set_pending_secret(id, b"three", now).await.unwrap());
        assert!(cached.enable_mfa(id, b"three", 3, &[], now).await.unwrap());
        assert!(cached.mfa_enabled(id).await.unwrap(), "{db:?}: invalidated");

        // Disabled behind its back, then through it (a no-op write that
        // still invalidates): the database's answer.
        assert!(inner.disable_mfa(id, now).await.unwrap());
        assert!(cached.mfa_enabled(id).await.unwrap(), "{db:?}: cached");
        assert!(!cached.disable_mfa(id, now).await.unwrap());
        assert!(
            !cached.mfa_enabled(id).await.unwrap(),
            "{db:?}: invalidated"
        );
    }
}
