//! Shared by the issue-12 hardening tests (throttles, recovery codes,
//! sessions): one or more real server instances over one throwaway database
//! (and, for the Redis variants, one Redis), each exposing the argon2
//! verification count of its auth endpoints, plus the HTTP steps.
#![allow(dead_code, unreachable_pub)]

use crate::common::{Backend, TestApp, client};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tradesense_core::cache::RedisStatus;
use tradesense_core::store::testing::TestDatabase;
use tradesense_server::{App, RedactedUrl, Server, Settings};

pub const PASSWORD: &str = "plinth-Marmalade-47-orbit";
pub const WRONG: &str = "plinth-Marmalade-47-orbiT";
pub const NEW_PASSWORD: &str = "another-Quasar-98-lantern";

/// One server instance.
pub struct Node {
    pub base: String,
    pub app: App,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Password verifications this instance ran so far.
    pub fn verifications(&self) -> u64 {
        self.app.password_hasher().verifications()
    }
}

/// `n` instances over one fresh database of `backend` (and `redis`, when
/// given), as behind a load balancer. `first` owns the database.
pub struct Cluster {
    pub first: TestApp,
    pub nodes: Vec<Node>,
    pub client: reqwest::Client,
}

impl Cluster {
    pub async fn start(
        backend: Backend,
        n: usize,
        redis: Option<&str>,
        configure: impl Fn(&mut Settings),
    ) -> Self {
        let database = match backend {
            Backend::Sqlite => TestDatabase::sqlite().await,
            Backend::Postgres => TestDatabase::postgres()
                .await
                .expect("TEST_DATABASE_URL is set for the Postgres backend"),
        };
        let settings = || {
            let mut settings = Settings::for_tests(&database.url);
            settings.redis_url = redis.map(RedactedUrl::new);
            configure(&mut settings);
            settings
        };
        let app = App::with_store(settings(), database.store.clone());
        let mut nodes = Vec::new();
        let mut others = Vec::new();
        for _ in 1..n {
            others.push(App::build(settings()).await.expect("another instance"));
        }
        let first = TestApp::spawn_app(database, app.clone()).await;
        nodes.push(Node {
            base: first.base.clone(),
            app,
        });
        for app in others {
            let server = Server::bind(app.clone()).await.expect("bind 127.0.0.1:0");
            let base = format!("http://{}", server.local_addr());
            tokio::spawn(server.run_until(std::future::pending()));
            nodes.push(Node { base, app });
        }
        if redis.is_some() {
            for node in &nodes {
                wait_for_redis(&node.app).await;
            }
        }
        Self {
            first,
            nodes,
            client: client(),
        }
    }

    /// One instance, no Redis.
    pub async fn single(backend: Backend) -> Self {
        Self::start(backend, 1, None, |_| {}).await
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i % self.nodes.len()]
    }

    /// Verifications over every instance.
    pub fn verifications(&self) -> u64 {
        self.nodes.iter().map(Node::verifications).sum()
    }
}

/// Waits (with a deadline) until the instance's shared Redis handle is up,
/// so that the throttle's first script runs against Redis, not the local
/// fallback.
async fn wait_for_redis(app: &App) {
    crate::redis_support::wait_for_status(app.cache(), RedisStatus::Up).await;
}

/// `TEST_REDIS_URL`, for the Redis variants, which are `#[ignore]`d (a
/// fresh machine has no Redis) and run on purpose with `--ignored`: then an
/// unset variable fails the test rather than passing it silently.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .unwrap_or_else(|_| panic!("TEST_REDIS_URL is unset: this test needs Redis"))
}

/// An email no other test (or earlier run, against a shared Redis) uses.
pub fn unique_email(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub async fn register(cluster: &Cluster, email: &str) {
    let response = cluster
        .client
        .post(cluster.node(0).url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "full_name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// A password login on instance `node`: `/login` (JSON) or `/token` (form).
pub async fn login(
    cluster: &Cluster,
    node: usize,
    form: bool,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let request = if form {
        cluster
            .client
            .post(cluster.node(node).url("/api/v1/auth/token"))
            .form(&[("username", email), ("password", password)])
    } else {
        cluster
            .client
            .post(cluster.node(node).url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
    };
    request.send().await.unwrap()
}

/// Logs in with the right password; the JSON answer.
pub async fn login_ok(cluster: &Cluster, email: &str) -> Value {
    let response = login(cluster, 0, false, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub async fn access_token(cluster: &Cluster, email: &str) -> String {
    login_ok(cluster, email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An authenticated POST with a JSON body on instance `node`.
pub async fn post(
    cluster: &Cluster,
    node: usize,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = cluster
        .client
        .post(cluster.node(node).url(path))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

pub async fn get(cluster: &Cluster, node: usize, path: &str, token: &str) -> reqwest::Response {
    cluster
        .client
        .get(cluster.node(node).url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Status and problem `code` of each response, in order.
pub async fn outcomes(responses: Vec<reqwest::Response>) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        if status == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=900).contains(&retry), "Retry-After {retry}");
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        out.push((status, body["code"].as_str().unwrap_or("").to_owned()));
    }
    out
}

/// How many outcomes have this status.
pub fn count(outcomes: &[(u16, String)], status: u16) -> usize {
    outcomes.iter().filter(|(s, _)| *s == status).count()
}
