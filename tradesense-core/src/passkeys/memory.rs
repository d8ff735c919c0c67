//! [`MemoryPasskeyStore`]: passkeys and ceremonies in process memory, for
//! tests, examples and single-instance services. The same contract tests
//! run on it and on the sqlx store.

use super::store::{CeremonyKind, Challenge, ChallengeStore, PasskeyRecord, PasskeyStore};
use crate::store::{StoreError, to_micros};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

#[derive(Debug, Default)]
struct Inner {
    passkeys: HashMap<Uuid, PasskeyRecord>,
    challenges: HashMap<Uuid, Challenge>,
}

/// A [`PasskeyStore`] and [`ChallengeStore`] in memory. Cheap to clone;
/// clones share the data. Not shared between processes: a ceremony started
/// on one instance cannot finish on another (use a database for that).
///
/// ```
/// use std::sync::Arc;
/// use tradesense_core::passkeys::{MemoryPasskeyStore, PasskeyService, RelyingParty};
///
/// let store = MemoryPasskeyStore::new();
/// let rp = RelyingParty::new("http://localhost:8000", None, "Example").unwrap();
/// let service = PasskeyService::builder(rp, Arc::new(store.clone()), Arc::new(store))
///     .build()
///     .unwrap();
/// # let _ = service;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryPasskeyStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryPasskeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // Every change is one insert, remove or assignment: a panic while the
    // lock was held leaves the maps consistent, so carry on.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl PasskeyStore for MemoryPasskeyStore {
    async fn create_passkey(&self, record: &PasskeyRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .passkeys
            .values()
            .any(|p| p.credential_id == record.credential_id)
        {
            return Err(StoreError::Conflict(
                "passkeys_credential_id_key".to_owned(),
            ));
        }
        let mut record = record.clone();
        record.created_at = to_micros(record.created_at);
        record.last_used_at = record.last_used_at.map(to_micros);
        inner.passkeys.insert(record.id, record);
        Ok(())
    }

    async fn passkeys_of(&self, user_id: Uuid) -> Result<Vec<PasskeyRecord>, StoreError> {
        let mut passkeys: Vec<PasskeyRecord> = self
            .lock()
            .passkeys
            .values()
            .filter(|p| p.user_id == user_id)
            .cloned()
            .collect();
        passkeys.sort_by_key(|p| (p.created_at, p.id));
        Ok(passkeys)
    }

    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        Ok(self
            .lock()
            .passkeys
            .values()
            .find(|p| p.credential_id == credential_id)
            .cloned())
    }

    async fn record_passkey_use(
        &self,
        id: Uuid,
        credential: &Passkey,
        sign_count: u32,
        used_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(record) = inner.passkeys.get_mut(&id) else {
            return Ok(false);
        };
        if !(record.sign_count < sign_count || (record.sign_count == 0 && sign_count == 0)) {
            return Ok(false);
        }
        record.credential = credential.clone();
        record.sign_count = sign_count;
        record.last_used_at = Some(to_micros(used_at));
        Ok(true)
    }

    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        match inner.passkeys.get(&id) {
            Some(record) if record.user_id == user_id => {
                inner.passkeys.remove(&id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl ChallengeStore for MemoryPasskeyStore {
    async fn put_challenge(&self, challenge: &Challenge, now_ms: i64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.challenges.retain(|_, c| c.expires_at >= now_ms);
        inner.challenges.insert(challenge.id, challenge.clone());
        Ok(())
    }

    async fn take_challenge(
        &self,
        id: Uuid,
        kind: CeremonyKind,
        user_id: Option<Uuid>,
    ) -> Result<Option<Challenge>, StoreError> {
        let mut inner = self.lock();
        match inner.challenges.get(&id) {
            Some(c) if c.kind == kind && c.user_id == user_id => Ok(inner.challenges.remove(&id)),
            _ => Ok(None),
        }
    }
}
