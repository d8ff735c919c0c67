//! Property test of the journal on every configured backend: random
//! histories of creates (back-dated, in a portfolio or not, tagged), edits
//! and deletes through the store; after every step the stored round trips
//! and the summary equal a deliberately naive model of the accepted trades.
//!
//! The model shares nothing with `round_trip.rs` or `analytics.rs`: it
//! splits each group's sorted trades where the running quantity is zero,
//! sums proceeds and costs by brute force, finds the drawdown by comparing
//! every pair of prefix sums and the streaks by scanning every run. Only
//! the open round trips' realized P&L comes from the public fold (that is
//! its definition).

use super::{
    Fees, NewTrade, RoundTrip, RoundTripQuery, Side, Tags, TradeChanges, TradingStore,
    fold_positions, summarize,
};
use crate::store::testing::TestDatabase;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Create {
        filed: bool,
        symbol: usize,
        buy: bool,
        q: u32,
        p: u32,
        f: u32,
        minute: i64,
        tag: Option<usize>,
    },
    Edit {
        pick: usize,
        q: Option<u32>,
        minute: Option<i64>,
        tag: Option<usize>,
    },
    Delete {
        pick: usize,
    },
}

const SYMBOLS: [&str; 2] = ["AAA", "BBB"];
const TAGS: [&str; 3] = ["a", "b", "c"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0..2usize, prop::bool::weighted(0.55), 1..5u32, 1..3000u32, 0..300u32, 0..120i64, prop::option::of(0..3usize))
            .prop_map(|(filed, symbol, buy, q, p, f, minute, tag)| Op::Create { filed, symbol, buy, q, p, f, minute, tag }),
        1 => (any::<usize>(), prop::option::of(1..5u32), prop::option::of(0..120i64), prop::option::of(0..3usize))
            .prop_map(|(pick, q, minute, tag)| Op::Edit { pick, q, minute, tag }),
        1 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
    ]
}

/// A trade as the model keeps it.
#[derive(Debug, Clone)]
struct M {
    id: Uuid,
    portfolio: Option<Uuid>,
    symbol: &'static str,
    buy: bool,
    q: Decimal,
    p: Decimal,
    f: Decimal,
    at: DateTime<Utc>,
    tag: Option<&'static str>,
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::minutes(minute)
}

/// The naive round trips: (first id, closed, bought, sold, fees, pnl,
/// trade ids, tags, opened, closed_at).
#[derive(Debug, PartialEq)]
struct NaiveTrip {
    id: Uuid,
    closed_at: Option<DateTime<Utc>>,
    bought: Decimal,
    sold: Decimal,
    fees: Decimal,
    pnl: Decimal,
    trade_ids: Vec<Uuid>,
    tags: Vec<String>,
}

/// `None` if a group's history oversells somewhere.
fn naive(trades: &[M]) -> Option<Vec<NaiveTrip>> {
    let mut keys: Vec<(Option<Uuid>, &str)> =
        trades.iter().map(|t| (t.portfolio, t.symbol)).collect();
    keys.sort();
    keys.dedup();
    let mut trips = Vec::new();
    for key in keys {
        let mut group: Vec<&M> = trades
            .iter()
            .filter(|t| (t.portfolio, t.symbol) == key)
            .collect();
        group.sort_by_key(|t| (t.at, t.id));
        let mut segment: Vec<&M> = Vec::new();
        let mut held = Decimal::ZERO;
        for t in group {
            held += if t.buy { t.q } else { -t.q };
            if held < Decimal::ZERO {
                return None;
            }
            segment.push(t);
            if held.is_zero() {
                trips.push(naive_trip(&segment, true));
                segment.clear();
            }
        }
        if !segment.is_empty() {
            trips.push(naive_trip(&segment, false));
        }
    }
    Some(trips)
}

