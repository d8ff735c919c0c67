//! The journal's read endpoints (docs/API.md, "The journal"): round trips
//! and the analytics over them, owner-scoped, relative to where the trading
//! routes are mounted. They sit in the trading router, so the server's
//! per-user response cache holds them and every trading write (which
//! invalidates the user's scope) keeps them fresh.

use super::DEFAULT_LIMIT;
use super::api::{Id, timestamp_param};
use super::{
    BreakdownBy, BreakdownGroup, Cursor, EquityPoint, RoundTrip, RoundTripQuery, RoundTripStatus,
    Summary, Symbol, Tag, TradingStore, breakdown, equity_curve, parse_timezone, summarize,
};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::http::{Json, Query, QueryParams, guard, page, page_cursor, page_limit};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::Route;
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use tower::{Layer, Service};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Store = Arc<dyn TradingStore>;

/// The journal routes, each handler wrapped in `layer` (see [`super::routes`]).
pub(super) fn routes<L>(layer: L) -> OpenApiRouter<Store>
where
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<axum::extract::Request, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as Service<axum::extract::Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<axum::extract::Request>>::Future: Send + 'static,
{
    OpenApiRouter::new()
        .routes(guard(routes!(list_round_trips), layer.clone()))
        .routes(guard(routes!(analytics_summary), layer.clone()))
        .routes(guard(routes!(analytics_breakdown), layer.clone()))
        .routes(guard(routes!(analytics_equity_curve), layer.clone()))
        .merge(super::import_api::routes(layer))
}

/// The filters shared by the listing and the analytics.
fn filters(params: &mut QueryParams) -> RoundTripQuery {
    RoundTripQuery {
        portfolio_id: params.get("portfolio_id", |v| v.parse::<Id>().map(|id| id.0)),
        symbol: params.get("symbol", str::parse::<Symbol>),
        tag: params.get("tag", str::parse::<Tag>),
        from: params.get("from", timestamp_param),
        to: params.get("to", timestamp_param),
        ..RoundTripQuery::default()
    }
}

/// The analytics' filters as the OpenAPI document declares them, once for
/// the three analytics routes; [`AnalyticsQuery`] is what reads them (naming
/// every bad parameter).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "declares the parameters; AnalyticsQuery reads them"
)]
struct AnalyticsFilters {
    /// Only this portfolio
    portfolio_id: Option<uuid::Uuid>,
    /// Only this symbol
    symbol: Option<String>,
    /// Only round trips with this tag
    tag: Option<String>,
    /// `closed_at` at or after
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// `closed_at` at or before
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// IANA zone; default the user's `timezone`
    tz: Option<String>,
}

/// The analytics' query: filters and the zone (`tz`, else the user's).
struct AnalyticsQuery {
    query: RoundTripQuery,
    tz: Option<Tz>,
    by: Option<BreakdownBy>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AnalyticsQuery {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let mut params = QueryParams::new(map);
        let query = filters(&mut params);
        let tz = params.get("tz", parse_timezone);
        let by = params.get("by", str::parse::<BreakdownBy>);
        params.finish()?;
        Ok(Self { query, tz, by })
    }
}

async fn zone(store: &Store, user: uuid::Uuid, tz: Option<Tz>) -> Result<Tz, ApiError> {
    match tz {
        Some(tz) => Ok(tz),
        // A stored zone the database no longer knows reads as UTC.
        None => Ok(parse_timezone(&store.user_timezone(user).await?).unwrap_or(Tz::UTC)),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RoundTripPage {
    items: Vec<RoundTrip>,
    next_cursor: Option<String>,
}

struct RoundTripListQuery(RoundTripQuery);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RoundTripListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let mut params = QueryParams::new(map);
        let mut query = filters(&mut params);
        query.status = params.get("status", str::parse::<RoundTripStatus>);
        query.limit = params.get("limit", page_limit).unwrap_or(DEFAULT_LIMIT);
        query.after = params.get("cursor", page_cursor);
        params.finish()?;
        Ok(Self(query))
    }
}

