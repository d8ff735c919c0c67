//! TOTP multi-factor authentication: setup, verification, MFA login,
//! recovery codes, replay guard and lockout.
//!
//! The building blocks are independent of HTTP: [`totp`] (codes, secrets,
//! provisioning), [`crypto`] (secrets sealed at rest under a key derived
//! from `SECRET_KEY`), [`recovery`] (single-use recovery codes) and
//! [`service`] (the rules: pending setup, replay guard, lockout), over the
//! [`MfaStore`] trait, implemented on [`SqlStore`](crate::store::SqlStore)
//! over the [`Mfa`](crate::store::MigrationSet::Mfa) set's `mfa_` tables,
//! which stand alone (keyed by any user id: an application with its own
//! users table applies that set alone), and decorated by
//! [`CachedMfaStore`], which answers "is MFA on" from the cache. The
//! authenticator apps name the application
//! ([`MfaService::with_issuer`], [`totp::DEFAULT_ISSUER`] unless set).
//! [`endpoints`] serves them (TradeSense mounts them at `/api/v1/auth/mfa`) on top of `auth`'s
//! public pieces; `auth` never imports this module.
//!
//! ```
//! use tradesense_core::mfa::totp::{TotpCode, TotpSecret, step_of};
//! use tradesense_core::mfa::SecretCipher;
//! use secrecy::SecretString;
//! use uuid::Uuid;
//!
//! // Setup: a fresh secret, shown to its owner once, stored sealed.
//! let secret = TotpSecret::generate();
//! let shown = secret.provisioning("Acme", "alice@example.com").unwrap();
//! assert!(shown.uri.starts_with("otpauth://totp/Acme:alice%40example.com?secret="));
//! assert!(shown.qr_code.starts_with("data:image/png;base64,"));
//! let cipher = SecretCipher::from_secret_key(&SecretString::from("x".repeat(32)));
//! let user = Uuid::now_v7();
//! let sealed = cipher.seal(user, secret.as_bytes()).unwrap();
//!
//! // Login: open the secret, check the code, remember the matched step so
//! // the same code is refused next time.
//! let secret = TotpSecret::from_bytes(&cipher.open(user, &sealed).unwrap()).unwrap();
//! let now = 1_800_000_000;
//! let code = TotpCode::parse(&secret.code_at(now)).unwrap();
//! assert_eq!(secret.verify(&code, now), Some(step_of(now)));
//! ```

mod cache;
pub mod crypto;
pub mod endpoints;
pub mod recovery;
pub mod service;
mod sql;
mod store;
pub mod totp;

pub use cache::{CachedMfaStore, MFA_ENABLED_CACHE_TTL};
pub use crypto::{SealError, SecretCipher};
pub use endpoints::MfaEndpoints;
pub use service::{LockoutPolicy, MfaError, MfaService};
pub use store::{FailureWindow, MfaState, MfaStore, PendingSecret};

#[cfg(test)]
#[path = "schema_tests.rs"]
mod schema_tests;
