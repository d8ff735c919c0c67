//! The journal (issue 13) black-box over HTTP on every configured backend:
//! tags, round trips, analytics and imports (docs/API.md, "The journal").

mod common;
mod journal;
