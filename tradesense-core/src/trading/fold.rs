//! The average-cost fold: positions as a pure function of an ordered list of
//! trades (docs/API.md, "Positions").
//!
//! A buy of `q` at `p` with fees `f` makes
//! `average_cost = (Q*A + q*p + f) / (Q + q)`; a sell adds `(p - A)*q - f` to
//! `realized_pnl` and leaves `A` alone; a sell that would take the quantity
//! below zero at its place in the order is refused. A position sold to zero
//! keeps its last average cost and its realized P&L.
//!
//! Storage keeps one row per (portfolio, symbol) and recomputes it from that
//! symbol's trades inside the trade write's transaction (or, for a trade
//! appended after all others, resumes [`Book`] from the stored state), so
//! this fold is the single definition of what a position is.

use super::money::serialize_decimal;
use super::{Fees, Price, Quantity, Side, Symbol};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the fold needs of a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeLeg {
    /// The instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// How much.
    pub quantity: Quantity,
    /// At what unit price.
    pub price: Price,
    /// With what fees.
    pub fees: Fees,
}

/// One symbol's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Position {
    /// The instrument.
    #[schema(value_type = String)]
    pub symbol: Symbol,
    /// Quantity held (never negative).
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Average cost per unit, fees included.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub average_cost: Decimal,
    /// Realized profit and loss, after fees.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub realized_pnl: Decimal,
}

impl Position {
    /// An empty position in `symbol`.
    pub fn empty(symbol: Symbol) -> Self {
        Self {
            symbol,
            quantity: Decimal::ZERO,
            average_cost: Decimal::ZERO,
            realized_pnl: Decimal::ZERO,
        }
    }

    /// Whether the API lists it: a non-zero quantity or realized P&L.
    pub fn is_reportable(&self) -> bool {
        !self.quantity.is_zero() || !self.realized_pnl.is_zero()
    }
}

/// The running state of one symbol. It keeps the exact total cost `Q*A`
/// beside the average, so each average is one division of exact sums (a
/// run of buys at 124 and 125 averages to exactly 124.5), instead of
/// compounding a rounded average into the next: 28 significant digits make
/// the difference tiny, but a position must not read `124.50000000000000000000000001`.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub(crate) position: Position,
    /// Exact (or, after a sell of a non-terminating share, once-rounded)
    /// total cost of the quantity held.
    cost: Decimal,
}

impl Book {
    /// An empty book of `symbol`.
    pub(crate) fn new(symbol: Symbol) -> Self {
        Self {
            position: Position::empty(symbol),
            cost: Decimal::ZERO,
        }
    }

    /// A book resumed from its stored state: the position and the exact
    /// total cost of the quantity held (what [`cost`](Self::cost) gave).
    pub(crate) fn resume(position: Position, cost: Decimal) -> Self {
        Self { position, cost }
    }

    /// The exact total cost of the quantity held (zero when flat).
    pub(crate) fn cost(&self) -> Decimal {
        self.cost
    }

    pub(crate) fn apply(&mut self, leg: &TradeLeg) -> Result<(), FoldError> {
        let symbol = &self.position.symbol;
        let overflow = || FoldError::Overflow {
            symbol: symbol.clone(),
        };
        let (q, p, f) = (leg.quantity.get(), leg.price.get(), leg.fees.get());
        let held = self.position.quantity;
        match leg.side {
            Side::Buy => {
                let cost = q
                    .checked_mul(p)
                    .and_then(|c| c.checked_add(f))
                    .and_then(|c| c.checked_add(self.cost))
                    .ok_or_else(overflow)?;
                let quantity = held.checked_add(q).ok_or_else(overflow)?;
                // A = (Q*A + q*p + f) / (Q + q), with Q*A carried exactly.
                self.position.average_cost =
                    cost.checked_div(quantity).ok_or_else(overflow)?.normalize();
                self.position.quantity = quantity.normalize();
                self.cost = cost;
            }
            Side::Sell => {
                if q > held {
                    return Err(FoldError::InsufficientPosition {
                        symbol: symbol.clone(),
                        held,
                        sold: q,
                    });
                }
                // The cost of the units sold, A*q, computed as cost*q/Q: one
                // rounding at most, and exact whenever A*q terminates.
                let removed = self
                    .cost
                    .checked_mul(q)
                    .and_then(|c| c.checked_div(held))
                    .ok_or_else(overflow)?;
                // realized += (p - A)*q - f  ==  p*q - A*q - f
                let gain = p
                    .checked_mul(q)
                    .and_then(|g| g.checked_sub(removed))
                    .and_then(|g| g.checked_sub(f))
                    .ok_or_else(overflow)?;
                let realized = self
                    .position
                    .realized_pnl
                    .checked_add(gain)
                    .ok_or_else(overflow)?;
                self.position.realized_pnl = realized.normalize();
                self.position.quantity = (held - q).normalize();
                self.cost = if self.position.quantity.is_zero() {
                    Decimal::ZERO
                } else {
                    self.cost - removed
                };
            }
        }
        Ok(())
    }
}

