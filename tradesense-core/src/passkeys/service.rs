//! [`PasskeyService`]: the ceremonies' rules over webauthn-rs and the two
//! stores, independent of HTTP (the endpoints add re-authentication,
//! sessions and events).
//!
//! - Registration: a resident key with user verification, the user's own
//!   passkeys excluded; the state is stored server-side under a random
//!   `challenge_id`, for the user who started it only.
//! - Login: discoverable credentials (no user named up front); the
//!   credential's user handle must be the owner of the stored credential.
//! - Every challenge works once (taken atomically by the store) and dies
//!   after the TTL (5 minutes). The signature counter must rise (webauthn-rs
//!   checks it against the stored credential, and the store's conditional
//!   write makes two concurrent logins with one counter pass once).

use super::relying_party::{RelyingParty, RelyingPartyError};
use super::store::{CeremonyKind, Challenge, ChallengeStore, PasskeyRecord, PasskeyStore};
use super::wire::{self, AuthenticationCredential, RegistrationCredential, ShapeError};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, PasskeyRegistration, Webauthn, WebauthnBuilder,
};

/// How long a started ceremony can be finished.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);

/// The name a passkey gets when its registration names none.
pub const DEFAULT_PASSKEY_NAME: &str = "Passkey";

/// What "now" is (tests move it).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Why a ceremony failed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The ceremony is refused: `invalid_passkey`. The reason is for the
    /// log only (the client learns no more than "invalid").
    #[error("invalid passkey: {0}")]
    Invalid(String),
    /// The credential's parts do not fit together: a `422`.
    #[error("credential.{}: {}", .0.field, .0.message)]
    Shape(ShapeError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// webauthn-rs could not make or read a ceremony state (a bug, not the
    /// client's fault).
    #[error("passkey ceremony: {0}")]
    Internal(String),
}

fn invalid(reason: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Invalid(reason.to_string())
}

/// A started ceremony: what the client gets.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Started {
    /// Sent back with the credential.
    pub challenge_id: Uuid,
    /// For `PublicKeyCredential.parseCreationOptionsFromJSON()` /
    /// `parseRequestOptionsFromJSON()`.
    #[schema(value_type = Object)]
    pub options: Value,
}

/// A passkey login that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyLogin {
    /// Who logged in.
    pub user_id: Uuid,
    /// With which passkey.
    pub passkey_id: Uuid,
}

/// A registration's state: webauthn-rs' plus the name the passkey will get.
#[derive(Serialize, Deserialize)]
struct RegistrationCeremony {
    name: String,
    state: PasskeyRegistration,
}

/// A passkey's display name: trimmed, 1-100 characters, no control
/// characters. `Err` carries the message for the `name` field.
pub fn parse_passkey_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
        return Err("must be 1 to 100 characters, without control characters");
    }
    Ok(name.to_owned())
}

/// The passkey ceremonies. Cheap to clone.
#[derive(Clone)]
pub struct PasskeyService {
    inner: Arc<Inner>,
}

struct Inner {
    webauthn: Webauthn,
    rp: RelyingParty,
    passkeys: Arc<dyn PasskeyStore>,
    challenges: Arc<dyn ChallengeStore>,
    ttl: Duration,
    clock: Clock,
}

impl std::fmt::Debug for PasskeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyService")
            .field("rp", &self.inner.rp)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

/// Builds a [`PasskeyService`]: [`PasskeyService::builder`].
pub struct PasskeyServiceBuilder {
    rp: RelyingParty,
    passkeys: Arc<dyn PasskeyStore>,
    challenges: Arc<dyn ChallengeStore>,
    ttl: Duration,
    clock: Clock,
}

impl PasskeyServiceBuilder {
    /// How long a ceremony may take (default [`CHALLENGE_TTL`]).
    pub fn challenge_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The clock (default `Utc::now`): tests move it to expire challenges.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The service; `Err` when webauthn-rs refuses the relying party.
    pub fn build(self) -> Result<PasskeyService, RelyingPartyError> {
        // The authenticator's timeout is the challenge's lifetime: a
        // browser prompt never outlives the state that could finish it.
        let timeout = self.ttl.max(Duration::from_secs(1));
        let webauthn = WebauthnBuilder::new(self.rp.id(), self.rp.origin())
            .and_then(|builder| builder.rp_name(self.rp.name()).timeout(timeout).build())
            .map_err(|_| {
                RelyingPartyError::RpId("is not accepted by webauthn-rs for this origin")
            })?;
        Ok(PasskeyService {
            inner: Arc::new(Inner {
                webauthn,
                rp: self.rp,
                passkeys: self.passkeys,
                challenges: self.challenges,
                ttl: self.ttl,
                clock: self.clock,
            }),
        })
    }
}

