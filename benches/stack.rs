//! The whole composed stack in-process: a request through `App::router()`
//! (CORS, request id, access log, metrics, timeout, rate limit, body limit,
//! routing, auth, handler) with no socket, against a bare axum router
//! answering the same `/health` JSON as the baseline measured in the same
//! run; and the authenticated hot
//! path, `GET /api/v1/users/me` with a bearer token (token verify, session
//! liveness and the user, both from the cache after the first request).
//!
//! `cargo bench --bench stack`

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::Full;
use std::hint::black_box;
use tower::ServiceExt;
use tradesense_core::store::testing::TestDatabase;
use tradesense_server::{App, Settings};

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
