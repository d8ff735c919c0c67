//! The layer on a bare `service_fn`: policy, keys, headers.

use super::*;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use std::convert::Infallible;
use std::net::SocketAddr;
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt, service_fn};

type Svc = BoxCloneService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>;

fn service(layer: KeyedRateLimitLayer) -> Svc {
    BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(
        |_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        },
    )))
}

/// A policy shaped like TradeSense's: credential paths strict, probes exempt.
const AUTH_PATHS: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/register",
];
const EXEMPT_PATHS: &[&str] = &["/health", "/metrics"];

fn api_policy(api: u32, auth: u32) -> KeyedRateLimitLayer {
    KeyedRateLimitLayer::new(Limiter::per_minute("api", api))
        .strict_paths(Limiter::per_minute("auth", auth), AUTH_PATHS)
        .exempt(EXEMPT_PATHS)
}

/// A request from `peer`, optionally with a test user header and XFF.
fn request(path: &str, peer: &str, user: Option<&str>, xff: Option<&str>) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().uri(path);
    if let Some(user) = user {
        builder = builder.header("x-test-user", user);
    }
    if let Some(xff) = xff {
        builder = builder.header("x-forwarded-for", xff);
    }
    let mut request = builder.body(Full::default()).unwrap();
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

async fn status(svc: &Svc, request: Request<Full<Bytes>>) -> u16 {
    svc.clone()
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn sixth_login_in_a_minute_is_429_with_retry_after() {
    let svc = service(api_policy(100, 5));
    for remaining in (0..5).rev() {
        let response = svc
            .clone()
            .oneshot(request("/api/v1/auth/login", "192.0.2.1", None, None))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[&RATELIMIT_LIMIT], "5");
        assert_eq!(
            response.headers()[&RATELIMIT_REMAINING],
            remaining.to_string().as_str()
        );
        assert!(response.headers().contains_key(&RATELIMIT_RESET));
    }
    let response = svc
        .clone()
        .oneshot(request("/api/v1/auth/login", "192.0.2.1", None, None))
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    assert_eq!(response.headers()[&RATELIMIT_REMAINING], "0");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["status"], 429);

    // Other credential endpoints share the per-IP auth bucket; the rest of
    // the API and other IPs are unaffected.
    assert_eq!(
        status(&svc, request("/api/v1/auth/token", "192.0.2.1", None, None)).await,
        429
    );
    assert_eq!(
        status(&svc, request("/api/v1/trades", "192.0.2.1", None, None)).await,
        200
    );
    assert_eq!(
        status(&svc, request("/api/v1/auth/login", "192.0.2.2", None, None)).await,
        200
    );
}

#[tokio::test]
async fn health_and_metrics_are_exempt() {
    let svc = service(api_policy(1, 1));
    for path in ["/health", "/health/ready", "/metrics"] {
        for _ in 0..5 {
            let response = svc
                .clone()
                .oneshot(request(path, "192.0.2.1", None, None))
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert!(!response.headers().contains_key(&RATELIMIT_LIMIT));
        }
    }
    // A prefix match stops at a segment boundary.
    assert_eq!(
        status(&svc, request("/healthz", "192.0.2.1", None, None)).await,
        200
    );
    assert_eq!(
        status(&svc, request("/healthz", "192.0.2.1", None, None)).await,
        429
    );
}

#[tokio::test]
async fn zero_disables_a_limit() {
    let svc = service(api_policy(0, 0));
    for _ in 0..20 {
        let response = svc
            .clone()
            .oneshot(request("/api/v1/auth/login", "192.0.2.1", None, None))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(!response.headers().contains_key(&RATELIMIT_LIMIT));
    }
}

#[tokio::test]
async fn authenticated_users_have_their_own_bucket() {
    let user_key: UserKeyFn = Arc::new(|parts: &mut Parts| {
        parts
            .headers
            .get("x-test-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let svc = service(api_policy(2, 5).user_key(user_key));
    let ip = "192.0.2.1";
    for _ in 0..2 {
        assert_eq!(
            status(&svc, request("/api/v1/x", ip, Some("alice"), None)).await,
            200
        );
    }
    assert_eq!(
        status(&svc, request("/api/v1/x", ip, Some("alice"), None)).await,
        429
    );
    // Same IP, another user; and the IP's anonymous bucket: both untouched.
    assert_eq!(
        status(&svc, request("/api/v1/x", ip, Some("bob"), None)).await,
        200
    );
    assert_eq!(
        status(&svc, request("/api/v1/x", ip, None, None)).await,
        200
    );
    // Alice from another IP is still Alice.
    assert_eq!(
        status(&svc, request("/api/v1/x", "192.0.2.9", Some("alice"), None)).await,
        429
    );
    // Credential endpoints stay per IP whatever the token says.
    for _ in 0..5 {
        assert_eq!(
            status(&svc, request("/api/v1/auth/login", ip, Some("carol"), None)).await,
            200
        );
    }
    assert_eq!(
        status(&svc, request("/api/v1/auth/login", ip, Some("dave"), None)).await,
        429
    );
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
    let svc = service(api_policy(1, 1).trusted_proxies(trusted));
    // Behind the trusted proxy, two real clients get two buckets.
    let proxied = |client: &str| request("/api/v1/x", "10.0.0.5", None, Some(client));
    assert_eq!(status(&svc, proxied("198.51.100.1")).await, 200);
    assert_eq!(status(&svc, proxied("198.51.100.2")).await, 200);
    assert_eq!(status(&svc, proxied("198.51.100.1")).await, 429);
    // A client spoofing a chain through the proxy is keyed by its own IP.
    assert_eq!(status(&svc, proxied("6.6.6.6, 198.51.100.2")).await, 429);
    // An untrusted peer cannot buy fresh buckets by varying the header.
    let direct = |claimed: &str| request("/api/v1/x", "203.0.113.7", None, Some(claimed));
    assert_eq!(status(&svc, direct("1.1.1.1")).await, 200);
    assert_eq!(status(&svc, direct("2.2.2.2")).await, 429);
}

/// A service that answers with the `ClientIp` it was handed (or `-`).
fn echo_client_ip(layer: KeyedRateLimitLayer) -> Svc {
    BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(
        |req: Request<Full<Bytes>>| async move {
            let ip = req
                .extensions()
                .get::<ClientIp>()
                .map(|ClientIp(ip)| ip.to_string())
                .unwrap_or_else(|| "-".to_owned());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(ip))))
        },
    )))
}

