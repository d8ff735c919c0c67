//! The average-cost fold against the worked examples of docs/API.md and, by
//! property, against a naive second implementation over random histories of
//! creates, back-dated creates, edits and deletes.

use crate::trading_model::{ModelPosition, ModelTrade, candidate, naive_fold, ops, same_positions};
use proptest::prelude::*;
use rust_decimal::Decimal;
use tradesense_core::trading::{FoldError, Side, TradeLeg, fold_positions};

fn real_fold(trades: &[ModelTrade]) -> Result<Vec<ModelPosition>, FoldError> {
    let mut sorted = trades.to_vec();
    sorted.sort_by_key(|t| (t.minute, t.seq));
    let legs: Vec<TradeLeg> = sorted
        .iter()
        .map(|t| TradeLeg {
            id: uuid::Uuid::now_v7(),
            symbol: t.symbol.parse().unwrap(),
            side: if t.buy { Side::Buy } else { Side::Sell },
            quantity: tradesense_core::trading::Quantity::new(t.quantity).unwrap(),
            price: tradesense_core::trading::Price::new(t.price).unwrap(),
            fees: tradesense_core::trading::Fees::new(t.fees).unwrap(),
            multiplier: Default::default(),
        })
        .collect();
    Ok(fold_positions(&legs, Default::default())?
        .into_iter()
        .map(|p| ModelPosition {
            symbol: p.symbol.to_string(),
            quantity: p.quantity,
            average_cost: p.average_cost,
            realized_pnl: p.realized_pnl,
        })
        .collect())
}

#[test]
fn fixture_vectors() {
    let text = include_str!("../fixtures/positions.json");
    let fixtures: serde_json::Value = serde_json::from_str(text).unwrap();
    let dec = |v: &serde_json::Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
    for case in fixtures["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut trades: Vec<&serde_json::Value> =
            case["trades"].as_array().unwrap().iter().collect();
        // Fixture ids are strings ("t01"): order by (executed_at, id) here.
        trades.sort_by_key(|t| {
            (
                t["executed_at"].as_str().unwrap().to_owned(),
                t["id"].as_str().unwrap().to_owned(),
            )
        });
        let legs: Vec<TradeLeg> = trades.iter().map(|t| serde_json::from_value(serde_json::json!({
            "symbol": t["symbol"], "side": t["side"], "quantity": t["quantity"], "price": t["price"], "fees": t["fees"],
        })).map(|l: LegJson| l.into()).unwrap()).collect();
        let result = fold_positions(&legs, Default::default());
        if let Some(code) = case.get("error") {
            assert_eq!(code, "insufficient_position", "{name}");
            assert!(
                matches!(result, Err(FoldError::InsufficientPosition { .. })),
                "{name}: {result:?}"
            );
            continue;
        }
        let positions = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = case["positions"].as_array().unwrap();
        assert_eq!(positions.len(), expected.len(), "{name}");
        for (got, want) in positions.iter().zip(expected) {
            assert_eq!(
                got.symbol.as_str(),
                want["symbol"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(got.quantity, dec(&want["quantity"]), "{name}");
            assert_eq!(got.realized_pnl, dec(&want["realized_pnl"]), "{name}");
            let (a, b) = (got.average_cost, dec(&want["average_cost"]));
            assert!(
                (a - b).abs() <= b.abs() * Decimal::new(1, 6),
                "{name}: {a} vs {b}"
            );
        }
        // And the rendering is the decimal-string contract.
        let json = serde_json::to_value(&positions[0]).unwrap();
        assert!(
            json["quantity"].is_string() && json["average_cost"].is_string(),
            "{name}"
        );
    }
}

#[derive(serde::Deserialize)]
struct LegJson {
    symbol: tradesense_core::trading::Symbol,
    side: Side,
    quantity: tradesense_core::trading::Quantity,
    price: tradesense_core::trading::Price,
    fees: tradesense_core::trading::Fees,
}

impl From<LegJson> for TradeLeg {
    fn from(l: LegJson) -> Self {
        TradeLeg {
            id: uuid::Uuid::now_v7(),
            symbol: l.symbol,
            side: l.side,
            quantity: l.quantity,
            price: l.price,
            fees: l.fees,
            multiplier: Default::default(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fold_agrees_with_the_naive_model(history in ops(40)) {
        let mut trades: Vec<ModelTrade> = Vec::new();
        for (seq, op) in history.iter().enumerate() {
            let Some(next) = candidate(&trades, op, seq as u128) else { continue };
            let real = real_fold(&next);
            let naive = naive_fold(&next);
            match (&real, &naive) {
                (Ok(real), Some(naive)) => {
                    prop_assert!(same_positions(real, naive), "{real:?} vs {naive:?}");
                    // Quantities never go negative.
                    prop_assert!(real.iter().all(|p| p.quantity >= Decimal::ZERO));
                    trades = next;
                }
                (Err(FoldError::InsufficientPosition { .. }), None) => {}
                _ => prop_assert!(false, "disagree: {real:?} vs {naive:?}"),
            }
        }
    }
}
