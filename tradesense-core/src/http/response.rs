//! Building JSON responses.

use super::{Body, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// A `200 OK` JSON response.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
    json_with_status(StatusCode::OK, value)
}

/// A JSON response with the given status.
pub fn json_with_status<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    // Serialising our own response types cannot fail: they hold no maps with
    // non-string keys and no failing `Serialize` impls.
    let bytes = serde_json::to_vec(value).expect("response types always serialise");
    let mut response = Response::new(Body::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A `204 No Content` response.
pub fn no_content() -> Response {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
