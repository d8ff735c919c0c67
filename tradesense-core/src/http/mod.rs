//! HTTP plumbing shared by every endpoint of the crate, on axum: extractors
//! whose rejections are problem+json, the fallbacks that answer unknown
//! paths and methods as problem+json, the request deadline, and CORS for
//! the requests that are CORS requests.
//!
//! Routing itself is axum's [`Router`](axum::Router): a plain tower service,
//! so the crate's layers stay router-agnostic and a stranger's axum app can
//! mount the crate's endpoint routers next to its own.

mod content_length;
mod cors;
mod extract;
mod fallback;
mod generic_route;
mod guard;
mod page;
mod timeout;

pub use content_length::{ContentLengthLimit, ContentLengthLimitFuture, ContentLengthLimitLayer};
pub use cors::{CorsRequests, CorsRequestsFuture, CorsRequestsLayer};
pub use extract::{Form, Json, JsonBody, Path, Query, parse_json};
pub use fallback::{ProblemFallback, ProblemFallbackFuture, ProblemFallbackLayer, not_found};
pub(crate) use generic_route::{generic_route, schema_ref};
pub use guard::guard;
pub use page::{
    DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, PageCursor, QueryParams, page, page_cursor, page_limit,
};
pub use timeout::{RequestTimeout, RequestTimeoutFuture, RequestTimeoutLayer};

/// The default request-body limit: 1 MiB (docs/API.md `MAX_BODY_BYTES`).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
