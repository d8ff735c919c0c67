//! Parsing what handlers read: JSON and form bodies, query strings, path
//! parameters, and the client's socket address.

use super::{PathParams, Request};
use crate::error::ApiError;
use http::header;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

/// The peer address of the connection, put into request extensions by the
/// accept loop (hyper does not). Rate limiting and session records read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Parses the body as JSON. Malformed JSON is `400 malformed_body`; JSON of
/// the wrong shape (a missing field, a string where a number belongs) is
/// `422` naming the field serde complained about.
pub fn parse_json<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let is_json = content_type
            .to_str()
            .map(|value| {
                let essence = value.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("application/json")
                    || essence.to_ascii_lowercase().ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType {
                expected: "application/json",
            });
        }
    }
    let body: &[u8] = request.body();
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error_free(&mut deserializer)?;
    deserializer
        .end()
        .map_err(|err| ApiError::MalformedBody(format!("malformed JSON body: {err}")))?;
    Ok(value)
}

fn serde_path_to_error_free<T: DeserializeOwned>(
    deserializer: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<T, ApiError> {
    T::deserialize(deserializer).map_err(|err| {
        use serde_json::error::Category;
        match err.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::MalformedBody(format!("malformed JSON body: {err}"))
            }
            Category::Data => data_error(&err.to_string()),
        }
    })
}

/// Turns serde's data error into a field error. serde names the field in
/// messages like "missing field `email`" or "invalid value ... for field";
/// where it does not, the field is reported as `body`.
fn data_error(message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field") || message.starts_with("unknown field"))
        .unwrap_or("body");
    ApiError::invalid(field, message)
}

/// Parses an `application/x-www-form-urlencoded` body (the OAuth2 password
/// flow).
pub fn parse_form<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(request.body()).map_err(|err| data_error(&err.to_string()))
}

/// Parses the query string; a bad parameter is `422`.
pub fn parse_query<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    serde_urlencoded::from_str(request.uri().query().unwrap_or(""))
        .map_err(|err| data_error(&err.to_string()))
}

/// A path parameter parsed by `FromStr`. A value that does not parse names no
/// resource, so it is `404` like any other unknown id.
pub fn path_param<T: std::str::FromStr>(
    request: &Request,
    name: &str,
    resource: &'static str,
) -> Result<T, ApiError> {
    request
        .extensions()
        .get::<PathParams>()
        .and_then(|params| params.get(name))
        .and_then(|value| value.parse().ok())
        .ok_or(ApiError::NotFound(resource))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Login {
        email: String,
    }

    fn request(body: &'static str) -> Request {
        http::Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap()
    }

    #[test]
    fn malformed_json_is_400_and_wrong_shape_is_422() {
        let err = parse_json::<Login>(&request("{\"email\":")).unwrap_err();
        assert_eq!(err.code(), "malformed_body");
        let err = parse_json::<Login>(&request("{}")).unwrap_err();
        assert_eq!(err.status(), 422);
        match err {
            ApiError::Validation(fields) => assert_eq!(fields[0].field, "email"),
            other => panic!("{other:?}"),
        }
        let err = parse_json::<Login>(&request("{\"email\":\"a\"} trailing")).unwrap_err();
        assert_eq!(err.code(), "malformed_body");
    }
}
