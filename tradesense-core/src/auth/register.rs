//! Public registration, on the application's terms: [`Registration`] says
//! what a sign-up carries besides the e-mail and the password (fields the
//! application stores itself, or none: [`NoExtraFields`]) and how the
//! account is stored; [`AuthState::register_routes`] serves `POST
//! /register` for it. An application without public sign-up mounts no
//! register route and implements nothing here.

use super::state::AuthState;
use crate::error::{ApiError, FieldError, Problem};
use crate::http::{Json, generic_route, guard, schema_ref};
use crate::store::StoreError;
use crate::users::Email;
use async_trait::async_trait;
use axum::extract::State;
use axum::routing::post;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// A checked sign-up, to be stored. Not `Debug`: it carries the hash.
#[derive(Clone)]
pub struct NewAccount {
    /// The account's handle, generated here (UUID v7): store it beside
    /// the application's own key; every piece of core names the account by
    /// it (see [`Credentials`](crate::users::Credentials)).
    pub id: Uuid,
    /// The e-mail, normalised by its type.
    pub email: Email,
    /// The argon2id PHC string of the password, which passed the
    /// [password policy](super::PasswordPolicy).
    pub password_hash: String,
}

/// How sign-ups are checked and stored: implemented by the application over
/// its own accounts table.
#[async_trait]
pub trait Registration: Send + Sync + 'static {
    /// The body's fields besides `email` and `password` (read from the same
    /// JSON object): the application's own, e.g. a display name.
    /// [`NoExtraFields`] for none.
    type Extra: DeserializeOwned + ToSchema + Send + 'static;
    /// What `201` answers: the new account as the application shows it.
    type Created: Serialize + ToSchema + Send + 'static;

    /// Checks the extra fields. Their errors are answered together with
    /// the e-mail's and the password's, in one `422`, before anything is
    /// hashed or stored.
    fn check(&self, extra: &Self::Extra) -> Vec<FieldError> {
        let _ = extra;
        Vec::new()
    }

    /// Words of the sign-up a password must not be built from (beside the
    /// e-mail, always one): a name, say.
    fn personal_words<'e>(&self, extra: &'e Self::Extra) -> Vec<&'e str> {
        let _ = extra;
        Vec::new()
    }

    /// Stores the account. A taken e-mail (case-insensitively) is
    /// [`StoreError::Conflict`], answered `409 email_taken`.
    async fn create_account(
        &self,
        account: NewAccount,
        extra: Self::Extra,
    ) -> Result<Self::Created, StoreError>;
}

/// A sign-up of e-mail and password only.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub struct NoExtraFields {}

/// The body of `/register`: the credentials, and the application's fields
/// beside them.
#[derive(Deserialize)]
struct RegisterBody<E> {
    email: String,
    password: String,
    #[serde(flatten)]
    extra: E,
}

/// What every registration body carries (the document adds the
/// application's fields to it).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the handler reads `RegisterBody`.
struct RegisterCredentials {
    email: String,
    password: String,
}

struct RegisterState<R> {
    auth: AuthState,
    registration: Arc<R>,
}

impl<R> Clone for RegisterState<R> {
    fn clone(&self) -> Self {
        Self {
            auth: self.auth.clone(),
            registration: self.registration.clone(),
        }
    }
}

impl AuthState {
    /// `POST /register` for `registration`, relative to where it is
    /// mounted, behind the [origin rule](Self::origin_layer), documented
    /// with the application's own body and response schemas.
    pub fn register_routes<R: Registration>(&self, registration: R) -> OpenApiRouter {
        let mut components = Vec::new();
        let credentials = schema_ref::<RegisterCredentials>(&mut components);
        let extra = schema_ref::<R::Extra>(&mut components);
        let body = utoipa::openapi::schema::AllOfBuilder::new()
            .item(credentials)
            .item(extra)
            .into();
        let created = schema_ref::<R::Created>(&mut components);
        let routes = generic_route(
            routes!(register_documented),
            post(register::<R>),
            Some(body),
            Some(("201", created)),
            components,
        );
        OpenApiRouter::new()
            .routes(guard(routes, self.origin_layer()))
            .with_state(RegisterState {
                auth: self.clone(),
                registration: Arc::new(registration),
            })
    }
}

/// Create an account.
#[utoipa::path(post, path = "/register", operation_id = "auth_register", tag = "auth",
    request_body(content = RegisterCredentials, description = "The e-mail, the password and the application's own fields"),
    responses(
        (status = 201, description = "The new account"),
        (status = 403, description = "`csrf_origin_mismatch`: a foreign `Origin`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` (case-insensitive)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad email, or a password that is too short, too long or too guessable", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)] // the stand-in that documents `register::<R>`.
async fn register_documented() {}

