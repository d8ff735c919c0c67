//! The auth endpoints under `/api/v1/auth`: `register`, `login` (JSON),
//! `token` (OAuth2 password form), `logout`; and [`complete_login`], the
//! session-issuing step the MFA module finishes its own login with.

use super::Principal;
use super::cookie::{auth_cookie, clear_auth_cookie};
use super::layer::{AuthLayer, Authenticator};
use super::password::{Password, PasswordHasher};
use super::session::Sessions;
use super::token::TokenKeys;
use crate::cache::Cache;
use crate::config::Settings;
use crate::error::{ApiError, FieldError};
use crate::http::{
    ClientAddr, MethodRouter, Request, Response, Router, handler, json, json_with_status,
    no_content, parse_form, parse_json,
};
use crate::store::SqlStore;
use crate::store::StoreError;
use crate::users::{Email, NewUser, UserStore};
use chrono::Utc;
use http::{StatusCode, header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

/// What the auth and user endpoints share. Cheap to clone.
#[derive(Clone)]
pub struct AuthState {
    /// Token verification and sessions.
    pub auth: Authenticator,
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// argon2id on the blocking pool.
    pub hasher: PasswordHasher,
    /// Whether cookies get `Secure` (production).
    pub secure_cookies: bool,
    /// Origins trusted for CORS and CSRF (`CORS_ORIGINS`).
    pub trusted_origins: Vec<String>,
    /// Slows down repeated failed logins per account.
    pub login_throttle: crate::ratelimit::LoginThrottle,
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthState")
            .field("auth", &self.auth)
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

impl AuthState {
    /// The state the TradeSense server runs with: keys from the settings,
    /// users and sessions in `store`, session liveness in `cache`, two
    /// concurrent argon2 hashes, `Secure` cookies in production, failed
    /// logins throttled per account by `login_throttle`.
    pub fn from_settings(
        settings: &Settings,
        store: &SqlStore,
        cache: &Cache,
        login_throttle: crate::ratelimit::LoginThrottle,
    ) -> Self {
        let sessions = Sessions::new(Arc::new(store.clone()), cache);
        Self {
            auth: Authenticator::new(TokenKeys::from_settings(settings), sessions),
            users: Arc::new(store.clone()),
            hasher: PasswordHasher::default(),
            secure_cookies: settings.is_production(),
            trusted_origins: settings.cors_origins.clone(),
            login_throttle,
        }
    }

    /// The layer protecting routes with this state's authenticator.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.auth.clone()).with_trusted_origins(self.trusted_origins.clone())
    }

    /// The `/api/v1/auth` routes. `logout` is behind the [`AuthLayer`].
    pub fn auth_router(&self) -> Router {
        let protected = Router::new()
            .route(
                "/api/v1/auth/logout",
                MethodRouter::new().post(handler(self.clone(), logout)),
            )
            .layer(self.layer());
        Router::new()
            .route(
                "/api/v1/auth/register",
                MethodRouter::new().post(handler(self.clone(), register)),
            )
            .route(
                "/api/v1/auth/login",
                MethodRouter::new().post(handler(self.clone(), login)),
            )
            .route(
                "/api/v1/auth/token",
                MethodRouter::new().post(handler(self.clone(), token)),
            )
            .merge(protected)
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
pub(crate) struct RegisterBody {
    email: String,
    password: String,
    full_name: String,
}

/// A display name: trimmed, 1-200 characters.
pub(crate) fn parse_full_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 200 || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "full_name",
            "must be 1 to 200 characters, without control characters",
        ));
    }
    Ok(name.to_owned())
}

async fn register(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let body: RegisterBody = parse_json(&request)?;
    let mut errors = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|err| errors.push(FieldError::new("email", err.to_string())));
    let full_name = parse_full_name(&body.full_name).map_err(|err| errors.push(err));
    let password = Password::parse(&body.password, &[&body.email, &body.full_name])
        .map_err(|err| errors.push(FieldError::new("password", err.to_string())));
    let (Ok(email), Ok(full_name), Ok(password)) = (email, full_name, password) else {
        return Err(ApiError::Validation(errors));
    };
    let password_hash = state
        .hasher
        .hash(&password)
        .await
        .map_err(ApiError::internal)?;
    let user = state
        .users
        .create_user(NewUser {
            email,
            password_hash,
            full_name,
        })
        .await
        .map_err(|err| match err {
            StoreError::Conflict(_) => ApiError::Conflict {
                code: "email_taken",
                detail: "An account with this email already exists.".to_owned(),
            },
            other => other.into(),
        })?;
    tracing::info!(user_id = %user.id, "user registered");
    Ok(json_with_status(StatusCode::CREATED, &user))
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

