//! A Socket.IO client for tests that drives the app in-process, through
//! its [`TestClient`] (same cookies: sign in over HTTP, then connect), with
//! no port: Flask-SocketIO's `socketio.test_client(app)`, which
//! socketioxide does not have. It speaks Engine.IO 4 long-polling and
//! Socket.IO 5, the protocol the official clients speak.
//!
//! ```
//! use phial_core::{App, Config};
//! use phial_socket::{AckSender, Data, Socket, SocketRef, testing::SocketClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = App::builder(Config::testing())
//!     .register(Socket::new().ns("/", async |s: SocketRef| {
//!         s.on("add", async |ack: AckSender, Data(terms): Data<Vec<i32>>| {
//!             let _ = ack.send(&terms.iter().sum::<i32>());
//!         });
//!     }))
//!     .build()
//!     .await
//!     .unwrap();
//! let socket = SocketClient::connect(&app.test_client(), "/").await.unwrap();
//! let sum: i32 = socket.emit_with_ack("add", &[2, 3]).await.unwrap();
//! assert_eq!(sum, 5);
//! # }
//! ```
//!
//! One file: a protocol client (handshake, long-polling, packet codec)
//! whose parts only make sense together.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phial_core::testing::TestClient;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// The Engine.IO record separator between packets of one poll.
const SEPARATOR: char = '\u{1e}';

/// An event the server sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Value>,
    /// Set when the server waits for an acknowledgement
    /// ([`SocketClient::ack`]).
    pub ack_id: Option<u64>,
}

impl Event {
    /// Argument `i`, decoded; panics with the event when it does not fit (a
    /// test failure).
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> T {
        let v = self.args.get(i).unwrap_or_else(|| {
            panic!("event `{}` has no argument {i}: {:?}", self.name, self.args)
        });
        serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("event `{}` argument {i} ({v}): {e}", self.name))
    }
}

/// Why a client could not connect or a call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The HTTP side refused (an origin not allowed, a wrong path).
    Http {
        /// The status.
        status: u16,
        /// The body (the reason).
        body: String,
    },
    /// The namespace refused the connection (`connect_error`).
    Refused(String),
    /// The server sent something that is not Socket.IO.
    Protocol(String),
    /// No answer in time.
    Timeout,
    /// The connection is closed.
    Closed,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Http { status, body } => write!(f, "HTTP {status}: {body}"),
            ClientError::Refused(m) => write!(f, "connection refused: {m}"),
            ClientError::Protocol(m) => write!(f, "protocol error: {m}"),
            ClientError::Timeout => write!(f, "no answer within the client's timeout"),
            ClientError::Closed => write!(f, "the connection is closed"),
        }
    }
}

impl std::error::Error for ClientError {}

/// One Socket.IO packet.
#[derive(Debug, PartialEq)]
struct Packet {
    kind: u8,
    ns: String,
    id: Option<u64>,
    data: Option<Value>,
}

fn parse(text: &str) -> Result<Packet, String> {
    let mut rest = text;
    let kind = rest
        .chars()
        .next()
        .and_then(|c| c.to_digit(10))
        .ok_or_else(|| format!("`{text}` has no packet type"))? as u8;
    rest = &rest[1..];
    if kind == 5 || kind == 6 {
        return Err(format!(
            "binary packets are not supported by the test client: `{text}`"
        ));
    }
    let mut ns = "/".to_owned();
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        ns = rest[..end].to_owned();
        rest = rest.get(end + 1..).unwrap_or("");
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = (digits > 0).then(|| rest[..digits].parse().ok()).flatten();
    rest = &rest[digits..];
    let data = if rest.is_empty() {
        None
    } else {
        Some(serde_json::from_str(rest).map_err(|e| format!("`{text}`: {e}"))?)
    };
    Ok(Packet { kind, ns, id, data })
}

fn encode(kind: u8, ns: &str, id: Option<u64>, data: Option<&Value>) -> String {
    let mut out = kind.to_string();
    if ns != "/" {
        out.push_str(ns);
        out.push(',');
    }
    if let Some(id) = id {
        out.push_str(&id.to_string());
    }
    if let Some(d) = data {
        out.push_str(&d.to_string());
    }
    out
}

type Acks = Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<Value>>>>>;

/// A Socket.IO client connected to one namespace of an app, in-process.
pub struct SocketClient {
    http: TestClient,
    url: String,
    ns: String,
    /// The socket's id on the server.
    pub sid: String,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    acks: Acks,
    next_id: AtomicU64,
    poller: tokio::task::JoinHandle<()>,
    timeout: Duration,
}

impl fmt::Debug for SocketClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketClient")
            .field("ns", &self.ns)
            .field("sid", &self.sid)
            .finish()
    }
}

