//! The fold against the contract's worked examples
//! (`tests/fixtures/accounting.json`, a copy of the contract's file:
//! shorts, a flip through zero, FIFO/LIFO/average on the same fills, an
//! option, a future), reproduced exactly, and against its laws on random
//! histories: the three cost-basis methods realize the same total once a
//! group is flat (exactly `proceeds - cost - fees`, in money), round trips
//! add up to the position, no amount carries a division tail, and without
//! `allow_short` a history is refused exactly where it would go short,
//! naming that trade.

use super::*;
use crate::trading::{Direction, RoundTripStatus, Tags, Trade, derive_round_trips};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::Value;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn trade(i: usize, symbol: &str, buy: bool, q: &str, p: &str, f: &str, m: &str) -> Trade {
    Trade {
        id: Uuid::from_u128(i as u128 + 1),
        user_id: Uuid::nil(),
        portfolio_id: None,
        symbol: symbol.parse().unwrap(),
        side: if buy { Side::Buy } else { Side::Sell },
        quantity: q.parse().unwrap(),
        price: p.parse().unwrap(),
        fees: f.parse().unwrap(),
        multiplier: m.parse().unwrap(),
        executed_at: DateTime::<Utc>::from_timestamp(i as i64 * 60, 0).unwrap(),
        notes: None,
        tags: Tags::new(),
        import_id: None,
        created_at: Utc::now(),
    }
}

fn legs(trades: &[Trade]) -> Vec<TradeLeg> {
    trades.iter().map(crate::trading::rows::trade_leg).collect()
}

fn rules(allow_short: bool, cost_basis: CostBasis) -> Rules {
    Rules {
        allow_short,
        cost_basis,
    }
}

// ---- the worked examples ----

fn fixture_trades(case: &Value, cases: &[Value]) -> Vec<Trade> {
    let list = match &case["trades"] {
        Value::String(same) => {
            let other = same.trim_start_matches("same as ");
            let source = cases.iter().find(|c| c["id"] == other).unwrap();
            source["trades"].as_array().unwrap().clone()
        }
        list => list.as_array().unwrap().clone(),
    };
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let mut trade = trade(
                i,
                t["symbol"].as_str().unwrap(),
                t["side"] == "buy",
                t["quantity"].as_str().unwrap(),
                t["price"].as_str().unwrap(),
                t["fees"].as_str().unwrap(),
                t["multiplier"].as_str().unwrap_or("1"),
            );
            trade.executed_at = t["executed_at"].as_str().unwrap().parse().unwrap();
            trade
        })
        .collect()
}

fn assert_position(found: &Position, expected: &Value, case: &str) {
    assert_eq!(found.symbol.as_str(), expected["symbol"], "{case}");
    for (field, value) in [
        ("quantity", found.quantity),
        ("average_cost", found.average_cost),
        ("realized_pnl", found.realized_pnl),
    ] {
        assert_eq!(
            value.normalize(),
            dec(expected[field].as_str().unwrap()).normalize(),
            "{case}: {field}"
        );
    }
}

#[test]
fn worked_examples_are_reproduced_exactly() {
    let fixture: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/accounting.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    for case in cases {
        let name = case["id"].as_str().unwrap();
        let portfolio = &case["portfolio"];
        let rules = rules(
            portfolio["allow_short"].as_bool().unwrap(),
            portfolio["cost_basis"].as_str().unwrap().parse().unwrap(),
        );
        let trades = fixture_trades(case, cases);
        let positions = fold_positions(&legs(&trades), rules).unwrap();
        let expected = case["positions"].as_array().unwrap();
        assert_eq!(positions.len(), expected.len(), "{name}");
        for (found, expected) in positions.iter().zip(expected) {
            assert_position(found, expected, name);
        }
        if let Some(after_first) = case.get("after_first") {
            let first = fold_positions(&legs(&trades[..1]), rules).unwrap();
            assert_position(&first[0], after_first, &format!("{name} after the first"));
        }
        let trips = derive_round_trips(&trades, rules).unwrap();
        let expected = case["round_trips"].as_array().unwrap();
        assert_eq!(trips.len(), expected.len(), "{name}");
        for (found, expected) in trips.iter().zip(expected) {
            assert_eq!(found.direction.as_str(), expected["direction"], "{name}");
            assert_eq!(found.status.as_str(), expected["status"], "{name}");
            assert_eq!(
                found.realized_pnl,
                dec(expected["realized_pnl"].as_str().unwrap()).normalize(),
                "{name}"
            );
        }
    }
}

