//! Issue 4's guards over HTTP, on every backend: pending-setup expiry, the
//! lockout after five wrong codes, odd inputs, and races on one code.

use crate::common::{Backend, TestApp, backends, json_body};
use crate::mfa_support::*;
use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_pending_setup_expires() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        register(&app, "dave@example.com").await;
        let token = access_token(&app, "dave@example.com").await;
        let setup = json_body(
            post(
                &app,
                "/api/v1/auth/mfa/setup",
                Some(&token),
                json!({"current_password": PASSWORD}),
            )
            .await,
        )
        .await;
        let mut phone = Authenticator::new(setup["secret"].as_str().unwrap());
        // Ten minutes pass (the expiry is moved instead of the clock).
        let past = tradesense_core::store::to_micros(Utc::now() - TimeDelta::seconds(1));
        tradesense_core::with_pool!(app.database.store.db(), |pool| {
            sqlx::query("UPDATE mfa_factors SET pending_expires_at = $1")
                .bind(past)
                .execute(pool)
                .await
                .unwrap();
        });
        let code = phone.fresh_code().await;
        let late = post(
            &app,
            "/api/v1/auth/mfa/verify",
            Some(&token),
            json!({"code": code}),
        )
        .await;
        assert_eq!(
            refused(late, StatusCode::BAD_REQUEST).await,
            "mfa_setup_required"
        );
    }
}

#[tokio::test]
async fn five_wrong_codes_lock_the_mfa_challenge() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let email = "eve@example.com";
        let (_, mut phone, codes) = enable_mfa(&app, email).await;
        let pending = mfa_token(&app, email).await;
        for wrong in ["000000", "999999", "abcdef", "zzzz-zzzz-zzzz", "1"] {
            let wrong = if wrong == phone.code_at_step(unix_now() / 30) {
                "555555"
            } else {
                wrong
            };
            let response = mfa_login(&app, &pending, wrong).await;
            assert_eq!(
                refused(response, StatusCode::UNAUTHORIZED).await,
                "invalid_mfa_code"
            );
        }
        // Locked: even a right code or a recovery code, even with a new token.
        let locked = mfa_login(&app, &pending, &phone.fresh_code().await).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = locked.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 900);
        let pending2 = mfa_token(&app, email).await;
        let locked = mfa_login(&app, &pending2, &codes[0]).await;
        assert_eq!(
            refused(locked, StatusCode::TOO_MANY_REQUESTS).await,
            "rate_limited"
        );
    }
}

#[tokio::test]
async fn arbitrary_codes_are_refused_cleanly() {
    // The property itself (no input panics; only a valid code passes) is a
    // proptest in `mfa::totp` and `mfa::recovery`; this checks the HTTP
    // edge: odd inputs are refused as wrong codes (and count toward the
    // lockout), a body of the wrong shape is a 422, never a 500.
    let app = TestApp::spawn(Backend::Sqlite).await;
    register(&app, "frank@example.com").await;
    let token = access_token(&app, "frank@example.com").await;
    post(
        &app,
        "/api/v1/auth/mfa/setup",
        Some(&token),
        json!({"current_password": PASSWORD}),
    )
    .await;
    let huge = "9".repeat(10_000);
    let odd = [
        "",
        "12345",
        "１２３４５６",
        "\u{0}\u{0}",
        &huge,
        "-12345",
        "1234567",
    ];
    for (i, code) in odd.into_iter().enumerate() {
        let response = post(
            &app,
            "/api/v1/auth/mfa/verify",
            Some(&token),
            json!({"code": code}),
        )
        .await;
        let (status, expected) = if i < 5 {
            (StatusCode::BAD_REQUEST, "invalid_mfa_code")
        } else {
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        };
        assert_eq!(refused(response, status).await, expected, "{code:?}");
    }
    for body in [json!({"code": 123456}), json!({}), json!({"code": null})] {
        let response = post(&app, "/api/v1/auth/mfa/verify", Some(&token), body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
    }
}

#[tokio::test]
async fn concurrent_logins_with_one_code_let_exactly_one_in() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let email = "grace@example.com";
        let (_, mut phone, codes) = enable_mfa(&app, email).await;
        let code = phone.fresh_code().await;
        let mut tokens = Vec::new();
        for _ in 0..4 {
            tokens.push(mfa_token(&app, email).await);
        }
        // The same TOTP code raced on four MFA tokens: one step, one login.
        let attempts = tokens.iter().map(|token| mfa_login(&app, token, &code));
        let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
            .await
            .iter()
            .map(|r| r.status())
            .collect();
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "{statuses:?}");
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED)
        );
        // The same recovery code raced on fresh tokens: one login.
        let mut tokens = Vec::new();
        for _ in 0..3 {
            tokens.push(mfa_token(&app, email).await);
        }
        let attempts = tokens.iter().map(|token| mfa_login(&app, token, &codes[5]));
        let ok = futures_util::future::join_all(attempts)
            .await
            .iter()
            .filter(|r| r.status() == StatusCode::OK)
            .count();
        assert_eq!(ok, 1);
    }
}
