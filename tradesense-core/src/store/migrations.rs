//! The embedded migrations, in sets an application takes what it needs of.
//!
//! | set | tables | needs |
//! |---|---|---|
//! | [`Sessions`](MigrationSet::Sessions) | `sessions` (its `user_id` references nothing) | - |
//! | [`Users`](MigrationSet::Users) | `users` (with the MFA columns) | - |
//! | [`SessionUsers`](MigrationSet::SessionUsers) | ties `sessions.user_id` to `users` | Sessions, Users |
//! | [`Mfa`](MigrationSet::Mfa) | `recovery_codes`, `mfa_used_tokens`, `mfa_failures` | Users |
//! | [`Trading`](MigrationSet::Trading) | `portfolios`, `trades`, `positions`, the journal's `trade_tags`, `round_trips`, `round_trip_tags`, `imports`, `import_keys` | Users |
//! | [`SecurityEvents`](MigrationSet::SecurityEvents) | `security_events` (its `user_id` references nothing) | - |
//! | [`Passkeys`](MigrationSet::Passkeys) | `passkeys`, `passkey_challenges` (their `user_id` references nothing) | - |
//!
//! An embedder with its own users table runs [`MigrationSet::Sessions`]
//! alone and gets the sessions table, nothing else (and
//! [`MigrationSet::Passkeys`] beside it for passkeys). MFA is not in the auth
//! set: its secrets are columns of TradeSense's `users`, so it needs the
//! users set (an embedder with its own users implements `MfaStore` itself).
//! TradeSense runs them all ([`SqlStore::migrate`]).
//!
//! Bookkeeping: every set records what it applied in one table,
//! [`MIGRATIONS_TABLE`], not sqlx's default `_sqlx_migrations`, so an
//! embedder's own sqlx migrations (which refuse to run beside versions they
//! do not know) never see ours. The sets share that table, so their versions
//! are disjoint (set `n` numbers its migrations `n001`, `n002`, ...) and each
//! migrator ignores the others' rows. The files are
//! `migrations/<backend>/<set>/<version>_<name>.sql`.
//!
//! Databases created before the split recorded `0001_initial` and
//! `0020_mfa_guards` (kept, frozen, in `migrations/legacy/`) in
//! `_sqlx_migrations`; [`SqlStore::migrate`] recognises them by checksum and
//! records the sets' first migrations as applied instead of running them.

use super::{Backend, SqlStore, StoreError};
use sqlx::migrate::{MigrateError, Migrator};

/// The table the migration sets record their versions in.
pub const MIGRATIONS_TABLE: &str = "_tradesense_migrations";

/// Where sqlx kept the versions of the schema before the split.
const LEGACY_TABLE: &str = "_sqlx_migrations";

/// One set of tables with its migrations for both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MigrationSet {
    /// `sessions`, standing alone (auth).
    Sessions,
    /// TradeSense's `users`.
    Users,
    /// The foreign key from `sessions.user_id` to TradeSense's `users`.
    SessionUsers,
    /// MFA state beside TradeSense's `users`.
    Mfa,
    /// Portfolios, trades, positions and the journal (tags, round trips, imports).
    Trading,
    /// `security_events`, standing alone (events).
    SecurityEvents,
    /// `passkeys` and `passkey_challenges`, standing alone (passkeys).
    Passkeys,
}

impl MigrationSet {
    /// Every set, in the order they are applied.
    pub const ALL: &'static [Self] = &[
        Self::Sessions,
        Self::Users,
        Self::SessionUsers,
        Self::Mfa,
        Self::Trading,
        Self::SecurityEvents,
        Self::Passkeys,
    ];

    /// The set's folder under `migrations/<backend>/`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sessions => "sessions",
            Self::Users => "users",
            Self::SessionUsers => "session_users",
            Self::Mfa => "mfa",
            Self::Trading => "trading",
            Self::SecurityEvents => "security_events",
            Self::Passkeys => "passkeys",
        }
    }

    /// The sets whose tables this one references (applied with it by
    /// [`SqlStore::migrate_sets`]).
    pub fn requires(self) -> &'static [Self] {
        match self {
            Self::Sessions | Self::Users | Self::SecurityEvents | Self::Passkeys => &[],
            Self::SessionUsers => &[Self::Sessions, Self::Users],
            Self::Mfa | Self::Trading => &[Self::Users],
        }
    }

    /// The set's sqlx migrator for `backend`, recording in
    /// [`MIGRATIONS_TABLE`] and ignoring the other sets' versions there.
    pub fn migrator(self, backend: Backend) -> Migrator {
        use Backend::{Postgres, Sqlite};
        let mut migrator = match (self, backend) {
            (Self::Sessions, Sqlite) => sqlx::migrate!("../migrations/sqlite/sessions"),
            (Self::Sessions, Postgres) => sqlx::migrate!("../migrations/postgres/sessions"),
            (Self::Users, Sqlite) => sqlx::migrate!("../migrations/sqlite/users"),
            (Self::Users, Postgres) => sqlx::migrate!("../migrations/postgres/users"),
            (Self::SessionUsers, Sqlite) => sqlx::migrate!("../migrations/sqlite/session_users"),
            (Self::SessionUsers, Postgres) => {
                sqlx::migrate!("../migrations/postgres/session_users")
            }
            (Self::Mfa, Sqlite) => sqlx::migrate!("../migrations/sqlite/mfa"),
            (Self::Mfa, Postgres) => sqlx::migrate!("../migrations/postgres/mfa"),
            (Self::Trading, Sqlite) => sqlx::migrate!("../migrations/sqlite/trading"),
            (Self::Trading, Postgres) => sqlx::migrate!("../migrations/postgres/trading"),
            (Self::SecurityEvents, Sqlite) => {
                sqlx::migrate!("../migrations/sqlite/security_events")
            }
            (Self::SecurityEvents, Postgres) => {
                sqlx::migrate!("../migrations/postgres/security_events")
            }
            (Self::Passkeys, Sqlite) => sqlx::migrate!("../migrations/sqlite/passkeys"),
            (Self::Passkeys, Postgres) => sqlx::migrate!("../migrations/postgres/passkeys"),
        };
        migrator
            .set_ignore_missing(true)
            .dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator
    }

    /// `sets` with what they require, each once, in application order.
    fn closure(sets: &[Self]) -> Vec<Self> {
        let mut wanted: Vec<Self> = Vec::new();
        let mut pending: Vec<Self> = sets.to_vec();
        while let Some(set) = pending.pop() {
            if !wanted.contains(&set) {
                wanted.push(set);
                pending.extend_from_slice(set.requires());
            }
        }
        Self::ALL
            .iter()
            .copied()
            .filter(|set| wanted.contains(set))
            .collect()
    }
}

