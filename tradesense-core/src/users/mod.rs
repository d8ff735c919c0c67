//! User accounts, as a feature slice: the [`Email`] newtype, the [`User`]
//! record, the [`UserStore`] trait, its sqlx implementation on
//! [`SqlStore`](crate::store::SqlStore) (tables: the
//! [`Users`](crate::store::MigrationSet::Users) migrations) and
//! [`CachedUsers`], the read-through cache decorator.
//!
//! Accounts know nothing of sessions or MFA: `auth` and `mfa` build on this
//! module, never the reverse. An embedder with its own users table
//! implements [`UserStore`] (or only what its login needs) over it.

mod cache;
mod email;
mod sql;
mod store;

pub use cache::{CachedUsers, USER_CACHE_TTL};
pub use email::{Email, EmailError};
pub use store::{NewUser, User, UserCredentials, UserStore};
