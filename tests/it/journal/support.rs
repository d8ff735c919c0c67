//! A logged-in user's client of the real server.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// One user of a running app.
pub struct User {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl User {
    /// Registers and logs in a fresh user of `app`.
    pub async fn new(app: &TestApp) -> Self {
        let (client, base) = (app.client.clone(), app.base.clone());
        let email = format!("journal-{}@example.com", Uuid::new_v4().simple());
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
        let body: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        Self {
            client,
            base,
            token,
        }
    }

    /// Sends `body` (JSON) and returns the status and the JSON answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }

    /// Sends a CSV body.
    pub async fn send_csv(&self, path: &str, csv: impl Into<String>) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "text/csv")
            .body(csv.into())
            .send()
            .await
            .unwrap();
        read(response).await
    }

    /// As [`send`](Self::send), asserting success.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.send(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None).await
    }

    pub async fn portfolio(&self, name: &str) -> String {
        let body = self
            .ok(
                Method::POST,
                "/api/v1/portfolios",
                Some(json!({ "name": name })),
            )
            .await;
        body["id"].as_str().unwrap().to_owned()
    }

    /// The first 500 trades matching `query` (`symbol=X&...`), newest first.
    pub async fn trades(&self, query: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/trades?limit=500&{query}")).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Records a trade; `at` is RFC 3339.
    pub async fn trade(&self, body: Value) -> Value {
        self.ok(Method::POST, "/api/v1/trades", Some(body)).await
    }
}

async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Runs `scenario` once per configured backend on a fresh app.
pub async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in crate::common::backends() {
        scenario(TestApp::spawn(backend).await).await;
    }
}
