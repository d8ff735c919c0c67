//! HTTP plumbing shared by every service in the crate: the response body
//! type, JSON responses, body and query parsing, the router, and the
//! request extensions the accept loop and the layers fill in.
//!
//! The crate's own services read requests whose body has already been
//! buffered (by [`BufferBodyLayer`]) into [`Bytes`]; every *layer* stays
//! generic over the request body so it can sit in front of anyone's service.

mod buffer;
mod extract;
mod handler;
mod response;
mod router;
mod timeout;

pub use buffer::{BufferBody, BufferBodyLayer, DEFAULT_BODY_LIMIT};
pub use extract::{ClientAddr, parse_form, parse_json, parse_query, path_param};
pub use handler::{BoxHandler, handler};
pub use response::{json, json_with_status, no_content};
pub use router::{MatchedRoute, MethodRouter, PathParams, Router, UNMATCHED_ROUTE};
pub use timeout::{RequestTimeout, RequestTimeoutLayer};

/// The response body of every service in this crate: a complete buffer.
/// (All answers are small JSON documents or static assets.)
pub type Body = http_body_util::Full<bytes::Bytes>;

/// A request whose body has been read into memory, as handlers receive it.
pub type Request = http::Request<bytes::Bytes>;

/// A response of this crate's services.
pub type Response = http::Response<Body>;

pub use bytes::Bytes;
