//! The whole composed stack in-process: a request through `App::router()`
//! (CORS, request id, access log, metrics, timeout, rate limit, body limit,
//! routing, auth, handler) with no socket, against a bare axum router
//! answering the same `/health` JSON as the baseline measured in the same
//! run; and the authenticated hot
//! path, `GET /api/v1/users/me` with a bearer token (token verify, session
//! liveness and the user, both from the cache after the first request).
//!
//! After the timings, the allocations one request costs (a counting global
//! allocator over the system one), for the same requests.
//!
//! `cargo bench --bench stack`

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::Full;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceExt;
use tradesense_core::store::testing::TestDatabase;
use tradesense_server::{App, Settings};

/// Counts every allocation, for the allocations-per-request figures.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as `GlobalAlloc::realloc` requires.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Mean allocations of one call of `service` with `request()`, over 2,000
/// calls after 200 warm-up ones (the caches filled).
fn allocations_per_request<S>(
    runtime: &tokio::runtime::Runtime,
    service: &S,
    request: impl Fn() -> http::Request<Full<Bytes>>,
) -> f64
where
    S: tower::Service<http::Request<Full<Bytes>>> + Clone,
    S::Error: std::fmt::Debug,
{
    runtime.block_on(async {
        for _ in 0..200 {
            black_box(service.clone().oneshot(request()).await.unwrap());
        }
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..2_000 {
            black_box(service.clone().oneshot(request()).await.unwrap());
        }
        (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / 2_000.0
    })
}

fn stack(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(TestDatabase::sqlite());
    let app = App::with_store(Settings::for_tests(&database.url), database.store.clone());
    let body = r#"{"status":"ok","service":"tradesense","version":"0.1.0"}"#;
    let router: axum::Router = axum::Router::new().route(
        "/health",
        axum::routing::get(move || async move {
            ([(http::header::CONTENT_TYPE, "application/json")], body)
        }),
    );
    let service = app.service();

    let mut group = c.benchmark_group("stack");
    group.bench_function("GET /health, bare router (baseline)", |b| {
        b.to_async(&runtime).iter(|| {
            let router = router.clone();
            async move {
                let request = http::Request::get("/health")
                    .body(Full::<Bytes>::default())
                    .unwrap();
                black_box(router.oneshot(request).await.unwrap())
            }
        })
    });
    group.bench_function("GET /health, full stack", |b| {
        b.to_async(&runtime).iter(|| {
            let service = service.clone();
            async move {
                let request = http::Request::get("/health").body(Full::default()).unwrap();
                black_box(service.oneshot(request).await.unwrap())
            }
        })
    });
    group.bench_function("GET unknown path (404 problem+json), full stack", |b| {
        b.to_async(&runtime).iter(|| {
            let service = service.clone();
            async move {
                let request = http::Request::get("/no/such/path")
                    .body(Full::default())
                    .unwrap();
                black_box(service.oneshot(request).await.unwrap())
            }
        })
    });
    let token = runtime.block_on(login(&service));
    let authorization = format!("Bearer {token}");
    group.bench_function("GET /api/v1/users/me (bearer, cached), full stack", |b| {
        b.to_async(&runtime).iter(|| {
            let service = service.clone();
            let authorization = authorization.clone();
            async move {
                let request = http::Request::get("/api/v1/users/me")
                    .header("authorization", authorization)
                    .body(Full::default())
                    .unwrap();
                let response = service.oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
                black_box(response)
            }
        })
    });
    group.finish();

    let health = || http::Request::get("/health").body(Full::default()).unwrap();
    let me = || {
        http::Request::get("/api/v1/users/me")
            .header("authorization", authorization.clone())
            .body(Full::default())
            .unwrap()
    };
    println!("allocations per request (mean of 2,000, after warm-up):");
    println!(
        "  GET /health, bare router (baseline)   {:>6.1}",
        allocations_per_request(&runtime, &router, health)
    );
    println!(
        "  GET /health, full stack               {:>6.1}",
        allocations_per_request(&runtime, &service, health)
    );
    println!(
        "  GET /api/v1/users/me (bearer), full   {:>6.1}",
        allocations_per_request(&runtime, &service, me)
    );
}

/// Registers a user and logs in through the service itself.
async fn login<S>(service: &S) -> String
where
    S: tower::Service<
            http::Request<Full<Bytes>>,
            Response = http::Response<axum::body::Body>,
            Error = std::convert::Infallible,
        > + Clone,
{
    use http_body_util::BodyExt;
    let credentials = serde_json::json!({
        "email": "bench@example.com",
        "password": "correct horse battery staple 42",
        "full_name": "Bench",
    });
    let post = |path: &str| {
        http::Request::post(path)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(credentials.to_string())))
            .unwrap()
    };
    let response = service
        .clone()
        .oneshot(post("/api/v1/auth/register"))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = service
        .clone()
        .oneshot(post("/api/v1/auth/login"))
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

criterion_group!(benches, stack);
criterion_main!(benches);
