//! The application's own record of the caller, in a handler:
//! [`CurrentUser<U>`] yields the `U` its [`LoadUser`](crate::users::LoadUser)
//! returns (a stranger's `Account` row, TradeSense's profile), read through
//! the [`UserCache`]. It stands behind the [`AuthLayer`](super::AuthLayer):
//! the session is checked (live, not revoked, not idle) before the record is
//! looked at, so a revoked session never reaches the cached record.
//!
//! ```
//! use axum::{Extension, Router, routing::get};
//! use tradesense_core::auth::CurrentUser;
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct Account { number: i64, email: String }
//!
//! async fn whoami(CurrentUser(account): CurrentUser<Account>) -> String {
//!     format!("account #{}", account.number)
//! }
//! # fn demo(auth: tradesense_core::auth::AuthState,
//! #         accounts: tradesense_core::users::UserCache<Account>) -> Router {
//! // Behind the auth layer, with the cache in the request's extensions.
//! Router::new()
//!     .route("/whoami", get(whoami).route_layer(auth.layer()))
//!     .layer(Extension(accounts))
//! # }
//! ```

use super::Principal;
use super::state::AuthState;
use crate::error::{ApiError, Problem};
use crate::http::{Json, generic_route, guard, schema_ref};
use crate::users::UserCache;
use axum::extract::FromRequestParts;
use axum::response::Response;
use axum::routing::get;
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The caller's record, as the application's store returns it. Rejected
/// `401 not_authenticated` without a [`Principal`] (no auth layer, or an
/// anonymous request) and when the account is gone (`LoadUser` answered
/// `None`); `500` when no [`UserCache<U>`] is in the request's extensions
/// (a wiring mistake, logged).
#[derive(Debug, Clone)]
pub struct CurrentUser<U>(pub U);

impl<S, U> FromRequestParts<S> for CurrentUser<U>
where
    S: Send + Sync,
    U: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(principal) = parts.extensions.get::<Principal>() else {
            return Err(ApiError::NotAuthenticated.into_response());
        };
        let Some(users) = parts.extensions.get::<UserCache<U>>() else {
            tracing::error!(
                user_type = std::any::type_name::<U>(),
                "CurrentUser needs the UserCache in the request extensions: add `.layer(Extension(user_cache))`"
            );
            return Err(
                ApiError::internal("no UserCache in the request extensions").into_response()
            );
        };
        match users.get(principal.user_id).await {
            Ok(Some(user)) => Ok(Self(user)),
            // A live session of an account since deleted or disabled.
            Ok(None) => Err(ApiError::NotAuthenticated.into_response()),
            Err(error) => Err(ApiError::from(error).into_response()),
        }
    }
}

impl AuthState {
    /// `GET /me`, relative to where it is mounted, behind this state's
    /// [`AuthLayer`](super::AuthLayer): the caller's record from `users`,
    /// documented with `U`'s schema.
    pub fn me_routes<U>(&self, users: UserCache<U>) -> OpenApiRouter
    where
        U: Clone + Serialize + DeserializeOwned + ToSchema + Send + Sync + 'static,
    {
        let mut components = Vec::new();
        let user = schema_ref::<U>(&mut components);
        let routes = generic_route(
            routes!(get_me_documented),
            get(get_me::<U>).layer(axum::Extension(users)),
            None,
            Some(("200", user)),
            components,
        );
        OpenApiRouter::new().routes(guard(routes, self.layer()))
    }
}

/// The current user.
#[utoipa::path(get, path = "/me", operation_id = "users_me", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "The caller's account"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)] // the stand-in that documents `get_me::<U>`.
async fn get_me_documented() {}

async fn get_me<U>(CurrentUser(user): CurrentUser<U>) -> Json<U>
where
    U: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    Json(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthLayer;
    use crate::cache::{Cache, CacheConfig};
    use crate::store::StoreError;
    use crate::users::LoadUser;
    use async_trait::async_trait;
    use axum::Router;
    use axum::body::Body;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;
    use uuid::Uuid;

    /// An embedder's record: keyed by an integer, named by a handle.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Account {
        number: i64,
    }

    /// One account (handle `id`, number 42), counting loads.
    struct OneAccount {
        id: Uuid,
        loads: AtomicUsize,
    }

    #[async_trait]
    impl LoadUser for Arc<OneAccount> {
        type User = Account;
        async fn load_user(&self, id: Uuid) -> Result<Option<Account>, StoreError> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            Ok((id == self.id).then_some(Account { number: 42 }))
        }
    }

    async fn whoami(CurrentUser(account): CurrentUser<Account>) -> String {
        account.number.to_string()
    }

    async fn call(app: &Router, token: &str) -> (u16, String) {
        let request = http::Request::get("/whoami")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn yields_the_embedders_record_cached_and_ends_with_the_session() {
        let auth = crate::auth::session_memory::test_authenticator();
        let cache = Cache::in_process(CacheConfig::default());
        let account = Arc::new(OneAccount {
            id: Uuid::now_v7(),
            loads: AtomicUsize::new(0),
        });
        let users = UserCache::new(account.clone(), &cache);
        let app = Router::new()
            .route(
                "/whoami",
                get(whoami).route_layer(AuthLayer::new(auth.clone())),
            )
            .layer(axum::Extension(users));

        let token = auth.start_session(account.id, None, None).await.unwrap();
        assert_eq!(call(&app, &token).await, (200, "42".to_owned()));
        assert_eq!(call(&app, &token).await, (200, "42".to_owned()));
        assert_eq!(account.loads.load(Ordering::SeqCst), 1, "cached");

        // Revoked: the session check refuses before the record is read.
        let sid = auth
            .keys()
            .verify_access(&token, chrono::Utc::now())
            .unwrap()
            .sid;
        assert!(auth.sessions().revoke(account.id, sid).await.unwrap());
        assert_eq!(call(&app, &token).await.0, 401);

        // A live session of an account the store no longer knows.
        let stranger = auth
            .start_session(Uuid::now_v7(), None, None)
            .await
            .unwrap();
        assert_eq!(call(&app, &stranger).await.0, 401);
    }

    #[tokio::test]
    async fn without_its_cache_in_the_extensions_the_request_fails_loudly() {
        let app = Router::new().route("/whoami", get(whoami));
        let mut request = http::Request::get("/whoami").body(Body::empty()).unwrap();
        request.extensions_mut().insert(Principal {
            user_id: Uuid::now_v7(),
            session_id: Uuid::now_v7(),
            source: crate::auth::CredentialSource::Bearer,
        });
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 500);
        // No principal at all: not authenticated.
        let anonymous = http::Request::get("/whoami").body(Body::empty()).unwrap();
        assert_eq!(app.oneshot(anonymous).await.unwrap().status(), 401);
    }
}
