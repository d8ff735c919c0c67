//! The notes service of `embed_auth_axum.rs` under plain hyper 1 +
//! hyper-util: its own routing is a `service_fn` that dispatches on the
//! path, the core's layers wrap it with `tower::ServiceBuilder`, and
//! `TowerToHyperService` hands it to hyper's connection builder.
//!
//! The same pieces: users in the service's own integer-keyed `accounts`
//! table (`support/accounts.rs`), sessions in core's `MemorySessionStore`
//! (the other choice: fine for one instance, a restart logs everyone out), the
//! auth endpoints under `/identity`, the `AuthLayer` in front of the notes,
//! request ids, the access log, metrics and per-client rate limits.
//!
//! Two things axum's router and `axum::serve` would do are done by hand:
//!
//! - **The client address.** The accept loop inserts the peer into every
//!   request as `axum::extract::ConnectInfo<SocketAddr>`, exactly what
//!   `into_make_service_with_connect_info` inserts; the rate limiter keys
//!   its buckets on it (without it every client shares one bucket).
//! - **The auth endpoints** are an axum router inside core; the dispatcher
//!   calls it as a tower service for `/identity/*`. Responses are axum's
//!   `Body` (a boxed `http_body::Body`), so the router's answers pass
//!   through as they are and the layers can build theirs from bytes.
//!
//! **Metrics are labelled `endpoint="unmatched"` here, every request.**
//! `MetricsLayer` labels by the route template in axum's `MatchedPath`
//! request extension; only axum's router can create one (its constructor
//! is private), and here the layer runs before any routing anyway, so there
//! is none to read. Labelling by the raw path instead would make one series
//! per note id, an unbounded label set, so the layer does not. Requests are
//! still counted and timed, by method and status; for per-route series,
//! route through an axum `Router` as `embed_auth_axum.rs` does.
//!
//! Run: `cargo run --example embed_auth_hyper` (port 3001), then the
//! `curl` lines it prints. `cargo test --example embed_auth_hyper` runs the
//! tests below against the real accept loop on a loopback port.

#[path = "support/accounts.rs"]
mod accounts;
#[cfg(test)]
#[path = "support/client.rs"]
mod client;

use accounts::Accounts;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tradesense_core::auth::{
    AuthState, Authenticator, MemorySessionStore, Principal, Sessions, TokenKeys,
};
use tradesense_core::cache::{Cache, CacheConfig};
use tradesense_core::error::ApiError;
use tradesense_core::http::parse_json;
use tradesense_core::metrics::{Metrics, MetricsLayer, PROMETHEUS_TEXT};
use tradesense_core::ratelimit::{KeyedRateLimitLayer, Limiter};
use tradesense_core::telemetry::{AccessLogLayer, RequestIdLayer};
use tradesense_core::users::{LoadUser, UserCache};

/// Where this service mounts TradeSense's auth endpoints.
pub const AUTH_PREFIX: &str = "/identity";
/// The endpoints that take a password, limited per client.
pub const CREDENTIAL_PATHS: &[&str] = &["/identity/register", "/identity/login", "/identity/token"];
/// Credential attempts per client per minute.
pub const LOGINS_PER_MINUTE: u32 = 5;
/// Every other request, per client per minute (`/metrics` is exempt).
pub const REQUESTS_PER_MINUTE: u32 = 120;
/// The largest note body read.
const MAX_NOTE_BYTES: usize = 16 * 1024;

/// `POST /notes` body.
#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// A JSON response.
fn json(status: StatusCode, value: &impl serde::Serialize) -> Result<Response<Body>, ApiError> {
    let bytes = serde_json::to_vec(value).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `POST /notes` and `GET /notes/{id}`, behind the `AuthLayer`.
async fn notes<B>(accounts: Accounts, request: Request<B>) -> Result<Response<Body>, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    // The layer lets only authenticated requests through, with a Principal.
    let principal = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::NotAuthenticated)?;
    // The application's key of the account the token names by its handle.
    let owner = accounts
        .load_user(principal.user_id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?
        .account_id;
    let rest = request.uri().path().strip_prefix("/notes").unwrap_or("/");
    match (request.method(), rest) {
        (&Method::POST, "") => {
            let body = Limited::new(request.into_body(), MAX_NOTE_BYTES)
                .collect()
                .await
                .map_err(|err| match err.downcast_ref::<LengthLimitError>() {
                    Some(_) => ApiError::PayloadTooLarge,
                    None => ApiError::MalformedBody("the body could not be read".to_owned()),
                })?
                .to_bytes();
            let new: NewNote = parse_json(&body)?;
            let note = accounts.add_note(owner, &new.text).await?;
            json(StatusCode::CREATED, &note)
        }
        (_, "") => Err(ApiError::MethodNotAllowed {
            allow: vec![Method::POST],
        }),
        (&Method::GET, id) => {
            let id = id.strip_prefix('/').and_then(|id| id.parse().ok());
            let note = match id {
                Some(id) => accounts.note(owner, id).await?,
                None => None,
            };
            json(StatusCode::OK, &note.ok_or(ApiError::NotFound("note"))?)
        }
        _ => Err(ApiError::MethodNotAllowed {
            allow: vec![Method::GET],
        }),
    }
}

