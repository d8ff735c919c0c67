//! Black-box tests of the rate limits of docs/API.md on the real server: one
//! instance in process, two instances sharing limits through the real
//! Redis (`TEST_REDIS_URL`; ignored without it, run by `.ci/run`), and the
//! fallback when Redis is unreachable or dies.

use crate::common::{Backend, TestApp, backends};
use crate::redis_support::{PrivateRedis, shared_redis};
use tradesense_core::ratelimit::SharedRedis;
use tradesense_core::store::testing::TestDatabase;
use tradesense_server::App;
use tradesense_server::{RedactedUrl, Settings};

const LOGIN: &str = "/api/v1/auth/login";

async fn post(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        // A fresh account each time: the per-account throttle must not be
        // what answers these per-IP tests.
        .json(&serde_json::json!({
            "email": format!("{}@example.com", uuid::Uuid::new_v4()),
            "password": "wrong",
        }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sixth_login_in_a_minute_is_429_with_retry_after() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |s| {
            s.auth_rate_limit_per_minute = 5;
            s.rate_limit_per_minute = 100;
        })
        .await;
        for remaining in (0..5).rev() {
            let response = post(&app, LOGIN).await;
            assert_ne!(response.status(), 429);
            assert_eq!(response.headers()["ratelimit-limit"], "5");
            assert_eq!(
                response.headers()["ratelimit-remaining"],
                remaining.to_string().as_str()
            );
            assert!(response.headers().contains_key("ratelimit-reset"));
        }
        let response = post(&app, LOGIN).await;
        assert_eq!(response.status(), 429, "{backend:?}");
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=12).contains(&retry), "{retry}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited");
        // The other credential endpoints share the per-IP budget...
        assert_eq!(post(&app, "/api/v1/auth/register").await.status(), 429);
        // ...the rest of the API has its own.
        let response = app
            .client
            .get(app.url("/api/v1/trades"))
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), 429);
        assert_eq!(response.headers()["ratelimit-limit"], "100");
    }
}

#[tokio::test]
async fn health_and_metrics_are_exempt_and_zero_disables() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.rate_limit_per_minute = 1;
        s.auth_rate_limit_per_minute = 0;
    })
    .await;
    for path in ["/health", "/health/ready", "/metrics"] {
        for _ in 0..3 {
            let response = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert!(!response.headers().contains_key("ratelimit-limit"));
        }
    }
    // AUTH_RATE_LIMIT_PER_MINUTE=0: the credential endpoints are unlimited.
    for _ in 0..10 {
        let response = post(&app, LOGIN).await;
        assert_ne!(response.status(), 429);
        assert!(!response.headers().contains_key("ratelimit-limit"));
    }
}

