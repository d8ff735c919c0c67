//! Storage plumbing: [`SqlStore`], the one sqlx store over SQLite (the
//! embedded default) or PostgreSQL (production), its errors, exact decimals
//! and the embedded migrations in [`MigrationSet`]s.
//!
//! The store traits and their SQL belong to the feature slices
//! (`users::UserStore`, `auth::SessionStore`, `mfa::MfaStore`,
//! `trading::TradingStore`), each implemented for [`SqlStore`] in its own
//! folder; this module knows none of them. Which tables exist is chosen by
//! the migration sets: [`SqlStore::migrate`] applies all of TradeSense's,
//! [`SqlStore::migrate_sets`] only those asked for (sessions alone for an
//! application with its own users table).
//!
//! Why one implementation over an enum of pools rather than two structs or
//! generic code over `sqlx::Database`: the queries are the same text on both
//! (`$1` placeholders, `RETURNING`, `ON CONFLICT` all work on SQLite too), so
//! each method body is written once and the [`with_pool!`](crate::with_pool)
//! macro compiles it for each backend. Generic sqlx code would need a wall of
//! `Encode`/`Decode`/`Executor` bounds on every method for no extra safety.
//! Where the SQL really differs (locking), the body matches on the backend.

mod decimal;
pub mod migrations;
#[cfg(test)]
mod pool_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use decimal::DbDecimal;
pub use migrations::{MIGRATIONS_TABLE, MigrationSet};

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// A storage failure. Callers map `NotFound` to `404` and everything else to
/// an internal error whose cause is logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (or belongs to someone else).
    #[error("not found")]
    NotFound,
    /// A uniqueness constraint was violated (e.g. the email is taken).
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A stored value could not be decoded (corrupt or hand-edited data).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(db.constraint().unwrap_or("unique").to_owned())
            }
            other => Self::Database(other),
        }
    }
}

impl StoreError {
    /// An owned copy of an error shared between the concurrent callers of
    /// one cache load (`sqlx::Error` is not `Clone`): same variant, so the
    /// same status; a database cause keeps its message for the logs.
    pub(crate) fn clone_shared(&self) -> Self {
        match self {
            Self::NotFound => Self::NotFound,
            Self::Conflict(constraint) => Self::Conflict(constraint.clone()),
            Self::Corrupt(reason) => Self::Corrupt(reason.clone()),
            Self::Database(cause) => Self::Database(sqlx::Error::Protocol(cause.to_string())),
        }
    }
}

/// The pool of one of the two supported backends.
#[derive(Debug, Clone)]
pub enum Db {
    /// The embedded default: one file, WAL journal, foreign keys on.
    Sqlite(SqlitePool),
    /// Production.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`, compiled
/// once per backend. The body is written once; only the SQL text may differ,
/// via `$backend` (a [`Backend`]).
#[macro_export]
#[doc(hidden)]
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Which backend a [`Db`] is, for the few queries whose text differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The sqlx store: a pool of either backend. The feature slices implement
/// their store traits on it.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
    /// SQLite only: the turn of this process's write transactions (see
    /// [`SqlStore::write_turn`]). Shared by the clones of one store.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A write transaction's turn on SQLite's single write lock: held from
/// before its `BEGIN IMMEDIATE` until it commits or rolls back.
#[derive(Debug)]
pub struct WriteTurn<'a> {
    _guard: Option<tokio::sync::MutexGuard<'a, ()>>,
}

