//! Storage of passkeys: the registered credentials ([`PasskeyStore`]) and
//! the ceremonies in flight ([`ChallengeStore`]). Two traits, because they
//! can live apart (credentials in the embedder's database, challenges in
//! memory for a single instance); [`SqlStore`](crate::store::SqlStore)
//! and [`MemoryPasskeyStore`](super::MemoryPasskeyStore) implement both.

use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

/// A registered passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRecord {
    /// Our id for it (what `DELETE /me/passkeys/{id}` names).
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The authenticator's credential id (`rawId`).
    pub credential_id: Vec<u8>,
    /// webauthn-rs' credential: the public key, counter and flags.
    pub credential: Passkey,
    /// The owner's name for it.
    pub name: String,
    /// The last signature counter accepted.
    pub sign_count: u32,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last logged in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a ceremony is for: a challenge of one kind never finishes the
/// other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CeremonyKind {
    /// Adding a passkey to a signed-in user.
    Registration,
    /// Logging in with a passkey.
    Login,
}

impl CeremonyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Login => "login",
        }
    }
}

/// A ceremony started and not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The random id the client sends back (`challenge_id`).
    pub id: Uuid,
    /// Registration or login.
    pub kind: CeremonyKind,
    /// The user a registration is for (`None` for a login).
    pub user_id: Option<Uuid>,
    /// The serialised webauthn-rs ceremony state (opaque to the store).
    pub state: String,
    /// Unix milliseconds after which it is dead.
    pub expires_at: i64,
}

/// Storage of registered passkeys.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Stores a new passkey; a credential id already registered (to anyone)
    /// is [`StoreError::Conflict`].
    async fn create_passkey(&self, record: &PasskeyRecord) -> Result<(), StoreError>;

    /// The user's passkeys, oldest first.
    async fn passkeys_of(&self, user_id: Uuid) -> Result<Vec<PasskeyRecord>, StoreError>;

    /// The passkey with this credential id, whoever owns it.
    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError>;

    /// Records a login with passkey `id`: stores `credential` (webauthn-rs'
    /// updated copy), `sign_count` and `used_at`, **only if** the passkey
    /// still exists and `sign_count` is above the stored one (or both are
    /// 0: an authenticator that keeps no counter). One conditional write,
    /// so of two concurrent logins presenting the same counter only one
    /// passes, on any number of instances. `false`: nothing written.
    async fn record_passkey_use(
        &self,
        id: Uuid,
        credential: &Passkey,
        sign_count: u32,
        used_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Removes one of the user's passkeys; `false` if the user has no such
    /// passkey.
    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError>;
}

/// Storage of ceremonies in flight, shared by every instance that may
/// finish one (the database, or memory for a single instance).
#[async_trait]
pub trait ChallengeStore: Send + Sync {
    /// Stores a new challenge (and may forget those expired before `now_ms`).
    async fn put_challenge(&self, challenge: &Challenge, now_ms: i64) -> Result<(), StoreError>;

    /// Takes the challenge `id` of `kind` for `user_id` (`None` for a
    /// login): removes and returns it in one atomic step, so of any number
    /// of concurrent finishes exactly one gets it. A challenge of another
    /// kind or user is neither returned nor removed. Expiry is the
    /// caller's to judge.
    async fn take_challenge(
        &self,
        id: Uuid,
        kind: CeremonyKind,
        user_id: Option<Uuid>,
    ) -> Result<Option<Challenge>, StoreError>;
}
