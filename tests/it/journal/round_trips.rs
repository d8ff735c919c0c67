//! Round trips derived from the executions, over HTTP.

use super::support::{User, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The worked example of `analytics.rs` too: one closed and one open AAPL
/// round trip in a portfolio, one closed MSFT round trip without one.
pub async fn worked_example(user: &User) -> (String, Vec<Value>) {
    let pid = user.portfolio("Main").await;
    let t = |symbol: &str,
             side: &str,
             q: &str,
             p: &str,
             f: &str,
             at: &str,
             tags: Value,
             pid: Option<&str>| {
        json!({"symbol": symbol, "side": side, "quantity": q, "price": p, "fees": f,
            "executed_at": at, "tags": tags, "portfolio_id": pid})
    };
    let p = Some(pid.as_str());
    let mut trades = Vec::new();
    for body in [
        t(
            "AAPL",
            "buy",
            "10",
            "100",
            "1",
            "2026-03-02T14:30:00Z",
            json!(["Breakout"]),
            p,
        ),
        t(
            "AAPL",
            "buy",
            "10",
            "110",
            "1",
            "2026-03-02T15:00:00Z",
            json!([]),
            p,
        ),
        t(
            "AAPL",
            "sell",
            "5",
            "120",
            "1",
            "2026-03-02T16:00:00Z",
            json!(["scalp"]),
            p,
        ),
        t(
            "AAPL",
            "sell",
            "15",
            "90",
            "1",
            "2026-03-02T17:00:00Z",
            json!([]),
            p,
        ),
        t(
            "AAPL",
            "buy",
            "3",
            "50",
            "0",
            "2026-03-03T10:00:00Z",
            json!([]),
            p,
        ),
        t(
            "MSFT",
            "buy",
            "1",
            "10",
            "0",
            "2026-03-02T20:00:00Z",
            json!([]),
            None,
        ),
        t(
            "MSFT",
            "sell",
            "1",
            "13",
            "0.5",
            "2026-03-03T03:30:00Z",
            json!([]),
            None,
        ),
    ] {
        trades.push(user.trade(body).await);
    }
    (pid, trades)
}

#[tokio::test]
async fn journal_round_trips_follow_the_fold() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let (pid, trades) = worked_example(&user).await;
        let ids = |range: std::ops::Range<usize>| -> Value {
            json!(
                trades[range]
                    .iter()
                    .map(|t| t["id"].clone())
                    .collect::<Vec<_>>()
            )
        };
        let page = user.get("/api/v1/round-trips").await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{page}");
        // Newest opened first: AAPL open (03-03 10:00), MSFT (03-02 20:00), AAPL closed.
        let (open, msft, closed) = (&items[0], &items[1], &items[2]);
        assert_eq!(closed["id"], trades[0]["id"]);
        assert_eq!(closed["portfolio_id"], json!(pid));
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["opened_at"], "2026-03-02T14:30:00Z");
        assert_eq!(closed["closed_at"], "2026-03-02T17:00:00Z");
        for (field, value) in [
            ("quantity", "20"),
            ("bought", "20"),
            ("sold", "20"),
            ("average_entry", "105"),
            ("average_exit", "97.5"),
            ("fees", "4"),
            ("realized_pnl", "-154"),
        ] {
            assert_eq!(closed[field], value, "{field}: {closed}");
        }
        assert_eq!(closed["holding_seconds"], 9000);
        assert_eq!(closed["trade_ids"], ids(0..4));
        assert_eq!(closed["tags"], json!(["breakout", "scalp"]));
        assert_eq!(open["status"], "open");
        assert_eq!(open["average_exit"], json!(null));
        assert_eq!(open["holding_seconds"], json!(null));
        assert_eq!(open["closed_at"], json!(null));
        assert_eq!(open["realized_pnl"], "0");
        assert_eq!(open["trade_ids"], ids(4..5));
        assert_eq!(msft["portfolio_id"], json!(null));
        assert_eq!(msft["realized_pnl"], "2.5");

        // Filters and pagination.
        let only = |q: &str| {
            let user = &user;
            let q = q.to_owned();
            async move {
                let page = user.get(&format!("/api/v1/round-trips?{q}")).await;
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].clone())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(only("status=open").await, vec![open["id"].clone()]);
        assert_eq!(only("symbol=msft").await, vec![msft["id"].clone()]);
        assert_eq!(only("tag=scalp").await, vec![closed["id"].clone()]);
        assert_eq!(
            only(&format!("portfolio_id={pid}&status=closed")).await,
            vec![closed["id"].clone()]
        );
        assert_eq!(
            only("from=2026-03-03T00:00:00Z").await,
            vec![open["id"].clone(), msft["id"].clone()]
        );
        assert_eq!(
            only("to=2026-03-02T23:00:00Z").await,
            vec![closed["id"].clone()]
        );
        let first = user.get("/api/v1/round-trips?limit=2").await;
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let cursor = first["next_cursor"].as_str().unwrap();
        let rest = user
            .get(&format!("/api/v1/round-trips?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(rest["items"][0]["id"], closed["id"]);
        assert_eq!(rest["next_cursor"], json!(null));
        for bad in ["status=done", "limit=0", "cursor=x", "tz=Mars/Base"] {
            let (status, problem) = user
                .send(Method::GET, &format!("/api/v1/round-trips?{bad}"), None)
                .await;
            if bad.starts_with("tz") {
                assert_eq!(status, StatusCode::OK, "tz is not a listing parameter");
            } else {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
            }
        }

        // Edits and deletes keep them exact: the closing sell moves after
        // the open buy, so the history is one open round trip.
        let closing = format!("/api/v1/trades/{}", trades[3]["id"].as_str().unwrap());
        user.ok(
            Method::PATCH,
            &closing,
            Some(json!({"executed_at": "2026-03-04T00:00:00Z"})),
        )
        .await;
        let aapl = user.get("/api/v1/round-trips?symbol=AAPL").await;
        assert_eq!(aapl["items"].as_array().unwrap().len(), 1, "{aapl}");
        assert_eq!(aapl["items"][0]["status"], "open");
        assert_eq!(
            aapl["items"][0]["quantity"], "20",
            "the largest position reached"
        );
        user.ok(Method::PATCH, &closing, Some(json!({"quantity": "18"})))
            .await;
        let aapl = user.get("/api/v1/round-trips?symbol=AAPL").await;
        assert_eq!(aapl["items"][0]["status"], "closed", "{aapl}");
        assert_eq!(
            aapl["items"][0]["trade_ids"],
            json!([
                trades[0]["id"],
                trades[1]["id"],
                trades[2]["id"],
                trades[4]["id"],
                trades[3]["id"]
            ])
        );
        let (status, _) = user
            .send(
                Method::DELETE,
                &format!("/api/v1/trades/{}", trades[0]["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a later sell would oversell"
        );
        user.ok(Method::DELETE, &closing, None).await;
        let aapl = user.get("/api/v1/round-trips?symbol=AAPL").await;
        assert_eq!(aapl["items"][0]["status"], "open");
        assert_eq!(aapl["items"][0]["quantity"], "20");
        assert_eq!(aapl["items"][0]["bought"], "23");

        // Trades without a portfolio fold too: an oversell is refused.
        let (status, problem) = user
            .send(
                Method::POST,
                "/api/v1/trades",
                Some(json!({"symbol": "MSFT", "side": "sell", "quantity": 1, "price": 1})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], "insufficient_position");

        // Another user sees none of it.
        let other = User::new(&app).await;
        assert_eq!(other.get("/api/v1/round-trips").await["items"], json!([]));
    })
    .await;
}

/// Many concurrent buys and sells of one group (a portfolio's symbol, and
/// the trades without one) end with round trips equal to a re-derivation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_round_trips_stay_exact_under_concurrent_writes() {
    on_every_backend(|app| async move {
        let user = std::sync::Arc::new(User::new(&app).await);
        let pid = user.portfolio("P").await;
        for portfolio in [Some(pid.clone()), None] {
            let mut tasks = Vec::new();
            for i in 0..20 {
                let (user, portfolio) = (user.clone(), portfolio.clone());
                tasks.push(tokio::spawn(async move {
                    let side = if i % 2 == 0 { "buy" } else { "sell" };
                    let body = json!({"symbol": "CONC", "side": side, "quantity": 1, "price": 10 + i,
                        "portfolio_id": portfolio});
                    user.send(Method::POST, "/api/v1/trades", Some(body)).await.0
                }));
            }
            for task in tasks {
                let status = task.await.unwrap();
                assert!(status == StatusCode::CREATED || status == StatusCode::UNPROCESSABLE_ENTITY);
            }
        }
        let trips = user.get("/api/v1/round-trips?symbol=CONC&limit=500").await;
        let trades = user.get("/api/v1/trades?symbol=CONC&limit=500").await;
        // Every trade is in exactly one round trip, and each group's
        // quantities balance (bought - sold = 0 for closed ones).
        let mut seen: Vec<Value> = Vec::new();
        for trip in trips["items"].as_array().unwrap() {
            seen.extend(trip["trade_ids"].as_array().unwrap().iter().cloned());
            if trip["status"] == "closed" {
                assert_eq!(trip["bought"], trip["sold"], "{trip}");
            }
        }
        assert_eq!(seen.len(), trades["items"].as_array().unwrap().len());
    })
    .await;
}
