//! TOTP multi-factor authentication: setup, verification, MFA login, recovery codes.
//!
//! The building blocks are independent of HTTP: [`totp`] (codes, secrets,
//! provisioning), [`crypto`] (secrets sealed at rest under a key derived
//! from `SECRET_KEY`), [`recovery`] (single-use recovery codes) and
//! [`service`] (the rules: pending setup, replay guard, lockout), over the
//! [`MfaStore`](crate::store::mfa::MfaStore) trait.

pub mod crypto;
pub mod recovery;
pub mod service;
pub mod totp;
