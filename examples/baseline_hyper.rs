//! The physical limit for `benches/e2e.sh`: bare hyper 1 + hyper-util's
//! auto (HTTP/1.1 and HTTP/2) connection builder on tokio, one task per
//! connection, answering `GET /health` with the same bytes and content type
//! as the TradeSense server and nothing else (everything else is an empty
//! 404). No middleware, no router, no allocation per request beyond what
//! hyper itself does: whatever the full stack costs on top of this is ours.
//!
//! ```text
//! cargo build --release --example baseline_hyper
//! target/release/examples/baseline_hyper --bind 127.0.0.1:0
//! ```
//!
//! The first line on stdout is the bound address (`127.0.0.1:PORT`), so a
//! script can bind port 0 and read where it landed.

use bytes::Bytes;
use clap::Parser;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;

/// What `tradesense-server` answers on `GET /health` (serde_json renders the
/// object's keys sorted). `benches/e2e.sh` checks both agree before timing.
const HEALTH: &[u8] = br#"{"service":"tradesense-backend","status":"ok","version":"0.1.0"}"#;

#[derive(Parser)]
#[command(about = "Bare hyper server answering GET /health: the e2e bench baseline")]
struct Args {
    /// Address to listen on; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::new()));
    if request.method() == Method::GET && request.uri().path() == "/health" {
        *response.body_mut() = Full::new(Bytes::from_static(HEALTH));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
    } else {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    Ok(response)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    // Printed and flushed before serving: the script waits for this line.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;
    drop(stdout);

    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            // EMFILE and friends: keep serving, as the real server does.
            Err(_) => continue,
        };
        // Socket options as the server under test sets them (none: it does
        // not touch TCP_NODELAY), so the two differ only above the socket.
        let builder = builder.clone();
        tokio::spawn(async move {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
