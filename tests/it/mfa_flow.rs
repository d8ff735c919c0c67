//! Issue 4 over HTTP, on every backend: enabling MFA with what an
//! authenticator app sees, logging in with it, losing the phone and getting
//! in with a recovery code, disabling it, and every refusal on the way.
//!
//! TOTP codes are computed here by an independent RFC 4226/6238
//! implementation (hmac + sha1, checked against the RFC 6238 Appendix B
//! vectors below), never by totp-rs, so a bug shared by server and test
//! cannot hide.

use crate::common::{TestApp, backends, json_body};
use crate::mfa_support::*;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::json;

#[test]
fn the_test_side_totp_matches_rfc6238_appendix_b() {
    let key = b"12345678901234567890";
    for (time, code) in [
        (59u64, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(hotp(key, time / 30, 8), code);
    }
    assert_eq!(
        base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
        b"12345678901234567890"
    );
}

/// `/api/v1/users/me` of the session `token`.
async fn me_json(app: &TestApp, token: &str) -> serde_json::Value {
    let response = app
        .client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    json_body(response).await
}

#[tokio::test]
async fn setup_shows_the_secret_uri_and_a_png_qr_code() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        register(&app, "alice@example.com").await;
        let token = access_token(&app, "alice@example.com").await;
        let response = post(
            &app,
            "/api/v1/auth/mfa/setup",
            Some(&token),
            json!({"current_password": PASSWORD}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body = json_body(response).await;
        let secret = body["secret"].as_str().unwrap();
        assert_eq!(secret.len(), 32, "160 bits of base32, no padding");
        assert_eq!(base32_decode(secret).len(), 20);
        assert_eq!(
            body["provisioning_uri"],
            format!(
                "otpauth://totp/TradeSense:alice%40example.com?secret={secret}&issuer=TradeSense"
            )
        );
        let png = body["qr_code"]
            .as_str()
            .unwrap()
            .strip_prefix("data:image/png;base64,")
            .expect("a PNG data URI");
        let png = base64::engine::general_purpose::STANDARD
            .decode(png)
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&png[8..16], b"\0\0\0\rIHDR", "IHDR is the first chunk");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert!(
            width == height && width >= 21,
            "a square QR image, {width}x{height}"
        );

        // Unauthenticated: 401.
        let anonymous = post(&app, "/api/v1/auth/mfa/setup", None, json!({})).await;
        assert_eq!(
            refused(anonymous, StatusCode::UNAUTHORIZED).await,
            "not_authenticated"
        );
    }
}

