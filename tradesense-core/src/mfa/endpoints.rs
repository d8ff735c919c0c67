//! The MFA endpoints: `/api/v1/auth/mfa/{setup,verify,disable}` behind the
//! [`AuthLayer`](crate::auth::AuthLayer), and the public
//! `/api/v1/auth/mfa/login` that exchanges an MFA-pending token and a code
//! for the normal token response and cookie.
//!
//! Built on `auth`'s public pieces only (the MFA-pending token check,
//! `complete_login`, `Sessions::revoke_all_except`); `auth` knows nothing
//! of this module.

use super::service::{LoginChallenge, MfaError, MfaService};
use crate::auth::{AuthState, Principal, complete_login};
use crate::error::ApiError;
use crate::http::{MethodRouter, Request, Response, Router, handler, json, parse_json};
use chrono::Utc;
use http::{HeaderValue, header};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// State of the MFA endpoints. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MfaEndpoints {
    auth: AuthState,
    mfa: MfaService,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CodeBody {
    code: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginBody {
    mfa_token: String,
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VerifyResponse {
    message: &'static str,
    recovery_codes: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct MessageResponse {
    message: &'static str,
}

impl MfaEndpoints {
    /// The endpoints over `auth` (tokens, sessions, users) and `mfa`.
    pub fn new(auth: AuthState, mfa: MfaService) -> Self {
        Self { auth, mfa }
    }

    /// The four routes; all but `/mfa/login` require authentication.
    pub fn router(&self) -> Router {
        let protected = Router::new()
            .route(
                "/api/v1/auth/mfa/setup",
                MethodRouter::new().post(handler(self.clone(), setup)),
            )
            .route(
                "/api/v1/auth/mfa/verify",
                MethodRouter::new().post(handler(self.clone(), verify)),
            )
            .route(
                "/api/v1/auth/mfa/disable",
                MethodRouter::new().post(handler(self.clone(), disable)),
            )
            .layer(self.auth.layer());
        Router::new()
            .route(
                "/api/v1/auth/mfa/login",
                MethodRouter::new().post(handler(self.clone(), login)),
            )
            .merge(protected)
    }
}

fn principal(request: &Request) -> Result<Principal, ApiError> {
    // Behind the AuthLayer it is always there; its absence is a wiring
    // bug, answered as unauthenticated rather than a panic.
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::NotAuthenticated)
}

/// Responses carrying secrets or recovery codes must not be cached.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn bad_request(code: &'static str, detail: &str) -> ApiError {
    ApiError::BadRequest {
        code,
        detail: detail.to_owned(),
    }
}

/// The mapping shared by every endpoint; `invalid_code` differs (400 on
/// the account endpoints, 401 on the login).
fn api_error(err: MfaError, invalid_code: fn() -> ApiError) -> ApiError {
    match err {
        MfaError::AlreadyEnabled => bad_request("mfa_already_enabled", "MFA is already enabled."),
        MfaError::NotEnabled => bad_request("mfa_not_enabled", "MFA is not enabled."),
        MfaError::SetupRequired => bad_request(
            "mfa_setup_required",
            "No MFA setup is pending (or it expired): call /mfa/setup first.",
        ),
        MfaError::InvalidCode => invalid_code(),
        MfaError::TokenUsed => invalid_mfa_token(),
        MfaError::LockedOut { retry_after_secs } => ApiError::RateLimited { retry_after_secs },
        MfaError::Store(err) => err.into(),
        err @ (MfaError::Undecryptable | MfaError::Provisioning(_)) => ApiError::internal(err),
    }
}

fn invalid_mfa_code_400() -> ApiError {
    bad_request(
        "invalid_mfa_code",
        "The code is invalid or was already used.",
    )
}

fn invalid_mfa_code_401() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_mfa_code",
        detail: "The code is invalid or was already used.".to_owned(),
    }
}

fn invalid_mfa_token() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_mfa_token",
        detail: "The MFA token is invalid, expired or already used: log in again.".to_owned(),
    }
}

async fn setup(state: MfaEndpoints, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    let user = state
        .auth
        .users
        .user_by_id(principal.user_id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    let provisioning = state
        .mfa
        .setup(user.id, &user.email, Utc::now())
        .await
        .map_err(|err| api_error(err, invalid_mfa_code_400))?;
    Ok(no_store(json(&provisioning)))
}

async fn verify(state: MfaEndpoints, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    let body: CodeBody = parse_json(&request)?;
    let codes = state
        .mfa
        .verify(principal.user_id, &body.code, Utc::now())
        .await
        .map_err(|err| api_error(err, invalid_mfa_code_400))?;
    revoke_others(&state, &principal).await?;
    tracing::info!(user_id = %principal.user_id, "MFA enabled");
    Ok(no_store(json(&VerifyResponse {
        message: "MFA enabled successfully",
        recovery_codes: codes.iter().map(ToString::to_string).collect(),
    })))
}

async fn disable(state: MfaEndpoints, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    let body: CodeBody = parse_json(&request)?;
    state
        .mfa
        .disable(principal.user_id, &body.code, Utc::now())
        .await
        .map_err(|err| api_error(err, invalid_mfa_code_400))?;
    revoke_others(&state, &principal).await?;
    tracing::info!(user_id = %principal.user_id, "MFA disabled");
    Ok(json(&MessageResponse {
        message: "MFA disabled",
    }))
}

/// A change of the second factor ends every other session: whoever else
/// holds one (perhaps the reason for the change) must log in again.
async fn revoke_others(state: &MfaEndpoints, principal: &Principal) -> Result<(), ApiError> {
    state
        .auth
        .auth
        .sessions()
        .revoke_all_except(principal.user_id, Some(principal.session_id))
        .await?;
    Ok(())
}

async fn login(state: MfaEndpoints, request: Request) -> Result<Response, ApiError> {
    let body: LoginBody = parse_json(&request)?;
    let now = Utc::now();
    let claims = state
        .auth
        .auth
        .keys()
        .verify_mfa(&body.mfa_token, now)
        .map_err(|_| invalid_mfa_token())?;
    let user_id: Uuid = claims.sub;
    let challenge = LoginChallenge {
        token_id: claims.jti,
        expires_at: claims.exp,
    };
    state
        .mfa
        .complete_login(user_id, challenge, &body.code, now)
        .await
        .map_err(|err| match err {
            // MFA switched off, or the user gone, since the password step:
            // this token no longer describes a pending login.
            MfaError::NotEnabled | MfaError::Store(crate::store::StoreError::NotFound) => {
                invalid_mfa_token()
            }
            err => api_error(err, invalid_mfa_code_401),
        })?;
    tracing::info!(%user_id, "MFA login");
    complete_login(&state.auth, user_id, &request).await
}
