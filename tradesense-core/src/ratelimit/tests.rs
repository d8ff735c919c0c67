//! The layer on a bare `service_fn`: policy, keys, headers.

use super::*;
use crate::http::ClientAddr;
use http_body_util::{BodyExt, Full};
use std::convert::Infallible;
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt, service_fn};

type Svc = BoxCloneService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>;

fn service(layer: RateLimitLayer) -> Svc {
    BoxCloneService::new(ServiceBuilder::new().layer(layer).service(service_fn(
        |_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        },
    )))
}

fn api_policy(api: u32, auth: u32) -> RateLimitLayer {
    RateLimitLayer::new(Limiter::per_minute("api", api))
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
    request
        .extensions_mut()
        .insert(ClientAddr(format!("{peer}:40000").parse().unwrap()));
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
    let user_key: UserKeyFn = Arc::new(|parts: &Parts| {
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
    let trusted = ClientIpResolver::new(vec!["10.0.0.0/8".parse().unwrap()]);
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
