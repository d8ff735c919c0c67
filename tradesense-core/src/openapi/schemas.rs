//! Schemas of the trading request bodies. The trading endpoints read their
//! bodies field by field (so every bad field gets its own `422` entry and
//! decimals are parsed from their raw JSON text, never through `f64`); there
//! is no struct to derive these from, so they are declared here, next to the
//! document they feed. The HTTP tests of `tests/trading_*.rs` pin the same
//! field names.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `POST /api/v1/portfolios`.
#[derive(utoipa::ToSchema)]
pub(crate) struct CreatePortfolio {
    /// Display name, 1-100 characters.
    name: String,
    /// ISO 4217 code; default `USD`.
    base_currency: Option<String>,
}

/// `PATCH /api/v1/portfolios/{id}`.
#[derive(utoipa::ToSchema)]
pub(crate) struct RenamePortfolio {
    /// Display name, 1-100 characters.
    name: String,
}

/// `POST /api/v1/trades`. Decimals are JSON strings or numbers, parsed exactly.
#[derive(utoipa::ToSchema)]
pub(crate) struct CreateTrade {
    /// 1-16 characters of `[A-Z0-9.:/-]` after upper-casing.
    #[schema(example = "AAPL")]
    symbol: String,
    /// `buy` or `sell`.
    side: crate::trading::Side,
    /// Greater than zero.
    #[schema(example = "10")]
    quantity: String,
    /// Zero or more.
    #[schema(example = "101.25")]
    price: String,
    /// Zero or more; default `0`.
    fees: Option<String>,
    /// Default: now.
    executed_at: Option<DateTime<Utc>>,
    /// The portfolio whose positions it moves.
    portfolio_id: Option<Uuid>,
    /// Free text, up to 1000 characters.
    notes: Option<String>,
}

/// `PATCH /api/v1/trades/{id}`: any of these fields.
#[derive(utoipa::ToSchema)]
pub(crate) struct UpdateTrade {
    /// Greater than zero.
    quantity: Option<String>,
    /// Zero or more.
    price: Option<String>,
    /// Zero or more.
    fees: Option<String>,
    /// A new place in the fold.
    executed_at: Option<DateTime<Utc>>,
    /// Free text, up to 1000 characters.
    notes: Option<String>,
}
