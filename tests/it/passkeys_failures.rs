//! Passkeys black-box, the refusals: replays, a counter that goes
//! backwards, another user's challenge, an expired challenge, a phishing
//! origin, malformed credentials (422 naming the field, never 500),
//! simultaneous finishes of one ceremony, and the credential-route rules
//! of the login (the origin rule, the auth rate limit).

use crate::common::{TestApp, backends, json_body};
use crate::passkeys_support::*;
use reqwest::StatusCode;
use serde_json::json;

async fn invalid(response: reqwest::Response, status: StatusCode) {
    let body = problem(response, status).await;
    assert_eq!(body["code"], "invalid_passkey", "{body}");
}

#[tokio::test]
async fn registration_refusals() {
    for backend in backends() {
        let app = spawn(backend).await;
        let ada = user(&app, "ada@example.com").await;
        let eve = user(&app, "eve@example.com").await;
        let mut phone = phone();
        let (challenge_id, options) = register_start(&app.base, &ada).await;
        let credential = phone.create(&options).unwrap();

        // Another user's challenge: refused, and not spent.
        invalid(
            register_finish(&app.base, &eve, &challenge_id, &credential).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        // A phishing page's origin: refused (and the challenge spent).
        let phished = from_origin(&credential, "http://localhost:6666");
        invalid(
            register_finish(&app.base, &ada, &challenge_id, &phished).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        let (challenge_id, options) = register_start(&app.base, &ada).await;
        let mut phone = crate::passkeys_support::phone();
        let credential = phone.create(&options).unwrap();
        let response = register_finish(&app.base, &ada, &challenge_id, &credential).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        // Replayed: the challenge worked once.
        invalid(
            register_finish(&app.base, &ada, &challenge_id, &credential).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        // An unknown challenge.
        let unknown = uuid::Uuid::new_v4().to_string();
        invalid(
            register_finish(&app.base, &ada, &unknown, &credential).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        // No user verification.
        let (challenge_id, options) = register_start(&app.base, &ada).await;
        let mut lazy = crate::passkeys_support::phone();
        lazy.verifies_user = false;
        let credential = lazy.create(&options).unwrap();
        invalid(
            register_finish(&app.base, &ada, &challenge_id, &credential).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
}

#[tokio::test]
async fn login_refusals() {
    for backend in backends() {
        let (app, ada, mut phone) = with_ada_passkey(backend).await;

        // Replay of a whole login.
        let (challenge_id, options) = login_start(&app.base).await;
        let assertion = phone.get(&options).unwrap();
        assert_eq!(
            login_finish(&app.base, &challenge_id, &assertion)
                .await
                .status(),
            StatusCode::OK
        );
        invalid(
            login_finish(&app.base, &challenge_id, &assertion).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        // The assertion on a fresh challenge: signed for another one.
        let (fresh, _) = login_start(&app.base).await;
        invalid(
            login_finish(&app.base, &fresh, &assertion).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        // A counter that went backwards (a cloned key).
        phone.set_counter(0);
        invalid(
            passkey_login(&app.base, &mut phone).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        phone.set_counter(100);
        assert_eq!(
            passkey_login(&app.base, &mut phone).await.status(),
            StatusCode::OK
        );
        // A phishing origin.
        let (challenge_id, options) = login_start(&app.base).await;
        let assertion = from_origin(&phone.get(&options).unwrap(), "http://localhost:6666");
        invalid(
            login_finish(&app.base, &challenge_id, &assertion).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        // A credential this server never registered.
        let mut stranger = crate::passkeys_support::phone();
        let options = json!({
            "rp": {"id": "localhost", "name": "x"},
            "user": {"id": "AAAAAAAAAAAAAAAAAAAAAA", "name": "x", "displayName": "x"},
            "challenge": "AAAA",
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        });
        stranger.create(&options).unwrap();
        invalid(
            passkey_login(&app.base, &mut stranger).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        // A registration challenge does not finish a login.
        let (challenge_id, options) = register_start(&app.base, &ada).await;
        let mut laptop = crate::passkeys_support::phone();
        laptop.create(&options).unwrap();
        let (_, login_options) = login_start(&app.base).await;
        let assertion = phone.get(&login_options).unwrap();
        invalid(
            login_finish(&app.base, &challenge_id, &assertion).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
}

/// Expiry after the TTL: a second instance over the same database whose
/// challenges die at once (the TTL is the only difference; nobody waits
/// five minutes), so one started there cannot be finished anywhere.
#[tokio::test]
async fn an_expired_challenge_is_refused() {
    for backend in backends() {
        let (app, ada, mut phone) = with_ada_passkey(backend).await;
        let instant = sibling(&app, |s| {
            s.passkey_challenge_ttl = std::time::Duration::ZERO
        })
        .await;
        let (challenge_id, options) = login_start(&instant).await;
        let assertion = phone.get(&options).unwrap();
        invalid(
            login_finish(&app.base, &challenge_id, &assertion).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        let (challenge_id, options) = register_start(&instant, &ada).await;
        let credential = crate::passkeys_support::phone().create(&options).unwrap();
        invalid(
            register_finish(&app.base, &ada, &challenge_id, &credential).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        // The same steps within the TTL pass.
        assert_eq!(
            passkey_login(&app.base, &mut phone).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn malformed_credentials_are_422_naming_the_field() {
    for backend in backends() {
        let (app, ada) = with_ada(backend).await;
        let mut phone = phone();
        let (challenge_id, options) = register_start(&app.base, &ada).await;
        let good = phone.create(&options).unwrap();
        let cases = [
            (
                "/response/clientDataJSON",
                json!("not base64url!"),
                "credential.response.clientDataJSON",
            ),
            (
                "/response/attestationObject",
                json!(17),
                "credential.response.attestationObject",
            ),
            ("/type", json!("password"), "credential.type"),
            ("/id", json!("AAAA"), "credential.id"),
        ];
        for (pointer, value, field) in cases {
            let mut credential = good.clone();
            *credential.pointer_mut(pointer).unwrap() = value;
            let response = register_finish(&app.base, &ada, &challenge_id, &credential).await;
            let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(body["errors"][0]["field"], field, "{body}");
        }
        let no_credential = post_at(
            &app.base,
            "/api/v1/auth/passkeys/register/finish",
            Some(&ada),
            json!({"challenge_id": challenge_id}),
        )
        .await;
        problem(no_credential, StatusCode::UNPROCESSABLE_ENTITY).await;
        let bad_id = register_finish(&app.base, &ada, "not-a-uuid", &good).await;
        let body = problem(bad_id, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], "challenge_id", "{body}");
        // None of that spent the challenge.
        assert_eq!(
            register_finish(&app.base, &ada, &challenge_id, &good)
                .await
                .status(),
            StatusCode::CREATED
        );
        // The login's credential too.
        let (challenge_id, options) = login_start(&app.base).await;
        let mut assertion = phone.get(&options).unwrap();
        assertion["response"]["signature"] = json!({"not": "a string"});
        let body = problem(
            login_finish(&app.base, &challenge_id, &assertion).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(
            body["errors"][0]["field"], "credential.response.signature",
            "{body}"
        );
    }
}

/// Simultaneous finishes of one ceremony: exactly one succeeds.
#[tokio::test]
async fn simultaneous_finishes_succeed_once() {
    for backend in backends() {
        let (app, ada) = with_ada(backend).await;
        let mut phone = phone();
        let (challenge_id, options) = register_start(&app.base, &ada).await;
        let credential = phone.create(&options).unwrap();
        let statuses = futures_util::future::join_all(
            (0..6).map(|_| register_finish(&app.base, &ada, &challenge_id, &credential)),
        )
        .await
        .into_iter()
        .map(|r| r.status())
        .collect::<Vec<_>>();
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::CREATED)
                .count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::CREATED || *s == StatusCode::BAD_REQUEST),
            "{statuses:?}"
        );

        let (challenge_id, options) = login_start(&app.base).await;
        let assertion = phone.get(&options).unwrap();
        let statuses = futures_util::future::join_all(
            (0..6).map(|_| login_finish(&app.base, &challenge_id, &assertion)),
        )
        .await
        .into_iter()
        .map(|r| r.status())
        .collect::<Vec<_>>();
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
            "{statuses:?}"
        );
    }
}

/// `/passkeys/login/*` are credential routes: a foreign `Origin` is `403`
/// whatever the body, and the strict auth limit applies.
#[tokio::test]
async fn the_login_routes_are_credential_routes() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |s| {
            with_frontend(s);
            s.auth_rate_limit_per_minute = 3;
        })
        .await;
        for path in [
            "/api/v1/auth/passkeys/login/start",
            "/api/v1/auth/passkeys/login/finish",
        ] {
            let response = app
                .client
                .post(app.url(path))
                .header("origin", "https://evil.example")
                .header("content-type", "text/plain")
                .body("whatever")
                .send()
                .await
                .unwrap();
            assert_eq!(
                problem(response, StatusCode::FORBIDDEN).await["code"],
                "csrf_origin_mismatch"
            );
        }
        // Those two spent the budget of 3 with this one: the next is 429.
        let response = post_at(
            &app.base,
            "/api/v1/auth/passkeys/login/start",
            None,
            json!({}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().contains_key("ratelimit-limit"));
        let response = post_at(
            &app.base,
            "/api/v1/auth/passkeys/login/start",
            None,
            json!({}),
        )
        .await;
        assert_eq!(json_body(response).await["code"], "rate_limited");
    }
}