/// Why a sequence of trades has no positions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    /// A sell exceeds what is held at its place in the order.
    #[error("selling {sold} {symbol} exceeds the {held} held at that time")]
    InsufficientPosition {
        /// The instrument.
        symbol: Symbol,
        /// Held just before the sell.
        held: Decimal,
        /// The sell's quantity.
        sold: Decimal,
    },
    /// An amount left the range of exact decimals (~7.9e28).
    #[error("amounts in {symbol} exceed the supported range")]
    Overflow {
        /// The instrument.
        symbol: Symbol,
    },
}

/// Folds trades, already in `(executed_at, id)` order, into positions, one
/// per symbol seen, ordered by symbol.
///
/// ```
/// use tradesense_core::trading::{fold_positions, TradeLeg, Side};
/// let leg = |side, q: &str, p: &str| TradeLeg {
///     symbol: "AAPL".parse().unwrap(), side,
///     quantity: q.parse().unwrap(), price: p.parse().unwrap(), fees: "0".parse().unwrap(),
/// };
/// let positions = fold_positions(&[leg(Side::Buy, "10", "100"), leg(Side::Sell, "4", "110")]).unwrap();
/// assert_eq!(positions[0].quantity.to_string(), "6");
/// assert_eq!(positions[0].realized_pnl.to_string(), "40");
/// assert!(fold_positions(&[leg(Side::Sell, "1", "1")]).is_err());
/// ```
pub fn fold_positions<'a>(
    trades: impl IntoIterator<Item = &'a TradeLeg>,
) -> Result<Vec<Position>, FoldError> {
    let mut books: BTreeMap<&Symbol, Book> = BTreeMap::new();
    for leg in trades {
        books
            .entry(&leg.symbol)
            .or_insert_with(|| Book::new(leg.symbol.clone()))
            .apply(leg)?;
    }
    Ok(books.into_values().map(|book| book.position).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(side: Side, q: &str, p: &str, f: &str) -> TradeLeg {
        TradeLeg {
            symbol: "X".parse().unwrap(),
            side,
            quantity: q.parse().unwrap(),
            price: p.parse().unwrap(),
            fees: f.parse().unwrap(),
        }
    }

    #[test]
    fn sold_to_zero_keeps_average_and_pnl() {
        let p = fold_positions(&[
            leg(Side::Buy, "3", "300", "0"),
            leg(Side::Sell, "3", "310", "2"),
        ])
        .unwrap();
        assert_eq!(p[0].quantity, Decimal::ZERO);
        assert_eq!(p[0].average_cost.to_string(), "300");
        assert_eq!(p[0].realized_pnl.to_string(), "28");
        assert!(p[0].is_reportable());
    }

    #[test]
    fn overselling_is_refused() {
        let err = fold_positions(&[
            leg(Side::Buy, "1", "1", "0"),
            leg(Side::Sell, "1.5", "1", "0"),
        ])
        .unwrap_err();
        assert!(matches!(err, FoldError::InsufficientPosition { .. }));
    }

    #[test]
    fn averages_do_not_compound_rounding() {
        let buys: Vec<TradeLeg> = (0..50)
            .map(|i| leg(Side::Buy, "1", &(100 + (i * 37) % 50).to_string(), "0"))
            .collect();
        assert_eq!(
            fold_positions(&buys).unwrap()[0].average_cost.to_string(),
            "124.5"
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let big = "70000000000000000000000000000";
        let err = fold_positions(&[leg(Side::Buy, big, big, "0")]).unwrap_err();
        assert!(matches!(err, FoldError::Overflow { .. }));
    }
}
