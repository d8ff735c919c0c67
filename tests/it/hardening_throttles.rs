//! Issue 12, items 1 and 2, over real HTTP with real concurrent requests,
//! on SQLite and Postgres, and across two instances sharing Redis (the
//! `#[ignore]`d variant, run with `TEST_REDIS_URL` and `--ignored`): the
//! account throttle and the MFA lockout are reservations, so a burst of simultaneous wrong attempts gets no more
//! password or code checks than the same attempts one after another
//! (docs/API.md "Account protection"). Password checks are counted where
//! they happen: the argon2 verifications of each instance.

use crate::common::backends;
use crate::hardening_support::*;
use futures_util::future::join_all;
use serde_json::json;

/// The account throttle's threshold (`ThrottlePolicy::default`).
const LIMIT: usize = 5;

/// 24 wrong passwords at once, through `/login` and `/token`, in two
/// spellings of the email, spread over the cluster's instances.
async fn burst_of_wrong_logins(cluster: &Cluster, email: &str, n: usize) -> Vec<(u16, String)> {
    let upper = email.to_uppercase();
    let attempts = (0..n).map(|i| {
        let spelling = if i % 3 == 0 { upper.as_str() } else { email };
        login(cluster, i, i % 2 == 0, spelling, WRONG)
    });
    outcomes(join_all(attempts).await).await
}

async fn wrong_logins_then_the_right_one(cluster: &Cluster) {
    let email = unique_email("burst");
    register(cluster, &email).await;
    let before = cluster.verifications();
    let results = burst_of_wrong_logins(cluster, &email, 24).await;
    assert_eq!(
        cluster.verifications() - before,
        LIMIT as u64,
        "password checks in the burst: {results:?}"
    );
    assert_eq!(count(&results, 401), LIMIT, "{results:?}");
    assert_eq!(count(&results, 429), 24 - LIMIT, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(s, code)| (*s == 401 && code == "invalid_credentials")
                || (*s == 429 && code == "rate_limited"))
    );
    // The right password right after: refused before it is checked.
    let right = login(cluster, 1, false, &email, PASSWORD).await;
    assert_eq!(right.status(), 429);
    assert_eq!(cluster.verifications() - before, LIMIT as u64);
}

