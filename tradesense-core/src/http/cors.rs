//! [`CorsRequestsLayer`]: tower-http's CORS, run only for CORS requests.
//!
//! A request without an `Origin` header is not a CORS request (Fetch
//! §3.2.5): same-origin `GET`s from the frontend, API clients, probes. For
//! those tower-http's [`Cors`] still built a header map, rendered `Vary`,
//! `Access-Control-Allow-Credentials` and `Access-Control-Expose-Headers`
//! and merged them into the response: about a tenth of the instructions of
//! `GET /health` through the whole stack (callgrind, benches/README.md),
//! for headers a browser ignores without `Origin`. Here such a request goes
//! straight to the inner service, and its response gets only what a cache
//! needs: the `Vary` that tower-http adds to every response, so that a
//! shared cache never serves an answer without CORS headers to a request
//! with an `Origin`. Requests with an `Origin` (preflights included) get
//! tower-http's full behaviour.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, header};
//! use http_body_util::Full;
//! use std::convert::Infallible;
//! use tower::{Layer, ServiceExt, service_fn};
//! use tower_http::cors::{AllowOrigin, CorsLayer};
//! use tradesense_core::http::CorsRequestsLayer;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let cors = CorsLayer::new()
//!     .allow_origin(AllowOrigin::list([header::HeaderValue::from_static("https://app.example")]));
//! let service = CorsRequestsLayer::new(cors).layer(service_fn(|_: Request<Full<Bytes>>| async {
//!     Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
//! }));
//! let plain = service.clone().oneshot(Request::new(Full::default())).await.unwrap();
//! assert!(plain.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
//! assert!(plain.headers()[header::VARY].to_str().unwrap().contains("origin"));
//! let cross = Request::builder().header(header::ORIGIN, "https://app.example")
//!     .body(Full::default()).unwrap();
//! let cross = service.oneshot(cross).await.unwrap();
//! assert_eq!(cross.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
//! # }
//! ```

use http::{HeaderValue, Request, Response, header};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tower::{Layer, Service};
use tower_http::cors::{Cors, CorsLayer};

/// Every header a CORS answer can depend on: the `Vary` used should the
/// layer's own not be readable (more names than needed only costs a
/// cache some hit rate).
const CORS_REQUEST_HEADERS: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// The `Vary` that `cors` adds to a response, read off the layer itself by
/// answering one request without `Origin` through it, so the two paths
/// never disagree whatever `cors` was configured with.
fn vary_of(cors: &CorsLayer) -> HeaderValue {
    use futures_util::FutureExt as _;
    use tower::ServiceExt as _;
    let probe = cors.layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(()))
    }));
    // Immediate unless the origin rule is an async predicate.
    let Some(Ok(response)) = probe.oneshot(Request::new(())).now_or_never() else {
        return CORS_REQUEST_HEADERS;
    };
    let names: Vec<&str> = response
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    HeaderValue::from_str(&names.join(", ")).unwrap_or(CORS_REQUEST_HEADERS)
}

/// Applies a [`CorsLayer`] to requests with an `Origin` header only; see
/// the module docs.
#[derive(Debug, Clone)]
pub struct CorsRequestsLayer {
    cors: CorsLayer,
    vary: HeaderValue,
}

impl CorsRequestsLayer {
    /// Wraps `cors`.
    pub fn new(cors: CorsLayer) -> Self {
        let vary = vary_of(&cors);
        Self { cors, vary }
    }
}

impl<S> Layer<S> for CorsRequestsLayer {
    type Service = CorsRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsRequests {
            cors: self.cors.layer(inner),
            vary: self.vary.clone(),
        }
    }
}

/// The service of [`CorsRequestsLayer`].
#[derive(Debug, Clone)]
pub struct CorsRequests<S> {
    cors: Cors<S>,
    vary: HeaderValue,
}

impl<S, B, ResBody> Service<Request<B>> for CorsRequests<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CorsRequestsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // `Cors` is ready when its inner service is, and it is the same one.
        self.cors.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.headers().contains_key(header::ORIGIN) {
            CorsRequestsFuture {
                state: State::Cors {
                    future: self.cors.call(request),
                },
            }
        } else {
            CorsRequestsFuture {
                state: State::Plain {
                    future: self.cors.get_mut().call(request),
                    vary: Some(self.vary.clone()),
                },
            }
        }
    }
}

pin_project! {
    /// The response future of [`CorsRequests`].
    pub struct CorsRequestsFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        // A CORS request, through tower-http's `Cors`.
        Cors {
            #[pin]
            future: tower_http::cors::ResponseFuture<F>,
        },
        // Any other: the inner service's response plus `Vary` (taken when
        // the response is in).
        Plain {
            #[pin]
            future: F,
            vary: Option<HeaderValue>,
        },
    }
}

impl<F, ResBody, E> Future for CorsRequestsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Cors { future } => future.poll(cx),
            StateProj::Plain { future, vary } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some(vary) = vary.take() {
                    response.headers_mut().append(header::VARY, vary);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::Method;
    use http_body_util::Full;
    use std::convert::Infallible;
    use tower::{ServiceExt, service_fn};
    use tower_http::cors::AllowOrigin;

    fn cors() -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list([HeaderValue::from_static(
                "https://app.example",
            )]))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::PATCH])
            .allow_headers([header::CONTENT_TYPE])
            .expose_headers([header::RETRY_AFTER])
    }

    async fn both(
        request: impl Fn() -> Request<Full<Bytes>>,
    ) -> (Response<Full<Bytes>>, Response<Full<Bytes>>) {
        let inner = service_fn(|_: Request<Full<Bytes>>| async {
            let mut response = Response::new(Full::<Bytes>::from("hi"));
            response
                .headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept"));
            Ok::<_, Infallible>(response)
        });
        let ours = CorsRequestsLayer::new(cors())
            .layer(inner)
            .oneshot(request())
            .await
            .unwrap();
        let theirs = cors().layer(inner).oneshot(request()).await.unwrap();
        (ours, theirs)
    }

    #[tokio::test]
    async fn requests_with_an_origin_get_exactly_what_tower_http_gives() {
        for origin in ["https://app.example", "https://evil.example"] {
            for method in [Method::GET, Method::OPTIONS] {
                let (ours, theirs) = both(|| {
                    Request::builder()
                        .method(method.clone())
                        .header(header::ORIGIN, origin)
                        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PATCH")
                        .body(Full::default())
                        .unwrap()
                })
                .await;
                assert_eq!(ours.status(), theirs.status());
                assert_eq!(ours.headers(), theirs.headers(), "{origin} {method}");
            }
        }
    }

    #[tokio::test]
    async fn requests_without_one_get_the_same_vary_and_nothing_else() {
        let (ours, theirs) = both(|| Request::new(Full::default())).await;
        let vary = |r: &Response<Full<Bytes>>| {
            r.headers()
                .get_all(header::VARY)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(vary(&ours), vary(&theirs));
        assert_eq!(vary(&ours)[0], "accept");
        assert!(vary(&ours)[1].contains("origin"));
        assert!(
            theirs
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
        );
        assert!(
            !ours
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
        );
        assert!(
            !ours
                .headers()
                .contains_key(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        );
    }
}
