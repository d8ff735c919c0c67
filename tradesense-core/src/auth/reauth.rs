//! Re-authentication: the `current_password` an authenticated request must
//! send before a sensitive change (`/users/me/password`, `/mfa/setup`, and
//! whatever an embedder adds). A stolen session must not be a free password
//! oracle, so every check is reserved against the same per-account throttle
//! as the logins (docs/API.md "Account protection"): a wrong value counts as
//! a failed login of that account, and a locked account is answered `429`
//! before anything is checked.

use super::LoginClient;
use super::state::AuthState;
use crate::error::ApiError;
use crate::events::SecurityEventType;
use crate::ratelimit::Locked;
use crate::users::{Credentials, Email};
use secrecy::SecretString;
use uuid::Uuid;

/// `429 rate_limited` with the lock's `Retry-After`.
pub(crate) fn locked(locked: Locked) -> ApiError {
    ApiError::RateLimited {
        retry_after_secs: locked.retry_after_secs(),
    }
}

/// `400 invalid_current_password`: 400, not 401, because the caller *is*
/// authenticated, and a 401 would make frontends drop the session.
pub(crate) fn invalid_current_password() -> ApiError {
    ApiError::BadRequest {
        code: "invalid_current_password",
        detail: "The current password is incorrect.".to_owned(),
    }
}

impl AuthState {
    /// Checks `current_password` for the signed-in `user_id`, through the
    /// account throttle: `429` while the account is locked (nothing
    /// checked), `400 invalid_current_password` when wrong (counted as a
    /// failure of the account), `401` when the user is gone. Returns the
    /// user's credentials on success (and clears the account's count).
    pub async fn reauthenticate(
        &self,
        user_id: Uuid,
        current_password: &SecretString,
        client: &LoginClient,
    ) -> Result<Credentials, ApiError> {
        let credentials = self
            .users()
            .credentials_by_id(user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)?;
        // The account as the login names it, so both count together.
        let account = Email::normalize(&credentials.email);
        let attempt = self.login_throttle().reserve(&account).await.map_err(|l| {
            tracing::warn!(%user_id, outcome = "locked", "re-authentication refused");
            // Recorded once, by the failure that set the lock.
            locked(l)
        })?;
        if !self
            .hasher()
            .verify(current_password, Some(&credentials.password_hash))
            .await
        {
            tracing::warn!(%user_id, outcome = "wrong_password", "re-authentication failed");
            self.record_event(SecurityEventType::LoginFailed, user_id, client, None)
                .await;
            if attempt.locks_on_failure() {
                self.record_event(SecurityEventType::AccountLocked, user_id, client, None)
                    .await;
            }
            return Err(invalid_current_password());
        }
        attempt.succeeded().await;
        Ok(credentials)
    }
}
