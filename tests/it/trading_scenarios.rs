//! The trading API's behaviour as scenarios over an abstract client, run
//! both in-process (the router with a `Principal` inserted, as the
//! `AuthLayer` would) and over HTTP against the real server.

use crate::trading_model::{
    ModelPosition, ModelTrade, Op, SYMBOLS, naive_fold, ops, same_positions,
};
use axum::Router;
use http::{Method, StatusCode};
use proptest::strategy::{Strategy, ValueTree};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tower::ServiceExt;
use tradesense_core::auth::{CredentialSource, Principal};
use uuid::Uuid;

/// How requests reach the API.
#[derive(Clone)]
pub enum Transport {
    /// The trading router, called directly.
    InProcess(tradesense_core::http::ProblemFallback<Router>),
    /// The real server.
    Http {
        client: reqwest::Client,
        base: String,
    },
}

/// Who a request is from.
#[derive(Clone)]
pub enum Credential {
    Principal(Principal),
    Bearer(String),
}

/// One user's client.
#[derive(Clone)]
pub struct Api {
    pub transport: Transport,
    pub credential: Credential,
}

impl Api {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_raw(method, path, body.map(|b| b.to_string()))
            .await
    }

    /// Sends a raw body text (to test JSON numbers exactly as written).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        match &self.transport {
            Transport::InProcess(router) => {
                let mut builder = http::Request::builder().method(method).uri(path);
                if body.is_some() {
                    builder = builder.header("content-type", "application/json");
                }
                let mut request = builder
                    .body(axum::body::Body::from(body.unwrap_or_default()))
                    .unwrap();
                if let Credential::Principal(principal) = &self.credential {
                    request.extensions_mut().insert(principal.clone());
                }
                let response = router.clone().oneshot(request).await.unwrap();
                let status = response.status();
                let bytes = http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                (
                    status,
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                )
            }
            Transport::Http { client, base } => {
                let mut request = client.request(method, format!("{base}{path}"));
                if let Credential::Bearer(token) = &self.credential {
                    request = request.bearer_auth(token);
                }
                if let Some(body) = body {
                    request = request
                        .header("content-type", "application/json")
                        .body(body);
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let bytes = response.bytes().await.unwrap();
                (
                    status,
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                )
            }
        }
    }

    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.send(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    pub async fn portfolio(&self, name: &str) -> String {
        let body = self
            .ok(
                Method::POST,
                "/api/v1/portfolios",
                Some(json!({ "name": name })),
            )
            .await;
        body["id"].as_str().unwrap().to_owned()
    }
}

/// Makes fresh users of one API instance.
pub type UserFactory = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Api> + Send>> + Send + Sync>;

fn minute(m: i64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
    (base + chrono::Duration::minutes(m))
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string, got {v}"))
        .parse()
        .unwrap()
}

fn api_positions(body: &Value) -> Vec<ModelPosition> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ModelPosition {
            symbol: p["symbol"].as_str().unwrap().to_owned(),
            quantity: dec(&p["quantity"]),
            average_cost: dec(&p["average_cost"]),
            realized_pnl: dec(&p["realized_pnl"]),
        })
        .collect()
}

fn reportable(positions: Vec<ModelPosition>) -> Vec<ModelPosition> {
    positions
        .into_iter()
        .filter(|p| !p.quantity.is_zero() || !p.realized_pnl.is_zero())
        .collect()
}

