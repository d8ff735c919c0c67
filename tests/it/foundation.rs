//! Black-box tests of the foundation: health, readiness, request ids, error
//! shapes, graceful shutdown, start-up refusal without production secrets.

use crate::common::{Backend, TestApp, backends, json_body};
use std::time::Duration;

#[tokio::test]
async fn health_and_ready_on_every_backend() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let response = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-process-time"));
        let body = json_body(response).await;
        assert_eq!(body["status"], "ok");
        assert_eq!(body["service"], "tradesense-backend");

        let response = app
            .client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{backend:?}");
        let body = json_body(response).await;
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"]["database"], "ok");
    }
}

#[tokio::test]
async fn ready_is_503_when_the_database_is_gone() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.database.store.close().await;
        let response = app
            .client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "{backend:?}");
        let text = response.text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["status"], "not ready");
        assert!(
            body["checks"]["database"]
                .as_str()
                .unwrap()
                .starts_with("error")
        );
        assert!(
            !text.contains("postgres://") && !text.contains("sqlite://"),
            "{text}"
        );
        // Liveness does not touch the database.
        let response = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "client-id.1_2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-id.1_2");
    let response = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "not sane!")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn error_shapes_are_problem_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers().contains_key("x-request-id"));
    let body = json_body(response).await;
    assert_eq!(body["status"], 404);
    assert_eq!(body["code"], "not_found");
    assert!(body["detail"].is_string());

    let response = app.client.delete(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_eq!(json_body(response).await["code"], "method_not_allowed");

    let big = vec![b'x'; 1024 * 1024 + 1];
    let response = app
        .client
        .post(app.url("/health"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(json_body(response).await["code"], "payload_too_large");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    // A request that is mid-flight (headers sent, body still streaming) when
    // the shutdown starts must still be answered. (A route that reads its
    // body: one that does not may answer before the body arrives.)
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream(rx));
    let request = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(body)
        .send();
    let pending = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.shutdown.shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.send(Ok(
        br#"{"email": "late@example.com", "password": "x"}"#.to_vec()
    ))
    .await
    .unwrap();
    drop(tx);
    let response = pending
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 401);
    app.stop().await;
    // The listener is closed: new connections are refused.
    assert!(app.client.get(app.url("/health")).send().await.is_err());
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn a_request_over_the_deadline_is_a_503_problem() {
    // Registration hashes a password (tens of milliseconds): far over 1 ms.
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.request_timeout = Duration::from_millis(1);
    })
    .await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&serde_json::json!({
            "email": "slow@example.com",
            "password": "correct horse battery staple 42",
            "full_name": "Slow",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(json_body(response).await["code"], "service_unavailable");
}
