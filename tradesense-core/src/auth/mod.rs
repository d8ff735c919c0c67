//! Authentication: password hashing, tokens, the auth cookie, sessions with
//! revocation, the `AuthLayer`, CSRF protection and the auth endpoints.
//!
//! The pieces stand alone: [`TokenKeys`] signs and verifies tokens,
//! [`SessionStore`] keeps sessions (implemented on
//! [`SqlStore`](crate::store::SqlStore) over the `sessions` table alone, the
//! [`Sessions`](crate::store::MigrationSet::Sessions) migration set, which
//! needs no users table; and in memory by [`MemorySessionStore`]),
//! [`Sessions`] answers "is this session live" from the cache,
//! [`AuthLayer`] puts both in front of any tower service, and [`AuthState`]
//! serves the auth endpoints as separate routers an application mounts or
//! leaves out: registration on its own terms ([`Registration`]), the
//! password logins, logout, `/me` ([`CurrentUser`]: the application's own
//! record of the caller), the password change, the sessions and the
//! security events.
//!
//! For the MFA module (which builds on this one, never the reverse):
//! [`TokenKeys::verify_mfa`] checks the MFA-pending token, [`complete_login`]
//! issues the session, token and cookie once the second factor passed, and
//! [`Sessions::revoke_all_except`] ends the user's other sessions.

mod account;
mod account_hooks;
mod cookie;
mod credentials;
mod current_user;
pub(crate) mod endpoints;
mod jws;
mod layer;
mod origin;
mod password;
mod principal;
mod reauth;
mod register;
mod session;
#[cfg(any(test, feature = "testing"))]
pub mod session_contract;
mod session_memory;
mod session_sql;
mod session_store;
mod state;
mod token;

pub use crate::users::{Email, EmailError};
pub use account_hooks::{PersonalWords, SecondFactor};
pub use cookie::{AuthCookie, InvalidCookieName};
pub use credentials::{AUTH_COOKIE, csrf_allows, extract_token};
pub use current_user::CurrentUser;
pub use endpoints::{LoginClient, MfaRequiredResponse, TokenResponse, complete_login};
pub use layer::{AuthFuture, AuthLayer, AuthService, Authenticator, VerifiedAccessToken};
pub use origin::{CredentialOrigin, CredentialOriginFuture, CredentialOriginLayer};
pub use password::{
    HashError, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, Password, PasswordError, PasswordHasher,
    PasswordPolicy,
};
pub use principal::{CredentialSource, Principal};
pub use register::{NewAccount, NoExtraFields, Registration};
pub use session::{SESSION_CACHE_TTL, SessionConfig, Sessions};
pub use session_memory::MemorySessionStore;
pub use session_store::{NewSession, SessionRecord, SessionStore};
pub use state::{AuthState, AuthStateBuilder};
pub use token::{
    ACCESS_TYP, AccessClaims, DEFAULT_ACCESS_AUDIENCE, DEFAULT_ISSUER, DEFAULT_MFA_AUDIENCE,
    LEEWAY_SECS, MFA_TOKEN_TTL, MFA_TYP, MfaClaims, TokenError, TokenKeys, credential_fingerprint,
    token_hash,
};
