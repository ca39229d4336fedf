//! Events kept per room for `socket.replay_secs`, so a client that was
//! away — its node restarted, its network dropped — gets what it missed
//! when it joins again: socket.io's connection state recovery, which
//! socketioxide does not have, and across nodes (the log lives in the
//! Redis the adapter uses; in memory on the local adapter).
//!
//! Each event sent through [`RoomLog::emit`] carries its offset as its last
//! argument (socket.io's convention: `socket.on("comment", (c, offset) =>
//! ..)`), a time-ordered id (`1733600000000-0`). A client keeps the last
//! one and sends it back when it joins again; [`RoomLog::join`] joins the
//! room and sends this socket what was logged since. It replays from a
//! few seconds before that offset (events emitted from several nodes at
//! once reach a client in any order), so a client drops offsets it has
//! already seen. While Redis is away, events still go out live (without
//! an offset) and cannot be replayed; the join says so (`complete:
//! false`), and the page catches up another way (the blog's reads the
//! API).
//!
//! ```
//! use phial_core::{App, Config};
//! use phial_socket::{AckSender, Data, RoomLog, Socket, SocketRef, App as SocketApp};
//! use phial_socket::socketioxide::handler::ConnectHandler;
//!
//! #[derive(serde::Deserialize)]
//! struct Join { room: String, since: Option<String> }
//!
//! async fn events(socket: SocketRef) -> Result<(), std::convert::Infallible> {
//!     socket.on("join", async |s: SocketRef, SocketApp(app): SocketApp, Data(j): Data<Join>, ack: AckSender| {
//!         let log = RoomLog::from_state(&app).expect("Socket is registered");
//!         let replay = log.join(&s, "/", &j.room, j.since.as_deref()).await;
//!         let _ = ack.send(&serde_json::json!({"ok": true, "complete": replay.complete}));
//!     });
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = App::builder(Config::testing())
//!     .register(Socket::new().ns("/", (async |_s: SocketRef| {}).with(events)))
//!     .build()
//!     .await
//!     .unwrap();
//! let log = RoomLog::from_state(app.state()).unwrap();
//! let io = phial_socket::SocketIo::from_state(app.state()).unwrap();
//! // Sent to the room's sockets now, and kept for those that come back.
//! let offset = log.emit(&io, "/", "news", "headline", &"Phial 1.0").await;
//! assert!(offset.is_some());
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use phial_core::AppState;
use serde::Serialize;
use serde_json::Value;

use crate::driver::PubSub;
use crate::extract::{SocketIo, SocketRef};

/// How far before a client's offset a replay starts: events emitted on
/// several nodes at once may reach a client out of order, and one it
/// never got may be older than the newest it has.
const SLACK_MS: u64 = 5_000;

/// An offset: milliseconds since the epoch and a sequence within them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Offset(u64, u64);

