//! A deliberately naive second implementation of the average-cost fold, for
//! the property tests to compare the real one (and the HTTP API) against.
//!
//! It differs from `tradesense_core::trading::fold_positions` on purpose:
//! it sorts with a hand-written insertion sort, filters per symbol by
//! scanning, and tracks the total cost `Q*A` instead of the average, dividing
//! only when asked. Equal answers from two shapes of the same rule are the
//! evidence; averages are compared within a relative 1e-12 because the two
//! round non-terminating divisions at different moments.

use rust_decimal::Decimal;

/// One trade of the model. `seq` stands for the id: creation order, as
/// UUID v7 ids are (tests that need real ids sort by them instead).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTrade {
    pub seq: u128,
    pub symbol: String,
    pub buy: bool,
    pub quantity: Decimal,
    pub price: Decimal,
    pub fees: Decimal,
    /// Minutes since an arbitrary epoch.
    pub minute: i64,
}

/// A position as the naive fold sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPosition {
    pub symbol: String,
    pub quantity: Decimal,
    pub average_cost: Decimal,
    pub realized_pnl: Decimal,
}

/// The naive fold: `None` when some sell oversells at its place.
pub fn naive_fold(trades: &[ModelTrade]) -> Option<Vec<ModelPosition>> {
    let mut sorted: Vec<ModelTrade> = Vec::new();
    for trade in trades {
        let at = sorted
            .iter()
            .position(|t| (t.minute, t.seq) > (trade.minute, trade.seq))
            .unwrap_or(sorted.len());
        sorted.insert(at, trade.clone());
    }
    let mut symbols: Vec<String> = Vec::new();
    for trade in &sorted {
        if !symbols.contains(&trade.symbol) {
            symbols.push(trade.symbol.clone());
        }
    }
    symbols.sort();
    let mut out = Vec::new();
    for symbol in symbols {
        let (mut quantity, mut total_cost, mut last_average, mut realized) =
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for trade in sorted.iter().filter(|t| t.symbol == symbol) {
            if trade.buy {
                total_cost += trade.quantity * trade.price + trade.fees;
                quantity += trade.quantity;
                last_average = total_cost / quantity;
            } else {
                if trade.quantity > quantity {
                    return None;
                }
                realized += (trade.price - last_average) * trade.quantity - trade.fees;
                quantity -= trade.quantity;
                total_cost = last_average * quantity;
            }
        }
        out.push(ModelPosition {
            symbol,
            quantity,
            average_cost: last_average,
            realized_pnl: realized,
        });
    }
    Some(out)
}

/// Equal up to a relative `1e-6` (exact for zero), the tolerance of the
/// contract's own fixture: the fold rounds each share of a cost basis and
/// each average half-even to 8 places (docs/API.md), where this model
/// divides to 28 significant digits.
pub fn close(a: Decimal, b: Decimal) -> bool {
    let scale = a.abs().max(b.abs()).max(Decimal::ONE);
    (a - b).abs() <= scale * Decimal::new(1, 6)
}

/// Whether two position lists agree (quantities exactly, money closely).
pub fn same_positions(a: &[ModelPosition], b: &[ModelPosition]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.symbol == y.symbol
                && x.quantity == y.quantity
                && close(x.average_cost, y.average_cost)
                && close(x.realized_pnl, y.realized_pnl)
        })
}

/// One step of a random history.
#[derive(Debug, Clone)]
pub enum Op {
    Create {
        symbol: usize,
        buy: bool,
        quantity: Decimal,
        price: Decimal,
        fees: Decimal,
        minute: i64,
    },
    Edit {
        pick: usize,
        quantity: Option<Decimal>,
        price: Option<Decimal>,
        minute: Option<i64>,
    },
    Delete {
        pick: usize,
    },
}

pub const SYMBOLS: [&str; 3] = ["AAPL", "BTC/USD", "ES"];

/// A random history: mostly buys and sells, some back-dated (random minute),
/// some edits and deletes of earlier trades.
pub fn ops(max: usize) -> impl proptest::strategy::Strategy<Value = Vec<Op>> {
    use proptest::prelude::*;
    let amount = |max: i64, scale: u32| (0..=max).prop_map(move |n| Decimal::new(n, scale));
    let quantity = (1..=2000i64).prop_map(|n| Decimal::new(n, 2));
    let create = (
        0..SYMBOLS.len(),
        prop::bool::weighted(0.6),
        quantity.clone(),
        amount(100_000, 2),
        amount(500, 2),
        0..120i64,
    )
        .prop_map(|(symbol, buy, quantity, price, fees, minute)| Op::Create {
            symbol,
            buy,
            quantity,
            price,
            fees,
            minute,
        });
    let edit = (
        any::<usize>(),
        prop::option::of(quantity),
        prop::option::of(amount(100_000, 2)),
        prop::option::of(0..120i64),
    )
        .prop_map(|(pick, quantity, price, minute)| Op::Edit {
            pick,
            quantity,
            price,
            minute,
        });
    let delete = any::<usize>().prop_map(|pick| Op::Delete { pick });
    prop::collection::vec(prop_oneof![6 => create, 2 => edit, 1 => delete], 1..max)
}

/// Applies `op` to `trades` as the API would: the change is kept only if the
/// fold accepts the result. Returns the candidate history.
pub fn candidate(trades: &[ModelTrade], op: &Op, seq: u128) -> Option<Vec<ModelTrade>> {
    let mut next = trades.to_vec();
    match op {
        Op::Create {
            symbol,
            buy,
            quantity,
            price,
            fees,
            minute,
        } => next.push(ModelTrade {
            seq,
            symbol: SYMBOLS[*symbol].to_owned(),
            buy: *buy,
            quantity: *quantity,
            price: *price,
            fees: *fees,
            minute: *minute,
        }),
        Op::Edit {
            pick,
            quantity,
            price,
            minute,
        } => {
            if next.is_empty() {
                return None;
            }
            let i = pick % next.len();
            let t = &mut next[i];
            t.quantity = quantity.unwrap_or(t.quantity);
            t.price = price.unwrap_or(t.price);
            t.minute = minute.unwrap_or(t.minute);
        }
        Op::Delete { pick } => {
            if next.is_empty() {
                return None;
            }
            let i = pick % next.len();
            next.remove(i);
        }
    }
    Some(next)
}
