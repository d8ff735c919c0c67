//! Turning an `async fn(State, Request) -> Result<Response, ApiError>` into a
//! boxed tower service the router can hold.

use super::{Request, Response};
use crate::error::ApiError;
use std::convert::Infallible;
use std::future::Future;
use tower::util::BoxCloneSyncService;

/// A route's service, as the [`Router`](super::Router) stores it. Errors are
/// already responses: handlers never fail at the service level.
pub type BoxHandler = BoxCloneSyncService<Request, Response, Infallible>;

/// Builds a handler from shared `state` and an async function of it and the
/// request. The `ApiError` a handler returns is rendered here, once, as
/// problem+json.
///
/// ```
/// use tradesense_core::http::{handler, json, Request};
/// use tradesense_core::error::ApiError;
/// use std::sync::Arc;
///
/// async fn greet(name: Arc<String>, _req: Request) -> Result<tradesense_core::http::Response, ApiError> {
///     Ok(json(&serde_json::json!({ "hello": name.as_str() })))
/// }
/// let _service = handler(Arc::new("world".to_owned()), greet);
/// ```
pub fn handler<S, F, Fut>(state: S, f: F) -> BoxHandler
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    BoxCloneSyncService::new(tower::service_fn(move |request: Request| {
        let future = f(state.clone(), request);
        async move { Ok::<_, Infallible>(future.await.unwrap_or_else(ApiError::into_response)) }
    }))
}
