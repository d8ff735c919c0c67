//! [`SecurityEventStore`] on [`SqlStore`]: the `security_events` table of
//! the [`SecurityEvents`](crate::store::MigrationSet::SecurityEvents)
//! migrations; and [`insert_event!`](crate::insert_event), the insert other
//! slices run inside their own transactions (a password change and its
//! `password_changed` event commit together or not at all).

use super::model::{EventCursor, EventQuery, SecurityEvent, SecurityEventType};
use super::store::SecurityEventStore;
use crate::store::{SqlStore, StoreError, to_micros};
use crate::with_pool;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

/// The insert of one event, as literal SQL (sqlx takes no other).
#[doc(hidden)]
pub const INSERT_EVENT_SQL: &str = "INSERT INTO security_events \
    (id, user_id, event_type, created_at, ip, user_agent, session_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Inserts `$event` (a `&SecurityEvent`) with `$executor` (a pool or a
/// transaction of either backend): `INSERT_EVENT_SQL` with its binds, once
/// for every caller. A macro because the executor's type differs per
/// backend (see [`with_pool!`](crate::with_pool)).
#[macro_export]
#[doc(hidden)]
macro_rules! insert_event {
    ($executor:expr, $event:expr) => {{
        let event: &$crate::events::SecurityEvent = $event;
        sqlx::query($crate::events::sql::INSERT_EVENT_SQL)
            .bind(event.id)
            .bind(event.user_id)
            .bind(event.kind.as_str())
            .bind($crate::store::to_micros(event.created_at))
            .bind(&event.ip)
            .bind(&event.user_agent)
            .bind(event.session_id)
            .execute($executor)
            .await
    }};
}

/// A row as stored; the type is text.
#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    user_id: Uuid,
    event_type: String,
    created_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
    session_id: Option<Uuid>,
}

impl TryFrom<EventRow> for SecurityEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let kind: SecurityEventType = row
            .event_type
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("event type {:?}", row.event_type)))?;
        Ok(Self {
            id: row.id,
            user_id: row.user_id,
            kind,
            created_at: row.created_at,
            ip: row.ip,
            user_agent: row.user_agent,
            session_id: row.session_id,
            request_id: None,
        })
    }
}

/// Appends the listing query to `sql`: the user's events after the cursor,
/// newest first. The redundant `created_at <= at` is what the index seeks
/// on (as in the trade listing).
fn push_list<DB: sqlx::Database>(sql: &mut QueryBuilder<DB>, user_id: Uuid, query: &EventQuery)
where
    Uuid: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sql.push(
        "SELECT id, user_id, event_type, created_at, ip, user_agent, session_id \
         FROM security_events WHERE user_id = ",
    )
    .push_bind(user_id);
    if let Some(EventCursor { at: created_at, id }) = query.after {
        let at = to_micros(created_at);
        sql.push(" AND created_at <= ")
            .push_bind(at)
            .push(" AND (created_at < ")
            .push_bind(at)
            .push(" OR (created_at = ")
            .push_bind(at)
            .push(" AND id < ")
            .push_bind(id)
            .push("))");
    }
    // A number, not input: safe as literal text.
    sql.push(format_args!(
        " ORDER BY created_at DESC, id DESC LIMIT {}",
        query.limit
    ));
}

#[async_trait]
impl SecurityEventStore for SqlStore {
    async fn record_event(&self, event: &SecurityEvent) -> Result<(), StoreError> {
        with_pool!(self.db(), |pool| {
            crate::insert_event!(pool, event)?;
        });
        Ok(())
    }

    async fn list_events(
        &self,
        user_id: Uuid,
        query: &EventQuery,
    ) -> Result<Vec<SecurityEvent>, StoreError> {
        let rows: Vec<EventRow> = with_pool!(self.db(), |pool| {
            let mut sql = QueryBuilder::new("");
            push_list(&mut sql, user_id, query);
            sql.build_query_as::<EventRow>().fetch_all(pool).await?
        });
        rows.into_iter().map(SecurityEvent::try_from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventContext, MemoryEventStore};
    use crate::store::testing::TestDatabase;

    /// The contract every store keeps: owner-scoped, newest first, pages
    /// that neither skip nor repeat.
    async fn contract(store: &dyn SecurityEventStore, label: &str) {
        let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let mut recorded = Vec::new();
        for kind in SecurityEventType::ALL {
            let event = SecurityEvent::new(
                *kind,
                ada,
                EventContext {
                    ip: Some("2001:db8::1".into()),
                    user_agent: Some("test".into()),
                    session_id: Some(Uuid::now_v7()),
                    request_id: None,
                },
            );
            store.record_event(&event).await.unwrap();
            recorded.push(event);
        }
        let other = SecurityEvent::new(SecurityEventType::Logout, bob, EventContext::default());
        store.record_event(&other).await.unwrap();
        recorded.reverse();

        let mut listed = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_events(ada, &EventQuery { limit: 5, after })
                .await
                .unwrap();
            assert!(page.len() <= 5, "{label}");
            let Some(last) = page.last() else { break };
            after = Some(EventCursor::new(last.created_at, last.id));
            listed.extend(page);
        }
        assert_eq!(listed, recorded, "{label}: all of ada's, newest first");
        let bobs = store
            .list_events(
                bob,
                &EventQuery {
                    limit: 50,
                    after: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(bobs, vec![other], "{label}");
    }

    #[tokio::test]
    async fn sql_and_memory_stores_keep_the_contract() {
        for db in TestDatabase::all().await {
            contract(&db.store, &format!("{:?}", db.store.backend())).await;
        }
        contract(&MemoryEventStore::default(), "memory").await;
    }
}
