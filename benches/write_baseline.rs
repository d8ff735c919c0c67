//! The database's own limit for a trade write (issue 14): the transaction
//! `POST /api/v1/trades` runs for a buy into a portfolio, issued straight
//! through sqlx by `--connections` concurrent tasks for `--duration`
//! seconds, on a fresh SQLite file (the server's pool and pragmas:
//! `SqlStore::connect`) and, when `TEST_DATABASE_URL` is set, a throwaway
//! PostgreSQL database. No HTTP, no JSON, no auth, no fold: the values are
//! computed inline. Statements, in the server's order (`trading/sql.rs`,
//! `append_sql.rs`): `BEGIN IMMEDIATE` (SQLite, queued on the store's
//! write turn like the server's writers) or `BEGIN`; the portfolio check
//! (`FOR UPDATE` on PostgreSQL); `INSERT INTO trades ... RETURNING`; the
//! is-it-the-newest probe; the open round trip; the position; the position
//! upsert; the round trip's update; `COMMIT`.
//!
//! `--store` measures `TradingStore::create_trade` instead (the real write
//! path with its fold, still without HTTP), and `--history N` first files
//! N trades into the portfolio's symbol (plain inserts, then one write
//! that folds them): the write cost at history 0 against 10 000.
//!
//! Prints one line per backend: `WRITE <backend> <req/s> <p50 ms> <p99 ms>
//! <max ms> <errors> <writes>` (what benches/e2e.sh reads). Run:
//! `cargo bench --bench write_baseline -- --connections 64 --duration 5`.

use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tradesense_core::store::testing::{TestDatabase, insert_bare_user};
use tradesense_core::store::{DbDecimal, DbOptions, SqlStore, to_micros};
use tradesense_core::trading::{NewTrade, Side, Tags, TradingStore};
use uuid::Uuid;

struct Args {
    connections: usize,
    duration: Duration,
    history: usize,
    store: bool,
    backends: Vec<String>,
}

