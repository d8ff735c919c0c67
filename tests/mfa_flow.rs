//! Issue 4 over HTTP, on every backend: enabling MFA with what an
//! authenticator app sees, logging in with it, losing the phone and getting
//! in with a recovery code, disabling it, and every refusal on the way.
//!
//! TOTP codes are computed here by an independent RFC 4226/6238
//! implementation (hmac + sha1, checked against the RFC 6238 Appendix B
//! vectors below), never by totp-rs, so a bug shared by server and test
//! cannot hide.

mod common;

use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use common::{Backend, TestApp, backends, json_body};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::Sha1;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---- an independent TOTP -------------------------------------------------

/// HOTP (RFC 4226 §5.3) truncated to `digits`.
fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(digits),
        width = digits as usize
    )
}

/// RFC 4648 base32 without padding.
fn base32_decode(input: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u64, 0u32, Vec::new());
    for c in input.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c).expect("base32") as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The user's authenticator app: hands out codes for steps never used
/// before, waiting for the next 30-second step when it must (a code is
/// accepted once per step, and only within ±1 step of now).
struct Authenticator {
    key: Vec<u8>,
    last_step: Option<u64>,
}

impl Authenticator {
    fn new(secret_base32: &str) -> Self {
        Self {
            key: base32_decode(secret_base32),
            last_step: None,
        }
    }

    fn code_at_step(&self, step: u64) -> String {
        hotp(&self.key, step, 6)
    }

    /// A code for an unused step: the current one, or the next one if the
    /// current was used (still inside the server's window), else waits.
    async fn fresh_code(&mut self) -> String {
        loop {
            let current = unix_now() / 30;
            let step = self
                .last_step
                .map_or(current, |last| (last + 1).max(current));
            if step <= current + 1 {
                self.last_step = Some(step);
                return self.code_at_step(step);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The code that was last handed out (for replays).
    fn last_code(&self) -> String {
        self.code_at_step(self.last_step.expect("a code was handed out"))
    }
}

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

// ---- HTTP helpers ----------------------------------------------------------

const PASSWORD: &str = "plinth-Marmalade-47-orbit";

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn register(app: &TestApp, email: &str) {
    let body = json!({"email": email, "password": PASSWORD, "full_name": "Alice"});
    let response = post(app, "/api/v1/auth/register", None, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// `/login`: the JSON answer and whether a cookie was set.
async fn login(app: &TestApp, email: &str) -> (Value, bool) {
    let body = json!({"email": email, "password": PASSWORD});
    let response = post(app, "/api/v1/auth/login", None, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers().contains_key("set-cookie");
    (json_body(response).await, cookie)
}

async fn access_token(app: &TestApp, email: &str) -> String {
    let (body, cookie) = login(app, email).await;
    assert!(cookie);
    body["access_token"].as_str().unwrap().to_owned()
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// The problem `code` of a refusal, after checking its status.
async fn refused(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    json_body(response).await["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Registers `email`, enables MFA; returns (access token, app, recovery codes).
async fn enable_mfa(app: &TestApp, email: &str) -> (String, Authenticator, Vec<String>) {
    register(app, email).await;
    let token = access_token(app, email).await;
    let setup = post(app, "/api/v1/auth/mfa/setup", Some(&token), json!({})).await;
    assert_eq!(setup.status(), StatusCode::OK);
    let setup = json_body(setup).await;
    let mut phone = Authenticator::new(setup["secret"].as_str().unwrap());
    let code = phone.fresh_code().await;
    let verify = post(
        app,
        "/api/v1/auth/mfa/verify",
        Some(&token),
        json!({"code": code}),
    )
    .await;
    assert_eq!(verify.status(), StatusCode::OK);
    let codes = json_body(verify).await["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (token, phone, codes)
}

async fn mfa_token(app: &TestApp, email: &str) -> String {
    let (body, cookie) = login(app, email).await;
    assert!(!cookie, "no auth cookie before the second factor");
    assert_eq!(body["mfa_required"], true);
    assert_eq!(body["token_type"], "mfa");
    assert!(body.get("access_token").is_none());
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn mfa_login(app: &TestApp, token: &str, code: &str) -> reqwest::Response {
    let body = json!({"mfa_token": token, "code": code});
    post(app, "/api/v1/auth/mfa/login", None, body).await
}

// ---- the tests -------------------------------------------------------------

#[tokio::test]
async fn setup_shows_the_secret_uri_and_a_png_qr_code() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        register(&app, "alice@example.com").await;
        let token = access_token(&app, "alice@example.com").await;
        let response = post(&app, "/api/v1/auth/mfa/setup", Some(&token), json!({})).await;
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
        let setup =
            json_body(post(&app, "/api/v1/auth/mfa/setup", Some(&token), json!({})).await).await;
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
        let me = json_body(
            app.client
                .get(app.url("/api/v1/users/me"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(me["mfa_enabled"], true);
        let again = post(&app, "/api/v1/auth/mfa/setup", Some(&token), json!({})).await;
        assert_eq!(
            refused(again, StatusCode::BAD_REQUEST).await,
            "mfa_already_enabled"
        );

        // Password login now stops at the second factor; the MFA token is
        // no access token.
        let pending = mfa_token(&app, email).await;
        assert_eq!(me_status(&app, &pending).await, StatusCode::UNAUTHORIZED);
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
        let setup = post(&app, "/api/v1/auth/mfa/setup", Some(&token), json!({})).await;
        assert_eq!(setup.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_pending_setup_expires() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        register(&app, "dave@example.com").await;
        let token = access_token(&app, "dave@example.com").await;
        let setup =
            json_body(post(&app, "/api/v1/auth/mfa/setup", Some(&token), json!({})).await).await;
        let mut phone = Authenticator::new(setup["secret"].as_str().unwrap());
        // Ten minutes pass (the expiry is moved instead of the clock).
        let past = tradesense_core::store::to_micros(Utc::now() - TimeDelta::seconds(1));
        tradesense_core::with_pool!(app.database.store.db(), |pool| {
            sqlx::query("UPDATE users SET mfa_pending_expires_at = $1")
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
    post(&app, "/api/v1/auth/mfa/setup", Some(&token), json!({})).await;
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
