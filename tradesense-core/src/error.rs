//! The one error type of the HTTP boundary, and its single mapping to an
//! RFC 9457 `application/problem+json` response.
//!
//! Every handler returns `Result<_, ApiError>`; every layer that rejects a
//! request builds its response through [`ApiError::into_response`]. The
//! `code` of each variant is stable and machine-readable; `detail` is the
//! human sentence FastAPI-style frontends show. Internal causes are logged
//! (with the request id) and never sent.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a `422` validation failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The request field, as the client named it (`"email"`, `"quantity"`).
    pub field: String,
    /// Why it was refused, in words a user can act on.
    pub message: String,
    /// The resource the error is about, when it is not the request's own
    /// (the later trade an edit would make invalid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl FieldError {
    /// A field error for `field` with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            id: None,
        }
    }

    /// The same error about the resource `id`.
    pub fn about(mut self, id: impl std::fmt::Display) -> Self {
        self.id = Some(id.to_string());
        self
    }
}

/// Everything a request can fail with, each variant documenting its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `400 malformed_body`: the body is not parseable JSON / form data.
    #[error("{0}")]
    MalformedBody(String),
    /// `400 <code>`: a well-formed request the current state refuses
    /// (`mfa_already_enabled`, `invalid_mfa_code` on verify, ...).
    #[error("{detail}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
    },
    /// `401 not_authenticated`, with `WWW-Authenticate: Bearer`: no valid
    /// credentials on a protected route.
    #[error("not authenticated")]
    NotAuthenticated,
    /// `401 <code>`: credentials were offered and refused
    /// (`invalid_credentials`, `invalid_mfa_code`, `invalid_mfa_token`).
    #[error("{detail}")]
    Unauthorized {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
    },
    /// `403 <code>`: authenticated but refused (`csrf_origin_mismatch`).
    #[error("{detail}")]
    Forbidden {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
    },
    /// `404 not_found`: no such route, or no such resource *for this user*
    /// (other users' resources do not exist for you).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// `405 method_not_allowed`, with `Allow` listing the path's methods.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// Every method the path supports.
        allow: Vec<http::Method>,
    },
    /// `409 <code>`: conflicts with existing state (`email_taken`).
    #[error("{detail}")]
    Conflict {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
    },
    /// `413 payload_too_large`: the body exceeds the router's body limit.
    #[error("the request body exceeds the size limit")]
    PayloadTooLarge,
    /// `415 unsupported_media_type`: a body of a type the route does not read.
    #[error("expected a body of type {expected}")]
    UnsupportedMediaType {
        /// The media type the route reads.
        expected: &'static str,
    },
    /// `422 validation_failed` with an `errors` list, one per bad field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// `422 <code>`: a valid request the domain refuses
    /// (`insufficient_position`).
    #[error("{detail}")]
    Unprocessable {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
    },
    /// `422 <code>` naming what the refusal is about in `errors`
    /// (`insufficient_position` with the trade it would make invalid).
    #[error("{detail}")]
    Refused {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
        /// What it is about, one entry each.
        errors: Vec<FieldError>,
    },
    /// `429 rate_limited`, with `Retry-After` in whole seconds.
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until a request would be accepted again.
        retry_after_secs: u64,
    },
    /// `503 service_unavailable`: a dependency the request needs is down.
    #[error("{0}")]
    Unavailable(String),
    /// `500 internal_error`: anything unexpected. The cause is logged with the
    /// request id by the layer that renders it and never sent to the client.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The error body every failure answers with (RFC 9457), as
/// [`ApiError::into_response`] renders it: the OpenAPI schema of every
/// error response. A test checks the two agree.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only its schema is used
pub struct Problem {
    /// `about:blank`.
    #[schema(rename = "type")]
    type_: String,
    /// The status's reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for people.
    detail: String,
    /// What went wrong, for programs (`invalid_credentials`, ...).
    code: String,
    /// On `422 validation_failed`: one entry per invalid field.
    errors: Option<Vec<ProblemField>>,
}

/// One invalid field of a `422`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only its schema is used
pub struct ProblemField {
    /// The request field, by its JSON path.
    field: String,
    /// Why it was refused.
    message: String,
    /// The resource it is about, when not the request's own (the trade an
    /// edit would make invalid).
    id: Option<String>,
}

/// The JSON body of a problem response.
#[derive(Debug, Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    /// A `422` for a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// Wraps any error as an internal one (500, cause logged, never sent).
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotAuthenticated | Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::Unprocessable { .. } | Self::Refused { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::NotAuthenticated => "not_authenticated",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Refused { code, .. } => code,
        }
    }

    /// What the client is told: never the internal cause.
    fn detail(&self) -> String {
        match self {
            Self::Internal(_) => "An unexpected error occurred.".to_owned(),
            Self::NotAuthenticated => "Not authenticated".to_owned(),
            Self::Validation(errors) => match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                _ => "The request has invalid fields.".to_owned(),
            },
            other => other.to_string(),
        }
    }

    /// Renders the problem+json response, for any response body that can be
    /// built from bytes (hyper's `Full<Bytes>`, axum's `Body`, ...).
    ///
    /// Internal errors are logged here, once, with their cause.
    pub fn into_response<B: From<Bytes>>(self) -> Response<B> {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, "internal error");
        }
        let status = self.status();
        let errors = match &self {
            Self::Validation(errors) | Self::Refused { errors, .. } => Some(errors.as_slice()),
            _ => None,
        };
        let body = ProblemBody {
            type_: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code(),
            errors,
        };
        // A problem body is strings and numbers: it cannot fail to
        // serialise, but a request path never panics on a "cannot".
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| {
            br#"{"type":"about:blank","title":"Error","code":"internal_error"}"#.to_vec()
        });
        let mut response = Response::new(B::from(Bytes::from(json)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            Self::NotAuthenticated | Self::Unauthorized { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::MethodNotAllowed { allow } => {
                let allow = allow
                    .iter()
                    .map(http::Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    headers.insert(header::ALLOW, value);
                }
            }
            Self::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

/// axum handlers and extractors return `ApiError` directly.
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        ApiError::into_response::<axum::body::Body>(self)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        match err {
            crate::store::StoreError::NotFound => Self::NotFound("resource"),
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    async fn body_json(response: Response<Full<Bytes>>) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let response: Response<Full<Bytes>> =
            ApiError::internal("connection to postgres://user:pw@db failed").into_response();
        assert_eq!(response.status(), 500);
        let body = body_json(response).await;
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().contains("postgres"));
    }

    #[tokio::test]
    async fn validation_lists_fields() {
        let response: Response<Full<Bytes>> = ApiError::Validation(vec![
            FieldError::new("email", "not an email"),
            FieldError::new("password", "too short"),
        ])
        .into_response();
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = body_json(response).await;
        assert_eq!(body["errors"][1]["field"], "password");
        assert_eq!(body["status"], 422);
    }

    #[test]
    fn method_not_allowed_lists_allow() {
        let response: Response<Full<Bytes>> = ApiError::MethodNotAllowed {
            allow: vec![http::Method::GET, http::Method::POST],
        }
        .into_response();
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
    }
}