/// The whole service, generic over the request body (hyper's `Incoming`
/// from the socket, anything else in tests). Build it once; a clone (per
/// connection and per request) is a few reference-count bumps.
pub fn app<B>(
    accounts: Accounts,
) -> impl Service<Request<B>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // Install the Prometheus recorder before `MetricsLayer::new()` binds to it.
    let metrics = Metrics::global();
    let cache = Cache::in_process(CacheConfig::default());
    let sessions = Sessions::new(Arc::new(MemorySessionStore::new()), &cache);
    let keys = TokenKeys::new(
        b"notes-example-secret-0123456789abcdef",
        &[],
        Duration::from_secs(3600),
    )
    .with_issuer("notes.example")
    .with_audiences("notes-api", "notes-mfa");
    let auth = AuthState::builder(
        Authenticator::new(keys, sessions),
        Arc::new(accounts.clone()),
    )
    .build();

    // Core's auth endpoints: an axum router, used as a tower service.
    let identity = axum::Router::new().nest(
        AUTH_PREFIX,
        axum::Router::from(
            auth.register_routes(accounts.clone())
                .merge(auth.login_routes())
                .merge(auth.logout_routes())
                .merge(auth.me_routes(UserCache::new(accounts.clone(), &cache)))
                .merge(auth.session_routes()),
        ),
    );
    // The service's own handlers, behind the AuthLayer.
    let notes = auth.layer().layer(service_fn(move |request: Request<B>| {
        let accounts = accounts.clone();
        async move {
            Ok::<_, Infallible>(
                notes(accounts, request)
                    .await
                    .unwrap_or_else(ApiError::into_response),
            )
        }
    }));
    // The service's own routing: a match on the path.
    let dispatch = service_fn(move |request: Request<B>| {
        let identity = identity.clone();
        let notes = notes.clone();
        async move {
            let path = request.uri().path();
            if path.starts_with("/identity/") {
                identity.oneshot(request).await
            } else if path == "/notes" || path.starts_with("/notes/") {
                notes.oneshot(request).await
            } else if path == "/metrics" && request.method() == Method::GET {
                let mut response = Response::new(Body::from(metrics.render()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(PROMETHEUS_TEXT),
                );
                Ok(response)
            } else {
                Ok(ApiError::NotFound("route").into_response())
            }
        }
    });

    let rate_limit = KeyedRateLimitLayer::new(Limiter::per_minute("api", REQUESTS_PER_MINUTE))
        .strict_paths(
            Limiter::per_minute("credentials", LOGINS_PER_MINUTE),
            CREDENTIAL_PATHS,
        )
        .exempt(&["/metrics"]);
    // Outermost first; the rate limit runs before any body is read.
    ServiceBuilder::new()
        .layer(RequestIdLayer)
        .layer(AccessLogLayer)
        .layer(MetricsLayer::new())
        .layer(rate_limit)
        .service(dispatch)
}