async fn login(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let body: LoginBody = parse_json(&request)?;
    password_login(&state, &body.email, &body.password, &request).await
}

async fn token(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let form: TokenForm = parse_form(&request)?;
    if form.grant_type.as_deref().is_some_and(|g| g != "password") {
        return Err(ApiError::BadRequest {
            code: "unsupported_grant_type",
            detail: "Only grant_type=password is supported.".to_owned(),
        });
    }
    password_login(&state, &form.username, &form.password, &request).await
}

fn client_ip(request: &Request) -> Option<String> {
    request
        .extensions()
        .get::<ClientAddr>()
        .map(|addr| addr.0.ip().to_string())
}

/// A short hash of an email for logs: failed attempts are traceable
/// without writing addresses (personal data) into logs.
fn email_hash(email: &str) -> String {
    hex::encode(&Sha256::digest(email.trim().to_lowercase().as_bytes())[..8])
}

/// The shared password step of `/login` and `/token`. Unknown emails (even
/// malformed ones) cost one argon2 verification, like a wrong password, and
/// get the same answer.
async fn password_login(
    state: &AuthState,
    email: &str,
    password: &SecretString,
    request: &Request,
) -> Result<Response, ApiError> {
    // Account protection: a locked account is refused before any password
    // check, for known and unknown emails alike (no enumeration, no oracle).
    if let Err(retry) = state.login_throttle.check(email).await {
        return Err(ApiError::RateLimited {
            retry_after_secs: retry.as_secs() + u64::from(retry.subsec_nanos() > 0),
        });
    }
    let credentials = match Email::parse(email) {
        Ok(email) => state.users.credentials_by_email(&email).await?,
        Err(_) => None,
    };
    let phc = credentials.as_ref().map(|c| c.password_hash.as_str());
    let verified = state.hasher.verify(password, phc).await;
    let ip = client_ip(request);
    let ip = ip.as_deref().unwrap_or("-");
    let user = match credentials {
        Some(credentials) if verified => {
            state.login_throttle.record_success(email).await;
            credentials.user
        }
        Some(credentials) => {
            state.login_throttle.record_failure(email).await;
            tracing::warn!(user_id = %credentials.user.id, ip, outcome = "wrong_password", "login attempt");
            return Err(invalid_credentials());
        }
        None => {
            state.login_throttle.record_failure(email).await;
            tracing::warn!(email_hash = %email_hash(email), ip, outcome = "unknown_email", "login attempt");
            return Err(invalid_credentials());
        }
    };
    if user.mfa_enabled {
        tracing::info!(user_id = %user.id, ip, outcome = "mfa_required", "login attempt");
        let mfa_token = state.auth.keys().issue_mfa(user.id, Utc::now());
        return Ok(json(&MfaRequiredResponse {
            mfa_required: true,
            mfa_token,
            token_type: "mfa".to_owned(),
        }));
    }
    tracing::info!(user_id = %user.id, ip, outcome = "success", "login attempt");
    complete_login(state, user.id, request).await
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
    request: &Request,
) -> Result<Response, ApiError> {
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    let token = state
        .auth
        .start_session(user_id, user_agent, client_ip(request))
        .await?;
    let ttl = state.auth.keys().access_ttl();
    let mut response = json(&TokenResponse {
        access_token: token.clone(),
        token_type: "bearer".to_owned(),
        expires_in: ttl.as_secs(),
    });
    response.headers_mut().insert(
        header::SET_COOKIE,
        auth_cookie(&token, ttl, state.secure_cookies),
    );
    // Token responses must not be cached by intermediaries (RFC 6749 §5.1).
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The principal the [`AuthLayer`] established. Its absence behind the
/// layer is a wiring bug, answered as unauthenticated rather than a panic.
pub(crate) fn principal(request: &Request) -> Result<Principal, ApiError> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::NotAuthenticated)
}

async fn logout(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    state
        .auth
        .sessions()
        .revoke(principal.user_id, principal.session_id)
        .await?;
    tracing::info!(user_id = %principal.user_id, session = %principal.session_id, "logout");
    let mut response = no_content();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_auth_cookie(state.secure_cookies));
    Ok(response)
}
