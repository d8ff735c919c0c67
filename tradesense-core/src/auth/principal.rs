//! Who a request is from, as the `AuthLayer` establishes it.

use uuid::Uuid;

/// How the request proved who it is. CSRF checks apply only to cookies:
/// a browser attaches cookies to cross-site requests on its own, but never a
/// bearer header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// The `auth-token` httpOnly cookie (the browser frontend).
    Cookie,
    /// `Authorization: Bearer` (API clients, other services).
    Bearer,
}

/// The authenticated caller, inserted into request extensions by the
/// `AuthLayer` for handlers (and the rate limiter) to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account's UUID handle (`sub`): see
    /// [`Credentials`](crate::users::Credentials) for why a handle.
    pub user_id: Uuid,
    /// The session (`sid`): revoking it ends this token's life.
    pub session_id: Uuid,
    /// Where the token came from.
    pub source: CredentialSource,
}

/// `Principal` as an axum extractor. A handler taking a
/// `Principal` behind the `AuthLayer` gets it; without one (the layer is
/// missing, or optional and the request anonymous) the request is answered
/// `401` problem+json.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Principal {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| crate::error::ApiError::NotAuthenticated.into_response())
    }
}
