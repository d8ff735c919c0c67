//! The trading domain: trades, portfolios, positions.
//!
//! - newtypes ([`Quantity`], [`Price`], [`Fees`]) and
//!   [`Symbol`]/[`Side`] that cannot hold bad values, parsing JSON numbers
//!   exactly;
//! - the average-cost fold ([`fold_positions`]), pure and property-tested;
//! - the records the store keeps ([`Trade`], [`Portfolio`]);
//! - storage: the [`TradingStore`] trait, its sqlx implementation on
//!   [`SqlStore`](crate::store::SqlStore) (tables: the
//!   [`Trading`](crate::store::MigrationSet::Trading) migrations) and
//!   [`InvalidatingTradingStore`], the decorator that drops the owner's
//!   cached responses on every write;
//! - the HTTP endpoints ([`routes`]), owner-scoped, over [`TradingStore`].
//!
//! Only the fold and the newtypes are pure; storage and HTTP sit beside
//! them in this folder, and the fold never calls them.

mod analytics;
mod api;
#[macro_use]
mod append_sql;
#[cfg(test)]
mod append_tests;
mod bulk;
mod cache;
#[cfg(test)]
mod explain;
mod fields;
mod fold;
#[macro_use]
mod group_sql;
mod import;
mod import_api;
mod import_sql;
mod imports;
mod journal_api;
#[cfg(test)]
mod journal_explain;
#[cfg(test)]
mod journal_props;
mod model;
mod money;
mod round_trip;
mod rows;
mod sql;
mod store;
#[cfg(test)]
mod store_tests;
mod symbol;
mod tags;

pub use analytics::{
    BreakdownBy, BreakdownGroup, ClosedTrip, EquityPoint, Summary, breakdown, equity_curve,
    parse_timezone, summarize,
};
pub use api::{DEFAULT_LIMIT, MAX_LIMIT, routes};
pub use cache::{InvalidatingTradingStore, TRADING_CACHE_TTL, ZoneInvalidatingUsers};
pub use fold::{FoldError, Position, TradeLeg, fold_positions};
pub use group_sql::RoundTripQuery;
pub use import::{ImportRecord, NewImport};
pub use imports::{
    Candidate, DateFormat, DecimalMark, FeeSign, ImportFormat, ParsedFile, ReadOptions,
    RequestedFormat, RowError, dedupe_keys, local_to_utc, parse_file,
};
pub use model::{
    Currency, Cursor, NewTrade, Notes, Portfolio, PortfolioName, Trade, TradeChanges, TradeQuery,
};
pub use money::{
    Fees, Multiplier, Price, Quantity, decimal_from_raw, deserialize_decimal, parse_decimal_exact,
    serialize_decimal,
};
pub use round_trip::{JOURNAL_DP, RoundTrip, RoundTripStatus, derive_round_trips, divide};
pub use store::{Recompute, TradeWriteError, TradingStore};
pub use symbol::{Side, Symbol};
pub use tags::{Tag, Tags};

/// The position of one symbol from its trades in `(executed_at, id)` order:
/// the recompute step the store runs inside a trade write's transaction.
pub fn recompute_position(symbol: &Symbol, legs: &[TradeLeg]) -> Result<Position, FoldError> {
    Ok(fold_positions(legs)?
        .into_iter()
        .find(|position| &position.symbol == symbol)
        .unwrap_or_else(|| Position::empty(symbol.clone())))
}
