//! Portfolio rules in the store, on both backends: random histories of
//! creates (buys, sells, shorts, back-dated ones), edits, moves between
//! symbols, deletes and rule changes (`allow_short`, `cost_basis`), where
//! after every step the stored positions and round trips equal folding
//! the stored trades from scratch under the portfolio's current rules,
//! and every refusal (a trade the new rules would make invalid) changed
//! nothing. FIFO and LIFO groups always re-fold; `average` ones append,
//! so this also checks the append of shorts against the full fold.

use super::{
    CostBasis, Currency, NewTrade, PortfolioChanges, Position, RoundTrip, RoundTripQuery, Rules,
    Side, Tags, Trade, TradeChanges, TradeQuery, TradeWriteError, TradingStore, derive_round_trips,
    fold_positions,
};
use crate::store::testing::{TestDatabase, insert_bare_user};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use uuid::Uuid;

const SYMBOLS: [&str; 2] = ["X", "Y"];

#[derive(Debug, Clone)]
enum Op {
    Create {
        symbol: usize,
        buy: bool,
        q: u32,
        p: u32,
        /// Appended (now) or back-dated to this minute.
        minute: Option<i64>,
    },
    Edit {
        pick: usize,
        q: Option<u32>,
        symbol: Option<usize>,
        flip_side: bool,
    },
    Delete {
        pick: usize,
    },
    Rules {
        allow_short: Option<bool>,
        cost_basis: Option<CostBasis>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let basis = prop::sample::select(vec![CostBasis::Average, CostBasis::Fifo, CostBasis::Lifo]);
    prop_oneof![
        5 => (0..2usize, prop::bool::weighted(0.55), 1..20u32, 100..200u32, prop::option::of(0..500i64))
            .prop_map(|(symbol, buy, q, p, minute)| Op::Create { symbol, buy, q, p, minute }),
        1 => (any::<usize>(), prop::option::of(1..20u32), prop::option::of(0..2usize), prop::bool::weighted(0.2))
            .prop_map(|(pick, q, symbol, flip_side)| Op::Edit { pick, q, symbol, flip_side }),
        1 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        1 => (prop::option::of(any::<bool>()), prop::option::of(basis))
            .prop_map(|(allow_short, cost_basis)| Op::Rules { allow_short, cost_basis }),
    ]
}

async fn trades_of(store: &dyn TradingStore, user: Uuid, portfolio: Uuid) -> Vec<Trade> {
    let mut trades = store
        .list_trades(
            user,
            &TradeQuery {
                symbol: None,
                portfolio_id: Some(portfolio),
                tag: None,
                from: None,
                to: None,
                limit: 500,
                after: None,
            },
        )
        .await
        .unwrap();
    trades.reverse(); // fold order
    trades
}

/// What the store holds against what folding its trades gives.
async fn check(store: &dyn TradingStore, user: Uuid, portfolio: Uuid, step: &str) {
    let rules = store.get_portfolio(user, portfolio).await.unwrap().rules();
    let trades = trades_of(store, user, portfolio).await;
    let legs: Vec<_> = trades.iter().map(super::rows::trade_leg).collect();
    let mut expected: Vec<Position> = fold_positions(&legs, rules).unwrap();
    let mut stored = store.positions(user, portfolio).await.unwrap();
    stored.retain(Position::is_reportable);
    expected.retain(Position::is_reportable);
    assert_eq!(stored, expected, "positions after {step} under {rules:?}");
    let mut expected: Vec<RoundTrip> = Vec::new();
    for symbol in SYMBOLS {
        let group: Vec<Trade> = trades
            .iter()
            .filter(|t| t.symbol.as_str() == symbol)
            .cloned()
            .collect();
        expected.extend(derive_round_trips(&group, rules).unwrap());
    }
    expected.sort_by_key(|t| std::cmp::Reverse((t.opened_at, t.id)));
    let stored = store
        .list_round_trips(
            user,
            &RoundTripQuery {
                portfolio_id: Some(portfolio),
                limit: 500,
                ..RoundTripQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stored, expected, "round trips after {step} under {rules:?}");
}

fn minute(m: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_770_000_000 + m * 60, 0).unwrap()
}

#[tokio::test]
async fn rule_changes_and_edits_keep_the_store_equal_to_the_fold() {
    for db in TestDatabase::all().await {
        let store: &dyn TradingStore = &db.store;
        let mut runner = TestRunner::deterministic();
        let (mut refused, mut changed) = (0, 0);
        for _case in 0..6 {
            let history = prop::collection::vec(op(), 50)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let user = insert_bare_user(&db.store).await;
            let rules = Rules {
                allow_short: true,
                cost_basis: CostBasis::Average,
            };
            let portfolio = store
                .create_portfolio(user, &"P".parse().unwrap(), &Currency::usd(), rules)
                .await
                .unwrap()
                .id;
            let mut appended = 0;
            for op in &history {
                let before = trades_of(store, user, portfolio).await;
                let result: Result<(), TradeWriteError> = match op {
                    Op::Create {
                        symbol,
                        buy,
                        q,
                        p,
                        minute: at,
                    } => {
                        appended += 1;
                        store
                            .create_trade(NewTrade {
                                user_id: user,
                                symbol: SYMBOLS[*symbol].parse().unwrap(),
                                side: if *buy { Side::Buy } else { Side::Sell },
                                quantity: Decimal::from(*q).to_string().parse().unwrap(),
                                price: Decimal::new(i64::from(*p), 1).to_string().parse().unwrap(),
                                fees: "0.35".parse().unwrap(),
                                multiplier: Default::default(),
                                // Appends run after every back-dated time.
                                executed_at: Some(at.map_or(minute(1000 + appended), minute)),
                                portfolio_id: Some(portfolio),
                                notes: None,
                                tags: Tags::new(),
                                import_id: None,
                            })
                            .await
                            .map(drop)
                    }
                    Op::Edit { .. } | Op::Delete { .. } if before.is_empty() => continue,
                    Op::Edit {
                        pick,
                        q,
                        symbol,
                        flip_side,
                    } => {
                        let trade = &before[pick % before.len()];
                        let changes = TradeChanges {
                            quantity: q.map(|q| Decimal::from(q).to_string().parse().unwrap()),
                            symbol: symbol.map(|s| SYMBOLS[s].parse().unwrap()),
                            side: flip_side.then(|| match trade.side {
                                Side::Buy => Side::Sell,
                                Side::Sell => Side::Buy,
                            }),
                            ..TradeChanges::default()
                        };
                        store.update_trade(user, trade.id, &changes).await.map(drop)
                    }
                    Op::Delete { pick } => {
                        let trade = &before[pick % before.len()];
                        store.delete_trade(user, trade.id).await
                    }
                    Op::Rules {
                        allow_short,
                        cost_basis,
                    } => {
                        let changes = PortfolioChanges {
                            name: None,
                            allow_short: *allow_short,
                            cost_basis: *cost_basis,
                        };
                        changed += 1;
                        store
                            .update_portfolio(user, portfolio, &changes)
                            .await
                            .map(drop)
                    }
                };
                match result {
                    Ok(()) => {}
                    Err(TradeWriteError::Refused(_)) => {
                        refused += 1;
                        // Nothing changed: the same trades.
                        assert_eq!(trades_of(store, user, portfolio).await, before, "{op:?}");
                    }
                    Err(other) => panic!("{op:?}: {other:?}"),
                }
                check(store, user, portfolio, &format!("{op:?}")).await;
            }
        }
        assert!(refused > 5, "the histories exercise refusals: {refused}");
        assert!(changed > 10, "and rule changes: {changed}");
    }
}
