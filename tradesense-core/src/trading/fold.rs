//! The position fold: a group's position as a pure function of its trades
//! in `(executed_at, id)` order, under the portfolio's [`Rules`]
//! (docs/API.md, "Positions" and "Shorts, lots and multipliers").
//!
//! Everything is money: a trade of `q` at `p` with multiplier `m` moves
//! `q*p*m`. A long position carries its cost basis (what was paid, fees
//! included); a short one its entry proceeds (what was received, fees
//! deducted). Closing `q` of `|Q|` realizes
//! - long: `q*p*m - basis share - f`, i.e. `(p - A)*q*m - f`;
//! - short: `basis share - q*p*m - f`, i.e. `(A - p)*q*m - f`;
//!
//! where the basis share is, under `average`, the pro-rata share of the
//! whole basis and, under `fifo`/`lifo`, the oldest/newest lots' prices
//! with their fees pro rata. A trade crossing zero is split pro rata
//! (quantity and fees) into the close of one side and the open of the
//! other; without `allow_short` the crossing (or a sell from flat) is
//! refused.
//!
//! Why the totals agree across methods: every division here is a *share*
//! (of a basis, a lot's fees, a trade's fees), rounded half-even to
//! [`JOURNAL_DP`] places, and the last share of anything takes exactly
//! what is left. So once a group is flat each method has removed exactly
//! the whole basis, and realized exactly `proceeds - cost - fees`; no
//! amount ever carries a 28-digit division tail.
//!
//! Storage keeps one row per (portfolio, symbol) and refolds it inside the
//! trade write's transaction (or, for a newest trade under `average`,
//! resumes [`Book`] from the stored state), so this fold is the single
//! definition of what a position is.

use super::money::serialize_decimal;
use super::round_trip::{JOURNAL_DP, divide};
use super::{CostBasis, Fees, Multiplier, Price, Quantity, Rules, Side, Symbol};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use uuid::Uuid;

/// What the fold needs of a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeLeg {
    /// The trade's id: what a refusal names.
    pub id: Uuid,
    /// The instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// How much.
    pub quantity: Quantity,
    /// At what unit price.
    pub price: Price,
    /// With what fees (negative: a rebate).
    pub fees: Fees,
    /// Money per unit of price and quantity.
    pub multiplier: Multiplier,
}

/// One symbol's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Position {
    /// The instrument.
    #[schema(value_type = String)]
    pub symbol: Symbol,
    /// Quantity held: negative for a short.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Average cost per unit, fees included (a short: its net entry
    /// price); kept when the position goes flat.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub average_cost: Decimal,
    /// Realized profit and loss in money, after fees.
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

/// Why a sequence of trades has no positions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    /// A sell exceeds what is held at its place in the order (and shorts
    /// are not allowed).
    #[error("selling {sold} {symbol} exceeds the {held} held at that time (trade {trade_id})")]
    InsufficientPosition {
        /// The trade that cannot be satisfied.
        trade_id: Uuid,
        /// The instrument.
        symbol: Symbol,
        /// Held just before the sell.
        held: Decimal,
        /// The sell's quantity.
        sold: Decimal,
    },
    /// A trade's multiplier differs from the one of its group's trades.
    #[error(
        "{symbol} is traded with multiplier {expected} in this group; trade {trade_id} has {found}"
    )]
    MultiplierMismatch {
        /// The trade that differs.
        trade_id: Uuid,
        /// The instrument.
        symbol: Symbol,
        /// The group's multiplier.
        expected: Decimal,
        /// The trade's.
        found: Decimal,
    },
    /// An amount left the range of exact decimals (~7.9e28).
    #[error("amounts in {symbol} exceed the supported range")]
    Overflow {
        /// The instrument.
        symbol: Symbol,
    },
}

impl FoldError {
    /// The trade the refusal names, if it names one.
    pub fn trade_id(&self) -> Option<Uuid> {
        match self {
            Self::InsufficientPosition { trade_id, .. }
            | Self::MultiplierMismatch { trade_id, .. } => Some(*trade_id),
            Self::Overflow { .. } => None,
        }
    }
}

/// `part / whole` of `total`, rounded half-even to [`JOURNAL_DP`] places
/// (or finer, if `total` already is): `total` itself when `part` is all of
/// it, so the last share takes exactly what is left.
pub(crate) fn share(total: Decimal, part: Decimal, whole: Decimal) -> Option<Decimal> {
    if part == whole {
        return Some(total);
    }
    let places = total.scale().max(JOURNAL_DP);
    total
        .checked_mul(part)?
        .checked_div(whole)
        .map(|s| s.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven))
}

/// One opening trade's remaining quantity, under `fifo`/`lifo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lot {
    quantity: Decimal,
    price: Decimal,
    /// Its fees not yet realized.
    fees: Decimal,
}

