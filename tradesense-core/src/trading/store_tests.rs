//! Contract tests of [`TradingStore`] on every configured backend.

use super::{
    Currency, Cursor, Fees, FoldError, NewTrade, Position, Side, TradeChanges, TradeQuery,
    TradeWriteError, TradingStore,
};
use crate::store::testing::TestDatabase;
use crate::store::{SqlStore, StoreError};
use chrono::TimeZone;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::sync::Arc;
use uuid::Uuid;

async fn user(store: &SqlStore) -> Uuid {
    crate::store::testing::insert_bare_user(store).await
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap()
}

fn trade(
    user_id: Uuid,
    portfolio_id: Option<Uuid>,
    side: Side,
    qty: &str,
    price: &str,
    minute: u32,
) -> NewTrade {
    NewTrade {
        user_id,
        symbol: "AAPL".parse().unwrap(),
        side,
        quantity: qty.parse().unwrap(),
        price: price.parse().unwrap(),
        fees: Fees::ZERO,
        multiplier: Default::default(),
        executed_at: Some(at(minute)),
        portfolio_id,
        notes: None,
        tags: super::Tags::new(),
        import_id: None,
    }
}

async fn portfolio(store: &SqlStore, user_id: Uuid) -> Uuid {
    store
        .create_portfolio(
            user_id,
            &"Main".parse().unwrap(),
            &Currency::usd(),
            Default::default(),
        )
        .await
        .unwrap()
        .id
}

async fn position(store: &SqlStore, user_id: Uuid, portfolio_id: Uuid) -> Option<Position> {
    store
        .positions(user_id, portfolio_id)
        .await
        .unwrap()
        .into_iter()
        .next()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test]
