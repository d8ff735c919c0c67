//! The TradeSense API: the core's pieces composed into one axum router and
//! the layers around it, from [`Settings`]. This is product policy (which
//! routes, under which prefixes, which paths get the strict credential
//! limit, in which order the layers run); the pieces know none of it.
//!
//! Request flow (outermost first): the 405 problem rewrite -> CORS -> request id -> access log and
//! `X-Process-Time` -> metrics -> deadline -> rate limit -> body limit ->
//! axum routing -> (per route group) `AuthLayer` -> handler. Everything
//! from the request id inward is added with `Router::layer`, so it runs
//! after routing and sees axum's `MatchedPath` (metrics and the access log
//! label by route template); the layers still wrap the fallback, so an
//! unknown path is counted, logged and rate-limited too. Errors are
//! problem+json; the service itself never fails.

use crate::Settings;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::Arc;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tradesense_core::auth::{
    AUTH_COOKIE, AuthCookie, AuthState, Authenticator, PasswordHasher, Principal, Sessions,
};
use tradesense_core::cache::{Cache, CacheConfig, ResponseCacheLayer};
use tradesense_core::events::SecurityEvents;
use tradesense_core::health::Health;
use tradesense_core::http::{
    ContentLengthLimitLayer, CorsRequestsLayer, ProblemFallback, ProblemFallbackLayer,
    RequestTimeoutLayer, not_found,
};
use tradesense_core::metrics::{Metrics, MetricsLayer};
use tradesense_core::mfa::{CachedMfaStore, MfaEndpoints, MfaService, SecretCipher};
use tradesense_core::passkeys::{PasskeyEndpoints, PasskeyService};
use tradesense_core::profile::Profiles;
use tradesense_core::pseudonym::Pseudonyms;
use tradesense_core::ratelimit::{
    KeyedRateLimitLayer, Limiter, LoginThrottle, SharedRedis, ThrottlePolicy,
};
use tradesense_core::store::{SqlStore, StoreError};
use tradesense_core::telemetry::{AccessLogLayer, RequestIdLayer};
use tradesense_core::trading::{InvalidatingTradingStore, TRADING_CACHE_TTL};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The document's title, tags and description; the paths come from the
/// handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "TradeSense API",
        description = "Trading journal: trades, portfolios, positions and P&L. \
                       Authenticate with the `auth-token` cookie or a Bearer token."
    ),
    components(schemas(tradesense_core::auth::MfaRequiredResponse)),
    tags(
        (name = "auth", description = "Register, log in (JSON or OAuth2 password form), log out"),
        (name = "mfa", description = "TOTP multi-factor authentication"),
        (name = "passkeys", description = "Passkeys (WebAuthn): add, list and remove them, log in with one"),
        (name = "users", description = "The current user, password, sessions and security events"),
        (name = "portfolios", description = "Portfolios and their positions"),
        (name = "trades", description = "Recorded trades"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "documentation", description = "This document and its page"),
    )
)]
struct ApiDoc;

/// The credential endpoints limited per client by `AUTH_RATE_LIMIT_PER_MINUTE`.
pub const AUTH_PATHS: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/mfa/login",
    "/api/v1/auth/passkeys/login/start",
    "/api/v1/auth/passkeys/login/finish",
];
/// Paths (and everything under them) never rate-limited: probes and scrapes
/// must work while a client is being throttled.
pub const EXEMPT_PATHS: &[&str] = &["/health", "/metrics"];

