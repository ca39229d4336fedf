//! The pub/sub driver under the Redis adapter, written for the failures
//! socketioxide-redis's own drivers do not survive:
//!
//! - **Redis restarts.** Its plain driver keeps one multiplexed connection
//!   that never reconnects nor resubscribes: broadcasts silently stop. Here
//!   a watchdog pings every second; after an outage (or a disconnection
//!   pushed by the client) it subscribes every channel again.
//! - **Redis away.** The adapter publishes before it delivers locally and
//!   gives up on an error, so a dead Redis would also silence this node's
//!   own clients. Here a failed publish is logged (once per outage) and
//!   reported as sent: delivery degrades to this node's clients and
//!   recovers when Redis returns.
//! - **Bursts.** Its drivers drop a message when the adapter's buffer is
//!   full. Here messages wait in an unbounded queue and are handed on with
//!   back-pressure, in order.
//!
//! One file: the connection, its watchdog and the resubscription share one
//! state machine; apart, each half would reach into the other.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use phial_core::AddressMap;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, PushInfo, PushKind};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::{OnceCell, mpsc};

/// How often the watchdog checks Redis.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// The longest a single Redis command may take before it counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// Failed pings in a row after which the connection is replaced.
const REPLACE_AFTER: u32 = 3;

pub(crate) use crate::error::SocketError as DriverError;

enum Conn {
    Single(Box<Single>),
    /// Connected on first use (making one is async; the driver is made while
    /// the app is described).
    Cluster(Box<Cluster>),
}

/// One Redis: a reconnecting connection, and what makes a new one when a
/// connection went silent without closing (which the manager cannot see).
struct Single {
    conn: std::sync::RwLock<ConnectionManager>,
    client: redis::Client,
    config: redis::aio::ConnectionManagerConfig,
}

impl Single {
    fn conn(&self) -> ConnectionManager {
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Drops the current connection for a new one (made on first use).
    fn replace(&self) {
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(fresh) => *self.conn.write().unwrap_or_else(|p| p.into_inner()) = fresh,
            Err(e) => tracing::warn!("Socket.IO Redis adapter: a new connection failed: {e}"),
        }
    }
}

struct Cluster {
    client: redis::cluster::ClusterClient,
    conn: OnceCell<ClusterConnection>,
}

struct Inner {
    conn: Conn,
    channels: Mutex<HashMap<String, mpsc::Sender<ChanItem>>>,
    /// Whether the last command reached Redis.
    up: AtomicBool,
    /// Set when the connection dropped: the channels must be subscribed again.
    resubscribe: AtomicBool,
    /// Whether the watchdog runs (from the first subscription: an app only
    /// described for `routes` or `config` never reaches Redis).
    watching: AtomicBool,
}

/// Phial's pub/sub driver over one Redis or a Redis Cluster. Clones share
/// one connection.
#[derive(Clone)]
pub struct PubSub(Arc<Inner>);

impl fmt::Debug for PubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub")
            .field("cluster", &matches!(self.0.conn, Conn::Cluster(_)))
            .field("up", &self.0.up.load(Ordering::Relaxed))
            .finish()
    }
}

/// `redis://host:port` as the client needs it: RESP3, which carries
/// subscriptions on the same connection as commands.
fn resp3(url: &str) -> String {
    let url = url.trim();
    if url.contains("protocol=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}protocol=resp3")
}