fn args() -> Args {
    let mut args = Args {
        connections: 16,
        duration: Duration::from_secs(2),
        history: 0,
        store: false,
        backends: vec!["sqlite".into(), "postgres".into()],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match arg.as_str() {
            "--connections" => args.connections = value().parse().expect("a count"),
            "--duration" => {
                args.duration = Duration::from_secs_f64(value().parse().expect("seconds"))
            }
            "--history" => args.history = value().parse().expect("a count"),
            "--store" => args.store = true,
            "--backend" => args.backends = vec![value()],
            "--bench" => {} // cargo bench's own flag
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn buy(user: Uuid, portfolio: Uuid) -> NewTrade {
    NewTrade {
        user_id: user,
        symbol: "AAPL".parse().unwrap(),
        side: Side::Buy,
        quantity: "1".parse().unwrap(),
        price: "100".parse().unwrap(),
        fees: "0".parse().unwrap(),
        multiplier: Default::default(),
        executed_at: None,
        portfolio_id: Some(portfolio),
        notes: None,
        tags: Tags::new(),
        import_id: None,
    }
}

const TRADE_COLUMNS: &str = "id, user_id, portfolio_id, symbol, side, quantity, price, fees, \
     executed_at, notes, tags, import_id, created_at";

/// Files `n` buys one second apart, ending an hour ago, with plain inserts
/// (the history a real user built over time; folded by the next write).
async fn seed(store: &SqlStore, user: Uuid, portfolio: Uuid, n: usize) {
    let start = chrono::Utc::now() - chrono::Duration::seconds(3600 + n as i64);
    let sql = format!(
        "INSERT INTO trades ({TRADE_COLUMNS}) VALUES ($1, $2, $3, 'AAPL', 'buy', $4, $5, $6, $7, NULL, '[]', NULL, $8)"
    );
    tradesense_core::with_pool!(store.db(), |pool| {
        let mut tx = pool.begin().await.unwrap();
        for i in 0..n {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(Uuid::now_v7())
                .bind(user)
                .bind(portfolio)
                .bind(DbDecimal(Decimal::ONE))
                .bind(DbDecimal(Decimal::ONE_HUNDRED))
                .bind(DbDecimal(Decimal::ZERO))
                .bind(to_micros(start + chrono::Duration::seconds(i as i64)))
                .bind(to_micros(chrono::Utc::now()))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    });
}

/// The server's transaction for a buy of 1 at 100 into `portfolio`, with
/// the arithmetic inline.
async fn direct_write(store: &SqlStore, user: Uuid, portfolio: Uuid) -> Result<(), sqlx::Error> {
    let postgres = store.backend() == tradesense_core::store::Backend::Postgres;
    let (begin, lock) = if postgres {
        (
            "BEGIN",
            "SELECT id FROM portfolios WHERE id = $1 AND user_id = $2 FOR UPDATE",
        )
    } else {
        (
            "BEGIN IMMEDIATE",
            "SELECT id FROM portfolios WHERE id = $1 AND user_id = $2",
        )
    };
    let insert = format!(
        "INSERT INTO trades ({TRADE_COLUMNS}) VALUES ($1, $2, $3, 'AAPL', 'buy', $4, $5, $6, $7, NULL, '[]', NULL, $8) \
         RETURNING {TRADE_COLUMNS}"
    );
    let _turn = store.write_turn().await;
    tradesense_core::with_pool!(store.db(), |pool| {
        let mut tx = pool.begin_with(begin).await?;
        sqlx::query(lock)
            .bind(portfolio)
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
        let id = Uuid::now_v7();
        let at = to_micros(chrono::Utc::now());
        sqlx::query(sqlx::AssertSqlSafe(insert))
            .bind(id)
            .bind(user)
            .bind(portfolio)
            .bind(DbDecimal(Decimal::ONE))
            .bind(DbDecimal(Decimal::ONE_HUNDRED))
            .bind(DbDecimal(Decimal::ZERO))
            .bind(at)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
        let newer: Option<(Uuid,)> = sqlx::query_as(
            "SELECT id FROM trades WHERE portfolio_id = $1 AND symbol = $2 \
             AND executed_at >= $3 AND (executed_at > $3 OR id > $4) LIMIT 1",
        )
        .bind(portfolio)
        .bind("AAPL")
        .bind(at)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        // Never true here (as in the server, "now" is taken under the lock).
        let _ = newer;
        let (trip, bought, buy_value, cost): (Uuid, DbDecimal, DbDecimal, DbDecimal) =
            sqlx::query_as(
                "SELECT id, bought, buy_value, book_cost FROM round_trips WHERE user_id = $1 \
                 AND symbol = $2 AND portfolio_id = $3 AND closed_at IS NULL",
            )
            .bind(user)
            .bind("AAPL")
            .bind(portfolio)
            .fetch_one(&mut *tx)
            .await?;
        let (quantity, realized): (DbDecimal, DbDecimal) = sqlx::query_as(
            "SELECT quantity, realized_pnl FROM positions WHERE portfolio_id = $1 AND symbol = $2",
        )
        .bind(portfolio)
        .bind("AAPL")
        .fetch_one(&mut *tx)
        .await?;
        let quantity = quantity.0 + Decimal::ONE;
        let cost = cost.0 + Decimal::ONE_HUNDRED;
        let average = cost / quantity;
        sqlx::query(
            "INSERT INTO positions (portfolio_id, symbol, quantity, average_cost, realized_pnl, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (portfolio_id, symbol) DO UPDATE SET \
             quantity = excluded.quantity, average_cost = excluded.average_cost, \
             realized_pnl = excluded.realized_pnl, updated_at = excluded.updated_at",
        )
        .bind(portfolio)
        .bind("AAPL")
        .bind(DbDecimal(quantity))
        .bind(DbDecimal(average))
        .bind(realized)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let bought = bought.0 + Decimal::ONE;
        let buy_value = buy_value.0 + Decimal::ONE_HUNDRED;
        sqlx::query(
            "UPDATE round_trips SET status = 'open', closed_at = NULL, quantity = $2, bought = $2, \
             average_entry = $3, buy_value = $4, book_cost = $5, trade_ids = COALESCE($6, trade_ids) \
             WHERE id = $1",
        )
        .bind(trip)
        .bind(DbDecimal(bought))
        .bind(DbDecimal(buy_value / bought))
        .bind(DbDecimal(buy_value))
        .bind(DbDecimal(cost))
        .bind(None::<String>) // still open: its trades are not listed in the row
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

async fn run(name: &str, database: TestDatabase, args: &Args) {
    // The server's pool size (`DATABASE_MAX_CONNECTIONS`' default).
    let store = SqlStore::connect(&DbOptions::new(&database.url).max_connections(20))
        .await
        .unwrap();
    let user = insert_bare_user(&store).await;
    let portfolio = store
        .create_portfolio(
            user,
            &"P".parse().unwrap(),
            &tradesense_core::trading::Currency::usd(),
            Default::default(),
        )
        .await
        .unwrap()
        .id;
    seed(&store, user, portfolio, args.history).await;
    // The first write folds the history and stores what the next resume from.
    let first = Instant::now();
    store.create_trade(buy(user, portfolio)).await.unwrap();
    let first = first.elapsed();
    let deadline = Instant::now() + args.duration;
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let store = store.clone();
        let via_store = args.store;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let start = Instant::now();
                let ok = if via_store {
                    store.create_trade(buy(user, portfolio)).await.is_ok()
                } else {
                    direct_write(&store, user, portfolio).await.is_ok()
                };
                if ok {
                    latencies.push(start.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let started = Instant::now();
    let (mut all, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (latencies, e) = task.await.unwrap();
        all.extend(latencies);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    // Checked, not assumed: every write landed, none partially.
    let (trades,): (i64,) = tradesense_core::with_pool!(store.db(), |pool| {
        sqlx::query_as("SELECT count(*) FROM trades WHERE portfolio_id = $1")
            .bind(portfolio)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    let position = store.positions(user, portfolio).await.unwrap();
    assert_eq!(
        position[0].quantity,
        Decimal::from(trades),
        "every trade in the position"
    );
    store.close().await;
    drop(database);
    let mode = if args.store { "store" } else { "direct" };
    eprintln!(
        "{name} {mode}: history {} (first write {:.1} ms), {} connections, {:.1} s: {} writes, {} trades stored",
        args.history,
        first.as_secs_f64() * 1e3,
        args.connections,
        elapsed,
        all.len(),
        trades
    );
    println!(
        "WRITE {name} {:.1} {:.3} {:.3} {:.3} {errors} {}",
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        all.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        all.len()
    );
}

#[tokio::main]
async fn main() {
    let args = args();
    for backend in &args.backends {
        match backend.as_str() {
            "sqlite" => run("sqlite", TestDatabase::sqlite().await, &args).await,
            "postgres" => match TestDatabase::postgres().await {
                Some(db) => run("postgres", db, &args).await,
                None => eprintln!("postgres: TEST_DATABASE_URL not set, skipped"),
            },
            other => panic!("unknown backend {other}"),
        }
    }
}
