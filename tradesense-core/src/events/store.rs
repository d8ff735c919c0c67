//! The storage trait of security events. The sqlx implementation is in
//! `sql.rs`; [`MemoryEventStore`] keeps them in memory (embedders, tests).

use super::model::{EventQuery, SecurityEvent};
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Mutex;
use uuid::Uuid;

/// Storage of security events: append, and list one user's newest first.
#[async_trait]
pub trait SecurityEventStore: Send + Sync {
    /// Appends `event`.
    async fn record_event(&self, event: &SecurityEvent) -> Result<(), StoreError>;
    /// The user's events newest first (`created_at`, then `id`,
    /// descending), at most `query.limit`, after `query.after`.
    async fn list_events(
        &self,
        user_id: Uuid,
        query: &EventQuery,
    ) -> Result<Vec<SecurityEvent>, StoreError>;
}

/// Security events in memory: for embedders without a database and for
/// tests. Unbounded; a process that records many should use a database.
#[derive(Debug, Default)]
pub struct MemoryEventStore {
    events: Mutex<Vec<SecurityEvent>>,
}

impl MemoryEventStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SecurityEvent>> {
        // A plain list, never half-written: a poisoned lock is still valid.
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl SecurityEventStore for MemoryEventStore {
    async fn record_event(&self, event: &SecurityEvent) -> Result<(), StoreError> {
        self.lock().push(event.clone());
        Ok(())
    }

    async fn list_events(
        &self,
        user_id: Uuid,
        query: &EventQuery,
    ) -> Result<Vec<SecurityEvent>, StoreError> {
        let mut events: Vec<SecurityEvent> = self
            .lock()
            .iter()
            .filter(|e| e.user_id == user_id)
            .filter(|e| {
                query
                    .after
                    .is_none_or(|after| (e.created_at, e.id) < (after.at, after.id))
            })
            .cloned()
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
        events.truncate(query.limit as usize);
        Ok(events)
    }
}
