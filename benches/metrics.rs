//! The cost of `MetricsLayer` per request: the same trivial service with
//! and without the layer, with the real (global Prometheus) recorder
//! installed and a route template on the response, as in the server.
//!
//! Run: `cargo bench --bench metrics -- --warm-up-time 1 --measurement-time 3`

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::{Request, Response};
use http_body_util::Full;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use tower::{Layer, Service, service_fn};
use tradesense_core::http::MatchedRoute;
use tradesense_core::metrics::{Metrics, MetricsLayer};

fn bench(c: &mut Criterion) {
    let _metrics = Metrics::global();
    let route = MatchedRoute(Arc::from("/api/v1/trades/{id}"));
    let inner = service_fn(move |_req: Request<Full<Bytes>>| {
        let route = route.clone();
        async move {
            let mut response = Response::new(Full::<Bytes>::default());
            response.extensions_mut().insert(route);
            Ok::<_, Infallible>(response)
        }
    });
    let request = || {
        Request::builder()
            .uri("/api/v1/trades/0193a0f0-0000-7000-8000-000000000000")
            .body(Full::<Bytes>::default())
            .unwrap()
    };

    let mut group = c.benchmark_group("metrics_layer");
    let mut bare = inner.clone();
    group.bench_function("bare_service", |b| {
        b.iter(|| black_box(bare.call(request()).now_or_never().unwrap().unwrap()))
    });
    let mut layered = MetricsLayer::new().layer(inner);
    group.bench_function("with_metrics_layer", |b| {
        b.iter(|| black_box(layered.call(request()).now_or_never().unwrap().unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
