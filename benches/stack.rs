//! The whole composed stack in-process: a request through `App::service()`
//! (request id, access log, timeout, body buffering, router, handler) with no
//! socket, against the bare router alone as the baseline measured in the same
//! run.
//!
//! `cargo bench --bench stack`

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::Full;
use std::hint::black_box;
use tower::{Service, ServiceExt};
use tradesense_core::app::App;
use tradesense_core::store::testing::TestDatabase;

fn stack(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(TestDatabase::sqlite());
    let app = App::with_store(database.settings(), database.store.clone());
    let router = app.router().clone();
    let service = app.service::<Full<Bytes>>();

    let mut group = c.benchmark_group("stack");
    group.bench_function("GET /health, bare router (baseline)", |b| {
        b.to_async(&runtime).iter(|| {
            let mut router = router.clone();
            async move {
                let request = http::Request::get("/health").body(Bytes::new()).unwrap();
                black_box(router.ready().await.unwrap().call(request).await.unwrap())
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
    group.finish();
}

criterion_group!(benches, stack);
criterion_main!(benches);
