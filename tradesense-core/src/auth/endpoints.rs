//! The auth state and the login endpoints, mountable under any prefix
//! (TradeSense mounts them at `/api/v1/auth`): `login` (JSON) and `token`
//! (OAuth2 password form) in [`AuthState::login_routes`], `logout` and
//! `logout-all` in [`AuthState::logout_routes`] (registration is
//! `register.rs`'s); and [`complete_login`], the session-issuing step the
//! MFA and passkey modules finish their own logins with.

use super::Principal;
use super::layer::{AuthLayer, Authenticator};
use super::origin::CredentialOriginLayer;
use super::password::{PasswordHasher, PasswordPolicy};
use super::second_factor::SecondFactor;
use crate::error::{ApiError, Problem};
use crate::events::{EventContext, SecurityEvent, SecurityEventType, SecurityEvents};
use crate::http::{Form, Json, guard};
use crate::pseudonym::Pseudonyms;
use crate::ratelimit::{ClientIp, LoginThrottle, ThrottlePolicy};
use crate::users::{Email, UserStore};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// What the auth and user endpoints share. Cheap to clone.
#[derive(Clone)]
pub struct AuthState {
    inner: Arc<AuthStateInner>,
}

struct AuthStateInner {
    auth: Authenticator,
    users: Arc<dyn UserStore>,
    hasher: PasswordHasher,
    trusted_origins: Arc<[String]>,
    login_throttle: LoginThrottle,
    events: SecurityEvents,
    pseudonyms: Pseudonyms,
    password_policy: PasswordPolicy,
    /// Set once: by the builder, or by the MFA endpoints built over this
    /// state (see [`AuthState::require_second_factor`]).
    second_factor: OnceLock<Arc<dyn SecondFactor>>,
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthState")
            .field("auth", &self.inner.auth)
            .field("trusted_origins", &self.inner.trusted_origins)
            .field("password_policy", &self.inner.password_policy)
            .field("second_factor", &self.inner.second_factor.get().is_some())
            .finish_non_exhaustive()
    }
}

/// Builds an [`AuthState`]: [`AuthState::builder`].
pub struct AuthStateBuilder {
    auth: Authenticator,
    users: Arc<dyn UserStore>,
    hasher: PasswordHasher,
    trusted_origins: Vec<String>,
    login_throttle: LoginThrottle,
    events: SecurityEvents,
    pseudonyms: Pseudonyms,
    password_policy: PasswordPolicy,
    second_factor: Option<Arc<dyn SecondFactor>>,
}

impl AuthStateBuilder {
    /// What a new password must be, at registration and at a change
    /// (default: [`PasswordPolicy::default`], TradeSense's).
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.password_policy = policy;
        self
    }

    /// Whose logins need a second factor (default: nobody's, until MFA
    /// endpoints are built over the state, which set their MFA service).
    pub fn second_factor(mut self, second_factor: Arc<dyn SecondFactor>) -> Self {
        self.second_factor = Some(second_factor);
        self
    }

    /// How log lines name an e-mail address that is no account's (an
    /// unknown or locked login): its keyed pseudonym (default: under a
    /// random key of this process; give instances one
    /// [`Pseudonyms::from_secret_key`] to correlate their logs).
    pub fn pseudonyms(mut self, pseudonyms: Pseudonyms) -> Self {
        self.pseudonyms = pseudonyms;
        self
    }

    /// The argon2id hasher (default: two concurrent hashes, OWASP params).
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Origins besides the server's own trusted for cookie-authenticated
    /// unsafe requests (the CSRF rule), e.g. the browser frontend's.
    pub fn trusted_origins(mut self, origins: impl IntoIterator<Item = String>) -> Self {
        self.trusted_origins = origins.into_iter().collect();
        self
    }

    /// The per-account failed-login throttle (default: in-process,
    /// [`ThrottlePolicy::default`]).
    pub fn login_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.login_throttle = throttle;
        self
    }

    /// Where security events go (default: [`SecurityEvents::log_only`]):
    /// the auth, user and MFA endpoints record through it, and
    /// [`AuthState::security_event_routes`] lists them.
    pub fn security_events(mut self, events: SecurityEvents) -> Self {
        self.events = events;
        self
    }

    /// The state.
    pub fn build(self) -> AuthState {
        let second_factor = OnceLock::new();
        if let Some(factor) = self.second_factor {
            let _ = second_factor.set(factor);
        }
        AuthState {
            inner: Arc::new(AuthStateInner {
                auth: self.auth,
                users: self.users,
                hasher: self.hasher,
                trusted_origins: self.trusted_origins.into(),
                login_throttle: self.login_throttle,
                events: self.events,
                pseudonyms: self.pseudonyms,
                password_policy: self.password_policy,
                second_factor,
            }),
        }
    }
}

