//! The trading domain: trades, portfolios, positions.
//!
//! - newtypes ([`Quantity`], [`Price`], [`Fees`]) and
//!   [`Symbol`]/[`Side`] that cannot hold bad values, parsing JSON numbers
//!   exactly;
//! - the average-cost fold ([`fold_positions`]), pure and property-tested;
//! - the records the store keeps ([`Trade`], [`Portfolio`]);
//! - the HTTP endpoints ([`routes`]), owner-scoped, over
//!   [`TradingStore`](crate::store::trading::TradingStore).

mod api;
mod fields;
mod fold;
mod model;
mod money;
mod symbol;

pub use api::{DEFAULT_LIMIT, MAX_LIMIT, routes};
pub use fold::{FoldError, Position, TradeLeg, fold_positions};
pub use model::{
    Currency, Cursor, NewTrade, Notes, Portfolio, PortfolioName, Trade, TradeChanges, TradeQuery,
};
pub use money::{
    Fees, Price, Quantity, decimal_from_raw, deserialize_decimal, parse_decimal_exact,
    serialize_decimal,
};
pub use symbol::{Side, Symbol};

/// The position of one symbol from its trades in `(executed_at, id)` order:
/// the recompute step the store runs inside a trade write's transaction.
pub fn recompute_position(symbol: &Symbol, legs: &[TradeLeg]) -> Result<Position, FoldError> {
    Ok(fold_positions(legs)?
        .into_iter()
        .find(|position| &position.symbol == symbol)
        .unwrap_or_else(|| Position::empty(symbol.clone())))
}
