//! The migration sets on every configured backend: what each set creates,
//! the foreign key TradeSense adds between two of them, and the adoption of
//! databases created before the split.

use super::*;
use crate::store::testing::{TestDatabase, insert_bare_user};
use crate::store::to_micros;
use crate::with_pool;
use chrono::Utc;
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType};
use std::collections::BTreeSet;
use uuid::Uuid;

async fn tables(store: &SqlStore) -> BTreeSet<String> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
    };
    let rows: Vec<(String,)> = with_pool!(store.db(), |pool| {
        sqlx::query_as(sql).fetch_all(pool).await.unwrap()
    });
    rows.into_iter().map(|(name,)| name).collect()
}

fn set_of(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

async fn recorded(store: &SqlStore) -> Vec<i64> {
    with_pool!(store.db(), |pool| {
        sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
            "SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version"
        )))
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(version,)| version)
        .collect()
    })
}

fn all_versions() -> Vec<i64> {
    let mut versions: Vec<i64> = MigrationSet::ALL
        .iter()
        .flat_map(|set| {
            let versions: Vec<i64> = set
                .migrator(Backend::Sqlite)
                .iter()
                .map(|m| m.version)
                .collect();
            versions
        })
        .collect();
    versions.sort();
    versions
}

#[test]
fn sets_have_disjoint_versions_and_the_same_files_on_both_backends() {
    for (n, set) in [
        (1, MigrationSet::Sessions),
        (2, MigrationSet::Users),
        (3, MigrationSet::Mfa),
        (8, MigrationSet::MfaUsers),
        (4, MigrationSet::Trading),
        (5, MigrationSet::SessionUsers),
        (6, MigrationSet::SecurityEvents),
        (7, MigrationSet::Passkeys),
    ] {
        let sqlite: Vec<(i64, String)> = set
            .migrator(Backend::Sqlite)
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        let postgres: Vec<(i64, String)> = set
            .migrator(Backend::Postgres)
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        assert!(!sqlite.is_empty(), "{set:?}");
        assert_eq!(sqlite, postgres, "{set:?}");
        for (version, _) in &sqlite {
            assert_eq!(
                version / 1000,
                n,
                "{set:?} numbers its migrations {n}001..."
            );
        }
    }
    assert_eq!(MigrationSet::ALL.len(), 8);
}

#[test]
fn requirements_are_applied_first() {
    assert_eq!(
        MigrationSet::closure(&[MigrationSet::Trading, MigrationSet::Sessions]),
        vec![
            MigrationSet::Sessions,
            MigrationSet::Users,
            MigrationSet::Trading
        ]
    );
    assert_eq!(
        MigrationSet::closure(&[MigrationSet::SessionUsers]),
        vec![
            MigrationSet::Sessions,
            MigrationSet::Users,
            MigrationSet::SessionUsers
        ]
    );
    // MFA stands alone; moving TradeSense's MFA state out of `users`
    // needs both, the mfa set first.
    assert_eq!(
        MigrationSet::closure(&[MigrationSet::Mfa]),
        vec![MigrationSet::Mfa]
    );
    assert_eq!(
        MigrationSet::closure(&[MigrationSet::MfaUsers]),
        vec![
            MigrationSet::Users,
            MigrationSet::Mfa,
            MigrationSet::MfaUsers
        ]
    );
    assert_eq!(MigrationSet::closure(MigrationSet::ALL), MigrationSet::ALL);
}

#[tokio::test]
async fn each_set_creates_its_tables_only() {
    let sessions = set_of(&["sessions", MIGRATIONS_TABLE]);
    let mfa = set_of(&[
        "mfa_factors",
        "mfa_recovery_codes",
        "mfa_token_uses",
        "mfa_failure_windows",
        MIGRATIONS_TABLE,
    ]);
    for db in TestDatabase::all_with_sets(&[]).await {
        assert_eq!(tables(&db.store).await, BTreeSet::new());
    }
    for db in TestDatabase::all_with_sets(&[MigrationSet::Sessions]).await {
        assert_eq!(tables(&db.store).await, sessions, "{db:?}");
        assert_eq!(recorded(&db.store).await, vec![1001]);
    }
    for db in TestDatabase::all_with_sets(&[MigrationSet::Mfa]).await {
        assert_eq!(tables(&db.store).await, mfa, "{db:?}");
        // 3001 and 3002 (beside `users`) recorded, not run.
        assert_eq!(recorded(&db.store).await, vec![3001, 3002, 3003]);
        // Again: a no-op.
        db.store.migrate_sets(&[MigrationSet::Mfa]).await.unwrap();
        assert_eq!(tables(&db.store).await, mfa, "{db:?}");
    }
    // Passkeys beside an embedder's own users table: sessions and passkeys.
    let passkeys = set_of(&[
        "sessions",
        "passkeys",
        "passkey_challenges",
        MIGRATIONS_TABLE,
    ]);
    for db in TestDatabase::all_with_sets(&[MigrationSet::Sessions, MigrationSet::Passkeys]).await {
        assert_eq!(tables(&db.store).await, passkeys, "{db:?}");
    }
    for db in TestDatabase::all().await {
        let all = tables(&db.store).await;
        for table in ["sessions", "users", "portfolios", "trades", "positions"] {
            assert!(all.contains(table), "{table} in {db:?}");
        }
        assert!(mfa.is_subset(&all), "{db:?}");
        // The MFA tables of before 8001 are gone.
        for table in ["recovery_codes", "mfa_used_tokens", "mfa_failures"] {
            assert!(!all.contains(table), "{table} in {db:?}");
        }
        // Nothing in sqlx's default table: an embedder's own migrations
        // never see ours.
        assert!(!all.contains(LEGACY_TABLE), "{db:?}");
        assert_eq!(recorded(&db.store).await, all_versions());
    }
}

