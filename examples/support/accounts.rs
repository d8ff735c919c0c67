//! The embedding application's own storage, shared by the `embed_*`
//! examples: its `accounts` table (keyed by an integer, with no display
//! name and no time zone) and its `notes`, created by its own `CREATE
//! TABLE`s; and, in the same SQLite database, the tables core provides for
//! everything else (sessions, MFA, passkeys, security events: their
//! migration sets, applied alone).
//!
//! What it had to write for core: `UserStore` (find by login, find by id,
//! set the password hash), `Registration` (create) and `LoadUser` (its own
//! record for `CurrentUser`): the block between the two `----` rules below,
//! under 80 lines. Core names each account by a UUID *handle* kept beside
//! the integer key (`accounts.handle`): tokens, sessions, MFA and passkeys
//! use it, the application keeps its primary key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;
use tradesense_core::auth::{NewAccount, NoExtraFields, Registration};
use tradesense_core::store::{Db, MigrationSet, SqlStore, StoreError};
use tradesense_core::users::{Credentials, Email, LoadUser, UserStore};
use uuid::Uuid;

/// The application's schema. `COLLATE NOCASE` keeps emails unique however
/// they are cased (core's [`Email`] lower-cases them anyway).
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS accounts (
        account_id   INTEGER PRIMARY KEY AUTOINCREMENT,
        handle       BLOB NOT NULL UNIQUE,
        email        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_phc TEXT NOT NULL,
        joined_at    TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS notes (
        note_id    INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id INTEGER NOT NULL REFERENCES accounts (account_id),
        text       TEXT NOT NULL
    )",
];

/// The tables core provides, each set standing alone (no `users` table).
const CORE_SETS: &[MigrationSet] = &[
    MigrationSet::Sessions,
    MigrationSet::Mfa,
    MigrationSet::Passkeys,
    MigrationSet::SecurityEvents,
];

/// The application's database. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Accounts {
    pool: SqlitePool,
}

/// An account, as the application's own code (and `/identity/me`) sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Account {
    /// The application's key.
    pub account_id: i64,
    /// The UUID core names the account by.
    pub handle: Uuid,
    /// The login.
    pub email: String,
    /// When it signed up.
    pub joined_at: DateTime<Utc>,
}

impl Accounts {
    /// A fresh in-memory database with the application's tables and
    /// core's.
    pub async fn in_memory() -> Result<Self, StoreError> {
        // An in-memory SQLite database lives as long as its connection:
        // exactly one, never closed for idleness or age.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await?;
        for &statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        let accounts = Self { pool };
        accounts.core_store().migrate_sets(CORE_SETS).await?;
        Ok(accounts)
    }

    /// Core's provided SQL stores (sessions, MFA, passkeys, security
    /// events) on the same database.
    pub fn core_store(&self) -> SqlStore {
        SqlStore::from_db(Db::Sqlite(self.pool.clone()))
    }

    /// Stores a note of account `owner`.
    pub async fn add_note(&self, owner: i64, text: &str) -> Result<Note, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO notes (account_id, text) VALUES (?1, ?2) RETURNING note_id",
        )
        .bind(owner)
        .bind(text)
        .fetch_one(&self.pool)
        .await?;
        Ok(Note {
            id,
            text: text.to_owned(),
        })
    }

    /// The note `id` if `owner` wrote it: someone else's note is as absent
    /// as a missing one.
    pub async fn note(&self, owner: i64, id: i64) -> Result<Option<Note>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT note_id AS id, text FROM notes WHERE note_id = ?1 AND account_id = ?2",
        )
        .bind(id)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// A note, as the application's API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Note {
    /// The note id.
    pub id: i64,
    /// What it says.
    pub text: String,
}

// ---- What the application writes for core: its accounts, nothing else.

#[async_trait]
impl UserStore for Accounts {
    async fn credentials_by_email(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        let sql = "SELECT handle AS id, email, password_phc AS password_hash \
                   FROM accounts WHERE email = ?1";
        let row = sqlx::query_as(sql).bind(email.as_str());
        Ok(row.fetch_optional(&self.pool).await?)
    }

    async fn credentials_by_id(&self, id: Uuid) -> Result<Option<Credentials>, StoreError> {
        let sql = "SELECT handle AS id, email, password_phc AS password_hash \
                   FROM accounts WHERE handle = ?1";
        let row = sqlx::query_as(sql).bind(id);
        Ok(row.fetch_optional(&self.pool).await?)
    }

    async fn update_password_hash(&self, id: Uuid, password_hash: &str) -> Result<(), StoreError> {
        let sql = "UPDATE accounts SET password_phc = ?2 WHERE handle = ?1";
        let done = sqlx::query(sql).bind(id).bind(password_hash);
        match done.execute(&self.pool).await?.rows_affected() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Registration for Accounts {
    type Extra = NoExtraFields;
    type Created = Account;

    async fn create_account(
        &self,
        new: NewAccount,
        _: NoExtraFields,
    ) -> Result<Account, StoreError> {
        // A taken email fails the UNIQUE index: core answers `409`.
        let sql = "INSERT INTO accounts (handle, email, password_phc, joined_at) \
                   VALUES (?1, ?2, ?3, ?4) RETURNING account_id, handle, email, joined_at";
        let insert = sqlx::query_as(sql)
            .bind(new.id)
            .bind(new.email.as_str())
            .bind(&new.password_hash)
            .bind(Utc::now());
        Ok(insert.fetch_one(&self.pool).await?)
    }
}

#[async_trait]
impl LoadUser for Accounts {
    type User = Account;

    async fn load_user(&self, id: Uuid) -> Result<Option<Account>, StoreError> {
        let sql = "SELECT account_id, handle, email, joined_at FROM accounts WHERE handle = ?1";
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}

// ----
