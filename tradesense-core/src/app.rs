//! The TradeSense API: every piece of the crate composed into one tower
//! service from [`Settings`].
//!
//! Request flow (outermost first): request id -> access log and
//! `X-Process-Time` -> metrics -> timeout -> body buffering with the size
//! limit -> rate limit -> router -> (per route group) `AuthLayer` -> handler. Errors become
//! problem+json inside; the service itself never fails.

use crate::config::Settings;
use crate::health::Health;
use crate::http::{Body, BufferBodyLayer, Router};
use crate::metrics::{Metrics, MetricsLayer};
use crate::ratelimit::{LoginThrottle, RateLimitLayer, SharedRedis, ThrottlePolicy};
use crate::store::{SqlStore, StoreError};
use crate::telemetry::{AccessLogLayer, RequestIdLayer};
use http::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Service, ServiceBuilder};
use tower_http::timeout::TimeoutLayer;

/// Why the application could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] StoreError),
}

/// The composed application: its router plus the resources it owns.
#[derive(Clone)]
pub struct App {
    settings: Arc<Settings>,
    store: SqlStore,
    router: Router,
    rate_limit: RateLimitLayer,
    login_throttle: LoginThrottle,
}

impl App {
    /// Opens the database, runs migrations, and composes every component.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let store = SqlStore::connect_and_migrate(&settings).await?;
        Ok(Self::with_store(settings, store))
    }

    /// Composes the application over an already-open store.
    pub fn with_store(settings: Settings, store: SqlStore) -> Self {
        let health = Health::new(env!("CARGO_PKG_VERSION")).with_check("database", store.clone());
        let metrics = Metrics::global();
        let rate_limit = RateLimitLayer::from_settings(&settings);
        let mut login_throttle = LoginThrottle::new(ThrottlePolicy::default());
        if let Some(redis) = settings
            .redis_url
            .as_ref()
            .and_then(|url| SharedRedis::open(url.expose()).ok())
        {
            login_throttle = login_throttle.shared_via(redis, "tradesense:login:");
        }
        let router = Router::new()
            .merge(health.router())
            .merge(crate::metrics::router(metrics))
            .merge(crate::openapi::router())
            .compile();
        Self {
            settings: Arc::new(settings),
            store,
            router,
            rate_limit,
            login_throttle,
        }
    }

    /// Adjusts the rate-limiting layer (tests give the Redis-shared limits
    /// a private key prefix with [`RateLimitLayer::shared_via`]).
    pub fn map_rate_limit(mut self, f: impl FnOnce(RateLimitLayer) -> RateLimitLayer) -> Self {
        self.rate_limit = f(self.rate_limit);
        self
    }

    /// The per-account failed-login throttle the login endpoints consult.
    pub fn login_throttle(&self) -> &LoginThrottle {
        &self.login_throttle
    }

    /// The settings the app was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// The router (for route listings, e.g. the OpenAPI coverage test).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The whole API as one tower service over any request body type.
    pub fn service<B>(
        &self,
    ) -> impl Service<Request<B>, Response = Response<Body>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        ServiceBuilder::new()
            .layer(RequestIdLayer)
            .layer(AccessLogLayer)
            .layer(MetricsLayer::new())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                self.settings.request_timeout,
            ))
            .layer(BufferBodyLayer::new(self.settings.max_body_bytes))
            .layer(self.rate_limit.clone())
            .service(self.router.clone())
    }

    /// Releases resources: closes the database pool.
    pub async fn shutdown(&self) {
        self.store.close().await;
    }
}
