//! Black-box tests of `/metrics`: scraped from the real server and parsed
//! by a real Prometheus text parser (`prometheus-parse`).
//!
//! The metrics registry is process-global, so figures here accumulate over
//! every test of this binary: assertions are about presence, shape and
//! lower bounds, never exact totals.

use crate::common::{Backend, TestApp, backends, json_body, wait_until};
use prometheus_parse::{Sample, Scrape, Value};
use std::collections::BTreeSet;
use std::time::Duration;

async fn scrape(app: &TestApp) -> Scrape {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("valid exposition")
}

fn samples<'a>(scrape: &'a Scrape, metric: &str) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .collect()
}

fn gauge(scrape: &Scrape, metric: &str) -> f64 {
    match samples(scrape, metric).first().map(|s| &s.value) {
        Some(Value::Gauge(v) | Value::Untyped(v)) => *v,
        other => panic!("{metric}: {other:?}"),
    }
}

/// The paths of the served OpenAPI document: the router's templates.
async fn documented_paths(app: &TestApp) -> BTreeSet<String> {
    let response = app.client.get(app.url("/openapi.json")).send().await;
    let document = json_body(response.unwrap()).await;
    document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn scrape_has_route_templates_histogram_and_process_figures() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        for path in ["/health", "/health", "/health/ready", "/no/such/page"] {
            app.client.get(app.url(path)).send().await.unwrap();
        }
        let scrape = scrape(&app).await;

        let requests = samples(&scrape, "http_requests_total");
        let health = requests
            .iter()
            .find(|s| {
                s.labels.get("endpoint") == Some("/health")
                    && s.labels.get("method") == Some("GET")
                    && s.labels.get("status") == Some("200")
            })
            .expect("GET /health counted under its template");
        assert!(
            matches!(health.value, Value::Counter(n) if n >= 2.0),
            "{health:?}"
        );
        assert!(
            requests
                .iter()
                .any(|s| s.labels.get("endpoint") == Some("unmatched")
                    && s.labels.get("status") == Some("404"))
        );
        assert!(
            requests
                .iter()
                .all(|s| s.labels.get("endpoint") != Some("/no/such/page")),
            "raw paths never become labels"
        );

        let durations = samples(&scrape, "http_request_duration_seconds");
        let ready = durations
            .iter()
            .find(|s| s.labels.get("endpoint") == Some("/health/ready"))
            .expect("a duration histogram for /health/ready");
        match &ready.value {
            Value::Histogram(buckets) => {
                assert!(buckets.len() >= 10, "real buckets: {buckets:?}");
                let inf = buckets.iter().find(|b| b.less_than.is_infinite()).unwrap();
                assert!(inf.count >= 1.0);
                assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count));
            }
            other => panic!("not a histogram: {other:?}"),
        }

        // This very scrape is in flight on an open connection.
        assert!(gauge(&scrape, "http_requests_in_flight") >= 1.0);
        assert!(gauge(&scrape, "http_connections_active") >= 1.0);
        assert!(gauge(&scrape, "process_uptime_seconds") > 0.0);
    }
}

#[tokio::test]
async fn process_cpu_and_memory_are_sampled_off_the_request_path() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // The sampler thread publishes right after start, on its own thread.
    let sampled = wait_until(Duration::from_secs(5), async || {
        !samples(&scrape(&app).await, "process_resident_memory_bytes").is_empty()
    })
    .await;
    assert!(sampled, "process figures never appeared");
    let scrape = scrape(&app).await;
    assert!(gauge(&scrape, "process_resident_memory_bytes") > 1_000_000.0);
    assert!(gauge(&scrape, "process_cpu_usage_percent") >= 0.0);
    assert!(gauge(&scrape, "system_memory_usage_percent") > 0.0);
}

#[tokio::test]
async fn a_thousand_unknown_paths_add_one_label_value() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for i in 0..1000 {
        let response = app
            .client
            .get(app.url(&format!("/scanner/probe-{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
    let scrape = scrape(&app).await;
    let endpoints: BTreeSet<&str> = samples(&scrape, "http_requests_total")
        .iter()
        .filter_map(|s| s.labels.get("endpoint"))
        .collect();
    assert!(endpoints.contains("unmatched"));
    assert!(
        endpoints.iter().all(|e| !e.contains("scanner")),
        "{endpoints:?}"
    );
    // Only route templates plus the one unmatched value. The registry is
    // process-global and the other tests of this binary add the templates
    // they hit, so the bound is the route table itself rather than a count:
    // every label is a documented path, one of the docs page's own
    // (undocumented) routes, or `unmatched`.
    let undocumented = ["unmatched", "/openapi.json", "/docs", "/docs/{*asset}"];
    let templates = documented_paths(&app).await;
    let strays: Vec<&&str> = endpoints
        .iter()
        .filter(|e| !undocumented.contains(*e) && !templates.contains(**e))
        .collect();
    assert!(strays.is_empty(), "not route templates: {strays:?}");
    let unmatched_404: f64 = samples(&scrape, "http_requests_total")
        .iter()
        .filter(|s| {
            s.labels.get("endpoint") == Some("unmatched") && s.labels.get("status") == Some("404")
        })
        .map(|s| match s.value {
            Value::Counter(n) => n,
            _ => 0.0,
        })
        .sum();
    assert!(unmatched_404 >= 1000.0, "{unmatched_404}");
}

#[tokio::test]
async fn json_view_on_request() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.client.get(app.url("/health")).send().await.unwrap();
    let response = app
        .client
        .get(app.url("/metrics"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = json_body(response).await;
    for field in ["cpu_percent", "memory_percent", "disk_percent"] {
        assert!(body["system"][field].is_number(), "{body}");
    }
    assert!(body["application"]["total_requests"].as_u64().unwrap() >= 1);
    assert!(body["application"]["active_connections"].as_i64().unwrap() >= 1);
    assert!(body["application"]["uptime_seconds"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn rate_limit_rejections_are_counted() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.rate_limit_per_minute = 1;
    })
    .await;
    let url = app.url("/api/v1/not-here");
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 429);
    let scrape = scrape(&app).await;
    let rejected = samples(&scrape, "rate_limit_rejections_total")
        .into_iter()
        .find(|s| s.labels.get("scope") == Some("api"))
        .expect("rejections counted by scope");
    assert!(matches!(rejected.value, Value::Counter(n) if n >= 1.0));
}
