//! `tradesense-server`: `serve` (the default) runs the API; `migrate` brings
//! the database schema up to date and exits.

/// mimalloc instead of glibc's malloc. Why: each argon2id hash takes a
/// 19 MiB block, and glibc kept the freed blocks (resident memory grew by
/// about that much per login, to 300-700 MiB after a login storm:
/// benches/README.md); mimalloc returns them to the system. It is also
/// quicker with the many small allocations of a request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tradesense_core::store::SqlStore;
use tradesense_core::telemetry::init_tracing;
use tradesense_server::App;
use tradesense_server::Server;
use tradesense_server::Settings;

#[derive(Parser)]
#[command(version, about = "The TradeSense trading-journal API server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Exit 0 when `GET /health` on `BIND_ADDR` answers 200 (for container
    /// health checks: the runtime image needs no curl).
    Healthcheck,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Healthcheck)) {
        return healthcheck();
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            // Telemetry is not up yet; the error names the variable only.
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    };
    // Held to the end of `main`: dropping it writes the pending log lines.
    let _log = init_tracing(settings.log_format);
    for variable in &settings.ephemeral_secrets {
        tracing::warn!(
            "{variable} is not set: using an EPHEMERAL RANDOM key for development. \
             Tokens and MFA secrets will not survive a restart. Never run production like this."
        );
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(async move {
            match cli.command.unwrap_or(Command::Serve) {
                Command::Migrate => {
                    let store = SqlStore::connect(&settings.db_options())
                        .await
                        .context("connecting to the database")?;
                    store.migrate().await.context("running migrations")?;
                    tracing::info!(database = %settings.database_url, "migrations applied");
                    store.close().await;
                    Ok(())
                }
                Command::Serve => serve(settings).await,
                Command::Healthcheck => unreachable!("handled before settings are loaded"),
            }
        })
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let database = settings.database_url.to_string();
    let app = App::build(settings)
        .await
        .context("building the application")?;
    let server = Server::bind(app.clone())
        .await
        .context("binding the listen address")?;
    tracing::info!(addr = %server.local_addr(), %database, environment = ?app.settings().environment, "listening");
    server.run_until(shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A minimal HTTP/1.0 probe of `/health` over loopback, with std only.
fn healthcheck() -> anyhow::Result<()> {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;
    let bind: SocketAddr = std::env::var("BIND_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8000".into())
        .parse()
        .context("BIND_ADDR must be an address like 127.0.0.1:8000")?;
    // A wildcard bind is reached on loopback.
    let target = if bind.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], bind.port()))
    } else {
        bind
    };
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    anyhow::ensure!(head.ends_with(b" 200"), "health check failed");
    Ok(())
}