impl SocketClient {
    /// Connects to namespace `ns` at `/socket.io`, with `http`'s cookies.
    pub async fn connect(http: &TestClient, ns: &str) -> Result<SocketClient, ClientError> {
        Self::connect_to(http, "/socket.io", ns, None, &[]).await
    }

    /// Connects with every option: the Socket.IO path (`socket.path`), an
    /// auth payload (the JS client's `auth` option) and extra headers on
    /// the handshake (an `Origin`, say).
    pub async fn connect_to(
        http: &TestClient,
        path: &str,
        ns: &str,
        auth: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<SocketClient, ClientError> {
        let base = format!("{}/?EIO=4&transport=polling", path.trim_end_matches('/'));
        let mut req = http.get(&base);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let res = req.send().await;
        if !res.status().is_success() {
            return Err(ClientError::Http {
                status: res.status().as_u16(),
                body: res.text(),
            });
        }
        let text = res.text();
        let open = text
            .strip_prefix('0')
            .and_then(|j| serde_json::from_str::<Value>(j).ok())
            .ok_or_else(|| {
                ClientError::Protocol(format!("expected an open packet, got `{text}`"))
            })?;
        let engine_sid = open["sid"]
            .as_str()
            .ok_or_else(|| ClientError::Protocol(format!("no sid in `{text}`")))?
            .to_owned();
        let url = format!("{base}&sid={engine_sid}");
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        post(
            http,
            &url,
            &headers,
            &format!("4{}", encode(0, ns, None, auth.as_ref())),
        )
        .await?;

        let (tx, rx) = mpsc::unbounded_channel();
        let (connected_tx, connected_rx) = oneshot::channel();
        let acks: Acks = Arc::default();
        let pending = acks.clone();
        let polling = poll(
            http.clone(),
            url.clone(),
            headers,
            ns.to_owned(),
            tx,
            acks.clone(),
            connected_tx,
        );
        let poller = tokio::spawn(async move {
            polling.await;
            // Closed: acks still awaited will never come (`Closed`, not a
            // timeout, for whoever waits on one).
            pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
        });
        let timeout = Duration::from_secs(10);
        let connected = tokio::time::timeout(timeout, connected_rx)
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|_| ClientError::Closed)?;
        let sid = match connected {
            Ok(sid) => sid,
            Err(e) => {
                poller.abort();
                return Err(e);
            }
        };
        // The poller queues events in the order they came, before it hands
        // on a later ack: once an ack is in, every event sent before it is
        // in `rx` (absence checks after a round trip can be trusted).
        Ok(SocketClient {
            http: http.clone(),
            url,
            ns: ns.to_owned(),
            sid,
            events: tokio::sync::Mutex::new(rx),
            acks,
            next_id: AtomicU64::new(1),
            poller,
            timeout,
        })
    }

    /// Waits at most this long in [`recv`](Self::recv) and acks (10 s by
    /// default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn send(&self, packet: String) -> Result<(), ClientError> {
        post(&self.http, &self.url, &[], &format!("4{packet}")).await
    }

    /// Emits an event with one argument (as the JS client's
    /// `emit(event, arg)`; a handler's `Data<T>` receives it).
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), ClientError> {
        let packet = encode(2, &self.ns, None, Some(&event_array(event, data)?));
        self.send(packet).await
    }

    /// Emits an event and waits for the server's acknowledgement, decoded
    /// from its first argument.
    pub async fn emit_with_ack<R: DeserializeOwned>(
        &self,
        event: &str,
        data: &(impl Serialize + ?Sized),
    ) -> Result<R, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks.lock().unwrap().insert(id, tx);
        let packet = encode(2, &self.ns, Some(id), Some(&event_array(event, data)?));
        self.send(packet).await?;
        let args = tokio::time::timeout(self.timeout, rx)
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|_| ClientError::Closed)?;
        let first = args.into_iter().next().unwrap_or(Value::Null);
        serde_json::from_value(first).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Answers an event the server sent with an ack id.
    pub async fn ack<T: Serialize + ?Sized>(
        &self,
        event: &Event,
        data: &T,
    ) -> Result<(), ClientError> {
        let id = event.ack_id.ok_or_else(|| {
            ClientError::Protocol(format!("event `{}` asked for no ack", event.name))
        })?;
        let value = serde_json::to_value(data).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.send(encode(
            3,
            &self.ns,
            Some(id),
            Some(&Value::Array(vec![value])),
        ))
        .await
    }

    /// The next event the server sent, waiting up to the client's timeout.
    pub async fn recv(&self) -> Result<Event, ClientError> {
        let mut events = self.events.lock().await;
        tokio::time::timeout(self.timeout, events.recv())
            .await
            .map_err(|_| ClientError::Timeout)?
            .ok_or(ClientError::Closed)
    }

    /// The next event named `name`, skipping others.
    pub async fn recv_event(&self, name: &str) -> Result<Event, ClientError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut events = self.events.lock().await;
        loop {
            let e = tokio::time::timeout_at(deadline, events.recv())
                .await
                .map_err(|_| ClientError::Timeout)?
                .ok_or(ClientError::Closed)?;
            if e.name == name {
                return Ok(e);
            }
        }
    }

    /// An event already received, without waiting: `None` when there is
    /// none (to check that nothing arrived after something that did).
    pub async fn try_recv(&self) -> Option<Event> {
        self.events.lock().await.try_recv().ok()
    }

    /// Leaves the namespace and closes the connection.
    pub async fn disconnect(self) {
        let _ = self.send(encode(1, &self.ns, None, None)).await;
        let _ = post(&self.http, &self.url, &[], "1").await;
        self.poller.abort();
    }
}

