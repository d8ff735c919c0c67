//! The trading endpoints (docs/API.md): `/trades...` here, and the router
//! of them all with `/portfolios...` (`portfolio_api.rs`), the journal
//! (`journal_api.rs`) and the imports (`import_api.rs`),
//! relative to where they are mounted (TradeSense: `/api/v1`), owner-scoped
//! (another user's id is `404`).
//!
//! Handlers take the caller as a [`Principal`] extractor; without one they
//! answer `401`, so the routes are safe even if mounted without the
//! `AuthLayer` by mistake. Bodies are read field by field
//! ([`FieldsJson`]) so a `422` names every bad field and decimals are
//! parsed from their JSON text, never through `f64`; the request structs
//! below are what the OpenAPI schemas derive from.

use super::fields::{Fields, FieldsJson, FromFields, text};
use super::{
    Cursor, Fees, FoldError, Multiplier, NewTrade, Notes, Price, Quantity, Side, Symbol, Tag, Tags,
    Trade, TradeChanges, TradeQuery, decimal_from_raw,
};
use super::{TradeWriteError, TradingStore};
use crate::auth::Principal;
use crate::error::FieldError;
use crate::error::{ApiError, Problem};
use crate::http::{Json, Path, Query, QueryParams, guard, page, page_cursor, page_limit};
use crate::store::StoreError;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::Route;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::Arc;
use tower::{Layer, Service};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The store the handlers share.
type Store = Arc<dyn TradingStore>;

/// Default page size of the listings.
pub use crate::http::DEFAULT_PAGE_LIMIT as DEFAULT_LIMIT;
/// The largest `limit` the listings accept.
pub use crate::http::MAX_PAGE_LIMIT as MAX_LIMIT;

/// The portfolio and trade routes over `store`, relative to where they are
/// mounted, with their OpenAPI paths; `guard_layer` wraps every handler
/// (not the `405` fallbacks): the `AuthLayer`, with whatever else needs
/// the caller (a response cache).
///
/// ```
/// use std::sync::Arc;
/// use tradesense_core::store::{Db, SqlStore};
/// # async fn demo(pool: sqlx::SqlitePool) {
/// let store = Arc::new(SqlStore::from_db(Db::Sqlite(pool)));
/// let no_guard = tower::layer::util::Identity::new();
/// let (_router, api) = tradesense_core::trading::routes(store, no_guard).split_for_parts();
/// assert!(api.paths.paths.contains_key("/trades/{id}"));
/// # }
/// ```
pub fn routes<L>(store: Store, guard_layer: L) -> OpenApiRouter
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
    let layer = guard_layer;
    OpenApiRouter::new()
        .merge(super::portfolio_api::routes(layer.clone()))
        .routes(guard(routes!(create_trade, list_trades), layer.clone()))
        .routes(guard(
            routes!(get_trade, update_trade, delete_trade),
            layer.clone(),
        ))
        .merge(super::journal_api::routes(layer))
        .with_state(store)
}

pub(super) fn not_found(resource: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |err| match err {
        StoreError::NotFound => ApiError::NotFound(resource),
        other => ApiError::internal(other),
    }
}

/// A trade write's refusal as a problem: `resource` names what a
/// `NotFound` was (the trade, the import). A refusal names the trade whose
/// validity the write would break, in `detail` and in `errors[].id`.
pub(super) fn write_error(resource: &'static str) -> impl Fn(TradeWriteError) -> ApiError {
    move |err| match err {
        TradeWriteError::Refused(err @ FoldError::Overflow { .. }) => ApiError::Unprocessable {
            code: "amount_out_of_range",
            detail: err.to_string(),
        },
        TradeWriteError::Refused(err) => {
            let (code, field) = match err {
                FoldError::MultiplierMismatch { .. } => ("multiplier_mismatch", "multiplier"),
                _ => ("insufficient_position", "quantity"),
            };
            let mut error = FieldError::new(field, err.to_string());
            if let Some(id) = err.trade_id() {
                error = error.about(id);
            }
            ApiError::Refused {
                code,
                detail: err.to_string(),
                errors: vec![error],
            }
        }
        TradeWriteError::Store(StoreError::Conflict(detail)) => ApiError::Conflict {
            code: "write_conflict",
            detail,
        },
        TradeWriteError::Store(err) => not_found(resource)(err),
    }
}

fn timestamp(raw: &RawValue) -> Result<DateTime<Utc>, String> {
    text::<Timestamp>(raw).map(|t| t.0)
}

/// A JSON array of tag strings.
fn tags(raw: &RawValue) -> Result<Tags, String> {
    let list: Vec<String> =
        serde_json::from_str(raw.get()).map_err(|_| "must be an array of strings".to_owned())?;
    Tags::parse(list.iter().map(String::as_str))
}

fn uuid(raw: &RawValue) -> Result<Uuid, String> {
    text::<Id>(raw).map(|id| id.0)
}

