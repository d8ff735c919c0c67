//! The MFA set's two lives, on every configured backend: applied alone
//! beside an embedder's own accounts table (no `users` anywhere), and
//! TradeSense's existing enrolments moved out of `users` by 8001.
use super::recovery::RecoveryCode;
use super::service::LoginChallenge;
use super::totp::{TotpSecret, step_of};
use super::{FailureWindow, MfaError, MfaService, MfaState, MfaStore, PendingSecret, SecretCipher};
use crate::store::testing::TestDatabase;
use crate::store::{Backend, MigrationSet, SqlStore, to_micros};
use crate::with_pool;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use std::sync::Arc;
use uuid::Uuid;

const T0: i64 = 1_800_000_000;

fn at(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap()
}

fn cipher() -> SecretCipher {
    SecretCipher::from_secret_key(&SecretString::from("k".repeat(32)))
}

/// The code of `secret` (base32, as an authenticator app has it) at `unix`.
fn code_of(base32: &str, unix: i64) -> String {
    TotpSecret::from_base32(base32)
        .unwrap()
        .code_at(unix as u64)
}

/// An MFA-pending token issued at `unix`.
fn challenge(unix: i64) -> LoginChallenge {
    LoginChallenge {
        token_id: Uuid::now_v7(),
        expires_at: unix + 300,
        issued_at_ms: unix * 1000,
    }
}

async fn execute(store: &SqlStore, sql: &str) {
    with_pool!(store.db(), |pool| {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap();
    });
}

#[tokio::test]
async fn the_mfa_set_applies_alone_beside_an_embedders_accounts() {
    for db in TestDatabase::all_with_sets(&[]).await {
        let store = &db.store;
        let uuid_type = match store.backend() {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "UUID",
        };
        execute(
            store,
            &format!(
                "CREATE TABLE accounts (id INTEGER PRIMARY KEY, \
                 handle {uuid_type} UNIQUE NOT NULL, email TEXT NOT NULL)"
            ),
        )
        .await;
        let handle = Uuid::now_v7();
        with_pool!(store.db(), |pool| {
            sqlx::query(
                "INSERT INTO accounts (id, handle, email) VALUES (1, $1, 'carol@example.com')",
            )
            .bind(handle)
            .execute(pool)
            .await
            .unwrap();
        });

        store.migrate_sets(&[MigrationSet::Mfa]).await.unwrap();
        assert!(!store.table_exists("users").await.unwrap(), "{db:?}");

        let mfa = MfaService::new(Arc::new(store.clone()), cipher())
            .with_issuer("Acme Books")
            .unwrap();
        let shown = mfa
            .setup(handle, "carol@example.com", at(T0))
            .await
            .unwrap();
        assert!(
            shown
                .uri
                .starts_with("otpauth://totp/Acme%20Books:carol%40example.com?secret="),
            "{db:?}"
        );
        assert!(shown.uri.ends_with("&issuer=Acme%20Books"));
        let codes = mfa
            .verify(handle, &code_of(&shown.secret, T0), at(T0))
            .await
            .unwrap();
        assert!(mfa.is_enabled(handle).await.unwrap());

        // The second factor of a login: a TOTP code, then a recovery code.
        let now = T0 + 60;
        mfa.complete_login(
            handle,
            challenge(now),
            &code_of(&shown.secret, now),
            at(now),
        )
        .await
        .unwrap();
        let recovery = codes[0].to_string();
        mfa.complete_login(handle, challenge(now), &recovery, at(now))
            .await
            .unwrap();
        let again = mfa
            .complete_login(handle, challenge(now), &recovery, at(now))
            .await;
        assert!(matches!(again, Err(MfaError::InvalidCode)), "{again:?}");

        // Keyed by the embedder's own id.
        let (email,): (String,) = with_pool!(store.db(), |pool| {
            sqlx::query_as(
                "SELECT a.email FROM accounts a JOIN mfa_factors f ON f.user_id = a.handle \
                 WHERE f.enabled",
            )
            .fetch_one(pool)
            .await
            .unwrap()
        });
        assert_eq!(email, "carol@example.com");
    }
}

/// TradeSense's schema as released before 8001: users, and the mfa set
/// through 3002 (its tables referencing `users`).
async fn schema_before_8001(store: &SqlStore) {
    let users = MigrationSet::Users.migrator(store.backend());
    let mfa = MigrationSet::Mfa.migrator(store.backend());
    with_pool!(store.db(), |pool| {
        users.run(pool).await.unwrap();
        mfa.run_to(3002, pool).await.unwrap();
    });
}

