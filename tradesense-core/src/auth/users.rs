//! The `/api/v1/users/me` endpoints: the caller's profile, password change
//! and sessions. All behind the [`AuthLayer`](super::AuthLayer).

use super::endpoints::{AuthState, parse_full_name, principal};
use super::password::Password;
use crate::error::ApiError;
use crate::http::{
    MethodRouter, Request, Response, Router, handler, json, no_content, parse_json, path_param,
};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

impl AuthState {
    /// The `/api/v1/users/me*` routes, behind the [`AuthLayer`](super::AuthLayer).
    pub fn users_router(&self) -> Router {
        Router::new()
            .route(
                "/api/v1/users/me",
                MethodRouter::new()
                    .get(handler(self.clone(), get_me))
                    .patch(handler(self.clone(), patch_me)),
            )
            .route(
                "/api/v1/users/me/password",
                MethodRouter::new().post(handler(self.clone(), change_password)),
            )
            .route(
                "/api/v1/users/me/sessions",
                MethodRouter::new().get(handler(self.clone(), list_sessions)),
            )
            .route(
                "/api/v1/users/me/sessions/{id}",
                MethodRouter::new().delete(handler(self.clone(), delete_session)),
            )
            .layer(self.layer())
    }
}

async fn get_me(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    // A live session of a deleted user: the identity is gone.
    let user = state
        .users
        .user_by_id(principal.user_id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    Ok(json(&user))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct PatchMe {
    full_name: Option<String>,
}

async fn patch_me(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    let body: PatchMe = parse_json(&request)?;
    let user = match body.full_name {
        Some(raw) => {
            let name = parse_full_name(&raw).map_err(|err| ApiError::Validation(vec![err]))?;
            state
                .users
                .update_full_name(principal.user_id, &name)
                .await?
        }
        None => state
            .users
            .user_by_id(principal.user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)?,
    };
    Ok(json(&user))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ChangePassword {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    new_password: String,
}

async fn change_password(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    let body: ChangePassword = parse_json(&request)?;
    let credentials = state
        .users
        .credentials_by_id(principal.user_id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    let user = &credentials.user;
    let new_password = Password::parse(&body.new_password, &[&user.email, &user.full_name])
        .map_err(|err| ApiError::invalid("new_password", err.to_string()))?;
    if !state
        .hasher
        .verify(&body.current_password, Some(&credentials.password_hash))
        .await
    {
        // 400, not 401: the caller *is* authenticated; a 401 would make
        // frontends drop the session.
        return Err(ApiError::BadRequest {
            code: "invalid_current_password",
            detail: "The current password is incorrect.".to_owned(),
        });
    }
    let hash = state
        .hasher
        .hash(&new_password)
        .await
        .map_err(ApiError::internal)?;
    state.users.update_password_hash(user.id, &hash).await?;
    let revoked = state
        .auth
        .sessions()
        .revoke_all_except(user.id, Some(principal.session_id))
        .await?;
    tracing::info!(user_id = %user.id, revoked_sessions = revoked, "password changed");
    Ok(no_content())
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionItem {
    id: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    user_agent: Option<String>,
    ip: Option<String>,
    current: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionList {
    items: Vec<SessionItem>,
}

async fn list_sessions(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    let sessions = state
        .auth
        .sessions()
        .store()
        .live_sessions(principal.user_id)
        .await?;
    let items = sessions
        .into_iter()
        .map(|s| SessionItem {
            current: s.id == principal.session_id,
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect();
    Ok(json(&SessionList { items }))
}

async fn delete_session(state: AuthState, request: Request) -> Result<Response, ApiError> {
    let principal = principal(&request)?;
    let id: Uuid = path_param(&request, "id", "session")?;
    if !state.auth.sessions().revoke(principal.user_id, id).await? {
        return Err(ApiError::NotFound("session"));
    }
    tracing::info!(user_id = %principal.user_id, session = %id, "session revoked");
    Ok(no_content())
}