impl PasskeyService {
    /// The service for `rp`, keeping credentials in `passkeys` and
    /// ceremonies in `challenges` (the same [`SqlStore`](crate::store::SqlStore)
    /// for both, typically: any instance can then finish any ceremony).
    pub fn builder(
        rp: RelyingParty,
        passkeys: Arc<dyn PasskeyStore>,
        challenges: Arc<dyn ChallengeStore>,
    ) -> PasskeyServiceBuilder {
        PasskeyServiceBuilder {
            rp,
            passkeys,
            challenges,
            ttl: CHALLENGE_TTL,
            clock: Arc::new(Utc::now),
        }
    }

    /// The relying party.
    pub fn relying_party(&self) -> &RelyingParty {
        &self.inner.rp
    }

    fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    async fn put(
        &self,
        kind: CeremonyKind,
        user_id: Option<Uuid>,
        state: String,
    ) -> Result<Uuid, PasskeyError> {
        let now = self.now().timestamp_millis();
        let ttl = i64::try_from(self.inner.ttl.as_millis()).unwrap_or(i64::MAX);
        let challenge = Challenge {
            // v4: nothing about it may be guessable from another one.
            id: Uuid::new_v4(),
            kind,
            user_id,
            state,
            expires_at: now.saturating_add(ttl),
        };
        self.inner.challenges.put_challenge(&challenge, now).await?;
        Ok(challenge.id)
    }

    /// Takes the challenge, refusing it when unknown (or another kind's or
    /// user's, or already taken) or expired.
    async fn take(
        &self,
        id: Uuid,
        kind: CeremonyKind,
        user_id: Option<Uuid>,
    ) -> Result<String, PasskeyError> {
        let challenge = self
            .inner
            .challenges
            .take_challenge(id, kind, user_id)
            .await?
            .ok_or_else(|| invalid("unknown, used or foreign challenge"))?;
        if challenge.expires_at <= self.now().timestamp_millis() {
            return Err(invalid("expired challenge"));
        }
        Ok(challenge.state)
    }

    /// Starts adding a passkey for `user_id` (`user_name`, `display_name`:
    /// what the authenticator shows, e.g. the email and the full name),
    /// to be called `name` (default [`DEFAULT_PASSKEY_NAME`]). The caller
    /// has re-authenticated the user.
    pub async fn start_registration(
        &self,
        user_id: Uuid,
        user_name: &str,
        display_name: &str,
        name: Option<String>,
    ) -> Result<Started, PasskeyError> {
        let exclude = self
            .inner
            .passkeys
            .passkeys_of(user_id)
            .await?
            .into_iter()
            .map(|p| p.credential.cred_id().clone())
            .collect::<Vec<_>>();
        let (ccr, state) = self
            .inner
            .webauthn
            .start_passkey_registration(user_id, user_name, display_name, Some(exclude))
            .map_err(|err| PasskeyError::Internal(err.to_string()))?;
        let options =
            wire::creation_options(&ccr).map_err(|err| PasskeyError::Internal(err.to_string()))?;
        let ceremony = RegistrationCeremony {
            name: name.unwrap_or_else(|| DEFAULT_PASSKEY_NAME.to_owned()),
            state,
        };
        let state = serde_json::to_string(&ceremony)
            .map_err(|err| PasskeyError::Internal(err.to_string()))?;
        let challenge_id = self
            .put(CeremonyKind::Registration, Some(user_id), state)
            .await?;
        Ok(Started {
            challenge_id,
            options,
        })
    }