async fn insert_session(store: &SqlStore, user_id: Uuid) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let now = to_micros(Utc::now());
    with_pool!(store.db(), |pool| {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, 'h', $3, $3, $3)",
        )
        .bind(id)
        .bind(user_id)
        .bind(now)
        .execute(pool)
        .await?;
    });
    Ok(id)
}

async fn session_count(store: &SqlStore, user_id: Uuid) -> i64 {
    with_pool!(store.db(), |pool| {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(pool)
            .await
            .unwrap()
            .0
    })
}

/// What TradeSense's schema enforces on `sessions.user_id`, the same on both
/// backends (and on databases adopted from before the split).
async fn assert_sessions_belong_to_users(store: &SqlStore) {
    let backend = store.backend();
    assert!(
        insert_session(store, Uuid::now_v7()).await.is_err(),
        "{backend:?}: a session of no user"
    );
    let user = insert_bare_user(store).await;
    let session = insert_session(store, user).await.unwrap();
    let moved = with_pool!(store.db(), |pool| {
        sqlx::query("UPDATE sessions SET user_id = $2 WHERE id = $1")
            .bind(session)
            .bind(Uuid::now_v7())
            .execute(pool)
            .await
            .map(|_| ())
    });
    assert!(moved.is_err(), "{backend:?}: moved to no user");
    let renumbered = with_pool!(store.db(), |pool| {
        sqlx::query("UPDATE users SET id = $2 WHERE id = $1")
            .bind(user)
            .bind(Uuid::now_v7())
            .execute(pool)
            .await
            .map(|_| ())
    });
    assert!(
        renumbered.is_err(),
        "{backend:?}: a referenced user id changed"
    );
    assert_eq!(session_count(store, user).await, 1);
    with_pool!(store.db(), |pool| {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user)
            .execute(pool)
            .await
            .unwrap();
    });
    assert_eq!(
        session_count(store, user).await,
        0,
        "{backend:?}: sessions go with their user"
    );
}

#[tokio::test]
async fn tradesense_ties_sessions_to_its_users() {
    for db in TestDatabase::all().await {
        assert_sessions_belong_to_users(&db.store).await;
    }
}

#[tokio::test]
async fn sessions_alone_take_any_user_id() {
    for db in TestDatabase::all_with_sets(&[MigrationSet::Sessions]).await {
        let user = Uuid::now_v7();
        insert_session(&db.store, user).await.unwrap();
        assert_eq!(session_count(&db.store, user).await, 1);
    }
}

/// Runs the frozen pre-split migrations, up to `through`, the way the
/// server did before the split (sqlx's default table).
async fn legacy_schema(store: &SqlStore, through: i64) {
    let legacy = legacy_migrator(store.backend());
    with_pool!(store.db(), |pool| legacy
        .run_to(through, pool)
        .await
        .unwrap());
}

#[tokio::test]
async fn databases_from_before_the_split_are_adopted() {
    for db in TestDatabase::all_with_sets(&[]).await {
        let store = &db.store;
        legacy_schema(store, 20).await;
        let user = insert_bare_user(store).await;
        insert_session(store, user).await.unwrap();

        store.migrate().await.unwrap();
        assert_eq!(recorded(store).await, all_versions(), "{db:?}");
        assert_eq!(session_count(store, user).await, 1, "rows survive");
        // Again: a no-op.
        store.migrate().await.unwrap();
        assert_eq!(recorded(store).await, all_versions());
        assert_sessions_belong_to_users(store).await;
    }
}

#[tokio::test]
async fn a_database_from_before_the_mfa_guards_gets_them() {
    for db in TestDatabase::all_with_sets(&[]).await {
        let store = &db.store;
        legacy_schema(store, 1).await;
        assert!(!tables(store).await.contains("mfa_failures"));
        // 3002 creates them, and 8001 (which reads `mfa_failures` and
        // `mfa_used_tokens`, so fails without them) moves them.
        store.migrate().await.unwrap();
        let all = tables(store).await;
        assert!(all.contains("mfa_failure_windows"), "{db:?}");
        assert!(all.contains("mfa_token_uses"), "{db:?}");
        assert_eq!(recorded(store).await, all_versions());
    }
}

#[tokio::test]
async fn another_applications_first_migration_is_not_mistaken_for_ours() {
    for db in TestDatabase::all_with_sets(&[]).await {
        let store = &db.store;
        // An embedder's own `0001_initial.sql`, in sqlx's default table.
        let theirs = Migrator::with_migrations(vec![Migration::new(
            1,
            "initial".into(),
            MigrationType::Simple,
            "CREATE TABLE widgets (id INTEGER PRIMARY KEY)".into_sql_str(),
            false,
        )]);
        with_pool!(store.db(), |pool| theirs.run(pool).await.unwrap());

        store.migrate().await.unwrap();
        let all = tables(store).await;
        assert!(all.contains("widgets") && all.contains("trades"), "{all:?}");
        assert_eq!(recorded(store).await, all_versions());
        // Their migrator still runs beside ours.
        with_pool!(store.db(), |pool| theirs.run(pool).await.unwrap());
    }
}
