//! Guarding the handlers of one `utoipa_axum::routes!` group with a layer
//! (the `AuthLayer`, a response cache) while the group's `405` fallback
//! stays unguarded.
//!
//! axum's `Router::route_layer` wraps each path's method router *with* its
//! fallback, so an unauthenticated `PUT` on a `GET`-only path would answer
//! `401` instead of `405`; `MethodRouter::route_layer` wraps the handlers
//! only. This applies the latter to a `routes!` triple.

use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::Route;
use std::convert::Infallible;
use tower::{Layer, Service};
use utoipa_axum::router::UtoipaMethodRouter;

/// `routes` with `layer` around each handler (not the `405` fallback).
///
/// ```
/// use axum::extract::Request;
/// use tower::ServiceExt;
/// use utoipa_axum::{router::OpenApiRouter, routes};
///
/// /// Hello.
/// #[utoipa::path(get, path = "/hello", responses((status = 200)))]
/// async fn hello() -> &'static str { "hi" }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let deny = tower::layer::layer_fn(|_inner| {
///     tower::service_fn(|_req: Request| async {
///         Ok::<_, std::convert::Infallible>(http::StatusCode::UNAUTHORIZED)
///     })
/// });
/// let (router, _api) = OpenApiRouter::new()
///     .routes(tradesense_core::http::guard(routes!(hello), deny))
///     .split_for_parts();
/// let get = router.clone().oneshot(http::Request::get("/hello").body(axum::body::Body::empty()).unwrap());
/// assert_eq!(get.await.unwrap().status(), 401);
/// let put = router.oneshot(http::Request::put("/hello").body(axum::body::Body::empty()).unwrap());
/// assert_eq!(put.await.unwrap().status(), 405);
/// # });
/// ```
pub fn guard<S, L>(routes: UtoipaMethodRouter<S>, layer: L) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    let (schemas, paths, method_router) = routes;
    (schemas, paths, method_router.route_layer(layer))
}
