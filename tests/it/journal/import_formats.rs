//! Imports you can trust (issue 20), over HTTP on every backend: each
//! broker's fixture (tests/fixtures/imports/, from the brokers' published
//! layouts) by name and by `format=auto`, rows that are not fills counted
//! in `skipped`, dedupe scoped to (user, portfolio, layout) and freed with
//! the portfolio, and malformed files answered with row errors or a 422,
//! never a 5xx, creating nothing they should not.

use super::support::{User, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/imports/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `(created, duplicates, skipped, errors)` of an import answer.
fn counts(report: &Value) -> (Value, Value, Value, usize) {
    (
        report["created"].clone(),
        report["duplicates"].clone(),
        report["skipped"].clone(),
        report["errors"].as_array().map_or(usize::MAX, Vec::len),
    )
}

/// `(line, field)` pairs of row errors.
type Lines = Vec<(u64, &'static str)>;

/// `(line, field)` of each row error.
fn row_errors(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn journal_import_every_broker_layout_by_name_and_auto() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        // (layout, fixture, query, created, skipped, a trade: symbol, price, fees)
        let cases = [
            (
                "ibkr",
                "ibkr.csv",
                "",
                5,
                1,
                ("MDB260717P00312500", "4.15", "1.3"),
            ),
            ("schwab", "schwab.csv", "", 4, 3, ("AAPL", "210.1", "0")),
            (
                "thinkorswim",
                "thinkorswim.csv",
                "",
                6,
                1,
                ("SPY260821P00600000", "5.15", "0"),
            ),
            (
                "etrade",
                "etrade.csv",
                "",
                4,
                1,
                ("MDB260717P00312500", "6.2", "1.33"),
            ),
            (
                "fidelity",
                "fidelity.csv",
                "",
                4,
                4,
                ("NVDA260710P00195000", "2.35", "2.01"),
            ),
            ("webull", "webull.csv", "", 4, 1, ("TSLA", "318.15", "0")),
            (
                "tradovate",
                "tradovate.csv",
                "",
                4,
                1,
                ("MNQU6", "23498.75", "1.56"),
            ),
            (
                "generic",
                "generic_eu.csv",
                "&decimal=comma&date_format=eu&fee_sign=signed&tz=Europe/Berlin",
                4,
                0,
                ("FESX", "5325", "-0.35"),
            ),
        ];
        for (layout, file, extra, created, skipped, (symbol, price, fees)) in cases {
            let pid = user.portfolio(layout).await;
            let tz = if extra.is_empty() {
                "&tz=America/New_York"
            } else {
                ""
            };
            // `auto` recognises it (a dry run: nothing written).
            let (status, dry) = user
                .send_csv(
                    &format!(
                        "/api/v1/imports?format=auto&dry_run=true&portfolio_id={pid}{tz}{extra}"
                    ),
                    fixture(file),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{layout}: {dry}");
            assert_eq!(dry["format"], layout);
            assert_eq!(
                counts(&dry),
                (json!(created), json!(0), json!(skipped), 0),
                "{layout}: {dry}"
            );
            assert!(user.trades(&format!("portfolio_id={pid}")).await.is_empty());

            let query = format!("/api/v1/imports?format={layout}&portfolio_id={pid}{tz}{extra}");
            let (status, report) = user.send_csv(&query, fixture(file)).await;
            assert_eq!(status, StatusCode::CREATED, "{layout}: {report}");
            assert_eq!(
                counts(&report),
                (json!(created), json!(0), json!(skipped), 0),
                "{layout}"
            );
            let listed = user
                .trades(&format!("portfolio_id={pid}&symbol={symbol}"))
                .await;
            assert!(
                listed
                    .iter()
                    .any(|t| t["price"] == price && t["fees"] == fees),
                "{layout}: {symbol} at {price} with fees {fees} in {listed:?}"
            );
            // Re-importing the file into the same portfolio creates nothing.
            let (_, again) = user.send_csv(&query, fixture(file)).await;
            assert_eq!(
                counts(&again),
                (json!(0), json!(created), json!(skipped), 0),
                "{layout}"
            );
        }
        let history = user.get("/api/v1/imports?limit=100").await;
        let schwab = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["format"] == "schwab")
            .unwrap();
        assert_eq!(schwab["skipped"], 3, "stored with the import");
    })
    .await;
}

