//! The `/me` endpoints (TradeSense mounts them at `/api/v1/users`): the
//! caller's profile, password change and sessions. All behind the
//! [`AuthLayer`](super::AuthLayer).

use super::Principal;
use super::endpoints::{AuthState, LoginClient, parse_full_name};
use super::password::Password;
use crate::error::{ApiError, Problem};
use crate::events::{SecurityEvent, SecurityEventType, SecurityEvents};
use crate::http::{Json, Path, guard};
use crate::users::User;
use axum::extract::State;
use chrono::{DateTime, Utc};
use http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

impl AuthState {
    /// The `/me*` routes, relative to where they are mounted, behind this
    /// state's [`AuthLayer`](super::AuthLayer): the profile, the password,
    /// the sessions and `/me/security-events` (this state's
    /// [`security_events`](AuthState::security_events)).
    pub fn user_routes(&self) -> OpenApiRouter {
        let auth = self.layer();
        let events =
            crate::events::routes(self.security_events().clone(), auth.clone(), |extensions| {
                extensions.get::<Principal>().map(|p| p.user_id)
            });
        OpenApiRouter::new()
            .routes(guard(routes!(get_me, patch_me), auth.clone()))
            .routes(guard(routes!(change_password), auth.clone()))
            .routes(guard(routes!(list_sessions), auth.clone()))
            .routes(guard(routes!(delete_session), auth))
            .with_state(self.clone())
            .merge(events)
    }
}

/// The current user.
#[utoipa::path(get, path = "/me", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_me(
    State(state): State<AuthState>,
    principal: Principal,
) -> Result<Json<User>, ApiError> {
    // A live session of a deleted user: the identity is gone.
    let user = state
        .users()
        .user_by_id(principal.user_id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct PatchMe {
    full_name: Option<String>,
    /// An IANA time zone (`Europe/Berlin`): the journal's days and hours.
    timezone: Option<String>,
}

/// Change the display name or the time zone.
#[utoipa::path(patch, path = "/me", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = PatchMe,
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_me(
    State(state): State<AuthState>,
    principal: Principal,
    Json(body): Json<PatchMe>,
) -> Result<Json<User>, ApiError> {
    // Both validated before either is written: a 422 changes nothing.
    let timezone = match &body.timezone {
        Some(raw) => Some(
            crate::trading::parse_timezone(raw)
                .map_err(|message| ApiError::invalid("timezone", message))?,
        ),
        None => None,
    };
    let name = match &body.full_name {
        Some(raw) => Some(parse_full_name(raw).map_err(|err| ApiError::Validation(vec![err]))?),
        None => None,
    };
    if let Some(timezone) = timezone {
        let user = state
            .users()
            .update_timezone(principal.user_id, timezone.name())
            .await?;
        if name.is_none() {
            return Ok(Json(user));
        }
    }
    let user = match name {
        Some(name) => {
            state
                .users()
                .update_full_name(principal.user_id, &name)
                .await?
        }
        None => state
            .users()
            .user_by_id(principal.user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)?,
    };
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ChangePassword {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    new_password: String,
}

/// Change the password; revokes every other session.
#[utoipa::path(post, path = "/me/password", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "`invalid_current_password`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Weak new password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: the account is locked after repeated wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
async fn change_password(
    State(state): State<AuthState>,
    principal: Principal,
    client: LoginClient,
    Json(body): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    // The new password is judged first: a refusal of it checks no
    // password, so it costs the account's throttle nothing.
    let user = state
        .users()
        .user_by_id(principal.user_id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    let new_password = Password::parse(&body.new_password, &[&user.email, &user.full_name])
        .map_err(|err| ApiError::invalid("new_password", err.to_string()))?;
    state
        .reauthenticate(principal.user_id, &body.current_password, &client)
        .await?;
    let hash = state
        .hasher()
        .hash(&new_password)
        .await
        .map_err(ApiError::internal)?;
    // The event commits with the hash when the stores share a database.
    let event = SecurityEvent::new(
        SecurityEventType::PasswordChanged,
        user.id,
        client.event_context(Some(principal.session_id)),
    );
    let events = state.security_events();
    let recorded = if events.is_beside_users() {
        state
            .users()
            .update_password_hash_recording(user.id, &hash, &event)
            .await?
    } else {
        state.users().update_password_hash(user.id, &hash).await?;
        false
    };
    if recorded {
        SecurityEvents::log(&event);
    } else {
        events.record(event).await;
    }
    let revoked = state.revoke_other_sessions(&principal).await?;
    tracing::info!(user_id = %user.id, revoked_sessions = revoked, "password changed");
    Ok(StatusCode::NO_CONTENT)
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

/// The user's live sessions.
#[utoipa::path(get, path = "/me/sessions", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "Live sessions; `current` marks this one", body = SessionList),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_sessions(
    State(state): State<AuthState>,
    principal: Principal,
) -> Result<Json<SessionList>, ApiError> {
    let sessions = state
        .auth()
        .sessions()
        .active_sessions(principal.user_id)
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
    Ok(Json(SessionList { items }))
}

/// Revoke one of the user's sessions.
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = uuid::Uuid, Path, description = "The session id (the token's `sid`)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not one of the user's sessions", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_session(
    State(state): State<AuthState>,
    principal: Principal,
    client: LoginClient,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    if !state
        .auth()
        .sessions()
        .revoke(principal.user_id, id)
        .await?
    {
        return Err(ApiError::NotFound("session"));
    }
    // The event names the revoked session (the subject), not the one that
    // revoked it.
    state
        .record_event(
            SecurityEventType::SessionRevoked,
            principal.user_id,
            &client,
            Some(id),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