fn naive_trip(segment: &[&M], closed: bool) -> NaiveTrip {
    let sum = |buy: bool, f: &dyn Fn(&M) -> Decimal| -> Decimal {
        segment.iter().filter(|t| t.buy == buy).map(|t| f(t)).sum()
    };
    let fees: Decimal = segment.iter().map(|t| t.f).sum();
    let pnl = if closed {
        sum(false, &|t| t.q * t.p) - sum(true, &|t| t.q * t.p) - fees
    } else {
        let legs: Vec<_> = segment
            .iter()
            .map(|t| super::TradeLeg {
                id: t.id,
                symbol: t.symbol.parse().unwrap(),
                side: if t.buy { Side::Buy } else { Side::Sell },
                quantity: t.q.to_string().parse().unwrap(),
                price: t.p.to_string().parse().unwrap(),
                fees: t.f.to_string().parse().unwrap(),
                multiplier: Default::default(),
            })
            .collect();
        fold_positions(&legs, Default::default()).unwrap()[0].realized_pnl
    };
    let mut tags: Vec<String> = segment
        .iter()
        .filter_map(|t| t.tag.map(str::to_owned))
        .collect();
    tags.sort();
    tags.dedup();
    NaiveTrip {
        id: segment[0].id,
        closed_at: closed.then(|| segment[segment.len() - 1].at),
        bought: sum(true, &|t| t.q),
        sold: sum(false, &|t| t.q),
        fees,
        pnl,
        trade_ids: segment.iter().map(|t| t.id).collect(),
        tags,
    }
}

fn stored(trip: &RoundTrip) -> NaiveTrip {
    NaiveTrip {
        id: trip.id,
        closed_at: trip.closed_at,
        bought: trip.bought,
        sold: trip.sold,
        fees: trip.fees,
        pnl: trip.realized_pnl,
        trade_ids: trip.trade_ids.clone(),
        tags: trip.tags.iter().map(|t| t.as_str().to_owned()).collect(),
    }
}

/// The naive summary's exact figures, checked against `summarize`.
fn check_summary(closed: &[&NaiveTrip], stored: &[super::ClosedTrip]) {
    let s = summarize(stored);
    let pnls: Vec<Decimal> = closed.iter().map(|t| t.pnl).collect();
    let n = pnls.len();
    assert_eq!(s.round_trips as usize, n);
    let wins: Vec<Decimal> = pnls
        .iter()
        .copied()
        .filter(|p| *p > Decimal::ZERO)
        .collect();
    let losses: Vec<Decimal> = pnls
        .iter()
        .copied()
        .filter(|p| *p < Decimal::ZERO)
        .map(|p| -p)
        .collect();
    assert_eq!(s.wins as usize, wins.len());
    assert_eq!(s.losses as usize, losses.len());
    assert_eq!(s.breakevens as usize, n - wins.len() - losses.len());
    if n == 0 {
        assert_eq!(s.net_pnl, None);
        assert_eq!(s.max_drawdown, None);
        return;
    }
    let round = |d: Decimal| {
        d.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::MidpointNearestEven)
            .normalize()
    };
    let profit: Decimal = wins.iter().sum();
    let loss: Decimal = losses.iter().sum();
    let net: Decimal = pnls.iter().sum();
    assert_eq!(s.gross_profit, Some(profit.normalize()));
    assert_eq!(s.gross_loss, Some(loss.normalize()));
    assert_eq!(s.net_pnl, Some(net.normalize()));
    assert_eq!(
        s.win_rate,
        Some(round(Decimal::from(wins.len()) / Decimal::from(n)))
    );
    assert_eq!(
        s.profit_factor,
        (!loss.is_zero()).then(|| round(profit / loss))
    );
    assert_eq!(s.expectancy, Some(round(net / Decimal::from(n))));
    assert_eq!(
        s.average_win,
        (!wins.is_empty()).then(|| round(profit / Decimal::from(wins.len())))
    );
    assert_eq!(s.largest_loss, losses.iter().max().map(|d| d.normalize()));
    // Drawdown: the largest prefix(j) - prefix(i) for j <= i, prefix(-1) = 0.
    let prefix: Vec<Decimal> = std::iter::once(Decimal::ZERO)
        .chain((1..=n).map(|i| pnls[..i].iter().sum()))
        .collect();
    let mut drawdown = Decimal::ZERO;
    for i in 0..prefix.len() {
        for j in 0..=i {
            drawdown = drawdown.max(prefix[j] - prefix[i]);
        }
    }
    assert_eq!(s.max_drawdown, Some(drawdown.normalize()));
    // Streaks: the longest run of same-signed non-zero P&L.
    let longest = |positive: bool| {
        pnls.split(|p| {
            if positive {
                *p <= Decimal::ZERO
            } else {
                *p >= Decimal::ZERO
            }
        })
        .map(<[Decimal]>::len)
        .max()
        .unwrap_or(0) as u64
    };
    assert_eq!(s.max_consecutive_wins, longest(true));
    assert_eq!(s.max_consecutive_losses, longest(false));
}

