//! Putting TradeSense's `AuthLayer` in front of an axum `Router` and reading
//! the `Principal` with the extractor of core's `axum` feature.
//!
//! Run: `cargo run --example embed_auth_axum` — it creates a demo user and
//! session in a throwaway SQLite database, prints a bearer token, and serves
//! `http://127.0.0.1:3002/whoami` until Ctrl-C. The same token works as the
//! `auth-token` cookie.

use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use tradesense_core::auth::{AuthLayer, Authenticator, Principal, Sessions, TokenKeys};
use tradesense_core::cache::{Cache, CacheConfig};
use tradesense_core::store::SqlStore;
use tradesense_core::users::{NewUser, UserStore};

/// A handler that needs the caller: the extractor reads the `Principal` the
/// layer inserted.
async fn whoami(principal: Principal) -> String {
    format!(
        "{{\"user_id\":\"{}\",\"session_id\":\"{}\"}}",
        principal.user_id, principal.session_id
    )
}

/// The axum app: public `/` plus protected routes behind the layer.
pub fn app(auth: Authenticator) -> Router {
    let protected = Router::new()
        .route("/whoami", get(whoami))
        .layer(AuthLayer::new(auth));
    Router::new()
        .route("/", get(|| async { "public" }))
        .merge(protected)
}

/// A throwaway database with a demo user; returns the authenticator, a
/// token of a live session, and the temp dir keeping the database alive.
pub async fn demo() -> anyhow::Result<(Authenticator, String, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let store =
        SqlStore::connect_and_migrate(&tradesense_core::store::DbOptions::new(&url)).await?;
    let keys = TokenKeys::new(
        b"example-secret-example-secret-0123",
        &[],
        Duration::from_secs(3600),
    );
    let sessions = Sessions::new(
        Arc::new(store.clone()),
        &Cache::in_process(CacheConfig::default()),
    );
    let auth = Authenticator::new(keys, sessions);
    let user = store
        .create_user(NewUser {
            email: "demo@example.com".parse().unwrap(),
            password_hash: "!".into(),
            full_name: "Demo".into(),
        })
        .await?;
    let token = auth
        .start_session(user.id, Some("example".into()), None)
        .await?;
    Ok((auth, token, dir))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (auth, token, _dir) = demo().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!("curl -H 'Authorization: Bearer {token}' http://127.0.0.1:3002/whoami");
    axum::serve(listener, app(auth))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_layer_guards_the_router_and_the_extractor_reads_the_principal() {
        let (auth, token, _dir) = demo().await.unwrap();
        let app = app(auth.clone());

        let public = app
            .clone()
            .oneshot(Request::new(Body::empty()))
            .await
            .unwrap();
        assert_eq!(public.status(), 200);

        let anonymous = Request::builder()
            .uri("/whoami")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(anonymous).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );

        for (name, value) in [
            ("authorization", format!("Bearer {token}")),
            ("cookie", format!("auth-token={token}")),
        ] {
            let request = Request::builder()
                .uri("/whoami")
                .header(name, value)
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200, "{name}");
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            assert!(String::from_utf8_lossy(&body).contains("session_id"));
        }
    }
}
