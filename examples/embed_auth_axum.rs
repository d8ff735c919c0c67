//! A stranger's axum service embedding TradeSense's authentication.
//!
//! The service ("notes") owns its data: its `accounts` table is its users
//! store and its `logins` table its session store (`support/accounts.rs`:
//! plain sqlx, its own `CREATE TABLE`s, none of TradeSense's schema). From
//! `tradesense-core` it takes:
//!
//! - the auth endpoints (`register`, `login`, `token`, `logout`, `me`),
//!   mounted under its own prefix `/identity`, with its own token issuer
//!   and audience;
//! - the `AuthLayer` on its own routes, whose handlers take a `Principal`;
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

use accounts::{Accounts, Note};
use axum::Router;
use axum::ServiceExt;
use axum::extract::{Request, State};
use axum::routing::{get, post};
use http::StatusCode;
use serde::Deserialize;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::Layer;
use tradesense_core::auth::{AuthState, Authenticator, Principal, Sessions, TokenKeys};
use tradesense_core::cache::{Cache, CacheConfig};
use tradesense_core::error::ApiError;
use tradesense_core::http::{Json, Path, ProblemFallback, ProblemFallbackLayer, not_found};
use tradesense_core::metrics::{Metrics, MetricsLayer};
use tradesense_core::ratelimit::{KeyedRateLimitLayer, Limiter};
use tradesense_core::telemetry::{AccessLogLayer, RequestIdLayer};

/// Where this service mounts TradeSense's auth endpoints.
pub const AUTH_PREFIX: &str = "/identity";
/// The endpoints that take a password: limited to [`LOGINS_PER_MINUTE`]
/// per client, so nobody guesses passwords at the general rate.
pub const CREDENTIAL_PATHS: &[&str] = &["/identity/register", "/identity/login", "/identity/token"];
/// Credential attempts per client per minute.
pub const LOGINS_PER_MINUTE: u32 = 5;
/// Every other request, per client per minute (`/metrics` is exempt).
pub const REQUESTS_PER_MINUTE: u32 = 120;

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

/// `POST /notes` body.
#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// `POST /notes`: a note of the caller's.
async fn add_note(
    State(accounts): State<Accounts>,
    principal: Principal,
    Json(body): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let note = accounts.add_note(principal.user_id, &body.text).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// `GET /notes/{id}`: one of the caller's notes.
async fn read_note(
    State(accounts): State<Accounts>,
    principal: Principal,
    Path(id): Path<i64>,
) -> Result<Json<Note>, ApiError> {
    match accounts.note(principal.user_id, id).await? {
        Some(note) => Ok(Json(note)),
        None => Err(ApiError::NotFound("note")),
    }
}

/// The whole service. Build it once; clones (per connection) are cheap.
pub fn app(accounts: Accounts) -> ProblemFallback<Router> {
    // Install the Prometheus recorder before `MetricsLayer::new()`: the
    // layer binds to the recorder installed when it is created.
    let metrics = Metrics::global();
    let cache = Cache::in_process(CacheConfig::default());
    // Sessions live in the service's own `logins` table; their liveness is
    // answered from the cache, so a request costs no query.
    let sessions = Sessions::new(Arc::new(accounts.clone()), &cache);
    let authenticator = Authenticator::new(token_keys(), sessions);
    // Users live in its own `accounts` table.
    let auth = AuthState::builder(authenticator, Arc::new(accounts.clone())).build();

    // On the method routers, so a wrong method is still `405`, not `401`.
    let signed_in = auth.layer();
    let notes = Router::new()
        .route("/notes", post(add_note).route_layer(signed_in.clone()))
        .route("/notes/{id}", get(read_note).route_layer(signed_in))
        .with_state(accounts);

    let rate_limit = KeyedRateLimitLayer::new(Limiter::per_minute("api", REQUESTS_PER_MINUTE))
        .strict_paths(
            Limiter::per_minute("credentials", LOGINS_PER_MINUTE),
            CREDENTIAL_PATHS,
        )
        .exempt(&["/metrics"]);

    let router = Router::new()
        // `/identity/register`, `/identity/login`, ..., `/identity/me`.
        .nest(
            AUTH_PREFIX,
            Router::from(auth.routes().merge(auth.user_routes())),
        )
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
    ProblemFallbackLayer.layer(router)
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
    println!("listening on {base}; try:");
    println!(
        "curl -si {base}/identity/register {json} -d '{{\"email\":\"ada@example.com\",\"password\":\"correct horse battery staple 42\",\"full_name\":\"Ada\"}}'"
    );
    println!(
        "curl -si -c jar {base}/identity/login {json} -d '{{\"email\":\"ada@example.com\",\"password\":\"correct horse battery staple 42\"}}'"
    );
    println!("curl -si -b jar {base}/notes {json} -d '{{\"text\":\"hello\"}}'");
    println!("curl -si -b jar {base}/notes/1");
    println!("curl -s {base}/metrics | grep ^http_requests_total");
    println!("curl -si -b jar -X POST {base}/identity/logout");
    serve(listener, app(accounts), async {
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

    /// The real app on a loopback port, served as `main` serves it.
    async fn spawn() -> String {
        let accounts = Accounts::in_memory().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, app(accounts), std::future::pending()));
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
        let cookie = format!("auth-token={cookie}");
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
        assert!(cleared.starts_with("auth-token=;"), "{cleared}");
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
        assert_eq!(me.json::<Value>().await.unwrap()["email"], EMAIL);
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
        let app = app(Accounts::in_memory().await.unwrap());
        let (admin, alice, bob) = (
            "192.0.2.10:1000",
            "198.51.100.1:40000",
            "198.51.100.2:40000",
        );
        let credentials = json!({"email": EMAIL, "password": PASSWORD});
        let account = json!({"email": EMAIL, "password": PASSWORD, "full_name": "Ada"});
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

    /// The service's own session table keeps the promises every
    /// `SessionStore` must (the suite TradeSense's stores run).
    #[tokio::test]
    async fn the_logins_table_passes_the_session_store_contract() {
        use tradesense_core::users::{NewUser, UserStore};
        let accounts = Accounts::in_memory().await.unwrap();
        // `logins.account_id` references `accounts`: a real account.
        let user = accounts
            .create_user(NewUser {
                email: EMAIL.parse().unwrap(),
                password_hash: "!".to_owned(),
                full_name: "Ada".to_owned(),
            })
            .await
            .unwrap();
        tradesense_core::auth::session_contract::check(&accounts, user.id).await;
    }
}