fn amount<T>(
    new: fn(rust_decimal::Decimal) -> Result<T, String>,
) -> impl Fn(&RawValue) -> Result<T, String> {
    move |raw| new(decimal_from_raw(raw)?)
}

/// RFC 3339 with an offset, read into UTC.
pub(super) struct Timestamp(pub(super) DateTime<Utc>);

impl std::str::FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(|_| "must be an RFC 3339 timestamp with an offset".to_owned())
    }
}

pub(super) struct Id(pub(super) Uuid);

impl std::str::FromStr for Id {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse().map(Self).map_err(|_| "must be a UUID".to_owned())
    }
}

// ---- trades ----

/// `POST /trades`. Decimals are JSON strings or numbers, parsed exactly.
#[derive(Debug, utoipa::ToSchema)]
pub(crate) struct CreateTrade {
    /// 1-32 characters of `[A-Z0-9.:/-]` after upper-casing (an option:
    /// its OCC symbol, `MDB260717P00312500`).
    #[schema(value_type = String, example = "AAPL")]
    symbol: Symbol,
    /// `buy` or `sell`.
    side: Side,
    /// Greater than zero.
    #[schema(value_type = String, example = "10")]
    quantity: Quantity,
    /// Zero or more.
    #[schema(value_type = String, example = "101.25")]
    price: Price,
    /// Any decimal (negative: a rebate); default `0`.
    #[schema(value_type = Option<String>)]
    fees: Option<Fees>,
    /// Greater than zero; default `1` (options 100, ES 50). One per
    /// symbol within a group.
    #[schema(value_type = Option<String>)]
    multiplier: Option<Multiplier>,
    /// Default: now.
    executed_at: Option<DateTime<Utc>>,
    /// The portfolio whose positions it moves.
    portfolio_id: Option<Uuid>,
    /// Free text, up to 1000 characters.
    #[schema(value_type = Option<String>)]
    notes: Option<Notes>,
    /// Up to 20 tags of 1-40 characters (trimmed, lower-cased).
    #[schema(value_type = Option<Vec<String>>, example = json!(["breakout"]))]
    tags: Option<Tags>,
}

impl FromFields for CreateTrade {
    fn from_fields(fields: &mut Fields) -> Option<Self> {
        let symbol = fields.required("symbol", text::<Symbol>);
        let side = fields.required("side", text::<Side>);
        let quantity = fields.required("quantity", amount(Quantity::new));
        let price = fields.required("price", amount(Price::new));
        let fees = fields.nullable("fees", amount(Fees::new));
        let multiplier = fields.nullable("multiplier", amount(Multiplier::new));
        let executed_at = fields.nullable("executed_at", timestamp);
        let portfolio_id = fields.nullable("portfolio_id", uuid);
        let notes = fields.nullable("notes", text::<Notes>);
        let tags = fields.nullable("tags", tags);
        Some(Self {
            symbol: symbol?,
            side: side?,
            quantity: quantity?,
            price: price?,
            fees: fees.flatten(),
            multiplier: multiplier.flatten(),
            executed_at: executed_at.flatten(),
            portfolio_id: portfolio_id.flatten(),
            notes: notes.flatten(),
            tags: tags.flatten(),
        })
    }
}

/// The fields `PATCH /trades/{id}` edits.
const EDITABLE: &[&str] = &[
    "symbol",
    "side",
    "quantity",
    "price",
    "fees",
    "multiplier",
    "executed_at",
    "portfolio_id",
    "notes",
    "tags",
];

/// `PATCH /trades/{id}` reads a [`TradeChanges`]. Any other field (an
/// unknown or read-only one: `id`, `created_at`) is a `422` naming it: an
/// edit never answers `200` having ignored part of what it was sent.
impl FromFields for TradeChanges {
    fn from_fields(fields: &mut Fields) -> Option<Self> {
        let changes = Self {
            symbol: fields.optional("symbol", text::<Symbol>),
            side: fields.optional("side", text::<Side>),
            quantity: fields.optional("quantity", amount(Quantity::new)),
            price: fields.optional("price", amount(Price::new)),
            fees: fields.optional("fees", amount(Fees::new)),
            multiplier: fields.optional("multiplier", amount(Multiplier::new)),
            executed_at: fields.optional("executed_at", timestamp),
            portfolio_id: fields.nullable("portfolio_id", uuid),
            notes: fields.nullable("notes", text::<Notes>),
            tags: fields.optional("tags", tags),
        };
        fields.deny_unknown(EDITABLE);
        Some(changes)
    }
}

