//! The journal's accounting over HTTP (issue 20): the contract's worked
//! examples (`tests/fixtures/accounting.json`: shorts, a flip, FIFO, LIFO
//! and average on the same fills, an option, a future) through the real
//! server, partial exits on open round trips, rule changes that refold or
//! refuse, honest trade edits, refusals that name the trade, and amounts
//! printed without division tails.

use super::support::{User, on_every_backend};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a decimal string: {value}"))
        .parse()
        .unwrap()
}

async fn portfolio(user: &User, rules: &Value) -> String {
    let mut body = rules.clone();
    body["name"] = json!("Rules");
    let created = user
        .ok(Method::POST, "/api/v1/portfolios", Some(body))
        .await;
    assert_eq!(created["allow_short"], rules["allow_short"]);
    assert_eq!(created["cost_basis"], rules["cost_basis"]);
    created["id"].as_str().unwrap().to_owned()
}

async fn positions(user: &User, pid: &str) -> Vec<Value> {
    let body = user
        .get(&format!("/api/v1/portfolios/{pid}/positions"))
        .await;
    body["items"].as_array().unwrap().clone()
}

/// The portfolio's round trips, oldest first.
async fn round_trips(user: &User, pid: &str, status: &str) -> Vec<Value> {
    let body = user
        .get(&format!("/api/v1/round-trips?portfolio_id={pid}{status}"))
        .await;
    let mut trips = body["items"].as_array().unwrap().clone();
    trips.reverse();
    trips
}

fn assert_position(found: &Value, expected: &Value, case: &str) {
    assert_eq!(found["symbol"], expected["symbol"], "{case}");
    for field in ["quantity", "average_cost", "realized_pnl"] {
        assert_eq!(
            dec(&found[field]),
            dec(&expected[field]),
            "{case}: {field} of {found}"
        );
    }
}

