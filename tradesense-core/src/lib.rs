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
//! | [`config`] | [`Settings`](config::Settings) from the environment, secrets redacted |
//! | [`error`] | [`ApiError`](error::ApiError): every failure as RFC 9457 problem+json |
//! | [`http`] | body buffering with a limit, JSON/form parsing, the router |
//! | [`telemetry`] | request ids, `X-Process-Time`, the access log, tracing setup |
//! | [`health`] | `/health` and `/health/ready` with pluggable checks |
//! | [`store`] | the sqlx plumbing: SQLite/PostgreSQL pools, migration sets, errors |
//! | [`users`] | accounts: `Email`, `UserStore`, its SQL, the cached decorator |
//! | [`auth`] | passwords, tokens, sessions (`SessionStore`), `AuthLayer`, CSRF, auth endpoints |
//! | [`mfa`] | TOTP setup/verify/login, recovery codes, replay guard |
//! | [`cache`] | the tiered cache (moka, optional Redis) |
//! | [`metrics`] | the metrics layer and `/metrics` |
//! | [`ratelimit`] | the keyed rate-limiting layer |
//! | [`trading`] | trades, portfolios, positions and the average-cost fold |
//! | [`openapi`] | the generated OpenAPI document and the offline `/docs` page |
//! | [`app`] | everything composed into the TradeSense API service |
//!
//! ## Example: the whole API in-process
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use tower::ServiceExt;
//! use tradesense_core::app::App;
//! use tradesense_core::store::testing::TestDatabase;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A throwaway SQLite database; production passes `Settings::from_env()`
//! // to `App::build`.
//! let database = TestDatabase::sqlite().await;
//! let app = App::with_store(database.settings(), database.store.clone());
//! let response = app
//!     .service::<Full<Bytes>>()
//!     .oneshot(http::Request::get("/health").body(Full::default()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), 200);
//! assert!(response.headers().contains_key("x-request-id"));
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert!(body.starts_with(b"{"));
//! # }
//! ```

#![deny(unsafe_code, unreachable_pub)]
#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod health;
pub mod http;
pub mod metrics;
pub mod mfa;
pub mod openapi;
pub mod ratelimit;
pub mod store;
pub mod telemetry;
pub mod trading;
pub mod users;
