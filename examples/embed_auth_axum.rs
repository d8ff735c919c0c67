//! A stranger's axum service embedding TradeSense's authentication.
//!
//! The service ("notes") owns its accounts: an `accounts` table keyed by
//! an integer, with no display name and no time zone, and its `notes`
//! (`support/accounts.rs`). It keeps its primary key: core names each
//! account by a UUID *handle* stored beside it (`accounts.handle`), as
//! Loco's `pid`; tokens, sessions, MFA and passkeys use that, and
//! [`CurrentUser<Account>`] hands the service its own row back.
//!
//! **Storage code it wrote for core: 61 lines**, all for its accounts
//! (`UserStore`: find by login, find by handle, set the password hash;
//! `Registration`: create; `LoadUser`: its own record). For sessions, MFA
//! (secrets, recovery codes, replay guard, lockout), passkeys and security
//! events: none. Core's provided SQL stores run beside its tables in the
//! same SQLite database, each migration set standing alone (no `users`
//! table anywhere).
//!
//! From `tradesense-core` it takes, each as a router it mounts under its
//! own prefix `/identity` (or leaves out):
//!
//! - registration on its terms (e-mail and password only, its own
//!   password policy: 10 characters, strength checked), login by JSON or
//!   OAuth2 form, logout, `/me` (its `Account`), the sessions list and
//!   revoke;
//! - TOTP MFA with recovery codes, with its own issuer name ("Notes" in
//!   the authenticator app), under `/identity/mfa`; passkeys;
//! - its own cookie name (`notes_session`), token issuer and audiences;
//! - the `AuthLayer` and `CurrentUser` on its own routes;
//! - `RequestIdLayer`, `AccessLogLayer`, `MetricsLayer` (with `/metrics`)
//!   and `KeyedRateLimitLayer` (per client: 5 credential attempts and 120
//!   requests a minute), all on `Router::layer`, so metrics and the access
//!   log see axum's `MatchedPath` and label by route template;
//! - problem+json for unknown paths and methods.
//!
//! It is served with `into_make_service_with_connect_info::<SocketAddr>()`:
//! that puts each connection's peer into the requests, and the rate limiter
//! keys its buckets on it.
//!
//! Run: `cargo run --example embed_auth_axum` and use the printed `curl`
//! lines. `cargo test --example embed_auth_axum` runs the tests below
//! against the real app on a loopback port.

#[path = "support/accounts.rs"]
mod accounts;
#[cfg(test)]
#[path = "support/client.rs"]
mod client;

use accounts::{Account, Accounts, Note};
use axum::extract::{Request, State};
use axum::routing::{get, post};
use axum::{Extension, Router, ServiceExt};
use http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::Layer;
use tradesense_core::auth::{
    AuthCookie, AuthState, Authenticator, CurrentUser, PasswordPolicy, Sessions, TokenKeys,
};
use tradesense_core::cache::{Cache, CacheConfig};
use tradesense_core::error::ApiError;
use tradesense_core::events::SecurityEvents;
use tradesense_core::http::{Json, Path, ProblemFallback, ProblemFallbackLayer, not_found};
use tradesense_core::metrics::{Metrics, MetricsLayer};
use tradesense_core::mfa::{CachedMfaStore, MfaEndpoints, MfaService, SecretCipher};
use tradesense_core::passkeys::{PasskeyEndpoints, PasskeyService, RelyingParty};
use tradesense_core::ratelimit::{KeyedRateLimitLayer, Limiter};
use tradesense_core::telemetry::{AccessLogLayer, RequestIdLayer};
use tradesense_core::users::UserCache;

