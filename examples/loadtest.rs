//! Load generator for a running TradeSense server.
//!
//! Registers and logs in its own users (fresh emails), gives each a
//! portfolio, then drives a weighted mix of `/health`, `GET /api/v1/trades`,
//! `GET /api/v1/portfolios`, `POST /api/v1/trades` and `/api/v1/users/me`
//! either at full speed over N connections or at a fixed total rate, for a
//! bounded duration and request count. Prints per-endpoint count, errors,
//! throughput and latency percentiles (HDR histogram); `--json` writes the
//! same summary to a file.
//!
//! ```text
//! cargo run --release --example loadtest -- --duration 10 --connections 8 \
//!     --mix trades_get=1 --json /tmp/trades_get.json
//! ```
//!
//! `--url PATH` switches to a fixed request instead (with `--method`,
//! repeatable `--header 'Name: value'` and `--body`; no users registered):
//! what `benches/e2e.sh` uses when `wrk` is not installed.
//!
//! Only loopback targets are accepted unless `--allow-remote` is given: a
//! load test pointed at someone else's server by a typo is an attack.
//! The server's rate limits would turn most requests into 429s; run it with
//! `RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0`.

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser, Debug, Clone)]
#[command(about = "Drive a TradeSense server with a configurable request mix")]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    target: String,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Users to register and log in (requests rotate over them).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    users: u32,
    /// Concurrent connections (one worker each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=512))]
    connections: u32,
    /// Seconds to run (at most 600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    duration: u64,
    /// Total requests per second to send on a fixed schedule (latency is
    /// measured from the scheduled time, so queueing is not hidden); omit
    /// for full speed.
    #[arg(long)]
    rate: Option<u32>,
    /// Stop after this many requests (bounds the run as well as --duration).
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// Weights: health, trades_get, portfolios_get, trades_post, me.
    #[arg(
        long,
        default_value = "health=1,trades_get=4,portfolios_get=2,trades_post=2,me=1"
    )]
    mix: String,
    /// Write the summary as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Hide the progress bar (for logs).
    #[arg(long)]
    quiet: bool,
    /// Fixed-request mode: send only this path (and query) on the target,
    /// instead of the mix, and register no users.
    #[arg(long)]
    url: Option<String>,
    /// Method of the `--url` request.
    #[arg(long, default_value = "GET", requires = "url")]
    method: String,
    /// A header of the `--url` request, `Name: value` (repeatable).
    #[arg(long = "header", requires = "url")]
    headers: Vec<String>,
    /// Body of the `--url` request, sent as is (set its Content-Type with
    /// `--header`).
    #[arg(long, requires = "url")]
    body: Option<String>,
    /// Per-request timeout in seconds (a timed-out request is an error).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    Health,
    TradesGet,
    PortfoliosGet,
    TradesPost,
    Me,
    /// The `--url` request; never part of a mix.
    Fixed,
}

impl Endpoint {
    const ALL: [Self; 5] = [
        Self::Health,
        Self::TradesGet,
        Self::PortfoliosGet,
        Self::TradesPost,
        Self::Me,
    ];

    fn key(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::TradesGet => "trades_get",
            Self::PortfoliosGet => "portfolios_get",
            Self::TradesPost => "trades_post",
            Self::Me => "me",
            Self::Fixed => "url",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Health => "GET /health",
            Self::TradesGet => "GET /api/v1/trades",
            Self::PortfoliosGet => "GET /api/v1/portfolios",
            Self::TradesPost => "POST /api/v1/trades",
            Self::Me => "GET /api/v1/users/me",
            Self::Fixed => "--url",
        }
    }
}

/// The weighted mix, parsed from `name=weight,...`.
fn parse_mix(text: &str) -> anyhow::Result<Vec<(Endpoint, u32)>> {
    let mut mix = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .context("mix entries are name=weight")?;
        let endpoint = Endpoint::ALL
            .into_iter()
            .find(|e| e.key() == name.trim())
            .with_context(|| format!("unknown endpoint {name:?} (health, trades_get, portfolios_get, trades_post, me)"))?;
        let weight: u32 = weight.trim().parse().context("weights are integers")?;
        if weight > 0 {
            mix.push((endpoint, weight));
        }
    }
    if mix.is_empty() {
        bail!("the mix has no endpoint with a positive weight");
    }
    Ok(mix)
}

