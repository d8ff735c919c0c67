//! The embedding application's own storage, shared by the two
//! `embed_auth_*` examples: its `accounts` table behind TradeSense's
//! [`UserStore`], its `logins` table behind [`SessionStore`], and its
//! `notes`. Plain sqlx on an in-memory SQLite database, created by the
//! application's own `CREATE TABLE`s: none of TradeSense's migrations, tables
//! or column names.
//!
//! The shapes differ from TradeSense's on purpose (ids are hyphenated text,
//! the name column is `display_name`, sessions are `logins` that `end`):
//! the traits are the only contract.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;
use tradesense_core::auth::{NewSession, SessionRecord, SessionStore};
use tradesense_core::store::StoreError;
use tradesense_core::users::{Email, NewUser, User, UserCredentials, UserStore};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

/// The application's schema. `COLLATE NOCASE` keeps emails unique however
/// they are cased (TradeSense's [`Email`] lower-cases them anyway).
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS accounts (
        account_id   TEXT PRIMARY KEY,
        email        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL,
        password_phc TEXT NOT NULL,
        joined_at    TEXT NOT NULL,
        time_zone    TEXT NOT NULL DEFAULT 'UTC'
    )",
    "CREATE TABLE IF NOT EXISTS logins (
        login_id     TEXT PRIMARY KEY,
        account_id   TEXT NOT NULL REFERENCES accounts (account_id),
        token_sha256 TEXT NOT NULL,
        user_agent   TEXT,
        ip           TEXT,
        started_at   TEXT NOT NULL,
        seen_at      TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        ended_at     TEXT
    )",
    "CREATE INDEX IF NOT EXISTS logins_by_account ON logins (account_id)",
    "CREATE TABLE IF NOT EXISTS notes (
        note_id    INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL REFERENCES accounts (account_id),
        text       TEXT NOT NULL
    )",
];

/// The application's database. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Accounts {
    pool: SqlitePool,
}

impl Accounts {
    /// A fresh in-memory database with the application's tables.
    pub async fn in_memory() -> Result<Self, sqlx::Error> {
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
        Ok(Self { pool })
    }

    /// Stores a note of `owner`.
    pub async fn add_note(&self, owner: Uuid, text: &str) -> Result<Note, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO notes (account_id, text) VALUES (?1, ?2) RETURNING note_id",
        )
        .bind(owner.hyphenated())
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
    pub async fn note(&self, owner: Uuid, id: i64) -> Result<Option<Note>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT note_id AS id, text FROM notes WHERE note_id = ?1 AND account_id = ?2",
        )
        .bind(id)
        .bind(owner.hyphenated())
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// A note, as the application's API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct Note {
    /// The note id.
    pub id: i64,
    /// What it says.
    pub text: String,
}

/// A row of `accounts`.
#[derive(sqlx::FromRow)]
struct AccountRow {
    account_id: Hyphenated,
    email: String,
    display_name: String,
    password_phc: String,
    joined_at: DateTime<Utc>,
    time_zone: String,
}

impl AccountRow {
    /// The row as TradeSense's auth endpoints see it. This application has
    /// no second factor, so `mfa_enabled` is always `false` (the login
    /// endpoint then never asks for one).
    fn into_credentials(self) -> UserCredentials {
        UserCredentials {
            user: User {
                id: self.account_id.into_uuid(),
                email: self.email,
                full_name: self.display_name,
                mfa_enabled: false,
                timezone: self.time_zone,
                created_at: self.joined_at,
            },
            password_hash: self.password_phc,
        }
    }
}

// Macros, not consts: sqlx takes only literal SQL (`concat!` of literals),
// so no query text is ever built from input.
macro_rules! account_columns {
    () => {
        "account_id, email, display_name, password_phc, joined_at, time_zone"
    };
}

#[async_trait]
impl UserStore for Accounts {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let user = User {
            id: Uuid::now_v7(),
            email: new.email.as_str().to_owned(),
            full_name: new.full_name,
            mfa_enabled: false,
            timezone: "UTC".to_owned(),
            created_at: Utc::now(),
        };
        // A taken email violates the UNIQUE constraint, which sqlx reports
        // and `StoreError::from` turns into `Conflict` (the endpoint's 409).
        sqlx::query(
            "INSERT INTO accounts (account_id, email, display_name, password_phc, joined_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(user.id.hyphenated())
        .bind(&user.email)
        .bind(&user.full_name)
        .bind(&new.password_hash)
        .bind(user.created_at)
        .execute(&self.pool)
        .await?;
        Ok(user)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        Ok(self.credentials_by_id(id).await?.map(|c| c.user))
    }

