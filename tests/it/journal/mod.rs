//! Scenarios of the journal, one file per feature; `support` is their client.

mod accounting;
mod analytics;
mod import_formats;
mod imports;
mod openapi;
mod round_trips;
pub mod support;
mod tags;