/// The accept loop: one hyper connection task per socket, each request
/// carrying its peer as `ConnectInfo<SocketAddr>`, until `shutdown`
/// completes. (`tradesense-server`'s `serve.rs` adds connection limits,
/// header timeouts and a graceful drain.)
pub async fn serve<S>(listener: TcpListener, app: S, shutdown: impl Future<Output = ()>)
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off, serve on.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let builder = builder.clone();
        tokio::spawn(async move {
            let connection =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _log =
        tradesense_core::telemetry::init_tracing(tradesense_core::telemetry::LogFormat::Pretty);
    let accounts = Accounts::in_memory().await?;
    let listener = TcpListener::bind("127.0.0.1:3001").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let json = "-H 'content-type: application/json'";
    println!("listening on {base}; try:");
    println!(
        "curl -si {base}/identity/register {json} -d '{{\"email\":\"ada@example.com\",\"password\":\"correct horse battery staple 42\"}}'"
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
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{EMAIL, PASSWORD, client, login, register, session_ip};
    use http_body_util::Full;
    use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
    use serde_json::{Value, json};
    use std::net::SocketAddr;

    /// The real service behind the real accept loop, on a loopback port.
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

        let anonymous = http.get(format!("{base}/notes/1")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            anonymous.headers()[CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(anonymous.headers().contains_key("x-request-id"));

        // By cookie.
        let (cookie, _) = login(&http, &base).await;
        let created = http
            .post(format!("{base}/notes"))
            .header(COOKIE, &cookie)
            .json(&json!({"text": "buy milk"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let note: Value = created.json().await.unwrap();
        assert_eq!(note["text"], "buy milk");
        let note_url = format!("{base}/notes/{}", note["id"]);
        let read = http.get(&note_url).header(COOKIE, &cookie).send();
        let read = read.await.unwrap();
        assert_eq!(read.status(), 200);
        assert_eq!(read.json::<Value>().await.unwrap(), note);
        // A field of the wrong type is named, as the axum extractors do.
        let bad = http
            .post(format!("{base}/notes"))
            .header(COOKIE, &cookie)
            .json(&json!({"text": 12345}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        let problem: Value = bad.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "text", "{problem}");
        let logout = http
            .post(format!("{base}/identity/logout"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 204);
        let cleared = logout.headers()[SET_COOKIE].to_str().unwrap();
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        let after = http.get(&note_url).header(COOKIE, &cookie).send();
        assert_eq!(after.await.unwrap().status(), 401);

        // By bearer.
        let (_, token) = login(&http, &base).await;
        let bearer = format!("Bearer {token}");
        let me = http
            .get(format!("{base}/identity/me"))
            .header(AUTHORIZATION, &bearer)
            .send()
            .await
            .unwrap();
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

    /// What the module docs say: counted and timed, but `unmatched`.
    #[tokio::test]
    async fn metrics_count_every_request_as_unmatched() {
        let base = spawn().await;
        let http = client();
        register(&http, &base).await;
        let (_, token) = login(&http, &base).await;
        let read = http
            .get(format!("{base}/notes/404"))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send();
        assert_eq!(read.await.unwrap().status(), 404);

        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for series in [
            r#"method="POST",endpoint="unmatched",status="201""#,
            r#"method="POST",endpoint="unmatched",status="200""#,
            r#"method="GET",endpoint="unmatched",status="404""#,
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
        for path in ["/notes", "/identity"] {
            let label = format!(r#"endpoint="{path}"#);
            assert!(!text.contains(&label), "{label} in:\n{text}");
        }
    }

    /// One request into the service in process, from `peer`.
    async fn call(service: &AppService, peer: &str, path: &str, body: &Value) -> Response<Body> {
        let mut request = Request::post(path)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        // What the accept loop inserts per connection.
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        service.clone().oneshot(request).await.unwrap()
    }

    /// A concrete type for the in-process service.
    type AppService =
        tower::util::BoxCloneService<Request<Full<Bytes>>, Response<Body>, Infallible>;

    /// In process, because every loopback client has the same address.
    #[tokio::test]
    async fn each_client_has_its_own_rate_limit_bucket() {
        let service: AppService =
            tower::util::BoxCloneService::new(app(Accounts::in_memory().await.unwrap()));
        let (admin, alice, bob) = (
            "192.0.2.10:1000",
            "198.51.100.1:40000",
            "198.51.100.2:40000",
        );
        let credentials = json!({"email": EMAIL, "password": PASSWORD});
        let account = json!({"email": EMAIL, "password": PASSWORD});
        let registered = call(&service, admin, "/identity/register", &account).await;
        assert_eq!(registered.status(), 201);

        for attempt in 0..LOGINS_PER_MINUTE {
            let response = call(&service, alice, "/identity/login", &credentials).await;
            assert_eq!(response.status(), 200, "attempt {attempt}");
        }
        let refused = call(&service, alice, "/identity/login", &credentials).await;
        assert_eq!(refused.status(), 429);
        assert!(refused.headers().contains_key("retry-after"));

        let response = call(&service, bob, "/identity/login", &credentials).await;
        assert_eq!(response.status(), 200);
    }
}