impl Offset {
    fn parse(s: &str) -> Option<Offset> {
        let (ms, seq) = s.split_once('-')?;
        Some(Offset(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl std::fmt::Display for Offset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// A room's stream: the namespace's length keeps `/a` + `b:c` apart from
/// `/a:b` + `c`.
fn stream_key(prefix: &str, ns: &str, room: &str) -> String {
    format!("{prefix}{}:{ns}:{room}", ns.len())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One logged event.
#[derive(Debug, Clone)]
struct Entry {
    offset: Offset,
    event: String,
    data: Value,
}

/// Where the log lives.
enum Store {
    /// This process (the local adapter: one node).
    Memory {
        rooms: Mutex<HashMap<String, VecDeque<Entry>>>,
        last: Mutex<Offset>,
        /// When rooms were last swept (ms since the epoch).
        swept: AtomicU64,
    },
    /// A Redis stream per room, beside the adapter's channels.
    Redis { driver: PubSub, prefix: String },
}

/// A namespace's broadcast operators, by path.
type Operators = socketioxide::operators::BroadcastOperators<crate::Adapter>;

struct Inner {
    store: Store,
    window: Duration,
    max: usize,
    /// Most events one join replays (below the socket's buffer).
    replay_cap: usize,
    /// When an event last went out without being logged (ms since the
    /// epoch): a replay reaching back past it is incomplete.
    gap_ms: AtomicU64,
    /// The namespaces as they were when the node began to shut down: its
    /// sockets are closed then (their clients reconnect elsewhere), but
    /// what it writes while it drains must still reach the other nodes'.
    draining: Mutex<HashMap<String, Operators>>,
}

/// The app's room log (in the state when `Socket` is registered).
#[derive(Clone)]
pub struct RoomLog(Arc<Inner>);

impl std::fmt::Debug for RoomLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomLog")
            .field("redis", &matches!(self.0.store, Store::Redis { .. }))
            .field("window", &self.0.window)
            .field("max", &self.0.max)
            .finish()
    }
}

phial_core::state_extractor!(RoomLog, extension "Socket", register "phial::socket::Socket::new()");

/// What a join replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// Events sent to the socket.
    pub sent: usize,
    /// Whether they are all it can have missed: false when the log could
    /// not be read, when the offset is older than the window (or not an
    /// offset), when an event went out unlogged since (Redis was away), or
    /// when there were more than half the socket's buffer
    /// (`socket.max_buffer_size`) to replay.
    pub complete: bool,
}

impl RoomLog {
    /// A log in this process.
    pub(crate) fn memory(window: Duration, max: usize, buffer: usize) -> RoomLog {
        RoomLog(Arc::new(Inner {
            store: Store::Memory {
                rooms: Mutex::new(HashMap::new()),
                last: Mutex::new(Offset(0, 0)),
                swept: AtomicU64::new(0),
            },
            window,
            max: max.max(1),
            replay_cap: (buffer / 2).clamp(1, max.max(1)),
            gap_ms: AtomicU64::new(0),
            draining: Mutex::new(HashMap::new()),
        }))
    }

    /// A log in the adapter's Redis, under `prefix`.
    pub(crate) fn redis(
        driver: PubSub,
        prefix: &str,
        window: Duration,
        max: usize,
        buffer: usize,
    ) -> RoomLog {
        RoomLog(Arc::new(Inner {
            store: Store::Redis {
                driver,
                prefix: format!("{prefix}:log:"),
            },
            window,
            max: max.max(1),
            replay_cap: (buffer / 2).clamp(1, max.max(1)),
            gap_ms: AtomicU64::new(0),
            draining: Mutex::new(HashMap::new()),
        }))
    }

    /// Keeps the namespaces' operators before the server closes them at
    /// shutdown, so events emitted while the node drains still go out to
    /// the other nodes (and are logged for the clients that reconnect).
    pub(crate) fn keep_broadcasting(&self, io: &socketioxide::SocketIo<crate::Adapter>) {
        let mut kept = self.0.draining.lock().unwrap_or_else(|p| p.into_inner());
        for ns in io.nsps() {
            kept.insert(ns.ns_path().to_owned(), ns);
        }
    }

    fn operators(&self, io: &SocketIo, ns: &str) -> Option<Operators> {
        io.of(ns).or_else(|| {
            self.0
                .draining
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(ns)
                .cloned()
        })
    }

    /// The log from the app's state, when `Socket` is registered.
    pub fn from_state(state: &AppState) -> Option<RoomLog> {
        state.get::<RoomLog>().cloned()
    }

    fn enabled(&self) -> bool {
        !self.0.window.is_zero()
    }

    /// Emits `event` with `data` to `room` of namespace `ns` on every node,
    /// its offset as the last argument, and logs it for clients that come
    /// back. Returns the offset, or `None` when the event went out live
    /// only (the log is off, or could not be written: Redis is away).
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        io: &SocketIo,
        ns: &str,
        room: &str,
        event: &str,
        data: &T,
    ) -> Option<String> {
        let data = match serde_json::to_value(data) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("room log: `{event}` cannot be encoded: {e}");
                return None;
            }
        };
        // Logged first: a client away now gets it when it comes back, even
        // if it cannot go out live.
        let offset = if self.enabled() {
            self.append(ns, room, event, &data).await
        } else {
            None
        };
        let Some(to) = self.operators(io, ns) else {
            tracing::warn!("room log: no namespace `{ns}`: `{event}` only logged");
            return offset.map(|o| o.to_string());
        };
        let sent = match &offset {
            Some(o) => {
                to.to(room.to_owned())
                    .emit(event, &(&data, o.to_string()))
                    .await
            }
            None => to.to(room.to_owned()).emit(event, &data).await,
        };
        if let Err(e) = sent {
            tracing::warn!("room log: `{event}` to `{room}`: {e}");
        }
        offset.map(|o| o.to_string())
    }

    /// Joins `socket` to `room` and sends it, in order, what was logged for
    /// the room since `since` (a client's last offset; `None`: a first
    /// join, nothing to replay). The events come before anything the
    /// caller sends after this returns (an ack, say).
    pub async fn join(
        &self,
        socket: &SocketRef,
        ns: &str,
        room: &str,
        since: Option<&str>,
    ) -> Replay {
        socket.join(room.to_owned());
        let Some(since) = since else {
            return Replay {
                sent: 0,
                complete: true,
            };
        };
        let Some(since) = Offset::parse(since) else {
            return Replay {
                sent: 0,
                complete: false,
            };
        };
        let now = now_ms();
        let window = self.0.window.as_millis() as u64;
        // Older than the window (or from the future): the log cannot tell
        // what was missed, and a client cannot make this node read and
        // send a whole room's log by sending an old offset.
        if !self.enabled() || since.0.saturating_add(window) < now || since.0 > now + SLACK_MS {
            return Replay {
                sent: 0,
                complete: false,
            };
        }
        let from = Offset(since.0.saturating_sub(SLACK_MS), 0);
        // At most what the socket's buffer takes with room to spare (the
        // caller's ack goes through it too); past it the client is told
        // the replay is incomplete and catches up another way.
        let cap = self.0.replay_cap;
        let Some(entries) = self.read(ns, room, from, cap + 1).await else {
            return Replay {
                sent: 0,
                complete: false,
            };
        };
        let mut sent = 0;
        for e in entries.iter().take(cap) {
            if socket
                .emit(&e.event, &(&e.data, e.offset.to_string()))
                .is_ok()
            {
                sent += 1;
            }
        }
        // An event sent while the log could not be written is a gap.
        let gap = self.0.gap_ms.load(Ordering::Acquire);
        Replay {
            sent,
            complete: entries.len() <= cap && sent == entries.len() && gap < from.0,
        }
    }

    async fn append(&self, ns: &str, room: &str, event: &str, data: &Value) -> Option<Offset> {
        match &self.0.store {
            Store::Memory { rooms, last, swept } => {
                let now = now_ms();
                // The rooms' lock first: offsets are taken and pushed in
                // one order.
                let mut rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
                let offset = {
                    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                    *last = if now > last.0 {
                        Offset(now, 0)
                    } else {
                        Offset(last.0, last.1 + 1)
                    };
                    *last
                };
                let log = rooms.entry(format!("{ns}\n{room}")).or_default();
                log.push_back(Entry {
                    offset,
                    event: event.to_owned(),
                    data: data.clone(),
                });
                let oldest = now.saturating_sub(self.0.window.as_millis() as u64);
                while log.len() > self.0.max || log.front().is_some_and(|e| e.offset.0 < oldest) {
                    log.pop_front();
                }
                // Rooms nobody wrote to for a window are dropped whole, in
                // a sweep at most once a second (not a scan of every room
                // on every emit; the rooms' lock is held).
                if now.saturating_sub(swept.load(Ordering::Relaxed)) >= 1000 {
                    swept.store(now, Ordering::Relaxed);
                    rooms.retain(|_, l| l.back().is_some_and(|e| e.offset.0 >= oldest));
                }
                Some(offset)
            }
            Store::Redis { driver, prefix } => {
                let key = stream_key(prefix, ns, room);
                let mut add = redis::cmd("XADD");
                add.arg(&key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(self.0.max)
                    .arg("*")
                    .arg("e")
                    .arg(event)
                    .arg("d")
                    .arg(data.to_string());
                let id: String = match driver.query(&add).await {
                    Ok(id) => id,
                    Err(e) => {
                        tracing::warn!("room log: `{event}` to `{room}` not logged: {e}");
                        self.0.gap_ms.fetch_max(now_ms(), Ordering::AcqRel);
                        return None;
                    }
                };
                let mut expire = redis::cmd("PEXPIRE");
                expire
                    .arg(&key)
                    .arg(self.0.window.as_millis() as u64 + SLACK_MS);
                let _ = driver.query::<i64>(&expire).await;
                Offset::parse(&id)
            }
        }
    }

    /// The room's entries from `from` on, oldest first; `None` when the log
    /// cannot be read.
    async fn read(&self, ns: &str, room: &str, from: Offset, count: usize) -> Option<Vec<Entry>> {
        match &self.0.store {
            Store::Memory { rooms, .. } => {
                let rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
                Some(
                    rooms
                        .get(&format!("{ns}\n{room}"))
                        .map(|log| {
                            log.iter()
                                .filter(|e| e.offset >= from)
                                .take(count)
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default(),
                )
            }
            Store::Redis { driver, prefix } => {
                let mut range = redis::cmd("XRANGE");
                range
                    .arg(stream_key(prefix, ns, room))
                    .arg(from.to_string())
                    .arg("+")
                    .arg("COUNT")
                    .arg(count);
                let rows: Vec<(String, Vec<String>)> = match driver.query(&range).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!("room log: `{room}` cannot be read: {e}");
                        return None;
                    }
                };
                Some(
                    rows.into_iter()
                        .filter_map(|(id, fields)| {
                            let mut event = None;
                            let mut data = None;
                            for pair in fields.chunks(2) {
                                match pair {
                                    [k, v] if k == "e" => event = Some(v.clone()),
                                    [k, v] if k == "d" => data = serde_json::from_str(v).ok(),
                                    _ => {}
                                }
                            }
                            Some(Entry {
                                offset: Offset::parse(&id)?,
                                event: event?,
                                data: data?,
                            })
                        })
                        .collect(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_order_by_time_then_sequence_and_reject_nonsense() {
        let a = Offset::parse("1733600000000-0").unwrap();
        let b = Offset::parse("1733600000000-1").unwrap();
        let c = Offset::parse("1733600000001-0").unwrap();
        assert!(a < b && b < c);
        assert_eq!(b.to_string(), "1733600000000-1");
        for bad in ["", "12", "a-b", "1-", "-1", "1-2-3"] {
            assert_eq!(Offset::parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn the_memory_log_keeps_the_newest_within_its_bounds() {
        let log = RoomLog::memory(Duration::from_secs(60), 3, 128);
        let mut offsets = Vec::new();
        for i in 0..5 {
            offsets.push(log.append("/", "r", "e", &Value::from(i)).await.unwrap());
        }
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
        let kept = log.read("/", "r", Offset(0, 0), 10).await.unwrap();
        let data: Vec<i64> = kept.iter().filter_map(|e| e.data.as_i64()).collect();
        assert_eq!(data, vec![2, 3, 4], "the newest three");
        let since = log.read("/", "r", offsets[3], 10).await.unwrap();
        assert_eq!(since.len(), 2);
        assert!(
            log.read("/", "other", Offset(0, 0), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
