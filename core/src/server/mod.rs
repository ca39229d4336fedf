//! Serving: bind, serve until Ctrl-C or SIGTERM, let in-flight requests
//! finish (bounded by `shutdown_timeout_secs`), then run shutdown hooks.
//! The accept loop and its limits are in `accept`.

mod accept;
mod timer;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::app::App;
use crate::error::Error;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

impl App {
    /// Binds `addr` and serves until Ctrl-C or SIGTERM.
    pub async fn serve(self, addr: &str) -> Result<(), Error> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Serve {
                addr: addr.to_owned(),
                source,
            })?;
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| addr.to_owned());
        tracing::info!(
            "serving on http://{local} (profile {})",
            self.state().profile()
        );
        self.serve_with(listener, shutdown_signal()).await
    }

    /// Serves on a bound listener until `signal` resolves; in-flight
    /// requests then get up to `shutdown_timeout_secs` to finish, and the
    /// shutdown hooks run.
    pub async fn serve_with<F>(self, listener: TcpListener, signal: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        if crate::deploy_check::exposed_development(self.state(), &addr) {
            tracing::warn!(
                "!!! serving on {addr}, reachable beyond this machine, with the development \
                 profile or the public development secret key: anyone who can reach it can \
                 forge sessions. Bind to 127.0.0.1, or set PHIAL_ENV=production and \
                 PHIAL_SECRET_KEY (run `check --deploy`) !!!"
            );
        }
        let (fired_tx, mut fired_rx) = tokio::sync::watch::channel(false);
        let metrics_listener = self.serve_metrics(fired_rx.clone()).await?;
        let draining = self.clone();
        let drain_for = Duration::from_secs(self.state().core().server.drain_secs);
        let signal = async move {
            signal.await;
            // Readiness fails and every answer closes its connection, while
            // the listener still takes requests: a proxy moves on without
            // reusing a connection this node is about to close.
            draining.state().start_draining();
            // Long-lived connections (WebSockets, long polls) are told to
            // go at once: their clients reconnect to another node.
            let hooks = draining.clone();
            tokio::spawn(async move { hooks.drain().await });
            if !drain_for.is_zero() {
                tracing::info!(
                    "shutting down: draining for {} s (server.drain_secs): /readyz answers 503, \
                     every response closes its connection",
                    drain_for.as_secs()
                );
                tokio::time::sleep(drain_for).await;
            }
            tracing::info!("shutting down: no new connections; in-flight requests finish");
            let _ = fired_tx.send(true);
        };
        // The peer's address reaches handlers as `ConnectInfo<SocketAddr>`
        // (`ClientAddr` starts from it).
        let limits = accept::Limits::new(&self.state().core().server, self.state());
        let server = accept::serve(listener, self.service(), limits, signal);
        let grace = Duration::from_secs(self.state().core().shutdown_timeout_secs);
        let deadline = async move {
            let _ = fired_rx.wait_for(|fired| *fired).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {}
            () = deadline => {
                tracing::warn!("in-flight requests did not finish within {}s; closing them", grace.as_secs());
            }
        }
        // It stopped taking scrapes when the signal fired.
        if let Some(task) = metrics_listener {
            task.abort();
            let _ = task.await;
        }
        self.shutdown().await;
        tracing::info!("shut down");
        Ok(())
    }

    /// Serves the metrics page on `metrics.bind`, when set and metrics are
    /// on, until the shutdown signal fires.
    async fn serve_metrics(
        &self,
        mut fired: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, Error> {
        let state = self.state();
        let cfg = &state.core().metrics;
        if state.0.request_metrics.is_none() || !cfg.bind_set() {
            return Ok(None);
        }
        let addr = cfg.bind.clone().unwrap_or_default();
        let listener = TcpListener::bind(addr.trim())
            .await
            .map_err(|source| Error::Serve {
                addr: format!("{addr} (metrics.bind)"),
                source,
            })?;
        if let Ok(local) = listener.local_addr() {
            tracing::info!("metrics on http://{local}{}", cfg.path);
        }
        let router = crate::prometheus::endpoint::separate_router(state);
        let stop = async move {
            let _ = fired.wait_for(|fired| *fired).await;
        };
        Ok(Some(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!("the metrics listener stopped: {e}");
            }
        })))
    }
}
