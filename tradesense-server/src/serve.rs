//! The accept loop: one hyper connection task per socket, bounded in number,
//! each with a header-read timeout; graceful shutdown stops accepting, lets
//! in-flight requests finish within the grace period, then closes the pool.

use crate::App;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// A bound, not yet serving, server.
pub struct Server {
    app: App,
    listener: TcpListener,
    shutdown_tx: watch::Sender<bool>,
}

/// Triggers a graceful shutdown of a running [`Server`] (tests use it
/// instead of a signal).
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    /// Starts the graceful shutdown.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Server {
    /// Binds `app.settings().bind_addr` (port 0 picks a free port).
    pub async fn bind(app: App) -> std::io::Result<Self> {
        let listener = TcpListener::bind(app.settings().bind_addr).await?;
        let (shutdown_tx, _) = watch::channel(false);
        Ok(Self {
            app,
            listener,
            shutdown_tx,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// A handle that stops this server gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown_tx.clone())
    }

    /// Serves until `signal` completes or the shutdown handle fires, then
    /// drains in-flight requests (up to the grace period) and closes the
    /// database pool.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send) {
        let Self {
            app,
            listener,
            shutdown_tx,
        } = self;
        let settings = app.settings().clone();
        // Composed once; each connection gets a reference-counted clone.
        let service = app.service();
        let connections = Arc::new(Semaphore::new(settings.max_connections));
        let graceful = GracefulShutdown::new();
        let mut shutdown_rx = shutdown_tx.subscribe();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout);
        let builder = Arc::new(builder);
        tokio::pin!(signal);

        loop {
            // Wait for a connection slot first: past the limit, new
            // connections queue in the kernel instead of spawning tasks.
            let permit = tokio::select! {
                // The semaphore is never closed; should it be, stop accepting.
                permit = connections.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut signal => break,
                () = stop_requested(&mut shutdown_rx) => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // EMFILE and friends: back off briefly, keep serving.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut signal => break,
                () = stop_requested(&mut shutdown_rx) => break,
            };
            let service =
                service
                    .clone()
                    .map_request(move |mut request: http::Request<Incoming>| {
                        // The peer as axum's `into_make_service_with_connect_info`
                        // gives it, so the core's layers find it the same way
                        // under our listener and under a stranger's.
                        request
                            .extensions_mut()
                            .insert(axum::extract::ConnectInfo(peer));
                        request
                    });
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            let connection = graceful.watch(connection);
            let open = tradesense_core::metrics::ConnectionGuard::open();
            tokio::spawn(async move {
                let _permit = permit;
                let _open = open;
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
            });
        }

        drop(listener);
        tracing::info!("shutting down: waiting for in-flight requests");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections closed"),
            () = tokio::time::sleep(settings.shutdown_grace) => {
                tracing::warn!("grace period over; closing remaining connections");
            }
        }
        app.shutdown().await;
    }
}

/// Completes once the shutdown handle has fired.
async fn stop_requested(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before any await point
    // of the caller (it is not `Send`).
    let _ = rx.wait_for(|stop| *stop).await.map(|_| ());
}