fn check_target(target: &str, allow_remote: bool) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(target).context("--target is not a URL")?;
    let host = url.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback && !allow_remote {
        bail!("refusing non-loopback target {url} (pass --allow-remote if you own it)");
    }
    Ok(url)
}

#[derive(Clone)]
struct User {
    token: String,
    portfolio_id: String,
}

async fn setup_user(
    client: &reqwest::Client,
    base: &str,
    run: &str,
    n: u32,
) -> anyhow::Result<User> {
    let email = format!("loadtest-{run}-{n}@example.com");
    let password = "loadtest correct horse battery staple";
    let response = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": email, "password": password, "full_name": "Load Test"}))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "register: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("login: {} (are auth rate limits off?)", response.status());
    }
    let token = response.json::<serde_json::Value>().await?["access_token"]
        .as_str()
        .context("login answered without access_token")?
        .to_owned();
    let response = client
        .post(format!("{base}/api/v1/portfolios"))
        .bearer_auth(&token)
        .json(&json!({"name": "Load test"}))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("create portfolio: {}", response.status());
    }
    let portfolio_id = response.json::<serde_json::Value>().await?["id"]
        .as_str()
        .context("portfolio without id")?
        .to_owned();
    Ok(User {
        token,
        portfolio_id,
    })
}

/// Latencies (microseconds) and errors of one endpoint.
struct Stats {
    latency: Histogram<u64>,
    errors: u64,
}

impl Stats {
    fn new() -> Self {
        Self {
            // 1 us .. 60 s at 3 significant digits.
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            errors: 0,
        }
    }
}

const SYMBOLS: [&str; 8] = [
    "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "BTC/USD", "ETH/USD", "ES:CME",
];

/// The one request of `--url` mode, parsed once.
struct Fixed {
    method: reqwest::Method,
    url: String,
    headers: reqwest::header::HeaderMap,
    body: Option<bytes::Bytes>,
}

impl Fixed {
    fn parse(base: &str, args: &Args) -> anyhow::Result<Option<Self>> {
        let Some(path) = &args.url else {
            return Ok(None);
        };
        if !path.starts_with('/') {
            bail!("--url is a path on the target, starting with /");
        }
        let method = reqwest::Method::from_bytes(args.method.as_bytes())
            .context("--method is not an HTTP method")?;
        let mut headers = reqwest::header::HeaderMap::new();
        for header in &args.headers {
            let (name, value) = header
                .split_once(':')
                .context("--header is 'Name: value'")?;
            headers.append(
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
                    .context("--header name")?,
                reqwest::header::HeaderValue::from_str(value.trim()).context("--header value")?,
            );
        }
        Ok(Some(Self {
            method,
            url: format!("{base}{path}"),
            headers,
            body: args.body.clone().map(bytes::Bytes::from),
        }))
    }

    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let request = client
            .request(self.method.clone(), &self.url)
            .headers(self.headers.clone());
        match &self.body {
            Some(body) => request.body(body.clone()),
            None => request,
        }
    }
}

