//! The question a password login asks before it issues a session: must
//! this account pass a second factor first? `auth` asks it through this
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
