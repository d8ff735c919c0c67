//! The append (`append_sql.rs`) against the full fold: on random
//! sequences of buys and sells (refused oversells included, with and
//! without a portfolio), resuming the fold from the stored rows of a
//! history and applying the next trade gives exactly the position, the
//! round trips and the carried sums that re-folding the whole history
//! gives. The store-level equivalence on both backends, edits and deletes
//! included, is `journal_props.rs`.

use super::append_sql::{OpenTripRow, resume};
use super::rows::PositionRow;
use super::trip_fold::derive_with_state;
use super::{CostBasis, RoundTrip, Rules, Side, Tags, Trade};
use crate::store::DbDecimal;
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

fn trade(i: usize, buy: bool, q: Decimal, p: Decimal, f: Decimal, tag: Option<u8>) -> Trade {
    Trade {
        id: Uuid::from_u128(i as u128 + 1),
        user_id: Uuid::nil(),
        portfolio_id: None,
        symbol: "X".parse().unwrap(),
        side: if buy { Side::Buy } else { Side::Sell },
        quantity: q.to_string().parse().unwrap(),
        price: p.to_string().parse().unwrap(),
        fees: f.to_string().parse().unwrap(),
        multiplier: Default::default(),
        executed_at: DateTime::<Utc>::from_timestamp(i as i64 * 60, 0).unwrap(),
        notes: None,
        tags: Tags::parse(tag.map(|t| ["a", "b", "c"][usize::from(t % 3)])).unwrap(),
        import_id: None,
        created_at: Utc::now(),
    }
}

/// What the store keeps after folding `history`: the position row (with a
/// portfolio) and the open round trip's row.
fn stored(
    history: &[Trade],
    filed: bool,
    rules: Rules,
) -> (Option<PositionRow>, Vec<OpenTripRow>, Vec<Uuid>) {
    let (trips, state) = derive_with_state(history, rules).unwrap();
    let position = (filed && !history.is_empty()).then(|| {
        let p = position_of(history, rules);
        PositionRow {
            symbol: p.symbol.as_str().to_owned(),
            quantity: DbDecimal(p.quantity),
            average_cost: DbDecimal(p.average_cost),
            realized_pnl: DbDecimal(p.realized_pnl),
        }
    });
    let open: Vec<(OpenTripRow, Vec<Uuid>)> = trips
        .last()
        .filter(|t| t.closed_at.is_none())
        .map(|t| {
            let state = state.clone().expect("an open round trip carries its sums");
            (
                OpenTripRow {
                    id: t.id,
                    direction: t.direction.as_str().to_owned(),
                    multiplier: DbDecimal(t.multiplier),
                    opened_at: t.opened_at,
                    quantity: DbDecimal(t.quantity),
                    bought: DbDecimal(t.bought),
                    sold: DbDecimal(t.sold),
                    fees: DbDecimal(t.fees),
                    realized_pnl: DbDecimal(t.realized_pnl),
                    tags: t.tags.to_json(),
                    buy_value: Some(DbDecimal(state.buy_value)),
                    sell_value: Some(DbDecimal(state.sell_value)),
                    book_cost: Some(DbDecimal(state.book_cost)),
                },
                t.trade_ids.clone(),
            )
        })
        .into_iter()
        .collect();
    let ids = open.first().map(|(_, ids)| ids.clone()).unwrap_or_default();
    (
        position,
        open.into_iter().map(|(row, _)| row).collect(),
        ids,
    )
}

fn position_of(trades: &[Trade], rules: Rules) -> super::Position {
    let legs: Vec<_> = trades.iter().map(super::rows::trade_leg).collect();
    super::fold_positions(&legs, rules).unwrap().remove(0)
}

fn same_but_ids(a: &RoundTrip, b: &RoundTrip) -> bool {
    RoundTrip {
        trade_ids: Vec::new(),
        ..a.clone()
    } == RoundTrip {
        trade_ids: Vec::new(),
        ..b.clone()
    }
}