#[tokio::test]
async fn random_histories_match_the_naive_journal() {
    for db in TestDatabase::all().await {
        let store = &db.store;
        let mut runner = TestRunner::deterministic();
        // The histories must exercise what they check.
        let (mut refused, mut most_closed) = (0, 0);
        for _case in 0..8 {
            let history = prop::collection::vec(op(), 40)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let user = crate::store::testing::insert_bare_user(store).await;
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
            let mut model: Vec<M> = Vec::new();
            for op in &history {
                if model.is_empty() && !matches!(op, Op::Create { .. }) {
                    continue;
                }
                let mut next = model.clone();
                match op {
                    Op::Create {
                        filed,
                        symbol,
                        buy,
                        q,
                        p,
                        f,
                        minute,
                        tag,
                    } => next.push(M {
                        id: Uuid::max(),
                        portfolio: filed.then_some(portfolio),
                        symbol: SYMBOLS[*symbol],
                        buy: *buy,
                        q: Decimal::from(*q),
                        p: Decimal::new(i64::from(*p), 2),
                        f: Decimal::new(i64::from(*f), 2),
                        at: at(*minute),
                        tag: tag.map(|i| TAGS[i]),
                    }),
                    Op::Edit {
                        pick,
                        q,
                        minute,
                        tag,
                    } => {
                        let t = &mut next[pick % model.len()];
                        if let Some(q) = q {
                            t.q = Decimal::from(*q);
                        }
                        if let Some(m) = minute {
                            t.at = at(*m);
                        }
                        if tag.is_some() {
                            t.tag = tag.map(|i| TAGS[i]);
                        }
                    }
                    Op::Delete { pick } => {
                        next.remove(pick % model.len());
                    }
                }
                let accepted = naive(&next).is_some();
                let result = match op {
                    Op::Create { .. } => {
                        let m = next.last().unwrap();
                        store
                            .create_trade(NewTrade {
                                user_id: user,
                                symbol: m.symbol.parse().unwrap(),
                                side: if m.buy { Side::Buy } else { Side::Sell },
                                quantity: m.q.to_string().parse().unwrap(),
                                price: m.p.to_string().parse().unwrap(),
                                fees: Fees::new(m.f).unwrap(),
                                multiplier: Default::default(),
                                executed_at: Some(m.at),
                                portfolio_id: m.portfolio,
                                notes: None,
                                tags: Tags::parse(m.tag).unwrap(),
                                import_id: None,
                            })
                            .await
                            .map(|trade| next.last_mut().unwrap().id = trade.id)
                    }
                    Op::Edit {
                        pick,
                        q,
                        minute,
                        tag,
                    } => {
                        let changes = TradeChanges {
                            quantity: q.map(|q| Decimal::from(q).to_string().parse().unwrap()),
                            executed_at: minute.map(at),
                            tags: tag.map(|i| Tags::parse([TAGS[i]]).unwrap()),
                            ..TradeChanges::default()
                        };
                        let id = model[pick % model.len()].id;
                        store.update_trade(user, id, &changes).await.map(drop)
                    }
                    Op::Delete { pick } => {
                        let id = model[pick % model.len()].id;
                        store.delete_trade(user, id).await
                    }
                };
                assert_eq!(result.is_ok(), accepted, "{op:?}: {result:?}");
                if accepted {
                    model = next;
                } else {
                    refused += 1;
                }
                let mut expected = naive(&model).unwrap();
                let query = RoundTripQuery {
                    limit: 500,
                    ..RoundTripQuery::default()
                };
                let listed = store.list_round_trips(user, &query).await.unwrap();
                let mut got: Vec<NaiveTrip> = listed.iter().map(stored).collect();
                expected.sort_by_key(|t| t.id);
                got.sort_by_key(|t| t.id);
                assert_eq!(got, expected, "after {op:?}");
                let closed = store
                    .closed_round_trips(user, &RoundTripQuery::default())
                    .await
                    .unwrap();
                let mut naive_closed: Vec<&NaiveTrip> =
                    expected.iter().filter(|t| t.closed_at.is_some()).collect();
                naive_closed.sort_by_key(|t| (t.closed_at, t.id));
                assert_eq!(
                    closed.iter().map(|t| t.id).collect::<Vec<_>>(),
                    naive_closed.iter().map(|t| t.id).collect::<Vec<_>>(),
                    "closing order"
                );
                check_summary(&naive_closed, &closed);
                most_closed = most_closed.max(closed.len());
            }
        }
        assert!(refused > 0 && most_closed >= 3, "{refused} {most_closed}");
    }
}