/// The fixture's `then`: a sell of the last 5 closes the round trip with
/// 300 under all three methods.
#[test]
fn the_three_methods_close_the_same_round_trip_at_300() {
    let trades = [
        trade(0, "LOTS", true, "10", "100", "0", "1"),
        trade(1, "LOTS", true, "10", "110", "0", "1"),
        trade(2, "LOTS", false, "15", "120", "0", "1"),
        trade(3, "LOTS", false, "5", "120", "0", "1"),
    ];
    for method in [CostBasis::Average, CostBasis::Fifo, CostBasis::Lifo] {
        let trips = derive_round_trips(&trades, rules(false, method)).unwrap();
        assert_eq!(trips.len(), 1);
        assert_eq!(trips[0].status, RoundTripStatus::Closed);
        assert_eq!(trips[0].realized_pnl, dec("300"), "{method:?}");
    }
}

/// A flip's trade is in both round trips, with its quantity and fees
/// split pro rata; the short one's entry is its sells.
#[test]
fn a_flip_splits_its_trade_between_two_round_trips() {
    let trades = [
        trade(0, "FLIP", true, "100", "10", "0", "1"),
        trade(1, "FLIP", false, "150", "12", "3", "1"),
        trade(2, "FLIP", true, "50", "11", "0", "1"),
    ];
    let trips = derive_round_trips(&trades, rules(true, CostBasis::Average)).unwrap();
    assert_eq!(trips[0].trade_ids, [trades[0].id, trades[1].id]);
    assert_eq!((trips[0].sold, trips[0].fees), (dec("100"), dec("2")));
    assert_eq!(trips[1].id, trades[1].id);
    assert_eq!(trips[1].direction, Direction::Short);
    assert_eq!((trips[1].sold, trips[1].fees), (dec("50"), dec("1")));
    assert_eq!(trips[1].quantity, dec("50"));
    assert_eq!(trips[1].average_entry, dec("12"));
    assert_eq!(trips[1].average_exit, Some(dec("11")));
    assert_eq!(trips[1].opened_at, trades[1].executed_at);
    // Without shorts the flip is refused, naming the sell.
    let err = fold_positions(&legs(&trades), Rules::default()).unwrap_err();
    assert_eq!(err.trade_id(), Some(trades[1].id));
}

#[test]
fn a_second_multiplier_in_a_group_is_refused() {
    let trades = [
        trade(0, "ESZ6", true, "1", "4500", "0", "50"),
        trade(1, "ESZ6", true, "1", "4500", "0", "5"),
    ];
    let err = fold_positions(&legs(&trades), Rules::default()).unwrap_err();
    assert!(matches!(err, FoldError::MultiplierMismatch { .. }), "{err}");
    assert_eq!(err.trade_id(), Some(trades[1].id));
}

/// A refused trade leaves the book as it was (an import goes on with its
/// next row on the same book): not even the group's multiplier is taken
/// from a trade that was refused.
#[test]
fn a_refusal_leaves_the_book_as_it_was() {
    let mut book = Book::new("X".parse().unwrap(), Rules::default());
    let refused = trade(0, "X", false, "1", "10", "0", "100");
    assert!(book.apply(&legs(&[refused])[0]).is_err());
    let buy = trade(1, "X", true, "2", "10", "1", "1");
    book.apply(&legs(&[buy])[0]).unwrap();
    let before = (book.position.clone(), book.basis());
    let oversell = trade(2, "X", false, "3", "10", "0", "1");
    assert!(book.apply(&legs(&[oversell])[0]).is_err());
    let other_multiplier = trade(3, "X", true, "1", "10", "0", "50");
    assert!(book.apply(&legs(&[other_multiplier])[0]).is_err());
    assert_eq!((book.position.clone(), book.basis()), before);
}

