//! Two instances over one database, as behind a load balancer: a ceremony
//! started on one finishes on the other (the challenges live in the
//! database, not in an instance's memory), and still only once. The Redis
//! variant (the whole production shape: Postgres and Redis shared) is
//! ignored without `TEST_REDIS_URL`, and fails when it is unreachable.

use crate::common::{Backend, backends};
use crate::hardening_support::redis_url;
use crate::passkeys_support::*;
use reqwest::StatusCode;
use tradesense_server::RedactedUrl;

async fn finish_each_others_ceremonies(backend: Backend, redis: Option<String>) {
    let configure = |s: &mut tradesense_server::Settings| {
        with_frontend(s);
        s.redis_url = redis.clone().map(RedactedUrl::new);
    };
    let a = crate::common::TestApp::spawn_with(backend, configure).await;
    let b = sibling(&a, configure).await;
    let ada = user(&a, &crate::hardening_support::unique_email("ada")).await;
    let mut phone = phone();

    // Registration: started on A, finished on B, replayed on A.
    let (challenge_id, options) = register_start(&a.base, &ada).await;
    let credential = phone.create(&options).unwrap();
    let response = register_finish(&b, &ada, &challenge_id, &credential).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let replay = register_finish(&a.base, &ada, &challenge_id, &credential).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // Login: started on B, finished on A (whose token B accepts), replayed on B.
    let (challenge_id, options) = login_start(&b).await;
    let assertion = phone.get(&options).unwrap();
    let response = login_finish(&a.base, &challenge_id, &assertion).await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = crate::common::json_body(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let replay = login_finish(&b, &challenge_id, &assertion).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let me = crate::common::client()
        .get(format!("{b}/api/v1/users/me/passkeys"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // The counter each instance stored is the one the other checks.
    phone.set_counter(0);
    let response = passkey_login(&b, &mut phone).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn two_instances_finish_each_others_ceremonies() {
    for backend in backends() {
        finish_each_others_ceremonies(backend, None).await;
    }
}

#[tokio::test]
#[ignore = "needs Redis: set TEST_REDIS_URL (.ci/run does)"]
async fn two_instances_sharing_the_database_and_redis_finish_each_others_ceremonies() {
    let redis = redis_url();
    for backend in backends() {
        finish_each_others_ceremonies(backend, Some(redis.clone())).await;
    }
}