/// What each migration of the schema before the split created, as the last
/// migration of each set that it covers.
const LEGACY_COVERS: &[(i64, &[(MigrationSet, i64)])] = &[
    (
        1,
        &[
            (MigrationSet::Sessions, 1001),
            (MigrationSet::Users, 2001),
            // Its inline `REFERENCES users` is the same constraint.
            (MigrationSet::SessionUsers, 5001),
            (MigrationSet::Mfa, 3001),
            (MigrationSet::Trading, 4001),
        ],
    ),
    (20, &[(MigrationSet::Mfa, 3002)]),
];

fn legacy_migrator(backend: Backend) -> Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("../migrations/legacy/sqlite"),
        Backend::Postgres => sqlx::migrate!("../migrations/legacy/postgres"),
    }
}

fn migrate_error(err: MigrateError) -> StoreError {
    StoreError::Database(err.into())
}

impl SqlStore {
    /// Applies the embedded migrations of `sets` and of the sets they
    /// [require](MigrationSet::requires), in order. Idempotent.
    ///
    /// ```
    /// use tradesense_core::store::{Db, MigrationSet, SqlStore};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    /// let store = SqlStore::from_db(Db::Sqlite(pool));
    /// // Sessions for an application with its own users table.
    /// store.migrate_sets(&[MigrationSet::Sessions]).await.unwrap();
    /// # }
    /// ```
    pub async fn migrate_sets(&self, sets: &[MigrationSet]) -> Result<(), StoreError> {
        for set in MigrationSet::closure(sets) {
            let migrator = set.migrator(self.backend());
            crate::with_pool!(self.db(), |pool| migrator.run(pool).await).map_err(migrate_error)?;
        }
        Ok(())
    }

    /// Brings TradeSense's whole schema up to date: every
    /// [`MigrationSet`], after adopting a database created before the
    /// split (see [`migrations`](crate::store::migrations)).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.adopt_legacy_schema().await?;
        self.migrate_sets(MigrationSet::ALL).await
    }

    /// Marks as applied the sets' migrations that the legacy migrations
    /// recorded in `_sqlx_migrations` already ran. Only versions whose
    /// checksum is the legacy file's count: anything else is not our old
    /// schema, and the sets' own migrations then fail loudly on the tables
    /// that exist rather than skip silently.
    async fn adopt_legacy_schema(&self) -> Result<(), StoreError> {
        let backend = self.backend();
        let exists_sql = match backend {
            Backend::Sqlite => {
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)"
            }
            Backend::Postgres => {
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1)"
            }
        };
        let applied: Vec<(i64, Vec<u8>)> = crate::with_pool!(self.db(), |pool| {
            let (exists,): (bool,) = sqlx::query_as(exists_sql)
                .bind(LEGACY_TABLE)
                .fetch_one(pool)
                .await?;
            if !exists {
                return Ok(());
            }
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT version, checksum FROM {LEGACY_TABLE} WHERE success"
            )))
            .fetch_all(pool)
            .await?
        });
        let legacy = legacy_migrator(backend);
        for (version, covers) in LEGACY_COVERS {
            let ran = legacy.iter().any(|migration| {
                migration.version == *version
                    && applied.iter().any(|(v, checksum)| {
                        v == version && checksum.as_slice() == &*migration.checksum
                    })
            });
            if !ran {
                continue;
            }
            for (set, through) in *covers {
                let migrator = set.migrator(backend);
                crate::with_pool!(self.db(), |pool| migrator.skip(pool, Some(*through)).await)
                    .map_err(migrate_error)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "migrations_tests.rs"]
mod tests;
