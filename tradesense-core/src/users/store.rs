//! The user records and the storage trait the auth and MFA slices program
//! against. The sqlx implementation is in `sql.rs`; [`CachedUsers`](super::CachedUsers)
//! decorates any implementation with the read-through cache.

use super::Email;
use crate::events::SecurityEvent;
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A user as the API shows it (never the password hash or MFA secrets).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    sqlx::FromRow,
    utoipa::ToSchema,
)]
pub struct User {
    /// The user id.
    pub id: Uuid,
    /// The normalised email.
    pub email: String,
    /// The display name.
    pub full_name: String,
    /// Whether logins need a second factor.
    pub mfa_enabled: bool,
    /// IANA time zone of the journal's days (`UTC` unless set); a cached
    /// record from before the column reads as `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

/// A user with the PHC string of their password, for login and password
/// change only. Deliberately not `Debug`: the hash must not reach logs.
#[derive(Clone, sqlx::FromRow)]
pub struct UserCredentials {
    /// The account.
    #[sqlx(flatten)]
    pub user: User,
    /// The argon2id PHC string.
    pub password_hash: String,
}

/// What registration stores.
#[derive(Clone)]
pub struct NewUser {
    /// The email, normalised by its type.
    pub email: Email,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// The display name.
    pub full_name: String,
}

/// Storage of user accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user. A taken email (case-insensitively) is
    /// [`StoreError::Conflict`].
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError>;
    /// The user with this id.
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError>;
    /// The user with this email, with the password hash.
    async fn credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError>;
    /// The user with this id, with the password hash.
    async fn credentials_by_id(&self, id: Uuid) -> Result<Option<UserCredentials>, StoreError>;
    /// Changes the display name; [`StoreError::NotFound`] if there is no such user.
    async fn update_full_name(&self, id: Uuid, full_name: &str) -> Result<User, StoreError>;
    /// Changes the IANA time zone (validated by the caller);
    /// [`StoreError::NotFound`] if there is no such user.
    async fn update_timezone(&self, id: Uuid, timezone: &str) -> Result<User, StoreError>;
    /// Replaces the password hash.
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
