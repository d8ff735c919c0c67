//! Two server instances sharing one database and one Redis, as behind a
//! load balancer: what happens on A is seen on B at once (the cache
//! broadcasts invalidations). Ignored without a Redis; run on purpose
//! (`.ci/run`), an unset `TEST_REDIS_URL` or an unreachable Redis fails.

use crate::common::{Backend, TestApp, backends, client, json_body};
use crate::redis_support::{shared_redis, wait_for_status};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tradesense_core::cache::RedisStatus;
use tradesense_server::App;
use tradesense_server::Server;
use tradesense_server::{RedactedUrl, Settings};

const PASSWORD: &str = "correct horse battery staple";

/// A second server over A's database (its own pool, its own cache), like a
/// second process. Stops when the test's runtime ends.
struct Sibling {
    base: String,
    app: App,
}

impl Sibling {
    async fn spawn(settings: Settings) -> Self {
        let app = App::build(settings).await.expect("second instance");
        let server = Server::bind(app.clone()).await.expect("bind 127.0.0.1:0");
        let base = format!("http://{}", server.local_addr());
        tokio::spawn(server.run_until(std::future::pending()));
        Self { base, app }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// A and B over one fresh database of `backend` and the shared Redis.
async fn two_instances(backend: Backend, redis: &str) -> (TestApp, Sibling) {
    let configure = |settings: &mut Settings| {
        settings.redis_url = Some(RedactedUrl::new(redis));
    };
    let a = TestApp::spawn_with(backend, configure).await;
    let mut settings = Settings::for_tests(&a.database.url);
    configure(&mut settings);
    let b = Sibling::spawn(settings).await;
    wait_for_status(b.app.cache(), RedisStatus::Up).await;
    (a, b)
}

async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.expect("a response")
}

/// Registers on A and logs in there; the bearer token.
async fn login(a: &TestApp, email: &str) -> String {
    let response = send(
        a.client
            .post(a.url("/api/v1/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD, "full_name": "Ada Lovelace"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = send(
        a.client
            .post(a.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get(url: String, token: &str) -> reqwest::Response {
    send(client().get(url).bearer_auth(token)).await
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn logout_on_a_refuses_the_token_on_b_at_once() {
    let (redis, _) = shared_redis().await;
    for backend in backends() {
        let (a, b) = two_instances(backend, &redis).await;
        let token = login(&a, "ada@example.com").await;
        // B caches the session as live...
        for _ in 0..2 {
            let response = get(b.url("/api/v1/users/me"), &token).await;
            assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        }
        // (Counted per namespace and tier for /metrics.)
        let metrics = send(client().get(b.url("/metrics")))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("cache_hits_total{namespace=\"session\",tier=\"local\"}"),
            "{metrics}"
        );
        // ...A revokes it...
        let response = send(
            a.client
                .post(a.url("/api/v1/auth/logout"))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        // ...and B's very next request is refused.
        let response = get(b.url("/api/v1/users/me"), &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
        let response = get(a.url("/api/v1/users/me"), &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
    }
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn a_profile_edit_on_a_is_read_fresh_on_b() {
    let (redis, _) = shared_redis().await;
    for backend in backends() {
        let (a, b) = two_instances(backend, &redis).await;
        let token = login(&a, "ada@example.com").await;
        let me: Value = json_body(get(b.url("/api/v1/users/me"), &token).await).await;
        assert_eq!(me["full_name"], "Ada Lovelace");
        let response = send(
            a.client
                .patch(a.url("/api/v1/users/me"))
                .bearer_auth(&token)
                .json(&json!({"full_name": "Ada King"})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let me: Value = json_body(get(b.url("/api/v1/users/me"), &token).await).await;
        assert_eq!(me["full_name"], "Ada King", "{backend:?}");
    }
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn a_trade_edit_on_a_is_read_fresh_on_b() {
    let (redis, _) = shared_redis().await;
    for backend in backends() {
        let (a, b) = two_instances(backend, &redis).await;
        let token = login(&a, "ada@example.com").await;
        let response = send(
            a.client
                .post(a.url("/api/v1/portfolios"))
                .bearer_auth(&token)
                .json(&json!({"name": "Main"})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let portfolio = json_body(response).await["id"].as_str().unwrap().to_owned();
        let response = send(
            a.client
                .post(a.url("/api/v1/trades"))
                .bearer_auth(&token)
                .json(
                    &json!({"symbol": "AAPL", "side": "buy", "quantity": "10", "price": "100",
                    "portfolio_id": portfolio}),
                ),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let trade = json_body(response).await["id"].as_str().unwrap().to_owned();

        // B reads (and caches) the page and the positions, twice.
        let positions = format!("/api/v1/portfolios/{portfolio}/positions");
        for _ in 0..2 {
            let page = json_body(get(b.url("/api/v1/trades"), &token).await).await;
            assert_eq!(page["items"][0]["quantity"], "10", "{backend:?}");
            let held = json_body(get(b.url(&positions), &token).await).await;
            assert_eq!(held["items"][0]["quantity"], "10", "{backend:?}");
        }

        // A edits the trade; B's next reads are fresh.
        let response = send(
            a.client
                .patch(a.url(&format!("/api/v1/trades/{trade}")))
                .bearer_auth(&token)
                .json(&json!({"quantity": "4"})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = json_body(get(b.url("/api/v1/trades"), &token).await).await;
        assert_eq!(page["items"][0]["quantity"], "4", "{backend:?}");
        let held = json_body(get(b.url(&positions), &token).await).await;
        assert_eq!(held["items"][0]["quantity"], "4", "{backend:?}");
        let one = json_body(get(b.url(&format!("/api/v1/trades/{trade}")), &token).await).await;
        assert_eq!(one["quantity"], "4", "{backend:?}");

        // And a delete on A empties B's view.
        let response = send(
            a.client
                .delete(a.url(&format!("/api/v1/trades/{trade}")))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let page = json_body(get(b.url("/api/v1/trades"), &token).await).await;
        assert_eq!(page["items"], json!([]), "{backend:?}");
    }
}