/// Record a trade.
#[utoipa::path(post, path = "/trades", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = CreateTrade,
    responses(
        (status = 201, description = "The trade", body = Trade),
        (status = 404, description = "`portfolio_id` is not one of your portfolios", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, `insufficient_position` or `multiplier_mismatch`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_trade(
    State(store): State<Store>,
    caller: Principal,
    FieldsJson(body): FieldsJson<CreateTrade>,
) -> Result<(StatusCode, Json<Trade>), ApiError> {
    let trade = NewTrade {
        user_id: caller.user_id,
        symbol: body.symbol,
        side: body.side,
        quantity: body.quantity,
        price: body.price,
        fees: body.fees.unwrap_or(Fees::ZERO),
        multiplier: body.multiplier.unwrap_or_default(),
        executed_at: body.executed_at,
        portfolio_id: body.portfolio_id,
        notes: body.notes,
        tags: body.tags.unwrap_or_default(),
        import_id: None,
    };
    let trade = store
        .create_trade(trade)
        .await
        .map_err(write_error("portfolio"))?;
    Ok((StatusCode::CREATED, Json(trade)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TradePage {
    items: Vec<Trade>,
    next_cursor: Option<String>,
}

/// The query of `GET /trades`, every bad parameter named.
struct TradeListQuery(TradeQuery);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for TradeListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let Query(params) =
            Query::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        trade_query(params).map(TradeListQuery)
    }
}

/// Parses the listing's query string, one error per bad parameter.
fn trade_query(map: HashMap<String, String>) -> Result<TradeQuery, ApiError> {
    let mut params = QueryParams::new(map);
    let query = TradeQuery {
        symbol: params.get("symbol", str::parse::<Symbol>),
        portfolio_id: params.get("portfolio_id", |v| v.parse::<Id>().map(|id| id.0)),
        tag: params.get("tag", str::parse::<Tag>),
        from: params.get("from", timestamp_param),
        to: params.get("to", timestamp_param),
        limit: params.get("limit", page_limit).unwrap_or(DEFAULT_LIMIT),
        after: params.get("cursor", page_cursor),
    };
    params.finish()?;
    Ok(query)
}

/// A timestamp query parameter. A `+` of an offset sent unencoded arrives
/// as a space: put it back.
pub(super) fn timestamp_param(v: &str) -> Result<DateTime<Utc>, String> {
    v.replace(' ', "+").parse::<Timestamp>().map(|t| t.0)
}

/// The user's trades, newest `executed_at` first.
#[utoipa::path(get, path = "/trades", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("symbol" = Option<String>, Query, description = "Only this symbol"),
        ("portfolio_id" = Option<Uuid>, Query, description = "Only this portfolio"),
        ("tag" = Option<String>, Query, description = "Only trades with this tag (matched after trimming and lower-casing)"),
        ("from" = Option<DateTime<Utc>>, Query, description = "Executed at or after"),
        ("to" = Option<DateTime<Utc>>, Query, description = "Executed at or before"),
        ("limit" = Option<u32>, Query, description = "1-500, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page", body = TradePage),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_trades(
    State(store): State<Store>,
    caller: Principal,
    TradeListQuery(mut query): TradeListQuery,
) -> Result<Json<TradePage>, ApiError> {
    let limit = query.limit as usize;
    query.limit += 1;
    let items = store.list_trades(caller.user_id, &query).await?;
    let (items, next_cursor) = page(items, limit, |t| Cursor::new(t.executed_at, t.id));
    Ok(Json(TradePage { items, next_cursor }))
}

/// One trade.
#[utoipa::path(get, path = "/trades/{id}", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Trade id")),
    responses(
        (status = 200, description = "The trade", body = Trade),
        (status = 404, description = "No such trade of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_trade(
    State(store): State<Store>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Trade>, ApiError> {
    let trade = store
        .get_trade(caller.user_id, id)
        .await
        .map_err(not_found("trade"))?;
    Ok(Json(trade))
}

/// Edit a trade; its group is refolded (both groups, when the edit moves
/// it to another symbol or portfolio).
#[utoipa::path(patch, path = "/trades/{id}", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Trade id")),
    request_body = TradeChanges,
    responses(
        (status = 200, description = "The trade", body = Trade),
        (status = 404, description = "No such trade of yours, or `portfolio_id` is not one of your portfolios", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`write_conflict`: a concurrent edit moved the trade to another group first (nothing changed; retry)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown fields, `insufficient_position` or `multiplier_mismatch` naming the trade that would become invalid", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_trade(
    State(store): State<Store>,
    caller: Principal,
    Path(id): Path<Uuid>,
    FieldsJson(changes): FieldsJson<TradeChanges>,
) -> Result<Json<Trade>, ApiError> {
    let trade = store
        .update_trade(caller.user_id, id, &changes)
        .await
        .map_err(write_error("trade"))?;
    Ok(Json(trade))
}

/// Delete a trade; positions are recomputed.
#[utoipa::path(delete, path = "/trades/{id}", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Trade id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such trade of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`insufficient_position` for a later sell", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_trade(
    State(store): State<Store>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    store
        .delete_trade(caller.user_id, id)
        .await
        .map_err(write_error("trade"))?;
    Ok(StatusCode::NO_CONTENT)
}