/// The user's round trips, newest `opened_at` first.
#[utoipa::path(get, path = "/round-trips", tag = "journal",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("portfolio_id" = Option<uuid::Uuid>, Query, description = "Only this portfolio"),
        ("symbol" = Option<String>, Query, description = "Only this symbol"),
        ("tag" = Option<String>, Query, description = "Only round trips with a trade carrying this tag"),
        ("status" = Option<RoundTripStatus>, Query, description = "`open` or `closed`"),
        ("from" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "`closed_at` (open ones: `opened_at`) at or after"),
        ("to" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "`closed_at` (open ones: `opened_at`) at or before"),
        ("limit" = Option<u32>, Query, description = "1-500, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page", body = RoundTripPage),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_round_trips(
    State(store): State<Store>,
    caller: Principal,
    RoundTripListQuery(mut query): RoundTripListQuery,
) -> Result<Json<RoundTripPage>, ApiError> {
    let limit = query.limit as usize;
    query.limit += 1;
    let items = store.list_round_trips(caller.user_id, &query).await?;
    let (items, next_cursor) = page(items, limit, |t| Cursor::new(t.opened_at, t.id));
    Ok(Json(RoundTripPage { items, next_cursor }))
}

/// Statistics of the closed round trips that match.
#[utoipa::path(get, path = "/analytics/summary", tag = "journal",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        AnalyticsFilters,
    ),
    responses(
        (status = 200, description = "The summary", body = Summary),
        (status = 422, description = "Invalid parameters (an unknown `tz`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn analytics_summary(
    State(store): State<Store>,
    caller: Principal,
    params: AnalyticsQuery,
) -> Result<Json<Summary>, ApiError> {
    let trips = store
        .closed_round_trips(caller.user_id, &params.query)
        .await?;
    Ok(Json(summarize(&trips)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Breakdown {
    by: BreakdownBy,
    groups: Vec<BreakdownGroup>,
}

/// The summary per symbol, tag, weekday or hour of `closed_at`.
#[utoipa::path(get, path = "/analytics/breakdown", tag = "journal",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("by" = BreakdownBy, Query, description = "`symbol`, `tag`, `weekday` or `hour`"),
        AnalyticsFilters,
    ),
    responses(
        (status = 200, description = "One group per key with a closed round trip, by key", body = Breakdown),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
async fn analytics_breakdown(
    State(store): State<Store>,
    caller: Principal,
    params: AnalyticsQuery,
) -> Result<Json<Breakdown>, ApiError> {
    let by = params
        .by
        .ok_or_else(|| ApiError::invalid("by", "field required"))?;
    let tz = zone(&store, caller.user_id, params.tz).await?;
    let trips = store
        .closed_round_trips(caller.user_id, &params.query)
        .await?;
    Ok(Json(Breakdown {
        by,
        groups: breakdown(&trips, by, tz),
    }))
}

/// The equity curve: realized P&L per date of `closed_at` in the zone.
#[utoipa::path(get, path = "/analytics/equity-curve", tag = "journal",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        AnalyticsFilters,
    ),
    responses(
        (status = 200, description = "`{\"points\": [...]}`", body = EquityCurve),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
async fn analytics_equity_curve(
    State(store): State<Store>,
    caller: Principal,
    params: AnalyticsQuery,
) -> Result<Json<EquityCurve>, ApiError> {
    let tz = zone(&store, caller.user_id, params.tz).await?;
    let trips = store
        .closed_round_trips(caller.user_id, &params.query)
        .await?;
    let points = equity_curve(&trips, tz).ok_or(ApiError::Unprocessable {
        code: "amount_out_of_range",
        detail: "the curve's sums exceed the supported range".to_owned(),
    })?;
    Ok(Json(EquityCurve { points }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EquityCurve {
    points: Vec<EquityPoint>,
}
