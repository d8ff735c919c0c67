//! What a router answers when nothing matched: `404` for an unknown path
//! ([`not_found`], for `Router::fallback`) and `405` with `Allow` for a
//! known path and an unknown method ([`ProblemFallbackLayer`]), both as
//! problem+json like every other error.
//!
//! axum answers an unknown method itself, with an empty body and its own
//! `Allow`; the layer rewrites exactly those responses (a `405` without a
//! `Content-Type`), so a handler's own `405`, if any, passes untouched.
//! axum adds `Allow` after every `Router::layer`, so this layer goes
//! *around* the router (`ProblemFallbackLayer.layer(router)`).

use crate::error::ApiError;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tower::{Layer, Service};

/// The fallback handler: `404 not_found` problem+json.
///
/// ```
/// use axum::Router;
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app: Router = Router::new().fallback(tradesense_core::http::not_found);
/// let response = app
///     .oneshot(http::Request::get("/nope").body(axum::body::Body::empty()).unwrap())
///     .await
///     .unwrap();
/// assert_eq!(response.status(), 404);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// # });
/// ```
pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// Turns axum's bare `405 Method Not Allowed` into problem+json, keeping
/// the `Allow` list (written `GET, HEAD`).
///
/// ```
/// use axum::{Router, routing::get};
/// use tower::{Layer, ServiceExt};
/// use tradesense_core::http::ProblemFallbackLayer;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app = ProblemFallbackLayer.layer(Router::new().route("/", get(|| async { "hi" })));
/// let response = app
///     .oneshot(http::Request::delete("/").body(axum::body::Body::empty()).unwrap())
///     .await
///     .unwrap();
/// assert_eq!(response.status(), 405);
/// assert_eq!(response.headers()["allow"], "GET, HEAD");
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemFallbackLayer;

impl<S> Layer<S> for ProblemFallbackLayer {
    type Service = ProblemFallback<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProblemFallback { inner }
    }
}

/// The service of [`ProblemFallbackLayer`].
#[derive(Debug, Clone)]
pub struct ProblemFallback<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for ProblemFallback<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ProblemFallbackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ProblemFallbackFuture {
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// The response future of [`ProblemFallback`].
    pub struct ProblemFallbackFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, ResBody, E> Future for ProblemFallbackFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: From<Bytes>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(self.project().inner.poll(cx))?;
        if response.status() != StatusCode::METHOD_NOT_ALLOWED
            || response.headers().contains_key(header::CONTENT_TYPE)
        {
            return Poll::Ready(Ok(response));
        }
        let (mut parts, _) = response.into_parts();
        let allow = parts
            .headers
            .get_all(header::ALLOW)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|method| Method::from_bytes(method.trim().as_bytes()).ok())
            .collect();
        // Keep what the layers inside added (request id, timing, rate-limit
        // headers); the problem brings its body, type and `Allow`.
        let (problem, body) = ApiError::MethodNotAllowed { allow }
            .into_response::<ResBody>()
            .into_parts();
        // The old body's length would contradict the new body.
        parts.headers.remove(header::ALLOW);
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.extend(problem.headers);
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}
