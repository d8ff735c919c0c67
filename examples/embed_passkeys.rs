//! A stranger's axum service with passkeys, on its own users table.
//!
//! The "notes" service of `embed_auth_axum` (its integer-keyed `accounts`
//! table, `support/accounts.rs`) adds TradeSense's passkeys alone, without
//! MFA:
//!
//! - a [`RelyingParty`]: the frontend's origin (here `http://localhost:3003`,
//!   where the API is served too) and the RP ID (its host);
//! - the credentials and ceremonies in core's [`SqlStore`] on the service's
//!   own database (the `Passkeys` migration set: two tables, no users
//!   table; the passkeys' `user_id` is the account's UUID handle, which is
//!   also the WebAuthn user handle). Any number of instances sharing that
//!   database finish each other's ceremonies; a single instance could take
//!   `MemoryPasskeyStore` instead;
//! - [`PasskeyEndpoints`]: the ceremonies under `/identity` beside the
//!   password endpoints, the list and removal under `/identity/me`.
//!
//! A passkey login answers exactly as the password login does (session,
//! token, cookie). The test below runs both ceremonies in-process with the
//! software authenticator of `tradesense_core::passkeys::testing`.
//!
//! Run: `cargo run --example embed_passkeys`, then open
//! `http://localhost:3003/identity/me` in a browser after logging in with
//! the calls of docs/API.md (or README's ten lines of JavaScript).
//! `cargo test --example embed_passkeys` runs the test.

// Shared with the other embedding examples; this one uses the accounts,
// not the notes.
#[path = "support/accounts.rs"]
#[allow(dead_code)]
mod accounts;

use accounts::Accounts;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tradesense_core::auth::{AuthState, Authenticator, Sessions, TokenKeys};
use tradesense_core::cache::{Cache, CacheConfig};
use tradesense_core::http::not_found;
use tradesense_core::passkeys::{PasskeyEndpoints, PasskeyService, RelyingParty};
use tradesense_core::store::SqlStore;
use tradesense_core::users::UserCache;

/// Where the service mounts the auth endpoints, passkeys included.
pub const AUTH_PREFIX: &str = "/identity";
/// The frontend's origin (and the API's: one site).
pub const ORIGIN: &str = "http://localhost:3003";

/// The whole service.
pub async fn app(accounts: Accounts) -> anyhow::Result<Router> {
    let keys = TokenKeys::new(
        b"notes-example-secret-0123456789abcdef",
        &[],
        Duration::from_secs(3600),
    )
    .with_issuer("notes.example");
    let cache = Cache::in_process(CacheConfig::default());
    // Sessions and passkeys in core's tables, beside the accounts.
    let store: Arc<SqlStore> = Arc::new(accounts.core_store());
    let sessions = Sessions::new(store.clone(), &cache);
    let auth = AuthState::builder(
        Authenticator::new(keys, sessions),
        Arc::new(accounts.clone()),
    )
    .build();
    let rp = RelyingParty::new(ORIGIN, None, "Notes")?;
    let passkeys = PasskeyEndpoints::new(
        auth.clone(),
        PasskeyService::builder(rp, store.clone(), store).build()?,
    );
    let identity = auth
        .register_routes(accounts.clone())
        .merge(auth.login_routes())
        .merge(auth.me_routes(UserCache::new(accounts, &cache)))
        .merge(passkeys.routes())
        .merge(passkeys.user_routes());
    Ok(Router::new()
        .nest(AUTH_PREFIX, Router::from(identity))
        .fallback(not_found))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _log =
        tradesense_core::telemetry::init_tracing(tradesense_core::telemetry::LogFormat::Pretty);
    let app = app(Accounts::in_memory().await?).await?;
    let listener = TcpListener::bind("127.0.0.1:3003").await?;
    println!("listening on {ORIGIN}: passkeys under {ORIGIN}{AUTH_PREFIX}/passkeys/*");
    axum::serve(listener, app).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use serde_json::{Value, json};
    use tower::ServiceExt;
    use tradesense_core::passkeys::testing::SoftAuthenticator;

    const PASSWORD: &str = "correct horse battery staple 42";

    /// One request through the app: status, `Set-Cookie`, JSON body.
    async fn call(
        app: &Router,
        path: &str,
        auth: Option<&str>,
        body: Value,
    ) -> (u16, Option<String>, Value) {
        let mut request = http::Request::post(format!("{AUTH_PREFIX}{path}"))
            .header("content-type", "application/json");
        if let Some(auth) = auth {
            request = request.header("cookie", auth);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get("set-cookie")
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, cookie, body)
    }

    #[tokio::test]
    async fn register_a_passkey_and_log_in_with_it() {
        let app = app(Accounts::in_memory().await.unwrap()).await.unwrap();
        let account = json!({"email": "ada@example.com", "password": PASSWORD});
        assert_eq!(call(&app, "/register", None, account).await.0, 201);
        let login = json!({"email": "ada@example.com", "password": PASSWORD});
        let (_, cookie, _) = call(&app, "/login", None, login).await;
        let cookie = cookie.unwrap();

        // Add a passkey: re-authenticate, create, finish.
        let mut phone = SoftAuthenticator::new(ORIGIN);
        let start = json!({"current_password": PASSWORD, "name": "Phone"});
        let (status, _, started) =
            call(&app, "/passkeys/register/start", Some(&cookie), start).await;
        assert_eq!(status, 200, "{started}");
        let credential = phone.create(&started["options"]).unwrap();
        let finish = json!({"challenge_id": started["challenge_id"], "credential": credential});
        let (status, _, passkey) =
            call(&app, "/passkeys/register/finish", Some(&cookie), finish).await;
        assert_eq!(status, 201, "{passkey}");

        // Log in with it: the same cookie a password login gets.
        let (_, _, started) = call(&app, "/passkeys/login/start", None, json!({})).await;
        let assertion = phone.get(&started["options"]).unwrap();
        let finish = json!({"challenge_id": started["challenge_id"], "credential": assertion});
        let (status, passkey_cookie, token) =
            call(&app, "/passkeys/login/finish", None, finish).await;
        assert_eq!(status, 200, "{token}");
        assert_eq!(token["token_type"], "bearer");
        let me = http::Request::get(format!("{AUTH_PREFIX}/me"))
            .header("cookie", passkey_cookie.unwrap())
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.clone().oneshot(me).await.unwrap().status(), 200);
    }
}