#[tokio::test]
async fn journal_import_dedupe_is_per_portfolio_and_layout_and_freed_with_the_portfolio() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let (a, b) = (user.portfolio("A").await, user.portfolio("B").await);
        let generic = "symbol,side,quantity,price,executed_at,id\n\
            KO,buy,10,60,2026-07-01T14:00:00Z,510005\n";
        let query =
            |format: &str, pid: &str| format!("/api/v1/imports?format={format}&portfolio_id={pid}");
        let (_, first) = user.send_csv(&query("generic", &a), generic).await;
        assert_eq!(first["created"], 1, "{first}");
        let (_, again) = user.send_csv(&query("generic", &a), generic).await;
        assert_eq!(
            (again["created"].clone(), again["duplicates"].clone()),
            (json!(0), json!(1))
        );
        // The same broker id in another portfolio is not a duplicate...
        let (_, other) = user.send_csv(&query("generic", &b), generic).await;
        assert_eq!(other["created"], 1, "{other}");
        // ... nor without a portfolio ...
        let (_, loose) = user
            .send_csv("/api/v1/imports?format=generic", generic)
            .await;
        assert_eq!(loose["created"], 1, "{loose}");
        // ... nor in another broker's file (IBKR's TradeID 510005).
        let ibkr = "Symbol,TradeID,DateTime,Quantity,TradePrice,IBCommission,Buy/Sell\n\
            KO,510005,20260701;100000,10,60,-1,BUY\n";
        let (_, from_ibkr) = user
            .send_csv(&format!("{}&tz=America/New_York", query("ibkr", &a)), ibkr)
            .await;
        assert_eq!(from_ibkr["created"], 1, "{from_ibkr}");
        assert_eq!(user.trades(&format!("portfolio_id={a}")).await.len(), 2);

        // Deleting portfolio A frees its keys (its trades went with it).
        let keys_of = |pid: String| {
            let store = app.database.store.clone();
            async move {
                let pid: uuid::Uuid = pid.parse().unwrap();
                let n: i64 = tradesense_core::with_pool!(store.db(), |pool| {
                    sqlx::query_scalar("SELECT COUNT(*) FROM import_keys WHERE portfolio_id = $1")
                        .bind(pid)
                        .fetch_one(pool)
                        .await
                        .unwrap()
                });
                n
            }
        };
        assert_eq!(keys_of(a.clone()).await, 2);
        let (status, _) = user
            .send(Method::DELETE, &format!("/api/v1/portfolios/{a}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(keys_of(a.clone()).await, 0, "freed");
        assert_eq!(keys_of(b.clone()).await, 1, "B keeps its own");
        let history = user.get("/api/v1/imports?limit=100").await;
        assert_eq!(
            history["items"].as_array().unwrap().len(),
            5,
            "the history stays"
        );

        // A big file (over 2 000 keys) reads its scope's keys in one pass:
        // still per portfolio.
        let big: String = std::iter::once("symbol,side,quantity,price,executed_at,id\n".to_owned())
            .chain((0..2100).map(|i| format!("BIG,buy,1,10,2026-07-02T14:00:00Z,B-{i}\n")))
            .collect();
        let (_, into_b) = user.send_csv(&query("generic", &b), big.clone()).await;
        assert_eq!(into_b["created"], 2100, "{}", into_b["errors"]);
        let (_, loose_big) = user
            .send_csv("/api/v1/imports?format=generic", big.clone())
            .await;
        assert_eq!(loose_big["created"], 2100);
        let (_, b_again) = user.send_csv(&query("generic", &b), big).await;
        assert_eq!(
            (b_again["created"].clone(), b_again["duplicates"].clone()),
            (json!(0), json!(2100))
        );

        // Deleting an import frees its keys: the file imports again.
        let (status, _) = user
            .send(
                Method::DELETE,
                &format!("/api/v1/imports/{}", other["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, back) = user.send_csv(&query("generic", &b), generic).await;
        assert_eq!(back["created"], 1, "{back}");
    })
    .await;
}

#[tokio::test]
async fn journal_import_never_misreads_a_malformed_file() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let header = "symbol,side,quantity,price,executed_at\n";
        // (body, created, [(line, field)]): row errors, the rest imports.
        let cases: Vec<(String, u64, Lines)> = vec![
            // A decimal comma is never read as a thousands separator.
            (format!("{header}A,buy,12,5,2026-07-01T14:00:00Z\nA,buy,\"12,5\",5,2026-07-01T14:00:00Z\nA,buy,\"1.234,50\",5,2026-07-01T14:00:00Z\n"), 1, vec![(3, "quantity"), (4, "quantity")]),
            // An unterminated quote is an error of its own line only.
            (format!("{header}\nB,buy,1,\"5,2026-07-01T14:00:00Z\nB,buy,2,5,2026-07-01T14:01:00Z\nB,sell,1,6,2026-07-01T14:02:00Z\n"), 2, vec![(3, "body")]),
            // A negative quantity with an explicit buy contradicts itself.
            (format!("{header}C,buy,-3,5,2026-07-01T14:00:00Z\nC,sell,-3,5,2026-07-01T14:00:00Z\n"), 0, vec![(2, "quantity"), (3, "quantity")]),
            // Multi-line notes keep the line numbers of the file.
            ("symbol,side,quantity,price,executed_at,notes\nD,buy,1,1,2026-07-01T14:00:00Z,\"first\nsecond\"\nD,buy,x,1,2026-07-01T14:00:00Z,\n".to_owned(), 1, vec![(4, "quantity")]),
            // Bytes that are not text, CR line ends, a BOM, a lone header.
            (format!("\u{feff}{header}E,buy,1,1,2026-07-01T14:00:00Z\r\n\u{0}\u{1},\u{7f}\r\n"), 1, vec![(3, "symbol")]),
            (header.to_owned(), 0, vec![]),
        ];
        for (body, created, expected) in cases {
            let (status, report) = user.send_csv("/api/v1/imports?format=generic", body.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{body:?}: {report}");
            assert_eq!(report["created"], created, "{body:?}: {report}");
            let expected: Vec<(u64, String)> =
                expected.into_iter().map(|(l, f)| (l, f.to_owned())).collect();
            assert_eq!(row_errors(&report), expected, "{body:?}");
        }
        let before = user.trades("").await.len();
        // Files nothing imports from: a 422 naming what, and nothing created.
        let invalid: Vec<(&str, Vec<u8>, &str)> = vec![
            ("format=auto", b"when,what,how much\n1,2,3\n".to_vec(), "format"),
            ("format=generic", b"".to_vec(), "body"),
            ("format=generic", b"\"never closed\n".to_vec(), "body"),
            ("format=ibkr&date_format=us", fixture("ibkr.csv").into_bytes(), "date_format"),
            ("format=webull&fee_sign=signed", fixture("webull.csv").into_bytes(), "fee_sign"),
            ("format=generic&decimal=dot", header.as_bytes().to_vec(), "decimal"),
            ("format=generic&date_format=jp", header.as_bytes().to_vec(), "date_format"),
            ("format=schwab", fixture("webull.csv").into_bytes(), "Date"),
            ("format=lse", header.as_bytes().to_vec(), "format"),
            ("format=generic", vec![0xff, 0xfe, 0x00, 0x41], "body"),
        ];
        for (query, body, field) in invalid {
            let response = user
                .client
                .post(format!("{}/api/v1/imports?{query}", user.base))
                .bearer_auth(&user.token)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {problem}");
            assert!(
                problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == field),
                "{query}: {problem}"
            );
        }
        assert_eq!(user.trades("").await.len(), before, "nothing created");
    })
    .await;
}

