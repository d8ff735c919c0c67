//! Request metrics and the Prometheus `/metrics` exposition.
//!
//! Figures are recorded through the [`metrics`] facade, so any module (the
//! cache's `cache_hits_total{namespace}`, the rate limiter's rejections) and
//! any embedding application can emit them without knowing the exporter.
//! [`Metrics::global`] installs `metrics-exporter-prometheus` as the
//! process-wide recorder and exposes whatever was recorded.
//!
//! Why `metrics` + `metrics-exporter-prometheus` rather than
//! `prometheus-client`: the facade decouples emitters from the registry
//! (other modules just call `counter!`), and the exporter renders the text
//! format without pulling its HTTP listener (default features off).
//!
//! The recorder is **process-global** (that is how the `metrics` facade
//! works): it is installed once, on first use, behind a `OnceLock`. Several
//! `App`s (the server's composition) in one process (tests) therefore share one set
//! of figures. A background thread (not a tokio task: it must outlive any
//! one runtime) runs the exporter's upkeep, which keeps histograms bounded,
//! and samples CPU and memory with `sysinfo`, off the request path.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `endpoint`, `status` |
//! | `http_request_duration_seconds` | histogram | `method`, `endpoint` |
//! | `http_requests_in_flight` | gauge | |
//! | `http_connections_active` | gauge | |
//! | `process_uptime_seconds` | gauge | |
//! | `process_cpu_usage_percent` | gauge | |
//! | `process_resident_memory_bytes` | gauge | |
//! | `system_cpu_usage_percent`, `system_memory_usage_percent`, `system_disk_usage_percent` | gauge | |
//! | `rate_limit_rejections_total` | counter | `scope` |
//! | whatever else is recorded (`cache_hits_total{namespace}`, ...) | | |

mod exposition;
mod layer;
mod process;

pub use layer::{MetricsFuture, MetricsLayer, RecordMetrics};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `http_requests_total{method,endpoint,status}`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// `http_request_duration_seconds{method,endpoint}` (histogram).
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";
/// `http_requests_in_flight` (gauge).
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "http_requests_in_flight";
/// `http_connections_active` (gauge).
pub const HTTP_CONNECTIONS_ACTIVE: &str = "http_connections_active";
/// `process_uptime_seconds` (gauge).
pub const PROCESS_UPTIME: &str = "process_uptime_seconds";
/// The `endpoint` label of a request without a route template (an unknown
/// path, or a [`MetricsLayer`] placed where it cannot see the routing).
pub const UNMATCHED_ENDPOINT: &str = "unmatched";
/// `rate_limit_rejections_total{scope}` (counter).
pub const RATE_LIMIT_REJECTIONS: &str = "rate_limit_rejections_total";

/// Histogram buckets of request durations, in seconds: fine below 100 ms
/// where an API lives, coarse up to the request timeout.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often the background thread runs upkeep and samples the process.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Process-wide counters the JSON view needs as plain numbers (the
/// Prometheus registry has no cheap read-back API).
struct Runtime {
    total_requests: AtomicU64,
    active_connections: AtomicI64,
}

static RUNTIME: Runtime = Runtime {
    total_requests: AtomicU64::new(0),
    active_connections: AtomicI64::new(0),
};

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

/// The process's metrics registry: renders the exposition, serves
/// `/metrics`.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    started: Instant,
    sampler: process::Sampler,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// The process-wide registry, installing the Prometheus recorder and
    /// starting the upkeep/sampling thread on first call.
    ///
    /// If the embedding application already installed another recorder,
    /// ours is not installed (there can be only one): figures then go to
    /// that recorder, and this registry renders only its own (empty) state.
    /// A warning says so.
    pub fn global() -> &'static Metrics {
        GLOBAL.get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(HTTP_REQUEST_DURATION.to_owned()),
                    DURATION_BUCKETS,
                )
                .expect("the duration buckets are not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics shows only ours"
                );
            }
            describe();
            let metrics = Metrics {
                handle,
                started: Instant::now(),
                sampler: process::Sampler::default(),
            };
            metrics.sampler.spawn(metrics.handle.clone(), SAMPLE_EVERY);
            metrics
        })
    }

    /// The Prometheus text exposition of everything recorded, with the
    /// point-in-time gauges (uptime, connections) refreshed first.
    pub fn render(&self) -> String {
        metrics::gauge!(PROCESS_UPTIME).set(self.uptime().as_secs_f64());
        metrics::gauge!(HTTP_CONNECTIONS_ACTIVE).set(active_connections() as f64);
        self.handle.render()
    }

    /// Time since the registry was installed (about process start).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Requests completed through a [`MetricsLayer`] in this process.
    pub fn total_requests(&self) -> u64 {
        RUNTIME.total_requests.load(Ordering::Relaxed)
    }

    /// The latest CPU/memory/disk sample (zeros until the first one).
    pub fn system(&self) -> process::SystemSample {
        self.sampler.latest()
    }
}

pub use exposition::{PROMETHEUS_TEXT, routes};

/// The `# HELP` lines of our own figures.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        Unit::Count,
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP request duration by method and route template"
    );
    describe_gauge!(
        HTTP_REQUESTS_IN_FLIGHT,
        Unit::Count,
        "HTTP requests being served"
    );
    describe_gauge!(
        HTTP_CONNECTIONS_ACTIVE,
        Unit::Count,
        "Open client connections"
    );
    describe_gauge!(
        PROCESS_UPTIME,
        Unit::Seconds,
        "Time since the metrics registry started"
    );
    describe_gauge!(
        "process_cpu_usage_percent",
        Unit::Percent,
        "CPU used by this process, percent of one core"
    );
    describe_gauge!(
        "process_resident_memory_bytes",
        Unit::Bytes,
        "Resident memory of this process"
    );
    describe_counter!(
        RATE_LIMIT_REJECTIONS,
        Unit::Count,
        "Requests refused by a rate limit, by scope"
    );
}
pub use process::SystemSample;

/// Counts an open connection for as long as it lives: the accept loop holds
/// one per connection task (`http_connections_active`).
///
/// ```
/// use tradesense_core::metrics::{ConnectionGuard, active_connections};
/// let before = active_connections();
/// let guard = ConnectionGuard::open();
/// assert_eq!(active_connections(), before + 1);
/// drop(guard);
/// assert_eq!(active_connections(), before);
/// ```
#[derive(Debug)]
#[must_use = "the connection counts as open only while the guard lives"]
pub struct ConnectionGuard(());

impl ConnectionGuard {
    /// Counts one more open connection until the guard is dropped.
    pub fn open() -> Self {
        RUNTIME.active_connections.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!(HTTP_CONNECTIONS_ACTIVE).increment(1.0);
        Self(())
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        RUNTIME.active_connections.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!(HTTP_CONNECTIONS_ACTIVE).decrement(1.0);
    }
}

/// Connections currently open (held [`ConnectionGuard`]s) in this process.
pub fn active_connections() -> i64 {
    RUNTIME.active_connections.load(Ordering::Relaxed)
}
