//! The embedded migrations, in sets an application takes what it needs of.
//!
//! | set | tables | needs |
//! |---|---|---|
//! | [`Sessions`](MigrationSet::Sessions) | `sessions` (its `user_id` references nothing) | - |
//! | [`Users`](MigrationSet::Users) | `users` | - |
//! | [`SessionUsers`](MigrationSet::SessionUsers) | ties `sessions.user_id` to `users` | Sessions, Users |
//! | [`Mfa`](MigrationSet::Mfa) | `mfa_factors`, `mfa_recovery_codes`, `mfa_token_uses`, `mfa_failure_windows` (their `user_id` references nothing) | - |
//! | [`MfaUsers`](MigrationSet::MfaUsers) | moves TradeSense's MFA state out of `users` into the `mfa_` tables; a user's MFA rows go with it | Users, Mfa |
//! | [`Trading`](MigrationSet::Trading) | `portfolios`, `trades`, `positions`, the journal's `trade_tags`, `round_trips`, `round_trip_tags`, `imports`, `import_keys` | Users |
//! | [`SecurityEvents`](MigrationSet::SecurityEvents) | `security_events` (its `user_id` references nothing) | - |
//! | [`Passkeys`](MigrationSet::Passkeys) | `passkeys`, `passkey_challenges` (their `user_id` references nothing) | - |
//!
//! An embedder with its own users table runs [`MigrationSet::Sessions`]
//! alone and gets the sessions table, nothing else (and
//! [`MigrationSet::Passkeys`] and [`MigrationSet::Mfa`] beside it for
//! passkeys and MFA: the SQL `MfaStore` then works on its user ids).
//! TradeSense runs them all ([`SqlStore::migrate`]).
//!
//! Each set's tables have names of their own: an embedder's tables must
//! not take `sessions`, `passkeys`, `passkey_challenges`,
//! `security_events`, anything starting `mfa_`, or [`MIGRATIONS_TABLE`].
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
    /// MFA state (the `mfa_` tables), standing alone: it requires no set.
    ///
    /// Its first two migrations (3001, 3002) predate that and reference
    /// TradeSense's `users`; 3003 creates the standalone tables. So
    /// [`SqlStore::migrate_sets`] applies it by this rule: when
    /// [`Users`](Self::Users) is not among the sets being applied and the
    /// set has recorded none of its versions yet (a new embedder's
    /// database), 3001 and 3002 are recorded as applied without being run,
    /// and only the rest runs. Otherwise (TradeSense, or a database that
    /// already has them) every migration runs in order, and
    /// [`MfaUsers`](Self::MfaUsers) then moves the old tables' rows out.
    Mfa,
    /// TradeSense's MFA state moved out of `users` (its columns and the
    /// tables of 3001, 3002) into the [`Mfa`](Self::Mfa) set's standalone
    /// tables (8001), and a deleted user's MFA rows deleted with it (8002,
    /// as the old foreign keys cascaded). Only for a database whose MFA set
    /// ran beside `users`.
    MfaUsers,
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
        Self::MfaUsers,
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
            Self::MfaUsers => "mfa_users",
            Self::Trading => "trading",
            Self::SecurityEvents => "security_events",
            Self::Passkeys => "passkeys",
        }
    }

    /// The sets whose tables this one references (applied with it by
    /// [`SqlStore::migrate_sets`]).
    pub fn requires(self) -> &'static [Self] {
        match self {
            Self::Sessions | Self::Users | Self::Mfa | Self::SecurityEvents | Self::Passkeys => &[],
            Self::SessionUsers => &[Self::Sessions, Self::Users],
            Self::MfaUsers => &[Self::Users, Self::Mfa],
            Self::Trading => &[Self::Users],
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
            (Self::MfaUsers, Sqlite) => sqlx::migrate!("../migrations/sqlite/mfa_users"),
            (Self::MfaUsers, Postgres) => sqlx::migrate!("../migrations/postgres/mfa_users"),
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

/// The last migration of the [`Mfa`](MigrationSet::Mfa) set that references
/// TradeSense's `users` (see the set's rule).
const MFA_BESIDE_USERS_THROUGH: i64 = 3002;

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
    ///
    /// The [`Mfa`](MigrationSet::Mfa) set without [`Users`](MigrationSet::Users)
    /// skips its migrations that reference `users` (see the set).
    pub async fn migrate_sets(&self, sets: &[MigrationSet]) -> Result<(), StoreError> {
        let sets = MigrationSet::closure(sets);
        for &set in &sets {
            let migrator = set.migrator(self.backend());
            if set == MigrationSet::Mfa
                && !sets.contains(&MigrationSet::Users)
                && !self.recorded_any_of(&migrator).await?
            {
                crate::with_pool!(self.db(), |pool| {
                    migrator.skip(pool, Some(MFA_BESIDE_USERS_THROUGH)).await
                })
                .map_err(migrate_error)?;
            }
            crate::with_pool!(self.db(), |pool| migrator.run(pool).await).map_err(migrate_error)?;
        }
        Ok(())
    }

    /// Whether [`MIGRATIONS_TABLE`] records any of `migrator`'s versions.
    async fn recorded_any_of(&self, migrator: &Migrator) -> Result<bool, StoreError> {
        if !self.table_exists(MIGRATIONS_TABLE).await? {
            return Ok(false);
        }
        let recorded: Vec<(i64,)> = crate::with_pool!(self.db(), |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT version FROM {MIGRATIONS_TABLE}"
            )))
            .fetch_all(pool)
            .await?
        });
        Ok(recorded
            .iter()
            .any(|(version,)| migrator.version_exists(*version)))
    }

    /// Whether the table `name` exists (in the current schema on PostgreSQL).
    pub(crate) async fn table_exists(&self, name: &str) -> Result<bool, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)"
            }
            Backend::Postgres => {
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1)"
            }
        };
        let (exists,): (bool,) = crate::with_pool!(self.db(), |pool| {
            sqlx::query_as(sql).bind(name).fetch_one(pool).await?
        });
        Ok(exists)
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
        if !self.table_exists(LEGACY_TABLE).await? {
            return Ok(());
        }
        let applied: Vec<(i64, Vec<u8>)> = crate::with_pool!(self.db(), |pool| {
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
