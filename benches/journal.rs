//! The journal at scale, black-box over HTTP against the real server on
//! `127.0.0.1` (SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set):
//!
//! - the import rate of a 50 000-row generic CSV (25 000 round trips over
//!   20 symbols), and of the same file again (all duplicates);
//! - with a second file, a 100 000-trade history (50 000 round trips):
//!   `GET /api/v1/analytics/summary` uncached (each request a distinct
//!   query, so the response cache misses) and cached, and the first page
//!   of 50 round trips.
//!
//! Not criterion: one import is seconds long; each figure is printed with
//! its count. `cargo bench --bench journal` (see benches/README.md).

use std::time::{Duration, Instant};
use tradesense_core::store::testing::TestDatabase;
use tradesense_server::{App, Server, Settings};

/// `n` round trips (a buy, then a sell a minute later) per file, one
/// second apart per symbol, starting at `day`.
fn file(round_trips: usize, day: u32) -> String {
    let mut csv = String::from("symbol,side,quantity,price,fees,executed_at,tags\n");
    for i in 0..round_trips {
        let symbol = format!("S{}", i % 20);
        let minute = i / 20;
        let (h, m) = (minute / 60 % 24, minute % 60);
        let d = day as usize + minute / 1440;
        let (buy, sell) = (100 + i % 7, 100 + i % 11);
        let tag = ["breakout", "swing", "scalp"][i % 3];
        csv += &format!("{symbol},buy,10,{buy}.25,1,2026-01-{d:02} {h:02}:{m:02}:00,{tag}\n");
        csv += &format!("{symbol},sell,10,{sell}.5,1,2026-01-{d:02} {h:02}:{m:02}:30,{tag}\n");
    }
    csv
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn run(database: TestDatabase) {
    let backend = format!("{:?}", database.store.backend());
    let mut settings = Settings::for_tests(&database.url);
    settings.max_body_bytes = 16 * 1024 * 1024;
    let server = Server::bind(App::with_store(settings, database.store.clone()))
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run_until(std::future::pending()));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let credentials = serde_json::json!({"email": "bench@example.com",
        "password": "correct horse battery staple", "full_name": "Bench"});
    client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let import = |csv: String| {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        async move {
            let started = Instant::now();
            let response = client
                .post(format!("{base}/api/v1/imports?format=generic"))
                .bearer_auth(&token)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            let status = response.status();
            if !status.is_success() {
                panic!("{status}: {}", response.text().await.unwrap_or_default());
            }
            let report: serde_json::Value = response.json().await.unwrap();
            (started.elapsed(), report)
        }
    };
    let first = file(25_000, 1);
    let (took, report) = import(first.clone()).await;
    let rate = 50_000.0 / took.as_secs_f64();
    println!(
        "{backend}: import 50 000 rows: {took:.2?} ({rate:.0} rows/s), created {}",
        report["created"]
    );
    let (took, report) = import(first).await;
    println!(
        "{backend}: re-import 50 000 rows: {took:.2?} ({:.0} rows/s), duplicates {}",
        50_000.0 / took.as_secs_f64(),
        report["duplicates"]
    );
    let (took, report) = import(file(25_000, 15)).await;
    println!(
        "{backend}: import 50 000 more (history now 100 000 trades): {took:.2?}, created {}",
        report["created"]
    );
    let get = |path: String| {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        async move {
            let started = Instant::now();
            let response = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            let body: serde_json::Value = response.json().await.unwrap();
            (started.elapsed(), body)
        }
    };
    let mut uncached = Vec::new();
    for i in 0..10 {
        // A distinct query each time: the response cache misses.
        let (took, body) = get(format!(
            "/api/v1/analytics/summary?from=2000-01-01T00:00:{i:02}Z"
        ))
        .await;
        assert_eq!(body["round_trips"], 50_000);
        uncached.push(took);
    }
    let mut cached = Vec::new();
    for _ in 0..10 {
        cached.push(
            get("/api/v1/analytics/summary?from=2000-01-01T00:00:00Z".into())
                .await
                .0,
        );
    }
    let mut pages = Vec::new();
    for i in 0..10 {
        let (took, body) = get(format!("/api/v1/round-trips?limit=50&symbol=S{i}")).await;
        assert_eq!(body["items"].as_array().unwrap().len(), 50);
        pages.push(took);
    }
    println!(
        "{backend}: summary over 50 000 round trips (100 000 trades): uncached median {:.2?}, cached median {:.2?}; first page of 50 round trips (uncached) median {:.2?}",
        median(uncached),
        median(cached),
        median(pages)
    );
}

fn main() {
    // `RUST_LOG=tradesense_core::trading=debug` prints each import's phases.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for database in TestDatabase::all().await {
            run(database).await;
        }
    });
}