#[tokio::test]
async fn a_burst_of_wrong_logins_gets_five_password_checks() {
    for backend in backends() {
        wrong_logins_then_the_right_one(&Cluster::single(backend).await).await;
    }
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL and run with --ignored"]
async fn a_burst_split_over_two_instances_sharing_redis_gets_five_checks() {
    let redis = redis_url();
    for backend in backends() {
        let cluster = Cluster::start(backend, 2, Some(&redis), |_| {}).await;
        wrong_logins_then_the_right_one(&cluster).await;
    }
}

/// The right password sent inside a burst once the limit is spent does
/// not get in; sent in the burst that spends the last slot, it gets in
/// only if it is the one attempt reserved.
#[tokio::test]
async fn the_right_password_in_a_burst_gets_no_extra_check() {
    for backend in backends() {
        let cluster = Cluster::single(backend).await;
        let email = unique_email("right");
        register(&cluster, &email).await;
        // Four failures one after another: one check left before the lock.
        for _ in 0..LIMIT - 1 {
            let response = login(&cluster, 0, false, &email, WRONG).await;
            assert_eq!(response.status(), 401);
        }
        let before = cluster.verifications();
        let attempts = (0..24).map(|i| {
            let password = if i == 23 { PASSWORD } else { WRONG };
            login(&cluster, 0, i % 2 == 0, &email, password)
        });
        let results = outcomes(join_all(attempts).await).await;
        assert_eq!(cluster.verifications() - before, 1, "{results:?}");
        assert_eq!(count(&results, 429), 23, "{results:?}");
        let right_got_in = results[23].0 == 200;
        assert!(right_got_in || results[23].0 == 429, "{results:?}");

        // Now the limit is spent (or the right one cleared it): a second
        // burst with the right password last.
        let email = unique_email("locked");
        register(&cluster, &email).await;
        for _ in 0..LIMIT {
            assert_eq!(login(&cluster, 0, false, &email, WRONG).await.status(), 401);
        }
        let before = cluster.verifications();
        let attempts = (0..24).map(|i| {
            let password = if i % 6 == 5 { PASSWORD } else { WRONG };
            login(&cluster, 0, i % 2 == 0, &email, password)
        });
        let results = outcomes(join_all(attempts).await).await;
        assert_eq!(count(&results, 429), 24, "{results:?}");
        assert_eq!(cluster.verifications(), before, "nothing was checked");
    }
}

/// A stolen session guessing the current password: the same per-account
/// budget as the logins, reserved before each check, on both routes that
/// ask for it; and the account's logins are locked with it.
#[tokio::test]
async fn current_password_guesses_share_the_account_budget() {
    for backend in backends() {
        let cluster = Cluster::single(backend).await;
        let email = unique_email("reauth");
        register(&cluster, &email).await;
        let token = access_token(&cluster, &email).await;
        let before = cluster.verifications();
        let guesses = (0..12).map(|i| {
            let (path, body) = if i % 2 == 0 {
                (
                    "/api/v1/users/me/password",
                    json!({"current_password": WRONG, "new_password": NEW_PASSWORD}),
                )
            } else {
                ("/api/v1/auth/mfa/setup", json!({"current_password": WRONG}))
            };
            post(&cluster, 0, path, Some(&token), body)
        });
        let results = outcomes(join_all(guesses).await).await;
        assert_eq!(
            cluster.verifications() - before,
            LIMIT as u64,
            "{results:?}"
        );
        assert_eq!(count(&results, 400), LIMIT, "{results:?}");
        assert_eq!(count(&results, 429), 12 - LIMIT, "{results:?}");
        assert!(
            results.iter().all(
                |(s, code)| (*s == 400 && code == "invalid_current_password")
                    || (*s == 429 && code == "rate_limited")
            ),
            "{results:?}"
        );
        // The owner's right password is locked out too, unchecked, on
        // every route that checks one.
        for response in [
            login(&cluster, 0, false, &email, PASSWORD).await,
            post(
                &cluster,
                0,
                "/api/v1/auth/mfa/setup",
                Some(&token),
                json!({"current_password": PASSWORD}),
            )
            .await,
        ] {
            assert_eq!(response.status(), 429);
        }
        assert_eq!(cluster.verifications() - before, LIMIT as u64);
    }
}

/// Wrong current passwords count one by one with wrong logins, and a right
/// one clears the count (as a successful login does).
#[tokio::test]
async fn current_password_failures_count_with_login_failures() {
    for backend in backends() {
        let cluster = Cluster::single(backend).await;
        let email = unique_email("mixed");
        register(&cluster, &email).await;
        let token = access_token(&cluster, &email).await;
        let setup = |password: &str| {
            post(
                &cluster,
                0,
                "/api/v1/auth/mfa/setup",
                Some(&token),
                json!({"current_password": password}),
            )
        };
        for _ in 0..2 {
            let wrong = setup(WRONG).await;
            assert_eq!(wrong.status(), 400);
            assert_eq!(login(&cluster, 0, true, &email, WRONG).await.status(), 401);
        }
        // Four failures: a right current password clears them.
        let right = setup(PASSWORD).await;
        assert_eq!(right.status(), 200);
        assert_eq!(right.headers()["cache-control"], "no-store");
        for _ in 0..LIMIT - 1 {
            assert_eq!(login(&cluster, 0, false, &email, WRONG).await.status(), 401);
        }
        assert_eq!(setup(WRONG).await.status(), 400);
        assert_eq!(setup(PASSWORD).await.status(), 429);
        // A body without the field: 422 naming it, no check spent.
        let before = cluster.verifications();
        let missing = post(
            &cluster,
            0,
            "/api/v1/auth/mfa/setup",
            Some(&token),
            json!({}),
        )
        .await;
        assert_eq!(missing.status(), 422);
        let body: serde_json::Value = missing.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "current_password", "{body}");
        assert_eq!(cluster.verifications(), before);
    }
}

