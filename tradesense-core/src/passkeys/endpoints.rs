//! The passkey endpoints, mountable under any prefix: [`PasskeyEndpoints::routes`]
//! (TradeSense mounts them at `/api/v1/auth`) has the two ceremonies,
//! [`PasskeyEndpoints::user_routes`] (at `/api/v1/users`) the owner's list
//! and removal.
//!
//! Built on `auth`'s public pieces only: re-authentication through
//! [`AuthState::reauthenticate`] (the account throttle of the password
//! logins), the session, token and cookie of [`complete_login`] (one login
//! path for passwords, MFA and passkeys), the security events of
//! [`AuthState::record_event`].

use super::service::{PasskeyError, PasskeyService, Started, parse_passkey_name};
use super::store::PasskeyRecord;
use super::wire::{AuthenticationCredential, RegistrationCredential};
use crate::auth::{AuthState, LoginClient, Principal, TokenResponse, complete_login};
use crate::error::{ApiError, Problem};
use crate::events::SecurityEventType;
use crate::http::{Json, Path, guard};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode, header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// State of the passkey endpoints. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PasskeyEndpoints {
    auth: AuthState,
    passkeys: PasskeyService,
}

impl PasskeyEndpoints {
    /// The endpoints over `auth` (users, sessions, tokens, events) and
    /// `passkeys`.
    pub fn new(auth: AuthState, passkeys: PasskeyService) -> Self {
        Self { auth, passkeys }
    }

    /// The ceremonies, relative to where they are mounted:
    /// `/passkeys/register/{start,finish}` behind the auth state's
    /// [`AuthLayer`](crate::auth::AuthLayer), `/passkeys/login/{start,finish}`
    /// behind its [origin rule](AuthState::origin_layer) (credential routes:
    /// give them the strict auth rate limit too).
    pub fn routes(&self) -> OpenApiRouter {
        let auth = self.auth.layer();
        let origin = self.auth.origin_layer();
        OpenApiRouter::new()
            .routes(guard(routes!(register_start), auth.clone()))
            .routes(guard(routes!(register_finish), auth))
            .routes(guard(routes!(login_start), origin.clone()))
            .routes(guard(routes!(login_finish), origin))
            .with_state(self.clone())
    }

    /// `/me/passkeys` and `/me/passkeys/{id}`, relative to where they are
    /// mounted, behind the [`AuthLayer`](crate::auth::AuthLayer).
    pub fn user_routes(&self) -> OpenApiRouter {
        let auth = self.auth.layer();
        OpenApiRouter::new()
            .routes(guard(routes!(list_passkeys), auth.clone()))
            .routes(guard(routes!(delete_passkey), auth))
            .with_state(self.clone())
    }
}

