//! Per-client rate limiting as a tower layer, in process (governor's keyed
//! GCRA) or shared by every instance through Redis; plus the per-account
//! login throttle ([`LoginThrottle`]).
//!
//! The policy of API.md ([`RateLimitLayer::from_settings`]): the API limit
//! per authenticated user, else per client IP; a stricter limit per IP for
//! the credential endpoints; `/health*` and `/metrics` exempt; `0` turns a
//! limit off. Every limited response carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` (seconds); a refused one is
//! `429 rate_limited` problem+json with `Retry-After`.
//!
//! Why our own small layer and not `tower_governor`: that crate's service
//! only works with axum's or tonic's bodies and reads axum's `ConnectInfo`
//! (../CRATES.md, trap 3). The algorithm is still governor's.

mod account;
mod client;
mod limiter;
mod redis;

pub use account::{LoginThrottle, ThrottlePolicy};
pub use client::{ClientIpResolver, UserKeyFn};
pub use limiter::{Decision, Limiter};
pub use redis::SharedRedis;

use crate::config::Settings;
use crate::error::ApiError;
use crate::metrics::RATE_LIMIT_REJECTIONS;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, Response};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

/// `RateLimit-Limit`.
pub static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset` (seconds until the allowance is full again).
pub static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The credential endpoints limited per IP by `AUTH_RATE_LIMIT_PER_MINUTE`.
pub const AUTH_PATHS: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/mfa/login",
];
/// Paths (and everything under them) never limited: probes and scrapes
/// must work while a client is being throttled.
pub const EXEMPT_PATHS: &[&str] = &["/health", "/metrics"];
/// Redis key prefix of the shared limits.
pub const DEFAULT_REDIS_PREFIX: &str = "tradesense:ratelimit:";

/// Limits requests per client.
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::http::ClientAddr;
/// use tradesense_core::ratelimit::{Limiter, RateLimitLayer};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = RateLimitLayer::new(Limiter::per_minute("api", 2));
/// let mut service = ServiceBuilder::new().layer(layer).service(service_fn(
///     |_req: Request<Full<Bytes>>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default()))
///     },
/// ));
/// let request = || {
///     let mut request = Request::new(Full::default());
///     request.extensions_mut().insert(ClientAddr("192.0.2.1:5000".parse().unwrap()));
///     request
/// };
/// let first = service.ready().await.unwrap().call(request()).await.unwrap();
/// assert_eq!(first.headers()["ratelimit-remaining"], "1");
/// service.ready().await.unwrap().call(request()).await.unwrap();
/// let third = service.ready().await.unwrap().call(request()).await.unwrap();
/// assert_eq!(third.status(), 429);
/// assert!(third.headers().contains_key("retry-after"));
/// # });
/// ```
#[derive(Clone)]
pub struct RateLimitLayer {
    api: Option<Limiter>,
    strict: Option<Limiter>,
    strict_paths: Arc<[String]>,
    exempt: Arc<[String]>,
    client_ip: ClientIpResolver,
    user_key: Option<UserKeyFn>,
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("api", &self.api)
            .field("strict", &self.strict)
            .field("strict_paths", &self.strict_paths)
            .field("exempt", &self.exempt)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayer {
    /// Limits every request by `limit` (per user, else per IP); `None`
    /// limits nothing. No exemptions, no strict paths, no trusted proxies.
    pub fn new(limit: Option<Limiter>) -> Self {
        Self {
            api: limit,
            strict: None,
            strict_paths: Arc::from([]),
            exempt: Arc::from([]),
            client_ip: ClientIpResolver::default(),
            user_key: None,
        }
    }

    /// API.md's policy from the settings: `RATE_LIMIT_PER_MINUTE`,
    /// `AUTH_RATE_LIMIT_PER_MINUTE` on [`AUTH_PATHS`], [`EXEMPT_PATHS`],
    /// `TRUSTED_PROXIES`; shared through `redis` (the handle for
    /// `REDIS_URL`, which the caller opens once and shares) when given.
    pub fn from_settings(settings: &Settings, redis: Option<&SharedRedis>) -> Self {
        let layer = Self::new(Limiter::per_minute("api", settings.rate_limit_per_minute))
            .strict_paths(
                Limiter::per_minute("auth", settings.auth_rate_limit_per_minute),
                AUTH_PATHS,
            )
            .exempt(EXEMPT_PATHS)
            .trusted_proxies(ClientIpResolver::new(settings.trusted_proxies.clone()));
        match redis {
            Some(redis) => layer.shared_via(redis.clone(), DEFAULT_REDIS_PREFIX),
            None => layer,
        }
    }

    /// A stricter limit, always per client IP, for exactly these paths
    /// (credential endpoints: a stolen token must not buy more guesses).
    /// These paths are not also counted against the main limit.
    pub fn strict_paths(mut self, limit: Option<Limiter>, paths: &[&str]) -> Self {
        self.strict = limit;
        self.strict_paths = paths.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Never limits these paths or anything below them (`/health` covers
    /// `/health/ready`).
    pub fn exempt(mut self, paths: &[&str]) -> Self {
        self.exempt = paths.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// How the client IP is found (which proxies are believed).
    pub fn trusted_proxies(mut self, resolver: ClientIpResolver) -> Self {
        self.client_ip = resolver;
        self
    }

    /// Keys the main limit by user when `user_key` finds one.
    pub fn user_key(mut self, user_key: UserKeyFn) -> Self {
        self.user_key = Some(user_key);
        self
    }

    /// Shares both limits through `redis`, under `prefix` (tests use a
    /// random one so they do not see each other's counts).
    pub fn shared_via(mut self, redis: SharedRedis, prefix: &str) -> Self {
        self.api = self.api.map(|l| l.shared_via(redis.clone(), prefix));
        self.strict = self.strict.map(|l| l.shared_via(redis, prefix));
        self
    }

    /// Whether any limit is on.
    pub fn is_enabled(&self) -> bool {
        self.api.is_some() || self.strict.is_some()
    }

    /// Which limit applies to `parts`, and the key to count it under.
    fn plan(&self, parts: &Parts) -> Option<(&Limiter, String)> {
        let path = parts.uri.path();
        let under = |prefix: &String| {
            path == prefix
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if self.exempt.iter().any(under) {
            return None;
        }
        let ip_key = || match self.client_ip.resolve(parts) {
            Some(ip) => format!("ip:{ip}"),
            // Not behind our accept loop: one shared bucket rather than
            // no limit at all.
            None => "ip:unknown".to_owned(),
        };
        if self.strict_paths.iter().any(|p| p == path) {
            return self.strict.as_ref().map(|limit| (limit, ip_key()));
        }
        let limit = self.api.as_ref()?;
        let key = self
            .user_key
            .as_ref()
            .and_then(|find| find(parts))
            .map(|user| format!("user:{user}"))
            .unwrap_or_else(ip_key);
        Some((limit, key))
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    layer: RateLimitLayer,
}

impl<S, B, ResBody> Service<Request<B>> for RateLimit<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let plan = self
            .layer
            .plan(&parts)
            .map(|(limit, key)| (limit.clone(), key));
        let request = Request::from_parts(parts, body);
        // The clone that was driven to readiness goes into the future.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some((limit, key)) = plan else {
            return Box::pin(inner.call(request));
        };
        Box::pin(async move {
            let decision = limit.check(&key).await;
            if !decision.allowed {
                metrics::counter!(RATE_LIMIT_REJECTIONS, "scope" => limit.scope()).increment(1);
                let mut response = ApiError::RateLimited {
                    retry_after_secs: ceil_secs(decision.retry_after).max(1),
                }
                .into_response();
                set_headers(response.headers_mut(), &decision);
                return Ok(response);
            }
            let mut response = inner.call(request).await?;
            set_headers(response.headers_mut(), &decision);
            Ok(response)
        })
    }
}

fn set_headers(headers: &mut http::HeaderMap, decision: &Decision) {
    headers.insert(RATELIMIT_LIMIT.clone(), HeaderValue::from(decision.limit));
    headers.insert(
        RATELIMIT_REMAINING.clone(),
        HeaderValue::from(decision.remaining),
    );
    headers.insert(
        RATELIMIT_RESET.clone(),
        HeaderValue::from(ceil_secs(decision.reset)),
    );
}

/// Whole seconds, rounded up (a client waiting the floor would be early).
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests;