/// The MFA lockout: a burst of wrong codes at every MFA route gets at most
/// five code checks per user and window, also split over two instances
/// (the count lives in the database), and then the right code is refused.
#[tokio::test]
async fn a_burst_of_wrong_mfa_codes_gets_five_checks() {
    for backend in backends() {
        for instances in [1, 2] {
            let cluster = Cluster::start(backend, instances, None, |_| {}).await;
            let email = unique_email("mfa");
            register(&cluster, &email).await;
            let token = access_token(&cluster, &email).await;

            // /mfa/verify against a pending setup.
            let setup = post(
                &cluster,
                0,
                "/api/v1/auth/mfa/setup",
                Some(&token),
                json!({"current_password": PASSWORD}),
            )
            .await;
            let setup: serde_json::Value = setup.json().await.unwrap();
            let mut phone =
                crate::mfa_support::Authenticator::new(setup["secret"].as_str().unwrap());
            let wrong = wrong_codes(&phone);
            let attempts = (0..30).map(|i| {
                let body = json!({"code": wrong[i % wrong.len()]});
                post(&cluster, i, "/api/v1/auth/mfa/verify", Some(&token), body)
            });
            let results = outcomes(join_all(attempts).await).await;
            assert_eq!(count(&results, 400), 5, "{results:?}");
            assert_eq!(count(&results, 429), 25, "{results:?}");
            // The right code (not handed out: a refusal does not spend it).
            let right = json!({"code": phone.code_at_step(crate::mfa_support::unix_now() / 30)});
            let locked = post(&cluster, 1, "/api/v1/auth/mfa/verify", Some(&token), right).await;
            assert_eq!(locked.status(), 429);

            // The lockout holds the user, whatever the route: clear it as
            // its window's end would, then enable MFA and try /mfa/login.
            clear_mfa_failures(&cluster).await;
            let right = json!({"code": phone.fresh_code().await});
            let enabled = post(&cluster, 0, "/api/v1/auth/mfa/verify", Some(&token), right).await;
            assert_eq!(enabled.status(), 200);
            let pending = login_ok(&cluster, &email).await["mfa_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let wrong = wrong_codes(&phone);
            let attempts = (0..30).map(|i| {
                let body = json!({"mfa_token": pending, "code": wrong[i % wrong.len()]});
                post(&cluster, i, "/api/v1/auth/mfa/login", None, body)
            });
            let results = outcomes(join_all(attempts).await).await;
            assert_eq!(count(&results, 401), 5, "{results:?}");
            assert!(
                results
                    .iter()
                    .all(|(s, c)| (*s == 401 && c == "invalid_mfa_code") || *s == 429),
                "{results:?}"
            );
            // The next step's code: unused, inside the window, right.
            let next = phone.last_step.unwrap() + 1;
            let right = json!({"mfa_token": pending, "code": phone.code_at_step(next)});
            let locked = post(&cluster, 1, "/api/v1/auth/mfa/login", None, right).await;
            assert_eq!(locked.status(), 429, "{backend:?}, {instances} instance(s)");
        }
    }
}

/// Codes that are wrong now: six-digit ones outside the live window and
/// recovery-shaped ones.
fn wrong_codes(phone: &crate::mfa_support::Authenticator) -> Vec<String> {
    let now = crate::mfa_support::unix_now() / 30;
    let live: Vec<String> = (now - 2..=now + 2).map(|s| phone.code_at_step(s)).collect();
    let mut codes: Vec<String> = (0..10u32)
        .map(|i| format!("{:06}", 111_111 * (i % 9) + i))
        .filter(|code| !live.contains(code))
        .collect();
    codes.push("0000-0000-0000-0000-0000-0000".to_owned());
    codes.push("zzzz-zzzz-zzzz".to_owned());
    codes
}

/// What the window's end would do, without waiting 15 minutes.
async fn clear_mfa_failures(cluster: &Cluster) {
    tradesense_core::with_pool!(cluster.first.database.store.db(), |pool| {
        sqlx::query("DELETE FROM mfa_failure_windows")
            .execute(pool)
            .await
            .unwrap();
    });
}
