//! The trading scenarios over real HTTP against the real server, with users
//! who registered and logged in (bearer tokens through the `AuthLayer`), on
//! every configured backend.

use crate::common::{TestApp, backends};
use crate::trading_scenarios::*;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// Users of `app`: each registers and logs in with a fresh email.
fn http_users(app: &TestApp) -> UserFactory {
    let (client, base) = (app.client.clone(), app.base.clone());
    Arc::new(move || {
        let (client, base) = (client.clone(), base.clone());
        Box::pin(async move {
            let email = format!("trader-{}@example.com", Uuid::new_v4().simple());
            let password = "correct horse battery staple";
            let response = client
                .post(format!("{base}/api/v1/auth/register"))
                .json(&json!({"email": email, "password": password, "full_name": "Trader"}))
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "register: {}",
                response.status()
            );
            let response = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body: serde_json::Value = response.json().await.unwrap();
            Api {
                transport: Transport::Http { client, base },
                credential: Credential::Bearer(body["access_token"].as_str().unwrap().to_owned()),
            }
        })
    })
}

macro_rules! on_every_backend {
    ($($name:ident => $scenario:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for backend in backends() {
                let app = TestApp::spawn(backend).await;
                let users = http_users(&app);
                $scenario(&users).await;
            }
        }
    )*};
}

on_every_backend! {
    random_histories => |users| random_histories_match_the_fold(users, 6, 30);
    fifty_concurrent_buys => concurrent_buys_all_count;
    pagination => pagination_is_stable_under_inserts;
    validation => validation_names_each_field;
    decimals => decimals_are_exact;
    owner_isolation => other_users_see_nothing;
    portfolios => portfolio_lifecycle;
}

#[tokio::test]
async fn trading_routes_require_authentication() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        for (method, path) in [
            ("GET", "/api/v1/trades"),
            ("POST", "/api/v1/trades"),
            ("GET", "/api/v1/portfolios"),
            (
                "GET",
                "/api/v1/portfolios/00000000-0000-0000-0000-000000000000/positions",
            ),
        ] {
            let response = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .bearer_auth("not-a-token")
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
        }
        let response = app
            .client
            .put(app.url("/api/v1/trades"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    }
}