/// Migration 4006 on a SQLite database written before it: every existing
/// key is kept, scoped to its import's portfolio and layout, and goes with
/// the portfolio. (Postgres' 4006 alters the table in place and runs in
/// every Postgres test database, on empty tables.)
#[tokio::test]
async fn journal_import_scope_migration_keeps_existing_keys_scoped() {
    use sqlx::Executor;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db?mode=rwc", dir.path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
    let mut files: Vec<std::path::PathBuf> = ["users", "trading"]
        .iter()
        .flat_map(|set| std::fs::read_dir(format!("{root}/{set}")).unwrap())
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort_by_key(|p| p.file_name().unwrap().to_owned());
    let (before, after): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|p| p.file_name().unwrap().to_str().unwrap() < "4006");
    for file in &before {
        pool.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(
            std::fs::read_to_string(file).unwrap(),
        )))
        .await
        .unwrap();
    }
    pool.execute(
        "PRAGMA foreign_keys = ON;
         INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at)
             VALUES (X'01', 'a@example.com', 'h', 'A', '2026-07-01', '2026-07-01');
         INSERT INTO portfolios VALUES (X'0A', X'01', 'P', 'USD', '2026-07-01');
         INSERT INTO imports (id, user_id, format, portfolio_id, rows, created, duplicates, errors, created_at)
             VALUES (X'A1', X'01', 'ibkr', X'0A', 1, 1, 0, '[]', '2026-07-01'),
                    (X'A2', X'01', 'generic', NULL, 1, 1, 0, '[]', '2026-07-01');
         INSERT INTO import_keys VALUES (X'01', 'id:1', X'A1'), (X'01', 'id:2', X'A2');",
    )
    .await
    .unwrap();
    let scope_file = after
        .iter()
        .find(|p| p.ends_with("4006_import_scope.sql"))
        .unwrap();
    pool.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(
        std::fs::read_to_string(scope_file).unwrap(),
    )))
    .await
    .unwrap();
    let keys: Vec<(Option<Vec<u8>>, String, String)> =
        sqlx::query_as("SELECT portfolio_id, format, key FROM import_keys ORDER BY key")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        keys,
        [
            (Some(vec![0x0A]), "ibkr".to_owned(), "id:1".to_owned()),
            (None, "generic".to_owned(), "id:2".to_owned()),
        ]
    );
    // One key per scope, "no portfolio" included.
    let again = "INSERT INTO import_keys VALUES (X'01', NULL, 'generic', 'id:2', X'A2')";
    assert!(pool.execute(again).await.is_err());
    pool.execute("DELETE FROM portfolios").await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM import_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "the portfolio's key went with it");
}
