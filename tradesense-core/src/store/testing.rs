//! Throwaway databases for tests: a SQLite file in a temp dir always, and a
//! fresh PostgreSQL database (created from `TEST_DATABASE_URL`, dropped
//! after) when that variable is set.
//!
//! When `TEST_DATABASE_URL` is set and the server cannot be reached, the
//! helpers panic: a configured backend that is down is a failure, not a skip.

use super::DbOptions;
use super::{MigrationSet, SqlStore, StoreError};
use sqlx::Connection;

/// The variable naming the PostgreSQL server tests use.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A throwaway database, deleted when dropped: by default with TradeSense's
/// whole schema and no rows; the `*_with` constructors apply only some
/// [`MigrationSet`]s (none: an empty database).
pub struct TestDatabase {
    /// The store over it.
    pub store: SqlStore,
    /// Its URL (with a fresh database name for Postgres).
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The temp dir is deleted when dropped: held, never read.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("backend", &self.store.backend())
            .finish()
    }
}

impl TestDatabase {
    /// A fresh SQLite database file in a temp dir, fully migrated.
    pub async fn sqlite() -> Self {
        Self::sqlite_with(Schema::TradeSense).await
    }

    /// A fresh SQLite database file in a temp dir with only `sets`
    /// (and what they require) migrated.
    pub async fn sqlite_with_sets(sets: &[MigrationSet]) -> Self {
        Self::sqlite_with(Schema::Sets(sets)).await
    }

    async fn sqlite_with(schema: Schema<'_>) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = connect(&url, schema).await.expect("sqlite test database");
        Self {
            store,
            url,
            cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    /// A fresh PostgreSQL database, fully migrated, or `None` when
    /// `TEST_DATABASE_URL` is unset.
    ///
    /// # Panics
    /// When the variable is set and the server is unreachable.
    pub async fn postgres() -> Option<Self> {
        Self::postgres_with(Schema::TradeSense).await
    }

    /// A fresh PostgreSQL database with only `sets` (and what they require)
    /// migrated, or `None` when `TEST_DATABASE_URL` is unset.
    ///
    /// # Panics
    /// When the variable is set and the server is unreachable.
    pub async fn postgres_with_sets(sets: &[MigrationSet]) -> Option<Self> {
        Self::postgres_with(Schema::Sets(sets)).await
    }

    async fn postgres_with(schema: Schema<'_>) -> Option<Self> {
        let admin_url = std::env::var(TEST_DATABASE_URL).ok()?;
        let name = format!("tradesense_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|err| panic!("{TEST_DATABASE_URL} is set but unreachable: {err}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        let url = url.to_string();
        let store = connect(&url, schema).await.expect("postgres test database");
        Some(Self {
            store,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// SQLite, plus PostgreSQL when configured: what a contract test runs on.
    pub async fn all() -> Vec<Self> {
        let mut databases = vec![Self::sqlite().await];
        databases.extend(Self::postgres().await);
        databases
    }

    /// [`all`](Self::all) with only `sets` (and what they require)
    /// migrated; `&[]` gives empty databases.
    pub async fn all_with_sets(sets: &[MigrationSet]) -> Vec<Self> {
        let mut databases = vec![Self::sqlite_with_sets(sets).await];
        databases.extend(Self::postgres_with_sets(sets).await);
        databases
    }
}

/// Inserts a bare row into TradeSense's `users` table (the
/// [`Users`](MigrationSet::Users) set) and returns its id: for tests of the
/// tables that reference users. Real accounts are made through
/// `users::UserStore`.
///
/// # Panics
/// When the insert fails (no `users` table, database down).
pub async fn insert_bare_user(store: &SqlStore) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    let now = super::to_micros(chrono::Utc::now());
    crate::with_pool!(store.db(), |pool| {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) \
             VALUES ($1, $2, 'x', 'Test', $3, $3)",
        )
        .bind(id)
        .bind(format!("{id}@example.com"))
        .bind(now)
        .execute(pool)
        .await
        .expect("insert a user");
    });
    id
}

/// What a test database gets migrated with.
#[derive(Clone, Copy)]
enum Schema<'a> {
    /// [`SqlStore::migrate`].
    TradeSense,
    /// [`SqlStore::migrate_sets`].
    Sets(&'a [MigrationSet]),
}

async fn connect(url: &str, schema: Schema<'_>) -> Result<SqlStore, StoreError> {
    let store = SqlStore::connect(&DbOptions::new(url)).await?;
    match schema {
        Schema::TradeSense => store.migrate().await?,
        Schema::Sets(sets) => store.migrate_sets(sets).await?,
    }
    Ok(store)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // A private runtime on another thread: the test's runtime is
            // blocked in this drop, so nothing registered with it (the pool's
            // sockets) may be awaited here. `WITH (FORCE)` ends the pool's
            // server-side connections instead.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async move {
                    let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_backend_migrates_and_answers() {
        for db in TestDatabase::all().await {
            db.store.ping().await.unwrap();
            // Migrations are idempotent: running them again is a no-op.
            db.store.migrate().await.unwrap();
        }
    }
}
