//! Shared by the passkey black-box tests: the server with a frontend
//! origin for WebAuthn, the software authenticator playing the browser,
//! and the HTTP steps of both ceremonies.

use crate::common::{Backend, TestApp, client, json_body};
use crate::mfa_support::{PASSWORD, access_token, register};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tradesense_core::passkeys::RelyingParty;
use tradesense_core::passkeys::testing::SoftAuthenticator;
use tradesense_server::{App, Server, Settings};

/// The frontend's origin the tests' relying party names (the API itself
/// listens on 127.0.0.1:<random>; an RP ID cannot be an IP address).
pub const FRONTEND: &str = "http://localhost:5173";

/// Settings with the tests' relying party.
pub fn with_frontend(settings: &mut Settings) {
    settings.relying_party = RelyingParty::new(FRONTEND, None, "TradeSense").unwrap();
}

/// A server whose relying party is [`FRONTEND`].
pub async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, with_frontend).await
}

/// The browser and its platform authenticator at [`FRONTEND`].
pub fn phone() -> SoftAuthenticator {
    SoftAuthenticator::new(FRONTEND)
}

/// Another instance over `app`'s database, configured by `configure` after
/// [`with_frontend`]; its base URL. Runs until the test's runtime ends.
pub async fn sibling(app: &TestApp, configure: impl FnOnce(&mut Settings)) -> String {
    let mut settings = Settings::for_tests(&app.database.url);
    with_frontend(&mut settings);
    configure(&mut settings);
    let app = App::build(settings).await.expect("another instance");
    let server = Server::bind(app).await.expect("bind 127.0.0.1:0");
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run_until(std::future::pending()));
    base
}

/// A registered, signed-in user: the bearer token.
pub async fn user(app: &TestApp, email: &str) -> String {
    register(app, email).await;
    access_token(app, email).await
}

/// `POST base + path` with an optional bearer token.
pub async fn post_at(
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = client().post(format!("{base}{path}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// `/passkeys/register/start` with the right password: `(challenge_id, options)`.
pub async fn register_start(base: &str, token: &str) -> (String, Value) {
    let response = post_at(
        base,
        "/api/v1/auth/passkeys/register/start",
        Some(token),
        json!({"current_password": PASSWORD, "name": "Phone"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_body(response).await;
    (
        body["challenge_id"].as_str().unwrap().to_owned(),
        body["options"].clone(),
    )
}

pub async fn register_finish(
    base: &str,
    token: &str,
    challenge_id: &str,
    credential: &Value,
) -> reqwest::Response {
    post_at(
        base,
        "/api/v1/auth/passkeys/register/finish",
        Some(token),
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
}

/// A server with Ada signed in: the app and her bearer token.
pub async fn with_ada(backend: Backend) -> (TestApp, String) {
    let app = spawn(backend).await;
    let token = user(&app, "ada@example.com").await;
    (app, token)
}

/// As [`with_ada`], with a passkey of hers on the returned authenticator.
pub async fn with_ada_passkey(backend: Backend) -> (TestApp, String, SoftAuthenticator) {
    let (app, token) = with_ada(backend).await;
    let mut authenticator = phone();
    add_passkey(&app, &token, &mut authenticator).await;
    (app, token, authenticator)
}

/// Adds a passkey on `authenticator` for the user of `token`: the passkey object.
pub async fn add_passkey(
    app: &TestApp,
    token: &str,
    authenticator: &mut SoftAuthenticator,
) -> Value {
    let (challenge_id, options) = register_start(&app.base, token).await;
    let credential = authenticator.create(&options).unwrap();
    let response = register_finish(&app.base, token, &challenge_id, &credential).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json_body(response).await
}

/// `/passkeys/login/start`: `(challenge_id, options)`.
pub async fn login_start(base: &str) -> (String, Value) {
    let response = post_at(base, "/api/v1/auth/passkeys/login/start", None, json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    (
        body["challenge_id"].as_str().unwrap().to_owned(),
        body["options"].clone(),
    )
}

pub async fn login_finish(base: &str, challenge_id: &str, credential: &Value) -> reqwest::Response {
    post_at(
        base,
        "/api/v1/auth/passkeys/login/finish",
        None,
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
}

/// A whole passkey login on `authenticator` at `base`.
pub async fn passkey_login(base: &str, authenticator: &mut SoftAuthenticator) -> reqwest::Response {
    let (challenge_id, options) = login_start(base).await;
    let credential = authenticator.get(&options).unwrap();
    login_finish(base, &challenge_id, &credential).await
}

/// The problem's `code`, after checking the status.
pub async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    json_body(response).await
}

pub async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The user's security event types, newest first.
pub async fn event_types(app: &TestApp, token: &str) -> Vec<String> {
    let response = get(app, "/api/v1/users/me/security-events", token).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Replaces the credential JSON's `clientDataJSON` origin by re-encoding it.
pub fn from_origin(credential: &Value, origin: &str) -> Value {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut credential = credential.clone();
    let data = credential["response"]["clientDataJSON"].as_str().unwrap();
    let mut client_data: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(data).unwrap()).unwrap();
    client_data["origin"] = origin.into();
    credential["response"]["clientDataJSON"] =
        URL_SAFE_NO_PAD.encode(client_data.to_string()).into();
    credential
}

/// `DELETE path` (a passkey of the user of `token`) with `current_password`.
pub async fn remove_passkey(
    app: &TestApp,
    path: &str,
    token: String,
    current_password: &str,
) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .json(&json!({"current_password": current_password}))
        .send()
        .await
        .unwrap()
}