/// The MFA columns of a user row of that schema.
#[derive(Default)]
struct OldMfa<'a> {
    enabled: bool,
    secret: Option<&'a [u8]>,
    pending: Option<(&'a [u8], DateTime<Utc>)>,
    last_step: Option<i64>,
    enabled_at: Option<i64>,
}

/// A user row of that schema.
async fn old_user(store: &SqlStore, id: Uuid, mfa: OldMfa<'_>) {
    let now = to_micros(Utc::now());
    with_pool!(store.db(), |pool| {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at, \
             mfa_enabled, mfa_secret, mfa_pending_secret, mfa_pending_expires_at, mfa_last_step, \
             mfa_enabled_at) VALUES ($1, $2, 'x', 'Old', $3, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(format!("{id}@example.com"))
        .bind(now)
        .bind(mfa.enabled)
        .bind(mfa.secret)
        .bind(mfa.pending.map(|(sealed, _)| sealed))
        .bind(mfa.pending.map(|(_, expires_at)| to_micros(expires_at)))
        .bind(mfa.last_step)
        .bind(mfa.enabled_at)
        .execute(pool)
        .await
        .unwrap();
    });
}

async fn user_columns(store: &SqlStore) -> Vec<String> {
    let sql = match store.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info('users')",
        Backend::Postgres => {
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'users'"
        }
    };
    let rows: Vec<(String,)> = with_pool!(store.db(), |pool| {
        sqlx::query_as(sql).fetch_all(pool).await.unwrap()
    });
    rows.into_iter().map(|(name,)| name).collect()
}

