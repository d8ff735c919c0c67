//! Authentication: password hashing, tokens, the auth cookie, sessions with
//! revocation, the `AuthLayer`, CSRF protection and the auth endpoints.

mod principal;

pub use principal::{CredentialSource, Principal};
