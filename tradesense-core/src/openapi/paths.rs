//! The `#[utoipa::path]` declarations of every route. The functions exist
//! only to carry the declarations (utoipa reads them at compile time); the
//! handlers live in their modules.
#![allow(dead_code)]

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process answers", body = serde_json::Value)))]
pub(super) fn health() {}

/// Readiness.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Every check passes (a degraded cache still passes)", body = serde_json::Value),
        (status = 503, description = "A check failed; the body names it", body = serde_json::Value),
    ))]
pub(super) fn ready() {}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition (or JSON with `Accept: application/json`)", content_type = "text/plain")))]
pub(super) fn metrics() {}
