//! `GET /metrics`: the Prometheus text exposition, or with
//! `Accept: application/json` the short JSON summary of docs/API.md.

use super::{Metrics, active_connections};
use crate::http::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The content type of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `/metrics` route over `metrics` (usually [`Metrics::global`]).
pub fn routes(metrics: &'static Metrics) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(scrape))
        .with_state(metrics)
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition (or JSON with `Accept: application/json`)", content_type = "text/plain")))]
async fn scrape(State(metrics): State<&'static Metrics>, headers: HeaderMap) -> Response {
    if wants_json(&headers) {
        let system = metrics.system();
        return Json(json!({
            "system": {
                "cpu_percent": round2(system.cpu_percent),
                "memory_percent": round2(system.memory_percent),
                "disk_percent": round2(system.disk_percent),
            },
            "application": {
                "active_connections": active_connections(),
                "total_requests": metrics.total_requests(),
                "uptime_seconds": metrics.uptime().as_secs_f64(),
            },
        }))
        .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROMETHEUS_TEXT),
        )],
        metrics.render(),
    )
        .into_response()
}

/// JSON only when the client names it: Prometheus sends `text/plain` or
/// `application/openmetrics-text` and must get the text format.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
        })
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn get(accept: Option<&str>) -> Response {
        let mut request = http::Request::builder().uri("/metrics");
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        axum::Router::from(routes(Metrics::global()))
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn text_by_default_json_on_request() {
        let response = get(None).await;
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROMETHEUS_TEXT);
        let response = get(Some("text/plain;version=0.0.4, */*;q=0.1")).await;
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROMETHEUS_TEXT);

        let response = get(Some("application/json")).await;
        assert_eq!(response.status(), 200);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for field in ["cpu_percent", "memory_percent", "disk_percent"] {
            assert!(value["system"][field].is_number(), "{value}");
        }
        for field in ["active_connections", "total_requests", "uptime_seconds"] {
            assert!(value["application"][field].is_number(), "{value}");
        }
    }
}