/// Random histories of creates (some back-dated), edits and deletes: after
/// every step the API's positions equal the naive fold of the accepted
/// trades, and a step is refused exactly when the fold refuses it.
pub async fn random_histories_match_the_fold(users: &UserFactory, cases: u32, steps: usize) {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..cases {
        let history = ops(steps).new_tree(&mut runner).unwrap().current();
        let api = users().await;
        let pid = api.portfolio("Random").await;
        let positions_path = format!("/api/v1/portfolios/{pid}/positions");
        let mut trades: Vec<ModelTrade> = Vec::new();
        let mut ids: HashMap<u128, String> = HashMap::new();
        for op in &history {
            // The model's id of a new trade: larger than every earlier one,
            // as the server's UUID v7 ids are.
            let Some(next) = crate::trading_model::candidate(&trades, op, u128::MAX) else {
                continue;
            };
            let accepted = naive_fold(&next).is_some();
            let (status, body) = match op {
                Op::Create {
                    symbol,
                    buy,
                    quantity,
                    price,
                    fees,
                    minute: m,
                } => {
                    let body = json!({
                        "symbol": SYMBOLS[*symbol], "side": if *buy { "buy" } else { "sell" },
                        "quantity": quantity.to_string(), "price": price.to_string(),
                        "fees": fees.to_string(), "executed_at": minute(*m), "portfolio_id": pid,
                    });
                    api.send(Method::POST, "/api/v1/trades", Some(body)).await
                }
                Op::Edit {
                    pick,
                    quantity,
                    price,
                    minute: m,
                } => {
                    let seq = trades[pick % trades.len()].seq;
                    let mut body = json!({});
                    if let Some(q) = quantity {
                        body["quantity"] = json!(q.to_string());
                    }
                    if let Some(p) = price {
                        body["price"] = json!(p.to_string());
                    }
                    if let Some(m) = m {
                        body["executed_at"] = json!(minute(*m));
                    }
                    api.send(
                        Method::PATCH,
                        &format!("/api/v1/trades/{}", ids[&seq]),
                        Some(body),
                    )
                    .await
                }
                Op::Delete { pick } => {
                    let seq = trades[pick % trades.len()].seq;
                    api.send(
                        Method::DELETE,
                        &format!("/api/v1/trades/{}", ids[&seq]),
                        None,
                    )
                    .await
                }
            };
            if accepted {
                assert!(status.is_success(), "{op:?}: {status} {body}");
                let mut next = next;
                if let Op::Create { .. } = op {
                    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
                    next.last_mut().unwrap().seq = id.as_u128();
                    ids.insert(id.as_u128(), id.to_string());
                }
                trades = next;
            } else {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{op:?}: {body}");
                assert_eq!(body["code"], "insufficient_position");
            }
            let expected = reportable(naive_fold(&trades).unwrap());
            let got = api_positions(&api.ok(Method::GET, &positions_path, None).await);
            assert!(
                same_positions(&got, &expected),
                "after {op:?}:\n{got:?}\n{expected:?}"
            );
        }
    }
}

