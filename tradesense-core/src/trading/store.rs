//! Storage of portfolios, trades and positions: the trait the handlers
//! program against; its sqlx implementation is in `sql.rs` (tables: the
//! [`Trading`](crate::store::MigrationSet::Trading) migrations).
//!
//! Positions are kept as rows (one per portfolio and symbol) so reading them
//! is one index lookup; every trade write refolds the affected group inside
//! its own transaction, from that symbol's trades in `(executed_at, id)`
//! order under the portfolio's [`Rules`](super::Rules), and persists the
//! answer, or rolls everything back if the fold refuses. One exception: a
//! created trade that is the newest of its `average` group is folded onto
//! the stored position and open round trip in constant time
//! (`append_sql.rs`: the same fold resumed, checked equal to the full one
//! by property tests).
//!
//! Concurrent writers to one portfolio serialise on it: PostgreSQL locks the
//! portfolio row (`SELECT ... FOR UPDATE`); SQLite starts the transaction
//! with `BEGIN IMMEDIATE`, taking the database's write lock up front (a
//! deferred transaction that reads first and writes later could fail with
//! `SQLITE_BUSY` on upgrade instead of waiting).

use super::{Currency, PortfolioChanges, PortfolioName, Rules};
use super::{Cursor, ImportRecord, NewImport};
use super::{
    FoldError, NewTrade, Portfolio, Position, RoundTrip, RoundTripQuery, Trade, TradeChanges,
    TradeQuery,
};
use crate::store::StoreError;
use async_trait::async_trait;
use uuid::Uuid;

/// Why a trade write did not happen. Nothing was changed in either case.
#[derive(Debug, thiserror::Error)]
pub enum TradeWriteError {
    /// The positions after the write would be invalid
    /// (`insufficient_position`, `multiplier_mismatch`).
    #[error(transparent)]
    Refused(#[from] FoldError),
    /// The trade or portfolio does not exist for this user, or the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TradeWriteError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(err.into())
    }
}

/// Portfolios, trades and positions, always scoped to their owner: another
/// user's id is [`StoreError::NotFound`].
#[async_trait]
pub trait TradingStore: Send + Sync {
    /// Creates a portfolio folding its trades under `rules`.
    async fn create_portfolio(
        &self,
        user_id: Uuid,
        name: &PortfolioName,
        base_currency: &Currency,
        rules: Rules,
    ) -> Result<Portfolio, StoreError>;
    /// The user's portfolios, oldest first.
    async fn list_portfolios(&self, user_id: Uuid) -> Result<Vec<Portfolio>, StoreError>;
    /// One portfolio.
    async fn get_portfolio(&self, user_id: Uuid, id: Uuid) -> Result<Portfolio, StoreError>;
    /// Renames a portfolio and changes its rules; a change of rules refolds
    /// all its groups in the same transaction, or refuses (changing
    /// nothing) when a trade would become invalid under the new rules.
    async fn update_portfolio(
        &self,
        user_id: Uuid,
        id: Uuid,
        changes: &PortfolioChanges,
    ) -> Result<Portfolio, TradeWriteError>;
    /// Deletes a portfolio with its trades and positions.
    async fn delete_portfolio(&self, user_id: Uuid, id: Uuid) -> Result<(), StoreError>;
    /// A portfolio's stored positions by symbol (including empty ones).
    async fn positions(
        &self,
        user_id: Uuid,
        portfolio_id: Uuid,
    ) -> Result<Vec<Position>, StoreError>;
    /// Records a trade and refolds its group. `NotFound` means the
    /// portfolio is not the user's.
    async fn create_trade(&self, trade: NewTrade) -> Result<Trade, TradeWriteError>;
    /// One trade.
    async fn get_trade(&self, user_id: Uuid, id: Uuid) -> Result<Trade, StoreError>;
    /// A page of the user's trades, newest `(executed_at, id)` first.
    async fn list_trades(
        &self,
        user_id: Uuid,
        query: &TradeQuery,
    ) -> Result<Vec<Trade>, StoreError>;
    /// Edits a trade and refolds its group; a trade moved to another
    /// portfolio or symbol refolds both groups in the same transaction.
    /// `NotFound`: the trade, or the portfolio it would move to, is not
    /// the user's.
    async fn update_trade(
        &self,
        user_id: Uuid,
        id: Uuid,
        changes: &TradeChanges,
    ) -> Result<Trade, TradeWriteError>;
    /// Deletes a trade and refolds its group.
    async fn delete_trade(&self, user_id: Uuid, id: Uuid) -> Result<(), TradeWriteError>;
    /// A page of the user's round trips, newest `(opened_at, id)` first.
    async fn list_round_trips(
        &self,
        user_id: Uuid,
        query: &RoundTripQuery,
    ) -> Result<Vec<RoundTrip>, StoreError>;
    /// Every round trip matching `query` (its `status`, `limit` and
    /// cursor ignored: closed ones only), in `(closed_at, id)` order, for
    /// the analytics; `from`/`to` bound `closed_at`.
    async fn closed_round_trips(
        &self,
        user_id: Uuid,
        query: &RoundTripQuery,
    ) -> Result<Vec<super::ClosedTrip>, StoreError>;
    /// The user's IANA time zone (`UTC` unless they set one).
    async fn user_timezone(&self, user_id: Uuid) -> Result<String, StoreError>;
    /// Applies an import in one transaction (see `import_sql.rs`): each
    /// candidate is created, a duplicate, or refused by the fold (an error
    /// of its row only). A dry run writes nothing. `NotFound`: the
    /// portfolio is not the user's.
    async fn import_trades(&self, import: NewImport) -> Result<ImportRecord, TradeWriteError>;
    /// A page of the user's imports, newest first.
    async fn list_imports(
        &self,
        user_id: Uuid,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Vec<ImportRecord>, StoreError>;
    /// Deletes an import's trades as one write (refused if a later sell
    /// would oversell) and the import with its dedupe keys.
    async fn delete_import(&self, user_id: Uuid, id: Uuid) -> Result<(), TradeWriteError>;
}
