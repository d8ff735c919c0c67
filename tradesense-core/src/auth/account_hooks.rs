//! What auth asks of the application about an account beyond its
//! credentials, each through a small trait: must this account pass a
//! second factor after its password ([`SecondFactor`]), and which of its
//! words may a new password not be built from ([`PersonalWords`])?
//!
//! The first is the question a password login asks before it issues a
//! session. `auth` asks it through this
//! trait and knows nothing of how it is answered; the MFA module answers it
//! from its own store (the one source of truth for "MFA is on", read
//! through the cache), and registers itself when its endpoints are built
//! over an [`AuthState`](super::AuthState), so a service that mounts MFA
//! cannot forget to make its logins ask.

use crate::store::StoreError;
use async_trait::async_trait;
use uuid::Uuid;

/// Whether an account's logins need a second factor.
#[async_trait]
pub trait SecondFactor: Send + Sync + 'static {
    /// `true` when `user_id` must complete a second factor after its
    /// password; the login then answers `mfa_required` with an MFA-pending
    /// token instead of a session.
    async fn required(&self, user_id: Uuid) -> Result<bool, StoreError>;
}

/// Words of an existing account a new password must not be built from,
/// beside its e-mail (always one): a display name, say. Asked by the
/// password change; the application answers from its own record.
#[async_trait]
pub trait PersonalWords: Send + Sync + 'static {
    /// The words of account `user_id` (none if it has none).
    async fn personal_words(&self, user_id: Uuid) -> Result<Vec<String>, StoreError>;
}