impl Drop for SocketClient {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

fn event_array<T: Serialize + ?Sized>(event: &str, data: &T) -> Result<Value, ClientError> {
    let data = serde_json::to_value(data).map_err(|e| ClientError::Protocol(e.to_string()))?;
    Ok(Value::Array(vec![Value::String(event.to_owned()), data]))
}

async fn post(
    http: &TestClient,
    url: &str,
    headers: &[(String, String)],
    body: &str,
) -> Result<(), ClientError> {
    let mut req = http
        .post(url)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = req.send().await;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(ClientError::Http {
            status: res.status().as_u16(),
            body: res.text(),
        })
    }
}

type Connected = Result<String, ClientError>;

/// Long-polls until the session ends: answers pings, routes acks, queues
/// events, and reports the namespace's connect answer once.
async fn poll(
    http: TestClient,
    url: String,
    headers: Vec<(String, String)>,
    ns: String,
    events: mpsc::UnboundedSender<Event>,
    acks: Acks,
    connected: oneshot::Sender<Connected>,
) {
    let mut connected = Some(connected);
    let report = |c: &mut Option<oneshot::Sender<Connected>>, r: Connected| {
        if let Some(tx) = c.take() {
            let _ = tx.send(r);
        }
    };
    loop {
        let mut req = http.get(&url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let res = req.send().await;
        if !res.status().is_success() {
            report(
                &mut connected,
                Err(ClientError::Http {
                    status: res.status().as_u16(),
                    body: res.text(),
                }),
            );
            return;
        }
        for engine in res.text().split(SEPARATOR) {
            match engine.as_bytes().first() {
                Some(b'2') if post(&http, &url, &headers, "3").await.is_err() => return,
                Some(b'2') => {}
                Some(b'1') => {
                    report(&mut connected, Err(ClientError::Closed));
                    return;
                }
                Some(b'4') => {
                    let packet = match parse(&engine[1..]) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!("test client: {e}");
                            continue;
                        }
                    };
                    if packet.ns != ns {
                        continue;
                    }
                    match packet.kind {
                        0 => {
                            let sid = packet
                                .data
                                .as_ref()
                                .and_then(|d| d["sid"].as_str())
                                .unwrap_or_default()
                                .to_owned();
                            report(&mut connected, Ok(sid));
                        }
                        4 => {
                            let message = packet
                                .data
                                .as_ref()
                                .and_then(|d| d["message"].as_str().map(str::to_owned))
                                .unwrap_or_else(|| format!("{:?}", packet.data));
                            report(&mut connected, Err(ClientError::Refused(message)));
                            return;
                        }
                        1 => {
                            // Disconnected by the server: no more events.
                            return;
                        }
                        2 => {
                            let mut args = match packet.data {
                                Some(Value::Array(a)) => a,
                                other => {
                                    tracing::warn!(
                                        "test client: an event without a name: {other:?}"
                                    );
                                    continue;
                                }
                            };
                            if args.is_empty() {
                                continue;
                            }
                            let name = match args.remove(0) {
                                Value::String(s) => s,
                                other => other.to_string(),
                            };
                            let _ = events.send(Event {
                                name,
                                args,
                                ack_id: packet.id,
                            });
                        }
                        3 => {
                            let tx = packet.id.and_then(|id| acks.lock().unwrap().remove(&id));
                            if let Some(tx) = tx {
                                let args = match packet.data {
                                    Some(Value::Array(a)) => a,
                                    Some(v) => vec![v],
                                    None => Vec::new(),
                                };
                                let _ = tx.send(args);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip() {
        let p = parse(r#"2/live,12["comment",{"id":1}]"#).unwrap();
        assert_eq!(p.kind, 2);
        assert_eq!(p.ns, "/live");
        assert_eq!(p.id, Some(12));
        assert_eq!(p.data.unwrap()[0], "comment");
        assert_eq!(parse("40").unwrap().ns, "/");
        assert_eq!(encode(0, "/live", None, None), "0/live,");
        assert_eq!(
            encode(2, "/", Some(3), Some(&serde_json::json!(["a"]))),
            r#"23["a"]"#
        );
        assert!(parse("x").is_err());
    }
}
