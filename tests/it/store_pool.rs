//! The Postgres pool never hands out a connection left inside a
//! transaction block (what a request dropped during sqlx 0.9.0's
//! `Pool::begin` leaves behind, transact-rs/sqlx#4393): its next statements
//! would join a transaction nobody commits, and an answered write would be
//! lost.

use tradesense_core::store::testing::TestDatabase;
use tradesense_core::store::{Db, DbOptions, SqlStore};

#[tokio::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL (.ci/run does)"]
async fn a_connection_left_inside_a_transaction_is_not_handed_out_again() {
    let database = TestDatabase::postgres()
        .await
        .expect("TEST_DATABASE_URL is set for this test");
    // One connection, so the next acquire would get the same one.
    let store = SqlStore::connect(&DbOptions::new(&database.url).max_connections(1))
        .await
        .unwrap();
    let Db::Postgres(pool) = store.db() else {
        panic!("a Postgres URL opens a Postgres pool")
    };
    sqlx::query("CREATE TABLE probe (n INT)")
        .execute(pool)
        .await
        .unwrap();
    {
        let mut conn = pool.acquire().await.unwrap();
        // What a cancelled `begin()` leaves: the server inside a block that
        // sqlx does not know about.
        sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    }
    sqlx::query("INSERT INTO probe VALUES (1)")
        .execute(pool)
        .await
        .unwrap();
    // Seen from another connection: the write committed.
    let other = SqlStore::connect(&DbOptions::new(&database.url))
        .await
        .unwrap();
    let Db::Postgres(other) = other.db() else {
        panic!("a Postgres URL opens a Postgres pool")
    };
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM probe")
        .fetch_one(other)
        .await
        .unwrap();
    assert_eq!(rows, 1, "the insert ran inside the stale transaction");
}
