//! The round-trip queries use their indexes: the store's own builder
//! (`push_round_trips`, with its binds) under `EXPLAIN ANALYZE` on
//! PostgreSQL (when `TEST_DATABASE_URL` is set) and `EXPLAIN QUERY PLAN`
//! on SQLite.
//!
//! PostgreSQL: one heavy user with 50 000 round trips (a history of about
//! 100 000 trades: a buy and a sell each) among 199 users with 250 each,
//! tags on a tenth, then `ANALYZE`. The first page of 50 must be an index
//! scan that stops after 51 rows, not a sort of the user's history. The
//! analytics' read of all the user's closed round trips is printed, not
//! asserted (half the table: the planner rightly scans it).

use super::group_sql::push_round_trips;
use super::{Cursor, RoundTripQuery, RoundTripStatus};
use crate::store::testing::TestDatabase;
use crate::store::{Backend, Db};
use chrono::Utc;
use sqlx::QueryBuilder;
use uuid::Uuid;

const SEED_POSTGRES: &[&str] = &[
    "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) \
     SELECT gen_random_uuid(), 'u' || g || '@example.com', 'x', 'x', now(), now() \
     FROM generate_series(1, 200) g",
    "INSERT INTO round_trips (id, user_id, portfolio_id, symbol, status, opened_at, closed_at, \
       quantity, bought, sold, average_entry, average_exit, fees, realized_pnl, holding_seconds, \
       trade_ids, tags) \
     SELECT gen_random_uuid(), u.id, NULL, 'S' || (g % 20), 'closed', \
            now() - g * interval '1 hour', now() - g * interval '1 hour' + interval '5 minutes', \
            1, 1, 1, 1, 1, 0, (g % 7) - 3, 300, '[]', CASE WHEN g % 10 = 0 THEN '[\"t\"]' ELSE '[]' END \
     FROM (SELECT id, row_number() OVER (ORDER BY email) AS n FROM users) u, \
          generate_series(1, 50000) g \
     WHERE u.n = 1 OR g <= 250",
    "INSERT INTO round_trip_tags (round_trip_id, user_id, tag) \
     SELECT id, user_id, 't' FROM round_trips WHERE tags <> '[]'",
    "ANALYZE",
];

fn shapes() -> Vec<(&'static str, RoundTripQuery, bool)> {
    let page = RoundTripQuery {
        limit: 51,
        ..RoundTripQuery::default()
    };
    let with = |f: &dyn Fn(&mut RoundTripQuery)| {
        let mut q = page.clone();
        f(&mut q);
        q
    };
    vec![
        ("round trips newest first", page.clone(), false),
        (
            "round trips by symbol",
            with(&|q| q.symbol = Some("S3".parse().unwrap())),
            false,
        ),
        (
            "round trips closed",
            with(&|q| q.status = Some(RoundTripStatus::Closed)),
            false,
        ),
        (
            "round trips by tag",
            with(&|q| q.tag = Some("t".parse().unwrap())),
            false,
        ),
        (
            "round trips next page",
            with(&|q| {
                q.after = Some(Cursor::new(
                    Utc::now() - chrono::Duration::days(1000),
                    Uuid::max(),
                ))
            }),
            false,
        ),
        (
            "analytics: closed in closing order",
            with(&|q| q.status = Some(RoundTripStatus::Closed)),
            true,
        ),
    ]
}

#[tokio::test]
async fn round_trip_queries_are_index_scans() {
    for db in TestDatabase::all().await {
        let backend = db.store.backend();
        let user_id: Uuid = match db.store.db() {
            Db::Postgres(pool) => {
                for statement in SEED_POSTGRES {
                    sqlx::query(*statement).execute(pool).await.unwrap();
                }
                sqlx::query_scalar(
                    "SELECT user_id FROM round_trips GROUP BY user_id ORDER BY count(*) DESC LIMIT 1",
                )
                .fetch_one(pool)
                .await
                .unwrap()
            }
            Db::Sqlite(_) => Uuid::now_v7(),
        };
        let explain = match backend {
            Backend::Postgres => "EXPLAIN ANALYZE ",
            Backend::Sqlite => "EXPLAIN QUERY PLAN ",
        };
        for (name, query, by_close) in shapes() {
            let plan: Vec<String> = crate::with_pool!(db.store.db(), |pool| {
                let mut sql = QueryBuilder::new(explain);
                push_round_trips(&mut sql, user_id, &query, by_close);
                let rows = sql.build().fetch_all(pool).await.unwrap();
                use sqlx::Row;
                rows.iter()
                    .map(|row| match backend {
                        Backend::Postgres => row.get::<String, _>(0),
                        Backend::Sqlite => row.get::<String, _>(3),
                    })
                    .collect()
            });
            let plan = plan.join("\n");
            match backend {
                // The analytics read every closed round trip of the user:
                // here half the table, where a sequential scan and a sort
                // is the planner's right call; only the pages must seek.
                Backend::Postgres if by_close => {}
                Backend::Postgres => {
                    assert!(plan.contains("Index"), "{name}: {plan}");
                    assert!(!plan.contains("Seq Scan on round_trips "), "{name}: {plan}");
                    if !by_close && name != "round trips by tag" {
                        // The page stops early: no sort of the history.
                        assert!(!plan.contains("Sort Method"), "{name}: {plan}");
                    }
                }
                Backend::Sqlite => {
                    assert!(plan.contains("SEARCH"), "{name}: {plan}");
                    assert!(!plan.contains("SCAN round_trips"), "{name}: {plan}");
                }
            }
            println!("{backend:?} {name}:\n{plan}\n");
        }
    }
}