    async fn credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE email = ?1"
        );
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(AccountRow::into_credentials))
    }

    async fn credentials_by_id(&self, id: Uuid) -> Result<Option<UserCredentials>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE account_id = ?1"
        );
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(id.hyphenated())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(AccountRow::into_credentials))
    }

    async fn update_full_name(&self, id: Uuid, full_name: &str) -> Result<User, StoreError> {
        let sql = concat!(
            "UPDATE accounts SET display_name = ?2 WHERE account_id = ?1 RETURNING ",
            account_columns!()
        );
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(id.hyphenated())
            .bind(full_name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.into_credentials().user)
            .ok_or(StoreError::NotFound)
    }

    async fn update_timezone(&self, id: Uuid, timezone: &str) -> Result<User, StoreError> {
        let sql = concat!(
            "UPDATE accounts SET time_zone = ?2 WHERE account_id = ?1 RETURNING ",
            account_columns!()
        );
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(id.hyphenated())
            .bind(timezone)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.into_credentials().user)
            .ok_or(StoreError::NotFound)
    }

    async fn update_password_hash(&self, id: Uuid, password_hash: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE accounts SET password_phc = ?2 WHERE account_id = ?1")
            .bind(id.hyphenated())
            .bind(password_hash)
            .execute(&self.pool)
            .await?;
        match done.rows_affected() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

/// A row of `logins`.
#[derive(sqlx::FromRow)]
struct LoginRow {
    login_id: Hyphenated,
    account_id: Hyphenated,
    user_agent: Option<String>,
    ip: Option<String>,
    started_at: DateTime<Utc>,
    seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
}

impl From<LoginRow> for SessionRecord {
    fn from(row: LoginRow) -> Self {
        SessionRecord {
            id: row.login_id.into_uuid(),
            user_id: row.account_id.into_uuid(),
            user_agent: row.user_agent,
            ip: row.ip,
            created_at: row.started_at,
            last_seen_at: row.seen_at,
            expires_at: row.expires_at,
            revoked_at: row.ended_at,
        }
    }
}

macro_rules! login_columns {
    () => {
        "login_id, account_id, user_agent, ip, started_at, seen_at, expires_at, ended_at"
    };
}

#[async_trait]
impl SessionStore for Accounts {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        // The record every store keeps for this login (timestamps to the
        // microsecond, so it reads back equal).
        let record = new.record_at(Utc::now());
        sqlx::query(
            "INSERT INTO logins \
             (login_id, account_id, token_sha256, user_agent, ip, started_at, seen_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
        )
        .bind(record.id.hyphenated())
        .bind(record.user_id.hyphenated())
        .bind(&new.token_hash)
        .bind(&record.user_agent)
        .bind(&record.ip)
        .bind(record.created_at)
        .bind(record.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(record)
    }

    async fn session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            login_columns!(),
            " FROM logins WHERE login_id = ?1"
        );
        let row: Option<LoginRow> = sqlx::query_as(sql)
            .bind(id.hyphenated())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(SessionRecord::from))
    }

    async fn touch_session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let sql = concat!(
            "UPDATE logins SET seen_at = ?2 WHERE login_id = ?1 RETURNING ",
            login_columns!()
        );
        let row: Option<LoginRow> = sqlx::query_as(sql)
            .bind(id.hyphenated())
            .bind(Utc::now())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(SessionRecord::from))
    }

    async fn live_sessions(&self, user_id: Uuid) -> Result<Vec<SessionRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            login_columns!(),
            " FROM logins WHERE account_id = ?1 AND ended_at IS NULL ORDER BY started_at, login_id"
        );
        let rows: Vec<LoginRow> = sqlx::query_as(sql)
            .bind(user_id.hyphenated())
            .fetch_all(&self.pool)
            .await?;
        // Expiry is judged in Rust: SQLite keeps the times as text.
        let now = Utc::now();
        Ok(rows
            .into_iter()
            .map(SessionRecord::from)
            .filter(|session| session.is_live(now))
            .collect())
    }

    async fn revoke_session(&self, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE logins SET ended_at = ?3 \
             WHERE login_id = ?1 AND account_id = ?2 AND ended_at IS NULL",
        )
        .bind(id.hyphenated())
        .bind(user_id.hyphenated())
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_other_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let ended: Vec<(Hyphenated,)> = sqlx::query_as(
            "UPDATE logins SET ended_at = ?3 \
             WHERE account_id = ?1 AND login_id IS NOT ?2 AND ended_at IS NULL \
             RETURNING login_id",
        )
        .bind(user_id.hyphenated())
        .bind(keep.map(|id| id.hyphenated()))
        .bind(Utc::now())
        .fetch_all(&self.pool)
        .await?;
        Ok(ended.into_iter().map(|(id,)| id.into_uuid()).collect())
    }
}
