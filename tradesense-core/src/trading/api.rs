//! The trading endpoints of API.md: `/api/v1/portfolios...` and
//! `/api/v1/trades...`, owner-scoped (another user's id is `404`).
//!
//! Handlers read the caller from the [`Principal`] the `AuthLayer` put in
//! the request extensions; without one they answer `401`, so the routes are
//! safe even if mounted without the layer by mistake.

use super::fields::{Fields, text};
use super::{
    Currency, Cursor, Fees, FoldError, NewTrade, Notes, Portfolio, PortfolioName, Position, Price,
    Quantity, Side, Symbol, Trade, TradeChanges, TradeQuery, decimal_from_raw, recompute_position,
};
use super::{TradeWriteError, TradingStore};
use crate::auth::Principal;
use crate::error::{ApiError, FieldError};
use crate::http::{
    MethodRouter, Request, Response, Router, handler, json, json_with_status, no_content,
    parse_query, path_param,
};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// The store the handlers share.
type Store = Arc<dyn TradingStore>;

/// Default and largest page size of `GET /api/v1/trades`.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: u32 = 500;

/// The portfolio and trade routes over `store`. Put the `AuthLayer` in front
/// of them (`Router::layer`).
///
/// ```
/// use std::sync::Arc;
/// use tradesense_core::store::{Db, SqlStore};
/// # async fn demo(pool: sqlx::SqlitePool) {
/// let store = Arc::new(SqlStore::from_db(Db::Sqlite(pool)));
/// let router = tradesense_core::trading::routes(store);
/// assert!(router.routes().any(|(path, _)| path == "/api/v1/trades/{id}"));
/// # }
/// ```
pub fn routes(store: Store) -> Router {
    Router::new()
        .route(
            "/api/v1/portfolios",
            MethodRouter::new()
                .post(handler(store.clone(), create_portfolio))
                .get(handler(store.clone(), list_portfolios)),
        )
        .route(
            "/api/v1/portfolios/{id}",
            MethodRouter::new()
                .get(handler(store.clone(), get_portfolio))
                .patch(handler(store.clone(), rename_portfolio))
                .delete(handler(store.clone(), delete_portfolio)),
        )
        .route(
            "/api/v1/portfolios/{id}/positions",
            MethodRouter::new().get(handler(store.clone(), portfolio_positions)),
        )
        .route(
            "/api/v1/trades",
            MethodRouter::new()
                .post(handler(store.clone(), create_trade))
                .get(handler(store.clone(), list_trades)),
        )
        .route(
            "/api/v1/trades/{id}",
            MethodRouter::new()
                .get(handler(store.clone(), get_trade))
                .patch(handler(store.clone(), update_trade))
                .delete(handler(store, delete_trade)),
        )
}

fn caller(request: &Request) -> Result<Uuid, ApiError> {
    request
        .extensions()
        .get::<Principal>()
        .map(|principal| principal.user_id)
        .ok_or(ApiError::NotAuthenticated)
}

fn not_found(resource: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |err| match err {
        StoreError::NotFound => ApiError::NotFound(resource),
        other => ApiError::internal(other),
    }
}

fn write_error(resource: &'static str) -> impl Fn(TradeWriteError) -> ApiError {
    move |err| match err {
        TradeWriteError::Refused(err @ FoldError::InsufficientPosition { .. }) => {
            ApiError::Unprocessable {
                code: "insufficient_position",
                detail: err.to_string(),
            }
        }
        TradeWriteError::Refused(err @ FoldError::Overflow { .. }) => ApiError::Unprocessable {
            code: "amount_out_of_range",
            detail: err.to_string(),
        },
        TradeWriteError::Store(err) => not_found(resource)(err),
    }
}

fn timestamp(raw: &RawValue) -> Result<DateTime<Utc>, String> {
    text::<Timestamp>(raw).map(|t| t.0)
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
struct Timestamp(DateTime<Utc>);

impl std::str::FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(|_| "must be an RFC 3339 timestamp with an offset".to_owned())
    }
}

