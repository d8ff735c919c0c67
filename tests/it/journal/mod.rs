//! Scenarios of the journal, one file per feature; `support` is their client.

mod accounting;
mod analytics;
mod imports;
mod openapi;
mod round_trips;
pub mod support;
mod tags;