/// (buy, quantity in thousandths, price in cents, fees in cents, tag)
fn step() -> impl Strategy<Value = (bool, u32, u32, u32, Option<u8>)> {
    (
        prop::bool::weighted(0.55),
        1u32..5_000,
        1u32..100_000,
        0u32..500,
        prop::option::of(0u8..3),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn appending_equals_refolding(
        steps in prop::collection::vec(step(), 1..60),
        filed: bool,
        allow_short: bool,
    ) {
        let rules = Rules { allow_short, cost_basis: CostBasis::Average };
        let mut history: Vec<Trade> = Vec::new();
        for (i, (buy, q, p, f, tag)) in steps.into_iter().enumerate() {
            let next = trade(i, buy, Decimal::new(q.into(), 3), Decimal::new(p.into(), 2),
                Decimal::new(f.into(), 2), tag);
            let (position, open, old_ids) = stored(&history, filed, rules);
            let existed = !open.is_empty();
            let multiplier = history.last().map(|t| t.multiplier.get());
            let mut fold = resume(&next.symbol, filed, rules, position, open, multiplier, true)
                .unwrap()
                .expect("stored state written by the full fold resumes");
            let mut all = history.clone();
            all.push(next.clone());
            let full = derive_with_state(&all, rules);
            let appended = fold.push(&next);
            match (&full, appended) {
                (Err(full), Err(appended)) => {
                    prop_assert_eq!(full, &appended);
                    continue; // refused: the transaction rolls back
                }
                (Ok(_), Ok(())) => {}
                (full, appended) => prop_assert!(false, "full {:?}, appended {:?}", full, appended),
            }
            let (full_trips, full_state) = full.unwrap();
            if filed {
                prop_assert_eq!(&fold.book.position, &position_of(&all, rules));
            }
            let (trips, state) = fold.finish(Some(&next)).unwrap();
            if trips.len() == 2 {
                // A flip through zero: the store re-folds it instead.
                prop_assert!(allow_short);
                history = all;
                continue;
            }
            prop_assert_eq!(trips.len(), 1);
            let last = full_trips.last().unwrap();
            prop_assert!(same_but_ids(&trips[0], last), "{:?} != {:?}", trips[0], last);
            // The ids the listing reads after the append (from the trades).
            let mut ids = if existed { old_ids } else { Vec::new() };
            ids.push(next.id);
            prop_assert_eq!(&ids, &last.trade_ids);
            prop_assert_eq!(state, full_state);
            history = all;
        }
    }
}

#[test]
fn missing_sums_or_a_disagreeing_position_fall_back_to_the_refold() {
    let history = [trade(
        0,
        true,
        Decimal::TEN,
        Decimal::ONE,
        Decimal::ZERO,
        None,
    )];
    // Whether `resume` declines (the store then re-folds the history).
    let declines = |filed, rules, position, open, flat| {
        resume(
            &"X".parse().unwrap(),
            filed,
            rules,
            position,
            open,
            None,
            flat,
        )
        .unwrap()
        .is_none()
    };
    let rules = Rules::default();
    let (position, mut open, _) = stored(&history, true, rules);
    open[0].book_cost = None;
    assert!(declines(true, rules, position, open, true));
    // Trades, no round trip, no position: not known to be flat.
    assert!(declines(false, rules, None, Vec::new(), false));
    let (mut position, open, _) = stored(&history, true, rules);
    position.as_mut().unwrap().quantity = DbDecimal(Decimal::ONE);
    assert!(declines(true, rules, position, open, true));
    // Lots are not stored: a fifo group always re-folds.
    let fifo = Rules {
        cost_basis: CostBasis::Fifo,
        ..rules
    };
    assert!(declines(false, fifo, None, Vec::new(), true));
}

/// Concurrent writes without a time (the appends) on both backends, with
/// and without a portfolio: every one lands, and the stored position and
/// round trips are what folding the stored trades from scratch gives.
#[tokio::test]
async fn concurrent_appends_match_the_full_fold() {
    use super::{NewTrade, RoundTripQuery, TradeQuery, TradingStore, fold_positions};
    use crate::store::testing::{TestDatabase, insert_bare_user};
    use std::sync::Arc;
    for db in TestDatabase::all().await {
        let store = Arc::new(db.store.clone());
        let user = insert_bare_user(&store).await;
        let portfolio = store
            .create_portfolio(
                user,
                &"P".parse().unwrap(),
                &super::Currency::usd(),
                Default::default(),
            )
            .await
            .unwrap()
            .id;
        for filed in [Some(portfolio), None] {
            // Buys of 2 and sells of 1: some sells find nothing to sell at
            // their turn and are refused whole.
            let tasks: Vec<_> = (0..40)
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let new = NewTrade {
                            user_id: user,
                            symbol: "X".parse().unwrap(),
                            side: if i % 3 == 2 { Side::Sell } else { Side::Buy },
                            quantity: if i % 3 == 2 { "3" } else { "1" }.parse().unwrap(),
                            price: format!("{}.25", 100 + i).parse().unwrap(),
                            fees: "0.5".parse().unwrap(),
                            multiplier: Default::default(),
                            executed_at: None,
                            portfolio_id: filed,
                            notes: None,
                            tags: Tags::parse([["a", "b"][i % 2]]).unwrap(),
                            import_id: None,
                        };
                        store.create_trade(new).await.is_ok()
                    })
                })
                .collect();
            let mut landed = 0;
            for task in tasks {
                landed += usize::from(task.await.unwrap());
            }
            let mut trades = store
                .list_trades(
                    user,
                    &TradeQuery {
                        symbol: None,
                        portfolio_id: filed,
                        tag: None,
                        from: None,
                        to: None,
                        limit: 100,
                        after: None,
                    },
                )
                .await
                .unwrap();
            trades.retain(|t| t.portfolio_id == filed);
            trades.reverse(); // fold order
            assert_eq!(trades.len(), landed, "{:?}", store.backend());
            assert!(landed >= 27, "every buy lands");
            let expected = derive_with_state(&trades, Rules::default()).unwrap().0;
            let mut stored = store
                .list_round_trips(
                    user,
                    &RoundTripQuery {
                        portfolio_id: filed,
                        limit: 100,
                        ..RoundTripQuery::default()
                    },
                )
                .await
                .unwrap();
            stored.retain(|t| t.portfolio_id == filed);
            stored.reverse();
            assert_eq!(stored, expected, "{:?} {filed:?}", store.backend());
            if filed.is_some() {
                let legs: Vec<_> = trades.iter().map(super::rows::trade_leg).collect();
                assert_eq!(
                    store.positions(user, portfolio).await.unwrap(),
                    fold_positions(&legs, Rules::default()).unwrap()
                );
            }
        }
    }
}

