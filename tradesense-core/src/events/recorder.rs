//! [`SecurityEvents`]: the one way code records a security event: a
//! structured log line (always) and a row in the event store (when there
//! is one).

use super::model::{EventQuery, SecurityEvent};
use super::store::SecurityEventStore;
use crate::store::StoreError;
use std::sync::Arc;
use uuid::Uuid;

/// Records security events. Cheap to clone (one `Arc`).
///
/// Every event becomes a structured `tracing` line (target
/// `security_event`: `event_type`, `event_id`, `user_id`, `session_id`,
/// `ip`, `user_agent`, `request_id`; never a password, token, code or
/// secret) and, with a
/// store, a row the user can list. Recording never fails the request: the
/// action it records has already happened, so a store failure is logged
/// (with the event's fields, so the trail is kept in the log) and
/// swallowed.
///
/// ```
/// use std::sync::Arc;
/// use tradesense_core::events::{
///     EventContext, EventQuery, MemoryEventStore, SecurityEvent, SecurityEventType, SecurityEvents,
/// };
/// use uuid::Uuid;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let events = SecurityEvents::new(Arc::new(MemoryEventStore::default()));
/// let user = Uuid::now_v7();
/// let context = EventContext { ip: Some("192.0.2.1".into()), ..Default::default() };
/// events.record(SecurityEvent::new(SecurityEventType::LoginFailed, user, context)).await;
/// let page = events.list(user, EventQuery { limit: 10, after: None }).await.unwrap();
/// assert_eq!(page[0].kind, SecurityEventType::LoginFailed);
/// # });
/// ```
#[derive(Clone, Default)]
pub struct SecurityEvents {
    store: Option<Arc<dyn SecurityEventStore>>,
    beside_users: bool,
}

impl std::fmt::Debug for SecurityEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityEvents")
            .field("stored", &self.store.is_some())
            .field("beside_users", &self.beside_users)
            .finish()
    }
}

impl SecurityEvents {
    /// Events logged and kept in `store`.
    pub fn new(store: Arc<dyn SecurityEventStore>) -> Self {
        Self {
            store: Some(store),
            beside_users: false,
        }
    }

    /// Events logged only (an embedder without the events table): the
    /// listing is empty.
    pub fn log_only() -> Self {
        Self::default()
    }

    /// Declares that the event store is the same database as the
    /// [`UserStore`](crate::users::UserStore), so that a user write and the
    /// event recording it go in one transaction
    /// (`UserStore::update_password_hash_recording`). TradeSense's
    /// `SqlStore` is both.
    pub fn beside_users(mut self, yes: bool) -> Self {
        self.beside_users = yes && self.store.is_some();
        self
    }

    /// Whether user writes should record their events in their own
    /// transaction (see [`beside_users`](Self::beside_users)).
    pub fn is_beside_users(&self) -> bool {
        self.beside_users
    }

    /// Logs `event` and stores it; a store failure is logged, not returned.
    pub async fn record(&self, event: SecurityEvent) {
        Self::log(&event);
        if let Some(store) = &self.store
            && let Err(error) = store.record_event(&event).await
        {
            tracing::error!(
                target: "security_event",
                %error,
                event_id = %event.id,
                event_type = event.kind.as_str(),
                user_id = %event.user_id,
                "security event not stored"
            );
        }
    }

    /// The log line of `event` alone: for an event a store wrote within
    /// its own transaction (so it is stored already), or for a caller that
    /// has no store.
    pub fn log(event: &SecurityEvent) {
        let session_id = event.session_id.map(|id| id.to_string());
        let session_id = session_id.as_deref().unwrap_or("-");
        let ip = event.ip.as_deref().unwrap_or("-");
        let user_agent = event.user_agent.as_deref().unwrap_or("-");
        let request_id = event.request_id.as_deref().unwrap_or("-");
        if event.kind.is_failure() {
            tracing::warn!(
                target: "security_event",
                event_type = event.kind.as_str(),
                event_id = %event.id,
                user_id = %event.user_id,
                session_id, ip, user_agent, request_id,
                "security event"
            );
        } else {
            tracing::info!(
                target: "security_event",
                event_type = event.kind.as_str(),
                event_id = %event.id,
                user_id = %event.user_id,
                session_id, ip, user_agent, request_id,
                "security event"
            );
        }
    }

    /// One page of the user's events, newest first; empty without a store.
    pub async fn list(
        &self,
        user_id: Uuid,
        query: EventQuery,
    ) -> Result<Vec<SecurityEvent>, StoreError> {
        match &self.store {
            Some(store) => store.list_events(user_id, &query).await,
            None => Ok(Vec::new()),
        }
    }
}
