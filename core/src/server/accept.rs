//! The accept loop: hyper's HTTP/1 server (with upgrades, for WebSockets)
//! on each accepted connection, as `axum::serve` runs it, plus what a
//! binary facing clients without a proxy needs so that connections cannot
//! be held hostage:
//! - a client has `server.header_read_timeout_secs` to send a request's
//!   headers on a new connection and `server.keep_alive_timeout_secs` on a
//!   kept-alive one, else the connection is closed (a silent connection or
//!   one header line every few seconds is no longer kept forever);
//! - at most `server.max_connections` are open: past it the loop stops
//!   accepting until one closes;
//! - at most `server.max_connections_per_address` from one address (a
//!   trusted proxy's are not counted): past it a new one is closed at once.
//!
//! Reaching either cap logs one warning line (then at most one a minute).
//! While the app drains (a shutdown began, `server.drain_secs`), every
//! response says `Connection: close` and its connection closes after it.
//! On the shutdown signal the loop stops accepting, asks every connection
//! to finish its request in flight and close, and returns once they have.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use super::timer::ConnTimer;
use crate::app::AppService;
use crate::client_addr::TrustedProxies;
use crate::config::ServerConfig;
use crate::state::AppState;

/// The limits the loop enforces (see the module docs).
#[derive(Clone)]
pub(crate) struct Limits {
    header_read: Duration,
    keep_alive: Duration,
    max_connections: usize,
    per_address: usize,
    trusted: TrustedProxies,
    /// The app, whose draining flag closes each connection after its
    /// response once a shutdown begins.
    app: AppState,
}

impl Limits {
    pub(crate) fn new(cfg: &ServerConfig, app: &AppState) -> Self {
        Limits {
            header_read: Duration::from_secs(cfg.header_read_timeout_secs.max(1)),
            keep_alive: Duration::from_secs(cfg.keep_alive_timeout_secs.max(1)),
            max_connections: cfg.max_connections.max(1),
            per_address: cfg.max_connections_per_address.max(1),
            trusted: app.0.trusted_proxies.clone(),
            app: app.clone(),
        }
    }
}

/// Open connections per address, and when each cap last logged.
#[derive(Default)]
struct Counts {
    per_address: Mutex<HashMap<IpAddr, usize>>,
    warned_total: Mutex<Option<Instant>>,
    warned_address: Mutex<Option<Instant>>,
}

/// One warning line when a cap is reached, then at most one a minute.
fn warn_once_a_minute(last: &Mutex<Option<Instant>>, message: impl FnOnce() -> String) {
    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
        return;
    }
    *last = Some(Instant::now());
    tracing::warn!("{}", message());
}

/// Takes a slot for `ip`; `None` when it has `limit` connections already.
fn take_slot(counts: &Arc<Counts>, ip: IpAddr, limit: usize) -> Option<AddressSlot> {
    let mut map = counts.per_address.lock().unwrap_or_else(|p| p.into_inner());
    let n = map.entry(ip).or_insert(0);
    if *n >= limit {
        return None;
    }
    *n += 1;
    Some(AddressSlot {
        counts: counts.clone(),
        ip,
    })
}

/// A connection's place in its address's count, given back on drop.
struct AddressSlot {
    counts: Arc<Counts>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `service` on `listener` until `signal` resolves (see the module
/// docs); returns once every connection has closed.
pub(crate) async fn serve<F>(listener: TcpListener, service: AppService, limits: Limits, signal: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = stop_tx.send(true);
    });
    let (close_tx, close_rx) = watch::channel(());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let counts = Arc::new(Counts::default());
    let mut stopped = pin!(wait_stop(stop_rx.clone()));
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                warn_once_a_minute(&counts.warned_total, || {
                    format!(
                        "server.max_connections ({}) reached: new connections wait until one closes",
                        limits.max_connections
                    )
                });
                tokio::select! {
                    p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                    () = &mut stopped => break,
                }
            }
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut stopped => break,
        };
        let ip = remote.ip();
        let slot = if limits.trusted.contains(ip) {
            None
        } else {
            match take_slot(&counts, ip, limits.per_address) {
                Some(s) => Some(s),
                None => {
                    warn_once_a_minute(&counts.warned_address, || {
                        format!(
                            "server.max_connections_per_address ({}) reached by {ip}: its new \
                             connections are closed at once",
                            limits.per_address
                        )
                    });
                    drop(stream);
                    continue;
                }
            }
        };
        let conn = Connection {
            service: service.clone(),
            limits: limits.clone(),
            stop: stop_rx.clone(),
            close: close_rx.clone(),
        };
        tokio::spawn(async move {
            conn.run(stream, remote).await;
            drop((permit, slot));
        });
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
}

async fn wait_stop(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Errors of `accept` that concern one connection are skipped; others
/// (out of file descriptors) are logged and retried after a second, as
/// hyper's own server does.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!("accepting a connection failed: {e}; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One accepted connection.
struct Connection {
    service: AppService,
    limits: Limits,
    stop: watch::Receiver<bool>,
    /// Held while the connection lives: the loop waits for every one.
    close: watch::Receiver<()>,
}

impl Connection {
    async fn run(self, stream: TcpStream, remote: SocketAddr) {
        let app = self.limits.app.clone();
        let service = self
            .service
            .clone()
            .map_request(move |req: Request<Incoming>| {
                let mut req = req.map(Body::new);
                // What handlers (and `ClientAddr`) read the peer from.
                req.extensions_mut().insert(ConnectInfo(remote));
                req
            })
            .map_response(move |mut res: axum::response::Response| {
                if app.draining() {
                    // hyper closes the connection after this response: no
                    // client reuses one this server is about to close.
                    res.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                }
                res
            });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(ConnTimer::new(
                self.limits.header_read,
                self.limits.keep_alive,
            ))
            .header_read_timeout(self.limits.header_read);
        let conn = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut conn = pin!(conn);
        let mut stop = pin!(wait_stop(self.stop.clone()));
        let mut stopping = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!("connection from {remote} ended: {e}");
                    }
                    break;
                }
                () = &mut stop, if !stopping => {
                    // The request in flight finishes, then the connection closes.
                    conn.as_mut().graceful_shutdown();
                    stopping = true;
                }
            }
        }
        drop(self.close);
    }
}
