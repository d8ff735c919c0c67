//! Shared by the MFA black-box tests: an independent TOTP (RFC 4226/6238
//! with hmac + sha1, never totp-rs) and the HTTP steps of the MFA flow.

use crate::common::{TestApp, json_body};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::Sha1;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---- an independent TOTP -------------------------------------------------

/// HOTP (RFC 4226 §5.3) truncated to `digits`.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
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
pub fn base32_decode(input: &str) -> Vec<u8> {
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

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The user's authenticator app: hands out codes for steps never used
/// before, waiting for the next 30-second step when it must (a code is
/// accepted once per step, and only within ±1 step of now).
pub struct Authenticator {
    key: Vec<u8>,
    pub last_step: Option<u64>,
}

impl Authenticator {
    pub fn new(secret_base32: &str) -> Self {
        Self {
            key: base32_decode(secret_base32),
            last_step: None,
        }
    }

    pub fn code_at_step(&self, step: u64) -> String {
        hotp(&self.key, step, 6)
    }

    /// A code for an unused step: the current one, or the next one if the
    /// current was used (still inside the server's window), else waits.
    pub async fn fresh_code(&mut self) -> String {
        loop {
            let current = unix_now() / 30;
            let step = self
                .last_step
                .map_or(current, |last| (last + 1).max(current));
            if step <= current + 1 {
                self.last_step = Some(step);
                return self.code_at_step(step);
            }
            // Time passing is the point, not a synchronisation: a code is
            // good once per 30-second step, so a third one inside a step
            // exists only when the clock reaches the next. Polls the clock.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The code that was last handed out (for replays).
    pub fn last_code(&self) -> String {
        self.code_at_step(self.last_step.expect("a code was handed out"))
    }
}

// ---- HTTP helpers ----------------------------------------------------------

pub const PASSWORD: &str = "plinth-Marmalade-47-orbit";

pub async fn post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

pub async fn register(app: &TestApp, email: &str) {
    let body = json!({"email": email, "password": PASSWORD, "full_name": "Alice"});
    let response = post(app, "/api/v1/auth/register", None, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// `/login`: the JSON answer and whether a cookie was set.
pub async fn login(app: &TestApp, email: &str) -> (Value, bool) {
    let body = json!({"email": email, "password": PASSWORD});
    let response = post(app, "/api/v1/auth/login", None, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers().contains_key("set-cookie");
    (json_body(response).await, cookie)
}

pub async fn access_token(app: &TestApp, email: &str) -> String {
    let (body, cookie) = login(app, email).await;
    assert!(cookie);
    body["access_token"].as_str().unwrap().to_owned()
}

pub async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// The problem `code` of a refusal, after checking its status.
pub async fn refused(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    json_body(response).await["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Registers `email`, enables MFA; returns (access token, app, recovery codes).
pub async fn enable_mfa(app: &TestApp, email: &str) -> (String, Authenticator, Vec<String>) {
    register(app, email).await;
    let token = access_token(app, email).await;
    let setup = post(
        app,
        "/api/v1/auth/mfa/setup",
        Some(&token),
        json!({"current_password": PASSWORD}),
    )
    .await;
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

pub async fn mfa_token(app: &TestApp, email: &str) -> String {
    let (body, cookie) = login(app, email).await;
    assert!(!cookie, "no auth cookie before the second factor");
    assert_eq!(body["mfa_required"], true);
    assert_eq!(body["token_type"], "mfa");
    assert!(body.get("access_token").is_none());
    body["mfa_token"].as_str().unwrap().to_owned()
}

pub async fn mfa_login(app: &TestApp, token: &str, code: &str) -> reqwest::Response {
    let body = json!({"mfa_token": token, "code": code});
    post(app, "/api/v1/auth/mfa/login", None, body).await
}
