//! [`MetricsLayer`]: counts and times every request through the `metrics`
//! facade, labelled by method, route template and status.

use super::{HTTP_REQUEST_DURATION, HTTP_REQUESTS_IN_FLIGHT, HTTP_REQUESTS_TOTAL, RUNTIME};
use crate::http::{MatchedRoute, UNMATCHED_ROUTE};
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
/// `endpoint` is the route template from the [`MatchedRoute`] response
/// extension (set by this crate's router); a response without one, or an
/// unknown path, is labelled [`UNMATCHED_ROUTE`], so the label set stays
/// bounded whatever paths clients send. Methods outside the standard nine
/// are labelled `OTHER` for the same reason.
///
/// The layer writes to whatever `metrics` recorder is installed when it is
/// created (it registers its series handles once, so a request costs a map
/// lookup and a few atomic adds, not a registry lookup per figure): install
/// ours with [`Metrics::global`](super::Metrics::global) first to expose
/// them at `/metrics`.
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
/// assert!(metrics.render().contains("http_requests_total"));
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

/// The metric handles of one series: `(method, endpoint, status)`.
type SeriesKey = (&'static str, SharedString, SharedString);

/// Registered handles, so the hot path skips the recorder's registry. The
/// map is as bounded as the label sets (methods x route templates x
/// statuses).
struct Handles {
    in_flight: Gauge,
    series: RwLock<HashMap<SeriesKey, (Counter, Histogram)>>,
}

impl Handles {
    fn record(
        &self,
        method: &'static str,
        endpoint: SharedString,
        status: SharedString,
        secs: f64,
    ) {
        let key = (method, endpoint, status);
        let found = self
            .series
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(&key)
            .map(|(counter, histogram)| {
                counter.increment(1);
                histogram.record(secs);
            });
        if found.is_some() {
            return;
        }
        let (method, endpoint, status) = key.clone();
        let counter = metrics::counter!(
            HTTP_REQUESTS_TOTAL,
            vec![
                Label::from_static_parts("method", method),
                Label::new("endpoint", endpoint.clone()),
                Label::new("status", status),
            ]
        );
        let histogram = metrics::histogram!(
            HTTP_REQUEST_DURATION,
            vec![
                Label::from_static_parts("method", method),
                Label::new("endpoint", endpoint),
            ]
        );
        counter.increment(1);
        histogram.record(secs);
        self.series
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(key, (counter, histogram));
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
        self.handles.in_flight.increment(1.0);
        MetricsFuture {
            inner: self.inner.call(request),
            guard: InFlight {
                handles: self.handles.clone(),
                method,
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
            let (status, endpoint) = match &result {
                Ok(response) => (
                    status_label(response.status().as_u16()),
                    endpoint_label(response.extensions().get::<MatchedRoute>()),
                ),
                Err(_) => (status_label(500), endpoint_label(None)),
            };
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

/// The route template, shared (an `Arc` clone, no allocation), or the one
/// unmatched value.
fn endpoint_label(route: Option<&MatchedRoute>) -> SharedString {
    match route {
        Some(route) => SharedString::from_shared(route.0.clone()),
        None => SharedString::const_str(UNMATCHED_ROUTE),
    }
}

/// The status as a label; the common ones without allocating (this runs
/// on every request).
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
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use std::convert::Infallible;
    use std::sync::Arc;
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&custom), "OTHER");
        assert_eq!(&*status_label(404), "404");
        assert_eq!(&*status_label(418), "418");
        assert_eq!(&*endpoint_label(None), UNMATCHED_ROUTE);
    }

    #[test]
    fn records_route_template_status_and_duration() {
        // A local recorder keeps this test independent of the global one.
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(HTTP_REQUEST_DURATION.into()),
                super::super::DURATION_BUCKETS,
            )
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let service = ServiceBuilder::new()
                    .layer(MetricsLayer::new())
                    .service(service_fn(|req: Request<Full<Bytes>>| async move {
                        let mut response = Response::new(Full::<Bytes>::default());
                        if req.uri().path() == "/things/1" {
                            response
                                .extensions_mut()
                                .insert(MatchedRoute(Arc::from("/things/{id}")));
                        } else {
                            *response.status_mut() = http::StatusCode::NOT_FOUND;
                        }
                        Ok::<_, Infallible>(response)
                    }));
                for path in ["/things/1", "/things/1", "/nope/1", "/nope/2"] {
                    let request = Request::builder().uri(path).body(Full::default()).unwrap();
                    service.clone().oneshot(request).await.unwrap();
                }
            });
        });
        let text = handle.render();
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",endpoint="/things/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",endpoint="unmatched",status="404"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"http_request_duration_seconds_bucket{method="GET",endpoint="/things/{id}",le="0.005"}"#), "{text}");
        assert!(text.contains("http_requests_in_flight 0"), "{text}");
    }
}
