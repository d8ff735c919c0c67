//! Issue 12, items 3 and 8, over HTTP on SQLite and Postgres: the origin
//! rule of the credential routes (login CSRF), `415` for a wrong or missing
//! `Content-Type` on every body route, and `Cache-Control: no-store` on
//! token responses and every response to an authenticated request.

use crate::common::{Backend, TestApp, backends, json_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "plinth-Marmalade-47-orbit";
const TRUSTED: &str = "https://app.example";

async fn app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.cors_origins = vec![TRUSTED.to_owned()];
    })
    .await
}

async fn register(app: &TestApp, email: &str) {
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "full_name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn token(app: &TestApp, email: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn code_of(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = json_body(response).await;
    body["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_foreign_origin_is_refused_on_every_credential_route_before_anything_else() {
    for backend in backends() {
        let app = app(backend).await;
        register(&app, "ada@example.com").await;
        let form = [("username", "ada@example.com"), ("password", PASSWORD)];
        for origin in ["https://evil.example", "null"] {
            // Right credentials, foreign page: 403 and no cookie (login CSRF).
            let response = app
                .client
                .post(app.url("/api/v1/auth/token"))
                .header("origin", origin)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert!(!response.headers().contains_key("set-cookie"), "{origin}");
            assert_eq!(
                code_of(response, StatusCode::FORBIDDEN).await,
                "csrf_origin_mismatch",
                "{backend:?} {origin}"
            );
            // JSON without a Content-Type, from a foreign page: still 403,
            // whatever else is wrong with the request.
            let response = app
                .client
                .post(app.url("/api/v1/auth/login"))
                .header("origin", origin)
                .body(format!(
                    r#"{{"email":"ada@example.com","password":"{PASSWORD}"}}"#
                ))
                .send()
                .await
                .unwrap();
            assert!(!response.headers().contains_key("set-cookie"));
            assert_eq!(
                code_of(response, StatusCode::FORBIDDEN).await,
                "csrf_origin_mismatch"
            );
            for path in ["/api/v1/auth/register", "/api/v1/auth/mfa/login"] {
                let response = app
                    .client
                    .post(app.url(path))
                    .header("origin", origin)
                    .json(&json!({"email": "eve@example.com", "password": PASSWORD,
                                  "full_name": "Eve", "mfa_token": "x", "code": "123456"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    code_of(response, StatusCode::FORBIDDEN).await,
                    "csrf_origin_mismatch",
                    "{path}"
                );
            }
        }
        // A foreign Referer (no Origin) is foreign too.
        let response = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .header("referer", "https://evil.example/login.html")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        // The server's own origin, a trusted one, and no origin at all (an
        // API client) log in.
        let own = format!("http://{}", app.addr);
        for origin in [Some(own.as_str()), Some(TRUSTED), None] {
            let mut request = app.client.post(app.url("/api/v1/auth/token")).form(&form);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{origin:?}");
            assert!(response.headers().contains_key("set-cookie"));
        }
    }
}

#[tokio::test]
async fn a_wrong_or_missing_content_type_is_415_on_every_body_route() {
    for backend in backends() {
        let app = app(backend).await;
        register(&app, "ada@example.com").await;
        let bearer = token(&app, "ada@example.com").await;
        let login = format!(r#"{{"email":"ada@example.com","password":"{PASSWORD}"}}"#);
        // (method, path, content type, body, authenticated)
        let cases: Vec<(&str, &str, Option<&str>, String, bool)> = vec![
            ("POST", "/api/v1/auth/login", None, login.clone(), false),
            (
                "POST",
                "/api/v1/auth/login",
                Some("text/plain"),
                login.clone(),
                false,
            ),
            (
                "POST",
                "/api/v1/auth/login",
                Some("application/x-www-form-urlencoded"),
                login.clone(),
                false,
            ),
            ("POST", "/api/v1/auth/register", None, "{}".into(), false),
            ("POST", "/api/v1/auth/mfa/login", None, "{}".into(), false),
            (
                "POST",
                "/api/v1/auth/token",
                None,
                format!("username=ada%40example.com&password={PASSWORD}"),
                false,
            ),
            (
                "POST",
                "/api/v1/auth/token",
                Some("application/json"),
                login.clone(),
                false,
            ),
            (
                "PATCH",
                "/api/v1/users/me",
                None,
                r#"{"full_name":"X"}"#.into(),
                true,
            ),
            (
                "POST",
                "/api/v1/users/me/password",
                Some("text/plain"),
                "{}".into(),
                true,
            ),
            (
                "POST",
                "/api/v1/portfolios",
                None,
                r#"{"name":"Main"}"#.into(),
                true,
            ),
            (
                "POST",
                "/api/v1/trades",
                Some("text/plain"),
                "{}".into(),
                true,
            ),
            (
                "POST",
                "/api/v1/auth/mfa/verify",
                None,
                r#"{"code":"123456"}"#.into(),
                true,
            ),
        ];
        for (method, path, content_type, body, authenticated) in cases {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut request = app.client.request(method, app.url(path)).body(body);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            if authenticated {
                request = request.bearer_auth(&bearer);
            }
            let response = request.send().await.unwrap();
            assert!(!response.headers().contains_key("set-cookie"), "{path}");
            assert_eq!(
                code_of(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
                "unsupported_media_type",
                "{backend:?} {path} {content_type:?}"
            );
        }
        // The right types still work, parameters allowed.
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", "application/json; charset=utf-8")
            .body(login)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

fn no_store(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("cache-control")
        .is_some_and(|v| v == "no-store")
}

#[tokio::test]
async fn token_responses_and_authenticated_responses_are_no_store() {
    for backend in backends() {
        let app = app(backend).await;
        register(&app, "ada@example.com").await;
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert!(no_store(&response), "/login");
        let form = [("username", "ada@example.com"), ("password", PASSWORD)];
        let response = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(no_store(&response), "/token");
        let bearer = json_body(response).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = app
            .client
            .post(app.url("/api/v1/portfolios"))
            .bearer_auth(&bearer)
            .json(&json!({"name": "Main"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert!(no_store(&response), "POST /portfolios");
        for path in [
            "/api/v1/users/me",
            "/api/v1/users/me/sessions",
            "/api/v1/users/me/security-events",
            "/api/v1/portfolios",
            "/api/v1/trades",
        ] {
            // Twice: a cached answer is no-store as well.
            for _ in 0..2 {
                let response = app
                    .client
                    .get(app.url(path))
                    .bearer_auth(&bearer)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                assert!(no_store(&response), "{backend:?} {path}");
            }
        }
        // Anonymous public routes are not forced no-store.
        let response = app.client.get(app.url("/health")).send().await.unwrap();
        assert!(!no_store(&response));
    }
}
