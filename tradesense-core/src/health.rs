//! Liveness and readiness.
//!
//! `GET /health` touches nothing: it answers while the process can answer.
//! `GET /health/ready` runs every registered [`ReadinessCheck`] concurrently,
//! each under a short timeout, and answers `503` naming the failing check
//! with a short reason that never includes a connection string. A check may
//! also report *degraded* (the cache without Redis): still ready, because
//! the database is the source of truth.

use crate::http::Json;
use async_trait::async_trait;
use axum::extract::State;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The outcome of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckStatus {
    /// Working.
    Ok,
    /// Working without a non-essential part; does not fail readiness.
    Degraded(String),
    /// Not working; fails readiness.
    Failed(String),
}

impl CheckStatus {
    fn render(&self) -> String {
        match self {
            Self::Ok => "ok".to_owned(),
            Self::Degraded(reason) => format!("degraded: {reason}"),
            Self::Failed(reason) => format!("error: {reason}"),
        }
    }
}

/// Something readiness depends on.
#[async_trait]
pub trait ReadinessCheck: Send + Sync + 'static {
    /// Runs the check. Keep the reason short and free of secrets.
    async fn check(&self) -> CheckStatus;
}

/// The database check: one round trip.
#[async_trait]
impl ReadinessCheck for crate::store::SqlStore {
    async fn check(&self) -> CheckStatus {
        match self.ping().await {
            Ok(()) => CheckStatus::Ok,
            // The sqlx error may quote the URL; say only what kind of failure.
            Err(crate::store::StoreError::Database(sqlx::Error::PoolTimedOut)) => {
                CheckStatus::Failed("connection pool timed out".into())
            }
            Err(_) => CheckStatus::Failed("database unreachable".into()),
        }
    }
}

/// The service name `/health` reports.
pub const SERVICE_NAME: &str = "tradesense-backend";

/// Liveness and readiness endpoints over a set of named checks.
///
/// ```
/// use tradesense_core::health::{CheckStatus, Health, ReadinessCheck};
///
/// struct AlwaysOk;
/// #[async_trait::async_trait]
/// impl ReadinessCheck for AlwaysOk {
///     async fn check(&self) -> CheckStatus { CheckStatus::Ok }
/// }
/// let routes = Health::new(env!("CARGO_PKG_VERSION")).with_check("database", AlwaysOk).routes();
/// let (_router, api) = routes.split_for_parts();
/// assert_eq!(api.paths.paths.len(), 2);
/// ```
#[derive(Clone)]
pub struct Health {
    version: &'static str,
    timeout: Duration,
    checks: Vec<(&'static str, Arc<dyn ReadinessCheck>)>,
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: BTreeMap<&'static str, String>,
}

impl Health {
    /// No checks yet; `version` is what `/health` reports.
    pub fn new(version: &'static str) -> Self {
        Self {
            version,
            timeout: Duration::from_secs(2),
            checks: Vec::new(),
        }
    }

    /// Adds a named check (`"database"`, `"cache"`).
    pub fn with_check(mut self, name: &'static str, check: impl ReadinessCheck) -> Self {
        self.checks.push((name, Arc::new(check)));
        self
    }

    /// How long each check may take before it counts as failed (default 2 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs every check concurrently; `(ready, per-check status)`.
    pub async fn readiness(&self) -> (bool, BTreeMap<&'static str, CheckStatus>) {
        let runs = self.checks.iter().map(|(name, check)| async move {
            let status = tokio::time::timeout(self.timeout, check.check())
                .await
                .unwrap_or_else(|_| CheckStatus::Failed("timed out".into()));
            (*name, status)
        });
        let results: BTreeMap<_, _> = futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect();
        let ready = results
            .values()
            .all(|s| !matches!(s, CheckStatus::Failed(_)));
        (ready, results)
    }

    /// `GET /health` and `GET /health/ready`, with their OpenAPI paths.
    pub fn routes(self) -> OpenApiRouter {
        // The liveness body never changes: rendered once, each answer is a
        // reference-counted clone of the same bytes.
        let liveness = Liveness(Bytes::from(
            serde_json::json!({
                "status": "ok",
                "service": SERVICE_NAME,
                "version": self.version,
            })
            .to_string(),
        ));
        let readiness = OpenApiRouter::new()
            .routes(routes!(ready))
            .with_state(Arc::new(self));
        OpenApiRouter::new()
            .routes(routes!(health))
            .with_state(liveness)
            .merge(readiness)
    }
}

/// The pre-rendered `/health` body.
#[derive(Clone)]
struct Liveness(Bytes);

/// Liveness.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "operations",
    responses((status = 200, description = "The process answers", body = serde_json::Value)))]
async fn health(State(Liveness(body)): State<Liveness>) -> impl axum::response::IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
}

/// Readiness.
#[utoipa::path(get, path = "/health/ready", operation_id = "health_ready", tag = "operations",
    responses(
        (status = 200, description = "Every check passes (a degraded cache still passes)", body = serde_json::Value),
        (status = 503, description = "A check failed; the body names it", body = serde_json::Value),
    ))]
async fn ready(State(health): State<Arc<Health>>) -> (StatusCode, Json<Readiness>) {
    let (ready, results) = health.readiness().await;
    let body = Readiness {
        status: if ready { "ready" } else { "not ready" },
        checks: results.iter().map(|(k, v)| (*k, v.render())).collect(),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    struct Fixed(CheckStatus);
    #[async_trait]
    impl ReadinessCheck for Fixed {
        async fn check(&self) -> CheckStatus {
            self.0.clone()
        }
    }
    struct Hangs;
    #[async_trait]
    impl ReadinessCheck for Hangs {
        async fn check(&self) -> CheckStatus {
            std::future::pending().await
        }
    }

    async fn ready(health: Health) -> (u16, serde_json::Value) {
        let request = http::Request::get("/health/ready")
            .body(axum::body::Body::empty())
            .unwrap();
        let router: axum::Router = health.routes().into();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn degraded_is_ready_failed_and_timeouts_are_not() {
        let (status, body) = ready(
            Health::new("1")
                .with_check("database", Fixed(CheckStatus::Ok))
                .with_check("cache", Fixed(CheckStatus::Degraded("redis down".into()))),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"]["cache"], "degraded: redis down");

        let (status, body) = ready(
            Health::new("1")
                .with_timeout(Duration::from_millis(50))
                .with_check("database", Hangs),
        )
        .await;
        assert_eq!(status, 503);
        assert_eq!(body["status"], "not ready");
        assert_eq!(body["checks"]["database"], "error: timed out");
    }
}