/// Where this service mounts TradeSense's auth endpoints.
pub const AUTH_PREFIX: &str = "/identity";
/// The endpoints that take a credential: limited to [`LOGINS_PER_MINUTE`]
/// per client, so nobody guesses passwords or codes at the general rate.
pub const CREDENTIAL_PATHS: &[&str] = &[
    "/identity/register",
    "/identity/login",
    "/identity/token",
    "/identity/mfa/login",
    "/identity/passkeys/login/start",
    "/identity/passkeys/login/finish",
];
/// Credential attempts per client per minute.
pub const LOGINS_PER_MINUTE: u32 = 5;
/// Every other request, per client per minute (`/metrics` is exempt).
pub const REQUESTS_PER_MINUTE: u32 = 120;
/// What authenticator apps call this service.
pub const TOTP_ISSUER: &str = "Notes";
/// The service's auth cookie.
pub const COOKIE_NAME: &str = "notes_session";
/// The browser origin passkeys are bound to (the API's own: one site).
pub const ORIGIN: &str = "http://localhost:3002";

/// The service's tokens: its own issuer and audiences, so its tokens and
/// TradeSense's (or another service's with the same secret) never pass for
/// each other.
fn token_keys() -> TokenKeys {
    // A real service reads a secret of 32+ bytes from its configuration.
    TokenKeys::new(
        b"notes-example-secret-0123456789abcdef",
        &[],
        Duration::from_secs(3600),
    )
    .with_issuer("notes.example")
    .with_audiences("notes-api", "notes-mfa")
}

/// The key MFA secrets are sealed under at rest (from configuration too).
fn mfa_cipher() -> SecretCipher {
    SecretCipher::from_secret_key(&SecretString::from(
        "notes-example-mfa-key-0123456789abcdef",
    ))
}