    /// Finishes adding a passkey: the challenge must be `user_id`'s own,
    /// live and unused, and the attestation right (origin, RP ID, challenge,
    /// user verification). Returns the stored passkey.
    pub async fn finish_registration(
        &self,
        user_id: Uuid,
        challenge_id: Uuid,
        credential: &RegistrationCredential,
    ) -> Result<PasskeyRecord, PasskeyError> {
        // A malformed credential is refused before the challenge is
        // spent: the client can fix its request.
        let credential = credential.to_webauthn().map_err(PasskeyError::Shape)?;
        let state = self
            .take(challenge_id, CeremonyKind::Registration, Some(user_id))
            .await?;
        let ceremony: RegistrationCeremony =
            serde_json::from_str(&state).map_err(|err| PasskeyError::Internal(err.to_string()))?;
        let passkey = self
            .inner
            .webauthn
            .finish_passkey_registration(&credential, &ceremony.state)
            .map_err(invalid)?;
        let record = PasskeyRecord {
            id: Uuid::now_v7(),
            user_id,
            credential_id: passkey.cred_id().to_vec(),
            credential: passkey,
            name: ceremony.name,
            sign_count: 0,
            created_at: crate::store::to_micros(self.now()),
            last_used_at: None,
        };
        match self.inner.passkeys.create_passkey(&record).await {
            Ok(()) => Ok(record),
            // Registered already (to this user or another): one credential
            // belongs to one account.
            Err(StoreError::Conflict(_)) => Err(invalid("credential already registered")),
            Err(err) => Err(err.into()),
        }
    }

    /// Starts a passkey login: no user named (discoverable credentials),
    /// user verification required.
    pub async fn start_login(&self) -> Result<Started, PasskeyError> {
        let (rcr, state) = self
            .inner
            .webauthn
            .start_discoverable_authentication()
            .map_err(|err| PasskeyError::Internal(err.to_string()))?;
        let options =
            wire::request_options(&rcr).map_err(|err| PasskeyError::Internal(err.to_string()))?;
        let state =
            serde_json::to_string(&state).map_err(|err| PasskeyError::Internal(err.to_string()))?;
        let challenge_id = self.put(CeremonyKind::Login, None, state).await?;
        Ok(Started {
            challenge_id,
            options,
        })
    }

    /// Finishes a passkey login: a live unused challenge, a registered
    /// credential whose owner the user handle names, a valid signature
    /// with user verification, and a counter that went up. Records the use.
    pub async fn finish_login(
        &self,
        challenge_id: Uuid,
        credential: &AuthenticationCredential,
    ) -> Result<PasskeyLogin, PasskeyError> {
        let credential = credential.to_webauthn().map_err(PasskeyError::Shape)?;
        let state = self.take(challenge_id, CeremonyKind::Login, None).await?;
        let state: DiscoverableAuthentication =
            serde_json::from_str(&state).map_err(|err| PasskeyError::Internal(err.to_string()))?;
        let webauthn = &self.inner.webauthn;
        let (user_handle, credential_id) = webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(invalid)?;
        let record = self
            .inner
            .passkeys
            .passkey_by_credential_id(credential_id)
            .await?
            .ok_or_else(|| invalid("unknown or removed credential"))?;
        if record.user_id != user_handle {
            return Err(invalid("the user handle is not the credential's owner"));
        }
        let result = webauthn
            .finish_discoverable_authentication(
                &credential,
                state,
                &[DiscoverableKey::from(&record.credential)],
            )
            .map_err(invalid)?;
        let mut updated = record.credential.clone();
        updated.update_credential(&result);
        if !self
            .inner
            .passkeys
            .record_passkey_use(record.id, &updated, result.counter(), self.now())
            .await?
        {
            return Err(invalid(
                "the counter did not rise (a concurrent login?) or the passkey was removed",
            ));
        }
        Ok(PasskeyLogin {
            user_id: record.user_id,
            passkey_id: record.id,
        })
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: Uuid) -> Result<Vec<PasskeyRecord>, PasskeyError> {
        Ok(self.inner.passkeys.passkeys_of(user_id).await?)
    }

    /// Removes one of the user's passkeys; `false` if it is not theirs.
    pub async fn remove(&self, user_id: Uuid, id: Uuid) -> Result<bool, PasskeyError> {
        Ok(self.inner.passkeys.delete_passkey(user_id, id).await?)
    }
}
