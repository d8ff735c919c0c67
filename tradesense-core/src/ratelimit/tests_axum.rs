//! The layer inside a real axum `Router`: per-client buckets in process
//! (two `ConnectInfo` addresses), and over a loopback socket served with
//! `into_make_service_with_connect_info`.

use super::*;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// A stranger's app: one route answering with the client the limiter
/// resolved, limited to `per_minute` per client.
fn app(per_minute: u32) -> Router {
    Router::new()
        .route(
            "/things/{id}",
            get(|client: Option<ClientIp>| async move {
                client.map_or_else(|| "-".to_owned(), |ClientIp(ip)| ip.to_string())
            }),
        )
        .layer(KeyedRateLimitLayer::new(Limiter::per_minute(
            "api", per_minute,
        )))
}

async fn call(app: &Router, peer: &str) -> (StatusCode, String) {
    let mut request = Request::get("/things/1").body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn two_clients_have_two_buckets() {
    let app = app(2);
    let alice = "198.51.100.1:40000";
    let bob = "198.51.100.2:40000";
    assert_eq!(
        call(&app, alice).await,
        (StatusCode::OK, "198.51.100.1".into())
    );
    assert_eq!(call(&app, alice).await.0, StatusCode::OK);
    assert_eq!(call(&app, alice).await.0, StatusCode::TOO_MANY_REQUESTS);
    // Bob is untouched by Alice's spending; another port is still Alice.
    assert_eq!(
        call(&app, bob).await,
        (StatusCode::OK, "198.51.100.2".into())
    );
    assert_eq!(
        call(&app, "198.51.100.1:40001").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// One HTTP/1.1 request on its own connection: the status and the body.
async fn get_over_socket(addr: SocketAddr) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /things/1 HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[tokio::test]
async fn served_with_connect_info_the_peer_is_the_client() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app(2).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    // The listener is bound before the first connect: no wait needed.
    let first = get_over_socket(addr).await;
    assert_eq!(first, (200, "127.0.0.1".to_owned()), "the peer, not `-`");
    assert_eq!(get_over_socket(addr).await.0, 200);
    // New connections (new source ports) are still the same client.
    assert_eq!(get_over_socket(addr).await.0, 429);
    server.abort();
}