async fn body_text(svc: &Svc, request: Request<Full<Bytes>>) -> String {
    let response = svc.clone().oneshot(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn handlers_get_the_resolved_client_ip() {
    let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
    let svc = echo_client_ip(api_policy(100, 100).trusted_proxies(trusted));
    // The address the limit counted, not the proxy's.
    let proxied = request("/api/v1/x", "10.0.0.5", None, Some("198.51.100.1"));
    assert_eq!(body_text(&svc, proxied).await, "198.51.100.1");
    // Exempt paths are not counted but still learn their client.
    let probe = request("/health", "192.0.2.4", None, None);
    assert_eq!(body_text(&svc, probe).await, "192.0.2.4");
    // With every limit off, handlers still get it.
    let off = echo_client_ip(api_policy(0, 0));
    let plain = request("/api/v1/x", "192.0.2.5", None, None);
    assert_eq!(body_text(&off, plain).await, "192.0.2.5");
}

#[tokio::test]
async fn without_a_client_address_requests_share_one_bucket() {
    let svc = echo_client_ip(api_policy(2, 2));
    let anonymous = || {
        Request::builder()
            .uri("/api/v1/x")
            .body(Full::default())
            .unwrap()
    };
    // No `ClientIp` to hand on, and all of them count in the same bucket
    // (a warning says so once).
    assert_eq!(body_text(&svc, anonymous()).await, "-");
    assert_eq!(status(&svc, anonymous()).await, 200);
    assert_eq!(status(&svc, anonymous()).await, 429);
    // A client with an address is unaffected.
    let known = request("/api/v1/x", "192.0.2.1", None, None);
    assert_eq!(status(&svc, known).await, 200);
}

#[tokio::test]
async fn a_custom_client_key_extractor_is_honoured() {
    struct EdgeHeader;
    impl ClientKeyExtractor for EdgeHeader {
        fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
            parts
                .headers
                .get("x-client-ip")?
                .to_str()
                .ok()?
                .parse()
                .ok()
        }
    }
    let svc = echo_client_ip(api_policy(1, 1).client_key(EdgeHeader));
    let from = |client: &str| {
        // The same peer for both: only the extractor tells them apart.
        let mut request = request("/api/v1/x", "192.0.2.1", None, None);
        request
            .headers_mut()
            .insert("x-client-ip", client.parse().unwrap());
        request
    };
    assert_eq!(body_text(&svc, from("198.51.100.1")).await, "198.51.100.1");
    assert_eq!(body_text(&svc, from("198.51.100.2")).await, "198.51.100.2");
    assert_eq!(status(&svc, from("198.51.100.1")).await, 429);
    assert_eq!(status(&svc, from("198.51.100.3")).await, 200);

    // A closure is an extractor too.
    let fixed: IpAddr = "203.0.113.50".parse().unwrap();
    let svc = echo_client_ip(api_policy(1, 1).client_key(move |_: &Parts| Some(fixed)));
    let plain = request("/api/v1/x", "192.0.2.1", None, None);
    assert_eq!(body_text(&svc, plain).await, "203.0.113.50");
}

#[tokio::test]
async fn a_refused_shared_limit_answers_429_through_the_named_future() {
    // Redis is unreachable (nothing on port 1): the shared path still
    // decides, by the in-process fallback, inside the response future.
    let redis = SharedRedis::open("redis://127.0.0.1:1").unwrap();
    let svc = service(api_policy(1, 1).shared_via(redis, "test:"));
    assert_eq!(
        status(&svc, request("/api/v1/x", "192.0.2.1", None, None)).await,
        200
    );
    assert_eq!(
        status(&svc, request("/api/v1/x", "192.0.2.1", None, None)).await,
        429
    );
}