/// A passkey as its owner sees it (never the key or the credential id).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PasskeyItem {
    /// The passkey's id.
    pub id: Uuid,
    /// The owner's name for it.
    pub name: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last logged in.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&PasskeyRecord> for PasskeyItem {
    fn from(record: &PasskeyRecord) -> Self {
        Self {
            id: record.id,
            name: record.name.clone(),
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PasskeyList {
    items: Vec<PasskeyItem>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RegisterStartBody {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// What to call the passkey (default `Passkey`).
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RegisterFinishBody {
    challenge_id: Uuid,
    credential: RegistrationCredential,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginStartBody {}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginFinishBody {
    challenge_id: Uuid,
    credential: AuthenticationCredential,
}

/// `invalid_passkey`: 400 on the signed-in registration (a 401 would make
/// frontends drop the session), 401 on the login.
fn api_error(err: PasskeyError, status: StatusCode, ceremony: &'static str) -> ApiError {
    let detail = "The passkey could not be verified: start again.".to_owned();
    match err {
        PasskeyError::Invalid(reason) => {
            tracing::warn!(ceremony, %reason, "passkey refused");
            if status == StatusCode::UNAUTHORIZED {
                ApiError::Unauthorized {
                    code: "invalid_passkey",
                    detail,
                }
            } else {
                ApiError::BadRequest {
                    code: "invalid_passkey",
                    detail,
                }
            }
        }
        PasskeyError::Shape(shape) => {
            ApiError::invalid(format!("credential.{}", shape.field), shape.message)
        }
        PasskeyError::Store(err) => err.into(),
        err @ PasskeyError::Internal(_) => ApiError::internal(err),
    }
}

/// Ceremony options and token-like answers are per request: never cached.
fn no_store(body: impl IntoResponse) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        body,
    )
        .into_response()
}

/// Start adding a passkey (asks for the current password first).
#[utoipa::path(post, path = "/passkeys/register/start", operation_id = "passkey_register_start", tag = "passkeys",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = RegisterStartBody,
    responses(
        (status = 200, description = "`options` for `PublicKeyCredential.parseCreationOptionsFromJSON()`: a resident key and user verification required, the user's passkeys excluded; good for 5 minutes", body = Started),
        (status = 400, description = "`invalid_current_password`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`current_password` missing, or a bad `name`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: the account is locked after repeated wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register_start(
    State(state): State<PasskeyEndpoints>,
    principal: Principal,
    client: LoginClient,
    Json(body): Json<RegisterStartBody>,
) -> Result<Response, ApiError> {
    // Judged before the password: a refusal costs the throttle nothing.
    let name = body
        .name
        .as_deref()
        .map(parse_passkey_name)
        .transpose()
        .map_err(|message| ApiError::invalid("name", message))?;
    let user = state
        .auth
        .reauthenticate(principal.user_id, &body.current_password, &client)
        .await?;
    // The authenticator shows the login identifier: auth knows no display
    // name (that is the application's profile).
    let started = state
        .passkeys
        .start_registration(user.id, &user.email, &user.email, name)
        .await
        .map_err(|err| api_error(err, StatusCode::BAD_REQUEST, "registration"))?;
    Ok(no_store(Json(started)))
}

/// Finish adding a passkey.
#[utoipa::path(post, path = "/passkeys/register/finish", operation_id = "passkey_register_finish", tag = "passkeys",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = RegisterFinishBody,
    responses(
        (status = 201, description = "The new passkey; the user's other sessions are revoked", body = PasskeyItem),
        (status = 400, description = "`invalid_passkey`: attestation, origin or RP ID wrong; the challenge unknown, used, expired or another user's", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed `credential` (the field is named)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register_finish(
    State(state): State<PasskeyEndpoints>,
    principal: Principal,
    client: LoginClient,
    Json(body): Json<RegisterFinishBody>,
) -> Result<(StatusCode, Json<PasskeyItem>), ApiError> {
    let record = state
        .passkeys
        .finish_registration(principal.user_id, body.challenge_id, &body.credential)
        .await
        .map_err(|err| api_error(err, StatusCode::BAD_REQUEST, "registration"))?;
    // A new way in: every other session ends, as after a password change.
    let revoked = state.auth.revoke_other_sessions(&principal).await?;
    state
        .auth
        .record_event(
            SecurityEventType::PasskeyAdded,
            principal.user_id,
            &client,
            Some(principal.session_id),
        )
        .await;
    tracing::info!(user_id = %principal.user_id, passkey_id = %record.id, revoked_sessions = revoked, "passkey added");
    Ok((StatusCode::CREATED, Json(PasskeyItem::from(&record))))
}

/// Start a passkey login.
#[utoipa::path(post, path = "/passkeys/login/start", operation_id = "passkey_login_start", tag = "passkeys",
    request_body = LoginStartBody,
    responses(
        (status = 200, description = "`options` for `PublicKeyCredential.parseRequestOptionsFromJSON()`: no `allowCredentials` (discoverable credentials), user verification required; good for 5 minutes", body = Started),
        (status = 403, description = "`csrf_origin_mismatch`: a foreign `Origin`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login_start(
    State(state): State<PasskeyEndpoints>,
    Json(_body): Json<LoginStartBody>,
) -> Result<Response, ApiError> {
    let started = state
        .passkeys
        .start_login()
        .await
        .map_err(|err| api_error(err, StatusCode::UNAUTHORIZED, "login"))?;
    Ok(no_store(Json(started)))
}

/// Log in with a passkey; sets the `auth-token` cookie. No TOTP code is
/// asked: a passkey with user verification is itself two factors.
#[utoipa::path(post, path = "/passkeys/login/finish", operation_id = "passkey_login_finish", tag = "passkeys",
    request_body = LoginFinishBody,
    responses(
        (status = 200, description = "The token (and the cookie), as `/login`", body = TokenResponse),
        (status = 401, description = "`invalid_passkey`: unknown or removed credential, bad signature, challenge used or expired, a signature counter that went backwards", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_origin_mismatch`: a foreign `Origin`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed `credential` (the field is named)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login_finish(
    State(state): State<PasskeyEndpoints>,
    client: LoginClient,
    Json(body): Json<LoginFinishBody>,
) -> Result<Response, ApiError> {
    let login = state
        .passkeys
        .finish_login(body.challenge_id, &body.credential)
        .await
        .map_err(|err| api_error(err, StatusCode::UNAUTHORIZED, "login"))?;
    // A passkey outliving its user (an embedder's users table knows
    // nothing of ours): no identity to log into.
    if state
        .auth
        .users()
        .credentials_by_id(login.user_id)
        .await?
        .is_none()
    {
        return Err(api_error(
            PasskeyError::Invalid("the passkey's user is gone".to_owned()),
            StatusCode::UNAUTHORIZED,
            "login",
        ));
    }
    tracing::info!(user_id = %login.user_id, passkey_id = %login.passkey_id, "passkey login");
    complete_login(&state.auth, login.user_id, &client).await
}

/// The user's passkeys, oldest first.
#[utoipa::path(get, path = "/me/passkeys", tag = "passkeys",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "The passkeys", body = PasskeyList),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_passkeys(
    State(state): State<PasskeyEndpoints>,
    principal: Principal,
) -> Result<Json<PasskeyList>, ApiError> {
    let passkeys = state
        .passkeys
        .passkeys_of(principal.user_id)
        .await
        .map_err(|err| api_error(err, StatusCode::BAD_REQUEST, "list"))?;
    Ok(Json(PasskeyList {
        items: passkeys.iter().map(PasskeyItem::from).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RemoveBody {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
}

/// Remove one of the user's passkeys (asks for the current password
/// first); the user's other sessions are revoked.
#[utoipa::path(delete, path = "/me/passkeys/{id}", tag = "passkeys",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = uuid::Uuid, Path, description = "The passkey's id")),
    request_body = RemoveBody,
    responses(
        (status = 204, description = "Removed: it logs in no more, and the user's other sessions are over"),
        (status = 400, description = "`invalid_current_password`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not one of the user's passkeys", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: no JSON body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`current_password` missing", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: the account is locked after repeated wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_passkey(
    State(state): State<PasskeyEndpoints>,
    principal: Principal,
    client: LoginClient,
    Path(id): Path<Uuid>,
    Json(body): Json<RemoveBody>,
) -> Result<StatusCode, ApiError> {
    // Re-authentication first (SECURITY.md 7.5.1): a stolen session alone
    // must not strip the owner's way back in.
    state
        .auth
        .reauthenticate(principal.user_id, &body.current_password, &client)
        .await?;
    let removed = state
        .passkeys
        .remove(principal.user_id, id)
        .await
        .map_err(|err| api_error(err, StatusCode::BAD_REQUEST, "remove"))?;
    if !removed {
        return Err(ApiError::NotFound("passkey"));
    }
    let revoked = state.auth.revoke_other_sessions(&principal).await?;
    tracing::info!(user_id = %principal.user_id, passkey_id = %id, revoked_sessions = revoked, "passkey removed");
    state
        .auth
        .record_event(
            SecurityEventType::PasskeyRemoved,
            principal.user_id,
            &client,
            Some(principal.session_id),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
