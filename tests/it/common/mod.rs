//! Test support shared by the black-box tests: `spawn_app` runs the real
//! server (core's `App` behind `tradesense-server`'s accept loop) on
//! `127.0.0.1:0` over a throwaway database; `wait_until` waits for what a
//! test can observe.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tradesense_core::store::testing::TestDatabase;
use tradesense_server::App;
use tradesense_server::Settings;
use tradesense_server::{Server, ShutdownHandle};

/// Which database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        backends.push(Backend::Postgres);
    }
    backends
}

/// A running server and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub shutdown: ShutdownHandle,
    pub task: Option<JoinHandle<()>>,
    pub database: TestDatabase,
}

impl TestApp {
    /// A fresh database of `backend` and a server over it, with the default
    /// test settings (rate limits off).
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// As [`spawn`](Self::spawn), letting the test adjust the settings.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let database = match backend {
            Backend::Sqlite => TestDatabase::sqlite().await,
            Backend::Postgres => TestDatabase::postgres()
                .await
                .expect("TEST_DATABASE_URL is set for the Postgres backend"),
        };
        let mut settings = Settings::for_tests(&database.url);
        configure(&mut settings);
        let app = App::with_store(settings, database.store.clone());
        Self::spawn_app(database, app).await
    }

    /// A server running an `App` the test composed itself (e.g. with
    /// adjusted layers) over `database`.
    pub async fn spawn_app(database: TestDatabase, app: App) -> Self {
        let server = Server::bind(app).await.expect("bind 127.0.0.1:0");
        let addr = server.local_addr();
        let shutdown = server.shutdown_handle();
        let task = tokio::spawn(server.run_until(std::future::pending()));
        Self {
            addr,
            base: format!("http://{addr}"),
            client: client(),
            shutdown,
            task: Some(task),
            database,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A client without a cookie jar (tests set cookies explicitly) that never
/// follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("a reqwest client")
}

/// Reads a JSON body, asserting the content type.
pub async fn json_body(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("a JSON body")
}

/// The id of a session of `token`'s user from `GET /users/me/sessions`:
/// `token`'s own (`current`) or another one.
pub async fn session_id(app: &TestApp, token: &str, current: bool) -> String {
    let list = json_body(
        app.client
            .get(app.url("/api/v1/users/me/sessions"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == current)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls `condition` until it holds or `within` has passed, and says
/// whether it held. This is how a test waits for something to happen
/// elsewhere (a server to listen, a broadcast to arrive, a shutdown to
/// begin): never a fixed sleep, which is either too short on a loaded
/// machine or wasted time on an idle one. The caller asserts on the result
/// with a message showing the state it saw.
#[must_use = "assert that the condition came true"]
pub async fn wait_until(within: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    // Often enough to add no noticeable latency, rarely enough to leave the
    // machine to the code under test.
    const POLL: Duration = Duration::from_millis(10);
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}
