//! What authentication needs of an account, and the storage trait the auth,
//! MFA and passkey slices program against. Nothing here is a profile: a
//! display name, a time zone or a creation time is the application's own
//! (TradeSense's are in [`profile`](crate::profile)). The sqlx
//! implementation over TradeSense's `users` table is in `sql.rs`; an
//! embedder implements [`UserStore`] over its own accounts table.

use super::Email;
use crate::events::SecurityEvent;
use crate::store::StoreError;
use async_trait::async_trait;
use uuid::Uuid;

/// An account as login sees it: its id, its login identifier and the PHC
/// string of its password. Read fresh for every password check, never
/// cached. Deliberately not `Debug`: the hash must not reach logs.
///
/// **Ids.** Every piece of core (tokens' `sub`, sessions, MFA, passkeys,
/// security events, rate-limit keys) names an account by one stable UUID,
/// the account's *handle*. An application keyed by integers or text keeps
/// its primary key and adds a `UNIQUE` UUID column beside it (Loco's `pid`;
/// the `embed_auth_axum` example does exactly that). Chosen over a generic
/// id type because:
/// - WebAuthn needs a stable, opaque user handle that is not the account's
///   key or any personal data (webauthn-rs takes a `Uuid`): the handle is
///   that, for passkeys and for everything else;
/// - a token's `sub` then never exposes a sequential key (no enumeration
///   of accounts from one's own token);
/// - the provided tables (sessions, MFA, passkeys, events) keep one column
///   type on both backends, and the store traits stay object-safe
///   (`Arc<dyn UserStore>`), instead of a type parameter running through
///   every layer, store and extractor.
///
/// A row of `id`, `email` and `password_hash` columns reads into it
/// (`sqlx::FromRow`): alias an application's own column names to those.
#[derive(Clone, sqlx::FromRow)]
pub struct Credentials {
    /// The account's stable UUID handle.
    pub id: Uuid,
    /// The login identifier: the normalised e-mail.
    pub email: String,
    /// The argon2id PHC string.
    pub password_hash: String,
}

/// Storage of the accounts that log in: find by login, find by id, set the
/// password hash. An account that may not log in (suspended, unverified:
/// the application's notion) is answered as `None`: login then refuses it
/// exactly like an unknown e-mail, and its sessions stop authenticating the
/// application's [`CurrentUser`](crate::auth::CurrentUser).
///
/// Creating accounts is [`Registration`](crate::auth::Registration)'s, so
/// an application without public sign-up implements nothing for it.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The account that logs in with `email` (already normalised by its
    /// type; match it case-insensitively).
    async fn credentials_by_email(&self, email: &Email) -> Result<Option<Credentials>, StoreError>;
    /// The account with this handle.
    async fn credentials_by_id(&self, id: Uuid) -> Result<Option<Credentials>, StoreError>;
    /// Replaces the password hash; [`StoreError::NotFound`] if there is no
    /// such account.
    async fn update_password_hash(&self, id: Uuid, password_hash: &str) -> Result<(), StoreError>;
    /// Replaces the password hash and records `event` (its
    /// `password_changed`) in the same transaction, answering `true`: both
    /// commit or neither does. The default, for a store that keeps no
    /// security events, only replaces the hash and answers `false`: the
    /// caller then records the event itself. Called only when the
    /// [`SecurityEvents`](crate::events::SecurityEvents) recorder is
    /// [beside the users](crate::events::SecurityEvents::beside_users).
    async fn update_password_hash_recording(
        &self,
        id: Uuid,
        password_hash: &str,
        event: &SecurityEvent,
    ) -> Result<bool, StoreError> {
        let _ = event;
        self.update_password_hash(id, password_hash)
            .await
            .map(|()| false)
    }
}