#[tokio::test]
async fn the_whole_flow_enable_login_recover_disable() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let email = "bob@example.com";
        register(&app, email).await;
        let token = access_token(&app, email).await;
        let other_session = access_token(&app, email).await;

        // Verify before setup; then a setup and a wrong code.
        let early = post(
            &app,
            "/api/v1/auth/mfa/verify",
            Some(&token),
            json!({"code": "123456"}),
        )
        .await;
        assert_eq!(
            refused(early, StatusCode::BAD_REQUEST).await,
            "mfa_setup_required"
        );
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
        let right = phone.fresh_code().await;
        let wrong = if right == "000000" {
            "000001"
        } else {
            "000000"
        };
        let bad = post(
            &app,
            "/api/v1/auth/mfa/verify",
            Some(&token),
            json!({"code": wrong}),
        )
        .await;
        assert_eq!(
            refused(bad, StatusCode::BAD_REQUEST).await,
            "invalid_mfa_code"
        );

        // The right code enables MFA and returns 10 distinct recovery codes.
        let ok = post(
            &app,
            "/api/v1/auth/mfa/verify",
            Some(&token),
            json!({"code": right}),
        )
        .await;
        assert_eq!(ok.status(), StatusCode::OK);
        let ok = json_body(ok).await;
        assert_eq!(ok["message"], "MFA enabled successfully");
        let codes: Vec<String> = ok["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            codes.iter().collect::<std::collections::HashSet<_>>().len(),
            10
        );

        // Enabling revoked the other session, not this one.
        assert_eq!(
            me_status(&app, &other_session).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(me_status(&app, &token).await, StatusCode::OK);
        let me = me_json(&app, &token).await;
        assert_eq!(me["mfa_enabled"], true);
        let again = post(
            &app,
            "/api/v1/auth/mfa/setup",
            Some(&token),
            json!({"current_password": PASSWORD}),
        )
        .await;
        assert_eq!(
            refused(again, StatusCode::BAD_REQUEST).await,
            "mfa_already_enabled"
        );

        // Password login now stops at the second factor; the MFA token is
        // no access token.
        let pending = mfa_token(&app, email).await;
        assert_eq!(me_status(&app, &pending).await, StatusCode::UNAUTHORIZED);
        let as_cookie = app
            .client
            .get(app.url("/api/v1/users/me"))
            .header("cookie", format!("auth-token={pending}"))
            .send()
            .await
            .unwrap();
        assert_eq!(as_cookie.status(), StatusCode::UNAUTHORIZED);
        // An access token is no MFA token either.
        let swapped = mfa_login(&app, &token, "123456").await;
        assert_eq!(
            refused(swapped, StatusCode::UNAUTHORIZED).await,
            "invalid_mfa_token"
        );

        // The code used to enable MFA is spent: a replay is refused.
        let replay = mfa_login(&app, &pending, &right).await;
        assert_eq!(
            refused(replay, StatusCode::UNAUTHORIZED).await,
            "invalid_mfa_code"
        );

        // A fresh code logs in: token response and cookie.
        let code = phone.fresh_code().await;
        let response = mfa_login(&app, &pending, &code).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cookie.starts_with("auth-token=") && cookie.contains("HttpOnly"));
        let body = json_body(response).await;
        assert_eq!(body["token_type"], "bearer");
        let mfa_session = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(me_status(&app, &mfa_session).await, StatusCode::OK);

        // The same code again, with a new MFA token: a replay.
        let pending2 = mfa_token(&app, email).await;
        let replay = mfa_login(&app, &pending2, &phone.last_code()).await;
        assert_eq!(
            refused(replay, StatusCode::UNAUTHORIZED).await,
            "invalid_mfa_code"
        );
        // The spent MFA token with a valid recovery code: single use.
        let reuse = mfa_login(&app, &pending, &codes[0]).await;
        assert_eq!(
            refused(reuse, StatusCode::UNAUTHORIZED).await,
            "invalid_mfa_token"
        );

        // Phone lost: a recovery code works, once.
        let response = mfa_login(&app, &pending2, &codes[0]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let pending3 = mfa_token(&app, email).await;
        let used = mfa_login(&app, &pending3, &codes[0]).await;
        assert_eq!(
            refused(used, StatusCode::UNAUTHORIZED).await,
            "invalid_mfa_code"
        );

        // Disable with a wrong code, then with a recovery code (typed in
        // upper case): MFA off, the other sessions revoked.
        let bad = post(
            &app,
            "/api/v1/auth/mfa/disable",
            Some(&token),
            json!({"code": codes[0]}),
        )
        .await;
        assert_eq!(
            refused(bad, StatusCode::BAD_REQUEST).await,
            "invalid_mfa_code"
        );
        let typed = codes[1].to_uppercase();
        let off = post(
            &app,
            "/api/v1/auth/mfa/disable",
            Some(&token),
            json!({"code": typed}),
        )
        .await;
        assert_eq!(off.status(), StatusCode::OK);
        assert_eq!(json_body(off).await["message"], "MFA disabled");
        assert_eq!(
            me_status(&app, &mfa_session).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(me_status(&app, &token).await, StatusCode::OK);
        // The account shows MFA off at once (`/users/me` is cached; the
        // disable forgot the cached flag).
        let me = me_json(&app, &token).await;
        assert_eq!(me["mfa_enabled"], false);
        let twice = post(
            &app,
            "/api/v1/auth/mfa/disable",
            Some(&token),
            json!({"code": codes[2]}),
        )
        .await;
        assert_eq!(
            refused(twice, StatusCode::BAD_REQUEST).await,
            "mfa_not_enabled"
        );
        // An MFA token from before is worthless now, and login is one step.
        let stale = mfa_login(&app, &pending3, &codes[2]).await;
        assert_eq!(
            refused(stale, StatusCode::UNAUTHORIZED).await,
            "invalid_mfa_token"
        );
        let (body, cookie) = login(&app, email).await;
        assert!(cookie && body["token_type"] == "bearer");
    }
}

#[tokio::test]
async fn disable_with_a_totp_code() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (token, mut phone, _) = enable_mfa(&app, "carol@example.com").await;
        let replay = post(
            &app,
            "/api/v1/auth/mfa/disable",
            Some(&token),
            json!({"code": phone.last_code()}),
        )
        .await;
        assert_eq!(
            refused(replay, StatusCode::BAD_REQUEST).await,
            "invalid_mfa_code"
        );
        let code = phone.fresh_code().await;
        let off = post(
            &app,
            "/api/v1/auth/mfa/disable",
            Some(&token),
            json!({"code": code}),
        )
        .await;
        assert_eq!(off.status(), StatusCode::OK);
        // Re-enabling works with a brand-new secret.
        let setup = post(
            &app,
            "/api/v1/auth/mfa/setup",
            Some(&token),
            json!({"current_password": PASSWORD}),
        )
        .await;
        assert_eq!(setup.status(), StatusCode::OK);
    }
}
