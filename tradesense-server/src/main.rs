//! `tradesense-server`: `serve` (the default) runs the API; `migrate` brings
//! the database schema up to date and exits.

use anyhow::Context;
use clap::{Parser, Subcommand};
use tradesense_core::app::App;
use tradesense_core::config::Settings;
use tradesense_core::store::SqlStore;
use tradesense_core::telemetry::init_tracing;
use tradesense_server::Server;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            // Telemetry is not up yet; the error names the variable only.
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    };
    init_tracing(settings.log_format);
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
                    let store = SqlStore::connect(&settings)
                        .await
                        .context("connecting to the database")?;
                    store.migrate().await.context("running migrations")?;
                    tracing::info!(database = %settings.database_url, "migrations applied");
                    store.close().await;
                    Ok(())
                }
                Command::Serve => serve(settings).await,
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