/// `POST /notes` body.
#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// `POST /notes`: a note of the caller's, under the service's own key.
async fn add_note(
    State(accounts): State<Accounts>,
    CurrentUser(account): CurrentUser<Account>,
    Json(body): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let note = accounts.add_note(account.account_id, &body.text).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// `GET /notes/{id}`: one of the caller's notes.
async fn read_note(
    State(accounts): State<Accounts>,
    CurrentUser(account): CurrentUser<Account>,
    Path(id): Path<i64>,
) -> Result<Json<Note>, ApiError> {
    match accounts.note(account.account_id, id).await? {
        Some(note) => Ok(Json(note)),
        None => Err(ApiError::NotFound("note")),
    }
}

/// The whole service. Build it once; clones (per connection) are cheap.
pub fn app(accounts: Accounts) -> anyhow::Result<ProblemFallback<Router>> {
    app_with_limit(accounts, LOGINS_PER_MINUTE)
}

/// [`app`] with `logins_per_minute` credential attempts per client.
fn app_with_limit(
    accounts: Accounts,
    logins_per_minute: u32,
) -> anyhow::Result<ProblemFallback<Router>> {
    // Install the Prometheus recorder before `MetricsLayer::new()`: the
    // layer binds to the recorder installed when it is created.
    let metrics = Metrics::global();
    let cache = Cache::in_process(CacheConfig::default());
    // Core's tables, in the service's database.
    let store = Arc::new(accounts.core_store());
    // Session liveness is answered from the cache: a request costs no query.
    let sessions = Sessions::new(store.clone(), &cache);
    let authenticator =
        Authenticator::with_cookie(token_keys(), sessions, AuthCookie::new(COOKIE_NAME)?);
    let auth = AuthState::builder(authenticator, Arc::new(accounts.clone()))
        .password_policy(PasswordPolicy {
            min_chars: 10,
            check_strength: true,
        })
        .security_events(SecurityEvents::new(store.clone()))
        .build();
    // Building the MFA endpoints over `auth` makes its logins ask MFA.
    // "MFA is on" through the cache: every login asks it.
    let mfa_store = Arc::new(CachedMfaStore::new(store.clone(), &cache));
    let mfa = MfaService::new(mfa_store, mfa_cipher()).with_issuer(TOTP_ISSUER)?;
    let mfa = MfaEndpoints::new(auth.clone(), mfa);
    let passkeys = PasskeyEndpoints::new(
        auth.clone(),
        PasskeyService::builder(
            RelyingParty::new(ORIGIN, None, "Notes")?,
            store.clone(),
            store,
        )
        .build()?,
    );
    // The service's own record of the caller, cached, for `CurrentUser`.
    let users = UserCache::new(accounts.clone(), &cache);
    let identity = auth
        .register_routes(accounts.clone())
        .merge(auth.login_routes())
        .merge(auth.logout_routes())
        .merge(auth.me_routes(users.clone()))
        .merge(auth.session_routes())
        .merge(passkeys.routes())
        .merge(passkeys.user_routes())
        .nest("/mfa", mfa.routes());

    // On the method routers, so a wrong method is still `405`, not `401`.
    let signed_in = auth.layer();
    let notes = Router::new()
        .route("/notes", post(add_note).route_layer(signed_in.clone()))
        .route("/notes/{id}", get(read_note).route_layer(signed_in))
        .layer(Extension(users))
        .with_state(accounts);

    let rate_limit = KeyedRateLimitLayer::new(Limiter::per_minute("api", REQUESTS_PER_MINUTE))
        .strict_paths(
            Limiter::per_minute("credentials", logins_per_minute),
            CREDENTIAL_PATHS,
        )
        .exempt(&["/metrics"]);

    let router = Router::new()
        // `/identity/register`, `/identity/login`, ..., `/identity/me`,
        // `/identity/mfa/*`.
        .nest(AUTH_PREFIX, Router::from(identity))
        .merge(notes)
        .merge(Router::from(tradesense_core::metrics::routes(metrics)))
        .fallback(not_found)
        // `Router::layer` wraps every route after routing, where axum's
        // `MatchedPath` exists; the first call is the innermost layer.
        .layer(rate_limit)
        .layer(MetricsLayer::new())
        .layer(AccessLogLayer)
        .layer(RequestIdLayer);
    // Around the router: axum writes its bare `405` after every
    // `Router::layer`, and this turns it into problem+json.
    Ok(ProblemFallbackLayer.layer(router))
}

/// Serves `app` on `listener` until `shutdown` completes. Each request gets
/// its connection's peer as `ConnectInfo<SocketAddr>` (the rate limiter's
/// client). A bare `Router` has `into_make_service_with_connect_info` of
/// its own; for the router wrapped in a layer, `axum::ServiceExt` provides
/// it (named in full: the trait is generic over the request type).
pub async fn serve(
    listener: TcpListener,
    app: ProblemFallback<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let make_service =
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
    axum::serve(listener, make_service)
        .with_graceful_shutdown(shutdown)
        .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _log =
        tradesense_core::telemetry::init_tracing(tradesense_core::telemetry::LogFormat::Pretty);
    let accounts = Accounts::in_memory().await?;
    let listener = TcpListener::bind("127.0.0.1:3002").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let json = "-H 'content-type: application/json'";
    let account = r#"{"email":"ada@example.com","password":"correct horse battery staple 42"}"#;
    println!("listening on {base}; try:");
    println!("curl -si {base}/identity/register {json} -d '{account}'");
    println!("curl -si -c jar {base}/identity/login {json} -d '{account}'");
    println!("curl -si -b jar {base}/identity/me");
    println!("curl -si -b jar {base}/notes {json} -d '{{\"text\":\"hello\"}}'");
    println!("curl -si -b jar {base}/notes/1");
    println!(
        "curl -si -b jar {base}/identity/mfa/setup {json} -d '{{\"current_password\":\"correct horse battery staple 42\"}}'"
    );
    println!("curl -s {base}/metrics | grep ^http_requests_total");
    println!("curl -si -b jar -X POST {base}/identity/logout");
    serve(listener, app(accounts)?, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{EMAIL, PASSWORD, client, login, register, session_ip};
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
    use serde_json::{Value, json};
    use tower::ServiceExt;
    use tradesense_core::mfa::totp::TotpSecret;

    /// The real app on a loopback port, served as `main` serves it.
    async fn spawn() -> String {
        spawn_with_limit(LOGINS_PER_MINUTE).await
    }

    /// [`spawn`] with `logins_per_minute` credential attempts per client:
    /// every loopback client is one client to the limiter, and a test of
    /// the MFA flow makes more than five.
    async fn spawn_with_limit(logins_per_minute: u32) -> String {
        let accounts = Accounts::in_memory().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = app_with_limit(accounts, logins_per_minute).unwrap();
        tokio::spawn(serve(listener, app, std::future::pending()));
        base
    }

    #[tokio::test]
    async fn login_and_logout_by_cookie_and_by_bearer() {
        let base = spawn().await;
        let http = client();
        register(&http, &base).await;

        // No credentials: the notes are closed, as problem+json.
        let anonymous = http.get(format!("{base}/notes/1")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            anonymous.headers()[CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(anonymous.headers().contains_key("x-request-id"));
        // A wrong method is `405` (the `AuthLayer` guards the handler, not
        // the method fallback), as problem+json.
        let wrong = http.delete(format!("{base}/notes/1")).send().await.unwrap();
        assert_eq!(wrong.status(), 405);
        assert_eq!(wrong.headers()["allow"], "GET, HEAD");
        assert_eq!(wrong.headers()[CONTENT_TYPE], "application/problem+json");

        // By cookie: write, read, log out, and the cookie is dead.
        let (cookie, _) = login(&http, &base).await;
        assert!(cookie.starts_with("notes_session="), "{cookie}");
        let created = http
            .post(format!("{base}/notes"))
            .header(COOKIE, &cookie)
            .json(&json!({"text": "buy milk"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let note: Note = created.json().await.unwrap();
        let note_url = format!("{base}/notes/{}", note.id);
        let read = http.get(&note_url).header(COOKIE, &cookie).send().await;
        let read = read.unwrap();
        assert_eq!(read.status(), 200);
        assert_eq!(read.json::<Note>().await.unwrap(), note);
        let logout = http
            .post(format!("{base}/identity/logout"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 204);
        let cleared = logout.headers()[SET_COOKIE].to_str().unwrap();
        assert!(cleared.starts_with("notes_session=;"), "{cleared}");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        let after = http.get(&note_url).header(COOKIE, &cookie).send().await;
        assert_eq!(after.unwrap().status(), 401);

        // By bearer: the user record comes from the service's own table.
        let (_, token) = login(&http, &base).await;
        let bearer = format!("Bearer {token}");
        let me = http
            .get(format!("{base}/identity/me"))
            .header(AUTHORIZATION, &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["email"], EMAIL);
        // The service's own record: its integer key, no profile of core's.
        assert!(me["account_id"].is_i64(), "{me}");
        assert!(me.get("full_name").is_none() && me.get("timezone").is_none());
        let read = http.get(&note_url).header(AUTHORIZATION, &bearer).send();
        assert_eq!(read.await.unwrap().status(), 200);
        // The login saw the peer address the server was given.
        assert_eq!(session_ip(&http, &base, &bearer).await, "127.0.0.1");
        let logout = http
            .post(format!("{base}/identity/logout"))
            .header(AUTHORIZATION, &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 204);
        let after = http.get(&note_url).header(AUTHORIZATION, &bearer).send();
        assert_eq!(after.await.unwrap().status(), 401);
    }

    #[tokio::test]
    async fn metrics_are_labelled_by_route_template() {
        let base = spawn().await;
        let http = client();
        register(&http, &base).await;
        let (_, token) = login(&http, &base).await;
        let bearer = format!("Bearer {token}");
        let note: Note = http
            .post(format!("{base}/notes"))
            .header(AUTHORIZATION, &bearer)
            .json(&json!({"text": "counted"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let read = http
            .get(format!("{base}/notes/{}", note.id))
            .header(AUTHORIZATION, &bearer)
            .send();
        assert_eq!(read.await.unwrap().status(), 200);

        let scrape = http.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(scrape.status(), 200);
        let text = scrape.text().await.unwrap();
        // The template, under the service's own prefix for the auth routes;
        // never the raw path (one series per note would be unbounded).
        for series in [
            r#"method="GET",endpoint="/notes/{id}",status="200""#,
            r#"method="POST",endpoint="/notes",status="201""#,
            r#"method="POST",endpoint="/identity/login",status="200""#,
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
        let raw = format!(r#"endpoint="/notes/{}""#, note.id);
        assert!(!text.contains(&raw), "{raw} in:\n{text}");
    }

    /// One request into the app in process, from `peer`.
    async fn call(
        app: &ProblemFallback<Router>,
        peer: &str,
        path: &str,
        body: Value,
    ) -> http::Response<Body> {
        let mut request = http::Request::post(path)
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        // What `into_make_service_with_connect_info` inserts per connection.
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request).await.unwrap()
    }

    /// In process, because every loopback client has the same address.
    #[tokio::test]
    async fn each_client_has_its_own_rate_limit_bucket() {
        let app = app(Accounts::in_memory().await.unwrap()).unwrap();
        let (admin, alice, bob) = (
            "192.0.2.10:1000",
            "198.51.100.1:40000",
            "198.51.100.2:40000",
        );
        let credentials = json!({"email": EMAIL, "password": PASSWORD});
        let account = json!({"email": EMAIL, "password": PASSWORD});
        let registered = call(&app, admin, "/identity/register", account).await;
        assert_eq!(registered.status(), 201);

        for attempt in 0..LOGINS_PER_MINUTE {
            let response = call(&app, alice, "/identity/login", credentials.clone()).await;
            assert_eq!(response.status(), 200, "attempt {attempt}");
        }
        let refused = call(&app, alice, "/identity/login", credentials.clone()).await;
        assert_eq!(refused.status(), 429);
        assert!(refused.headers().contains_key("retry-after"));
        assert_eq!(refused.headers()[CONTENT_TYPE], "application/problem+json");

        // Bob's bucket is his own; another port of Alice's is still Alice.
        let response = call(&app, bob, "/identity/login", credentials.clone()).await;
        assert_eq!(response.status(), 200);
        let response = call(&app, "198.51.100.1:40001", "/identity/login", credentials).await;
        assert_eq!(response.status(), 429);
    }

    /// `POST` `body` as JSON with `auth` (a `Cookie` header) to `path`.
    async fn post(
        http: &reqwest::Client,
        base: &str,
        path: &str,
        cookie: &str,
        body: Value,
    ) -> reqwest::Response {
        http.post(format!("{base}{path}"))
            .header(COOKIE, cookie)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The code of TOTP step `step` for the base32 `secret`, as the
    /// authenticator app computes it.
    fn totp(secret: &str, step: u64) -> String {
        TotpSecret::from_base32(secret)
            .expect("a base32 secret")
            .code_at(step * 30)
    }

    /// The whole MFA life on the provided stores, for an account that
    /// exists only in the service's integer-keyed table: enrol (the app
    /// shows the service's issuer), log in with a TOTP code, log in with a
    /// recovery code (once only), and the enrolment revokes other sessions.
    #[tokio::test]
    async fn mfa_enrolment_login_and_recovery_code() {
        let base = spawn_with_limit(100).await;
        let http = client();
        register(&http, &base).await;
        let (cookie, _) = login(&http, &base).await;
        let (other_session, _) = login(&http, &base).await;

        // Setup asks for the password again; the URI names "Notes".
        let setup = post(
            &http,
            &base,
            "/identity/mfa/setup",
            &cookie,
            json!({"current_password": PASSWORD}),
        )
        .await;
        assert_eq!(setup.status(), 200);
        let setup: Value = setup.json().await.unwrap();
        let uri = setup["provisioning_uri"].as_str().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Notes:ada%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Notes"), "{uri}");
        let secret = setup["secret"].as_str().unwrap().to_owned();

        // Verify with the current step's code: MFA on, ten recovery codes.
        let step = unix_now() / 30;
        let verify = post(
            &http,
            &base,
            "/identity/mfa/verify",
            &cookie,
            json!({"code": totp(&secret, step)}),
        )
        .await;
        assert_eq!(verify.status(), 200);
        let codes: Vec<String> =
            serde_json::from_value(verify.json::<Value>().await.unwrap()["recovery_codes"].clone())
                .unwrap();
        assert_eq!(codes.len(), 10);
        // A change of second factor ends the account's other sessions.
        let other = http
            .get(format!("{base}/identity/me"))
            .header(COOKIE, &other_session)
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 401);

        // The password alone is no longer enough: an MFA-pending token, no
        // cookie.
        let mfa_token = || async {
            let response = http
                .post(format!("{base}/identity/login"))
                .json(&json!({"email": EMAIL, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert!(response.headers().get(SET_COOKIE).is_none());
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["mfa_required"], true);
            body["mfa_token"].as_str().unwrap().to_owned()
        };
        let mfa_login = |token: String, code: String| {
            let http = http.clone();
            let base = base.clone();
            async move {
                http.post(format!("{base}/identity/mfa/login"))
                    .json(&json!({"mfa_token": token, "code": code}))
                    .send()
                    .await
                    .unwrap()
            }
        };
        // The next step's code (the window accepts one step of drift; the
        // current one was spent by the verification: a replay).
        let replay = mfa_login(mfa_token().await, totp(&secret, step)).await;
        assert_eq!(replay.status(), 401);
        let by_code = mfa_login(mfa_token().await, totp(&secret, step + 1)).await;
        assert_eq!(by_code.status(), 200);
        let token: Value = by_code.json().await.unwrap();
        let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
        let me = http
            .get(format!("{base}/identity/me"))
            .header(AUTHORIZATION, &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);

        // A recovery code works once.
        let by_recovery = mfa_login(mfa_token().await, codes[0].clone()).await;
        assert_eq!(by_recovery.status(), 200);
        let again = mfa_login(mfa_token().await, codes[0].clone()).await;
        assert_eq!(again.status(), 401);
    }

    /// The sessions list and revoke, on the provided session store.
    #[tokio::test]
    async fn a_revoked_session_is_over_at_once() {
        let base = spawn().await;
        let http = client();
        register(&http, &base).await;
        let (laptop, _) = login(&http, &base).await;
        let (_, phone) = login(&http, &base).await;
        let phone = format!("Bearer {phone}");
        let list = http
            .get(format!("{base}/identity/me/sessions"))
            .header(COOKIE, &laptop)
            .send()
            .await
            .unwrap();
        let list: Value = list.json().await.unwrap();
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{list}");
        let other = items.iter().find(|s| s["current"] == false).unwrap();
        let revoke = http
            .delete(format!(
                "{base}/identity/me/sessions/{}",
                other["id"].as_str().unwrap()
            ))
            .header(COOKIE, &laptop)
            .send()
            .await
            .unwrap();
        assert_eq!(revoke.status(), 204);
        let note = http
            .post(format!("{base}/notes"))
            .header(AUTHORIZATION, &phone)
            .json(&json!({"text": "from the phone"}))
            .send()
            .await
            .unwrap();
        assert_eq!(note.status(), 401);
        let note = post(&http, &base, "/notes", &laptop, json!({"text": "kept"})).await;
        assert_eq!(note.status(), 201);
    }

    /// The module doc's claim, kept true: the lines of storage code the
    /// service wrote for core (between the `----` rules of
    /// `support/accounts.rs`) are the number it states, under 80.
    #[test]
    fn the_storage_code_for_core_is_as_long_as_the_doc_says() {
        let accounts = include_str!("support/accounts.rs");
        let written = accounts
            .split("// ---- What the application writes for core")
            .nth(1)
            .and_then(|rest| rest.split("\n// ----\n").next())
            .expect("the two rules");
        // The rest of the rule's line, then the lines up to the closing rule.
        let lines = written.lines().count() - 1;
        let doc = include_str!("embed_auth_axum.rs");
        let claim = format!("**Storage code it wrote for core: {lines} lines**");
        assert!(doc.contains(&claim), "the doc should say {claim}");
        assert!(lines < 80, "{lines}");
    }

    /// Seconds since the epoch.
    fn unix_now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}
