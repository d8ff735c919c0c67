//! A deadline per request that answers `503` problem+json when it passes
//! (tower-http's `TimeoutLayer` answers with an empty body, and tower's
//! changes the error type).

use crate::error::ApiError;
use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tower::{Layer, Service};

/// Answers `503 service_unavailable` when the inner service takes longer
/// than the deadline; the inner future is dropped (cancelled).
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use std::time::Duration;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::http::RequestTimeoutLayer;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let service = ServiceBuilder::new()
///     .layer(RequestTimeoutLayer::new(Duration::from_millis(10)))
///     .service(service_fn(|_req: Request<Full<Bytes>>| async {
///         tokio::time::sleep(Duration::from_secs(60)).await;
///         Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default()))
///     }));
/// let response = service.oneshot(Request::new(Full::default())).await.unwrap();
/// assert_eq!(response.status(), 503);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// # });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeoutLayer {
    deadline: Duration,
}

impl RequestTimeoutLayer {
    /// Requests taking longer than `deadline` are answered `503`.
    pub fn new(deadline: Duration) -> Self {
        Self { deadline }
    }
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            deadline: self.deadline,
        }
    }
}

/// The service of [`RequestTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct RequestTimeout<S> {
    inner: S,
    deadline: Duration,
}

impl<S, B, ResBody> Service<Request<B>> for RequestTimeout<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RequestTimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        RequestTimeoutFuture {
            inner: tokio::time::timeout(self.deadline, self.inner.call(request)),
            deadline: self.deadline,
        }
    }
}

pin_project! {
    /// The response future of [`RequestTimeout`]: the inner future under
    /// a deadline, unboxed.
    pub struct RequestTimeoutFuture<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
        deadline: Duration,
    }
}

impl<F, ResBody, E> Future for RequestTimeoutFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: From<Bytes>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match ready!(this.inner.poll(cx)) {
            Ok(result) => Poll::Ready(result),
            Err(_elapsed) => {
                tracing::warn!(
                    deadline_ms = this.deadline.as_millis() as u64,
                    "request timed out"
                );
                Poll::Ready(Ok(ApiError::Unavailable(
                    "The request took too long and was cancelled.".into(),
                )
                .into_response()))
            }
        }
    }
}
