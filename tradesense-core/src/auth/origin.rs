//! `CredentialOriginLayer`: the origin rule of the credential routes
//! (`/register`, `/login`, `/token`, `/mfa/login`) for every request,
//! authenticated or not.
//!
//! See [`CredentialOriginLayer`].

use super::credentials::csrf_allows;
use crate::error::ApiError;
use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Refuses unsafe requests from foreign origins, whatever their
/// credentials.
///
/// The cookie CSRF rule of the [`AuthLayer`](super::AuthLayer) only sees
/// requests that carry the auth cookie. A login needs no cookie, so a
/// foreign page could otherwise post the attacker's credentials from the
/// victim's browser and have the answer's `Set-Cookie` log that browser
/// into the attacker's account (login CSRF). This layer refuses an unsafe
/// request whose `Origin` (or, lacking it, `Referer`) is neither the
/// server's own nor trusted with `403 csrf_origin_mismatch`, before the
/// handler runs: before any body is read (so before `415` or `422`), any
/// credential is checked or any cookie is set. A request with neither
/// header (an API client) passes; `Origin: null` is foreign.
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use std::convert::Infallible;
/// use tower::{Layer, ServiceExt, service_fn};
/// use tradesense_core::auth::CredentialOriginLayer;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let login = service_fn(|_req: Request<Full<Bytes>>| async {
///     Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("token")))
/// });
/// let service = CredentialOriginLayer::new(["https://app.example".to_owned()]).layer(login);
/// let from = |origin: &str| {
///     Request::post("/login")
///         .header("host", "api.example")
///         .header("origin", origin)
///         .body(Full::default())
///         .unwrap()
/// };
/// let foreign = service.clone().oneshot(from("https://evil.example")).await.unwrap();
/// assert_eq!(foreign.status(), 403);
/// let trusted = service.clone().oneshot(from("https://app.example")).await.unwrap();
/// assert_eq!(trusted.status(), 200);
/// let own = service.oneshot(from("https://api.example")).await.unwrap();
/// assert_eq!(own.status(), 200);
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct CredentialOriginLayer {
    trusted_origins: Arc<[String]>,
}

impl CredentialOriginLayer {
    /// Trusts the server's own origin (the request's `Host`) and
    /// `trusted_origins` (`CORS_ORIGINS`: the browser frontend's).
    pub fn new(trusted_origins: impl IntoIterator<Item = String>) -> Self {
        Self {
            trusted_origins: trusted_origins.into_iter().collect::<Vec<_>>().into(),
        }
    }
}

impl<S> Layer<S> for CredentialOriginLayer {
    type Service = CredentialOrigin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CredentialOrigin {
            inner,
            trusted_origins: self.trusted_origins.clone(),
        }
    }
}

/// The service of [`CredentialOriginLayer`].
#[derive(Debug, Clone)]
pub struct CredentialOrigin<S> {
    inner: S,
    trusted_origins: Arc<[String]>,
}

impl<S, B, ResBody> Service<Request<B>> for CredentialOrigin<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CredentialOriginFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if csrf_allows(request.method(), request.headers(), &self.trusted_origins) {
            return CredentialOriginFuture {
                state: State::Inner {
                    future: self.inner.call(request),
                },
            };
        }
        tracing::warn!(
            path = request.uri().path(),
            origin = request
                .headers()
                .get(http::header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
            "credential request from a foreign origin refused"
        );
        CredentialOriginFuture {
            state: State::Refused {
                response: Some(
                    ApiError::Forbidden {
                        code: "csrf_origin_mismatch",
                        detail: "Cross-origin request refused: the Origin is not trusted."
                            .to_owned(),
                    }
                    .into_response(),
                ),
            },
        }
    }
}

pin_project! {
    /// The response future of [`CredentialOrigin`].
    pub struct CredentialOriginFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<B>> },
    }
}

impl<F, B, E> Future for CredentialOriginFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<Bytes>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Refused { response } => Poll::Ready(Ok(response.take().unwrap_or_else(
                // Polled again after completion: answer the same refusal.
                || {
                    ApiError::Forbidden {
                        code: "csrf_origin_mismatch",
                        detail: "Cross-origin request refused.".to_owned(),
                    }
                    .into_response()
                },
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use tower::ServiceExt;

    fn service() -> impl Service<
        Request<Full<Bytes>>,
        Response = Response<Full<Bytes>>,
        Error = std::convert::Infallible,
    > + Clone {
        CredentialOriginLayer::new(Vec::new()).layer(tower::service_fn(
            |_req: Request<Full<Bytes>>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::default()))
            },
        ))
    }

    fn post(headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
        let mut builder = Request::post("/login").header("host", "api.test");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Full::default()).unwrap()
    }

    #[tokio::test]
    async fn foreign_null_and_referer_origins_are_refused_api_clients_pass() {
        let status = |request| async { service().oneshot(request).await.unwrap().status() };
        assert_eq!(
            status(post(&[("origin", "https://evil.example")])).await,
            403
        );
        assert_eq!(status(post(&[("origin", "null")])).await, 403);
        assert_eq!(
            status(post(&[("referer", "https://evil.example/page")])).await,
            403
        );
        assert_eq!(status(post(&[("origin", "http://api.test")])).await, 200);
        assert_eq!(status(post(&[])).await, 200);
        let get = Request::get("/login")
            .header("origin", "https://evil.example")
            .body(Full::default())
            .unwrap();
        assert_eq!(status(get).await, 200);
    }
}
