//! [`ResponseCacheLayer`]: caches successful JSON `GET` responses per scope
//! (the caller) and URI, for read-mostly route groups whose writes can name
//! the scope they change (trade pages and positions: every trade write
//! invalidates its owner's scope, see [`Scoped`]).
//!
//! Only `200` responses with a JSON content type are kept. Concurrent
//! misses for one key run the inner service once; the callers that waited
//! share its response, whatever its status.

use super::Scoped;
use crate::error::ApiError;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tower::{Layer, Service, ServiceExt};

/// A cached body: JSON text, checked to be JSON once when stored, then
/// served on every hit as it is (no parse, no re-encoding, no copy: a hit
/// clones a reference-counted buffer).
#[derive(Debug, Clone)]
pub struct CachedJson(Bytes);

impl CachedJson {
    /// The body, if it is JSON.
    fn parse(body: &Bytes) -> Option<Self> {
        serde_json::from_slice::<&RawValue>(body).ok()?;
        Some(Self(body.clone()))
    }
}

// As the JSON it holds (what goes to Redis): one parse per store and per
// load from Redis, none per hit.
impl Serialize for CachedJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_slice(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CachedJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Self(Bytes::from(String::from(Box::<str>::from(raw)))))
    }
}

/// Caches `GET` responses in `scoped`, under the scope `scope_of` derives
/// from the request extensions (no scope: not cached).
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tradesense_core::cache::{Cache, CacheConfig, ResponseCacheLayer};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cache = Cache::in_process(CacheConfig::default());
/// let pages = cache.scoped("demo", "demo_page", Duration::from_secs(60));
/// let layer = ResponseCacheLayer::new(pages, |_ext: &http::Extensions| Some("user-1".to_owned()));
/// let service = ServiceBuilder::new().layer(layer).service(service_fn(|_req: Request<Bytes>| async {
///     let response = Response::builder()
///         .header("content-type", "application/json")
///         .body(http_body_util::Full::new(Bytes::from_static(b"{\"n\":1}")))
///         .unwrap();
///     Ok::<_, Infallible>(response)
/// }));
/// let response = service.oneshot(Request::get("/x").body(Bytes::new()).unwrap()).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # });
/// ```
pub struct ResponseCacheLayer<F> {
    scoped: Scoped<CachedJson>,
    scope_of: Arc<F>,
}

impl<F> Clone for ResponseCacheLayer<F> {
    fn clone(&self) -> Self {
        Self {
            scoped: self.scoped.clone(),
            scope_of: self.scope_of.clone(),
        }
    }
}

impl<F> ResponseCacheLayer<F>
where
    F: Fn(&http::Extensions) -> Option<String> + Send + Sync + 'static,
{
    /// Responses in `scoped`, scoped by `scope_of`.
    pub fn new(scoped: Scoped<CachedJson>, scope_of: F) -> Self {
        Self {
            scoped,
            scope_of: Arc::new(scope_of),
        }
    }
}

impl<S, F> Layer<S> for ResponseCacheLayer<F> {
    type Service = ResponseCache<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        ResponseCache {
            inner,
            scoped: self.scoped.clone(),
            scope_of: self.scope_of.clone(),
        }
    }
}

/// The service of [`ResponseCacheLayer`].
pub struct ResponseCache<S, F> {
    inner: S,
    scoped: Scoped<CachedJson>,
    scope_of: Arc<F>,
}

impl<S: Clone, F> Clone for ResponseCache<S, F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            scoped: self.scoped.clone(),
            scope_of: self.scope_of.clone(),
        }
    }
}