/// How a [`SqlStore`] connects: the URL (`sqlite://...` or
/// `postgres://...`, kept secret: `Debug` never prints it), the pool size
/// and how long a request waits for a pooled connection.
///
/// ```
/// use std::time::Duration;
/// use tradesense_core::store::DbOptions;
///
/// let options = DbOptions::new("postgres://app:hunter2@db/app")
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(2));
/// assert!(!format!("{options:?}").contains("hunter2"));
/// ```
#[derive(Clone)]
pub struct DbOptions {
    url: SecretString,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOptions")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

impl DbOptions {
    /// `url`, ten connections, a five-second acquire timeout.
    pub fn new(url: &str) -> Self {
        Self {
            url: SecretString::from(url.to_owned()),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }

    /// The pool's size.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// How long a request waits for a pooled connection before failing.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}

/// Whether a pooled Postgres connection answers and is outside any
/// transaction block. A request dropped while sqlx 0.9.0's `Pool::begin`
/// waits for `BEGIN` hands its connection back still inside the block
/// (transact-rs/sqlx#4393): every later statement on it would join that
/// never-committed transaction, and a `201` would be lost. Inside a block
/// `now()` is the block's start and `statement_timestamp()` this
/// statement's, so they differ; outside they are the same. A connection
/// found inside one is closed (`false`), and the pool takes another.
///
/// Sent as a simple query (`raw_sql`), where an implicit transaction
/// starts with its statement: through the extended protocol (a prepared
/// statement's Bind, then Execute) the two clocks differ by the gap
/// between the messages even outside a block, every connection was
/// judged stale, and each acquire closed it and opened a new one (a TLS
/// handshake of ~90 ms on this machine: issue 14's Postgres write
/// latency).
async fn still_outside_a_transaction(conn: &mut sqlx::PgConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    let outside: bool = sqlx::raw_sql("SELECT now() = statement_timestamp()")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if !outside {
        tracing::warn!("closing a pooled connection left inside a transaction");
    }
    Ok(outside)
}

impl SqlStore {
    /// Connects (creating the SQLite file if it is missing), without
    /// running migrations.
    pub async fn connect(options: &DbOptions) -> Result<Self, StoreError> {
        let url = options.url.expose_secret();
        let max = options.max_connections;
        let acquire = options.acquire_timeout;
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // Writers queue on SQLite's single write lock instead of
                // failing at once with SQLITE_BUSY.
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(acquire)
                .connect_with(options)
                .await?;
            Db::Sqlite(pool)
        } else {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(acquire)
                // One round trip before each acquire, doing two jobs: the
                // pre-ping (a connection the server dropped, by restart,
                // failover or idle timeout, is replaced before a request
                // sees it) and the stale-transaction check below.
                .test_before_acquire(false)
                .before_acquire(|conn, _meta| Box::pin(still_outside_a_transaction(conn)))
                .connect_with(options)
                .await?;
            Db::Postgres(pool)
        };
        Ok(Self::from_db(db))
    }

    /// Wraps an existing pool.
    pub fn from_db(db: Db) -> Self {
        let write_gate = match db {
            Db::Sqlite(_) => Some(Arc::new(tokio::sync::Mutex::new(()))),
            Db::Postgres(_) => None,
        };
        Self { db, write_gate }
    }

    /// Waits for this write transaction's turn; hold the answer until the
    /// transaction has ended.
    ///
    /// SQLite has one write lock per database file. Left to itself, a
    /// `BEGIN IMMEDIATE` that finds it taken sleeps in SQLite's busy
    /// handler (1, 2, 5, 10 ... 100 ms, polling, up to `busy_timeout`) while
    /// holding a pooled connection: under contention a writer that arrives
    /// later may win the lock before one that has waited long (one
    /// measured 938 ms), and waiting writers starve the pool of
    /// connections for the reads. Queued here instead, in a FIFO
    /// (tokio's mutex is fair), before a connection is taken, each writer
    /// finds the lock free when its turn comes, and waits as long as the
    /// writers ahead of it take, no more. The trade-off: this process's
    /// trade writes run one at a time even where SQLite would have
    /// interleaved their reads (it could not interleave their writes), and
    /// other processes on the same file, or this process's single-statement
    /// writes (sessions, users), still meet the lock through
    /// `busy_timeout`. On PostgreSQL this is a no-op: its writers lock rows,
    /// not the database.
    pub async fn write_turn(&self) -> WriteTurn<'_> {
        WriteTurn {
            _guard: match &self.write_gate {
                Some(gate) => Some(gate.lock().await),
                None => None,
            },
        }
    }

    /// Connects and brings TradeSense's whole schema up to date
    /// ([`migrate`](Self::migrate)).
    pub async fn connect_and_migrate(options: &DbOptions) -> Result<Self, StoreError> {
        let store = Self::connect(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The pool.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// A trivial round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(&self.db, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool, waiting for checked-out connections to return.
    pub async fn close(&self) {
        with_pool!(&self.db, |pool| pool.close().await)
    }
}

/// Truncates a timestamp to the microsecond: what PostgreSQL stores, so a
/// value reads back equal on both backends.
pub fn to_micros(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}
