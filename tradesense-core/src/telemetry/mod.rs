//! Telemetry: tracing setup, request ids, `X-Process-Time` and the access log.
//!
//! [`RequestIdLayer`] gives every request an id (the client's own when it is
//! sane, else a fresh UUID), stores it as a [`RequestId`] extension and echoes
//! it in `X-Request-ID`. [`AccessLogLayer`] times the request, adds
//! `X-Process-Time` and logs one line with id, method, route template, status
//! and duration.

use axum::extract::MatchedPath;
use http::{HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tower::{Layer, Service};

mod format;
mod log_writer;
pub use format::LineFormat;
pub use log_writer::{
    BatchedLine, BatchedWriter, FLUSH_INTERVAL, FlushGuard, HIGH_WATER, MAX_PENDING,
};

/// `X-Request-ID`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-Process-Time`.
pub static X_PROCESS_TIME: HeaderName = HeaderName::from_static("x-process-time");

/// The log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the global tracing subscriber: pretty or JSON lines on stdout,
/// filtered by `RUST_LOG` (default `info`). Safe to call twice (the second
/// is a no-op).
///
/// When stdout is not a terminal (a service under a supervisor, a
/// container, a file), lines are formatted by [`LineFormat`] and written in
/// batches by a background thread ([`BatchedWriter`]): hold the returned
/// guard until the process is done logging, so that what is pending is
/// written on the way out. On a terminal every line is written as it
/// happens, in tracing-subscriber's coloured format.
pub fn init_tracing(format: LogFormat) -> LogGuard {
    use std::io::IsTerminal;
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn"))
    };
    let batched = if std::io::stdout().is_terminal() {
        None
    } else {
        // No thread (an exotic platform): write synchronously instead.
        BatchedWriter::spawn(std::io::stdout()).ok()
    };
    let Some((writer, guard)) = batched else {
        let builder = fmt().with_env_filter(filter());
        let _ = match format {
            LogFormat::Json => builder.json().flatten_event(true).try_init(),
            LogFormat::Pretty => builder.try_init(),
        };
        return LogGuard(None);
    };
    let line = match format {
        LogFormat::Json => LineFormat::json(),
        LogFormat::Pretty => LineFormat::text(),
    };
    let installed = fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .with_ansi(false)
        .event_format(line)
        .try_init();
    // Already installed: this writer is unused, its guard stops its thread.
    LogGuard(installed.is_ok().then_some(guard))
}

/// Returned by [`init_tracing`]: dropping it writes the log lines still
/// pending in memory (see [`BatchedWriter`]).
#[must_use = "dropping the guard stops the batched log writer; hold it for the life of the process"]
#[derive(Debug)]
pub struct LogGuard(#[allow(dead_code, reason = "held for its `Drop`")] Option<FlushGuard>);

/// The id of a request, as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII (validated or a UUID).
        self.0.to_str().unwrap_or("")
    }

    fn from_request_header(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let sane = (1..=128).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        sane.then(|| Self(value.clone()))
    }

    fn generate() -> Self {
        // Formatted on the stack: the header value is the one allocation.
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
        // A UUID's text is always a valid header value.
        Self(HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("-")))
    }
}

/// Sets a [`RequestId`] on every request and echoes it in `X-Request-ID`.
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::telemetry::{RequestId, RequestIdLayer};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let service = ServiceBuilder::new().layer(RequestIdLayer).service(service_fn(
///     |req: Request<Full<Bytes>>| async move {
///         let id = req.extensions().get::<RequestId>().unwrap().as_str().to_owned();
///         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(id))))
///     },
/// ));
/// let request = Request::builder().header("x-request-id", "abc-123").body(Full::default()).unwrap();
/// let response = service.oneshot(request).await.unwrap();
/// assert_eq!(response.headers()["x-request-id"], "abc-123");
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = SetRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SetRequestId { inner }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct SetRequestId<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for SetRequestId<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = request
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(RequestId::from_request_header)
            .unwrap_or_else(RequestId::generate);
        request
            .headers_mut()
            .insert(X_REQUEST_ID.clone(), id.0.clone());
        request.extensions_mut().insert(id.clone());
        RequestIdFuture {
            inner: self.inner.call(request),
            id: Some(id),
        }
    }
}

pin_project! {
    /// The response future of [`SetRequestId`].
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        id: Option<RequestId>,
    }
}

