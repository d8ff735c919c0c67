//! Issue 12, item 4, over HTTP on SQLite and Postgres: IPv6 clients are
//! counted by their /64, and one resolved client address (trusted proxies
//! applied) is what the limits count, the sessions show and the security
//! events record.

use crate::common::{Backend, TestApp, backends, json_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "plinth-Marmalade-47-orbit";

/// Behind a proxy on 127.0.0.1, with the default credential limit (5 a
/// minute per client).
async fn behind_proxy(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        settings.auth_rate_limit_per_minute = 5;
    })
    .await
}

async fn login_from(app: &TestApp, email: &str, client: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", client)
        .header("user-agent", "h12-test/1.0")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn twelve_logins_from_one_ipv6_64_hit_the_per_client_limit() {
    for backend in backends() {
        let app = behind_proxy(backend).await;
        let mut statuses = Vec::new();
        for host in 1..=12 {
            // A different (unknown) account each time: only the per-client
            // limit can refuse these, never the per-account throttle.
            let email = format!("nobody{host}@example.com");
            let response = login_from(&app, &email, &format!("2001:db8:1:2::{host:x}")).await;
            statuses.push(response.status());
        }
        assert_eq!(
            statuses[..5],
            [StatusCode::UNAUTHORIZED; 5],
            "{backend:?}: {statuses:?}"
        );
        assert!(
            statuses[5..]
                .iter()
                .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
            "{backend:?}: the 6th onwards are 429: {statuses:?}"
        );
        // Another /64 has a budget of its own; so has an IPv4 neighbour.
        let other = login_from(&app, "x@example.com", "2001:db8:1:3::1").await;
        assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
        let v4 = login_from(&app, "y@example.com", "198.51.100.7").await;
        assert_eq!(v4.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn sessions_and_events_record_the_client_the_limiter_resolved() {
    for backend in backends() {
        let app = behind_proxy(backend).await;
        let response = app
            .client
            .post(app.url("/api/v1/auth/register"))
            .header("x-forwarded-for", "203.0.113.7")
            .json(&json!({"email": "ada@example.com", "password": PASSWORD, "full_name": "Ada"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        // The client claims 6.6.6.6 leftmost; the proxy appended the real
        // peer it saw, 203.0.113.7 (rightmost untrusted hop).
        let response = login_from(&app, "ada@example.com", "6.6.6.6, 203.0.113.7").await;
        assert_eq!(response.status(), StatusCode::OK);
        let token = json_body(response).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = app
            .client
            .get(app.url("/api/v1/users/me/sessions"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let sessions: Value = json_body(response).await;
        let session = &sessions["items"][0];
        assert_eq!(session["ip"], "203.0.113.7", "{backend:?}: {sessions}");
        assert_eq!(session["user_agent"], "h12-test/1.0");
        let response = app
            .client
            .get(app.url("/api/v1/users/me/security-events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let events: Value = json_body(response).await;
        let login = &events["items"][0];
        assert_eq!(login["type"], "login_succeeded", "{events}");
        assert_eq!(login["ip"], "203.0.113.7", "{backend:?}: {events}");
        assert_eq!(login["session_id"], session["id"]);
        // An IPv6 client is recorded by its full address (the /64 is only
        // the limiter's key).
        let response = login_from(&app, "ada@example.com", "2001:db8:1:2::abc").await;
        assert_eq!(response.status(), StatusCode::OK);
        let response = app
            .client
            .get(app.url("/api/v1/users/me/sessions"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let sessions: Value = json_body(response).await;
        let ips: Vec<&str> = sessions["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["ip"].as_str())
            .collect();
        assert_eq!(ips, ["203.0.113.7", "2001:db8:1:2::abc"], "{backend:?}");
    }
}