async fn complete(request: reqwest::RequestBuilder) -> bool {
    match request.send().await {
        // Read the body so the connection is reusable and timing is complete.
        Ok(response) => {
            let ok = response.status().is_success();
            response.bytes().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    user: &User,
    endpoint: Endpoint,
    rng: &mut StdRng,
) -> bool {
    let request = match endpoint {
        // Not part of a mix (parse_mix cannot name it); answered as /health.
        Endpoint::Health | Endpoint::Fixed => client.get(format!("{base}/health")),
        Endpoint::TradesGet => client
            .get(format!("{base}/api/v1/trades?limit=50"))
            .bearer_auth(&user.token),
        Endpoint::PortfoliosGet => client
            .get(format!("{base}/api/v1/portfolios"))
            .bearer_auth(&user.token),
        Endpoint::Me => client
            .get(format!("{base}/api/v1/users/me"))
            .bearer_auth(&user.token),
        Endpoint::TradesPost => {
            // Buys only: always valid, so errors mean the server failed.
            let body = json!({
                "symbol": SYMBOLS[rng.random_range(0..SYMBOLS.len())],
                "side": "buy",
                "quantity": format!("{}.{:02}", rng.random_range(1..100), rng.random_range(0..100)),
                "price": format!("{}.{:02}", rng.random_range(1..1000), rng.random_range(0..100)),
                "portfolio_id": user.portfolio_id,
            });
            client
                .post(format!("{base}/api/v1/trades"))
                .bearer_auth(&user.token)
                .json(&body)
        }
    };
    complete(request).await
}

#[derive(Serialize)]
struct EndpointSummary {
    endpoint: &'static str,
    count: u64,
    errors: u64,
    throughput_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Serialize)]
struct Summary {
    target: String,
    users: u32,
    connections: u32,
    rate: Option<u32>,
    elapsed_secs: f64,
    total_requests: u64,
    total_errors: u64,
    endpoints: Vec<EndpointSummary>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = check_target(&args.target, args.allow_remote)?;
    let base = url.as_str().trim_end_matches('/').to_owned();
    let fixed = Fixed::parse(&base, &args)?.map(Arc::new);
    let mix = match fixed {
        Some(_) => vec![(Endpoint::Fixed, 1)],
        None => parse_mix(&args.mix)?,
    };
    let total_weight: u32 = mix.iter().map(|(_, w)| w).sum();

    let setup_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let run = format!("{:x}", rand::random::<u32>());
    let mut users = Vec::new();
    if fixed.is_none() {
        for n in 0..args.users {
            users.push(setup_user(&setup_client, &base, &run, n).await?);
        }
    }
    let users = Arc::new(users);

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(args.duration)
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len}s {msg}")
            .expect("a valid template"),
    );

    let mut workers = Vec::new();
    for worker in 0..args.connections {
        // One client per worker with one idle connection: N workers, N
        // keep-alive connections.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(args.timeout))
            .build()?;
        let (users, mix, base, sent, stop, fixed) = (
            users.clone(),
            mix.clone(),
            base.clone(),
            sent.clone(),
            stop.clone(),
            fixed.clone(),
        );
        let (max_requests, connections, rate) = (args.max_requests, args.connections, args.rate);
        workers.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(u64::from(worker));
            let mut stats: BTreeMap<Endpoint, Stats> = BTreeMap::new();
            // Fixed rate: this worker's share of the schedule.
            let period =
                rate.map(|r| Duration::from_secs_f64(f64::from(connections) / f64::from(r.max(1))));
            let mut next_at = Instant::now()
                + period
                    .map(|p| p.mul_f64(f64::from(worker) / f64::from(connections)))
                    .unwrap_or_default();
            let mut i = worker as usize;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if sent.fetch_add(1, Ordering::Relaxed) >= max_requests {
                    break;
                }
                let scheduled = match period {
                    Some(period) => {
                        tokio::time::sleep_until(next_at.into()).await;
                        let at = next_at;
                        next_at += period;
                        at
                    }
                    None => Instant::now(),
                };
                let mut pick = rng.random_range(0..total_weight);
                let endpoint = mix
                    .iter()
                    .find(|(_, w)| {
                        let hit = pick < *w;
                        pick = pick.saturating_sub(*w);
                        hit
                    })
                    .map(|(e, _)| *e)
                    .expect("pick < total weight");
                let ok = match &fixed {
                    Some(fixed) => complete(fixed.request(&client)).await,
                    None => {
                        let user = &users[i % users.len()];
                        i += 1;
                        send(&client, &base, user, endpoint, &mut rng).await
                    }
                };
                let entry = stats.entry(endpoint).or_insert_with(Stats::new);
                entry
                    .latency
                    .saturating_record(scheduled.elapsed().as_micros() as u64);
                if !ok {
                    entry.errors += 1;
                }
            }
            stats
        }));
    }
    while Instant::now() < deadline && sent.load(Ordering::Relaxed) < args.max_requests {
        tokio::time::sleep(Duration::from_millis(200)).await;
        progress.set_position(started.elapsed().as_secs().min(args.duration));
        progress.set_message(format!("{} requests", sent.load(Ordering::Relaxed)));
        if workers.iter().all(|w| w.is_finished()) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut merged: BTreeMap<Endpoint, Stats> = BTreeMap::new();
    for worker in workers {
        for (endpoint, stats) in worker.await? {
            let into = merged.entry(endpoint).or_insert_with(Stats::new);
            into.latency.add(&stats.latency).expect("same bounds");
            into.errors += stats.errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    progress.finish_and_clear();

    let ms = |us: u64| us as f64 / 1000.0;
    let endpoints: Vec<EndpointSummary> = merged
        .iter()
        .map(|(endpoint, stats)| EndpointSummary {
            endpoint: endpoint.label(),
            count: stats.latency.len(),
            errors: stats.errors,
            throughput_per_sec: stats.latency.len() as f64 / elapsed,
            p50_ms: ms(stats.latency.value_at_quantile(0.50)),
            p90_ms: ms(stats.latency.value_at_quantile(0.90)),
            p99_ms: ms(stats.latency.value_at_quantile(0.99)),
            max_ms: ms(stats.latency.max()),
        })
        .collect();
    let summary = Summary {
        target: base,
        users: args.users,
        connections: args.connections,
        rate: args.rate,
        elapsed_secs: elapsed,
        total_requests: endpoints.iter().map(|e| e.count).sum(),
        total_errors: endpoints.iter().map(|e| e.errors).sum(),
        endpoints,
    };
    println!(
        "{:<26} {:>8} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "endpoint", "count", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for e in &summary.endpoints {
        println!(
            "{:<26} {:>8} {:>7} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            e.endpoint,
            e.count,
            e.errors,
            e.throughput_per_sec,
            e.p50_ms,
            e.p90_ms,
            e.p99_ms,
            e.max_ms
        );
    }
    println!(
        "total {} requests, {} errors in {:.1} s ({:.1} req/s) over {} connections",
        summary.total_requests,
        summary.total_errors,
        elapsed,
        summary.total_requests as f64 / elapsed,
        summary.connections
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_by_default() {
        assert!(check_target("http://127.0.0.1:8000", false).is_ok());
        assert!(check_target("http://localhost:8000", false).is_ok());
        assert!(check_target("http://[::1]:8000", false).is_ok());
        assert!(check_target("http://example.com", false).is_err());
        assert!(check_target("http://10.0.0.1", false).is_err());
        assert!(check_target("http://example.com", true).is_ok());
    }

    #[test]
    fn mixes() {
        assert_eq!(
            parse_mix("trades_get=1").unwrap(),
            vec![(Endpoint::TradesGet, 1)]
        );
        assert!(parse_mix("nope=1").is_err());
        assert!(parse_mix("health=0").is_err());
        assert!(parse_mix("url=1").is_err());
    }

    #[test]
    fn fixed_request() {
        let args = Args::parse_from([
            "loadtest",
            "--url",
            "/api/v1/users/me",
            "--header",
            "Cookie: auth-token=abc",
            "--header",
            "X-Two: a:b",
        ]);
        let fixed = Fixed::parse("http://127.0.0.1:1", &args).unwrap().unwrap();
        assert_eq!(fixed.url, "http://127.0.0.1:1/api/v1/users/me");
        assert_eq!(fixed.method, reqwest::Method::GET);
        assert_eq!(fixed.headers["cookie"], "auth-token=abc");
        assert_eq!(fixed.headers["x-two"], "a:b");
        assert!(fixed.body.is_none());
        let args = Args::parse_from(["loadtest", "--url", "no-slash"]);
        assert!(Fixed::parse("http://127.0.0.1:1", &args).is_err());
        let args = Args::parse_from(["loadtest"]);
        assert!(Fixed::parse("http://127.0.0.1:1", &args).unwrap().is_none());
    }
}