async fn portfolios_are_owner_scoped() {
    for db in TestDatabase::all().await {
        let store = &db.store;
        let (alice, bob) = (user(store).await, user(store).await);
        let p = store
            .create_portfolio(
                alice,
                &"Main".parse().unwrap(),
                &"eur".parse().unwrap(),
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(p.base_currency.as_str(), "EUR");
        assert_eq!(store.get_portfolio(alice, p.id).await.unwrap(), p);
        assert!(matches!(
            store.get_portfolio(bob, p.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.list_portfolios(bob).await.unwrap().is_empty());
        assert!(matches!(
            store.update_portfolio(bob, p.id, &renamed("Mine")).await,
            Err(TradeWriteError::Store(StoreError::NotFound))
        ));
        assert!(matches!(
            store.delete_portfolio(bob, p.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.positions(bob, p.id).await,
            Err(StoreError::NotFound)
        ));
        let renamed = store
            .update_portfolio(alice, p.id, &renamed("Long"))
            .await
            .unwrap();
        assert_eq!(renamed.name.as_str(), "Long");
        assert_eq!(store.list_portfolios(alice).await.unwrap(), vec![renamed]);
        // A trade into someone else's portfolio: that portfolio does not exist.
        let err = store
            .create_trade(trade(bob, Some(p.id), Side::Buy, "1", "1", 1))
            .await
            .unwrap_err();
        assert!(matches!(err, TradeWriteError::Store(StoreError::NotFound)));
    }
}

#[tokio::test]
async fn positions_follow_creates_edits_and_deletes() {
    for db in TestDatabase::all().await {
        let store = &db.store;
        let alice = user(store).await;
        let pid = portfolio(store, alice).await;
        let buy = store
            .create_trade(trade(alice, Some(pid), Side::Buy, "10", "100", 10))
            .await
            .unwrap();
        assert_eq!(buy.quantity.to_string(), "10");
        let sell = store
            .create_trade(trade(alice, Some(pid), Side::Sell, "4", "110", 20))
            .await
            .unwrap();
        let p = position(store, alice, pid).await.unwrap();
        assert_eq!(
            (p.quantity, p.average_cost, p.realized_pnl),
            (dec("6"), dec("100"), dec("40"))
        );

        // A back-dated buy changes the average the later sell realized against.
        store
            .create_trade(trade(alice, Some(pid), Side::Buy, "10", "80", 5))
            .await
            .unwrap();
        let p = position(store, alice, pid).await.unwrap();
        assert_eq!(
            (p.quantity, p.average_cost, p.realized_pnl),
            (dec("16"), dec("90"), dec("80"))
        );

        // Refusals change nothing: an oversell, an edit that moves the first
        // buy after the sell is fine (the other buy covers it), but moving
        // both buys after the sell is not.
        let err = store
            .create_trade(trade(alice, Some(pid), Side::Sell, "100", "1", 30))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            TradeWriteError::Refused(FoldError::InsufficientPosition { .. })
        ));
        let moved = TradeChanges {
            executed_at: Some(at(25)),
            ..Default::default()
        };
        store.update_trade(alice, buy.id, &moved).await.unwrap();
        let listed = store.list_trades(alice, &query(50)).await.unwrap();
        let back_dated = listed.iter().find(|t| t.executed_at == at(5)).unwrap().id;
        let err = store
            .update_trade(alice, back_dated, &moved)
            .await
            .unwrap_err();
        assert!(matches!(err, TradeWriteError::Refused(_)));
        assert_eq!(
            store
                .get_trade(alice, back_dated)
                .await
                .unwrap()
                .executed_at,
            at(5)
        );
        let err = store.delete_trade(alice, back_dated).await.unwrap_err();
        assert!(matches!(err, TradeWriteError::Refused(_)));
        assert_eq!(store.list_trades(alice, &query(50)).await.unwrap().len(), 3);

        // Deleting the sell and editing notes/prices recompute too.
        store.delete_trade(alice, sell.id).await.unwrap();
        let p = position(store, alice, pid).await.unwrap();
        assert_eq!((p.quantity, p.realized_pnl), (dec("20"), dec("0")));
        let repriced = TradeChanges {
            price: Some("120".parse().unwrap()),
            notes: Some(Some("fat finger".parse().unwrap())),
            ..Default::default()
        };
        let edited = store
            .update_trade(alice, back_dated, &repriced)
            .await
            .unwrap();
        assert_eq!(edited.notes.as_ref().unwrap().as_str(), "fat finger");
        assert_eq!(
            position(store, alice, pid).await.unwrap().average_cost,
            dec("110")
        );

        // Deleting every trade removes the position row.
        for t in store.list_trades(alice, &query(50)).await.unwrap() {
            store.delete_trade(alice, t.id).await.unwrap();
        }
        assert_eq!(position(store, alice, pid).await, None);
    }
}

#[tokio::test]
async fn trades_without_portfolio_and_other_users() {
    for db in TestDatabase::all().await {
        let store = &db.store;
        let (alice, bob) = (user(store).await, user(store).await);
        let pid = portfolio(store, alice).await;
        // No portfolio: no position row, but the trades without one fold
        // as their own group (their round trips, issue 13), so a sell of
        // nothing is refused there too.
        assert!(matches!(
            store
                .create_trade(trade(alice, None, Side::Sell, "5", "1", 1))
                .await,
            Err(TradeWriteError::Refused(
                FoldError::InsufficientPosition { .. }
            ))
        ));
        let loose = store
            .create_trade(trade(alice, None, Side::Buy, "5", "1", 1))
            .await
            .unwrap();
        assert_eq!(loose.portfolio_id, None);
        assert!(store.positions(alice, pid).await.unwrap().is_empty());
        assert!(matches!(
            store.get_trade(bob, loose.id).await,
            Err(StoreError::NotFound)
        ));
        let changes = TradeChanges {
            notes: Some(None),
            ..Default::default()
        };
        assert!(matches!(
            store.update_trade(bob, loose.id, &changes).await,
            Err(TradeWriteError::Store(StoreError::NotFound))
        ));
        assert!(matches!(
            store.delete_trade(bob, loose.id).await,
            Err(TradeWriteError::Store(StoreError::NotFound))
        ));
        assert!(store.list_trades(bob, &query(50)).await.unwrap().is_empty());
        // Deleting a portfolio takes its trades and positions along.
        store
            .create_trade(trade(alice, Some(pid), Side::Buy, "1", "1", 2))
            .await
            .unwrap();
        store.delete_portfolio(alice, pid).await.unwrap();
        let left = store.list_trades(alice, &query(50)).await.unwrap();
        assert_eq!(
            left.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![loose.id]
        );
    }
}

fn query(limit: u32) -> TradeQuery {
    TradeQuery {
        symbol: None,
        portfolio_id: None,
        tag: None,
        from: None,
        to: None,
        limit,
        after: None,
    }
}

#[tokio::test]
async fn listing_pages_newest_first_with_filters() {
    for db in TestDatabase::all().await {
        let store = &db.store;
        let alice = user(store).await;
        let pid = portfolio(store, alice).await;
        let mut ids = Vec::new();
        for i in 0..7u32 {
            let mut t = trade(
                alice,
                (i % 2 == 0).then_some(pid),
                Side::Buy,
                "1",
                "1",
                i / 2,
            );
            if i == 3 {
                t.symbol = "MSFT".parse().unwrap();
            }
            ids.push(store.create_trade(t).await.unwrap());
        }
        // Expected order: executed_at desc, id desc (ties share a minute).
        let mut expected = ids.clone();
        expected.sort_by_key(|t| std::cmp::Reverse((t.executed_at, t.id)));
        let mut seen = Vec::new();
        let mut q = query(3);
        loop {
            let page = store.list_trades(alice, &q).await.unwrap();
            seen.extend(page.iter().cloned());
            if page.len() < 3 {
                break;
            }
            let last = page.last().unwrap();
            q.after = Some(Cursor::new(last.executed_at, last.id));
        }
        assert_eq!(seen, expected);

        let mut q = query(50);
        q.symbol = Some("MSFT".parse().unwrap());
        assert_eq!(store.list_trades(alice, &q).await.unwrap().len(), 1);
        let mut q = query(50);
        q.portfolio_id = Some(pid);
        assert_eq!(store.list_trades(alice, &q).await.unwrap().len(), 4);
        let mut q = query(50);
        (q.from, q.to) = (Some(at(1)), Some(at(2)));
        assert_eq!(store.list_trades(alice, &q).await.unwrap().len(), 4);
    }
}

#[tokio::test]
async fn concurrent_buys_into_one_portfolio_all_count() {
    for db in TestDatabase::all().await {
        let store = Arc::new(db.store.clone());
        let alice = user(&store).await;
        let pid = portfolio(&store, alice).await;
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let t = trade(
                        alice,
                        Some(pid),
                        Side::Buy,
                        "1",
                        &format!("{}", 100 + i),
                        i % 60,
                    );
                    store.create_trade(t).await.unwrap();
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let p = position(&store, alice, pid).await.unwrap();
        assert_eq!(p.quantity, dec("50"), "{:?}", store.backend());
        assert_eq!(p.average_cost, dec("124.5"));
    }
}

fn renamed(name: &str) -> super::PortfolioChanges {
    super::PortfolioChanges {
        name: Some(name.parse().unwrap()),
        ..Default::default()
    }
}