async fn register<R: Registration>(
    State(state): State<RegisterState<R>>,
    Json(body): Json<RegisterBody<R::Extra>>,
) -> Result<(StatusCode, Json<R::Created>), ApiError> {
    let registration = &state.registration;
    let mut errors = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|err| errors.push(FieldError::new("email", err.to_string())));
    errors.extend(registration.check(&body.extra));
    let mut words = registration.personal_words(&body.extra);
    words.push(&body.email);
    let password = state
        .auth
        .password_policy()
        .parse(&body.password, &words)
        .map_err(|err| errors.push(FieldError::new("password", err.to_string())));
    let (Ok(email), Ok(password), true) = (email, password, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let password_hash = state
        .auth
        .hasher()
        .hash(&password)
        .await
        .map_err(ApiError::internal)?;
    let id = Uuid::now_v7();
    let account = NewAccount {
        id,
        email,
        password_hash,
    };
    let created = registration
        .create_account(account, body.extra)
        .await
        .map_err(|err| match err {
            StoreError::Conflict(_) => ApiError::Conflict {
                code: "email_taken",
                detail: "An account with this email already exists.".to_owned(),
            },
            other => other.into(),
        })?;
    tracing::info!(user_id = %id, "user registered");
    Ok((StatusCode::CREATED, Json(created)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PasswordPolicy;
    use crate::users::{Credentials, UserStore};
    use axum::body::Body;
    use serde_json::{Value, json};
    use std::sync::Mutex;
    use tower::ServiceExt;

    /// An embedder's sign-up: a nickname beside the credentials.
    #[derive(Deserialize, ToSchema)]
    struct Nickname {
        nickname: String,
    }

    /// What `201` shows: the embedder's own record.
    #[derive(Serialize, ToSchema)]
    struct Member {
        number: usize,
        nickname: String,
    }

    /// Accounts in memory.
    #[derive(Default)]
    struct Members(Mutex<Vec<(NewAccount, String)>>);

    #[async_trait]
    impl Registration for Arc<Members> {
        type Extra = Nickname;
        type Created = Member;

        fn check(&self, extra: &Nickname) -> Vec<FieldError> {
            match extra.nickname.trim().is_empty() {
                true => vec![FieldError::new("nickname", "must not be blank")],
                false => Vec::new(),
            }
        }

        fn personal_words<'e>(&self, extra: &'e Nickname) -> Vec<&'e str> {
            vec![&extra.nickname]
        }

        async fn create_account(
            &self,
            account: NewAccount,
            extra: Nickname,
        ) -> Result<Member, StoreError> {
            let mut members = self.0.lock().unwrap();
            if members.iter().any(|(m, _)| m.email == account.email) {
                return Err(StoreError::Conflict("email".into()));
            }
            members.push((account, extra.nickname.clone()));
            Ok(Member {
                number: members.len(),
                nickname: extra.nickname,
            })
        }
    }

    #[async_trait]
    impl UserStore for Arc<Members> {
        async fn credentials_by_email(&self, _: &Email) -> Result<Option<Credentials>, StoreError> {
            Ok(None)
        }
        async fn credentials_by_id(&self, _: Uuid) -> Result<Option<Credentials>, StoreError> {
            Ok(None)
        }
        async fn update_password_hash(&self, _: Uuid, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
    }

    async fn post(app: &axum::Router, body: Value) -> (u16, Value) {
        let request = http::Request::post("/register")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn an_embedders_payload_policy_and_schemas() {
        let members = Arc::new(Members::default());
        let auth = AuthState::builder(
            crate::auth::session_memory::test_authenticator(),
            Arc::new(members.clone()),
        )
        .password_policy(PasswordPolicy {
            min_chars: 8,
            check_strength: false,
        })
        .hasher(crate::auth::PasswordHasher::new(1))
        .build();
        let (app, document) = auth.register_routes(members.clone()).split_for_parts();

        // Every field error at once, the embedder's among them; nothing stored.
        let (status, problem) = post(
            &app,
            json!({"email": "nope", "password": "short", "nickname": " "}),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["email", "nickname", "password"], "{problem}");
        assert!(members.0.lock().unwrap().is_empty());

        // The embedder's policy: 8 characters, no strength check.
        let body = json!({"email": "Ada@Example.com", "password": "password", "nickname": "ada"});
        let (status, created) = post(&app, body.clone()).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created, json!({"number": 1, "nickname": "ada"}));
        {
            let stored = &members.0.lock().unwrap()[0];
            assert_eq!(stored.0.email.as_str(), "ada@example.com");
            assert!(stored.0.password_hash.starts_with("$argon2id$"));
        }
        assert_eq!(post(&app, body).await.1["code"], "email_taken");

        // The document names the embedder's types.
        let document = serde_json::to_value(&document).unwrap();
        let operation = &document["paths"]["/register"]["post"];
        assert_eq!(operation["operationId"], "auth_register");
        let body = &operation["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(
            body["allOf"][1]["$ref"], "#/components/schemas/Nickname",
            "{body}"
        );
        let created = &operation["responses"]["201"]["content"]["application/json"]["schema"];
        assert_eq!(created["$ref"], "#/components/schemas/Member");
        assert!(document["components"]["schemas"]["Member"].is_object());
    }
}
