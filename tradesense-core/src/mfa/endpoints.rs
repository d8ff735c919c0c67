//! The MFA endpoints, mountable under any prefix (TradeSense mounts them at
//! `/api/v1/auth/mfa`): `/setup`, `/verify` and `/disable` behind the
//! [`AuthLayer`](crate::auth::AuthLayer), and the public `/login` that
//! exchanges an MFA-pending token and a code for the normal token response
//! and cookie.
//!
//! Built on `auth`'s public pieces only (the MFA-pending token check,
//! `complete_login`, `AuthState::revoke_other_sessions`); `auth` knows nothing
//! of this module.

use super::service::{LoginChallenge, MfaError, MfaService};
use super::totp::{Provisioning, TotpCode};
use crate::auth::{AuthState, LoginClient, Principal, SecondFactor, TokenResponse, complete_login};
use crate::error::{ApiError, Problem};
use crate::events::SecurityEventType;
use crate::http::{Json, guard};
use crate::store::StoreError;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::{HeaderValue, header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
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
pub(crate) struct SetupBody {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
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
    /// The endpoints over `auth` (tokens, sessions, users) and `mfa`. Also
    /// makes `auth`'s password logins ask `mfa` whether an account needs
    /// its second factor ([`AuthState::require_second_factor`]), so MFA
    /// cannot be mounted without its logins asking for it.
    pub fn new(auth: AuthState, mfa: MfaService) -> Self {
        if !auth.require_second_factor(std::sync::Arc::new(mfa.clone())) {
            tracing::warn!("the auth state's logins already ask another second factor");
        }
        Self { auth, mfa }
    }

    /// The four routes, relative to where they are mounted; all but
    /// `/login` behind the auth state's [`AuthLayer`](crate::auth::AuthLayer).
    pub fn routes(&self) -> OpenApiRouter {
        let auth = self.auth.layer();
        OpenApiRouter::new()
            .routes(guard(routes!(login), self.auth.origin_layer()))
            .routes(guard(routes!(setup), auth.clone()))
            .routes(guard(routes!(verify), auth.clone()))
            .routes(guard(routes!(disable), auth))
            .with_state(self.clone())
    }
}

/// "Is MFA on" as the password login asks it: the MFA store's answer (one
/// source of truth), through its cache.
#[async_trait::async_trait]
impl SecondFactor for MfaService {
    async fn required(&self, user_id: Uuid) -> Result<bool, StoreError> {
        match self.is_enabled(user_id).await {
            Ok(enabled) => Ok(enabled),
            Err(MfaError::Store(error)) => Err(error),
            // `is_enabled` only reads the store; anything else is a bug,
            // and a login must not pass without its second factor.
            Err(other) => Err(StoreError::Corrupt(other.to_string())),
        }
    }
}

/// Responses carrying secrets or recovery codes must not be cached.
fn no_store(body: impl IntoResponse) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        body,
    )
        .into_response()
}