/// The part of a trade that reduced the position: how much, its share of
/// the trade's fees, and what it realized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed {
    pub(crate) quantity: Decimal,
    pub(crate) fees: Decimal,
    pub(crate) realized: Decimal,
    /// Whether the position is flat after it.
    pub(crate) flat: bool,
}

/// The part of a trade that opened or added to the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opened {
    pub(crate) quantity: Decimal,
    pub(crate) fees: Decimal,
}

/// How one trade moved the book: a close, an open, or (crossing zero) a
/// close then an open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fill {
    pub(crate) closed: Option<Closed>,
    pub(crate) opened: Option<Opened>,
}

/// The running state of one group. `basis` is the money of the quantity
/// held, exact but for the rounded shares above: what a long paid (fees
/// included), what a short received (fees deducted).
#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub(crate) position: Position,
    rules: Rules,
    multiplier: Option<Decimal>,
    basis: Decimal,
    /// The open lots under `fifo`/`lifo`, oldest first (empty under
    /// `average`).
    lots: VecDeque<Lot>,
}

impl Book {
    /// An empty book of `symbol` under `rules`.
    pub(crate) fn new(symbol: Symbol, rules: Rules) -> Self {
        Self {
            position: Position::empty(symbol),
            rules,
            multiplier: None,
            basis: Decimal::ZERO,
            lots: VecDeque::new(),
        }
    }

    /// A book resumed from its stored state under `rules` (whose cost
    /// basis must be `average`: lots are not stored): the position, the
    /// basis of the quantity held (what [`basis`](Self::basis) gave) and
    /// the group's multiplier, if it has trades.
    pub(crate) fn resume(
        position: Position,
        basis: Decimal,
        multiplier: Option<Decimal>,
        rules: Rules,
    ) -> Self {
        debug_assert_eq!(rules.cost_basis, CostBasis::Average);
        Self {
            position,
            rules,
            multiplier,
            basis,
            lots: VecDeque::new(),
        }
    }

    /// The basis of the quantity held (zero when flat).
    pub(crate) fn basis(&self) -> Decimal {
        self.basis
    }

    /// Applies the next trade, or refuses it. A refusal of the trade
    /// (`InsufficientPosition`, `MultiplierMismatch`) leaves the book as it
    /// was, so a caller can go on with the next trade; after an `Overflow`
    /// the book is unusable (rebuild it from its trades).
    pub(crate) fn apply(&mut self, leg: &TradeLeg) -> Result<Fill, FoldError> {
        let overflow = || FoldError::Overflow {
            symbol: leg.symbol.clone(),
        };
        let m = leg.multiplier.get();
        if let Some(expected) = self.multiplier.filter(|expected| *expected != m) {
            return Err(FoldError::MultiplierMismatch {
                trade_id: leg.id,
                symbol: leg.symbol.clone(),
                expected,
                found: m,
            });
        }
        let (q, f) = (leg.quantity.get(), leg.fees.get());
        let held = self.position.quantity;
        // +1 adds to a long or opens one; -1 adds to a short or opens one.
        let direction = match leg.side {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        };
        let reduces = !held.is_zero() && held.is_sign_negative() != direction.is_sign_negative();
        let closing = if reduces {
            q.min(held.abs())
        } else {
            Decimal::ZERO
        };
        let opening = q - closing;
        if !opening.is_zero() && leg.side == Side::Sell && !self.rules.allow_short {
            return Err(FoldError::InsufficientPosition {
                trade_id: leg.id,
                symbol: leg.symbol.clone(),
                held,
                sold: q,
            });
        }
        // Every refusal above left the book as it was; from here on only an
        // overflow can fail, half-way.
        self.multiplier = Some(m);
        let close_fees = share(f, closing, q).ok_or_else(overflow)?;
        let mut fill = Fill {
            closed: None,
            opened: None,
        };
        if !closing.is_zero() {
            let realized = self.close(leg, closing, close_fees).ok_or_else(overflow)?;
            fill.closed = Some(Closed {
                quantity: closing,
                fees: close_fees,
                realized,
                flat: self.position.quantity.is_zero(),
            });
        }
        if !opening.is_zero() {
            let open_fees = f - close_fees;
            self.open(leg, direction * opening, open_fees)
                .ok_or_else(overflow)?;
            fill.opened = Some(Opened {
                quantity: opening,
                fees: open_fees,
            });
        }
        Ok(fill)
    }

