//! Path routing on `matchit` (the radix-tree router under axum), with
//! method dispatch, `405` + `Allow`, and the matched route template recorded
//! in request and response extensions so metrics and logs can label by
//! template (`/api/v1/trades/{id}`) and never by raw path.

use super::{BoxHandler, Request, Response};
use crate::error::ApiError;
use http::Method;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

/// The label used for requests that matched no route: every unknown path
/// collapses into this one value, so scanners cannot explode label sets.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The route template a request matched, e.g. `/api/v1/trades/{id}`. Present
/// in the extensions of both the request and the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRoute(pub Arc<str>);

impl MatchedRoute {
    /// The template as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The parameters captured from the path (`{id}` -> value).
#[derive(Debug, Clone, Default)]
pub struct PathParams(HashMap<String, String>);

impl PathParams {
    /// The value captured for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// The handlers of one path, by method.
#[derive(Clone, Default)]
pub struct MethodRouter {
    handlers: Vec<(Method, BoxHandler)>,
}

impl MethodRouter {
    /// An empty method router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a handler for `method`.
    pub fn on(mut self, method: Method, handler: BoxHandler) -> Self {
        self.handlers.retain(|(m, _)| *m != method);
        self.handlers.push((method, handler));
        self
    }

    /// Adds a `GET` handler (which also answers `HEAD`).
    pub fn get(self, handler: BoxHandler) -> Self {
        self.on(Method::GET, handler)
    }

    /// Adds a `POST` handler.
    pub fn post(self, handler: BoxHandler) -> Self {
        self.on(Method::POST, handler)
    }

    /// Adds a `PATCH` handler.
    pub fn patch(self, handler: BoxHandler) -> Self {
        self.on(Method::PATCH, handler)
    }

    /// Adds a `PUT` handler.
    pub fn put(self, handler: BoxHandler) -> Self {
        self.on(Method::PUT, handler)
    }

    /// Adds a `DELETE` handler.
    pub fn delete(self, handler: BoxHandler) -> Self {
        self.on(Method::DELETE, handler)
    }

    /// The methods this path answers, as listed in `Allow`.
    pub fn allowed(&self) -> Vec<Method> {
        let mut methods: Vec<Method> = self.handlers.iter().map(|(m, _)| m.clone()).collect();
        if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
            methods.push(Method::HEAD);
        }
        methods
    }

    fn find(&self, method: &Method) -> Option<&BoxHandler> {
        let lookup = |wanted: &Method| self.handlers.iter().find(|(m, _)| m == wanted);
        lookup(method)
            .or_else(|| {
                (*method == Method::HEAD)
                    .then(|| lookup(&Method::GET))
                    .flatten()
            })
            .map(|(_, handler)| handler)
    }

    fn layer<L>(self, layer: &L) -> Self
    where
        L: Layer<BoxHandler>,
        L::Service: Service<Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        Self {
            handlers: self
                .handlers
                .into_iter()
                .map(|(method, handler)| (method, BoxCloneSyncService::new(layer.layer(handler))))
                .collect(),
        }
    }
}

/// The compiled tree: each template with its handlers.
type RouteTree = matchit::Router<(Arc<str>, MethodRouter)>;

/// A tower service dispatching on path template then method.
///
/// ```
/// use tradesense_core::http::{handler, no_content, MethodRouter, Router};
/// let router = Router::new()
///     .route("/things/{id}", MethodRouter::new().delete(handler((), |_, _| async { Ok(no_content()) })));
/// assert_eq!(router.routes().count(), 1);
/// ```
#[derive(Clone, Default)]
pub struct Router {
    routes: Vec<(String, MethodRouter)>,
    compiled: Option<Arc<RouteTree>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a path template (matchit syntax: `/trades/{id}`). Adding the same
    /// template twice merges the method handlers.
    pub fn route(mut self, path: &str, methods: MethodRouter) -> Self {
        match self.routes.iter_mut().find(|(p, _)| p == path) {
            Some((_, existing)) => {
                for (method, handler) in methods.handlers {
                    *existing = std::mem::take(existing).on(method, handler);
                }
            }
            None => self.routes.push((path.to_owned(), methods)),
        }
        self.compiled = None;
        self
    }

