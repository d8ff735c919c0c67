//! [`AuthState`]: what the auth endpoints (and the MFA and passkey ones
//! built on them) share, and its builder: the authenticator, the accounts,
//! the hasher and password policy, the origin rule, the login throttle,
//! the security events, and the second factor logins ask for.

use super::Principal;
use super::account_hooks::{PersonalWords, SecondFactor};
use super::endpoints::LoginClient;
use super::layer::{AuthLayer, Authenticator};
use super::origin::CredentialOriginLayer;
use super::password::{PasswordHasher, PasswordPolicy};
use crate::error::ApiError;
use crate::events::{SecurityEvent, SecurityEventType, SecurityEvents};
use crate::pseudonym::Pseudonyms;
use crate::ratelimit::{LoginThrottle, ThrottlePolicy};
use crate::users::UserStore;
use std::sync::{Arc, OnceLock};
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
    personal_words: Option<Arc<dyn PersonalWords>>,
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
    personal_words: Option<Arc<dyn PersonalWords>>,
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

    /// Where a password change finds the account's words a new password
    /// must not be built from, beside the e-mail (default: nowhere, the
    /// e-mail alone).
    pub fn personal_words(mut self, words: Arc<dyn PersonalWords>) -> Self {
        self.personal_words = Some(words);
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
                personal_words: self.personal_words,
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
            personal_words: None,
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

    /// The words of `user_id` a new password must not be built from,
    /// besides its e-mail.
    pub(super) async fn personal_words_of(&self, user_id: Uuid) -> Result<Vec<String>, ApiError> {
        match &self.inner.personal_words {
            Some(words) => Ok(words.personal_words(user_id).await?),
            None => Ok(Vec::new()),
        }
    }

    /// Whether `user_id` must pass a second factor after its password.
    pub(super) async fn needs_second_factor(&self, user_id: Uuid) -> Result<bool, ApiError> {
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
}
