//! The layer on a bare `service_fn` and inside a real axum `Router`, each
//! with its own local Prometheus recorder.

use super::*;
use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::Full;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use std::convert::Infallible;
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// A recorder of its own keeps each test independent of the global one.
fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HTTP_REQUEST_DURATION.into()),
            super::super::DURATION_BUCKETS,
        )
        .unwrap()
        .build_recorder()
}

/// Runs `work` with `recorder` installed on this thread; returns the text.
fn render_after<F: Future<Output = ()>>(work: impl FnOnce() -> F) -> String {
    let recorder = recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(work()));
    handle.render()
}

fn get_request<B: Default>(path: &str) -> Request<B> {
    Request::builder().uri(path).body(B::default()).unwrap()
}

#[test]
fn labels_are_bounded() {
    assert_eq!(method_label(&Method::GET), "GET");
    let custom = Method::from_bytes(b"PROPFIND").unwrap();
    assert_eq!(method_label(&custom), "OTHER");
    assert_eq!(&*status_label(404), "404");
    assert_eq!(&*status_label(418), "418");
}

#[test]
fn without_a_router_every_request_is_unmatched() {
    let text = render_after(|| async {
        let service = ServiceBuilder::new()
            .layer(MetricsLayer::new())
            .service(service_fn(|req: Request<Full<Bytes>>| async move {
                let mut response = Response::new(Full::<Bytes>::default());
                if req.uri().path() != "/ok" {
                    *response.status_mut() = http::StatusCode::NOT_FOUND;
                }
                Ok::<_, Infallible>(response)
            }));
        for path in ["/ok", "/nope/1", "/nope/2"] {
            service.clone().oneshot(get_request(path)).await.unwrap();
        }
    });
    assert!(
        text.contains(r#"http_requests_total{method="GET",endpoint="unmatched",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",endpoint="unmatched",status="404"} 2"#),
        "{text}"
    );
    assert!(text.contains("http_requests_in_flight 0"), "{text}");
}

#[test]
fn on_an_axum_router_labels_are_route_templates() {
    let text = render_after(|| async {
        let app = Router::new()
            .route("/things/{id}", get(|| async { "a thing" }))
            .layer(MetricsLayer::new());
        for path in ["/things/1", "/things/2", "/no/such/page"] {
            let response = app
                .clone()
                .oneshot(get_request::<axum::body::Body>(path))
                .await
                .unwrap();
            let expected = if path.starts_with("/things/") {
                200
            } else {
                404
            };
            assert_eq!(response.status(), expected, "{path}");
        }
    });
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",endpoint="/things/{id}",status="200"} 2"#
        ),
        "{text}"
    );
    // The fallback runs inside `Router::layer` too, without a template.
    assert!(
        text.contains(r#"http_requests_total{method="GET",endpoint="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains("/no/such/page"), "{text}");
    assert!(
        text.contains(
            r#"http_request_duration_seconds_bucket{method="GET",endpoint="/things/{id}",le="0.005"}"#
        ),
        "{text}"
    );
    assert!(text.contains("http_requests_in_flight 0"), "{text}");
}

#[test]
fn around_an_axum_router_the_route_is_not_visible() {
    // Documents why the layer belongs on `Router::layer`: outside the
    // router, routing has not happened yet.
    let text = render_after(|| async {
        let app = Router::new().route("/things/{id}", get(|| async { "a thing" }));
        let service = ServiceBuilder::new()
            .layer(MetricsLayer::new())
            .service(app);
        let request = get_request::<axum::body::Body>("/things/1");
        assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
    });
    assert!(
        text.contains(r#"http_requests_total{method="GET",endpoint="unmatched",status="200"} 1"#),
        "{text}"
    );
}
