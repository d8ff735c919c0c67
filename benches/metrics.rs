//! The cost of `MetricsLayer` per request: the same trivial axum router
//! with and without the layer on `Router::layer` (where it reads the route
//! template from `MatchedPath`), with the real (global Prometheus) recorder
//! installed.
//!
//! Run: `cargo bench --bench metrics -- --warm-up-time 1 --measurement-time 3`

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::Request;
use http_body_util::Full;
use std::hint::black_box;
use tower::Service;
use tradesense_core::metrics::{Metrics, MetricsLayer};

fn bench(c: &mut Criterion) {
    let _metrics = Metrics::global();
    let router = Router::new().route("/api/v1/trades/{id}", get(|| async { "" }));
    let request = || {
        Request::builder()
            .uri("/api/v1/trades/0193a0f0-0000-7000-8000-000000000000")
            .body(Full::<Bytes>::default())
            .unwrap()
    };

    let mut group = c.benchmark_group("metrics_layer");
    let mut bare = router.clone();
    group.bench_function("bare_router", |b| {
        b.iter(|| black_box(bare.call(request()).now_or_never().unwrap().unwrap()))
    });
    let mut layered = router.layer(MetricsLayer::new());
    group.bench_function("with_metrics_layer", |b| {
        b.iter(|| black_box(layered.call(request()).now_or_never().unwrap().unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
