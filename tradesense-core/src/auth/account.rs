//! The caller's own credentials and sessions (TradeSense mounts them at
//! `/api/v1/users`): the password change, the sessions list and revoke, the
//! security events; each group a router of its own, all behind the
//! [`AuthLayer`](super::AuthLayer). The caller's record (`/me`) is the
//! application's: [`CurrentUser`](super::CurrentUser).

use super::Principal;
use super::endpoints::LoginClient;
use super::state::AuthState;
use crate::error::{ApiError, Problem};
use crate::events::{SecurityEvent, SecurityEventType, SecurityEvents};
use crate::http::{Json, Path, guard};
use axum::extract::State;
use chrono::{DateTime, Utc};
use http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

impl AuthState {
    /// `POST /me/password`, relative to where it is mounted, behind this
    /// state's [`AuthLayer`](super::AuthLayer).
    pub fn password_routes(&self) -> OpenApiRouter {
        OpenApiRouter::new()
            .routes(guard(routes!(change_password), self.layer()))
            .with_state(self.clone())
    }

    /// `GET /me/sessions` and `DELETE /me/sessions/{id}`, behind this
    /// state's [`AuthLayer`](super::AuthLayer).
    pub fn session_routes(&self) -> OpenApiRouter {
        let auth = self.layer();
        OpenApiRouter::new()
            .routes(guard(routes!(list_sessions), auth.clone()))
            .routes(guard(routes!(delete_session), auth))
            .with_state(self.clone())
    }

    /// `GET /me/security-events`: this state's
    /// [`security_events`](AuthState::security_events), behind its
    /// [`AuthLayer`](super::AuthLayer).
    pub fn security_event_routes(&self) -> OpenApiRouter {
        crate::events::routes(self.security_events().clone(), self.layer(), |extensions| {
            extensions.get::<Principal>().map(|p| p.user_id)
        })
    }
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
        .credentials_by_id(principal.user_id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    let words = state.personal_words_of(user.id).await?;
    let mut inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    inputs.push(&user.email);
    let new_password = state
        .password_policy()
        .parse(&body.new_password, &inputs)
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
