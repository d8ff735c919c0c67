//! The Postgres pool's acquire check (`still_outside_a_transaction`): a
//! healthy connection is handed out again, not replaced (that one left
//! inside a transaction block is not: tests/it/store_pool.rs).

use super::testing::TestDatabase;
use super::{DbOptions, SqlStore};

async fn backend_pid(store: &SqlStore) -> i32 {
    crate::with_pool!(store.db(), |pool| {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL"]
async fn a_healthy_connection_is_reused_not_replaced() {
    let db = TestDatabase::postgres()
        .await
        .expect("TEST_DATABASE_URL is set for the ignored tests");
    let store = SqlStore::connect(&DbOptions::new(&db.url).max_connections(1))
        .await
        .unwrap();
    let first = backend_pid(&store).await;
    for _ in 0..5 {
        assert_eq!(
            backend_pid(&store).await,
            first,
            "the connection was replaced"
        );
    }
    store.close().await;
}
