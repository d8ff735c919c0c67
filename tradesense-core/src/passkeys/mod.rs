//! Passkeys (WebAuthn): passwordless, phishing-resistant login with a
//! platform or roaming authenticator, on webauthn-rs.
//!
//! The pieces, each usable alone: [`RelyingParty`] (origin, RP ID, name,
//! checked once), the stores ([`PasskeyStore`] for the credentials,
//! [`ChallengeStore`] for the ceremonies in flight; both implemented on
//! [`SqlStore`](crate::store::SqlStore) over the
//! [`Passkeys`](crate::store::MigrationSet::Passkeys) tables, which need no
//! users table, and in memory by [`MemoryPasskeyStore`]), the ceremony
//! rules in [`PasskeyService`], the Level 3 JSON of the wire in [`wire`],
//! and the HTTP endpoints in [`PasskeyEndpoints`] (built on `auth`'s public
//! pieces; `auth` never imports this module). With the `testing` feature,
//! `testing::SoftAuthenticator` plays the browser and its authenticator.
//!
//! The frontend, with no base64 code of its own:
//!
//! ```js
//! // Add a passkey (signed in; asks for the password again).
//! let r = await post("/api/v1/auth/passkeys/register/start", {current_password, name: "Laptop"});
//! let cred = await navigator.credentials.create({
//!   publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(r.options)});
//! await post("/api/v1/auth/passkeys/register/finish", {challenge_id: r.challenge_id, credential: cred.toJSON()});
//! // Log in with it.
//! r = await post("/api/v1/auth/passkeys/login/start", {});
//! cred = await navigator.credentials.get({
//!   publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(r.options)});
//! await post("/api/v1/auth/passkeys/login/finish", {challenge_id: r.challenge_id, credential: cred.toJSON()});
//! ```

mod endpoints;
mod memory;
mod relying_party;
mod service;
mod sql;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wire;

pub use endpoints::{PasskeyEndpoints, PasskeyItem};
pub use memory::MemoryPasskeyStore;
pub use relying_party::{RelyingParty, RelyingPartyError};
pub use service::{
    CHALLENGE_TTL, Clock, DEFAULT_PASSKEY_NAME, PasskeyError, PasskeyLogin, PasskeyService,
    PasskeyServiceBuilder, Started, parse_passkey_name,
};
pub use store::{CeremonyKind, Challenge, ChallengeStore, PasskeyRecord, PasskeyStore};

#[cfg(test)]
mod tests;
