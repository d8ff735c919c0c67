//! Black-box tests of what the auth layer refuses, over real HTTP on every
//! backend: forged and misused tokens, CSRF both ways, CORS, the MFA-pending
//! answer, key rotation and production cookies.

use crate::common::{TestApp, backends, json_body};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use tradesense_core::auth::TokenKeys;
use tradesense_server::{Environment, Settings};

const PASSWORD: &str = "correct horse battery staple";

/// The keys of `Settings::for_tests` (what `TestApp` runs with).
fn test_keys() -> TokenKeys {
    Settings::for_tests("sqlite://unused.db").token_keys()
}

/// Registers `email`; its id.
async fn register(app: &TestApp, email: &str) -> uuid::Uuid {
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "full_name": "T"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    json_body(response).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Registers `email` and logs in: (user id, access token).
async fn user(app: &TestApp, email: &str) -> (uuid::Uuid, String) {
    let id = register(app, email).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let token = json_body(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, token)
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

fn reencode(
    token: &str,
    header: Option<serde_json::Value>,
    payload: Option<serde_json::Value>,
) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    if let Some(header) = header {
        parts[0] = URL_SAFE_NO_PAD.encode(header.to_string());
    }
    if let Some(payload) = payload {
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    }
    parts.join(".")
}

fn decode_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn forged_expired_and_misused_tokens_are_refused() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (user_id, token) = user(&app, "t@example.com").await;
        assert_eq!(me_status(&app, &token).await, StatusCode::OK);

        let header = decode_part(&token, 0);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], "HS256");
        assert!(header["kid"].is_string());
        let claims = decode_part(&token, 1);
        for claim in ["sub", "sid", "iat", "exp", "iss", "aud"] {
            assert!(claims.get(claim).is_some(), "{claim}");
        }

        // Tampered payload (another user id), signature left as it was.
        let mut forged = claims.clone();
        forged["sub"] = json!(uuid::Uuid::now_v7());
        let tampered = reencode(&token, None, Some(forged));
        // `alg: none` with an empty signature.
        let mut none_header = header.clone();
        none_header["alg"] = json!("none");
        let none = format!(
            "{}.",
            reencode(&token, Some(none_header), None)
                .rsplit_once('.')
                .unwrap()
                .0
        );
        // Signed by a key the server does not know.
        let sid: uuid::Uuid = claims["sid"].as_str().unwrap().parse().unwrap();
        let other = TokenKeys::new(
            b"some-other-secret-some-other-secret",
            &[],
            Duration::from_secs(60),
        )
        .issue_access(user_id, sid, chrono::Utc::now());
        // Expired: issued two TTLs ago by the right key.
        let keys = test_keys();
        let expired = keys.issue_access(
            user_id,
            sid,
            chrono::Utc::now() - chrono::TimeDelta::days(3),
        );
        // An MFA-pending token is never an access token.
        let mfa = keys.issue_mfa(user_id, "any password hash", chrono::Utc::now());
        // A well-signed token of a session that does not exist.
        let no_session = keys.issue_access(user_id, uuid::Uuid::now_v7(), chrono::Utc::now());

        for (name, bad) in [
            ("tampered", tampered),
            ("alg none", none),
            ("other key", other),
            ("expired", expired),
            ("mfa token", mfa),
            ("no session", no_session),
            ("garbage", "not.a.jwt".to_owned()),
        ] {
            let response = app
                .client
                .get(app.url("/api/v1/users/me"))
                .bearer_auth(&bad)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer", "{name}");
            assert_eq!(
                json_body(response).await["code"],
                "not_authenticated",
                "{name}"
            );
            let response = app
                .client
                .get(app.url("/api/v1/users/me"))
                .header("cookie", format!("auth-token={bad}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{name} (cookie)"
            );
        }
        // The right key over the same session still works: only the forgeries failed.
        assert_eq!(
            me_status(&app, &keys.issue_access(user_id, sid, chrono::Utc::now())).await,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn csrf_applies_to_cookies_only() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |settings| {
            settings.cors_origins = vec!["https://app.example.com".to_owned()];
        })
        .await;
        let (_, token) = user(&app, "c@example.com").await;
        let patch = |origin: Option<&str>, referer: Option<&str>, by_cookie: bool| {
            let mut request = app
                .client
                .patch(app.url("/api/v1/users/me"))
                .json(&json!({"full_name": "New"}));
            request = if by_cookie {
                request.header("cookie", format!("auth-token={token}"))
            } else {
                request.bearer_auth(&token)
            };
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            if let Some(referer) = referer {
                request = request.header("referer", referer);
            }
            request.send()
        };
        let foreign = patch(Some("https://evil.example"), None, true)
            .await
            .unwrap();
        assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
        assert_eq!(json_body(foreign).await["code"], "csrf_origin_mismatch");
        let foreign_referer = patch(None, Some("https://evil.example/x"), true)
            .await
            .unwrap();
        assert_eq!(foreign_referer.status(), StatusCode::FORBIDDEN);

        assert_eq!(
            patch(Some(&app.base), None, true).await.unwrap().status(),
            StatusCode::OK
        );
        let own_referer = format!("{}/settings", app.base);
        assert_eq!(
            patch(None, Some(&own_referer), true)
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            patch(Some("https://app.example.com"), None, true)
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            patch(None, None, true).await.unwrap().status(),
            StatusCode::OK
        );
        // Bearer requests are not affected by Origin.
        assert_eq!(
            patch(Some("https://evil.example"), None, false)
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        // Safe methods are not affected either.
        let get = app
            .client
            .get(app.url("/api/v1/users/me"))
            .header("cookie", format!("auth-token={token}"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn cors_allows_configured_origins_with_credentials() {
    let app = TestApp::spawn_with(crate::common::Backend::Sqlite, |settings| {
        settings.cors_origins = vec!["https://app.example.com".to_owned()];
    })
    .await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/users/me"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        preflight.headers()["access-control-allow-credentials"],
        "true"
    );
    let other = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn mfa_users_get_an_mfa_token_and_no_cookie() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        // Not logged in before MFA is switched on behind the server's back:
        // a login would have cached "MFA off" (the cache is invalidated by
        // enrolments through the MFA store, not by this direct write).
        let user_id = register(&app, "m@example.com").await;
        tradesense_core::with_pool!(app.database.store.db(), |pool| {
            // MFA on (its state is the mfa set's, not a column of `users`).
            sqlx::query(
                "INSERT INTO mfa_factors (user_id, enabled, updated_at) VALUES ($2, $1, $3)",
            )
            .bind(true)
            .bind(user_id)
            .bind(tradesense_core::store::to_micros(chrono::Utc::now()))
            .execute(pool)
            .await
            .unwrap();
        });
        for response in [
            app.client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"email": "m@example.com", "password": PASSWORD}))
                .send()
                .await
                .unwrap(),
            app.client
                .post(app.url("/api/v1/auth/token"))
                .form(&[("username", "m@example.com"), ("password", PASSWORD)])
                .send()
                .await
                .unwrap(),
        ] {
            assert_eq!(response.status(), StatusCode::OK);
            assert!(response.headers().get("set-cookie").is_none());
            let body = json_body(response).await;
            assert_eq!(body["mfa_required"], true);
            assert_eq!(body["token_type"], "mfa");
            let mfa_token = body["mfa_token"].as_str().unwrap();
            assert_eq!(
                test_keys()
                    .verify_mfa(mfa_token, chrono::Utc::now())
                    .unwrap()
                    .sub,
                user_id
            );
            assert_eq!(me_status(&app, mfa_token).await, StatusCode::UNAUTHORIZED);
        }
    }
}