/// Trades from before round trips were kept (no round trip, no position
/// row for a group without a portfolio): the append does not take the
/// group for empty, the re-fold judges the sell against what is held.
#[tokio::test]
async fn trades_without_stored_state_are_refolded_not_taken_for_empty() {
    use super::{NewTrade, TradingStore};
    use crate::store::testing::{TestDatabase, insert_bare_user};
    for db in TestDatabase::all().await {
        let store = &db.store;
        let user = insert_bare_user(store).await;
        crate::with_pool!(store.db(), |pool| {
            sqlx::query(
                "INSERT INTO trades (id, user_id, portfolio_id, symbol, side, quantity, price, \
                 fees, executed_at, notes, tags, import_id, created_at) \
                 VALUES ($1, $2, NULL, 'X', 'buy', $3, $3, $4, $5, NULL, '[]', NULL, $5)",
            )
            .bind(Uuid::now_v7())
            .bind(user)
            .bind(DbDecimal(Decimal::TEN))
            .bind(DbDecimal(Decimal::ZERO))
            .bind(crate::store::to_micros(
                Utc::now() - chrono::Duration::days(1),
            ))
            .execute(pool)
            .await
            .unwrap();
        });
        let sell = |q: &str| NewTrade {
            user_id: user,
            symbol: "X".parse().unwrap(),
            side: Side::Sell,
            quantity: q.parse().unwrap(),
            price: "11".parse().unwrap(),
            fees: "0".parse().unwrap(),
            multiplier: Default::default(),
            executed_at: None,
            portfolio_id: None,
            notes: None,
            tags: Tags::new(),
            import_id: None,
        };
        store.create_trade(sell("4")).await.unwrap();
        let err = store.create_trade(sell("7")).await;
        assert!(
            matches!(err, Err(super::TradeWriteError::Refused(_))),
            "{:?}: {err:?}",
            store.backend()
        );
        store.create_trade(sell("6")).await.unwrap();
    }
}
