//! # tradesense-core
//!
//! The embeddable core of TradeSense: authentication, MFA, caching, health,
//! metrics, request ids and rate limiting as ordinary [`tower`] layers and
//! services, generic over `http::Request<B>` so they work under hyper, axum or
//! anything tower-shaped; plus the trading domain (trades, portfolios,
//! positions) on sqlx.
//!
//! ## Map
//!
//! | module | what it gives you |
//! |---|---|
//! | [`error`] | [`ApiError`](error::ApiError): every failure as RFC 9457 problem+json |
//! | [`http`] | axum extractors with problem+json rejections, fallbacks, body limit, deadline |
//! | [`telemetry`] | request ids, `X-Process-Time`, the access log, tracing setup |
//! | [`health`] | `/health` and `/health/ready` with pluggable checks |
//! | [`store`] | the sqlx plumbing: SQLite/PostgreSQL pools, migration sets, errors |
//! | [`users`] | accounts as login needs them: `Email`, `Credentials`, `UserStore` and its SQL; `LoadUser`/`UserCache`: the application's own record, cached |
//! | [`auth`] | passwords and their policy, tokens, sessions (`SessionStore`), `AuthLayer`, CSRF, `CurrentUser`, the auth endpoints as separate routers, `Registration` |
//! | [`mfa`] | TOTP setup/verify/login, recovery codes, replay guard |
//! | [`passkeys`] | WebAuthn passkeys: registration, discoverable login, `PasskeyStore` |
//! | [`events`] | security events: recording (log + store), `SecurityEventStore`, the listing |
//! | [`cache`] | the tiered cache (moka, optional Redis) |
//! | [`metrics`] | the metrics layer and `/metrics` |
//! | [`pseudonym`] | keyed (HMAC) pseudonyms of e-mails for logs and Redis keys; keys derived from `SECRET_KEY` |
//! | [`ratelimit`] | the keyed rate-limiting layer |
//! | [`shared_redis`] | the one Redis handle shared by the cache, the limits and the throttle |
//! | [`trading`] | trades, portfolios, positions and the average-cost fold |
//! | [`profile`] | TradeSense's profile (display name, time zone, creation time): its registration, its `/users/me`; composed by the server like any embedder's accounts |
//! | [`openapi`] | serving the generated OpenAPI document and the offline `/docs` page |
//!
//! Endpoint groups are [`utoipa_axum::router::OpenApiRouter`]s with paths
//! relative to where they are mounted; the TradeSense server composes them
//! (`tradesense-server`'s `App`), and so can anyone else.
//!
//! ## Example: health and metrics in a stranger's axum app
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower::ServiceExt;
//! use tradesense_core::health::Health;
//! use tradesense_core::metrics::{Metrics, MetricsLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let metrics = Metrics::global();
//! let app: Router = Router::new()
//!     .route("/hello/{name}", get(|| async { "hi" }))
//!     .merge(Router::from(Health::new("1.0.0").routes()))
//!     .merge(Router::from(tradesense_core::metrics::routes(metrics)))
//!     // After routing, so it labels by the matched template.
//!     .layer(MetricsLayer::new());
//! let request = || http::Request::get("/hello/alice").body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(request()).await.unwrap().status(), 200);
//! assert!(metrics.render().contains(r#"endpoint="/hello/{name}""#));
//! # }
//! ```

#![deny(unsafe_code, unreachable_pub)]
#![warn(missing_docs)]

pub mod auth;
pub mod cache;
pub mod error;
pub mod events;
pub mod health;
pub mod http;
pub mod metrics;
pub mod mfa;
pub mod openapi;
pub mod passkeys;
pub mod profile;
pub mod pseudonym;
pub mod ratelimit;
pub mod shared_redis;
pub mod store;
pub mod telemetry;
pub mod trading;
pub mod users;
