//! The login endpoints, mountable under any prefix
//! (TradeSense mounts them at `/api/v1/auth`): `login` (JSON) and `token`
//! (OAuth2 password form) in [`AuthState::login_routes`], `logout` and
//! `logout-all` in [`AuthState::logout_routes`] (registration is
//! `register.rs`'s); and [`complete_login`], the session-issuing step the
//! MFA and passkey modules finish their own logins with.

use super::Principal;
use super::state::AuthState;
use crate::error::{ApiError, Problem};
use crate::events::{EventContext, SecurityEventType};
use crate::http::{Form, Json, guard};
use crate::ratelimit::ClientIp;
use crate::users::Email;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

impl AuthState {
    /// The password logins, relative to where they are mounted: `/login`
    /// (JSON) and `/token` (the OAuth2 password form), behind the
    /// [origin rule](Self::origin_layer). With their OpenAPI paths (nesting
    /// prefixes them).
    pub fn login_routes(&self) -> OpenApiRouter {
        let origin = self.origin_layer();
        OpenApiRouter::new()
            .routes(guard(routes!(login), origin.clone()))
            .routes(guard(routes!(token), origin))
            .with_state(self.clone())
    }

    /// `/logout` and `/logout-all`, behind this state's
    /// [`AuthLayer`](super::AuthLayer).
    pub fn logout_routes(&self) -> OpenApiRouter {
        OpenApiRouter::new()
            .routes(guard(routes!(logout), self.layer()))
            .routes(guard(routes!(logout_all), self.layer()))
            .with_state(self.clone())
    }
}

/// `{"access_token", "token_type": "bearer", "expires_in"}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// `{"mfa_required": true, "mfa_token", "token_type": "mfa"}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MfaRequiredResponse {
    /// Always `true`.
    pub mfa_required: bool,
    /// The MFA-pending token, good only for `/auth/mfa/login`.
    pub mfa_token: String,
    /// Always `mfa`.
    pub token_type: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginBody {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct TokenForm {
    username: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    grant_type: Option<String>,
    #[allow(dead_code)]
    scope: Option<String>,
}

/// Log in with email and password; sets the `auth-token` cookie.
#[utoipa::path(post, path = "/login", operation_id = "auth_login", tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "The token (and the cookie), or `mfa_required` with an MFA token and no cookie", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_origin_mismatch`: a foreign `Origin`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, or the account is temporarily locked", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<AuthState>,
    client: LoginClient,
    Json(body): Json<LoginBody>,
) -> Result<Response, ApiError> {
    password_login(&state, &body.email, &body.password, &client).await
}

/// OAuth2 password flow (what Swagger's "Authorize" uses).
#[utoipa::path(post, path = "/token", operation_id = "auth_token", tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "As `/login`", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_origin_mismatch`: a foreign `Origin`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not a form", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn token(
    State(state): State<AuthState>,
    client: LoginClient,
    Form(form): Form<TokenForm>,
) -> Result<Response, ApiError> {
    if form.grant_type.as_deref().is_some_and(|g| g != "password") {
        return Err(ApiError::BadRequest {
            code: "unsupported_grant_type",
            detail: "Only grant_type=password is supported.".to_owned(),
        });
    }
    password_login(&state, &form.username, &form.password, &client).await
}

/// The client of a request as sessions and security events record it: the
/// user agent and the client address (the one the rate limiter resolved).
#[derive(Debug, Clone, Default)]
pub struct LoginClient {
    /// `User-Agent`, at most 512 characters.
    pub user_agent: Option<String>,
    /// The client IP.
    pub ip: Option<String>,
    /// The request's id (`X-Request-ID`), for the logs.
    pub request_id: Option<String>,
}

impl LoginClient {
    /// The context of a security event from this client in `session`.
    pub fn event_context(&self, session: Option<Uuid>) -> EventContext {
        EventContext {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            session_id: session,
            request_id: self.request_id.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LoginClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|ua| ua.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        // The address the rate limiter resolved (trusted proxies applied),
        // else the peer itself: one client address for limits and sessions.
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map(|ClientIp(ip)| *ip)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip())
            })
            .map(|ip| ip.to_string());
        let request_id = parts
            .extensions
            .get::<crate::telemetry::RequestId>()
            .map(|id| id.as_str().to_owned());
        Ok(Self {
            user_agent,
            ip,
            request_id,
        })
    }
}

