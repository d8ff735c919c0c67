//! axum extractors whose rejections are problem+json [`ApiError`]s: the
//! JSON body (field errors named by their JSON path), the OAuth2 form, the
//! query string and path parameters.
//!
//! axum's own extractors answer plain-text rejections and name no field;
//! these wrap the same parsing and map every failure once.

use crate::error::ApiError;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A JSON body in, or a JSON response out.
///
/// As an extractor: a missing `Content-Type`, or one other than
/// `application/json`, is `415 unsupported_media_type` (docs/API.md: a
/// body route names its media type; a guessed one is how a cross-site
/// `text/plain` form post would slip in); malformed JSON is
/// `400 malformed_body`; JSON of the wrong shape is `422` naming the field
/// by its JSON path (`full_name`, `items[2].price`). An empty body with the
/// JSON type reads as `{}`, so an all-optional body may be left out. A body
/// over the router's `DefaultBodyLimit` is `413`.
///
/// ```
/// use axum::{Router, routing::post};
/// use tower::ServiceExt;
/// use tradesense_core::http::Json;
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Name { full_name: String }
///
/// async fn echo(Json(name): Json<Name>) -> Json<Name> { Json(name) }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app = Router::new().route("/", post(echo));
/// let request = http::Request::post("/")
///     .header("content-type", "application/json")
///     .body(axum::body::Body::from(r#"{"full_name": 12345}"#))
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 422);
/// let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
/// let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
/// assert_eq!(problem["errors"][0]["field"], "full_name");
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBody(body) = JsonBody::from_request(request, state).await?;
        parse_json(&body).map(Json)
    }
}

/// The raw bytes of a JSON body, for handlers that parse it themselves
/// (field by field, say): the `Content-Type` rule and the size limit of
/// [`Json`], no parsing.
#[derive(Debug, Clone, Default)]
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !content_type_is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType {
                expected: "application/json",
            });
        }
        read_body(request, state).await.map(JsonBody)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            // Our response types hold no failing `Serialize`; should one
            // appear, the client gets a 500 problem, not a dropped connection.
            Err(err) => ApiError::internal(err).into_response(),
        }
    }
}

/// Whether the `Content-Type` is `JSON`: `application/json`, parameters
/// (`; charset=utf-8`) allowed. A missing one is not: no body type is
/// guessed (docs/API.md answers it `415`).
fn content_type_is_json(headers: &HeaderMap) -> bool {
    content_type_is(headers, "application/json")
}

/// Whether the request's `Content-Type` essence (before any `;`
/// parameters) is `expected`, case-insensitively. `false` when missing.
fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let essence = value.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case(expected)
        })
}

/// Reads the whole body within the router's `DefaultBodyLimit`.
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::PayloadTooLarge
            }
            other => ApiError::MalformedBody(other.body_text()),
        })
}

/// Parses `body` as JSON into `T`, naming the failing field by its path.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        use serde_json::error::Category;
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::MalformedBody(format!("malformed JSON body: {inner}"))
            }
            Category::Data => field_error(&path, &inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::MalformedBody(format!("malformed JSON body: {err}")))?;
    Ok(value)
}

/// A `422` for the field at `path`. serde reports a missing field one level
/// up (the path is the object's, `.`): the field's name is in its message.
fn field_error(path: &str, message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let named = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))
        .and_then(|rest| rest.split('`').next());
    let field = match (path, named) {
        ("." | "", Some(name)) => name.to_owned(),
        (path, Some(name)) if message.starts_with("missing field") => format!("{path}.{name}"),
        (".", None) | ("", None) => "body".to_owned(),
        (path, _) => path.to_owned(),
    };
    ApiError::invalid(field, message)
}

/// An `application/x-www-form-urlencoded` body (the OAuth2 password flow).
/// Any other or a missing `Content-Type` is `415`; a bad or missing field is
/// `422` naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !content_type_is(request.headers(), FORM_URLENCODED) {
            return Err(ApiError::UnsupportedMediaType {
                expected: FORM_URLENCODED,
            });
        }
        let body = read_body(request, state).await?;
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&body));
        serde_path_to_error::deserialize(deserializer)
            .map(Form)
            .map_err(|err| field_error(&err.path().to_string(), &err.into_inner().to_string()))
    }
}

const FORM_URLENCODED: &str = "application/x-www-form-urlencoded";

/// The query string; a bad parameter is `422` naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("").as_bytes();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|err| field_error(&err.path().to_string(), &err.into_inner().to_string()))
    }
}

/// The single path parameter of a resource route (`/trades/{id}`), parsed
/// by `FromStr`. A value that does not parse names no resource, so it is
/// `404` like any other unknown id; `R` names the resource in the problem.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: std::str::FromStr + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound("resource"))?;
        raw.parse()
            .map(Path)
            .map_err(|_| ApiError::NotFound("resource"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn only_the_named_media_type_passes() {
        assert!(content_type_is_json(&with_type(Some("application/json"))));
        assert!(content_type_is_json(&with_type(Some(
            "Application/JSON; charset=utf-8"
        ))));
        assert!(!content_type_is_json(&with_type(None)));
        assert!(!content_type_is_json(&with_type(Some("text/plain"))));
        assert!(!content_type_is_json(&with_type(Some(
            "application/x-www-form-urlencoded"
        ))));
        let form = with_type(Some("application/x-www-form-urlencoded; charset=utf-8"));
        assert!(content_type_is(&form, FORM_URLENCODED));
        assert!(!content_type_is(&with_type(None), FORM_URLENCODED));
        assert!(!content_type_is(
            &with_type(Some("multipart/form-data")),
            FORM_URLENCODED
        ));
    }
}