struct Id(Uuid);

impl std::str::FromStr for Id {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse().map(Self).map_err(|_| "must be a UUID".to_owned())
    }
}

// ---- portfolios ----

async fn create_portfolio(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let mut fields = Fields::from_request(&request)?;
    let name = fields.required("name", text::<PortfolioName>);
    let currency = fields.optional("base_currency", text::<Currency>);
    fields.finish()?;
    let (Some(name), currency) = (name, currency.unwrap_or_else(Currency::usd)) else {
        unreachable!("finish() refused missing fields")
    };
    let portfolio = store.create_portfolio(user, &name, &currency).await?;
    Ok(json_with_status(StatusCode::CREATED, &portfolio))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Items<T> {
    items: Vec<T>,
}

async fn list_portfolios(store: Store, request: Request) -> Result<Response, ApiError> {
    let items = store.list_portfolios(caller(&request)?).await?;
    Ok(json(&Items { items }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PortfolioWithPositions {
    #[serde(flatten)]
    portfolio: Portfolio,
    positions: Vec<Position>,
}

async fn reportable_positions(
    store: &Store,
    user: Uuid,
    id: Uuid,
) -> Result<Vec<Position>, ApiError> {
    let mut positions = store
        .positions(user, id)
        .await
        .map_err(not_found("portfolio"))?;
    positions.retain(Position::is_reportable);
    Ok(positions)
}

async fn get_portfolio(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let id = path_param(&request, "id", "portfolio")?;
    let portfolio = store
        .get_portfolio(user, id)
        .await
        .map_err(not_found("portfolio"))?;
    let positions = reportable_positions(&store, user, id).await?;
    Ok(json(&PortfolioWithPositions {
        portfolio,
        positions,
    }))
}

async fn rename_portfolio(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let id = path_param(&request, "id", "portfolio")?;
    let mut fields = Fields::from_request(&request)?;
    let name = fields.optional("name", text::<PortfolioName>);
    fields.finish()?;
    let portfolio = match name {
        Some(name) => store.rename_portfolio(user, id, &name).await,
        None => store.get_portfolio(user, id).await,
    }
    .map_err(not_found("portfolio"))?;
    Ok(json(&portfolio))
}

async fn delete_portfolio(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let id = path_param(&request, "id", "portfolio")?;
    store
        .delete_portfolio(user, id)
        .await
        .map_err(not_found("portfolio"))?;
    Ok(no_content())
}

async fn portfolio_positions(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let id = path_param(&request, "id", "portfolio")?;
    let items = reportable_positions(&store, user, id).await?;
    Ok(json(&Items { items }))
}

// ---- trades ----

async fn create_trade(store: Store, request: Request) -> Result<Response, ApiError> {
    let user_id = caller(&request)?;
    let mut fields = Fields::from_request(&request)?;
    let symbol = fields.required("symbol", text::<Symbol>);
    let side = fields.required("side", text::<Side>);
    let quantity = fields.required("quantity", amount(Quantity::new));
    let price = fields.required("price", amount(Price::new));
    let fees = fields.nullable("fees", amount(Fees::new));
    let executed_at = fields.nullable("executed_at", timestamp);
    let portfolio_id = fields.nullable("portfolio_id", uuid);
    let notes = fields.nullable("notes", text::<Notes>);
    fields.finish()?;
    let (Some(symbol), Some(side), Some(quantity), Some(price)) = (symbol, side, quantity, price)
    else {
        unreachable!("finish() refused missing fields")
    };
    let trade = NewTrade {
        user_id,
        symbol,
        side,
        quantity,
        price,
        fees: fees.flatten().unwrap_or(Fees::ZERO),
        executed_at: executed_at.flatten().unwrap_or_else(Utc::now),
        portfolio_id: portfolio_id.flatten(),
        notes: notes.flatten(),
    };
    let trade = store
        .create_trade(trade, &recompute_position)
        .await
        .map_err(write_error("portfolio"))?;
    Ok(json_with_status(StatusCode::CREATED, &trade))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TradePage {
    items: Vec<Trade>,
    next_cursor: Option<String>,
}

/// Parses the listing's query string, one error per bad parameter.
fn trade_query(request: &Request) -> Result<TradeQuery, ApiError> {
    let params: HashMap<String, String> = parse_query(request)?;
    let mut errors = Vec::new();
    let mut param = |name: &str, parse: &dyn Fn(&str) -> Result<(), String>| {
        if let Some(value) = params.get(name).filter(|v| !v.is_empty())
            && let Err(message) = parse(value)
        {
            errors.push(FieldError::new(name, message));
        }
    };
    let bad_limit = || format!("must be an integer from 1 to {MAX_LIMIT}");
    let query = std::cell::RefCell::new(TradeQuery {
        symbol: None,
        portfolio_id: None,
        from: None,
        to: None,
        limit: DEFAULT_LIMIT,
        after: None,
    });
    let set = |update: &dyn Fn(&mut TradeQuery)| update(&mut query.borrow_mut());
    param("symbol", &|v| {
        let symbol = v.parse::<Symbol>()?;
        set(&|q| q.symbol = Some(symbol.clone()));
        Ok(())
    });
    param("portfolio_id", &|v| {
        let id = v.parse::<Id>()?.0;
        set(&|q| q.portfolio_id = Some(id));
        Ok(())
    });
    // A `+` of an offset sent unencoded arrives as a space: put it back.
    param("from", &|v| {
        let at = v.replace(' ', "+").parse::<Timestamp>()?.0;
        set(&|q| q.from = Some(at));
        Ok(())
    });
    param("to", &|v| {
        let at = v.replace(' ', "+").parse::<Timestamp>()?.0;
        set(&|q| q.to = Some(at));
        Ok(())
    });
    param("limit", &|v| {
        let n: u32 = v.parse().map_err(|_| bad_limit())?;
        if !(1..=MAX_LIMIT).contains(&n) {
            return Err(bad_limit());
        }
        set(&|q| q.limit = n);
        Ok(())
    });
    param("cursor", &|v| {
        let cursor = Cursor::decode(v).ok_or("is not a cursor this API issued")?;
        set(&|q| q.after = Some(cursor));
        Ok(())
    });
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(query.into_inner())
}

async fn list_trades(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let mut query = trade_query(&request)?;
    let limit = query.limit as usize;
    // One extra row tells whether another page exists without a count query.
    query.limit += 1;
    let mut items = store.list_trades(user, &query).await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| Cursor::after(last).encode())
    } else {
        None
    };
    Ok(json(&TradePage { items, next_cursor }))
}

async fn get_trade(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let id = path_param(&request, "id", "trade")?;
    let trade = store
        .get_trade(user, id)
        .await
        .map_err(not_found("trade"))?;
    Ok(json(&trade))
}

async fn update_trade(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let id = path_param(&request, "id", "trade")?;
    // Other fields (symbol, side, portfolio_id) are ignored, as FastAPI
    // ignores extras: a client may send back the whole trade it read.
    let mut fields = Fields::from_request(&request)?;
    let changes = TradeChanges {
        quantity: fields.optional("quantity", amount(Quantity::new)),
        price: fields.optional("price", amount(Price::new)),
        fees: fields.optional("fees", amount(Fees::new)),
        executed_at: fields.optional("executed_at", timestamp),
        notes: fields.nullable("notes", text::<Notes>),
    };
    fields.finish()?;
    let trade = store
        .update_trade(user, id, &changes, &recompute_position)
        .await
        .map_err(write_error("trade"))?;
    Ok(json(&trade))
}

async fn delete_trade(store: Store, request: Request) -> Result<Response, ApiError> {
    let user = caller(&request)?;
    let id = path_param(&request, "id", "trade")?;
    store
        .delete_trade(user, id, &recompute_position)
        .await
        .map_err(write_error("trade"))?;
    Ok(no_content())
}