/// The shared password step of `/login` and `/token`. Unknown emails (even
/// malformed ones) cost one argon2 verification, like a wrong password, and
/// get the same answer.
async fn password_login(
    state: &AuthState,
    email: &str,
    password: &SecretString,
    client: &LoginClient,
) -> Result<Response, ApiError> {
    // The account as the throttle and the logs name it: normalised like the
    // stored emails, whether or not it parses as one.
    let account = Email::normalize(email);
    // Account protection: the attempt is reserved (and counted) before any
    // password is checked, for known and unknown emails alike (no
    // enumeration, no oracle); a locked account is refused here.
    let attempt = state
        .login_throttle()
        .reserve(&account)
        .await
        .map_err(|locked| {
            tracing::warn!(email_pseudonym = %state.pseudonyms().short(&account), outcome = "locked", "login attempt");
            // `account_locked` was recorded by the failure that set it.
            super::reauth::locked(locked)
        })?;
    let credentials = match Email::parse(email) {
        Ok(email) => state.users().credentials_by_email(&email).await?,
        Err(_) => None,
    };
    let phc = credentials.as_ref().map(|c| c.password_hash.as_str());
    let verified = state.hasher().verify(password, phc).await;
    let ip = client.ip.as_deref().unwrap_or("-");
    // A wrong password needs nothing more: the reservation counted it.
    let (user_id, password_hash) = match credentials {
        Some(credentials) if verified => {
            attempt.succeeded().await;
            (credentials.id, credentials.password_hash)
        }
        Some(credentials) => {
            tracing::warn!(user_id = %credentials.id, ip, outcome = "wrong_password", "login attempt");
            state
                .record_event(SecurityEventType::LoginFailed, credentials.id, client, None)
                .await;
            if attempt.locks_on_failure() {
                state
                    .record_event(
                        SecurityEventType::AccountLocked,
                        credentials.id,
                        client,
                        None,
                    )
                    .await;
            }
            return Err(invalid_credentials());
        }
        None => {
            tracing::warn!(email_pseudonym = %state.pseudonyms().short(&account), ip, outcome = "unknown_email", "login attempt");
            return Err(invalid_credentials());
        }
    };
    if state.needs_second_factor(user_id).await? {
        tracing::info!(%user_id, ip, outcome = "mfa_required", "login attempt");
        // Bound to the password just checked: a password change voids it.
        let mfa_token = state
            .auth()
            .keys()
            .issue_mfa(user_id, &password_hash, Utc::now());
        // A token response too: never stored by a cache (RFC 6749 §5.1).
        let body = Json(MfaRequiredResponse {
            mfa_required: true,
            mfa_token,
            token_type: "mfa".to_owned(),
        });
        return Ok((
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            body,
        )
            .into_response());
    }
    tracing::info!(%user_id, ip, outcome = "success", "login attempt");
    complete_login(state, user_id, client).await
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_credentials",
        detail: "Incorrect email or password.".to_owned(),
    }
}

/// Finishes a login for `user_id` (whose credentials the caller has fully
/// checked): creates a fresh session with the request's user agent and
/// client address, and answers `200` with the token response and the auth
/// cookie. The MFA module calls this after a valid second factor.
pub async fn complete_login(
    state: &AuthState,
    user_id: Uuid,
    client: &LoginClient,
) -> Result<Response, ApiError> {
    let token = state
        .auth()
        .start_session(user_id, client.user_agent.clone(), client.ip.clone())
        .await?;
    // The session id, for the event: the token we just signed names it.
    let session = state
        .auth()
        .keys()
        .verify_access(&token, Utc::now())
        .ok()
        .map(|claims| claims.sid);
    state
        .record_event(SecurityEventType::LoginSucceeded, user_id, client, session)
        .await;
    let ttl = state.auth().keys().access_ttl();
    let cookie = state
        .auth()
        .cookie()
        .set(&token, ttl)
        .map_err(ApiError::internal)?;
    let body = Json(TokenResponse {
        access_token: token,
        token_type: "bearer".to_owned(),
        expires_in: ttl.as_secs(),
    });
    // Token responses must not be cached by intermediaries (RFC 6749 §5.1).
    let headers = [
        (header::SET_COOKIE, cookie),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, body).into_response())
}

/// End this session: revokes it and clears the cookie.
#[utoipa::path(post, path = "/logout", operation_id = "auth_logout", tag = "auth",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn logout(
    State(state): State<AuthState>,
    principal: Principal,
    client: LoginClient,
) -> Result<impl IntoResponse, ApiError> {
    state
        .auth()
        .sessions()
        .revoke(principal.user_id, principal.session_id)
        .await?;
    Ok(logged_out(&state, &principal, &client).await)
}

/// What both logouts answer once the sessions are revoked: the `logout`
/// event in the caller's session, `204` and the cleared cookie.
async fn logged_out(
    state: &AuthState,
    principal: &Principal,
    client: &LoginClient,
) -> impl IntoResponse + use<> {
    state
        .record_event(
            SecurityEventType::Logout,
            principal.user_id,
            client,
            Some(principal.session_id),
        )
        .await;
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, state.auth().cookie().clear())],
    )
}

/// Log out everywhere: revokes every session of the user, this one
/// included, and clears the cookie (a lost device, a shared computer left
/// signed in).
#[utoipa::path(post, path = "/logout-all", operation_id = "auth_logout_all", tag = "auth",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 204, description = "Every session of the user is over"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_origin_mismatch`: cookie-authenticated from a foreign `Origin`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn logout_all(
    State(state): State<AuthState>,
    principal: Principal,
    client: LoginClient,
) -> Result<impl IntoResponse, ApiError> {
    let revoked = state
        .auth()
        .sessions()
        .revoke_all_except(principal.user_id, None)
        .await?;
    tracing::info!(user_id = %principal.user_id, revoked_sessions = revoked, "logged out everywhere");
    Ok(logged_out(&state, &principal, &client).await)
}
