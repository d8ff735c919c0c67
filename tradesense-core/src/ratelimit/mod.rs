//! Per-client rate limiting as a tower layer ([`KeyedRateLimitLayer`]), in
//! process (governor's keyed GCRA) or shared by every instance through
//! Redis; plus the per-account login throttle ([`LoginThrottle`]).
//!
//! The layer keys the main limit per authenticated user (when a
//! [`UserKeyFn`] finds one), else per client IP; an optional stricter limit
//! per IP applies to a set of paths (credential endpoints); some paths can
//! be exempt; `0` turns a limit off. Every limited response carries
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
//! (seconds); a refused one is `429 rate_limited` problem+json with
//! `Retry-After`. Which limits, paths and proxies is the composer's policy
//! (TradeSense's, per docs/API.md, is set in `tradesense-server`).
//!
//! The client comes from a [`ClientKeyExtractor`]; the default,
//! [`ClientIpResolver`], reads axum's `ConnectInfo<SocketAddr>` and believes
//! `X-Forwarded-For` only from trusted proxies. The resolved address is
//! passed on to handlers as a [`ClientIp`] request extension (one client
//! address for limits, sessions and security events). Per-IP counts key an
//! IPv4 client by its address and an IPv6 client by its /64
//! ([`client_network`]): one host is routinely given a whole /64, so
//! counting single addresses would give it 2^64 budgets.
//!
//! Why our own small layer and not `tower_governor`: that crate's service
//! needs `Response<B>: From<GovernorError>`, which exists only for axum's
//! and tonic's bodies; this layer is generic over the body. The algorithm
//! is still governor's.

mod account;
mod client;
mod limiter;
mod service;

/// The Redis handle the shared limits use (the process-wide one).
pub use crate::shared_redis::SharedRedis;
pub use account::{Locked, LoginThrottle, Reservation, ThrottlePolicy};
pub use client::{ClientIp, ClientIpResolver, ClientKeyExtractor, UserKeyFn, client_network};
pub use limiter::{Decision, Limiter};
pub use service::{KeyedRateLimit, KeyedRateLimitFuture};

use http::HeaderName;
use http::request::Parts;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tower::Layer;

/// `RateLimit-Limit`.
pub static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset` (seconds until the allowance is full again).
pub static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Redis key prefix of the shared limits.
pub const DEFAULT_REDIS_PREFIX: &str = "tradesense:ratelimit:";
/// The one bucket every request without a known client shares.
pub const UNKNOWN_CLIENT_KEY: &str = "ip:unknown";

/// Limits requests per client, configured by its builder methods (no
/// `Settings` needed): [`new`](Self::new) for the main limit, then
/// [`strict_paths`](Self::strict_paths), [`exempt`](Self::exempt),
/// [`trusted_proxies`](Self::trusted_proxies) or
/// [`client_key`](Self::client_key), [`user_key`](Self::user_key) and
/// [`shared_via`](Self::shared_via).
///
/// **Where the client comes from.** By default the peer address from
/// axum's `ConnectInfo<SocketAddr>` request extension, which
/// `Router::into_make_service_with_connect_info::<SocketAddr>()` inserts (a
/// custom accept loop inserts it itself, as `tradesense-server` does).
/// Whatever client is found is inserted as a [`ClientIp`] extension for the
/// handlers behind. A request whose client cannot be told (no
/// `ConnectInfo`, or a [`ClientKeyExtractor`] answering `None`) is counted
/// in one bucket shared by all such requests, [`UNKNOWN_CLIENT_KEY`]: one
/// client could then exhaust everyone's allowance. The layer logs a warning
/// the first time that happens; fix it by serving with connect info or by
/// giving the layer a [`ClientKeyExtractor`].
///
/// **Under axum**, put it on [`Router::layer`](axum::Router::layer) and serve
/// with `into_make_service_with_connect_info::<SocketAddr>()`; it runs
/// before any extractor reads the body. (Around the whole router, in an
/// outer `ServiceBuilder`, it works as well when something outside it
/// inserts `ConnectInfo`.)
///
/// ```
/// use axum::extract::ConnectInfo;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use std::net::SocketAddr;
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::ratelimit::{ClientIp, KeyedRateLimitLayer, Limiter};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = KeyedRateLimitLayer::new(Limiter::per_minute("api", 2)).exempt(&["/health"]);
/// let mut service = ServiceBuilder::new().layer(layer).service(service_fn(
///     |req: Request<Full<Bytes>>| async move {
///         // The handler sees the address the limit was counted under.
///         let ClientIp(ip) = *req.extensions().get::<ClientIp>().unwrap();
///         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(ip.to_string()))))
///     },
/// ));
/// let request = || {
///     let mut request = Request::new(Full::default());
///     let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
///     request.extensions_mut().insert(ConnectInfo(peer));
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
pub struct KeyedRateLimitLayer {
    policy: Arc<Policy>,
}

/// Everything the layer decides with; one `Arc` per layer, so a service
/// clone per request is an `Arc` bump.
#[derive(Clone)]
struct Policy {
    api: Option<Limiter>,
    strict: Option<Limiter>,
    strict_paths: Vec<String>,
    exempt: Vec<String>,
    client_key: Arc<dyn ClientKeyExtractor>,
    user_key: Option<UserKeyFn>,
    /// Whether the "cannot see the client" warning was logged (shared by
    /// the clones of one layer, so it is logged once, not per request).
    warned_unknown: Arc<AtomicBool>,
}

