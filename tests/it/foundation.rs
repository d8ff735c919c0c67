//! Black-box tests of the foundation: health, readiness, request ids, error
//! shapes, graceful shutdown, start-up refusal without production secrets.

use crate::common::{Backend, TestApp, backends, json_body, wait_until};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    // A request that is mid-flight (head sent, body still to come) when the
    // shutdown starts must still be answered. (A route that reads its body:
    // one that does not may answer before the body arrives.) Spoken by hand
    // for `Expect: 100-continue`: the server's `100 Continue` is the sign
    // that the handler has the request and is reading its body.
    let body = br#"{"email": "late@example.com", "password": "x"}"#;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nhost: {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\
         expect: 100-continue\r\n\r\n",
        app.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let interim = read_head(&mut stream).await;
    assert!(interim.starts_with("HTTP/1.1 100 "), "{interim}");

    app.shutdown.shutdown();
    // The shutdown has begun once the listener is closed.
    let closed = wait_until(Duration::from_secs(10), async || {
        TcpStream::connect(app.addr).await.is_err()
    })
    .await;
    assert!(closed, "the listener still accepts after the shutdown");

    stream.write_all(body).await.unwrap();
    // Read to the end: the server also closes the connection after it.
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the in-flight request is answered and its connection closed")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 401 "), "{response}");
    app.stop().await;
    // The listener is closed: new connections are refused.
    assert!(app.client.get(app.url("/health")).send().await.is_err());
}

/// Reads one response head (up to the blank line) and no further.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("a response head within 10 s")
            .unwrap();
        assert_eq!(read, 1, "connection closed mid-head: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
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
