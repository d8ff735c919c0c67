//! The portfolio endpoints (docs/API.md, "Portfolios"): create, list,
//! read with positions, rename or change the rules (which refolds the
//! portfolio), delete; owner-scoped like every trading route.

use super::api::{not_found, write_error};
use super::fields::{Fields, FieldsJson, FromFields, text};
use super::{
    CostBasis, Currency, Portfolio, PortfolioChanges, PortfolioName, Position, Rules, TradingStore,
};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::http::{Json, Path, guard};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::Route;
use http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use tower::{Layer, Service};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

type Store = Arc<dyn TradingStore>;

/// The portfolio routes, each handler wrapped in `layer` (see
/// [`super::routes`]).
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
        .routes(guard(
            routes!(create_portfolio, list_portfolios),
            layer.clone(),
        ))
        .routes(guard(
            routes!(get_portfolio, update_portfolio, delete_portfolio),
            layer.clone(),
        ))
        .routes(guard(routes!(portfolio_positions), layer))
}

fn boolean(raw: &RawValue) -> Result<bool, String> {
    serde_json::from_str(raw.get()).map_err(|_| "must be true or false".to_owned())
}

/// `POST /portfolios`.
#[derive(Debug, utoipa::ToSchema)]
pub(crate) struct CreatePortfolio {
    /// Display name, 1-100 characters.
    #[schema(value_type = String)]
    name: PortfolioName,
    /// ISO 4217 code; default `USD`.
    #[schema(value_type = Option<String>)]
    base_currency: Option<Currency>,
    /// Whether a sell beyond the held quantity opens a short; default
    /// `false`.
    allow_short: Option<bool>,
    /// `average` (default), `fifo` or `lifo`.
    cost_basis: Option<CostBasis>,
}

impl FromFields for CreatePortfolio {
    fn from_fields(fields: &mut Fields) -> Option<Self> {
        let name = fields.required("name", text::<PortfolioName>);
        let base_currency = fields.optional("base_currency", text::<Currency>);
        let allow_short = fields.optional("allow_short", boolean);
        let cost_basis = fields.optional("cost_basis", text::<CostBasis>);
        fields.deny_unknown(&["name", "base_currency", "allow_short", "cost_basis"]);
        Some(Self {
            name: name?,
            base_currency,
            allow_short,
            cost_basis,
        })
    }
}

/// `PATCH /portfolios/{id}`: a change of rule refolds the portfolio.
#[derive(Debug, utoipa::ToSchema)]
pub(crate) struct UpdatePortfolio {
    /// Display name, 1-100 characters.
    #[schema(value_type = Option<String>)]
    name: Option<PortfolioName>,
    /// Whether a sell beyond the held quantity opens a short.
    allow_short: Option<bool>,
    /// `average`, `fifo` or `lifo`.
    cost_basis: Option<CostBasis>,
}

impl FromFields for UpdatePortfolio {
    fn from_fields(fields: &mut Fields) -> Option<Self> {
        let update = Self {
            name: fields.optional("name", text::<PortfolioName>),
            allow_short: fields.optional("allow_short", boolean),
            cost_basis: fields.optional("cost_basis", text::<CostBasis>),
        };
        fields.deny_unknown(&["name", "allow_short", "cost_basis"]);
        Some(update)
    }
}

/// Create a portfolio.
#[utoipa::path(post, path = "/portfolios", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = CreatePortfolio,
    responses(
        (status = 201, description = "The portfolio", body = Portfolio),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_portfolio(
    State(store): State<Store>,
    caller: Principal,
    FieldsJson(body): FieldsJson<CreatePortfolio>,
) -> Result<(StatusCode, Json<Portfolio>), ApiError> {
    let currency = body.base_currency.unwrap_or_else(Currency::usd);
    let rules = Rules {
        allow_short: body.allow_short.unwrap_or(false),
        cost_basis: body.cost_basis.unwrap_or_default(),
    };
    let portfolio = store
        .create_portfolio(caller.user_id, &body.name, &currency, rules)
        .await?;
    Ok((StatusCode::CREATED, Json(portfolio)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Items<T> {
    pub(super) items: Vec<T>,
}

/// The user's portfolios.
#[utoipa::path(get, path = "/portfolios", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "`{\"items\": [portfolio...]}`", body = Items<Portfolio>),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_portfolios(
    State(store): State<Store>,
    caller: Principal,
) -> Result<Json<Items<Portfolio>>, ApiError> {
    let items = store.list_portfolios(caller.user_id).await?;
    Ok(Json(Items { items }))
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

/// A portfolio with its positions.
#[utoipa::path(get, path = "/portfolios/{id}", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Portfolio id")),
    responses(
        (status = 200, description = "The portfolio and its positions", body = PortfolioWithPositions),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such portfolio of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_portfolio(
    State(store): State<Store>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<PortfolioWithPositions>, ApiError> {
    let portfolio = store
        .get_portfolio(caller.user_id, id)
        .await
        .map_err(not_found("portfolio"))?;
    let positions = reportable_positions(&store, caller.user_id, id).await?;
    Ok(Json(PortfolioWithPositions {
        portfolio,
        positions,
    }))
}

/// Rename a portfolio or change its rules (`allow_short`, `cost_basis`):
/// a change of rule refolds its positions and round trips in one
/// transaction, or changes nothing when a trade would become invalid.
#[utoipa::path(patch, path = "/portfolios/{id}", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Portfolio id")),
    request_body = UpdatePortfolio,
    responses(
        (status = 200, description = "The portfolio", body = Portfolio),
        (status = 404, description = "No such portfolio of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or `insufficient_position` naming the trade the new rules would make invalid (nothing changed)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_portfolio(
    State(store): State<Store>,
    caller: Principal,
    Path(id): Path<Uuid>,
    FieldsJson(body): FieldsJson<UpdatePortfolio>,
) -> Result<Json<Portfolio>, ApiError> {
    let changes = PortfolioChanges {
        name: body.name,
        allow_short: body.allow_short,
        cost_basis: body.cost_basis,
    };
    let portfolio = store
        .update_portfolio(caller.user_id, id, &changes)
        .await
        .map_err(write_error("portfolio"))?;
    Ok(Json(portfolio))
}

/// Delete a portfolio with its trades and positions.
#[utoipa::path(delete, path = "/portfolios/{id}", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Portfolio id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such portfolio of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_portfolio(
    State(store): State<Store>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    store
        .delete_portfolio(caller.user_id, id)
        .await
        .map_err(not_found("portfolio"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A portfolio's positions under its rules.
#[utoipa::path(get, path = "/portfolios/{id}/positions", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Portfolio id")),
    responses(
        (status = 200, description = "Symbols with a non-zero quantity or realized P&L", body = Items<Position>),
        (status = 404, description = "No such portfolio of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn portfolio_positions(
    State(store): State<Store>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Items<Position>>, ApiError> {
    let items = reportable_positions(&store, caller.user_id, id).await?;
    Ok(Json(Items { items }))
}