impl std::fmt::Debug for KeyedRateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedRateLimitLayer")
            .field("api", &self.policy.api)
            .field("strict", &self.policy.strict)
            .field("strict_paths", &self.policy.strict_paths)
            .field("exempt", &self.policy.exempt)
            .finish_non_exhaustive()
    }
}

impl KeyedRateLimitLayer {
    /// Limits every request by `limit` (per user, else per IP); `None`
    /// limits nothing. No exemptions, no strict paths, no trusted proxies:
    /// the client is the peer of `ConnectInfo<SocketAddr>`.
    pub fn new(limit: Option<Limiter>) -> Self {
        Self {
            policy: Arc::new(Policy {
                api: limit,
                strict: None,
                strict_paths: Vec::new(),
                exempt: Vec::new(),
                client_key: Arc::new(ClientIpResolver::default()),
                user_key: None,
                warned_unknown: Arc::new(AtomicBool::new(false)),
            }),
        }
    }

    /// Changes the policy while building (the `Arc` is not shared yet, so
    /// this does not copy it).
    fn with(mut self, change: impl FnOnce(&mut Policy)) -> Self {
        change(Arc::make_mut(&mut self.policy));
        self
    }

    /// A stricter limit, always per client IP, for exactly these paths
    /// (credential endpoints: a stolen token must not buy more guesses).
    /// These paths are not also counted against the main limit.
    pub fn strict_paths(self, limit: Option<Limiter>, paths: &[&str]) -> Self {
        self.with(|policy| {
            policy.strict = limit;
            policy.strict_paths = paths.iter().map(|p| (*p).to_owned()).collect();
        })
    }

    /// Never limits these paths or anything below them (`/health` covers
    /// `/health/ready`). Exempt requests still get their [`ClientIp`].
    pub fn exempt(self, paths: &[&str]) -> Self {
        self.with(|policy| policy.exempt = paths.iter().map(|p| (*p).to_owned()).collect())
    }

    /// Finds the client with a [`ClientIpResolver`] that believes
    /// `X-Forwarded-For` from peers in `trusted` (the proxies in front of
    /// this service). Replaces any [`client_key`](Self::client_key).
    pub fn trusted_proxies(self, trusted: impl Into<Arc<[IpNet]>>) -> Self {
        self.client_key(ClientIpResolver::new(trusted))
    }

    /// Finds the client with `extractor` instead of the peer address.
    /// Replaces any [`trusted_proxies`](Self::trusted_proxies).
    pub fn client_key(self, extractor: impl ClientKeyExtractor) -> Self {
        self.with(|policy| policy.client_key = Arc::new(extractor))
    }

    /// Keys the main limit by user when `user_key` finds one.
    pub fn user_key(self, user_key: UserKeyFn) -> Self {
        self.with(|policy| policy.user_key = Some(user_key))
    }

    /// Shares both limits through `redis`, under `prefix` (tests use a
    /// random one so they do not see each other's counts).
    pub fn shared_via(self, redis: SharedRedis, prefix: &str) -> Self {
        self.with(|policy| {
            policy.api = policy
                .api
                .take()
                .map(|l| l.shared_via(redis.clone(), prefix));
            policy.strict = policy.strict.take().map(|l| l.shared_via(redis, prefix));
        })
    }

    /// Whether any limit is on.
    pub fn is_enabled(&self) -> bool {
        self.policy.api.is_some() || self.policy.strict.is_some()
    }
}

impl Policy {
    /// Which limit applies to `parts` from `client`, and the key to count
    /// it under; `None` when the request is not limited.
    fn plan(&self, parts: &mut Parts, client: Option<IpAddr>) -> Option<(&Limiter, String)> {
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
        let ip_key = || match client {
            // `ip:192.0.2.1` (the key an IPv4 client always had) or
            // `ip:2001:db8:1:2::/64`.
            Some(ip) => match client_network(ip) {
                IpNet::V4(net) => format!("ip:{}", net.addr()),
                net @ IpNet::V6(_) => format!("ip:{net}"),
            },
            None => {
                self.warn_unknown_client();
                UNKNOWN_CLIENT_KEY.to_owned()
            }
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

    /// Says once per layer that clients are lumped together, and how to
    /// fix it: still limiting them (one bucket) beats not limiting at all,
    /// but it must not go unnoticed.
    fn warn_unknown_client(&self) {
        if !self.warned_unknown.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                bucket = UNKNOWN_CLIENT_KEY,
                "KeyedRateLimitLayer cannot see the client address of requests: they all \
                 share one rate-limit bucket. Serve with \
                 `into_make_service_with_connect_info::<SocketAddr>()`, insert \
                 `axum::extract::ConnectInfo<SocketAddr>` into request extensions in your \
                 accept loop, or give the layer a `ClientKeyExtractor` with `client_key`"
            );
        }
    }
}

impl<S> Layer<S> for KeyedRateLimitLayer {
    type Service = KeyedRateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedRateLimit::new(inner, self.policy.clone())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_axum;