impl<F, ResBody, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            response
                .headers_mut()
                .insert(X_REQUEST_ID.clone(), id.0.clone());
            response.extensions_mut().insert(id);
        }
        Poll::Ready(Ok(response))
    }
}

/// Times each request: adds `X-Process-Time` (seconds) and logs one access
/// line (target `access`) with request id, method, route template, status
/// and duration. Place it inside [`RequestIdLayer`] so the line carries the
/// id.
///
/// The route template comes from axum's [`MatchedPath`] in the request
/// extensions, read when the request comes in; without one (an unknown
/// path, or no router) the route is logged as `-`. **Under axum, put it on
/// [`Router::layer`](axum::Router::layer)** (it wraps every route and the
/// fallback after routing, where `MatchedPath` exists); an outer
/// `ServiceBuilder` around the router cannot see the matched route.
/// [`RequestIdLayer`] needs no routing and may stay outside.
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::telemetry::AccessLogLayer;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let service = ServiceBuilder::new().layer(AccessLogLayer).service(service_fn(
///     |_req: Request<Full<Bytes>>| async { Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default())) },
/// ));
/// let response = service.oneshot(Request::new(Full::default())).await.unwrap();
/// assert!(response.headers().contains_key("x-process-time"));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLogLayer;

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

/// The service of [`AccessLogLayer`].
#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for AccessLog<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AccessLogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request_id = request.extensions().get::<RequestId>().cloned();
        // Read now: the response does not carry it.
        let route = request.extensions().get::<MatchedPath>().cloned();
        AccessLogFuture {
            method: request.method().clone(),
            request_id,
            route,
            start: Instant::now(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// The response future of [`AccessLog`].
    pub struct AccessLogFuture<F> {
        #[pin]
        inner: F,
        method: http::Method,
        request_id: Option<RequestId>,
        route: Option<MatchedPath>,
        start: Instant,
    }
}

impl<F, ResBody, E> Future for AccessLogFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let elapsed = this.start.elapsed();
        // Formatted on the stack: the header value is the one allocation.
        let mut text = [0u8; 32];
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        if write!(cursor, "{:.6}", elapsed.as_secs_f64()).is_ok() {
            let written = usize::try_from(cursor.position()).unwrap_or(0);
            if let Ok(value) = HeaderValue::from_bytes(&text[..written]) {
                response.headers_mut().insert(X_PROCESS_TIME.clone(), value);
            }
        }
        let route = this.route.as_ref().map_or("-", |route| route.as_str());
        let request_id = this
            .request_id
            .as_ref()
            .map(RequestId::as_str)
            .unwrap_or("-");
        let status = response.status().as_u16();
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(target: "access", request_id, method = %this.method, route, status, duration_ms, "request");
        } else {
            tracing::info!(target: "access", request_id, method = %this.method, route, status, duration_ms, "request");
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    async fn id_for(header: Option<&str>) -> String {
        let service = ServiceBuilder::new()
            .layer(RequestIdLayer)
            .service(service_fn(|_req: Request<Full<Bytes>>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default()))
            }));
        let mut request = Request::builder();
        if let Some(value) = header {
            request = request.header("x-request-id", value);
        }
        let response = service
            .oneshot(request.body(Full::default()).unwrap())
            .await
            .unwrap();
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn sane_ids_are_echoed_and_others_replaced() {
        assert_eq!(id_for(Some("req.42_a-b")).await, "req.42_a-b");
        for bad in ["has space", "semi;colon", &"x".repeat(129), ""] {
            let id = id_for(Some(bad)).await;
            assert_ne!(id, bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok());
        }
        assert!(uuid::Uuid::parse_str(&id_for(None).await).is_ok());
    }

    /// Collects what the fmt subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn on_an_axum_router_the_line_names_the_route_template() {
        use axum::{Router, routing::get};
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(async {
                let app = Router::new()
                    .route("/things/{id}", get(|| async { "a thing" }))
                    .layer(AccessLogLayer);
                for path in ["/things/7", "/no/such/page"] {
                    let request = Request::get(path).body(axum::body::Body::empty()).unwrap();
                    let response = app.clone().oneshot(request).await.unwrap();
                    assert!(response.headers().contains_key(&X_PROCESS_TIME));
                }
            });
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains(r#"route="/things/{id}""#), "{text}");
        assert!(lines[0].contains("status=200"), "{text}");
        assert!(lines[1].contains(r#"route="-""#), "{text}");
        assert!(lines[1].contains("status=404"), "{text}");
        assert!(!text.contains("/no/such/page"), "{text}");
    }
}