/// 50 concurrent buys of 1 into one portfolio end at exactly 50.
pub async fn concurrent_buys_all_count(users: &UserFactory) {
    let api = users().await;
    let pid = api.portfolio("Busy").await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let api = api.clone();
            let pid = pid.clone();
            tokio::spawn(async move {
                let body = json!({"symbol": "ACME", "side": "buy", "quantity": 1, "price": 100 + i, "portfolio_id": pid});
                api.ok(Method::POST, "/api/v1/trades", Some(body)).await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let body = api
        .ok(Method::GET, &format!("/api/v1/portfolios/{pid}"), None)
        .await;
    assert_eq!(body["positions"][0]["quantity"], "50", "{body}");
    assert_eq!(body["positions"][0]["average_cost"], "124.5", "{body}");
}

/// Walking the pages sees every trade that existed when the walk began
/// exactly once, although trades are inserted (newer and back-dated)
/// between pages.
pub async fn pagination_is_stable_under_inserts(users: &UserFactory) {
    let api = users().await;
    let create = |m: i64| {
        let api = api.clone();
        async move {
            let body = json!({"symbol": "PAGE", "side": "buy", "quantity": "1", "price": "1", "executed_at": minute(m)});
            api.ok(Method::POST, "/api/v1/trades", Some(body)).await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let mut original = HashSet::new();
    for i in 0..23 {
        // Pairs share a minute: ties are broken by id.
        original.insert(create(100 + i / 2).await);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/trades?limit=5&cursor={c}"),
            None => "/api/v1/trades?limit=5".to_owned(),
        };
        let page = api.ok(Method::GET, &path, None).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        let times: Vec<&str> = items
            .iter()
            .map(|t| t["executed_at"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {times:?}"
        );
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        // Insert one newer-than-everything and one in the middle.
        create(1000 + inserted).await;
        create(105).await;
        inserted += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no trade listed twice");
    assert!(
        original.iter().all(|id| unique.contains(id)),
        "every original trade listed"
    );
    assert!(
        seen.iter()
            .all(|id| !original.contains(id) || unique.contains(id))
    );
}

fn error_fields(body: &Value) -> Vec<String> {
    let mut fields: Vec<String> = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("an errors list: {body}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    fields
}

/// Every bad field is named in the `422`, one entry each.
pub async fn validation_names_each_field(users: &UserFactory) {
    let api = users().await;
    let valid = json!({"symbol": "aapl", "side": "buy", "quantity": "1", "price": "1"});
    let cases = [
        ("symbol", json!("TOO LONG AND SPACED")),
        ("symbol", json!("")),
        ("symbol", json!("X".repeat(33))),
        ("symbol", json!(12)),
        ("side", json!("hold")),
        ("quantity", json!("0")),
        ("quantity", json!(-1)),
        ("quantity", json!("abc")),
        ("quantity", json!(null)),
        ("price", json!("-0.01")),
        ("price", json!("1,5")),
        // A negative fee is a rebate; junk is not.
        ("fees", json!("1,5")),
        ("executed_at", json!("yesterday")),
        ("portfolio_id", json!("not-a-uuid")),
        ("notes", json!("x".repeat(1001))),
    ];
    for (field, value) in cases {
        let mut body = valid.clone();
        body[field] = value.clone();
        let (status, problem) = api.send(Method::POST, "/api/v1/trades", Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {problem}"
        );
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(
            error_fields(&problem),
            vec![field.to_owned()],
            "{field}={value}"
        );
    }
    // Missing required fields, all at once.
    let (status, problem) = api
        .send(Method::POST, "/api/v1/trades", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&problem),
        ["price", "quantity", "side", "symbol"]
    );
    // Malformed JSON is 400.
    let (status, problem) = api
        .send_raw(Method::POST, "/api/v1/trades", Some("{\"symbol\":".into()))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_body"))
    );
    // Query parameters.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("cursor=zzz", "cursor"),
        ("from=monday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("symbol=A%20B", "symbol"),
        ("portfolio_id=1", "portfolio_id"),
    ] {
        let (status, problem) = api
            .send(Method::GET, &format!("/api/v1/trades?{query}"), None)
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
    // Portfolios and patches.
    let (status, problem) = api
        .send(
            Method::POST,
            "/api/v1/portfolios",
            Some(json!({"name": " ", "base_currency": "dollars"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["base_currency", "name"]);
    let trade = api.ok(Method::POST, "/api/v1/trades", Some(valid)).await;
    let path = format!("/api/v1/trades/{}", trade["id"].as_str().unwrap());
    let (status, problem) = api
        .send(
            Method::PATCH,
            &path,
            Some(json!({"quantity": 0, "executed_at": null, "fees": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["executed_at", "fees", "quantity"]);
}

/// Exact decimals in, decimal strings out.
pub async fn decimals_are_exact(users: &UserFactory) {
    let api = users().await;
    let raw = r#"{"symbol":"btc/usd","side":"buy","quantity":0.1,"price":1e-7,"fees":"1234567890.123456789012345678"}"#;
    let (status, trade) = api
        .send_raw(Method::POST, "/api/v1/trades", Some(raw.into()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{trade}");
    assert_eq!(trade["symbol"], "BTC/USD");
    assert_eq!(trade["quantity"], "0.1");
    assert_eq!(trade["price"], "0.0000001");
    assert_eq!(trade["fees"], "1234567890.123456789012345678");
    let fetched = api
        .ok(
            Method::GET,
            &format!("/api/v1/trades/{}", trade["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(fetched, trade);
    // 30 significant digits cannot be held exactly: refused, not rounded.
    let raw = r#"{"symbol":"X","side":"buy","quantity":123456789012345678901234567890,"price":1}"#;
    let (status, problem) = api
        .send_raw(Method::POST, "/api/v1/trades", Some(raw.into()))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(error_fields(&problem), ["quantity"]);
}

/// Another user's portfolios and trades do not exist (404), whatever the method.
pub async fn other_users_see_nothing(users: &UserFactory) {
    let (alice, bob) = (users().await, users().await);
    let pid = alice.portfolio("Alice").await;
    let trade = alice
        .ok(Method::POST, "/api/v1/trades", Some(json!({"symbol": "X", "side": "buy", "quantity": 1, "price": 1, "portfolio_id": pid, "notes": "mine"})))
        .await;
    let tid = trade["id"].as_str().unwrap();
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/portfolios/{pid}"), None),
        (
            Method::PATCH,
            format!("/api/v1/portfolios/{pid}"),
            Some(json!({"name": "Bob's"})),
        ),
        (Method::DELETE, format!("/api/v1/portfolios/{pid}"), None),
        (
            Method::GET,
            format!("/api/v1/portfolios/{pid}/positions"),
            None,
        ),
        (Method::GET, format!("/api/v1/trades/{tid}"), None),
        (
            Method::PATCH,
            format!("/api/v1/trades/{tid}"),
            Some(json!({"quantity": 5})),
        ),
        (Method::DELETE, format!("/api/v1/trades/{tid}"), None),
        (
            Method::POST,
            "/api/v1/trades".to_owned(),
            Some(
                json!({"symbol": "X", "side": "sell", "quantity": 1, "price": 1, "portfolio_id": pid}),
            ),
        ),
        (
            Method::GET,
            format!("/api/v1/trades/{}", Uuid::now_v7()),
            None,
        ),
        (Method::GET, "/api/v1/trades/not-a-uuid".to_owned(), None),
    ] {
        let (status, problem) = bob.send(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
        assert_eq!(problem["code"], "not_found");
    }
    let listed = bob
        .ok(
            Method::GET,
            &format!("/api/v1/trades?portfolio_id={pid}"),
            None,
        )
        .await;
    assert_eq!(listed["items"], json!([]));
    assert_eq!(
        bob.ok(Method::GET, "/api/v1/portfolios", None).await["items"],
        json!([])
    );
    // Alice's data is untouched.
    assert_eq!(
        alice
            .ok(Method::GET, &format!("/api/v1/trades/{tid}"), None)
            .await,
        trade
    );
    let body = alice
        .ok(Method::GET, &format!("/api/v1/portfolios/{pid}"), None)
        .await;
    assert_eq!(body["name"], "Alice");
    assert_eq!(body["positions"][0]["quantity"], "1");
}

/// The portfolio lifecycle of docs/API.md.
pub async fn portfolio_lifecycle(users: &UserFactory) {
    let api = users().await;
    let (status, p) = api
        .send(
            Method::POST,
            "/api/v1/portfolios",
            Some(json!({"name": "Core"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(p["base_currency"], "USD");
    assert!(p.get("user_id").is_none());
    let pid = p["id"].as_str().unwrap();
    let renamed = api
        .ok(
            Method::PATCH,
            &format!("/api/v1/portfolios/{pid}"),
            Some(json!({"name": "Satellite"})),
        )
        .await;
    assert_eq!(renamed["name"], "Satellite");
    assert_eq!(
        api.ok(Method::GET, "/api/v1/portfolios", None).await["items"][0],
        renamed
    );
    let buy =
        json!({"symbol": "X", "side": "buy", "quantity": "2", "price": "10", "portfolio_id": pid});
    let trade = api.ok(Method::POST, "/api/v1/trades", Some(buy)).await;
    let sell =
        json!({"symbol": "X", "side": "sell", "quantity": "2", "price": "10", "portfolio_id": pid});
    api.ok(Method::POST, "/api/v1/trades", Some(sell)).await;
    // Sold out at no gain: zero quantity and zero P&L is not listed.
    let full = api
        .ok(Method::GET, &format!("/api/v1/portfolios/{pid}"), None)
        .await;
    assert_eq!(full["positions"], json!([]), "{full}");
    let (status, _) = api
        .send(Method::DELETE, &format!("/api/v1/portfolios/{pid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api
        .send(
            Method::GET,
            &format!("/api/v1/trades/{}", trade["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "trades go with their portfolio"
    );
    let (status, _) = api
        .send(
            Method::GET,
            &format!("/api/v1/portfolios/{pid}/positions"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A router over `store` whose users are inserted straight into the database,
/// standing in for what the `AuthLayer` establishes.
pub fn in_process_users(store: tradesense_core::store::SqlStore) -> UserFactory {
    // Mounted where the server mounts it, with the same fallbacks.
    let router = tower::Layer::layer(
        &tradesense_core::http::ProblemFallbackLayer,
        Router::new()
            .nest(
                "/api/v1",
                Router::from(tradesense_core::trading::routes(
                    Arc::new(store.clone()),
                    tower::layer::util::Identity::new(),
                )),
            )
            .fallback(tradesense_core::http::not_found),
    );
    Arc::new(move || {
        let (router, store) = (router.clone(), store.clone());
        Box::pin(async move {
            let user_id = Uuid::now_v7();
            let now = tradesense_core::store::to_micros(chrono::Utc::now());
            tradesense_core::with_pool!(store.db(), |pool| {
                sqlx::query(
                    "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) \
                     VALUES ($1, $2, 'x', 'Test', $3, $3)",
                )
                .bind(user_id)
                .bind(format!("{user_id}@example.com"))
                .bind(now)
                .execute(pool)
                .await
                .unwrap();
            });
            Api {
                transport: Transport::InProcess(router),
                credential: Credential::Principal(Principal {
                    user_id,
                    session_id: Uuid::now_v7(),
                    source: CredentialSource::Bearer,
                }),
            }
        })
    })
}
