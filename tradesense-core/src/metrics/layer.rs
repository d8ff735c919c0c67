//! [`MetricsLayer`]: counts and times every request through the `metrics`
//! facade, labelled by method, route template and status.

use super::{
    HTTP_REQUEST_DURATION, HTTP_REQUESTS_IN_FLIGHT, HTTP_REQUESTS_TOTAL, RUNTIME,
    UNMATCHED_ENDPOINT,
};
use axum::extract::MatchedPath;
use http::{Method, Request, Response};
use metrics::{Counter, Gauge, Histogram, Label, SharedString};
use pin_project_lite::pin_project;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tower::{Layer, Service};

/// Records `http_requests_total{method,endpoint,status}`,
/// `http_request_duration_seconds{method,endpoint}` and
/// `http_requests_in_flight` for every request.
///
/// `endpoint` is the route template from axum's [`MatchedPath`] in the
/// request extensions, read when the request comes in. A request without
/// one (an unknown path, or a layer that cannot see the routing) is
/// labelled [`UNMATCHED_ENDPOINT`], so the label set stays bounded whatever
/// paths clients send. Methods outside the standard nine are labelled
/// `OTHER` for the same reason.
///
/// **Under axum, put it on [`Router::layer`](axum::Router::layer)**: that
/// wraps every route (and the fallback) after routing, where `MatchedPath`
/// exists. An outer `ServiceBuilder` around the whole router runs before
/// routing and cannot see the matched route: every request would be
/// `unmatched`.
///
/// The layer writes to whatever `metrics` recorder is installed when it is
/// created (it registers its series handles once, so a request costs a map
/// lookup and a few atomic adds, not a registry lookup per figure): install
/// ours with [`Metrics::global`](super::Metrics::global) first to expose
/// them at `/metrics`.
///
/// Any tower service (no router: the request is `unmatched`):
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::metrics::{Metrics, MetricsLayer};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let metrics = Metrics::global();
/// let service = ServiceBuilder::new().layer(MetricsLayer::new()).service(service_fn(
///     |_req: Request<Full<Bytes>>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default()))
///     },
/// ));
/// service.oneshot(Request::new(Full::default())).await.unwrap();
/// assert!(metrics.render().contains(r#"endpoint="unmatched",status="200""#));
/// # });
/// ```
///
/// An axum app, labelled by route template:
///
/// ```
/// use axum::{Router, routing::get};
/// use tower::ServiceExt;
/// use tradesense_core::metrics::{Metrics, MetricsLayer};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let metrics = Metrics::global();
/// let app = Router::new()
///     .route("/things/{id}", get(|| async { "a thing" }))
///     .layer(MetricsLayer::new());
/// let request = http::Request::get("/things/7").body(axum::body::Body::empty()).unwrap();
/// app.oneshot(request).await.unwrap();
/// assert!(metrics.render().contains(r#"endpoint="/things/{id}",status="200""#));
/// # });
/// ```
#[derive(Clone)]
pub struct MetricsLayer {
    handles: Arc<Handles>,
}

impl std::fmt::Debug for MetricsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsLayer").finish_non_exhaustive()
    }
}

impl Default for MetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricsLayer {
    /// A new layer, bound to the currently installed recorder.
    pub fn new() -> Self {
        Self {
            handles: Arc::new(Handles {
                in_flight: metrics::gauge!(HTTP_REQUESTS_IN_FLIGHT),
                series: RwLock::default(),
            }),
        }
    }
}

/// The handles of one endpoint, by `(method, status)`.
type EndpointSeries = HashMap<(&'static str, u16), (Counter, Histogram)>;

/// Registered handles, so the hot path skips the recorder's registry. Keyed
/// by the endpoint text first so a lookup needs only the borrowed template
/// (no allocation per request). As bounded as the label sets (route
/// templates x methods x statuses).
struct Handles {
    in_flight: Gauge,
    series: RwLock<HashMap<Arc<str>, EndpointSeries>>,
}

impl Handles {
    fn record(&self, method: &'static str, endpoint: &str, status: u16, secs: f64) {
        {
            let series = self
                .series
                .read()
                .unwrap_or_else(|poison| poison.into_inner());
            if let Some((counter, histogram)) = series
                .get(endpoint)
                .and_then(|by_status| by_status.get(&(method, status)))
            {
                counter.increment(1);
                histogram.record(secs);
                return;
            }
        }
        // First time for this series: register it (rare; allocating is fine).
        let endpoint_label = SharedString::from_owned(endpoint.to_owned());
        let counter = metrics::counter!(
            HTTP_REQUESTS_TOTAL,
            vec![
                Label::from_static_parts("method", method),
                Label::new("endpoint", endpoint_label.clone()),
                Label::new("status", status_label(status)),
            ]
        );
        let histogram = metrics::histogram!(
            HTTP_REQUEST_DURATION,
            vec![
                Label::from_static_parts("method", method),
                Label::new("endpoint", endpoint_label),
            ]
        );
        counter.increment(1);
        histogram.record(secs);
        let mut series = self
            .series
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        let by_status = match series.get_mut(endpoint) {
            Some(by_status) => by_status,
            None => series.entry(Arc::from(endpoint)).or_default(),
        };
        by_status.insert((method, status), (counter, histogram));
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = RecordMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordMetrics {
            inner,
            handles: self.handles.clone(),
        }
    }
}

/// The service of [`MetricsLayer`].
#[derive(Clone)]
pub struct RecordMetrics<S> {
    inner: S,
    handles: Arc<Handles>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for RecordMetrics<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordMetrics")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for RecordMetrics<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = method_label(request.method());
        // Read now: the handler may take the extension, and the response
        // does not carry it.
        let route = request.extensions().get::<MatchedPath>().cloned();
        self.handles.in_flight.increment(1.0);
        MetricsFuture {
            inner: self.inner.call(request),
            guard: InFlight {
                handles: self.handles.clone(),
                method,
                route,
                start: Instant::now(),
                done: false,
            },
        }
    }
}

/// Decrements the in-flight gauge exactly once, also when the request
/// future is dropped unfinished (client gone, timeout): otherwise the
/// gauge would drift upwards forever.
struct InFlight {
    handles: Arc<Handles>,
    method: &'static str,
    route: Option<MatchedPath>,
    start: Instant,
    done: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            self.handles.in_flight.decrement(1.0);
        }
    }
}

pin_project! {
    /// The response future of [`RecordMetrics`].
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        guard: InFlight,
    }
}

impl<F, ResBody, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let guard = this.guard;
        if !guard.done {
            guard.done = true;
            let elapsed = guard.start.elapsed().as_secs_f64();
            guard.handles.in_flight.decrement(1.0);
            RUNTIME.total_requests.fetch_add(1, Ordering::Relaxed);
            // An inner error never reaches a client as a status of ours;
            // count it as a 500 so it is not invisible.
            let status = match &result {
                Ok(response) => response.status().as_u16(),
                Err(_) => 500,
            };
            let endpoint = guard
                .route
                .as_ref()
                .map_or(UNMATCHED_ENDPOINT, |route| route.as_str());
            guard
                .handles
                .record(guard.method, endpoint, status, elapsed);
        }
        Poll::Ready(result)
    }
}

/// The method as a bounded label: the standard methods, else `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// The status as a label; the common ones without allocating.
fn status_label(status: u16) -> SharedString {
    const COMMON: [(u16, &str); 18] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    match COMMON.iter().find(|(code, _)| *code == status) {
        Some((_, text)) => SharedString::const_str(text),
        None => SharedString::from_owned(status.to_string()),
    }
}

#[cfg(test)]
mod tests;
