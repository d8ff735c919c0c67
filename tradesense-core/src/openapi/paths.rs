//! The `#[utoipa::path]` declarations of every route. The functions exist
//! only to carry the declarations (utoipa reads them at compile time); the
//! handlers live in their modules.
#![allow(dead_code)]

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process answers", body = serde_json::Value)))]
pub(super) fn health() {}

/// Readiness.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Every check passes (a degraded cache still passes)", body = serde_json::Value),
        (status = 503, description = "A check failed; the body names it", body = serde_json::Value),
    ))]
pub(super) fn ready() {}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition (or JSON with `Accept: application/json`)", content_type = "text/plain")))]
pub(super) fn metrics() {}

/// The OpenAPI document itself.
#[utoipa::path(get, path = "/openapi.json", tag = "documentation",
    responses((status = 200, description = "This document", body = serde_json::Value)))]
pub(super) fn openapi_json() {}

/// The interactive documentation page (Swagger UI, served offline).
#[utoipa::path(get, path = "/docs", tag = "documentation",
    responses((status = 200, description = "HTML page", content_type = "text/html")))]
pub(super) fn docs() {}

/// The documentation page's static assets.
#[utoipa::path(get, path = "/docs/{asset}", tag = "documentation",
    params(("asset" = String, Path, description = "Asset file name")),
    responses(
        (status = 200, description = "The asset"),
        (status = 404, description = "No such asset", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn docs_asset() {}

use super::Problem;
use crate::auth::endpoints::{LoginBody, RegisterBody, TokenForm, TokenResponse};
use crate::auth::users::{ChangePassword, PatchMe, SessionList};
use crate::mfa::endpoints::{CodeBody, LoginBody as MfaLoginBody, MessageResponse, VerifyResponse};
use crate::mfa::totp::Provisioning;
use crate::users::User;

/// Create an account.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The new user", body = User),
        (status = 409, description = "`email_taken` (case-insensitive)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad email, or a password that is too short, too long or too guessable", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn register() {}

/// Log in with email and password; sets the `auth-token` cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "The token (and the cookie), or `mfa_required` with an MFA token and no cookie", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, or the account is temporarily locked", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn login() {}

/// OAuth2 password flow (what Swagger's "Authorize" uses).
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "As `/login`", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn token() {}

/// End this session: revokes it and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn logout() {}

/// Start enabling MFA: a new pending secret, its URI and QR code.
#[utoipa::path(post, path = "/api/v1/auth/mfa/setup", tag = "mfa",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "The pending secret (valid 10 minutes)", body = Provisioning),
        (status = 400, description = "`mfa_already_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn mfa_setup() {}

/// Confirm the pending secret with a code: enables MFA.
#[utoipa::path(post, path = "/api/v1/auth/mfa/verify", tag = "mfa",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "Enabled; ten single-use recovery codes, shown once", body = VerifyResponse),
        (status = 400, description = "`invalid_mfa_code` or `mfa_setup_required`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn mfa_verify() {}

/// Turn MFA off with a TOTP or recovery code.
#[utoipa::path(post, path = "/api/v1/auth/mfa/disable", tag = "mfa",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "Disabled", body = MessageResponse),
        (status = 400, description = "`invalid_mfa_code` or `mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn mfa_disable() {}

/// Complete a login that answered `mfa_required`.
#[utoipa::path(post, path = "/api/v1/auth/mfa/login", tag = "mfa",
    request_body = MfaLoginBody,
    responses(
        (status = 200, description = "The token (and the cookie)", body = TokenResponse),
        (status = 401, description = "`invalid_mfa_code` or `invalid_mfa_token`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, or the challenge is locked after repeated failures", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn mfa_login() {}

/// The current user.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn get_me() {}

/// Change the display name.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = PatchMe,
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn patch_me() {}

/// Change the password; revokes every other session.
#[utoipa::path(post, path = "/api/v1/users/me/password", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "`invalid_current_password`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Weak new password", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn change_password() {}

/// The user's live sessions.
#[utoipa::path(get, path = "/api/v1/users/me/sessions", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "Live sessions; `current` marks this one", body = SessionList),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn list_sessions() {}

/// Revoke one of the user's sessions.
#[utoipa::path(delete, path = "/api/v1/users/me/sessions/{id}", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = uuid::Uuid, Path, description = "The session id (the token's `sid`)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not one of the user's sessions", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn delete_session() {}

use super::schemas::{CreatePortfolio, CreateTrade, RenamePortfolio, UpdateTrade};
use crate::trading::api::{Items, PortfolioWithPositions, TradePage};
use crate::trading::{Portfolio, Position, Trade};

/// Create a portfolio.
#[utoipa::path(post, path = "/api/v1/portfolios", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = CreatePortfolio,
    responses(
        (status = 201, description = "The portfolio", body = Portfolio),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn create_portfolio() {}

/// The user's portfolios.
#[utoipa::path(get, path = "/api/v1/portfolios", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "`{\"items\": [portfolio...]}`", body = Items<Portfolio>),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn list_portfolios() {}

/// A portfolio with its positions.
#[utoipa::path(get, path = "/api/v1/portfolios/{id}", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Portfolio id")),
    responses(
        (status = 200, description = "The portfolio and its positions", body = PortfolioWithPositions),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such portfolio of yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn get_portfolio() {}

/// Rename a portfolio.
#[utoipa::path(patch, path = "/api/v1/portfolios/{id}", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Portfolio id")),
    request_body = RenamePortfolio,
    responses(
        (status = 200, description = "The portfolio", body = Portfolio),
        (status = 404, description = "No such portfolio of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn rename_portfolio() {}

/// Delete a portfolio with its trades and positions.
#[utoipa::path(delete, path = "/api/v1/portfolios/{id}", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Portfolio id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such portfolio of yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn delete_portfolio() {}

/// A portfolio's positions (average-cost method).
#[utoipa::path(get, path = "/api/v1/portfolios/{id}/positions", tag = "portfolios",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Portfolio id")),
    responses(
        (status = 200, description = "Symbols with a non-zero quantity or realized P&L", body = Items<Position>),
        (status = 404, description = "No such portfolio of yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn list_positions() {}

/// Record a trade.
#[utoipa::path(post, path = "/api/v1/trades", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = CreateTrade,
    responses(
        (status = 201, description = "The trade", body = Trade),
        (status = 404, description = "`portfolio_id` is not one of your portfolios", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or `insufficient_position`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn create_trade() {}

/// The user's trades, newest `executed_at` first.
#[utoipa::path(get, path = "/api/v1/trades", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("symbol" = Option<String>, Query, description = "Only this symbol"),
        ("portfolio_id" = Option<Uuid>, Query, description = "Only this portfolio"),
        ("from" = Option<DateTime<Utc>>, Query, description = "Executed at or after"),
        ("to" = Option<DateTime<Utc>>, Query, description = "Executed at or before"),
        ("limit" = Option<u32>, Query, description = "1-500, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page", body = TradePage),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn list_trades() {}

/// One trade.
#[utoipa::path(get, path = "/api/v1/trades/{id}", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Trade id")),
    responses(
        (status = 200, description = "The trade", body = Trade),
        (status = 404, description = "No such trade of yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn get_trade() {}

/// Edit a trade; positions are recomputed.
#[utoipa::path(patch, path = "/api/v1/trades/{id}", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Trade id")),
    request_body = UpdateTrade,
    responses(
        (status = 200, description = "The trade", body = Trade),
        (status = 404, description = "No such trade of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or `insufficient_position` for a later sell", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn update_trade() {}

/// Delete a trade; positions are recomputed.
#[utoipa::path(delete, path = "/api/v1/trades/{id}", tag = "trades",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Trade id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such trade of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`insufficient_position` for a later sell", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) fn delete_trade() {}
