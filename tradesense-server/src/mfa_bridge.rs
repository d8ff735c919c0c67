//! TEMPORARY, until the user record no longer carries `mfa_enabled` (the
//! other half of the MFA split): user records whose `mfa_enabled` comes
//! from the MFA store, not from the user cache.
//!
//! MFA state left `users`, so an MFA enable or disable no longer writes the
//! user, and `CachedUsers` (which `/users/me` reads on every request) would
//! keep the old flag until its TTL. Rather than have MFA invalidate the user
//! cache again (coupling `mfa` back to `users`), the flag of a cached user
//! is replaced by [`MfaStore::mfa_enabled`], itself cached by
//! `CachedMfaStore` and invalidated by every MFA change. Only `user_by_id`
//! is cached; the other reads and writes go to the database, where the
//! flag is current, and pass through.

use std::sync::Arc;
use tradesense_core::events::SecurityEvent;
use tradesense_core::mfa::MfaStore;
use tradesense_core::store::StoreError;
use tradesense_core::users::{Email, NewUser, User, UserCredentials, UserStore};
use uuid::Uuid;

/// `users` (the cached store), with `mfa_enabled` of `user_by_id` from `mfa`.
pub(crate) struct MfaFlagFromMfaStore {
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) mfa: Arc<dyn MfaStore>,
}

#[async_trait::async_trait]
impl UserStore for MfaFlagFromMfaStore {
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let Some(mut user) = self.users.user_by_id(id).await? else {
            return Ok(None);
        };
        user.mfa_enabled = self.mfa.mfa_enabled(id).await?;
        Ok(Some(user))
    }

    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.users.create_user(new).await
    }

    async fn credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.users.credentials_by_email(email).await
    }

    async fn credentials_by_id(&self, id: Uuid) -> Result<Option<UserCredentials>, StoreError> {
        self.users.credentials_by_id(id).await
    }

    async fn update_full_name(&self, id: Uuid, full_name: &str) -> Result<User, StoreError> {
        self.users.update_full_name(id, full_name).await
    }

    async fn update_timezone(&self, id: Uuid, timezone: &str) -> Result<User, StoreError> {
        self.users.update_timezone(id, timezone).await
    }

    async fn update_password_hash(&self, id: Uuid, password_hash: &str) -> Result<(), StoreError> {
        self.users.update_password_hash(id, password_hash).await
    }

    async fn update_password_hash_recording(
        &self,
        id: Uuid,
        password_hash: &str,
        event: &SecurityEvent,
    ) -> Result<bool, StoreError> {
        self.users
            .update_password_hash_recording(id, password_hash, event)
            .await
    }
}
