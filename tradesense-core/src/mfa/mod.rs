//! TOTP multi-factor authentication: setup, verification, MFA login,
//! recovery codes, replay guard and lockout.
//!
//! The building blocks are independent of HTTP: [`totp`] (codes, secrets,
//! provisioning), [`crypto`] (secrets sealed at rest under a key derived
//! from `SECRET_KEY`), [`recovery`] (single-use recovery codes) and
//! [`service`] (the rules: pending setup, replay guard, lockout), over the
//! [`MfaStore`] trait. [`endpoints`] serves them under `/api/v1/auth/mfa/`
//! on top of `auth`'s public pieces; `auth` never imports this module.

pub mod crypto;
pub mod endpoints;
pub mod recovery;
pub mod service;
pub mod totp;

pub use crypto::SecretCipher;
pub use endpoints::MfaEndpoints;
pub use service::{LockoutPolicy, MfaError, MfaService};

use crate::auth::AuthState;
use crate::config::Settings;
use crate::http::Router;
use crate::store::mfa::MfaStore;
use std::sync::Arc;

/// The MFA routes for the application: secrets sealed under
/// `settings.secret_key`, state in `store`, tokens and sessions from `auth`.
pub fn router(auth: &AuthState, settings: &Settings, store: Arc<dyn MfaStore>) -> Router {
    let service = MfaService::new(store, SecretCipher::from_secret_key(&settings.secret_key));
    MfaEndpoints::new(auth.clone(), service).router()
}