#[tokio::test]
async fn migration_8001_moves_enrolments_out_of_users() {
    for db in TestDatabase::all_with_sets(&[]).await {
        let store = &db.store;
        schema_before_8001(store).await;
        let cipher = cipher();

        // Enrolled: a sealed secret, its last step and enrolment time, one
        // unused and one used recovery code, a spent token, two failures.
        let secret = TotpSecret::generate();
        let enrolled = Uuid::now_v7();
        let sealed = cipher.seal(enrolled, secret.as_bytes()).unwrap();
        let last_step = step_of(T0 as u64) as i64;
        let enrolled_at_ms = T0 * 1000;
        let old = OldMfa {
            enabled: true,
            secret: Some(&sealed),
            last_step: Some(last_step),
            enabled_at: Some(enrolled_at_ms),
            ..OldMfa::default()
        };
        old_user(store, enrolled, old).await;
        let codes = RecoveryCode::generate_set();
        let (unused_id, used_id, token) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let used_at = to_micros(at(T0 + 5));
        with_pool!(store.db(), |pool| {
            for (id, code, used) in [
                (unused_id, &codes[0], None),
                (used_id, &codes[1], Some(used_at)),
            ] {
                sqlx::query(
                    "INSERT INTO recovery_codes (id, user_id, code_hash, used_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(enrolled)
                .bind(code.hash())
                .bind(used)
                .bind(to_micros(at(T0)))
                .execute(pool)
                .await
                .unwrap();
            }
            sqlx::query(
                "INSERT INTO mfa_used_tokens (token_id, user_id, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(token)
            .bind(enrolled)
            .bind(T0 + 300)
            .execute(pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO mfa_failures (user_id, failures, window_start) VALUES ($1, 2, $2)",
            )
            .bind(enrolled)
            .bind(T0)
            .execute(pool)
            .await
            .unwrap();
        });
        // A setup in progress, and a user who never touched MFA.
        let expires_at = to_micros(at(T0 + 600));
        let (pending, bystander) = (Uuid::now_v7(), Uuid::now_v7());
        let old = OldMfa {
            pending: Some((b"pending-sealed", expires_at)),
            ..OldMfa::default()
        };
        old_user(store, pending, old).await;
        old_user(store, bystander, OldMfa::default()).await;

        store.migrate().await.unwrap();

        assert_eq!(
            store.mfa_state(enrolled).await.unwrap(),
            MfaState {
                enabled: true,
                secret: Some(sealed),
                pending: None,
                last_step: Some(last_step),
                enabled_at_ms: Some(enrolled_at_ms),
            },
            "{db:?}"
        );
        assert_eq!(
            store.mfa_state(pending).await.unwrap(),
            MfaState {
                pending: Some(PendingSecret {
                    sealed: b"pending-sealed".to_vec(),
                    expires_at,
                }),
                ..MfaState::default()
            },
            "{db:?}"
        );
        assert_eq!(
            store.mfa_state(bystander).await.unwrap(),
            MfaState::default()
        );
        let (factors,): (i64,) = with_pool!(store.db(), |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM mfa_factors")
                .fetch_one(pool)
                .await
                .unwrap()
        });
        assert_eq!(factors, 2, "{db:?}: only users with MFA state get a row");
        assert_eq!(
            store.unused_recovery_codes(enrolled).await.unwrap(),
            vec![(unused_id, codes[0].hash())]
        );
        let (moved_used_at,): (Option<DateTime<Utc>>,) = with_pool!(store.db(), |pool| {
            sqlx::query_as("SELECT used_at FROM mfa_recovery_codes WHERE id = $1 AND user_id = $2")
                .bind(used_id)
                .bind(enrolled)
                .fetch_one(pool)
                .await
                .unwrap()
        });
        assert_eq!(moved_used_at, Some(used_at));
        assert!(
            !store
                .consume_mfa_token(token, enrolled, T0 + 300, T0)
                .await
                .unwrap(),
            "{db:?}: the spent token stays spent"
        );
        assert_eq!(
            store.mfa_failures(enrolled).await.unwrap(),
            Some(FailureWindow {
                failures: 2,
                window_start: T0
            })
        );

        let columns = user_columns(store).await;
        assert!(columns.iter().any(|c| c == "email"), "{columns:?}");
        assert!(
            !columns.iter().any(|c| c.starts_with("mfa_")),
            "{db:?}: {columns:?}"
        );
        for table in ["recovery_codes", "mfa_used_tokens", "mfa_failures"] {
            assert!(
                !store.table_exists(table).await.unwrap(),
                "{table} in {db:?}"
            );
        }

        // The migrated enrolment still works: a TOTP code after its last
        // step, its unused recovery code, not its used one.
        let mfa = MfaService::new(Arc::new(store.clone()), cipher.clone());
        let now = T0 + 60;
        mfa.complete_login(
            enrolled,
            challenge(now),
            &secret.code_at(now as u64),
            at(now),
        )
        .await
        .unwrap();
        mfa.complete_login(enrolled, challenge(now), &codes[0].to_string(), at(now))
            .await
            .unwrap();
        let used = mfa
            .complete_login(enrolled, challenge(now), &codes[1].to_string(), at(now))
            .await;
        assert!(matches!(used, Err(MfaError::InvalidCode)), "{used:?}");
        assert!(!mfa.is_enabled(bystander).await.unwrap());
    }
}

/// 8002: in TradeSense's schema a user's MFA rows go with the user, as the
/// old tables' `ON DELETE CASCADE` made them (the standalone tables
/// reference nothing).
#[tokio::test]
async fn a_deleted_users_mfa_rows_go_with_it() {
    for db in TestDatabase::all().await {
        let store = &db.store;
        let (gone, kept) = (
            crate::store::testing::insert_bare_user(store).await,
            crate::store::testing::insert_bare_user(store).await,
        );
        for user in [gone, kept] {
            let expires = at(T0 + 600);
            assert!(
                store
                    .set_pending_secret(user, b"sealed", expires)
                    .await
                    .unwrap()
            );
            let codes = vec!["hash".to_owned()];
            assert!(
                store
                    .enable_mfa(user, b"sealed", 7, &codes, at(T0))
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .consume_mfa_token(Uuid::now_v7(), user, T0 + 300, T0)
                    .await
                    .unwrap()
            );
            store.reserve_mfa_attempt(user, T0, 900, 5).await.unwrap();
        }
        let deleted = with_pool!(store.db(), |pool| {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(gone)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected()
        });
        assert_eq!(deleted, 1);
        for table in [
            "mfa_factors",
            "mfa_recovery_codes",
            "mfa_token_uses",
            "mfa_failure_windows",
        ] {
            let count = |user: Uuid| async move {
                let sql = format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1");
                with_pool!(store.db(), |pool| {
                    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                        .bind(user)
                        .fetch_one(pool)
                        .await
                        .unwrap()
                })
            };
            assert_eq!(count(gone).await, 0, "{table} on {:?}", store.backend());
            assert_eq!(count(kept).await, 1, "{table} on {:?}", store.backend());
        }
    }
}
