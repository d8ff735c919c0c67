//! Issue 12, item 6, over real HTTP on SQLite and Postgres, with two
//! instances (sharing Redis too in the `#[ignore]`d variant, run with
//! `TEST_REDIS_URL` and `--ignored`):
//! `SESSION_IDLE_TIMEOUT_SECONDS` ends a session nobody used for that long,
//! on every instance, although each had it cached as live; activity on
//! one instance keeps it alive on the other; `0` turns the rule off; and
//! requests do not write `last_seen_at` each time.
//!
//! The idle tests let real time pass: the passing of time is what they
//! test (no clock is injected into a black box).

use crate::common::backends;
use crate::hardening_support::*;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use std::time::{Duration, Instant};

const ME: &str = "/api/v1/users/me";

async fn me_status(cluster: &Cluster, node: usize, token: &str) -> u16 {
    get(cluster, node, ME, token).await.status().as_u16()
}

async fn sessions(cluster: &Cluster, token: &str) -> Vec<Value> {
    let response = get(cluster, 0, "/api/v1/users/me/sessions", token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

async fn idle_sessions_end_everywhere(cluster: Cluster) {
    let email = unique_email("idle");
    register(&cluster, &email).await;
    let token = access_token(&cluster, &email).await;
    assert_eq!(
        me_status(&cluster, 1, &token).await,
        200,
        "B caches it live"
    );
    // Seven seconds of requests on A only (longer than the 6 s timeout).
    let until = Instant::now() + Duration::from_secs(7);
    while Instant::now() < until {
        assert_eq!(me_status(&cluster, 0, &token).await, 200);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        me_status(&cluster, 1, &token).await,
        200,
        "A's use counts on B"
    );
    let listed = sessions(&cluster, &token).await;
    assert_eq!(listed.len(), 1);
    let seen = time(&listed[0]["last_seen_at"]) - time(&listed[0]["created_at"]);
    assert!(
        seen >= TimeDelta::seconds(2),
        "last_seen_at moved on: {seen}"
    );

    // Silence past the timeout: over on both, although both cached it.
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    assert_eq!(me_status(&cluster, 0, &token).await, 401);
    assert_eq!(me_status(&cluster, 1, &token).await, 401);
    // A fresh login does not list the idle session among the live ones.
    let fresh = access_token(&cluster, &email).await;
    let listed = sessions(&cluster, &fresh).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["current"], true);
}

/// Six seconds: the cache TTL and the write interval shrink to 1.5 s each,
/// so `last_seen_at` lags by at most 4.5 s, and requests every 250 ms keep
/// the session alive with room for a slow machine.
fn six_seconds(settings: &mut tradesense_server::Settings) {
    settings.session_idle_timeout = Some(Duration::from_secs(6));
}

#[tokio::test]
async fn an_idle_session_is_over_on_every_instance() {
    for backend in backends() {
        idle_sessions_end_everywhere(Cluster::start(backend, 2, None, six_seconds).await).await;
    }
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL and run with --ignored"]
async fn an_idle_session_is_over_on_every_instance_sharing_redis() {
    let redis = redis_url();
    for backend in backends() {
        let cluster = Cluster::start(backend, 2, Some(&redis), six_seconds).await;
        idle_sessions_end_everywhere(cluster).await;
    }
}

/// The rule is judged on the stored `last_seen_at`: a session last seen
/// nine hours ago is over under the default 8 h, and alive with `0`.
/// (Instance B has never seen the session, so it asks the database.)
#[tokio::test]
async fn the_default_is_eight_hours_and_zero_turns_it_off() {
    for backend in backends() {
        for (idle, expected) in [(None, 200), (Some(Duration::from_secs(28_800)), 401)] {
            let cluster = Cluster::start(backend, 2, None, |settings| {
                settings.session_idle_timeout = idle;
            })
            .await;
            let email = unique_email("default");
            register(&cluster, &email).await;
            let token = access_token(&cluster, &email).await;
            let nine_hours_ago =
                tradesense_core::store::to_micros(Utc::now() - TimeDelta::hours(9));
            tradesense_core::with_pool!(cluster.first.database.store.db(), |pool| {
                sqlx::query("UPDATE sessions SET last_seen_at = $1")
                    .bind(nine_hours_ago)
                    .execute(pool)
                    .await
                    .unwrap();
            });
            assert_eq!(me_status(&cluster, 1, &token).await, expected, "{idle:?}");
        }
    }
}

/// Many requests within a minute, on two instances: `last_seen_at` is not
/// written for them (it is written at most once a minute per session).
#[tokio::test]
async fn requests_do_not_write_last_seen_each_time() {
    for backend in backends() {
        let cluster = Cluster::start(backend, 2, None, |_| {}).await;
        let email = unique_email("coarse");
        register(&cluster, &email).await;
        let token = access_token(&cluster, &email).await;
        for i in 0..60 {
            assert_eq!(me_status(&cluster, i, &token).await, 200);
        }
        let listed = sessions(&cluster, &token).await;
        assert_eq!(
            listed[0]["last_seen_at"], listed[0]["created_at"],
            "no write within the first minute: {listed:?}"
        );
    }
}