#[tokio::test]
async fn forwarded_for_only_from_trusted_proxies() {
    // Trusted: the test client (127.0.0.1) is the proxy; each forwarded
    // client gets its own bucket.
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.rate_limit_per_minute = 1;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let get = |client: &'static str| {
        app.client
            .get(app.url("/api/v1/x"))
            .header("x-forwarded-for", client)
            .send()
    };
    assert_ne!(get("198.51.100.1").await.unwrap().status(), 429);
    assert_ne!(get("198.51.100.2").await.unwrap().status(), 429);
    assert_eq!(get("198.51.100.1").await.unwrap().status(), 429);

    // Untrusted: the header is ignored; all share the peer's bucket.
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.rate_limit_per_minute = 1).await;
    let get = |client: &'static str| {
        app.client
            .get(app.url("/api/v1/x"))
            .header("x-forwarded-for", client)
            .send()
    };
    assert_ne!(get("198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(get("198.51.100.2").await.unwrap().status(), 429);
}

/// An instance whose limits live in Redis under `prefix`.
async fn instance_on(database: TestDatabase, settings: Settings, prefix: &str) -> TestApp {
    let url = settings.redis_url.as_ref().unwrap().expose().to_owned();
    let app = App::with_store(settings.clone(), database.store.clone())
        .map_rate_limit(|layer| layer.shared_via(SharedRedis::open(&url).unwrap(), prefix));
    TestApp::spawn_app(database, app).await
}

fn redis_settings(database: &TestDatabase, url: &str) -> Settings {
    let mut settings = Settings::for_tests(&database.url);
    settings.redis_url = Some(RedactedUrl::new(url));
    settings.auth_rate_limit_per_minute = 5;
    settings.rate_limit_per_minute = 100;
    settings
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn two_instances_share_limits_through_redis() {
    let (url, mut connection) = shared_redis().await;

    let prefix = format!("test:{}:", uuid::Uuid::new_v4());
    let database = TestDatabase::sqlite().await;
    let settings = redis_settings(&database, &url);
    let a = instance_on(database, settings, &prefix).await;
    let database = TestDatabase::sqlite().await;
    let settings = redis_settings(&database, &url);
    let b = instance_on(database, settings, &prefix).await;
    let mut remaining = Vec::new();
    for app in [&a, &b, &a, &b, &a] {
        let response = post(app, LOGIN).await;
        assert_ne!(response.status(), 429);
        remaining.push(
            response.headers()["ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(remaining, ["4", "3", "2", "1", "0"], "one budget for both");
    assert_eq!(post(&b, LOGIN).await.status(), 429);
    assert_eq!(post(&a, LOGIN).await.status(), 429);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys, [format!("{prefix}auth:ip:127.0.0.1")]);
}

#[tokio::test]
async fn unreachable_redis_falls_back_to_in_process_limits() {
    let database = TestDatabase::sqlite().await;
    // Nothing listens on port 1.
    let settings = redis_settings(&database, "redis://127.0.0.1:1");
    let app = instance_on(database, settings, "test:down:").await;
    for _ in 0..5 {
        assert_ne!(post(&app, LOGIN).await.status(), 429);
    }
    assert_eq!(post(&app, LOGIN).await.status(), 429);
    // And the API still answers (readiness is the cache's business).
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

const PASSWORD: &str = "correct horse battery staple 42";

async fn register_and_login(app: &TestApp, email: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD, "full_name": "Test User"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    login(app, email, PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url(LOGIN))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn authenticated_users_are_limited_per_user_not_per_ip() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |s| s.rate_limit_per_minute = 2).await;
        // Registering and logging in are under the (off) auth limit.
        let alice = register_and_login(&app, "alice@example.com").await;
        let bob = register_and_login(&app, "bob@example.com").await;
        let me = |token: Option<&str>| {
            let mut request = app.client.get(app.url("/api/v1/users/me"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        assert_eq!(me(Some(&alice)).await.unwrap().status(), 200);
        assert_eq!(me(Some(&alice)).await.unwrap().status(), 200);
        assert_eq!(me(Some(&alice)).await.unwrap().status(), 429, "{backend:?}");
        // Same IP: Bob and the anonymous IP bucket are untouched.
        assert_eq!(me(Some(&bob)).await.unwrap().status(), 200);
        assert_eq!(me(None).await.unwrap().status(), 401);
        // A forged token is no user: it counts against the IP.
        assert_eq!(me(Some("not.a.token")).await.unwrap().status(), 401);
        assert_eq!(me(Some("not.a.token")).await.unwrap().status(), 429);
    }
}

#[tokio::test]
async fn repeated_failed_logins_lock_the_account_for_a_while() {
    for backend in backends() {
        // Per-IP limits off: this is the per-account protection alone.
        let app = TestApp::spawn(backend).await;
        register_and_login(&app, "carol@example.com").await;
        register_and_login(&app, "dave@example.com").await;
        for _ in 0..5 {
            let response = login(&app, "carol@example.com", "wrong password guess").await;
            assert_eq!(response.status(), 401);
        }
        // Locked: even the right password waits, and says how long.
        let response = login(&app, "Carol@Example.com", PASSWORD).await;
        assert_eq!(response.status(), 429, "{backend:?}");
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=15).contains(&retry), "{retry}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited");
        // Unknown accounts lock the same way (no enumeration by behaviour).
        for _ in 0..5 {
            assert_eq!(login(&app, "ghost@example.com", "x").await.status(), 401);
        }
        assert_eq!(login(&app, "ghost@example.com", "x").await.status(), 429);
        // Other accounts are unaffected.
        assert_eq!(
            login(&app, "dave@example.com", PASSWORD).await.status(),
            200
        );
    }
}

#[tokio::test]
#[ignore = "needs Redis: starts redis-server from PATH (.ci/run has it)"]
async fn redis_dying_mid_way_degrades_to_in_process_limits() {
    let mut redis = PrivateRedis::start().await;
    let database = TestDatabase::sqlite().await;
    let settings = redis_settings(&database, &redis.url());
    let app = instance_on(database, settings, "test:dying:").await;
    for _ in 0..3 {
        assert_ne!(post(&app, LOGIN).await.status(), 429);
    }
    redis.kill();
    // No 5xx: the in-process limit takes over (it starts afresh, having
    // not seen the requests Redis counted) and still holds.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(post(&app, LOGIN).await.status().as_u16());
    }
    assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn account_lockout_is_shared_through_redis() {
    use tradesense_core::pseudonym::Pseudonyms;
    use tradesense_core::ratelimit::{LoginThrottle, ThrottlePolicy};
    let (url, _) = shared_redis().await;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4());
    // Two instances with one SECRET_KEY name the account alike.
    let secret = secrecy::SecretString::from("a-secret-key-of-at-least-32-characters");
    let instance = || {
        LoginThrottle::new(ThrottlePolicy::default())
            .pseudonyms(Pseudonyms::from_secret_key(&secret))
            .shared_via(SharedRedis::open(&url).unwrap(), &prefix)
    };
    let (a, b) = (instance(), instance());
    // Reservations count as failures until reported right.
    for _ in 0..4 {
        drop(a.reserve("erin@example.com").await.unwrap());
    }
    // Redis holds the keyed pseudonym, not the address nor its bare hash.
    let redis = SharedRedis::open(&url).unwrap();
    let keys: Vec<String> = redis
        .query(redis::cmd("KEYS").arg(format!("{prefix}*")))
        .await
        .unwrap();
    let pseudonym = Pseudonyms::from_secret_key(&secret).pseudonym("erin@example.com");
    assert_eq!(keys, [format!("{prefix}fail:{pseudonym}")]);
    drop(b.reserve("erin@example.com").await.unwrap());
    let retry = a.reserve("erin@example.com").await.unwrap_err().retry_after;
    assert!(
        retry.as_secs() <= 15 && retry.as_millis() > 14_000,
        "{retry:?}"
    );
    a.clear("erin@example.com").await;
    b.reserve("erin@example.com")
        .await
        .unwrap()
        .succeeded()
        .await;
}