/// The rate limiter's key for a request carrying a valid access token: its
/// user. Only the token is verified (no session lookup on this path): a
/// revoked token is refused by the `AuthLayer` anyway, and it can only
/// spend its own user's budget, never buy a fresh one. The verification is
/// left in the request, so the `AuthLayer` does not repeat it.
fn rate_limit_user_key(auth: Authenticator) -> tradesense_core::ratelimit::UserKeyFn {
    Arc::new(move |parts: &mut http::request::Parts| {
        auth.verify_request(parts)
            .map(|claims| claims.sub.to_string())
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
    /// webauthn-rs refused the relying party of `WEBAUTHN_*`.
    #[error("passkeys: {0}")]
    Passkeys(#[from] tradesense_core::passkeys::RelyingPartyError),
}

/// The composed application: its routes plus the resources it owns. Cheap
/// to clone (every field is reference-counted).
#[derive(Clone)]
pub struct App {
    settings: Arc<Settings>,
    store: SqlStore,
    cache: Cache,
    routes: Router,
    openapi: Arc<utoipa::openapi::OpenApi>,
    rate_limit: KeyedRateLimitLayer,
    login_throttle: LoginThrottle,
    hasher: PasswordHasher,
}

impl App {
    /// Opens the database, runs migrations, and composes every component.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let store = SqlStore::connect_and_migrate(&settings.db_options()).await?;
        Self::try_with_store(settings, store)
    }

    /// Composes the application over an already-open store.
    ///
    /// # Panics
    ///
    /// When webauthn-rs refuses the relying party, which [`Settings`]
    /// parsing has already checked ([`try_with_store`](Self::try_with_store)
    /// reports it instead).
    pub fn with_store(settings: Settings, store: SqlStore) -> Self {
        Self::try_with_store(settings, store).expect("settings check the relying party")
    }

    /// Composes the application over an already-open store.
    pub fn try_with_store(settings: Settings, store: SqlStore) -> Result<Self, StartupError> {
        // One Redis handle (one connection manager, one view of whether
        // Redis is down) for the cache, the rate limits and the login
        // throttle.
        let redis = open_redis(&settings);
        // One cache per app; components get clones (they share the tiers).
        let cache = match &redis {
            Some(redis) => Cache::with_shared_redis(CacheConfig::default(), redis.clone()),
            None => Cache::in_process(CacheConfig::default()),
        };
        let health = Health::new(env!("CARGO_PKG_VERSION"))
            .with_check("database", store.clone())
            .with_check("cache", cache.clone());
        // E-mail addresses in Redis keys and log lines: keyed pseudonyms
        // under a key from SECRET_KEY (one for every instance).
        let pseudonyms = Pseudonyms::from_secret_key(&settings.secret_key);
        let mut login_throttle =
            LoginThrottle::new(ThrottlePolicy::default()).pseudonyms(pseudonyms.clone());
        if let Some(redis) = &redis {
            login_throttle = login_throttle.shared_via(redis.clone(), "tradesense:login:");
        }
        let authenticator = Authenticator::with_cookie(
            settings.token_keys(),
            Sessions::with_config(Arc::new(store.clone()), &cache, settings.session_config()),
            // `Secure` in production, where the site is served over HTTPS.
            AuthCookie::default().secure(settings.is_production()),
        );
        // Trade pages, portfolios, positions and the journal: GET responses
        // cached per caller, the caller's scope invalidated by every trading
        // write and by a change of their time zone (the analytics' default).
        let trading_responses = cache.scoped("trading", "trading_get", TRADING_CACHE_TTL);
        // MFA: its own tables, the one source of truth for "MFA is on"
        // (asked by the login and by `/users/me`).
        let mfa = MfaService::new(
            Arc::new(CachedMfaStore::new(Arc::new(store.clone()), &cache)),
            SecretCipher::from_secret_key(&settings.secret_key),
        );
        // The product is one embedder: its accounts are the `users` table's
        // login columns (core's `UserStore` on the store) and its profile
        // (`Profiles`: the registration payload, `/users/me`, cached).
        let profiles = Profiles::new(
            Arc::new(store.clone()),
            &cache,
            Some(Arc::new(mfa.clone())),
            Some(trading_responses.clone()),
        );
        // Security events in the same database as the users, so a password
        // change and its event commit together.
        let events = SecurityEvents::new(Arc::new(store.clone())).beside_users(true);
        let hasher = PasswordHasher::default();
        let auth = AuthState::builder(authenticator.clone(), Arc::new(store.clone()))
            .trusted_origins(settings.cors_origins.iter().cloned())
            .login_throttle(login_throttle.clone())
            .security_events(events)
            .hasher(hasher.clone())
            .pseudonyms(pseudonyms)
            // A new password must not be built from the display name either.
            .personal_words(Arc::new(profiles.clone()))
            .build();
        let mut rate_limit =
            KeyedRateLimitLayer::new(Limiter::per_minute("api", settings.rate_limit_per_minute))
                .trusted_proxies(settings.trusted_proxies.clone())
                .strict_paths(
                    Limiter::per_minute("auth", settings.auth_rate_limit_per_minute),
                    AUTH_PATHS,
                )
                .exempt(EXEMPT_PATHS)
                .user_key(rate_limit_user_key(authenticator.clone()));
        if let Some(redis) = &redis {
            rate_limit = rate_limit.shared_via(redis.clone(), "tradesense:ratelimit:");
        }
        // Makes the logins of `auth` ask `mfa` for a second factor.
        let mfa = MfaEndpoints::new(auth.clone(), mfa);
        // Passkeys: credentials and ceremonies in the database, so any
        // instance finishes a ceremony another started.
        let passkeys = PasskeyEndpoints::new(
            auth.clone(),
            PasskeyService::builder(
                settings.relying_party.clone(),
                Arc::new(store.clone()),
                Arc::new(store.clone()),
            )
            .challenge_ttl(settings.passkey_challenge_ttl)
            .build()?,
        );
        let trading = tradesense_core::trading::routes(
            Arc::new(InvalidatingTradingStore::new(
                Arc::new(store.clone()),
                trading_responses.clone(),
            )),
            // The response cache inside the AuthLayer: the caller (the
            // cache scope) is known.
            tower::ServiceBuilder::new()
                .layer(auth.layer())
                .layer(ResponseCacheLayer::new(
                    trading_responses,
                    |ext: &http::Extensions| ext.get::<Principal>().map(|p| p.user_id.to_string()),
                )),
        );
        let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(health.routes())
            .merge(tradesense_core::metrics::routes(Metrics::global()))
            .nest(
                "/api/v1/auth",
                auth.register_routes(profiles.clone())
                    .merge(auth.login_routes())
                    .merge(auth.logout_routes())
                    .merge(passkeys.routes()),
            )
            .nest("/api/v1/auth/mfa", mfa.routes())
            .nest(
                "/api/v1/users",
                profiles
                    .routes(&auth)
                    .merge(auth.password_routes())
                    .merge(auth.session_routes())
                    .merge(auth.security_event_routes())
                    .merge(passkeys.user_routes()),
            )
            .nest("/api/v1", trading)
            .split_for_parts();
        tradesense_core::openapi::add_security_schemes(
            &mut openapi,
            AUTH_COOKIE,
            Some("/api/v1/auth/token"),
        );
        let routes = api.merge(tradesense_core::openapi::docs_router(
            &openapi,
            "TradeSense API docs",
        ));
        Ok(Self {
            settings: Arc::new(settings),
            store,
            cache,
            routes,
            openapi: Arc::new(openapi),
            rate_limit,
            login_throttle,
            hasher,
        })
    }

    /// Adjusts the rate-limiting layer (tests give the Redis-shared limits
    /// a private key prefix with [`KeyedRateLimitLayer::shared_via`]).
    pub fn map_rate_limit(
        mut self,
        f: impl FnOnce(KeyedRateLimitLayer) -> KeyedRateLimitLayer,
    ) -> Self {
        self.rate_limit = f(self.rate_limit);
        self
    }

    /// The per-account failed-login throttle the login endpoints consult.
    pub fn login_throttle(&self) -> &LoginThrottle {
        &self.login_throttle
    }

    /// The argon2id hasher of the auth endpoints; its
    /// [`verifications`](PasswordHasher::verifications) count the password
    /// checks the app ran (what the account throttle bounds).
    pub fn password_hasher(&self) -> &PasswordHasher {
        &self.hasher
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

    /// The OpenAPI document, generated from the routed handlers.
    pub fn openapi(&self) -> &utoipa::openapi::OpenApi {
        &self.openapi
    }

    /// The whole API as one tower service over any request body, with
    /// every layer in place. Build it once and clone it per connection: a
    /// clone is a few reference-count bumps.
    pub fn service(&self) -> ProblemFallback<Router> {
        let settings = &self.settings;
        // `Router::layer` wraps each route (and the fallback) after routing,
        // so the layers see `MatchedPath`.
        // One `Router::layer` call with the whole stack: axum boxes each
        // layer it is given (a box, a clone and a boxed future per layer per
        // request), so the stack goes in as one. Outermost first.
        let stack = tower::ServiceBuilder::new()
            // CORS work only for requests with an `Origin` (the rest get its `Vary`).
            .layer(CorsRequestsLayer::new(cors_layer(settings)))
            .layer(RequestIdLayer)
            .layer(AccessLogLayer)
            .layer(MetricsLayer::new())
            .layer(RequestTimeoutLayer::new(settings.request_timeout))
            .layer(self.rate_limit.clone())
            .layer(ContentLengthLimitLayer::new(settings.max_body_bytes))
            .layer(DefaultBodyLimit::max(settings.max_body_bytes));
        let router = self.routes.clone().fallback(not_found).layer(stack);
        ProblemFallbackLayer.layer(router)
    }

    /// Releases resources: closes the database pool.
    pub async fn shutdown(&self) {
        self.store.close().await;
    }
}

/// The Redis handle for `REDIS_URL`, if set. A URL the redis crate cannot
/// parse must not take the API down (the database is the source of truth):
/// log it loudly and run in-process only.
fn open_redis(settings: &Settings) -> Option<SharedRedis> {
    let url = settings.redis_url.as_ref()?;
    SharedRedis::open(url.expose())
        .map_err(|error| {
            tracing::error!(%error, "REDIS_URL unusable: cache, rate limits and throttle in-process only");
        })
        .ok()
}
