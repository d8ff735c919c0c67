//! Protecting a plain hyper `service_fn` with TradeSense's `AuthLayer`.
//!
//! Run: `cargo run --example embed_auth_hyper` — it creates a demo user and
//! session in a throwaway SQLite database, prints a bearer token, and serves
//! `http://127.0.0.1:3001/whoami` until Ctrl-C:
//!
//! ```text
//! curl -H "Authorization: Bearer <token>" http://127.0.0.1:3001/whoami
//! ```
//!
//! The pieces: [`TokenKeys`] (sign/verify), [`Sessions`] (revocation,
//! answered from a cache), [`Authenticator`] (both), [`AuthLayer`] (the
//! tower layer). The inner service reads the [`Principal`] from the request
//! extensions; requests without a valid token never reach it.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tower::{Layer, Service};
use tradesense_core::auth::{AuthLayer, Authenticator, Principal, Sessions, TokenKeys};
use tradesense_core::cache::{Cache, CacheConfig};
use tradesense_core::store::SqlStore;
use tradesense_core::users::{NewUser, UserStore};

/// The application's own handler: it only ever sees authenticated requests.
async fn whoami<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let principal = request
        .extensions()
        .get::<Principal>()
        .expect("the AuthLayer inserts a Principal");
    let body = format!("{{\"user_id\":\"{}\"}}", principal.user_id);
    Ok(Response::new(Full::from(body)))
}

/// Everything the example builds: the protected service and a demo token.
pub struct Demo {
    /// The authenticator (to start or end sessions).
    pub auth: Authenticator,
    /// A bearer token of a live session of the demo user.
    pub token: String,
    /// Keeps the SQLite file alive.
    _dir: tempfile::TempDir,
}

/// Opens a throwaway database, creates a demo user, starts a session.
pub async fn demo() -> anyhow::Result<Demo> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let store =
        SqlStore::connect_and_migrate(&tradesense_core::store::DbOptions::new(&url)).await?;
    // Any secret of 32+ bytes; a real service reads it from its config.
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
            // A login endpoint would store an argon2id hash here.
            password_hash: "!".into(),
            full_name: "Demo".into(),
        })
        .await?;
    let token = auth
        .start_session(user.id, Some("example".into()), None)
        .await?;
    Ok(Demo {
        auth,
        token,
        _dir: dir,
    })
}

/// The plain `service_fn`, behind the `AuthLayer`.
pub fn protected_service<B: Send + 'static>(
    auth: Authenticator,
) -> impl Service<Request<B>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send> + Clone
{
    AuthLayer::new(auth).layer(tower::service_fn(whoami::<B>))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let demo = demo().await?;
    let service = protected_service(demo.auth.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!(
        "curl -H 'Authorization: Bearer {}' http://127.0.0.1:3001/whoami",
        demo.token
    );
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let service = TowerToHyperService::new(service.clone());
                tokio::spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_layer_guards_the_service_fn() {
        let demo = demo().await.unwrap();
        let service = protected_service::<Full<Bytes>>(demo.auth.clone());

        let anonymous = service
            .clone()
            .oneshot(Request::new(Full::default()))
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");

        let request = Request::builder()
            .header("authorization", format!("Bearer {}", demo.token))
            .body(Full::default())
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("user_id"));
    }
}