/// The events of one code check: `mfa_failed` for a wrong code, and
/// `recovery_code_used` when an accepted code was a recovery code (the
/// service reads a code that is no TOTP code as a recovery code, so its
/// shape tells which one matched).
async fn record_code_check<T>(
    state: &MfaEndpoints,
    result: &Result<T, MfaError>,
    user_id: Uuid,
    code: &str,
    client: &LoginClient,
    session: Option<Uuid>,
) {
    let kind = match result {
        Err(MfaError::InvalidCode) => SecurityEventType::MfaFailed,
        Ok(_) if TotpCode::parse(code).is_none() => SecurityEventType::RecoveryCodeUsed,
        _ => return,
    };
    state
        .auth
        .record_event(kind, user_id, client, session)
        .await;
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
        MfaError::TokenUsed | MfaError::TokenStale => invalid_mfa_token(),
        MfaError::LockedOut { retry_after_secs } => ApiError::RateLimited { retry_after_secs },
        MfaError::Store(err) => err.into(),
        err @ (MfaError::Undecryptable | MfaError::Unsealable | MfaError::Provisioning(_)) => {
            ApiError::internal(err)
        }
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

/// Start enabling MFA: a new pending secret, its URI and QR code. Asks for
/// the current password first: a stolen session must not be able to enrol
/// its own authenticator (and, through `/mfa/verify`, lock the owner out).
#[utoipa::path(post, path = "/setup", operation_id = "mfa_setup", tag = "mfa",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = SetupBody,
    responses(
        (status = 200, description = "The pending secret (valid 10 minutes)", body = Provisioning),
        (status = 400, description = "`mfa_already_enabled` or `invalid_current_password`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`current_password` missing", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: the account is locked after repeated wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
async fn setup(
    State(state): State<MfaEndpoints>,
    principal: Principal,
    client: LoginClient,
    Json(body): Json<SetupBody>,
) -> Result<Response, ApiError> {
    let already = |err| api_error(err, invalid_mfa_code_400);
    // Refused before the password is asked for: nothing to re-authenticate.
    if state
        .mfa
        .is_enabled(principal.user_id)
        .await
        .map_err(already)?
    {
        return Err(already(MfaError::AlreadyEnabled));
    }
    let user = state
        .auth
        .reauthenticate(principal.user_id, &body.current_password, &client)
        .await?;
    let provisioning = state
        .mfa
        .setup(user.id, &user.email, Utc::now())
        .await
        .map_err(already)?;
    Ok(no_store(Json(provisioning)))
}

/// Confirm the pending secret with a code: enables MFA.
#[utoipa::path(post, path = "/verify", operation_id = "mfa_verify", tag = "mfa",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "Enabled; ten single-use recovery codes, shown once", body = VerifyResponse),
        (status = 400, description = "`invalid_mfa_code` or `mfa_setup_required`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn verify(
    State(state): State<MfaEndpoints>,
    principal: Principal,
    client: LoginClient,
    Json(body): Json<CodeBody>,
) -> Result<Response, ApiError> {
    let session = Some(principal.session_id);
    let result = state
        .mfa
        .verify(principal.user_id, &body.code, Utc::now())
        .await;
    // Only a TOTP code can enable MFA: a failure is all there is to record.
    if matches!(result, Err(MfaError::InvalidCode)) {
        record_code_check(
            &state,
            &result,
            principal.user_id,
            &body.code,
            &client,
            session,
        )
        .await;
    }
    let codes = result.map_err(|err| api_error(err, invalid_mfa_code_400))?;
    state.auth.revoke_other_sessions(&principal).await?;
    state
        .auth
        .record_event(
            SecurityEventType::MfaEnabled,
            principal.user_id,
            &client,
            session,
        )
        .await;
    Ok(no_store(Json(VerifyResponse {
        message: "MFA enabled successfully",
        recovery_codes: codes.iter().map(ToString::to_string).collect(),
    })))
}

/// Turn MFA off with a TOTP or recovery code.
#[utoipa::path(post, path = "/disable", operation_id = "mfa_disable", tag = "mfa",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "Disabled", body = MessageResponse),
        (status = 400, description = "`invalid_mfa_code` or `mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn disable(
    State(state): State<MfaEndpoints>,
    principal: Principal,
    client: LoginClient,
    Json(body): Json<CodeBody>,
) -> Result<Json<MessageResponse>, ApiError> {
    let session = Some(principal.session_id);
    let result = state
        .mfa
        .disable(principal.user_id, &body.code, Utc::now())
        .await;
    record_code_check(
        &state,
        &result,
        principal.user_id,
        &body.code,
        &client,
        session,
    )
    .await;
    result.map_err(|err| api_error(err, invalid_mfa_code_400))?;
    state.auth.revoke_other_sessions(&principal).await?;
    state
        .auth
        .record_event(
            SecurityEventType::MfaDisabled,
            principal.user_id,
            &client,
            session,
        )
        .await;
    Ok(Json(MessageResponse {
        message: "MFA disabled",
    }))
}

/// Complete a login that answered `mfa_required`.
#[utoipa::path(post, path = "/login", operation_id = "mfa_login", tag = "mfa",
    request_body = LoginBody,
    responses(
        (status = 200, description = "The token (and the cookie)", body = TokenResponse),
        (status = 401, description = "`invalid_mfa_code` or `invalid_mfa_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_origin_mismatch`: a foreign `Origin`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, or the challenge is locked after repeated failures", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<MfaEndpoints>,
    client: LoginClient,
    Json(body): Json<LoginBody>,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    let claims = state
        .auth
        .auth()
        .keys()
        .verify_mfa(&body.mfa_token, now)
        .map_err(|_| invalid_mfa_token())?;
    let user_id: Uuid = claims.sub;
    // A token from before a password change (or of a user since gone)
    // stands for a password step that no longer holds: refused before any
    // code is looked at.
    let credentials = state.auth.users().credentials_by_id(user_id).await?;
    if !credentials.is_some_and(|c| claims.checked_password(&c.password_hash)) {
        tracing::warn!(%user_id, "MFA-pending token from before a password change");
        return Err(invalid_mfa_token());
    }
    let challenge = LoginChallenge {
        token_id: claims.jti,
        expires_at: claims.exp,
        issued_at_ms: claims.iat_ms,
    };
    let result = state
        .mfa
        .complete_login(user_id, challenge, &body.code, now)
        .await;
    // The session does not exist yet: the login's events name none.
    record_code_check(&state, &result, user_id, &body.code, &client, None).await;
    result.map_err(|err| match err {
        // MFA switched off, or the user gone, since the password step:
        // this token no longer describes a pending login.
        MfaError::NotEnabled | MfaError::Store(crate::store::StoreError::NotFound) => {
            invalid_mfa_token()
        }
        err => api_error(err, invalid_mfa_code_401),
    })?;
    tracing::info!(%user_id, "MFA login");
    complete_login(&state.auth, user_id, &client).await
}
