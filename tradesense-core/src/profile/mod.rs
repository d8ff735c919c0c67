//! TradeSense's profile of an account: the display name, the journal's
//! time zone and the creation time, beside the login columns of the `users`
//! table. A product slice, like [`trading`](crate::trading): auth, users,
//! MFA and passkeys know nothing of it; the TradeSense server composes it
//! the way any embedder composes its own accounts, through core's public
//! traits ([`Registration`](crate::auth::Registration) for sign-up with a
//! `full_name`, [`LoadUser`](crate::users::LoadUser) for the cached record
//! that [`CurrentUser`](crate::auth::CurrentUser) hands to `/users/me`).
//!
//! - `model.rs`: the record, the wire object and the name rule;
//! - `sql.rs`: [`ProfileStore`] on [`SqlStore`](crate::store::SqlStore);
//! - `api.rs`: [`Profiles`], the registration, the loader and `/me`.

mod api;
mod model;
mod sql;

pub use api::Profiles;
pub use model::{
    Profile, ProfileChanges, ProfileFields, ProfileRecord, ProfileStore, parse_full_name,
};