#[tokio::test]
async fn rotated_keys_still_verify() {
    use http_body_util::Full;
    use tower::ServiceExt;
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, old_token) = user(&app, "r@example.com").await;
        // A second instance over the same database after a key rotation:
        // new signing key, the old one kept for verification.
        let mut settings = Settings::for_tests(&app.database.url);
        let old_key = settings.jwt_secret_key.clone();
        settings.jwt_secret_key = "a-brand-new-signing-key-for-rotation-0001"
            .to_owned()
            .into();
        settings.jwt_previous_secret_keys = vec![old_key];
        let rotated =
            tradesense_server::App::with_store(settings.clone(), app.database.store.clone());
        let me = |token: &str| {
            http::Request::builder()
                .uri("/api/v1/users/me")
                .header("authorization", format!("Bearer {token}"))
                .body(Full::<bytes::Bytes>::default())
                .unwrap()
        };
        let response = rotated.service().oneshot(me(&old_token)).await.unwrap();
        assert_eq!(response.status(), 200);
        // Without the previous key, the old token is refused.
        settings.jwt_previous_secret_keys.clear();
        let strict = tradesense_server::App::with_store(settings, app.database.store.clone());
        let response = strict.service().oneshot(me(&old_token)).await.unwrap();
        assert_eq!(response.status(), 401);
    }
}

#[tokio::test]
async fn production_cookies_are_secure() {
    let app = TestApp::spawn_with(crate::common::Backend::Sqlite, |settings| {
        settings.environment = Environment::Production;
    })
    .await;
    let (_, token) = user(&app, "p@example.com").await;
    let login = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "p@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("auth-token=")
            && cookie.ends_with("; HttpOnly; SameSite=Lax; Path=/; Max-Age=86400; Secure"),
        "{cookie}"
    );
    let logout = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        logout.headers()["set-cookie"],
        "auth-token=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure"
    );
}

/// `POST /auth/logout-all` ends every session of the user, the caller's
/// too, and clears the cookie; a cookie caller from a foreign origin is
/// refused like on `/logout`, and nothing ends; other users keep theirs.
#[tokio::test]
async fn logout_all_ends_every_session_of_the_user() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, first) = user(&app, "everywhere@example.com").await;
        let second = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "everywhere@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let second = json_body(second).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, bystander) = user(&app, "bystander@example.com").await;
        let logout_all = |origin: Option<&str>| {
            let mut request = app
                .client
                .post(app.url("/api/v1/auth/logout-all"))
                .header("cookie", format!("auth-token={second}"));
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.send()
        };

        let foreign = logout_all(Some("https://evil.example")).await.unwrap();
        assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
        assert_eq!(json_body(foreign).await["code"], "csrf_origin_mismatch");
        assert_eq!(me_status(&app, &first).await, StatusCode::OK);

        let response = logout_all(Some(&app.base)).await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(
            cookie.starts_with("auth-token=;") && cookie.contains("Max-Age=0"),
            "{cookie}"
        );
        assert_eq!(me_status(&app, &first).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me_status(&app, &second).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me_status(&app, &bystander).await, StatusCode::OK);
        // Its session is over: the token cannot call it again.
        let again = logout_all(None).await.unwrap();
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    }
}
