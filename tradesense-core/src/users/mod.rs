//! Accounts as authentication needs them: the [`Email`] newtype, the
//! [`Credentials`] of a login, the [`UserStore`] trait (find by login, find
//! by id, set the password hash) with its sqlx implementation on
//! [`SqlStore`](crate::store::SqlStore) (TradeSense's `users` table: the
//! [`Users`](crate::store::MigrationSet::Users) migrations), and
//! [`LoadUser`] / [`UserCache`]: the application's own record of an
//! account, read through the cache.
//!
//! Accounts know nothing of sessions, MFA or profiles: `auth` and `mfa`
//! build on this module, never the reverse. An embedder with its own users
//! table implements [`UserStore`] (and [`LoadUser`] for its record) over it.

mod cache;
mod email;
mod sql;
mod store;

pub use cache::{LoadUser, USER_CACHE_TTL, UserCache};
pub use email::{Email, EmailError};
pub use store::{Credentials, UserStore};