impl PubSub {
    /// A driver over one Redis; connects lazily and keeps reconnecting.
    /// Must be called inside a Tokio runtime.
    pub fn single(url: &str, map: &AddressMap) -> Result<PubSub, DriverError> {
        let client = redis::Client::open(resp3(&map.url(url)))
            .map_err(|e| DriverError::RedisUrl(format!("`{url}` is not a Redis URL: {e}")))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_push_sender(tx)
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| DriverError::Redis(e.to_string()))?;
        Ok(PubSub::start(
            Conn::Single(Box::new(Single {
                conn: std::sync::RwLock::new(conn),
                client,
                config,
            })),
            rx,
        ))
    }

    /// A driver over a Redis Cluster (sharded pub/sub), from seed URLs.
    /// Every connection, to a seed or to a node the cluster announces,
    /// goes where `map` says (`socket.address_map`).
    pub fn cluster(urls: &[String], map: &AddressMap) -> Result<PubSub, DriverError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let client =
            redis::cluster::ClusterClientBuilder::new(urls.iter().map(|u| resp3(&map.url(u))))
                .async_dns_resolver(map.clone())
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(tx)
                .connection_timeout(COMMAND_TIMEOUT)
                .response_timeout(COMMAND_TIMEOUT)
                .retries(2)
                .build()
                .map_err(|e| DriverError::RedisUrl(format!("Redis Cluster seeds {urls:?}: {e}")))?;
        Ok(PubSub::start(
            Conn::Cluster(Box::new(Cluster {
                client,
                conn: OnceCell::new(),
            })),
            rx,
        ))
    }

    fn start(conn: Conn, pushes: mpsc::UnboundedReceiver<PushInfo>) -> PubSub {
        let inner = Arc::new(Inner {
            conn,
            channels: Mutex::new(HashMap::new()),
            up: AtomicBool::new(true),
            resubscribe: AtomicBool::new(false),
            watching: AtomicBool::new(false),
        });
        tokio::spawn(forward(Arc::downgrade(&inner), pushes));
        PubSub(inner)
    }

    /// Whether Redis answered the last command.
    pub fn is_up(&self) -> bool {
        self.0.up.load(Ordering::Relaxed)
    }

    /// Pings Redis.
    pub async fn ping(&self) -> Result<(), DriverError> {
        self.0.ping().await
    }

    /// Runs one command on the adapter's connection (the room log's).
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, DriverError> {
        self.0.query(cmd).await
    }
}

impl Inner {
    /// Runs one Redis call, bounded in time, and records whether Redis
    /// answered.
    async fn guard<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, DriverError> {
        match tokio::time::timeout(COMMAND_TIMEOUT * 2, call).await {
            Ok(Ok(v)) => {
                self.mark(true);
                Ok(v)
            }
            Ok(Err(e)) => {
                // Redis answering with an error (a missing permission) is
                // not Redis being away.
                if e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                {
                    self.mark(false);
                }
                Err(DriverError::Redis(e.to_string()))
            }
            Err(_) => {
                self.mark(false);
                Err(DriverError::Redis("Redis did not answer in time".into()))
            }
        }
    }

    async fn cluster_conn(
        client: &redis::cluster::ClusterClient,
        conn: &OnceCell<ClusterConnection>,
    ) -> redis::RedisResult<ClusterConnection> {
        conn.get_or_try_init(|| client.get_async_connection())
            .await
            .cloned()
    }

    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, DriverError> {
        self.guard(async {
            match &self.conn {
                Conn::Single(c) => cmd.query_async(&mut c.conn()).await,
                Conn::Cluster(c) => {
                    cmd.query_async(&mut Self::cluster_conn(&c.client, &c.conn).await?)
                        .await
                }
            }
        })
        .await
    }

    async fn subscribe(&self, channels: Vec<String>) -> Result<(), DriverError> {
        self.guard(async {
            match &self.conn {
                Conn::Single(c) => c.conn().subscribe(channels).await,
                Conn::Cluster(c) => {
                    let mut conn = Self::cluster_conn(&c.client, &c.conn).await?;
                    // Sharded channels live on different nodes: one each.
                    for chan in channels {
                        conn.ssubscribe(chan).await?;
                    }
                    Ok(())
                }
            }
        })
        .await
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), DriverError> {
        self.guard(async {
            match &self.conn {
                Conn::Single(c) => c.conn().unsubscribe(chan).await,
                Conn::Cluster(c) => {
                    Self::cluster_conn(&c.client, &c.conn)
                        .await?
                        .sunsubscribe(chan)
                        .await
                }
            }
        })
        .await
    }

    /// Records whether Redis answered; logs the changes, not every failure.
    fn mark(&self, up: bool) {
        let was = self.up.swap(up, Ordering::Relaxed);
        if was && !up {
            self.resubscribe.store(true, Ordering::Relaxed);
            tracing::warn!(
                "Socket.IO Redis adapter cannot reach Redis: broadcasts reach this node's \
                 clients only until it returns"
            );
        }
    }

    fn cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    async fn ping(&self) -> Result<(), DriverError> {
        self.query::<String>(&redis::cmd("PING")).await.map(|_| ())
    }

    async fn subscribe_all(&self) -> Result<(), DriverError> {
        let channels: Vec<String> = self.channels.lock().unwrap().keys().cloned().collect();
        if channels.is_empty() {
            return Ok(());
        }
        self.subscribe(channels).await
    }
}

