//! The trading domain: trades, portfolios, positions.
//!
//! - newtypes ([`Quantity`], [`Price`], [`Fees`]) and
//!   [`Symbol`]/[`Side`] that cannot hold bad values, parsing JSON numbers
//!   exactly;
//! - the position fold ([`fold_positions`]: average cost, FIFO or LIFO,
//!   shorts, multipliers), pure and property-tested, and the round trips
//!   it cuts a group into ([`derive_round_trips`]);
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
mod portfolio_api;
mod portfolio_sql;
mod round_trip;
mod rows;
mod rules;
#[cfg(test)]
mod rules_props;
mod sql;
mod store;
#[cfg(test)]
mod store_tests;
mod symbol;
mod tags;
mod trip_fold;

pub use analytics::{
    BreakdownBy, BreakdownGroup, ClosedTrip, EquityPoint, Summary, breakdown, equity_curve,
    parse_timezone, summarize,
};
pub use api::{DEFAULT_LIMIT, MAX_LIMIT, routes};
pub use cache::{InvalidatingTradingStore, TRADING_CACHE_TTL};
pub use fold::{FoldError, Position, TradeLeg, fold_positions};
pub use group_sql::RoundTripQuery;
pub use import::{ImportRecord, NewImport};
pub use imports::{
    Candidate, DateFormat, DecimalMark, FeeSign, ImportFormat, ParsedFile, ReadOptions,
    RequestedFormat, RowError, dedupe_keys, local_to_utc, parse_file,
};
pub use model::{
    Currency, Cursor, NewTrade, Notes, Portfolio, PortfolioChanges, PortfolioName, Trade,
    TradeChanges, TradeQuery,
};
pub use money::{
    Fees, Multiplier, Price, Quantity, decimal_from_raw, deserialize_decimal, parse_decimal_exact,
    serialize_decimal,
};
pub use round_trip::{
    Direction, JOURNAL_DP, RoundTrip, RoundTripStatus, derive_round_trips, divide,
};
pub use rules::{CostBasis, Rules};
pub use store::{TradeWriteError, TradingStore};
pub use symbol::{Side, Symbol};
pub use tags::{Tag, Tags};
