//! [`ContentLengthLimitLayer`]: refuses a request whose declared
//! `Content-Length` is over the limit with `413` problem+json, before any
//! byte of the body is read and whatever the route.
//!
//! Bodies without a declared length (chunked) are bounded where they are
//! read, by axum's `DefaultBodyLimit`, which the extractors of
//! [`Json`](super::Json) turn into the same `413`. The two together are the
//! body limit; this one answers early and for routes that read no body.

use crate::error::ApiError;
use bytes::Bytes;
use http::{Request, Response, header};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Refuses declared bodies over `limit` bytes.
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::http::ContentLengthLimitLayer;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let service = ServiceBuilder::new()
///     .layer(ContentLengthLimitLayer::new(4))
///     .service(service_fn(|_req: Request<Full<Bytes>>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default()))
///     }));
/// let request = Request::post("/").header("content-length", "8").body(Full::from("too long")).unwrap();
/// let response = service.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 413);
/// # });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ContentLengthLimitLayer {
    limit: u64,
}

impl ContentLengthLimitLayer {
    /// Declared bodies over `limit` bytes are refused.
    pub fn new(limit: usize) -> Self {
        Self {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
        }
    }
}

impl<S> Layer<S> for ContentLengthLimitLayer {
    type Service = ContentLengthLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ContentLengthLimit {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`ContentLengthLimitLayer`].
#[derive(Debug, Clone)]
pub struct ContentLengthLimit<S> {
    inner: S,
    limit: u64,
}

impl<S, B, ResBody> Service<Request<B>> for ContentLengthLimit<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ContentLengthLimitFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.limit) {
            return ContentLengthLimitFuture {
                state: State::Refused {
                    response: Some(ApiError::PayloadTooLarge.into_response()),
                },
            };
        }
        ContentLengthLimitFuture {
            state: State::Inner {
                inner: self.inner.call(request),
            },
        }
    }
}

pin_project! {
    /// The response future of [`ContentLengthLimit`].
    pub struct ContentLengthLimitFuture<F, ResBody> {
        #[pin]
        state: State<F, ResBody>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<F, ResBody> {
        Inner { #[pin] inner: F },
        Refused { response: Option<Response<ResBody>> },
    }
}

impl<F, ResBody, E> Future for ContentLengthLimitFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProjection::Inner { inner } => inner.poll(cx),
            StateProjection::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after completion: a contract violation of
                // the caller; stay pending rather than panic.
                None => Poll::Pending,
            },
        }
    }
}
