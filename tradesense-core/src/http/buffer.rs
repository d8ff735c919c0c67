//! Reading the request body into memory, with a size limit.
//!
//! Every endpoint of the API takes a small JSON or form body, so the body is
//! buffered once, up front, and handlers receive `Request<Bytes>`. A body over
//! the limit is refused with `413` problem+json (tower-http's
//! `RequestBodyLimitLayer` answers with a plain-text body, and its response
//! body type would leak into every layer above it).

use crate::error::ApiError;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use http_body::Body as HttpBody;
use http_body_util::{BodyExt, Limited};
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Buffers request bodies up to `limit` bytes into [`Bytes`].
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::http::BufferBodyLayer;
///
/// # tokio_test_block_on(async {
/// let service = ServiceBuilder::new()
///     .layer(BufferBodyLayer::new(4))
///     .service(service_fn(|req: Request<Bytes>| async move {
///         Ok::<_, std::convert::Infallible>(Response::new(Full::new(req.into_body())))
///     }));
/// let response = service
///     .oneshot(Request::new(Full::new(Bytes::from_static(b"too long"))))
///     .await
///     .unwrap();
/// assert_eq!(response.status(), 413);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BufferBodyLayer {
    limit: usize,
}

impl BufferBodyLayer {
    /// Bodies larger than `limit` bytes are refused with `413`.
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for BufferBodyLayer {
    type Service = BufferBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BufferBody {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`BufferBodyLayer`].
#[derive(Debug, Clone)]
pub struct BufferBody<S> {
    inner: S,
    limit: usize,
}

impl<S, B, ResBody> Service<Request<B>> for BufferBody<S>
where
    S: Service<Request<Bytes>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Take the service that was driven to readiness; leave a clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = self.limit;
        Box::pin(async move {
            let declared = request
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
            if declared.is_some_and(|length| length > limit as u64) {
                return Ok(ApiError::PayloadTooLarge { limit }.into_response());
            }
            let (parts, body) = request.into_parts();
            let bytes = match Limited::new(body, limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                    return Ok(ApiError::PayloadTooLarge { limit }.into_response());
                }
                Err(_) => {
                    return Ok(ApiError::MalformedBody(
                        "the request body could not be read".into(),
                    )
                    .into_response());
                }
            };
            inner.call(Request::from_parts(parts, bytes)).await
        })
    }
}
