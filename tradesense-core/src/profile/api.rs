//! [`Profiles`]: TradeSense's accounts composed from core's public pieces,
//! as any embedder composes its own. It is the
//! [`Registration`] of `/auth/register` (a `full_name` beside the
//! credentials), the [`LoadUser`] behind [`CurrentUser`] (the cached
//! profile record), the [`PersonalWords`] of a password change (the
//! name), and serves `GET`/`PATCH /users/me`.

use super::model::{
    Profile, ProfileChanges, ProfileFields, ProfileRecord, ProfileStore, parse_full_name,
};
use crate::auth::{
    AuthState, CurrentUser, NewAccount, PersonalWords, Principal, Registration, SecondFactor,
};
use crate::cache::{Cache, CachedJson, Scoped};
use crate::error::{ApiError, FieldError, Problem};
use crate::http::{Json, guard};
use crate::store::StoreError;
use crate::users::{LoadUser, UserCache};
use async_trait::async_trait;
use axum::extract::State;
use serde::Deserialize;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// TradeSense's accounts: the profile store, its cache, and what `/me`
/// shows beside it. Cheap to clone.
#[derive(Clone)]
pub struct Profiles {
    inner: Arc<ProfilesInner>,
}

struct ProfilesInner {
    store: Arc<dyn ProfileStore>,
    records: UserCache<ProfileRecord>,
    second_factor: Option<Arc<dyn SecondFactor>>,
    journal: Option<Scoped<CachedJson>>,
}

impl std::fmt::Debug for Profiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiles")
            .field("records", &self.inner.records)
            .finish_non_exhaustive()
    }
}

/// The profile store as the cache's loader.
struct StoreLoader(Arc<dyn ProfileStore>);

#[async_trait]
impl LoadUser for StoreLoader {
    type User = ProfileRecord;

    async fn load_user(&self, id: Uuid) -> Result<Option<ProfileRecord>, StoreError> {
        self.0.profile(id).await
    }
}

impl Profiles {
    /// Profiles in `store`, read through `cache`. `second_factor` answers
    /// the user object's `mfa_enabled` (the MFA service: the one source of
    /// truth); `journal` is the journal's response cache, whose scope of a
    /// user a change of their time zone (the analytics' default) drops.
    pub fn new(
        store: Arc<dyn ProfileStore>,
        cache: &Cache,
        second_factor: Option<Arc<dyn SecondFactor>>,
        journal: Option<Scoped<CachedJson>>,
    ) -> Self {
        let records = UserCache::new(StoreLoader(store.clone()), cache);
        Self {
            inner: Arc::new(ProfilesInner {
                store,
                records,
                second_factor,
                journal,
            }),
        }
    }

    /// The cached profile records ([`CurrentUser<ProfileRecord>`]'s source).
    pub fn records(&self) -> &UserCache<ProfileRecord> {
        &self.inner.records
    }

    /// The user object of `record`.
    async fn user_object(&self, record: ProfileRecord) -> Result<Profile, ApiError> {
        let mfa_enabled = match &self.inner.second_factor {
            Some(factor) => factor.required(record.id).await?,
            None => false,
        };
        Ok(Profile::new(record, mfa_enabled))
    }

    /// `GET` and `PATCH /me`, relative to where they are mounted, behind
    /// `auth`'s [`AuthLayer`](crate::auth::AuthLayer).
    pub fn routes(&self, auth: &AuthState) -> OpenApiRouter {
        OpenApiRouter::new()
            .routes(guard(routes!(get_me, patch_me), auth.layer()))
            .layer(axum::Extension(self.inner.records.clone()))
            .with_state(self.clone())
    }
}

#[async_trait]
impl Registration for Profiles {
    type Extra = ProfileFields;
    type Created = Profile;

    fn check(&self, extra: &ProfileFields) -> Vec<FieldError> {
        parse_full_name(&extra.full_name)
            .err()
            .into_iter()
            .collect()
    }

    fn personal_words<'e>(&self, extra: &'e ProfileFields) -> Vec<&'e str> {
        vec![extra.full_name.as_str()]
    }

    async fn create_account(
        &self,
        account: NewAccount,
        extra: ProfileFields,
    ) -> Result<Profile, StoreError> {
        // Checked by `check` already; the trimmed name is what is stored.
        let full_name = parse_full_name(&extra.full_name)
            .map_err(|_| StoreError::Corrupt("full_name was not checked".to_owned()))?;
        let record = self.inner.store.create_profile(account, &full_name).await?;
        // A new account has no second factor yet.
        Ok(Profile::new(record, false))
    }
}

/// A new password must not be built from the display name.
#[async_trait]
impl PersonalWords for Profiles {
    async fn personal_words(&self, user_id: Uuid) -> Result<Vec<String>, StoreError> {
        let record = self.inner.records.get(user_id).await?;
        Ok(record.map(|record| record.full_name).into_iter().collect())
    }
}

/// The current user.
#[utoipa::path(get, path = "/me", tag = "users",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses(
        (status = 200, description = "The user", body = Profile),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_me(
    State(profiles): State<Profiles>,
    CurrentUser(record): CurrentUser<ProfileRecord>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(profiles.user_object(record).await?))
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
        (status = 200, description = "The user", body = Profile),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_me(
    State(profiles): State<Profiles>,
    principal: Principal,
    Json(body): Json<PatchMe>,
) -> Result<Json<Profile>, ApiError> {
    // Both validated before either is written: a 422 changes nothing.
    let timezone = match &body.timezone {
        Some(raw) => Some(
            crate::trading::parse_timezone(raw)
                .map_err(|message| ApiError::invalid("timezone", message))?
                .name()
                .to_owned(),
        ),
        None => None,
    };
    let full_name = match &body.full_name {
        Some(raw) => Some(parse_full_name(raw).map_err(|err| ApiError::Validation(vec![err]))?),
        None => None,
    };
    let id = principal.user_id;
    let zone_changes = timezone.is_some();
    let changes = ProfileChanges {
        full_name,
        timezone,
    };
    let result = profiles.inner.store.update_profile(id, &changes).await;
    // Also on error: the write may have committed before it surfaced.
    profiles.inner.records.invalidate(id).await;
    if zone_changes && let Some(journal) = &profiles.inner.journal {
        journal.invalidate(&id.to_string()).await;
    }
    let record = result.map_err(|error| match error {
        // A live session of a deleted user: the identity is gone.
        StoreError::NotFound => ApiError::NotAuthenticated,
        other => other.into(),
    })?;
    Ok(Json(profiles.user_object(record).await?))
}