/// Why a miss produced no cacheable body; clonable, so every waiting caller
/// can rebuild the response.
#[derive(Clone)]
enum Uncached<E> {
    Response {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    Service(E),
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

fn rebuild<B: From<Bytes>>(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response<B> {
    let mut response = Response::new(B::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

impl<S, F, ReqBody, ResBody> Service<Request<ReqBody>> for ResponseCache<S, F>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Clone + Send + Sync + 'static,
    F: Fn(&http::Extensions) -> Option<String> + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: http_body::Body + From<Bytes> + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: std::fmt::Display,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness serves this call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let scope = (request.method() == Method::GET)
            .then(|| (self.scope_of)(request.extensions()))
            .flatten();
        let Some(scope) = scope else {
            return Box::pin(inner.oneshot(request));
        };
        let key = request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let scoped = self.scoped.clone();
        Box::pin(async move {
            // The request moves into the loader only if this caller leads;
            // a caller that waited on another's failure gets it back.
            let slot = Arc::new(Mutex::new(Some(request)));
            let loader_slot = slot.clone();
            let loader_inner = inner.clone();
            let result = scoped
                .get_or_load(&scope, &key, || async move {
                    // Each caller's request runs at most once: by the shared
                    // load it leads, or by its own fallback load.
                    let Some(request) = lock(&loader_slot).take() else {
                        return Err(Uncached::Response {
                            status: StatusCode::INTERNAL_SERVER_ERROR,
                            headers: HeaderMap::new(),
                            body: Bytes::new(),
                        });
                    };
                    let response = loader_inner
                        .oneshot(request)
                        .await
                        .map_err(Uncached::Service)?;
                    let (parts, body) = response.into_parts();
                    let body = match body.collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(error) => {
                            let response: Response<Bytes> =
                                ApiError::internal(error.to_string()).into_response();
                            let (parts, body) = response.into_parts();
                            return Err(Uncached::Response {
                                status: parts.status,
                                headers: parts.headers,
                                body,
                            });
                        }
                    };
                    if parts.status == StatusCode::OK && is_json(&parts.headers) {
                        // Parsed once here, so a hit serves the text as is.
                        if let Some(json) = CachedJson::parse(&body) {
                            return Ok(json);
                        }
                    }
                    Err(Uncached::Response {
                        status: parts.status,
                        headers: parts.headers,
                        body,
                    })
                })
                .await;
            match result {
                Ok(CachedJson(body)) => {
                    let mut headers = HeaderMap::new();
                    headers.insert(
                        header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    Ok(rebuild(StatusCode::OK, headers, body))
                }
                Err(shared) => match (*shared).clone() {
                    Uncached::Response {
                        status,
                        headers,
                        body,
                    } => Ok(rebuild(status, headers, body)),
                    Uncached::Service(error) => {
                        // Another caller's service error: try ours, uncached.
                        let ours = lock(&slot).take();
                        match ours {
                            Some(request) => inner.oneshot(request).await,
                            None => Err(error),
                        }
                    }
                },
            }
        })
    }
}

/// The request slot's lock, also after a panic elsewhere poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Cache, CacheConfig};
    use http_body_util::Full;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    type Body = Full<Bytes>;

    /// A layer over a handler answering `status` and counting its calls.
    fn service(
        cache: &Cache,
        status: StatusCode,
    ) -> (
        impl Service<Request<Bytes>, Response = Response<Body>, Error = Infallible> + Clone,
        Arc<AtomicUsize>,
    ) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let handler = tower::service_fn(move |request: Request<Bytes>| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let body = format!("{{\"n\":{n},\"path\":\"{}\"}}", request.uri());
                let response = Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
                    .unwrap();
                Ok::<_, Infallible>(response)
            }
        });
        let pages = cache.scoped("t", "t_page", Duration::from_secs(60));
        let layer =
            ResponseCacheLayer::new(pages, |ext: &http::Extensions| ext.get::<String>().cloned());
        (layer.layer(handler), calls)
    }

    fn request(method: Method, uri: &str, scope: Option<&str>) -> Request<Bytes> {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Bytes::new())
            .unwrap();
        if let Some(scope) = scope {
            request.extensions_mut().insert(scope.to_owned());
        }
        request
    }

    async fn body(response: Response<Body>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn scoped_gets_are_cached_per_uri_until_the_scope_is_invalidated() {
        let cache = Cache::in_process(CacheConfig::default());
        let (svc, calls) = service(&cache, StatusCode::OK);
        let get = |uri| svc.clone().oneshot(request(Method::GET, uri, Some("ada")));
        let first = body(get("/a?x=1").await.unwrap()).await;
        let again = get("/a?x=1").await.unwrap();
        assert_eq!(again.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(body(again).await, first);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_ne!(body(get("/a?x=2").await.unwrap()).await, first);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        cache
            .scoped::<CachedJson>("t", "t_page", Duration::from_secs(60))
            .invalidate("ada")
            .await;
        assert_ne!(body(get("/a?x=1").await.unwrap()).await, first);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn writes_unscoped_requests_and_failures_pass_through() {
        let cache = Cache::in_process(CacheConfig::default());
        let (svc, calls) = service(&cache, StatusCode::OK);
        for _ in 0..2 {
            svc.clone()
                .oneshot(request(Method::POST, "/a", Some("ada")))
                .await
                .unwrap();
            svc.clone()
                .oneshot(request(Method::GET, "/a", None))
                .await
                .unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let (svc, calls) = service(&cache, StatusCode::NOT_FOUND);
        for _ in 0..2 {
            let response = svc
                .clone()
                .oneshot(request(Method::GET, "/missing", Some("ada")))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
