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
use super::sql::{FOLD_TRADES_FROM, POSITIONS_SQL, list_trades_sql};
use super::{Cursor, TradeQuery};
use crate::store::testing::TestDatabase;
use crate::store::{Backend, Db};
use chrono::Utc;
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
        from: None,
        to: None,
        limit: 51,
        after: None,
    }
}

/// (name, SQL, whether it binds a symbol, a portfolio, a cursor) of every
/// query shape on the hot paths.
fn shapes() -> Vec<(&'static str, String)> {
    let mut by_symbol = query();
    by_symbol.symbol = Some("S3".parse().unwrap());
    let mut by_portfolio = query();
    by_portfolio.portfolio_id = Some(Uuid::nil());
    let mut next_page = query();
    next_page.after = Some(Cursor {
        executed_at: Utc::now(),
        id: Uuid::nil(),
    });
    vec![
        ("list newest first", list_trades_sql(&query())),
        ("list by symbol", list_trades_sql(&by_symbol)),
        ("list by portfolio", list_trades_sql(&by_portfolio)),
        ("list next page", list_trades_sql(&next_page)),
        ("positions", POSITIONS_SQL.to_owned()),
        (
            "fold one symbol",
            format!("SELECT {TRADE_COLUMNS} {FOLD_TRADES_FROM}"),
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
        for (name, sql) in shapes() {
            let explain = match backend {
                Backend::Postgres => format!("EXPLAIN {sql}"),
                Backend::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
            };
            // Bind what each shape needs, in the store's order.
            let first = if name == "positions" || name == "fold one symbol" {
                portfolio_id
            } else {
                user_id
            };
            let plan: Vec<String> = crate::with_pool!(db.store.db(), |pool| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(explain)).bind(first);
                match name {
                    "list by symbol" | "fold one symbol" => q = q.bind("S3"),
                    "list by portfolio" => q = q.bind(portfolio_id),
                    "list next page" => q = q.bind(Utc::now()).bind(Uuid::max()),
                    _ => {}
                }
                let rows = q.fetch_all(pool).await.unwrap();
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