/// Hands messages from Redis to the adapter's streams, in order, waiting
/// when a stream is full instead of dropping.
async fn forward(inner: Weak<Inner>, mut pushes: mpsc::UnboundedReceiver<PushInfo>) {
    while let Some(push) = pushes.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        match push.kind {
            PushKind::Message | PushKind::SMessage if push.data.len() >= 2 => {
                let mut data = push.data.into_iter();
                let (Some(chan), Some(msg)) = (data.next(), data.next()) else {
                    continue;
                };
                let (Ok(chan), Ok(msg)) = (
                    String::from_redis_value(chan),
                    Vec::<u8>::from_redis_value(msg),
                ) else {
                    tracing::warn!(
                        "Socket.IO Redis adapter: a message that is not bytes was skipped"
                    );
                    continue;
                };
                let tx = inner.channels.lock().unwrap().get(&chan).cloned();
                drop(inner);
                if let Some(tx) = tx {
                    // The adapter went away (namespace closed): nothing to do.
                    let _ = tx.send((chan, msg)).await;
                }
            }
            PushKind::Disconnection => {
                inner.resubscribe.store(true, Ordering::Relaxed);
                inner.mark(false);
            }
            _ => {}
        }
    }
}

/// Pings Redis every second; after an outage or a dropped connection,
/// subscribes every channel again.
async fn watch(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failed = 0;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let was_up = inner.up.load(Ordering::Relaxed);
        if inner.ping().await.is_err() {
            failed += 1;
            // A connection that went silent without closing (a host gone, an
            // address moved by a failover) is never noticed by the manager:
            // replace it.
            if failed % REPLACE_AFTER == 0
                && let Conn::Single(single) = &inner.conn
            {
                single.replace();
                inner.resubscribe.store(true, Ordering::Relaxed);
            }
            continue;
        }
        failed = 0;
        if inner.resubscribe.swap(false, Ordering::Relaxed) {
            match inner.subscribe_all().await {
                Ok(()) => {
                    if !was_up {
                        tracing::info!(
                            "Socket.IO Redis adapter reached Redis again: broadcasts reach every node"
                        );
                    }
                }
                Err(e) => {
                    inner.resubscribe.store(true, Ordering::Relaxed);
                    tracing::warn!("{e}: subscribing again after an outage failed; retrying");
                }
            }
        }
    }
}

impl Driver for PubSub {
    type Error = DriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), DriverError> {
        // While Redis is away, skip it: the adapter delivers locally after
        // publishing, and waiting for a timeout on every emit would hold
        // this node's own clients. The watchdog notices Redis returning.
        if !self.is_up() {
            return Ok(());
        }
        let cmd = if self.0.cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        // Reported as sent either way: the adapter would otherwise skip the
        // local delivery too (see the module's doc).
        let _ = self
            .0
            .query::<redis::Value>(redis::cmd(cmd).arg(chan).arg(val))
            .await;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, DriverError> {
        let (tx, rx) = mpsc::channel(size.max(1));
        self.0.channels.lock().unwrap().insert(chan.clone(), tx);
        if !self.0.watching.swap(true, Ordering::Relaxed) {
            tokio::spawn(watch(Arc::downgrade(&self.0)));
        }
        if !self.is_up() {
            self.0.resubscribe.store(true, Ordering::Relaxed);
        } else if let Err(e) = self.0.subscribe(vec![chan.clone()]).await {
            // Kept: the watchdog subscribes it when Redis is back.
            self.0.resubscribe.store(true, Ordering::Relaxed);
            tracing::warn!("{e}: `{chan}` is subscribed when Redis is back");
        }
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), DriverError> {
        self.0.channels.lock().unwrap().remove(&chan);
        let _ = self.0.unsubscribe(chan).await;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, DriverError> {
        if !self.is_up() {
            return Ok(1);
        }
        let sub = if self.0.cluster() {
            "SHARDNUMSUB"
        } else {
            "NUMSUB"
        };
        match self
            .0
            .query::<(String, u16)>(redis::cmd("PUBSUB").arg(sub).arg(chan))
            .await
        {
            Ok((_, n)) => Ok(n.max(1)),
            // Without Redis, this node is the only one it can reach.
            Err(_) => Ok(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::resp3;

    #[test]
    fn urls_ask_for_resp3() {
        assert_eq!(resp3("redis://h:1"), "redis://h:1?protocol=resp3");
        assert_eq!(
            resp3("redis://h:1/0?x=1"),
            "redis://h:1/0?x=1&protocol=resp3"
        );
        assert_eq!(
            resp3("redis://h?protocol=resp2"),
            "redis://h?protocol=resp2"
        );
    }
}
