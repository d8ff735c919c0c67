//! Passkeys black-box (docs/API.md "Passkeys (WebAuthn)"), every row on
//! SQLite and PostgreSQL: adding one after re-authentication, logging in
//! with it (the session, token and cookie of `/login`; no TOTP asked),
//! listing and removing (after re-authentication), the security events,
//! the re-authentication rules of `register/start`, and the other sessions
//! an addition or a removal ends.

use crate::common::{backends, json_body};
use crate::mfa_support::{PASSWORD, access_token, enable_mfa, me_status, mfa_token, refused};
use crate::passkeys_support::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn add_log_in_list_and_remove() {
    for backend in backends() {
        let (app, token) = with_ada(backend).await;
        let mut phone = phone();

        // The options are Level 3 JSON, straight for the browser.
        let (challenge_id, options) = register_start(&app.base, &token).await;
        assert_eq!(options["rp"]["id"], "localhost");
        assert_eq!(options["rp"]["name"], "TradeSense");
        assert_eq!(options["user"]["name"], "ada@example.com");
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(
            options["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert!(options["challenge"].as_str().unwrap().len() >= 43);
        let credential = phone.create(&options).unwrap();
        let response = register_finish(&app.base, &token, &challenge_id, &credential).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let passkey = json_body(response).await;
        let mut keys: Vec<&str> = passkey
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, ["created_at", "id", "last_used_at", "name"]);
        assert_eq!(passkey["name"], "Phone");
        assert!(passkey["last_used_at"].is_null());

        // Her existing passkey is excluded from the next registration.
        let (_, options) = register_start(&app.base, &token).await;
        let excluded = options["excludeCredentials"].as_array().unwrap();
        assert_eq!(excluded.len(), 1);
        assert_eq!(excluded[0]["id"], credential["rawId"]);

        // Log in: no allowCredentials, user verification required.
        let (challenge_id, options) = login_start(&app.base).await;
        assert!(options.get("allowCredentials").is_none(), "{options}");
        assert_eq!(options["userVerification"], "required");
        assert_eq!(options["rpId"], "localhost");
        let assertion = phone.get(&options).unwrap();
        let response = login_finish(&app.base, &challenge_id, &assertion).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cookie.starts_with("auth-token="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let body = json_body(response).await;
        assert_eq!(body["token_type"], "bearer");
        assert!(body["expires_in"].as_u64().unwrap() > 0);
        // The cookie alone authenticates /users/me.
        let jwt = cookie.split(';').next().unwrap();
        let me = app
            .client
            .get(app.url("/api/v1/users/me"))
            .header("cookie", jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
        assert_eq!(json_body(me).await["email"], "ada@example.com");
        // It is a session like a password login's.
        let passkey_token = body["access_token"].as_str().unwrap();
        let sessions = json_body(get(&app, "/api/v1/users/me/sessions", passkey_token).await).await;
        assert_eq!(sessions["items"].as_array().unwrap().len(), 2);

        // Listed, with its last use; other users see none of it.
        let list = json_body(get(&app, "/api/v1/users/me/passkeys", &token).await).await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], passkey["id"]);
        assert!(items[0]["last_used_at"].is_string());
        let eve = user(&app, "eve@example.com").await;
        let theirs = json_body(get(&app, "/api/v1/users/me/passkeys", &eve).await).await;
        assert_eq!(theirs["items"], json!([]));
        let path = format!(
            "/api/v1/users/me/passkeys/{}",
            passkey["id"].as_str().unwrap()
        );
        let delete = |token: String| remove_passkey(&app, &path, token, PASSWORD);
        problem(delete(eve.clone()).await, StatusCode::NOT_FOUND).await;

        // Removed by its owner: it logs in no more.
        assert_eq!(delete(token.clone()).await.status(), StatusCode::NO_CONTENT);
        problem(delete(token.clone()).await, StatusCode::NOT_FOUND).await;
        let list = json_body(get(&app, "/api/v1/users/me/passkeys", &token).await).await;
        assert_eq!(list["items"], json!([]));
        let refused = problem(
            passkey_login(&app.base, &mut phone).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_eq!(refused["code"], "invalid_passkey");

        // Each addition, removal and login is a security event.
        let events = event_types(&app, &token).await;
        for kind in ["passkey_added", "passkey_removed", "login_succeeded"] {
            assert!(events.iter().any(|e| e == kind), "{kind} in {events:?}");
        }
        assert_eq!(events[0], "passkey_removed", "{events:?}");
        assert_eq!(
            events.iter().filter(|e| *e == "login_succeeded").count(),
            2,
            "{events:?}"
        );
    }
}

/// A passkey with user verification is itself two factors: a user with
/// MFA logs in by passkey without a TOTP code (the password still asks
/// for one).
#[tokio::test]
async fn a_passkey_login_asks_no_totp_code() {
    for backend in backends() {
        let app = spawn(backend).await;
        let (token, _totp, _codes) = enable_mfa(&app, "mfa@example.com").await;
        let mut phone = phone();
        add_passkey(&app, &token, &mut phone).await;
        mfa_token(&app, "mfa@example.com").await;
        let response = passkey_login(&app.base, &mut phone).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().contains_key("set-cookie"));
        let body = json_body(response).await;
        assert_eq!(body["token_type"], "bearer");
        assert!(body.get("mfa_required").is_none());
    }
}

#[tokio::test]
async fn adding_a_passkey_needs_the_current_password() {
    for backend in backends() {
        let (app, token) = with_ada(backend).await;
        let start = |body: serde_json::Value, token: Option<String>| {
            let base = app.base.clone();
            async move {
                post_at(
                    &base,
                    "/api/v1/auth/passkeys/register/start",
                    token.as_deref(),
                    body,
                )
                .await
            }
        };
        let unauthenticated = start(json!({"current_password": PASSWORD}), None).await;
        assert_eq!(
            problem(unauthenticated, StatusCode::UNAUTHORIZED).await["code"],
            "not_authenticated"
        );
        let missing = problem(
            start(json!({}), Some(token.clone())).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            missing.to_string().contains("current_password"),
            "{missing}"
        );
        let name = problem(
            start(
                json!({"current_password": PASSWORD, "name": " "}),
                Some(token.clone()),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(name["errors"][0]["field"], "name");
        // Wrong passwords count against the account, as the logins do.
        for _ in 0..5 {
            let wrong = start(
                json!({"current_password": "not-the-password-1"}),
                Some(token.clone()),
            )
            .await;
            assert_eq!(
                problem(wrong, StatusCode::BAD_REQUEST).await["code"],
                "invalid_current_password"
            );
        }
        let locked = start(json!({"current_password": PASSWORD}), Some(token.clone())).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(locked.headers().contains_key("retry-after"));
        let events = event_types(&app, &token).await;
        assert!(events.iter().any(|e| e == "account_locked"), "{events:?}");
    }
}

/// Adding a passkey is a new way in, removing one a change of credentials:
/// either ends every other session of the user at once (as a password
/// change does), and the session that made the change goes on.
#[tokio::test]
async fn adding_or_removing_a_passkey_ends_the_other_sessions() {
    for backend in backends() {
        let (app, token) = with_ada(backend).await;
        let other = access_token(&app, "ada@example.com").await;
        assert_eq!(me_status(&app, &other).await, StatusCode::OK);

        let passkey = add_passkey(&app, &token, &mut phone()).await;
        assert_eq!(me_status(&app, &other).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me_status(&app, &token).await, StatusCode::OK);

        let other = access_token(&app, "ada@example.com").await;
        let path = format!(
            "/api/v1/users/me/passkeys/{}",
            passkey["id"].as_str().unwrap()
        );
        let removed = remove_passkey(&app, &path, token.clone(), PASSWORD).await;
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        assert_eq!(me_status(&app, &other).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me_status(&app, &token).await, StatusCode::OK);
    }
}

/// Removing a passkey re-authenticates: without the current password, or
/// with a wrong one, nothing is removed and no session ends.
#[tokio::test]
async fn removing_a_passkey_needs_the_current_password() {
    for backend in backends() {
        let (app, token) = with_ada(backend).await;
        let passkey = add_passkey(&app, &token, &mut phone()).await;
        let other = access_token(&app, "ada@example.com").await;
        let path = format!(
            "/api/v1/users/me/passkeys/{}",
            passkey["id"].as_str().unwrap()
        );

        let wrong = remove_passkey(&app, &path, token.clone(), "not-the-password-at-all").await;
        assert_eq!(
            refused(wrong, StatusCode::BAD_REQUEST).await,
            "invalid_current_password"
        );
        let bare = app
            .client
            .delete(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            refused(bare, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
            "unsupported_media_type"
        );
        let empty = app
            .client
            .delete(app.url(&path))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let list = json_body(get(&app, "/api/v1/users/me/passkeys", &token).await).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(me_status(&app, &other).await, StatusCode::OK);
    }
}