#[tokio::test]
async fn accounting_worked_examples_over_http() {
    let fixture: Value =
        serde_json::from_str(include_str!("../../fixtures/accounting.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap().clone();
    on_every_backend(|app| {
        let cases = cases.clone();
        async move {
            let user = User::new(&app).await;
            for case in &cases {
                let name = case["id"].as_str().unwrap();
                let pid = portfolio(&user, &case["portfolio"]).await;
                let trades = match &case["trades"] {
                    Value::String(same) => {
                        let other = same.trim_start_matches("same as ");
                        let source = cases.iter().find(|c| c["id"] == other).unwrap();
                        source["trades"].as_array().unwrap().clone()
                    }
                    list => list.as_array().unwrap().clone(),
                };
                for (i, trade) in trades.iter().enumerate() {
                    let mut body = trade.clone();
                    body["portfolio_id"] = json!(pid);
                    let created = user.trade(body).await;
                    assert_eq!(
                        dec(&created["multiplier"]),
                        dec(trade.get("multiplier").unwrap_or(&json!("1")))
                    );
                    if i == 0
                        && let Some(after_first) = case.get("after_first")
                    {
                        let found = positions(&user, &pid).await;
                        assert_position(&found[0], after_first, name);
                    }
                }
                let found = positions(&user, &pid).await;
                let expected = case["positions"].as_array().unwrap();
                assert_eq!(found.len(), expected.len(), "{name}: {found:?}");
                for (found, expected) in found.iter().zip(expected) {
                    assert_position(found, expected, name);
                }
                let trips = round_trips(&user, &pid, "").await;
                let expected = case["round_trips"].as_array().unwrap();
                assert_eq!(trips.len(), expected.len(), "{name}: {trips:?}");
                for (found, expected) in trips.iter().zip(expected) {
                    assert_eq!(found["direction"], expected["direction"], "{name}");
                    assert_eq!(found["status"], expected["status"], "{name}");
                    assert_eq!(
                        dec(&found["realized_pnl"]),
                        dec(&expected["realized_pnl"]),
                        "{name}"
                    );
                }
            }
        }
    })
    .await;
}

fn lots(pid: &str) -> Vec<Value> {
    [
        ("buy", "10", "100", "2026-03-02T15:00:00Z"),
        ("buy", "10", "110", "2026-03-03T15:00:00Z"),
        ("sell", "15", "120", "2026-03-04T15:00:00Z"),
    ]
    .into_iter()
    .map(|(side, q, p, at)| {
        json!({"symbol": "LOTS", "side": side, "quantity": q, "price": p,
            "executed_at": at, "portfolio_id": pid})
    })
    .collect()
}

/// A partial exit shows on the open round trip; changing the cost basis
/// refolds the portfolio in place; a change the trades cannot satisfy is
/// refused whole, naming the trade, and changes nothing.
#[tokio::test]
async fn accounting_rule_changes_refold_or_refuse() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let pid = portfolio(
            &user,
            &json!({"cost_basis": "average", "allow_short": false}),
        )
        .await;
        for body in lots(&pid) {
            user.trade(body).await;
        }
        let path = format!("/api/v1/portfolios/{pid}");
        for (method, realized, average) in [
            ("fifo", "250", "110"),
            ("lifo", "200", "100"),
            ("average", "225", "105"),
        ] {
            let patched = user
                .ok(Method::PATCH, &path, Some(json!({"cost_basis": method})))
                .await;
            assert_eq!(patched["cost_basis"], method);
            let position = &positions(&user, &pid).await[0];
            assert_eq!(dec(&position["realized_pnl"]), realized.parse().unwrap());
            assert_eq!(dec(&position["average_cost"]), average.parse().unwrap());
            let open = round_trips(&user, &pid, "&status=open").await;
            assert_eq!(open.len(), 1, "{method}");
            assert_eq!(dec(&open[0]["realized_pnl"]), realized.parse().unwrap());
        }

        // A short, then the rule that allowed it is withdrawn.
        let (status, _) = user
            .send(Method::PATCH, &path, Some(json!({"allow_short": true})))
            .await;
        assert_eq!(status, StatusCode::OK);
        let short = user
            .trade(
                json!({"symbol": "LOTS", "side": "sell", "quantity": "8", "price": "121",
                "executed_at": "2026-03-05T15:00:00Z", "portfolio_id": pid}),
            )
            .await;
        let before = positions(&user, &pid).await;
        assert_eq!(dec(&before[0]["quantity"]), "-3".parse().unwrap());
        let (status, problem) = user
            .send(
                Method::PATCH,
                &path,
                Some(json!({"allow_short": false, "name": "Renamed"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], "insufficient_position");
        assert_eq!(problem["errors"][0]["id"], short["id"], "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains(short["id"].as_str().unwrap())
        );
        let unchanged = user.get(&path).await;
        assert_eq!(unchanged["allow_short"], true);
        assert_eq!(unchanged["name"], "Rules");
        assert_eq!(positions(&user, &pid).await, before);
        // An unknown rule is a 422 naming it.
        let (status, problem) = user
            .send(Method::PATCH, &path, Some(json!({"cost_basis": "hifo"})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "cost_basis");
    })
    .await;
}

/// `PATCH /trades/{id}` edits every field it lists (refolding both groups
/// of a move), refuses what it does not (naming it), and refuses an edit
/// that would break a later trade, naming that trade.
#[tokio::test]
async fn accounting_trade_edits_are_honest() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let a = user.portfolio("A").await;
        let b = user.portfolio("B").await;
        let c = portfolio(&user, &json!({"allow_short": true, "cost_basis": "fifo"})).await;
        let buy = user
            .trade(
                json!({"symbol": "AAA", "side": "buy", "quantity": "10", "price": "5",
                "executed_at": "2026-03-02T15:00:00Z", "portfolio_id": a}),
            )
            .await;
        let sell = user
            .trade(
                json!({"symbol": "AAA", "side": "sell", "quantity": "4", "price": "6",
                "executed_at": "2026-03-03T15:00:00Z", "portfolio_id": a}),
            )
            .await;
        let trade_path = |t: &Value| format!("/api/v1/trades/{}", t["id"].as_str().unwrap());

        // Moving the buy away would leave the later sell short: refused,
        // naming the sell; turning it into a sell from flat names itself.
        // Nothing changed.
        for (change, named) in [
            (json!({"portfolio_id": b}), &sell),
            (json!({"symbol": "BBB"}), &sell),
            (json!({"executed_at": "2026-03-04T15:00:00Z"}), &sell),
            (json!({"side": "sell"}), &buy),
        ] {
            let (status, problem) = user
                .send(Method::PATCH, &trade_path(&buy), Some(change.clone()))
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{change}: {problem}"
            );
            assert_eq!(problem["code"], "insufficient_position");
            assert_eq!(
                problem["errors"][0]["id"], named["id"],
                "{change}: {problem}"
            );
        }
        assert_eq!(user.get(&trade_path(&buy)).await, buy);

        // The sell moved to B, where nothing is held: refused, naming it.
        let (status, problem) = user
            .send(
                Method::PATCH,
                &trade_path(&sell),
                Some(json!({"portfolio_id": b})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["id"], sell["id"]);
        // A second multiplier in the group: refused, naming the trade that
        // disagrees with the group's first.
        let (status, problem) = user
            .send(
                Method::PATCH,
                &trade_path(&buy),
                Some(json!({"multiplier": "100"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], "multiplier_mismatch");
        assert_eq!(problem["errors"][0]["field"], "multiplier");
        assert_eq!(problem["errors"][0]["id"], sell["id"]);
        // Deleting the buy would leave the sell short.
        let (status, problem) = user.send(Method::DELETE, &trade_path(&buy), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["id"], sell["id"]);

        // Read-only and unknown fields are named, never ignored.
        let (status, problem) = user
            .send(
                Method::PATCH,
                &trade_path(&sell),
                Some(json!({"id": buy["id"], "created_at": sell["created_at"], "price": "6"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["created_at", "id"]);
        // Another user's (or no) portfolio does not exist for you.
        let (status, _) = user
            .send(
                Method::PATCH,
                &trade_path(&sell),
                Some(json!({"portfolio_id": uuid::Uuid::now_v7()})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A whole move: symbol, side, portfolio and multiplier at once;
        // both groups refold.
        let other = user
            .trade(
                json!({"symbol": "CCC", "side": "buy", "quantity": "2", "price": "3.5",
                "fees": "0.65", "executed_at": "2026-03-04T15:00:00Z", "portfolio_id": a}),
            )
            .await;
        let moved = user
            .ok(
                Method::PATCH,
                &trade_path(&other),
                Some(
                    json!({"portfolio_id": c, "symbol": "ddd", "multiplier": "100",
                    "side": "sell"}),
                ),
            )
            .await;
        assert_eq!(
            (&moved["symbol"], &moved["side"], &moved["portfolio_id"]),
            (&json!("DDD"), &json!("sell"), &json!(c))
        );
        assert_eq!(dec(&moved["multiplier"]), Decimal::ONE_HUNDRED);
        assert_eq!(user.get(&trade_path(&other)).await, moved);
        let in_a = positions(&user, &a).await;
        assert!(in_a.iter().all(|p| p["symbol"] != "CCC"), "{in_a:?}");
        let in_c = positions(&user, &c).await;
        assert_eq!(in_c.len(), 1, "{in_c:?}");
        assert_eq!(in_c[0]["symbol"], "DDD");
        assert_eq!(dec(&in_c[0]["quantity"]), "-2".parse().unwrap());
        // A short's net entry: (2 * 3.5 * 100 - 0.65) / 200.
        assert_eq!(dec(&in_c[0]["average_cost"]), "3.49675".parse().unwrap());
        let trips = round_trips(&user, &c, "").await;
        assert_eq!(trips[0]["direction"], "short");
        assert_eq!(dec(&trips[0]["multiplier"]), Decimal::ONE_HUNDRED);
        let trips = round_trips(&user, &a, "").await;
        assert!(trips.iter().all(|t| t["symbol"] == "AAA"), "{trips:?}");
    })
    .await;
}

/// What real histories hold: an OCC option symbol with its multiplier, a
/// rebate (negative fees), trades without a portfolio (no shorts), and
/// divisions printed at 8 places at most.
#[tokio::test]
async fn accounting_real_instruments_and_printed_amounts() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let pid = user.portfolio("Options").await;
        let option = "MDB260717P00312500";
        for (side, price, fees) in [("buy", "3.10", "0.65"), ("sell", "4.20", "-0.10")] {
            user.trade(
                json!({"symbol": option, "side": side, "quantity": "3", "price": price,
                "fees": fees, "multiplier": 100, "portfolio_id": pid}),
            )
            .await;
        }
        let position = &positions(&user, &pid).await[0];
        assert_eq!(position["symbol"], option);
        // (4.20 - 3.10) * 3 * 100 - 0.65 + 0.10
        assert_eq!(dec(&position["realized_pnl"]), "329.45".parse().unwrap());
        let (status, problem) = user
            .send(
                Method::POST,
                "/api/v1/trades",
                Some(
                    json!({"symbol": "MDB   260717P00312500", "side": "buy", "quantity": 1,
                    "price": 1}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "symbol");

        // Thirds: 8 places, half-even, never a 28-digit tail.
        for (side, q) in [("buy", "3"), ("sell", "1")] {
            user.trade(
                json!({"symbol": "THIRD", "side": side, "quantity": q, "price": "100",
                "fees": if side == "buy" { "1" } else { "0" }, "portfolio_id": pid}),
            )
            .await;
        }
        let third = positions(&user, &pid)
            .await
            .into_iter()
            .find(|p| p["symbol"] == "THIRD")
            .unwrap();
        assert_eq!(third["realized_pnl"], "-0.33333333");
        assert_eq!(third["average_cost"], "100.33333334");
        let open = round_trips(&user, &pid, "&status=open").await;
        assert_eq!(open[0]["realized_pnl"], "-0.33333333");

        // Without a portfolio: the default rules, no shorts.
        let (status, problem) = user
            .send(
                Method::POST,
                "/api/v1/trades",
                Some(json!({"symbol": "NOPE", "side": "sell", "quantity": 1, "price": 1})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["code"], "insufficient_position");
        assert!(problem["errors"][0]["id"].is_string(), "{problem}");
        // A second multiplier for a symbol in one group.
        user.trade(
            json!({"symbol": "ESZ6", "side": "buy", "quantity": 1, "price": 5000,
            "multiplier": 50}),
        )
        .await;
        let (status, problem) = user
            .send(
                Method::POST,
                "/api/v1/trades",
                Some(
                    json!({"symbol": "ESZ6", "side": "sell", "quantity": 1, "price": 5010,
                    "multiplier": 5}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["code"], "multiplier_mismatch");
        let (status, _) = user
            .send(
                Method::POST,
                "/api/v1/trades",
                Some(
                    json!({"symbol": "ESZ6", "side": "sell", "quantity": 1, "price": 5010,
                    "multiplier": 50, "fees": "4.5"}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let trips = user.get("/api/v1/round-trips?symbol=ESZ6").await;
        // The issue's own example: 10 points of ES are 500, less fees.
        assert_eq!(trips["items"][0]["realized_pnl"], "495.5");
    })
    .await;
}
