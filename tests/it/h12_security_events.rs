//! Issue 12, item 7, over HTTP on SQLite and Postgres:
//! `GET /api/v1/users/me/security-events` lists what happened to the
//! account (logins, failures, logout, password and MFA changes, session
//! revocations), newest first, paginated by cursor, owner-scoped; and the
//! same events are structured log lines without secrets.

use crate::common::{TestApp, backends, json_body, session_id};
use crate::mfa_support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything the server logs in this test binary, for the log assertions.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber_init(move || writer.clone());
        captured
    })
}

fn tracing_subscriber_init<W>(make: impl Fn() -> W + Send + Sync + 'static)
where
    W: Write + 'static,
{
    use tracing_subscriber::fmt::MakeWriter;
    struct Make<F>(F);
    impl<'a, F, W> MakeWriter<'a> for Make<F>
    where
        F: Fn() -> W,
        W: Write + 'a,
    {
        type Writer = W;
        fn make_writer(&'a self) -> W {
            (self.0)()
        }
    }
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(Make(make))
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}

async fn events(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/users/me/security-events{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Every event of the caller, following `next_cursor` pages of `limit`.
async fn all_events(app: &TestApp, token: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit={limit}&cursor={c}"),
            None => format!("?limit={limit}"),
        };
        let response = events(app, token, &query).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = json_body(response).await;
        let got = page["items"].as_array().unwrap().clone();
        assert!(got.len() <= limit);
        items.extend(got);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

fn types(items: &[Value]) -> Vec<&str> {
    items.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_account_history_is_listed_newest_first_and_logged() {
    let logs = logs();
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        // A wrong password for an existing account, then logins.
        register(&app, "ada@example.com").await;
        let wrong = post(
            &app,
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong-password-123456"}),
        )
        .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let token = access_token(&app, "ada@example.com").await;
        let other = access_token(&app, "ada@example.com").await;
        // Revoke the other session from this one.
        let other_id = session_id(&app, &token, false).await;
        let response = app
            .client
            .delete(app.url(&format!("/api/v1/users/me/sessions/{other_id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(me_status(&app, &other).await, StatusCode::UNAUTHORIZED);
        // A password change.
        let new_password = "another-Plinth-58-orbit";
        let response = post(
            &app,
            "/api/v1/users/me/password",
            Some(&token),
            json!({"current_password": PASSWORD, "new_password": new_password}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);

        let items = all_events(&app, &token, 2).await;
        assert_eq!(
            types(&items),
            [
                "password_changed",
                "session_revoked",
                "login_succeeded",
                "login_succeeded",
                "login_failed"
            ],
            "{backend:?}: {items:#?}"
        );
        let ids: std::collections::HashSet<&str> =
            items.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), items.len(), "pages neither repeat nor skip");
        assert_eq!(items[1]["session_id"], other_id.as_str());
        assert_eq!(items[0]["ip"], "127.0.0.1");
        assert_eq!(items[4]["session_id"], Value::Null);
        for item in &items {
            for field in ["id", "type", "created_at", "ip", "user_agent", "session_id"] {
                assert!(item.get(field).is_some(), "{field} in {item}");
            }
            // RFC 3339 in UTC.
            let at = item["created_at"].as_str().unwrap();
            assert!(at.ends_with('Z'), "{at}");
            assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        }
        // Owner-scoped: another account sees none of it.
        register(&app, "bob@example.com").await;
        let bob = access_token(&app, "bob@example.com").await;
        assert_eq!(
            types(&all_events(&app, &bob, 50).await),
            ["login_succeeded"]
        );
        // Bad parameters name themselves; no token is 401.
        for (query, field) in [
            ("?limit=0", "limit"),
            ("?limit=501", "limit"),
            ("?cursor=zz", "cursor"),
        ] {
            let response = events(&app, &token, query).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
            let body: Value = json_body(response).await;
            assert_eq!(body["errors"][0]["field"], field);
        }
        let response = app
            .client
            .get(app.url("/api/v1/users/me/security-events"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        // Logout is recorded (seen from a new session).
        let response = post(&app, "/api/v1/auth/logout", Some(&token), json!({})).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "ada@example.com", "password": new_password}))
            .send()
            .await
            .unwrap();
        let fresh = json_body(response).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let items = all_events(&app, &fresh, 50).await;
        assert_eq!(
            types(&items)[..3],
            ["login_succeeded", "logout", "password_changed"]
        );
    }
    // The log has the same events, and no secret.
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    for kind in [
        "login_failed",
        "login_succeeded",
        "session_revoked",
        "password_changed",
        "logout",
    ] {
        assert!(
            text.contains(&format!("\"event_type\":\"{kind}\"")),
            "{kind} logged"
        );
    }
    for secret in [PASSWORD, "another-Plinth-58-orbit", "wrong-password-123456"] {
        assert!(!text.contains(secret), "a password reached the log");
    }
    assert!(!text.contains("eyJ"), "a token reached the log");
    // Each event line names its request, as the access log does.
    let line = text
        .lines()
        .find(|l| l.contains("\"event_type\":\"password_changed\""))
        .unwrap();
    assert!(line.contains("\"request_id\""), "{line}");
    assert!(!line.contains("\"request_id\":\"-\""), "{line}");
}

#[tokio::test]
async fn mfa_changes_failures_and_recovery_codes_are_recorded() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (token, _phone, codes) = enable_mfa(&app, "mfa@example.com").await;
        // A wrong code on disable, then an MFA login with a recovery code.
        let response = post(
            &app,
            "/api/v1/auth/mfa/disable",
            Some(&token),
            json!({"code": "000000"}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let pending = mfa_token(&app, "mfa@example.com").await;
        let response = mfa_login(&app, &pending, &codes[0]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let second = json_body(response).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = post(
            &app,
            "/api/v1/auth/mfa/disable",
            Some(&second),
            json!({"code": codes[1]}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let items = all_events(&app, &second, 3).await;
        assert_eq!(
            types(&items),
            [
                "mfa_disabled",
                "recovery_code_used",
                "login_succeeded",
                "recovery_code_used",
                "mfa_failed",
                "mfa_enabled",
                "login_succeeded"
            ],
            "{backend:?}: {items:#?}"
        );
        let listed = serde_json::to_string(&items).unwrap();
        assert!(!listed.contains(&codes[0]) && !listed.contains(&codes[1]));
    }
}

#[tokio::test]
async fn the_route_is_in_the_openapi_document() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let doc: Value = json_body(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let path = &doc["paths"]["/api/v1/users/me/security-events"]["get"];
    assert!(path.is_object(), "{}", doc["paths"]);
    assert_eq!(path["tags"][0], "users");
    assert!(doc["components"]["schemas"]["SecurityEvent"].is_object());
}
