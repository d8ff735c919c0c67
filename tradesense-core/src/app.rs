//! The TradeSense API: every piece of the crate composed into one tower
//! service from [`Settings`].
//!
//! Request flow (outermost first): request id -> access log and
//! `X-Process-Time` -> metrics -> CORS -> timeout -> body buffering with
//! the size limit -> rate limit -> router -> (per route group) `AuthLayer`
//! -> handler. Errors become problem+json inside; the service itself never
//! fails.

use crate::auth::{AuthState, Principal, TokenKeys};
use crate::cache::{Cache, CacheConfig, ResponseCacheLayer};
use crate::config::Settings;
use crate::health::Health;
use crate::http::{Body, BufferBodyLayer, RequestTimeoutLayer, Router};
use crate::metrics::{Metrics, MetricsLayer};
use crate::mfa::UserInvalidatingMfaStore;
use crate::ratelimit::{LoginThrottle, RateLimitLayer, SharedRedis, ThrottlePolicy};
use crate::store::{SqlStore, StoreError};
use crate::telemetry::{AccessLogLayer, RequestIdLayer};
use crate::trading::{InvalidatingTradingStore, TRADING_CACHE_TTL};
use crate::users::CachedUsers;
use http::{Request, Response};
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Service, ServiceBuilder};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The rate limiter's key for a request carrying a valid access token: its
/// user. Only signature and expiry are checked (no session lookup on this
/// path): a revoked token is refused by the `AuthLayer` anyway, and it can
/// only spend its own user's budget, never buy a fresh one.
fn rate_limit_user_key(keys: TokenKeys) -> crate::ratelimit::UserKeyFn {
    Arc::new(move |parts: &http::request::Parts| {
        let (token, _) = crate::auth::extract_token(&parts.headers)?;
        let claims = keys.verify_access(token, chrono::Utc::now()).ok()?;
        Some(claims.sub.to_string())
    })
}

/// CORS for `CORS_ORIGINS`, with credentials (the browser frontend sends
/// the auth cookie). Credentials forbid wildcards, so methods and headers
/// are listed; an empty list allows no cross-origin caller.
fn cors_layer(settings: &Settings) -> CorsLayer {
    use http::{HeaderName, HeaderValue, Method, header};
    let origins: Vec<HeaderValue> = settings
        .cors_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-process-time"),
            header::RETRY_AFTER,
        ])
        .max_age(std::time::Duration::from_secs(600))
}

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
    cache: Cache,
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
        // One cache per app; components get clones (they share the tiers).
        let cache = connect_cache(&settings);
        let health = Health::new(env!("CARGO_PKG_VERSION"))
            .with_check("database", store.clone())
            .with_check("cache", cache.clone());
        let metrics = Metrics::global();
        // One Redis handle (one connection manager, one view of whether
        // Redis is down) for the rate limits and the login throttle.
        let limits_redis = settings.redis_url.as_ref().and_then(|url| {
            SharedRedis::open(url.expose())
                .map_err(|err| {
                    tracing::warn!(error = %err, "REDIS_URL unusable for rate limits; in-process limits only");
                })
                .ok()
        });
        let mut login_throttle = LoginThrottle::new(ThrottlePolicy::default());
        if let Some(redis) = &limits_redis {
            login_throttle = login_throttle.shared_via(redis.clone(), "tradesense:login:");
        }
        let mut auth = AuthState::from_settings(&settings, &store, &cache, login_throttle.clone());
        // `/users/me` on every request: user records read through the cache,
        // invalidated by every write, MFA's included.
        let users = CachedUsers::new(Arc::new(store.clone()), &cache);
        auth.users = Arc::new(users.clone());
        let rate_limit = RateLimitLayer::from_settings(&settings, limits_redis.as_ref())
            .user_key(rate_limit_user_key(auth.auth.keys().clone()));
        // Trade pages, portfolios and positions: GET responses cached per
        // caller, the caller's scope invalidated by every trading write.
        let trading_responses = cache.scoped("trading", "trading_get", TRADING_CACHE_TTL);
        let router = Router::new()
            .merge(health.router())
            .merge(crate::metrics::router(metrics))
            .merge(crate::openapi::router())
            .merge(auth.auth_router())
            .merge(auth.users_router())
            .merge(crate::mfa::router(
                &auth,
                &settings,
                Arc::new(UserInvalidatingMfaStore::new(
                    Arc::new(store.clone()),
                    users.clone(),
                )),
            ))
            .merge(
                crate::trading::routes(Arc::new(InvalidatingTradingStore::new(
                    Arc::new(store.clone()),
                    trading_responses.clone(),
                )))
                // Inside the AuthLayer: the caller (the cache scope) is known.
                .layer(ResponseCacheLayer::new(
                    trading_responses,
                    |ext: &http::Extensions| ext.get::<Principal>().map(|p| p.user_id.to_string()),
                ))
                .layer(auth.layer()),
            )
            .compile();
        Self {
            settings: Arc::new(settings),
            store,
            cache,
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

    /// The cache shared by every component.
    pub fn cache(&self) -> &Cache {
        &self.cache
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
            .layer(cors_layer(&self.settings))
            .layer(RequestTimeoutLayer::new(self.settings.request_timeout))
            .layer(BufferBodyLayer::new(self.settings.max_body_bytes))
            .layer(self.rate_limit.clone())
            .service(self.router.clone())
    }

    /// Releases resources: closes the database pool.
    pub async fn shutdown(&self) {
        self.store.close().await;
    }
}

/// The cache `settings` ask for. A `REDIS_URL` the redis crate cannot parse
/// must not take the API down (the database is the source of truth): log it
/// loudly and run in-process only.
fn connect_cache(settings: &Settings) -> Cache {
    Cache::connect(settings).unwrap_or_else(|error| {
        tracing::error!(%error, "cache: running in-process only");
        Cache::in_process(CacheConfig::default())
    })
}