    /// Opens or adds `signed` (positive: long) at the leg's price.
    fn open(&mut self, leg: &TradeLeg, signed: Decimal, fees: Decimal) -> Option<()> {
        let m = leg.multiplier.get();
        let (q, p) = (signed.abs(), leg.price.get());
        // A long pays its fees on top; a short's fees reduce its proceeds.
        let money = q.checked_mul(p)?.checked_mul(m)?;
        let basis_added = if signed.is_sign_positive() {
            money.checked_add(fees)?
        } else {
            money.checked_sub(fees)?
        };
        self.basis = self.basis.checked_add(basis_added)?;
        if self.rules.cost_basis != CostBasis::Average {
            self.lots.push_back(Lot {
                quantity: q,
                price: p,
                fees,
            });
        }
        self.position.quantity = self.position.quantity.checked_add(signed)?.normalize();
        self.reprice(m)
    }

    /// Closes `q` (at most what is held) at the leg's price with `fees`;
    /// returns what it realized.
    fn close(&mut self, leg: &TradeLeg, q: Decimal, fees: Decimal) -> Option<Decimal> {
        let m = leg.multiplier.get();
        let held = self.position.quantity;
        let long = held.is_sign_positive();
        let removed = match self.rules.cost_basis {
            CostBasis::Average => share(self.basis, q, held.abs())?,
            CostBasis::Fifo | CostBasis::Lifo => self.take_lots(q, m, long)?,
        };
        let money = q.checked_mul(leg.price.get())?.checked_mul(m)?;
        let gain = if long {
            money.checked_sub(removed)?
        } else {
            removed.checked_sub(money)?
        }
        .checked_sub(fees)?;
        let remaining = if long { held - q } else { held + q };
        self.basis = if remaining.is_zero() {
            Decimal::ZERO
        } else {
            self.basis.checked_sub(removed)?
        };
        self.position.quantity = remaining.normalize();
        self.position.realized_pnl = self.position.realized_pnl.checked_add(gain)?.normalize();
        if !remaining.is_zero() {
            self.reprice(m)?;
        }
        Some(gain)
    }

    /// Takes `q` from the lots (oldest first under `fifo`, newest under
    /// `lifo`); returns the basis taken: their money plus (long) or minus
    /// (short) their fees, pro rata.
    fn take_lots(&mut self, mut q: Decimal, m: Decimal, long: bool) -> Option<Decimal> {
        let mut removed = Decimal::ZERO;
        while !q.is_zero() {
            let lot = match self.rules.cost_basis {
                CostBasis::Lifo => self.lots.back_mut()?,
                _ => self.lots.front_mut()?,
            };
            let taken = q.min(lot.quantity);
            let fees = share(lot.fees, taken, lot.quantity)?;
            let money = taken.checked_mul(lot.price)?.checked_mul(m)?;
            let basis = if long {
                money.checked_add(fees)?
            } else {
                money.checked_sub(fees)?
            };
            removed = removed.checked_add(basis)?;
            lot.quantity -= taken;
            lot.fees -= fees;
            q -= taken;
            if lot.quantity.is_zero() {
                match self.rules.cost_basis {
                    CostBasis::Lifo => self.lots.pop_back(),
                    _ => self.lots.pop_front(),
                };
            }
        }
        Some(removed)
    }

    /// `average_cost` from the basis of the quantity held: one rounded
    /// division of exact sums, never a rounded average compounded.
    fn reprice(&mut self, m: Decimal) -> Option<()> {
        let units = self.position.quantity.abs().checked_mul(m)?;
        self.position.average_cost = divide(self.basis, units)?;
        Some(())
    }
}

/// Folds trades, already in `(executed_at, id)` order, into positions under
/// `rules`, one per symbol seen, ordered by symbol.
///
/// ```
/// use tradesense_core::trading::{fold_positions, Rules, TradeLeg, Side};
/// let leg = |side, q: &str, p: &str| TradeLeg {
///     id: uuid::Uuid::now_v7(), symbol: "AAPL".parse().unwrap(), side,
///     quantity: q.parse().unwrap(), price: p.parse().unwrap(), fees: "0".parse().unwrap(),
///     multiplier: Default::default(),
/// };
/// let rules = Rules::default();
/// let positions = fold_positions(&[leg(Side::Buy, "10", "100"), leg(Side::Sell, "4", "110")], rules).unwrap();
/// assert_eq!(positions[0].quantity.to_string(), "6");
/// assert_eq!(positions[0].realized_pnl.to_string(), "40");
/// assert!(fold_positions(&[leg(Side::Sell, "1", "1")], rules).is_err());
/// ```
pub fn fold_positions<'a>(
    trades: impl IntoIterator<Item = &'a TradeLeg>,
    rules: Rules,
) -> Result<Vec<Position>, FoldError> {
    let mut books: BTreeMap<&Symbol, Book> = BTreeMap::new();
    for leg in trades {
        books
            .entry(&leg.symbol)
            .or_insert_with(|| Book::new(leg.symbol.clone(), rules))
            .apply(leg)?;
    }
    Ok(books.into_values().map(|book| book.position).collect())
}

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