#[test]
fn sold_to_zero_keeps_average_and_pnl() {
    let trades = [
        trade(0, "X", true, "3", "300", "0", "1"),
        trade(1, "X", false, "3", "310", "2", "1"),
    ];
    let p = &fold_positions(&legs(&trades), Rules::default()).unwrap()[0];
    assert_eq!(p.quantity, Decimal::ZERO);
    assert_eq!(p.average_cost.to_string(), "300");
    assert_eq!(p.realized_pnl.to_string(), "28");
    assert!(p.is_reportable());
}

#[test]
fn averages_do_not_compound_rounding() {
    let buys: Vec<Trade> = (0..50)
        .map(|i| {
            let price = (100 + (i * 37) % 50).to_string();
            trade(i, "X", true, "1", &price, "0", "1")
        })
        .collect();
    let p = &fold_positions(&legs(&buys), Rules::default()).unwrap()[0];
    assert_eq!(p.average_cost.to_string(), "124.5");
}

/// Thirds: a partial sell's share of the basis is rounded to 8 places,
/// never a 28-digit tail, and the last sell takes exactly what is left.
#[test]
fn shares_are_rounded_to_eight_places_and_the_last_takes_the_rest() {
    let trades = [
        trade(0, "X", true, "3", "100", "1", "1"),
        trade(1, "X", false, "1", "100", "0", "1"),
        trade(2, "X", false, "1", "100", "0", "1"),
    ];
    let p = &fold_positions(&legs(&trades[..2]), Rules::default()).unwrap()[0];
    assert_eq!(p.realized_pnl.to_string(), "-0.33333333");
    // 200.66666667 / 2 = 100.333333335, half-even to 8 places.
    assert_eq!(p.average_cost.to_string(), "100.33333334");
    let mut all = trades.to_vec();
    all.push(trade(3, "X", false, "1", "100", "0", "1"));
    let p = &fold_positions(&legs(&all), Rules::default()).unwrap()[0];
    assert_eq!(p.realized_pnl.to_string(), "-1");
}

#[test]
fn overflow_is_an_error_not_a_panic() {
    let big = "70000000000000000000000000000";
    let trades = [trade(0, "X", true, big, big, "0", "1")];
    let err = fold_positions(&legs(&trades), Rules::default()).unwrap_err();
    assert!(matches!(err, FoldError::Overflow { .. }));
}

// ---- the laws, on random histories ----

/// (buy, quantity in thousandths, price in cents, fees in cents: some
/// negative, rebates)
fn step() -> impl Strategy<Value = (bool, u32, u32, i32)> {
    (prop::bool::ANY, 1u32..5_000, 1u32..100_000, -50i32..500)
}

/// A history of `steps` with multiplier `m`, closed flat by a last trade.
fn flat_history(steps: &[(bool, u32, u32, i32)], m: &str) -> Vec<Trade> {
    let mut trades: Vec<Trade> = Vec::new();
    let mut held = Decimal::ZERO;
    for (i, (buy, q, p, f)) in steps.iter().enumerate() {
        let q = Decimal::new(i64::from(*q), 3);
        held += if *buy { q } else { -q };
        trades.push(trade(
            i,
            "X",
            *buy,
            &q.to_string(),
            &Decimal::new(i64::from(*p), 2).to_string(),
            &Decimal::new(i64::from(*f), 2).to_string(),
            m,
        ));
    }
    if !held.is_zero() {
        let i = trades.len();
        let q = held.abs().to_string();
        trades.push(trade(i, "X", held < Decimal::ZERO, &q, "123.45", "0.99", m));
    }
    trades
}

