//! Imports of broker CSV files over HTTP: formats, aliases, dedupe, dry
//! runs, per-row errors, undo, and local times across DST changes. The
//! fixtures in tests/fixtures/journal/ are hand-written from the brokers'
//! documented column layouts.

use super::support::{User, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/journal/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn import(user: &User, query: &str, file: &str) -> (StatusCode, Value) {
    user.send_csv(&format!("/api/v1/imports?{query}"), fixture(file))
        .await
}

#[tokio::test]
async fn journal_import_generic_dedupes_dry_runs_and_undoes() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let pid = user.portfolio("Broker").await;
        let query = format!("format=generic&portfolio_id={pid}&tz=America/New_York");

        let (status, dry) = import(
            &user,
            &format!("{query}&dry_run=true"),
            "generic_aliases.csv",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{dry}");
        assert_eq!(
            (
                dry["rows"].clone(),
                dry["created"].clone(),
                dry["duplicates"].clone()
            ),
            (json!(4), json!(4), json!(0))
        );
        assert!(user.trades("").await.is_empty(), "a dry run writes nothing");
        assert_eq!(user.get("/api/v1/imports").await["items"], json!([]));

        let (status, first) = import(&user, &query, "generic_aliases.csv").await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first["format"], "generic");
        assert_eq!(
            (
                first["rows"].clone(),
                first["created"].clone(),
                first["errors"].clone()
            ),
            (json!(4), json!(4), json!([]))
        );
        let listed = user.trades("symbol=AAPL").await;
        let opening = listed.last().unwrap();
        assert_eq!(
            opening["executed_at"], "2026-03-02T14:30:00Z",
            "09:30 in New York (EST)"
        );
        assert_eq!(opening["fees"], "1", "the commission's sign is ignored");
        assert_eq!(opening["side"], "buy");
        assert_eq!(opening["notes"], "opening drive");
        assert_eq!(opening["tags"], json!(["breakout", "morning"]));
        assert_eq!(opening["import_id"], first["id"]);
        let trip = &user.get("/api/v1/round-trips?symbol=AAPL").await["items"][0];
        assert_eq!(trip["status"], "closed");
        assert_eq!(trip["realized_pnl"], "-3.5");

        // Re-importing creates nothing; the dry run says so too.
        let (_, again) = import(&user, &query, "generic_aliases.csv").await;
        assert_eq!(
            (again["created"].clone(), again["duplicates"].clone()),
            (json!(0), json!(4)),
            "{again}"
        );
        let (_, dry) = import(
            &user,
            &format!("{query}&dry_run=true"),
            "generic_aliases.csv",
        )
        .await;
        assert_eq!(dry["duplicates"], 4);
        assert_eq!(user.trades("").await.len(), 4);
        let history = user.get("/api/v1/imports").await;
        let ids: Vec<&Value> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["id"])
            .collect();
        assert_eq!(ids, vec![&again["id"], &first["id"]], "newest first");
        let page = user.get("/api/v1/imports?limit=1").await;
        let cursor = page["next_cursor"].as_str().unwrap();
        assert_eq!(
            user.get(&format!("/api/v1/imports?limit=1&cursor={cursor}"))
                .await["items"][0]["id"],
            first["id"]
        );

        // Undo: the trades and round trips go; the file imports again.
        let (status, _) = user
            .send(
                Method::DELETE,
                &format!("/api/v1/imports/{}", first["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(user.trades("").await.is_empty());
        assert_eq!(user.get("/api/v1/round-trips").await["items"], json!([]));
        let (status, _) = user
            .send(
                Method::DELETE,
                &format!("/api/v1/imports/{}", first["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, back) = import(&user, &query, "generic_aliases.csv").await;
        assert_eq!(back["created"], 4);

        // Undo is refused while a later sell needs the import's buys.
        user.trade(
            json!({"symbol": "MSFT", "side": "sell", "quantity": 5, "price": 410,
            "portfolio_id": pid, "executed_at": "2026-03-04T15:00:00Z"}),
        )
        .await;
        let (status, problem) = user
            .send(
                Method::DELETE,
                &format!("/api/v1/imports/{}", back["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], "insufficient_position");
        assert_eq!(user.trades("").await.len(), 5, "nothing deleted");

        // Another user's import does not exist for this one.
        let other = User::new(&app).await;
        let (status, _) = other
            .send(
                Method::DELETE,
                &format!("/api/v1/imports/{}", back["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = other
            .send_csv(
                &format!("/api/v1/imports?format=generic&portfolio_id={pid}"),
                fixture("generic_aliases.csv"),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "not their portfolio");
    })
    .await;
}

#[tokio::test]
async fn journal_import_occurrences_order_and_row_errors() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        // Listed newest first, two identical fills without ids: applied in
        // time order (no oversell), both created, and a re-import is empty.
        let (status, first) = import(&user, "format=generic", "generic_newest_first.csv").await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first["created"], 3, "{first}");
        let (_, again) = import(&user, "format=generic", "generic_newest_first.csv").await;
        assert_eq!(
            (again["created"].clone(), again["duplicates"].clone()),
            (json!(0), json!(3))
        );
        // A third identical fill is new: the k-th matches only the k-th.
        let three = "symbol,side,quantity,price,fees,executed_at\n".to_owned()
            + &"TSLA,buy,1,200,0.25,2026-03-05T15:00:00Z\n".repeat(3);
        let (_, more) = user.send_csv("/api/v1/imports?format=generic", three).await;
        assert_eq!(
            (more["created"].clone(), more["duplicates"].clone()),
            (json!(1), json!(2)),
            "{more}"
        );

        // A signed quantity without a side column; times read in UTC (the
        // user's default zone); broker ids under the `Trade_ID` alias.
        let (_, signed) = import(&user, "format=generic", "generic_signed_quantity.csv").await;
        assert_eq!(signed["created"], 2, "{signed}");
        let nvda = user.trades("symbol=NVDA").await;
        assert_eq!(nvda[0]["side"], "sell");
        assert_eq!(nvda[0]["quantity"], "3");
        assert_eq!(nvda[0]["executed_at"], "2026-03-04T13:02:10Z");

        // Per-row errors: each bad row named by its row and column.
        let (status, report) = import(&user, "format=generic", "generic_row_errors.csv").await;
        assert_eq!(status, StatusCode::CREATED, "{report}");
        assert_eq!(report["rows"], 7);
        assert_eq!(report["created"], 2, "{report}");
        let errors: Vec<(u64, String)> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["row"].as_u64().unwrap(),
                    e["field"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            errors,
            vec![
                (3, "side".into()),
                (4, "price".into()),
                (5, "quantity".into()),
                (6, "symbol".into()),
                (7, "executed_at".into()),
            ],
            "each error names its line in the file (the header is line 1)"
        );

        // The whole file is refused when a required column or the format is wrong.
        for (query, file, field) in [
            ("format=generic", "generic_missing_price.csv", "price"),
            ("format=excel", "generic_aliases.csv", "format"),
            ("", "generic_aliases.csv", "format"),
            ("format=ibkr", "generic_aliases.csv", "TradePrice"),
            (
                "format=generic&tz=Nowhere/City",
                "generic_aliases.csv",
                "tz",
            ),
        ] {
            let (status, problem) = import(&user, query, file).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{query} {file}: {problem}"
            );
            let fields: Vec<&str> = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert!(fields.contains(&field), "{query}: {problem}");
        }
        let response = user
            .client
            .post(format!("{}/api/v1/imports?format=generic", user.base))
            .bearer_auth(&user.token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    })
    .await;
}

#[tokio::test]
async fn journal_import_ibkr_flex_trades() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let (status, report) = import(
            &user,
            "format=ibkr&tz=America/New_York",
            "ibkr_flex_trades.csv",
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{report}");
        assert_eq!(
            (
                report["rows"].clone(),
                report["created"].clone(),
                report["errors"].clone()
            ),
            (json!(4), json!(4), json!([])),
            "the repeated header is skipped"
        );
        let spy = user.trades("symbol=SPY").await;
        assert_eq!(
            spy[1]["executed_at"], "2026-03-09T13:35:12Z",
            "09:35:12 EDT, the day after the change"
        );
        assert_eq!(spy[1]["fees"], "1.02");
        assert_eq!(spy[0]["side"], "sell");
        assert_eq!(spy[0]["quantity"], "20");
        let trip = &user.get("/api/v1/round-trips?symbol=SPY").await["items"][0];
        assert_eq!(trip["realized_pnl"], "53.13");
        let qqq = &user.get("/api/v1/round-trips?symbol=QQQ").await["items"][0];
        assert_eq!(qqq["status"], "open");
        let (_, again) = import(
            &user,
            "format=ibkr&tz=America/New_York",
            "ibkr_flex_trades.csv",
        )
        .await;
        assert_eq!(again["duplicates"], 4, "TradeID dedupes");
        let summary = user.get("/api/v1/analytics/summary").await;
        assert_eq!(summary["net_pnl"], "53.13");
    })
    .await;
}

/// 01:30 on New York's fall-back night is read as the first 01:30 (EDT);
/// an offset picks the second; 02:30 on the spring-forward night never
/// happened and is a row error.
#[tokio::test]
async fn journal_import_local_times_across_dst() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let (_, report) = import(
            &user,
            "format=generic&tz=America/New_York",
            "generic_dst_new_york.csv",
        )
        .await;
        assert_eq!(report["created"], 5, "{report}");
        assert_eq!(report["errors"].as_array().unwrap().len(), 1);
        assert_eq!(report["errors"][0]["row"], 3, "line 3 of the file");
        assert_eq!(report["errors"][0]["field"], "executed_at");
        let times: Vec<String> = user
            .trades("")
            .await
            .iter()
            .rev()
            .map(|t| t["executed_at"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            times,
            [
                "2026-03-08T06:59:59Z", // 01:59:59 EST
                "2026-03-08T07:00:00Z", // 03:00 EDT
                "2026-11-01T05:30:00Z", // the first 01:30 (EDT, -04:00)
                "2026-11-01T06:30:00Z", // the second, by its offset
                "2026-11-01T07:30:00Z", // 02:30 EST
            ]
        );
        // The user's zone is the default.
        user.ok(
            Method::PATCH,
            "/api/v1/users/me",
            Some(json!({"timezone": "Europe/Berlin"})),
        )
        .await;
        let one = "symbol,side,quantity,price,executed_at\nBER,buy,1,1,2026-07-01 10:00:00\n";
        user.send_csv("/api/v1/imports?format=generic", one).await;
        assert_eq!(
            user.trades("symbol=BER").await[0]["executed_at"],
            "2026-07-01T08:00:00Z"
        );
    })
    .await;
}

/// Two imports of the same file at once, into two portfolios and then
/// twice into one: dedupe keys are per portfolio, so the first pair both
/// create; the second pair race on the same keys and, whatever the
/// interleaving, no `5xx`, and each row exists once per portfolio (the
/// loser rolls back whole and answers `409 import_conflict`, or runs after
/// the winner and finds duplicates).
#[tokio::test]
async fn journal_concurrent_imports_of_one_file_never_duplicate_or_fail() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let (a, b) = (user.portfolio("A").await, user.portfolio("B").await);
        let query = |pid: &str| format!("format=generic&portfolio_id={pid}&tz=America/New_York");
        let (qa, qb) = (query(&a), query(&b));
        let ((sa, ba), (sb, bb)) = tokio::join!(
            import(&user, &qa, "generic_aliases.csv"),
            import(&user, &qb, "generic_aliases.csv"),
        );
        assert_eq!(
            (sa, sb),
            (StatusCode::CREATED, StatusCode::CREATED),
            "{ba} {bb}"
        );
        assert_eq!(user.trades("").await.len(), 8, "{ba} {bb}");
        let c = user.portfolio("C").await;
        let qc = query(&c);
        let ((s1, b1), (s2, b2)) = tokio::join!(
            import(&user, &qc, "generic_aliases.csv"),
            import(&user, &qc, "generic_aliases.csv"),
        );
        for (status, body) in [(s1, &b1), (s2, &b2)] {
            assert!(
                status == StatusCode::CREATED
                    || (status == StatusCode::CONFLICT && body["code"] == "import_conflict"),
                "{status}: {body}"
            );
        }
        assert_eq!(
            user.trades(&format!("portfolio_id={c}")).await.len(),
            4,
            "{b1} {b2}"
        );
    })
    .await;
}