    /// Adds every route of `other`.
    pub fn merge(mut self, other: Router) -> Self {
        for (path, methods) in other.routes {
            self = self.route(&path, methods);
        }
        self
    }

    /// Wraps every handler added so far in `layer` (e.g. the `AuthLayer` for
    /// a group of protected routes).
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: Layer<BoxHandler>,
        L::Service: Service<Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        Self {
            routes: self
                .routes
                .into_iter()
                .map(|(path, methods)| (path, methods.layer(&layer)))
                .collect(),
            compiled: None,
        }
    }

    /// Every route template and the methods it answers.
    pub fn routes(&self) -> impl Iterator<Item = (&str, Vec<Method>)> {
        self.routes
            .iter()
            .map(|(path, methods)| (path.as_str(), methods.allowed()))
    }

    /// Freezes the routes into the matching tree. Called on first use; call it
    /// up front to fail fast on conflicting templates.
    ///
    /// # Panics
    /// When two templates conflict (a programming error, caught by tests).
    pub fn compile(mut self) -> Self {
        let mut tree = matchit::Router::new();
        for (path, methods) in &self.routes {
            tree.insert(
                path.clone(),
                (Arc::<str>::from(path.as_str()), methods.clone()),
            )
            .unwrap_or_else(|err| panic!("route {path} conflicts: {err}"));
        }
        self.compiled = Some(Arc::new(tree));
        self
    }

    fn dispatch(
        &self,
        mut request: Request,
    ) -> Result<(MatchedRoute, BoxHandler, Request), (MatchedRoute, ApiError)> {
        let tree = self
            .compiled
            .as_ref()
            .expect("Router::compile runs before the router serves");
        let Ok(matched) = tree.at(request.uri().path()) else {
            return Err((
                MatchedRoute(Arc::from(UNMATCHED_ROUTE)),
                ApiError::NotFound("route"),
            ));
        };
        let (template, methods) = matched.value;
        let route = MatchedRoute(template.clone());
        let Some(handler) = methods.find(request.method()) else {
            return Err((
                route,
                ApiError::MethodNotAllowed {
                    allow: methods.allowed(),
                },
            ));
        };
        let params = matched
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        request.extensions_mut().insert(PathParams(params));
        request.extensions_mut().insert(route.clone());
        Ok((route, handler.clone(), request))
    }
}

impl Service<Request> for Router {
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.compiled.is_none() {
            *self = std::mem::take(self).compile();
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.compiled.is_none() {
            *self = std::mem::take(self).compile();
        }
        match self.dispatch(request) {
            Ok((route, handler, request)) => Box::pin(async move {
                let mut response = handler.oneshot(request).await?;
                response.extensions_mut().insert(route);
                Ok(response)
            }),
            Err((route, error)) => {
                let mut response: Response = error.into_response();
                response.extensions_mut().insert(route);
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{handler, json};
    use bytes::Bytes;

    fn router() -> Router {
        let echo_id = handler((), |_, req: Request| async move {
            let id = req
                .extensions()
                .get::<PathParams>()
                .unwrap()
                .get("id")
                .unwrap()
                .to_owned();
            Ok(json(&id))
        });
        Router::new()
            .route("/things/{id}", MethodRouter::new().get(echo_id.clone()))
            .route("/things/{id}", MethodRouter::new().delete(echo_id))
            .compile()
    }

    fn request(method: Method, path: &str) -> Request {
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(Bytes::new())
            .unwrap()
    }

    #[tokio::test]
    async fn routes_by_template_and_method() {
        let response = router()
            .oneshot(request(Method::GET, "/things/42"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response
                .extensions()
                .get::<MatchedRoute>()
                .unwrap()
                .as_str(),
            "/things/{id}"
        );

        let response = router()
            .oneshot(request(Method::PUT, "/things/42"))
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "GET, DELETE, HEAD");

        let response = router()
            .oneshot(request(Method::GET, "/nope"))
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(
            response
                .extensions()
                .get::<MatchedRoute>()
                .unwrap()
                .as_str(),
            UNMATCHED_ROUTE
        );
    }
}