/// `(sells - buys) * m - fees`: what any method must realize once flat.
fn cash(trades: &[Trade]) -> Decimal {
    trades
        .iter()
        .map(|t| {
            let money = t.quantity.get() * t.price.get() * t.multiplier.get();
            let signed = if t.side == Side::Sell { money } else { -money };
            signed - t.fees.get()
        })
        .sum()
}

fn places_ok(value: Decimal) -> bool {
    value.normalize().scale() <= JOURNAL_DP
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn methods_agree_once_flat(
        steps in prop::collection::vec(step(), 1..40),
        m in prop::sample::select(vec!["1", "100", "50", "0.5"]),
    ) {
        let trades = flat_history(&steps, m);
        let expected = cash(&trades);
        for method in [CostBasis::Average, CostBasis::Fifo, CostBasis::Lifo] {
            let rules = rules(true, method);
            let position = fold_positions(&legs(&trades), rules).unwrap().remove(0);
            prop_assert!(position.quantity.is_zero());
            prop_assert_eq!(position.realized_pnl, expected.normalize(), "{:?}", method);
            let trips = derive_round_trips(&trades, rules).unwrap();
            let total: Decimal = trips.iter().map(|t| t.realized_pnl).sum();
            prop_assert_eq!(total.normalize(), expected.normalize());
            for trip in &trips {
                prop_assert_eq!(trip.status, RoundTripStatus::Closed);
            }
        }
    }

    #[test]
    fn every_prefix_adds_up_and_has_no_tails(
        steps in prop::collection::vec(step(), 1..40),
        method in prop::sample::select(vec![CostBasis::Average, CostBasis::Fifo, CostBasis::Lifo]),
    ) {
        let trades = flat_history(&steps, "100");
        let rules = rules(true, method);
        let mut quantity = Decimal::ZERO;
        for end in 1..=trades.len() {
            let prefix = &trades[..end];
            let last = &prefix[end - 1];
            quantity += if last.side == Side::Buy { last.quantity.get() } else { -last.quantity.get() };
            let position = fold_positions(&legs(prefix), rules).unwrap().remove(0);
            // The quantity does not depend on the method.
            prop_assert_eq!(position.quantity, quantity.normalize());
            prop_assert!(places_ok(position.average_cost), "{}", position.average_cost);
            prop_assert!(places_ok(position.realized_pnl), "{}", position.realized_pnl);
            let trips = derive_round_trips(prefix, rules).unwrap();
            let total: Decimal = trips.iter().map(|t| t.realized_pnl).sum();
            prop_assert_eq!(total.normalize(), position.realized_pnl);
            for trip in &trips {
                prop_assert!(places_ok(trip.realized_pnl), "{}", trip.realized_pnl);
                prop_assert!(places_ok(trip.fees), "{}", trip.fees);
            }
        }
    }

    #[test]
    fn without_shorts_a_history_is_refused_where_it_goes_short(
        steps in prop::collection::vec(step(), 1..40),
        method in prop::sample::select(vec![CostBasis::Average, CostBasis::Fifo, CostBasis::Lifo]),
    ) {
        let trades = flat_history(&steps, "1");
        let mut held = Decimal::ZERO;
        let first_short = trades.iter().find(|t| {
            held += if t.side == Side::Buy { t.quantity.get() } else { -t.quantity.get() };
            held < Decimal::ZERO
        });
        let result = fold_positions(&legs(&trades), rules(false, method));
        match first_short {
            None => prop_assert!(result.is_ok()),
            Some(short) => {
                let err = result.unwrap_err();
                let refused = matches!(err, FoldError::InsufficientPosition { .. });
                prop_assert!(refused, "{}", err);
                prop_assert_eq!(err.trade_id(), Some(short.id));
            }
        }
    }
}
