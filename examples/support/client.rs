//! What the two `embed_auth_*` examples' tests do as an HTTP client of the
//! notes service: register and log in under `/identity`, taking the auth
//! cookie from `Set-Cookie` and the bearer token from the body.

use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};

/// The test account.
pub const EMAIL: &str = "ada@example.com";
/// Its password (strong enough for the registration's strength check).
pub const PASSWORD: &str = "correct horse battery staple 42";

/// A client without a cookie jar: the tests carry the cookie by hand.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a reqwest client")
}

/// Registers [`EMAIL`] at `base`.
pub async fn register(http: &reqwest::Client, base: &str) {
    let response = http
        .post(format!("{base}/identity/register"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["email"], EMAIL);
}

/// Logs [`EMAIL`] in at `base`; returns the auth cookie as a `Cookie`
/// header (`name=value`) and the body's bearer token (the same token,
/// delivered both ways).
pub async fn login(http: &reqwest::Client, base: &str) -> (String, String) {
    let response = http
        .post(format!("{base}/identity/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set_cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.contains("HttpOnly"))
        .expect("an httpOnly auth cookie")
        .to_owned();
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
    assert!(
        cookie
            .split_once('=')
            .is_some_and(|(_, value)| !value.is_empty()),
        "{set_cookie}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    (cookie, body["access_token"].as_str().unwrap().to_owned())
}

/// The client address the service recorded for the session of `bearer`
/// (`/identity/me/sessions`): what the accept loop told it about the peer.
pub async fn session_ip(http: &reqwest::Client, base: &str, bearer: &str) -> Value {
    let response = http
        .get(format!("{base}/identity/me/sessions"))
        .header(reqwest::header::AUTHORIZATION, bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.unwrap();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let current = items.iter().find(|session| session["current"] == true);
    current.expect("the current session is listed")["ip"].clone()
}
