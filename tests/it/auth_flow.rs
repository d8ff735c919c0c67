//! Black-box tests of the auth endpoints and `/users/me` over real HTTP, on
//! every backend: register, login (JSON and form), cookie and bearer,
//! logout, sessions, password change.

use crate::common::{TestApp, backends, json_body, session_id};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

async fn register(app: &TestApp, email: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "full_name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("user-agent", "auth-tests/1.0")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Registers and logs in; returns (access token, Set-Cookie value).
async fn session(app: &TestApp, email: &str) -> (String, String) {
    let response = login(app, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json_body(response).await;
    (body["access_token"].as_str().unwrap().to_owned(), cookie)
}

async fn me_bearer(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn me_cookie(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/users/me"))
        .header("cookie", format!("theme=dark; auth-token={token}"))
        .send()
        .await
        .unwrap()
}

async fn assert_problem(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = json_body(response).await;
    assert_eq!(body["code"], code, "{body}");
    body
}

#[tokio::test]
async fn register_login_me_logout() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let response = register(&app, "Ada@Example.com").await;
        assert_eq!(response.status(), StatusCode::CREATED, "{backend:?}");
        let user = json_body(response).await;
        assert_eq!(user["email"], "ada@example.com");
        assert_eq!(user["full_name"], "Ada Lovelace");
        assert_eq!(user["mfa_enabled"], false);
        assert!(user["id"].as_str().is_some() && user["created_at"].as_str().is_some());
        assert!(user.get("password_hash").is_none());
        let keys: Vec<_> = user.as_object().unwrap().keys().cloned().collect();
        // The user object of docs/API.md, `timezone` (issue 13) included.
        assert_eq!(user["timezone"], "UTC");
        assert_eq!(keys.len(), 6, "{keys:?}");

        // Login matches the email case-insensitively.
        let response = login(&app, "ADA@example.COM", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body = json_body(response).await;
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 86400);
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(
            cookie,
            format!("auth-token={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=86400")
        );

        // Both credentials work on a protected route.
        let me = json_body(me_bearer(&app, token).await).await;
        assert_eq!(me, user);
        let me = me_cookie(&app, token).await;
        assert_eq!(me.status(), StatusCode::OK);

        // Logout (by cookie, same origin) clears the cookie and revokes the
        // session: the bearer use of the same token dies with it.
        let response = app
            .client
            .post(app.url("/api/v1/auth/logout"))
            .header("cookie", format!("auth-token={token}"))
            .header("origin", app.base.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            response.headers()["set-cookie"],
            "auth-token=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"
        );
        let response = me_bearer(&app, token).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_problem(response, StatusCode::UNAUTHORIZED, "not_authenticated").await;
        let response = app
            .client
            .post(app.url("/api/v1/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED, "not_authenticated").await;
    }
}

#[tokio::test]
async fn oauth2_token_form() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        register(&app, "form@example.com").await;
        let response = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .form(&[
                ("username", "Form@Example.com"),
                ("password", PASSWORD),
                ("grant_type", "password"),
                ("scope", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().contains_key("set-cookie"));
        let token = json_body(response).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(me_bearer(&app, &token).await.status(), StatusCode::OK);

        let response = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .form(&[
                ("username", "form@example.com"),
                ("password", "wrong password here"),
            ])
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

#[tokio::test]
async fn registration_validation_and_duplicates() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        assert_eq!(
            register(&app, "dup@example.com").await.status(),
            StatusCode::CREATED
        );
        assert_problem(
            register(&app, "DUP@Example.COM").await,
            StatusCode::CONFLICT,
            "email_taken",
        )
        .await;

        for (email, password, field) in [
            ("not-an-email", PASSWORD, "email"),
            ("weak@example.com", "password1234", "password"),
            ("short@example.com", "Tr0ub4dor&3", "password"),
            ("long@example.com", &"x".repeat(257), "password"),
        ] {
            let response = app
                .client
                .post(app.url("/api/v1/auth/register"))
                .json(&json!({"email": email, "password": password, "full_name": "X"}))
                .send()
                .await
                .unwrap();
            let body = assert_problem(
                response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert_eq!(body["errors"][0]["field"], field, "{body}");
        }
        let response = app
            .client
            .post(app.url("/api/v1/auth/register"))
            .header("content-type", "application/json")
            .body("{\"email\":")
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::BAD_REQUEST, "malformed_body").await;
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        register(&app, "known@example.com").await;
        let wrong = login(&app, "known@example.com", "not the right password").await;
        let unknown = login(&app, "unknown@example.com", "not the right password").await;
        let malformed = login(&app, "not an email", "not the right password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(malformed.status(), StatusCode::UNAUTHORIZED);
        let (wrong, unknown, malformed) = (
            wrong.text().await.unwrap(),
            unknown.text().await.unwrap(),
            malformed.text().await.unwrap(),
        );
        assert_eq!(wrong, unknown);
        assert_eq!(wrong, malformed);
        assert!(wrong.contains("invalid_credentials"));
    }
}

#[tokio::test]
async fn profile_sessions_and_password_change() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        assert_eq!(
            register(&app, "s@example.com").await.status(),
            StatusCode::CREATED
        );
        let (first, _) = session(&app, "s@example.com").await;
        let (second, _) = session(&app, "s@example.com").await;

        let response = app
            .client
            .patch(app.url("/api/v1/users/me"))
            .bearer_auth(&first)
            .json(&json!({"full_name": "  Grace Hopper "}))
            .send()
            .await
            .unwrap();
        assert_eq!(json_body(response).await["full_name"], "Grace Hopper");

        let list = json_body(
            app.client
                .get(app.url("/api/v1/users/me/sessions"))
                .bearer_auth(&first)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{list}");
        assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
        assert_eq!(items[0]["user_agent"], "auth-tests/1.0");
        assert_eq!(items[0]["ip"], "127.0.0.1");
        assert!(items[0]["last_seen_at"].as_str().is_some());

        // Ending another user's (or a made-up) session is 404.
        let missing = app
            .client
            .delete(app.url(&format!(
                "/api/v1/users/me/sessions/{}",
                uuid::Uuid::now_v7()
            )))
            .bearer_auth(&first)
            .send()
            .await
            .unwrap();
        assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;

        // Password change: wrong current is refused; then the other session dies.
        let response = app
            .client
            .post(app.url("/api/v1/users/me/password"))
            .bearer_auth(&first)
            .json(&json!({"current_password": "nope nope nope", "new_password": "a brand new passphrase 42"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = app
            .client
            .post(app.url("/api/v1/users/me/password"))
            .bearer_auth(&first)
            .json(&json!({"current_password": PASSWORD, "new_password": "password1234"}))
            .send()
            .await
            .unwrap();
        assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let response = app
            .client
            .post(app.url("/api/v1/users/me/password"))
            .bearer_auth(&first)
            .json(
                &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase 42"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(me_bearer(&app, &first).await.status(), StatusCode::OK);
        assert_eq!(
            me_bearer(&app, &second).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login(&app, "s@example.com", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login(&app, "s@example.com", "a brand new passphrase 42")
                .await
                .status(),
            StatusCode::OK
        );

        // DELETE /me/sessions/{id} ends a session at once.
        let third =
            json_body(login(&app, "s@example.com", "a brand new passphrase 42").await).await;
        let third = third["access_token"].as_str().unwrap().to_owned();
        let current = session_id(&app, &third, true).await;
        let response = app
            .client
            .delete(app.url(&format!("/api/v1/users/me/sessions/{current}")))
            .bearer_auth(&first)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            me_bearer(&app, &third).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(me_bearer(&app, &first).await.status(), StatusCode::OK);
    }
}

/// The product composes its profile into the password policy: a new
/// password built from the account's own display name is refused, as one
/// built from its e-mail is; the same string is a fine password for an
/// account of another name.
#[tokio::test]
async fn a_new_password_may_not_be_the_display_name() {
    const NAME: &str = "Xqzvkpwrtmblq Jfhgdsyuitre";
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        for (email, name) in [("x@example.com", NAME), ("y@example.com", "Ada Lovelace")] {
            let response = app
                .client
                .post(app.url("/api/v1/auth/register"))
                .json(&json!({"email": email, "password": PASSWORD, "full_name": name}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let change = |email: &'static str| {
            let app = &app;
            async move {
                let (token, _) = session(app, email).await;
                app.client
                    .post(app.url("/api/v1/users/me/password"))
                    .bearer_auth(&token)
                    .json(&json!({"current_password": PASSWORD, "new_password": NAME}))
                    .send()
                    .await
                    .unwrap()
            }
        };
        let refused = assert_problem(
            change("x@example.com").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], "new_password", "{refused}");
        assert_eq!(
            change("y@example.com").await.status(),
            StatusCode::NO_CONTENT
        );
    }
}
