//! The trading queries use their indexes: the store's own SQL text, run
//! through `EXPLAIN` on PostgreSQL (when `TEST_DATABASE_URL` is set) and
//! `EXPLAIN QUERY PLAN` on SQLite.
//!
//! PostgreSQL: 200 users with 100 trades each (20 000 rows) and 20
//! positions each, then `ANALYZE`, so the planner chooses on real
//! statistics; nothing is forced (`enable_seqscan` stays on). One user's
//! rows are 0.5 % of the table, about the selectivity of a real tenant.
//! SQLite plans without statistics; its planner still must SEARCH by index
//! rather than SCAN the table.

use super::rows::TRADE_COLUMNS;
use super::sql::{FOLD_TRADES_FROM, POSITIONS_SQL, push_list_trades};
use super::{Cursor, TradeQuery};
use crate::store::testing::TestDatabase;
use crate::store::{Backend, Db};
use chrono::Utc;
use sqlx::QueryBuilder;
use uuid::Uuid;

const SEED_POSTGRES: &[&str] = &[
    "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) \
     SELECT gen_random_uuid(), 'u' || g || '@example.com', 'x', 'x', now(), now() \
     FROM generate_series(1, 200) g",
    "INSERT INTO portfolios (id, user_id, name, base_currency, created_at) \
     SELECT gen_random_uuid(), id, 'Main', 'USD', now() FROM users",
    "INSERT INTO trades (id, user_id, portfolio_id, symbol, side, quantity, price, fees, executed_at, created_at) \
     SELECT gen_random_uuid(), p.user_id, p.id, 'S' || (g % 20), 'buy', 1, 1, 0, \
            now() - g * interval '1 minute', now() \
     FROM portfolios p, generate_series(1, 100) g",
    "INSERT INTO positions (portfolio_id, symbol, quantity, average_cost, realized_pnl, updated_at) \
     SELECT p.id, 'S' || g, 5, 1, 0, now() FROM portfolios p, generate_series(0, 19) g",
    "ANALYZE",
];

fn query() -> TradeQuery {
    TradeQuery {
        symbol: None,
        portfolio_id: None,
        tag: None,
        from: None,
        to: None,
        limit: 51,
        after: None,
    }
}

/// A query on a hot path: a trade listing (built by the store's own
/// builder, with its binds) or one of the fixed statements.
enum Shape {
    List(TradeQuery),
    Positions,
    Fold,
    /// An append's statement on a group's trades (binds: the group key,
    /// symbol, a time, an id), with a portfolio or without.
    Append(&'static str, bool),
}

/// (name, shape) of every query shape on the hot paths.
fn shapes(portfolio_id: Uuid) -> Vec<(&'static str, Shape)> {
    let mut by_symbol = query();
    by_symbol.symbol = Some("S3".parse().unwrap());
    let mut by_portfolio = query();
    by_portfolio.portfolio_id = Some(portfolio_id);
    let mut next_page = query();
    next_page.after = Some(Cursor::new(Utc::now(), Uuid::max()));
    vec![
        ("list newest first", Shape::List(query())),
        ("list by symbol", Shape::List(by_symbol)),
        ("list by portfolio", Shape::List(by_portfolio)),
        ("list next page", Shape::List(next_page)),
        ("positions", Shape::Positions),
        ("fold one symbol", Shape::Fold),
        (
            "append: newest probe",
            Shape::Append(super::append_sql::append_sql(true).0, true),
        ),
        (
            "append: newest probe, no portfolio",
            Shape::Append(super::append_sql::append_sql(false).0, false),
        ),
        (
            "open round trip's trades",
            Shape::Append(super::append_sql::trip_ids_sql(true), true),
        ),
        (
            "open round trip's trades, no portfolio",
            Shape::Append(super::append_sql::trip_ids_sql(false), false),
        ),
    ]
}

#[tokio::test]
async fn hot_queries_are_index_scans() {
    for db in TestDatabase::all().await {
        let backend = db.store.backend();
        let (user_id, portfolio_id): (Uuid, Uuid) = match db.store.db() {
            Db::Postgres(pool) => {
                for statement in SEED_POSTGRES {
                    sqlx::query(*statement).execute(pool).await.unwrap();
                }
                sqlx::query_as("SELECT user_id, id FROM portfolios LIMIT 1")
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
            Db::Sqlite(_) => (Uuid::now_v7(), Uuid::now_v7()),
        };
        let explain = match backend {
            Backend::Postgres => "EXPLAIN ",
            Backend::Sqlite => "EXPLAIN QUERY PLAN ",
        };
        for (name, shape) in shapes(portfolio_id) {
            let plan: Vec<String> = crate::with_pool!(db.store.db(), |pool| {
                let rows = match &shape {
                    Shape::List(listing) => {
                        let mut sql = QueryBuilder::new(explain);
                        push_list_trades(&mut sql, user_id, listing);
                        sql.build().fetch_all(pool).await.unwrap()
                    }
                    Shape::Positions => {
                        sqlx::query(sqlx::AssertSqlSafe(format!("{explain}{POSITIONS_SQL}")))
                            .bind(portfolio_id)
                            .fetch_all(pool)
                            .await
                            .unwrap()
                    }
                    Shape::Fold => sqlx::query(sqlx::AssertSqlSafe(format!(
                        "{explain}SELECT {TRADE_COLUMNS} {FOLD_TRADES_FROM}"
                    )))
                    .bind(portfolio_id)
                    .bind("S3")
                    .fetch_all(pool)
                    .await
                    .unwrap(),
                    Shape::Append(sql, filed) => {
                        sqlx::query(sqlx::AssertSqlSafe(format!("{explain}{sql}")))
                            .bind(if *filed { portfolio_id } else { user_id })
                            .bind("S3")
                            .bind(Utc::now() - chrono::Duration::hours(1))
                            .bind(Uuid::now_v7())
                            .fetch_all(pool)
                            .await
                            .unwrap()
                    }
                };
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
                Backend::Postgres => {
                    assert!(plan.contains("Index"), "{name}: {plan}");
                    assert!(!plan.contains("Seq Scan"), "{name}: {plan}");
                    if name == "list next page" {
                        assert!(
                            plan.contains("Index Cond: ((user_id = ")
                                && plan.contains("AND (executed_at <="),
                            "{name}: {plan}"
                        );
                    }
                }
                Backend::Sqlite => {
                    assert!(plan.contains("SEARCH"), "{name}: {plan}");
                    assert!(
                        !plan.contains("SCAN trades") && !plan.contains("SCAN positions"),
                        "{name}: {plan}"
                    );
                }
            }
            println!("{backend:?} {name}:\n{plan}\n");
        }
    }
}