impl AuthState {
    /// What the auth endpoints need: tokens and sessions (`auth`) and the
    /// user accounts (`users`, any [`UserStore`]: TradeSense's tables or
    /// the embedder's own). Cheap to clone (one reference count).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tradesense_core::auth::{AuthState, Authenticator, PasswordPolicy, Sessions, TokenKeys};
    /// # use tradesense_core::cache::{Cache, CacheConfig};
    /// # fn demo(sessions: Arc<dyn tradesense_core::auth::SessionStore>,
    /// #         users: Arc<dyn tradesense_core::users::UserStore>) {
    /// let keys = TokenKeys::new(b"a-secret-of-at-least-32-bytes!!!", &[], std::time::Duration::from_secs(3600));
    /// let sessions = Sessions::new(sessions, &Cache::in_process(CacheConfig::default()));
    /// let state = AuthState::builder(Authenticator::new(keys, sessions), users)
    ///     .trusted_origins(["https://app.example".to_owned()])
    ///     .password_policy(PasswordPolicy { min_chars: 10, check_strength: true })
    ///     .build();
    /// // Mount with `.nest("/auth", ...)`: each group is optional.
    /// let routes = state.login_routes().merge(state.logout_routes());
    /// # }
    /// ```
    pub fn builder(auth: Authenticator, users: Arc<dyn UserStore>) -> AuthStateBuilder {
        AuthStateBuilder {
            auth,
            users,
            hasher: PasswordHasher::default(),
            trusted_origins: Vec::new(),
            login_throttle: LoginThrottle::new(ThrottlePolicy::default()),
            events: SecurityEvents::log_only(),
            pseudonyms: Pseudonyms::ephemeral(),
            password_policy: PasswordPolicy::default(),
            second_factor: None,
        }
    }

    /// Token verification and sessions.
    pub fn auth(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// User accounts.
    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.inner.users
    }

    /// argon2id on the blocking pool.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// What a new password must be.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.inner.password_policy
    }

    /// Makes this state's logins ask `second_factor` whether an account
    /// needs one. Called by the MFA endpoints when they are built over the
    /// state; the first call (or the builder's
    /// [`second_factor`](AuthStateBuilder::second_factor)) wins, and a later
    /// one is refused with `false` (one source of truth per state).
    pub fn require_second_factor(&self, second_factor: Arc<dyn SecondFactor>) -> bool {
        self.inner.second_factor.set(second_factor).is_ok()
    }

    /// Whether `user_id` must pass a second factor after its password.
    async fn needs_second_factor(&self, user_id: Uuid) -> Result<bool, ApiError> {
        match self.inner.second_factor.get() {
            Some(factor) => Ok(factor.required(user_id).await?),
            None => Ok(false),
        }
    }

    /// The per-account failed-login throttle.
    pub fn login_throttle(&self) -> &LoginThrottle {
        &self.inner.login_throttle
    }

    /// How log lines name e-mail addresses (keyed pseudonyms).
    pub fn pseudonyms(&self) -> &Pseudonyms {
        &self.inner.pseudonyms
    }

    /// The security-event recorder (the recording API of every slice built
    /// on this state: `auth`, `mfa`, and whatever an embedder adds).
    pub fn security_events(&self) -> &SecurityEvents {
        &self.inner.events
    }

    /// Records an event of `kind` for `user_id` from `client`, in
    /// `session` (log line and row; never fails).
    pub async fn record_event(
        &self,
        kind: SecurityEventType,
        user_id: Uuid,
        client: &LoginClient,
        session: Option<Uuid>,
    ) {
        self.inner
            .events
            .record(SecurityEvent::new(
                kind,
                user_id,
                client.event_context(session),
            ))
            .await;
    }

    /// Ends every session of the caller's user but the caller's own: what a
    /// change of credentials does (a password, the second factor, a passkey
    /// added or removed), so whoever else holds a session (perhaps the
    /// reason for the change) must log in again. Returns how many ended.
    pub async fn revoke_other_sessions(&self, principal: &Principal) -> Result<usize, ApiError> {
        Ok(self
            .inner
            .auth
            .sessions()
            .revoke_all_except(principal.user_id, Some(principal.session_id))
            .await?)
    }

    /// The layer protecting routes with this state's authenticator.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.inner.auth.clone())
            .with_trusted_origins(self.inner.trusted_origins.iter().cloned())
    }

    /// The origin rule of the credential routes (docs/API.md): a foreign
    /// `Origin` is refused before the handler reads a body or a credential.
    pub fn origin_layer(&self) -> CredentialOriginLayer {
        CredentialOriginLayer::new(self.inner.trusted_origins.iter().cloned())
    }

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

    /// `/logout` and `/logout-all`, behind this state's [`AuthLayer`].
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
