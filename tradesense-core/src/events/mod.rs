//! Security events (ASVS V16): what happened to an account, kept for its
//! owner to see (`GET /users/me/security-events`) and written to the log as
//! structured lines.
//!
//! - [`SecurityEvent`] and [`SecurityEventType`]: the event and the types
//!   of docs/API.md; [`EventContext`]: the client address, user agent and
//!   session it happened in.
//! - [`SecurityEvents`]: the recording API every slice uses (log line
//!   always, row when there is a store; never fails a request).
//! - [`SecurityEventStore`]: append and list, implemented on
//!   [`SqlStore`](crate::store::SqlStore) (the `security_events` table of
//!   the [`SecurityEvents`](crate::store::MigrationSet::SecurityEvents)
//!   set, standing alone like `sessions`) and by [`MemoryEventStore`].
//! - [`insert_event!`](crate::insert_event): the insert, for a slice's SQL
//!   that records an event in the same transaction as the write it records
//!   (the password change does).
//! - [`routes`]: the listing, mounted by the composer behind its
//!   `AuthLayer`.
//!
//! This slice imports no other feature: `auth` and `mfa` record through it,
//! and the listing finds its caller through an [`OwnerFn`].
//!
//! Where events are written relative to what they record: `password_changed`
//! commits with the new password hash (one transaction, when the event
//! store is the user store's database: [`SecurityEvents::beside_users`]).
//! The other events record writes made in other stores (sessions, the
//! login throttle in Redis or memory, MFA state behind `MfaService`), or no
//! write at all (a failed login): they are recorded right after that write
//! succeeded, as a separate insert, and a failed insert is logged with the
//! event's fields, so the log keeps the trail even then.

mod api;
mod model;
mod recorder;
#[doc(hidden)]
pub mod sql;
mod store;

pub use api::{DEFAULT_LIMIT, MAX_LIMIT, OwnerFn, routes};
pub use model::{
    EventContext, EventCursor, EventQuery, SecurityEvent, SecurityEventType, UnknownEventType,
};
pub use recorder::SecurityEvents;
pub use store::{MemoryEventStore, SecurityEventStore};
