//! The profile record, the user object the API shows, the one rule for
//! display names, and the storage trait.

use crate::auth::NewAccount;
use crate::error::FieldError;
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A profile as stored (and cached): never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ProfileRecord {
    /// The account's handle.
    pub id: Uuid,
    /// The normalised e-mail.
    pub email: String,
    /// The display name.
    pub full_name: String,
    /// IANA time zone of the journal's days (`UTC` unless set).
    pub timezone: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// The user object of `/users/me` and `/auth/register`: the profile and
/// whether logins need a second factor (asked of the MFA store, its one
/// source of truth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct Profile {
    /// The user id.
    pub id: Uuid,
    /// The normalised email.
    pub email: String,
    /// The display name.
    pub full_name: String,
    /// Whether logins need a second factor.
    pub mfa_enabled: bool,
    /// IANA time zone of the journal's days (`UTC` unless set).
    pub timezone: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl Profile {
    /// `record` with the MFA flag.
    pub fn new(record: ProfileRecord, mfa_enabled: bool) -> Self {
        Self {
            id: record.id,
            email: record.email,
            full_name: record.full_name,
            mfa_enabled,
            timezone: record.timezone,
            created_at: record.created_at,
        }
    }
}

/// What TradeSense's sign-up carries besides the e-mail and password.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ProfileFields {
    /// The display name: 1-200 characters, trimmed.
    pub full_name: String,
}

/// A checked change of `PATCH /users/me`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    /// A new display name (already [parsed](parse_full_name)).
    pub full_name: Option<String>,
    /// A new IANA time zone (already validated).
    pub timezone: Option<String>,
}

/// A display name: trimmed, 1-200 characters, no control characters.
pub fn parse_full_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 200 || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "full_name",
            "must be 1 to 200 characters, without control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Storage of profiles (TradeSense's `users` table).
#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Creates the account with its profile; a taken e-mail
    /// (case-insensitively) is [`StoreError::Conflict`].
    async fn create_profile(
        &self,
        account: NewAccount,
        full_name: &str,
    ) -> Result<ProfileRecord, StoreError>;
    /// The profile of account `id`.
    async fn profile(&self, id: Uuid) -> Result<Option<ProfileRecord>, StoreError>;
    /// Applies `changes` in one statement; [`StoreError::NotFound`] if there
    /// is no such account.
    async fn update_profile(
        &self,
        id: Uuid,
        changes: &ProfileChanges,
    ) -> Result<ProfileRecord, StoreError>;
}
