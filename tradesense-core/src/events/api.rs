//! `GET /me/security-events` (TradeSense mounts it at `/api/v1/users`):
//! the caller's events, newest first, paginated by cursor like the trades.
//!
//! Who the caller is comes from the request extensions through an
//! [`OwnerFn`] the composer gives (TradeSense's reads the `auth::Principal`
//! its `AuthLayer` inserted), so this slice knows no authentication scheme
//! and `auth` can record events without a cycle.

use super::model::{EventCursor, EventQuery, SecurityEvent};
use super::recorder::SecurityEvents;
use crate::error::{ApiError, Problem};
use crate::http::{Json, Query, QueryParams, guard, page, page_cursor, page_limit};
use axum::extract::{FromRequestParts, State};
use axum::routing::Route;
use http::request::Parts;
use serde::Serialize;
use std::collections::HashMap;
use std::convert::Infallible;
use tower::{Layer, Service};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The default page size.
pub use crate::http::DEFAULT_PAGE_LIMIT as DEFAULT_LIMIT;
/// The largest page size.
pub use crate::http::MAX_PAGE_LIMIT as MAX_LIMIT;

/// Finds the authenticated user of a request in its extensions.
pub type OwnerFn = fn(&http::Extensions) -> Option<Uuid>;

/// What the listing needs. Cheap to clone.
#[derive(Clone, Debug)]
struct EventsApi {
    events: SecurityEvents,
    owner: OwnerFn,
}

/// The route `/me/security-events`, its handler behind `guard` (the
/// `AuthLayer`), the caller found by `owner`.
///
/// ```
/// # use tradesense_core::events::{SecurityEvents, routes};
/// # use tradesense_core::auth::{Principal, AuthLayer};
/// # fn demo(layer: AuthLayer) {
/// let api = routes(SecurityEvents::log_only(), layer, |ext| {
///     ext.get::<Principal>().map(|p| p.user_id)
/// });
/// # let _ = api;
/// # }
/// ```
pub fn routes<L>(events: SecurityEvents, guard_layer: L, owner: OwnerFn) -> OpenApiRouter
where
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<axum::extract::Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<axum::extract::Request>>::Response:
        axum::response::IntoResponse + 'static,
    <L::Service as Service<axum::extract::Request>>::Future: Send + 'static,
{
    OpenApiRouter::new()
        .routes(guard(routes!(list_security_events), guard_layer))
        .with_state(EventsApi { events, owner })
}

/// The caller, by the state's [`OwnerFn`]; `401` without one.
struct Owner(Uuid);

impl FromRequestParts<EventsApi> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &EventsApi) -> Result<Self, ApiError> {
        (state.owner)(&parts.extensions)
            .map(Owner)
            .ok_or(ApiError::NotAuthenticated)
    }
}

/// `?limit=&cursor=`, each bad parameter named.
fn event_query(map: HashMap<String, String>) -> Result<EventQuery, ApiError> {
    let mut params = QueryParams::new(map);
    let query = EventQuery {
        limit: params.get("limit", page_limit).unwrap_or(DEFAULT_LIMIT),
        after: params.get("cursor", page_cursor),
    };
    params.finish()?;
    Ok(query)
}

/// A page of events.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventPage {
    items: Vec<SecurityEvent>,
    next_cursor: Option<String>,
}

/// The caller's security events, newest first.
#[utoipa::path(get, path = "/me/security-events", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "1-500, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of the caller's events", body = EventPage),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_security_events(
    State(api): State<EventsApi>,
    Owner(user_id): Owner,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<EventPage>, ApiError> {
    let mut query = event_query(params)?;
    let limit = query.limit as usize;
    query.limit += 1;
    let items = api.events.list(user_id, query).await?;
    let (items, next_cursor) = page(items, limit, |e| EventCursor::new(e.created_at, e.id));
    Ok(Json(EventPage { items, next_cursor }))
}
