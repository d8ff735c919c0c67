//! Keeps cached trading reads honest: a [`TradingStore`] decorator that,
//! after every write, invalidates the writer's scope in the trading
//! response cache (their trade pages, portfolios and positions, on every
//! instance). A decorator rather than calls in the handlers: no write path
//! can forget the cache, and `trading` stays unaware of it.

use super::store::{TradeWriteError, TradingStore};
use super::{
    Currency, NewTrade, Portfolio, PortfolioChanges, PortfolioName, Position, RoundTrip,
    RoundTripQuery, Rules, Trade, TradeChanges, TradeQuery,
};
use super::{Cursor, ImportRecord, NewImport};
use crate::cache::{CachedJson, Scoped};
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a cached trading response may be served. Every write through
/// [`InvalidatingTradingStore`] invalidates at once; the TTL bounds memory
/// and writes made behind the store's back.
pub const TRADING_CACHE_TTL: Duration = Duration::from_secs(300);

/// `inner`, invalidating the owner's scope of `responses` on every write.
#[derive(Clone)]
pub struct InvalidatingTradingStore {
    inner: Arc<dyn TradingStore>,
    responses: Scoped<CachedJson>,
}

impl std::fmt::Debug for InvalidatingTradingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidatingTradingStore")
            .field("responses", &self.responses)
            .finish_non_exhaustive()
    }
}

impl InvalidatingTradingStore {
    /// Wraps `inner`; `responses` is keyed by the user id as scope.
    pub fn new(inner: Arc<dyn TradingStore>, responses: Scoped<CachedJson>) -> Self {
        Self { inner, responses }
    }

    // Invalidated also after a failed write: the write may have committed
    // before the error surfaced, and a spare invalidation only costs a miss.
    async fn changed(&self, user_id: Uuid) {
        self.responses.invalidate(&user_id.to_string()).await;
    }
}

#[async_trait]
impl TradingStore for InvalidatingTradingStore {
    async fn create_portfolio(
        &self,
        user_id: Uuid,
        name: &PortfolioName,
        base_currency: &Currency,
        rules: Rules,
    ) -> Result<Portfolio, StoreError> {
        let result = self
            .inner
            .create_portfolio(user_id, name, base_currency, rules)
            .await;
        self.changed(user_id).await;
        result
    }

    async fn list_portfolios(&self, user_id: Uuid) -> Result<Vec<Portfolio>, StoreError> {
        self.inner.list_portfolios(user_id).await
    }

    async fn get_portfolio(&self, user_id: Uuid, id: Uuid) -> Result<Portfolio, StoreError> {
        self.inner.get_portfolio(user_id, id).await
    }

    async fn update_portfolio(
        &self,
        user_id: Uuid,
        id: Uuid,
        changes: &PortfolioChanges,
    ) -> Result<Portfolio, TradeWriteError> {
        let result = self.inner.update_portfolio(user_id, id, changes).await;
        self.changed(user_id).await;
        result
    }

    async fn delete_portfolio(&self, user_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        let result = self.inner.delete_portfolio(user_id, id).await;
        self.changed(user_id).await;
        result
    }

    async fn positions(
        &self,
        user_id: Uuid,
        portfolio_id: Uuid,
    ) -> Result<Vec<Position>, StoreError> {
        self.inner.positions(user_id, portfolio_id).await
    }

    async fn create_trade(&self, trade: NewTrade) -> Result<Trade, TradeWriteError> {
        let user_id = trade.user_id;
        let result = self.inner.create_trade(trade).await;
        self.changed(user_id).await;
        result
    }

    async fn get_trade(&self, user_id: Uuid, id: Uuid) -> Result<Trade, StoreError> {
        self.inner.get_trade(user_id, id).await
    }

    async fn list_trades(
        &self,
        user_id: Uuid,
        query: &TradeQuery,
    ) -> Result<Vec<Trade>, StoreError> {
        self.inner.list_trades(user_id, query).await
    }

    async fn update_trade(
        &self,
        user_id: Uuid,
        id: Uuid,
        changes: &TradeChanges,
    ) -> Result<Trade, TradeWriteError> {
        let result = self.inner.update_trade(user_id, id, changes).await;
        self.changed(user_id).await;
        result
    }

    async fn delete_trade(&self, user_id: Uuid, id: Uuid) -> Result<(), TradeWriteError> {
        let result = self.inner.delete_trade(user_id, id).await;
        self.changed(user_id).await;
        result
    }

    async fn list_round_trips(
        &self,
        user_id: Uuid,
        query: &RoundTripQuery,
    ) -> Result<Vec<RoundTrip>, StoreError> {
        self.inner.list_round_trips(user_id, query).await
    }

    async fn closed_round_trips(
        &self,
        user_id: Uuid,
        query: &RoundTripQuery,
    ) -> Result<Vec<super::ClosedTrip>, StoreError> {
        self.inner.closed_round_trips(user_id, query).await
    }

    async fn import_trades(&self, import: NewImport) -> Result<ImportRecord, TradeWriteError> {
        let user_id = import.user_id;
        let result = self.inner.import_trades(import).await;
        self.changed(user_id).await;
        result
    }

    async fn list_imports(
        &self,
        user_id: Uuid,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        self.inner.list_imports(user_id, limit, after).await
    }

    async fn delete_import(&self, user_id: Uuid, id: Uuid) -> Result<(), TradeWriteError> {
        let result = self.inner.delete_import(user_id, id).await;
        self.changed(user_id).await;
        result
    }

    async fn user_timezone(&self, user_id: Uuid) -> Result<String, StoreError> {
        self.inner.user_timezone(user_id).await
    }
}
