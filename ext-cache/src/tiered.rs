//! The tiered backend: moka in front of Redis (or a Redis Cluster). Reads
//! hit the in-process tier first; every write, delete, counter and clear
//! goes to Redis and is announced on a pub/sub channel, so every node
//! drops its in-process copy. A node that lost its subscription (Redis
//! restarted) empties its in-process tier when it resubscribes, and
//! invalidations that could not be announced are replayed when Redis is
//! back: no node keeps a stale entry after recovery.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;

use crate::backend::Backend;
use crate::error::CacheError;
use crate::memory::{Capacity, Memory};
use crate::redis::Redis;

/// What an announcement asks: drop one key, or every key with a prefix.
fn encode(node: u64, what: &str) -> Vec<u8> {
    format!("{node:016x}\n{what}").into_bytes()
}

fn decode(payload: &[u8]) -> Option<(u64, &str)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (node, what) = text.split_once('\n')?;
    Some((u64::from_str_radix(node, 16).ok()?, what))
}

struct Shared {
    l1: Memory,
    l2: Redis,
    node: u64,
    channel: String,
    l1_ttl: Duration,
    /// Announcements that failed, to replay once Redis answers again.
    pending: Mutex<Vec<String>>,
    /// Whether the invalidation subscription is live.
    subscribed: tokio::sync::watch::Sender<bool>,
    l1_hits: std::sync::atomic::AtomicU64,
    l2_hits: std::sync::atomic::AtomicU64,
}

/// Watches whether a [`Tiered`] backend hears other nodes' invalidations.
#[derive(Clone)]
pub struct Subscription(tokio::sync::watch::Receiver<bool>);

impl Subscription {
    /// Resolves once the subscription is live (at start, and after a
    /// reconnection).
    pub async fn live(&mut self) {
        let _ = self.0.wait_for(|live| *live).await;
    }

    /// Resolves once the subscription is lost (Redis went away).
    pub async fn lost(&mut self) {
        let _ = self.0.wait_for(|live| !*live).await;
    }

    /// Whether it is live now.
    pub fn is_live(&self) -> bool {
        *self.0.borrow()
    }
}

/// moka + Redis, kept coherent across nodes.
pub struct Tiered {
    shared: Arc<Shared>,
    subscriber: tokio::task::JoinHandle<()>,
}

impl Drop for Tiered {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

impl Tiered {
    /// In-process entries live at most `l1_ttl`; `channel` should be
    /// unique to the app (the key prefix is a good one).
    pub fn new(
        l2: Redis,
        capacity: Capacity,
        l1_ttl: Duration,
        channel: impl Into<String>,
    ) -> Self {
        let mut id = [0u8; 8];
        // A node id, so a node ignores its own announcements.
        if getrandom::fill(&mut id).is_err() {
            id = u64::from(std::process::id()).to_le_bytes();
        }
        let shared = Arc::new(Shared {
            l1: Memory::new(capacity, None),
            l2,
            node: u64::from_le_bytes(id),
            channel: channel.into(),
            l1_ttl,
            pending: Mutex::new(Vec::new()),
            subscribed: tokio::sync::watch::channel(false).0,
            l1_hits: Default::default(),
            l2_hits: Default::default(),
        });
        let subscriber = tokio::spawn(subscribe(shared.clone()));
        Tiered { shared, subscriber }
    }

    /// Follows the state of the invalidation subscription (tests and
    /// readiness checks wait for it).
    pub fn subscription(&self) -> Subscription {
        Subscription(self.shared.subscribed.subscribe())
    }
}

/// Follows the channel for as long as the backend lives, reconnecting
/// with a growing pause; every (re)subscription starts from an empty
/// in-process tier and replays pending announcements.
async fn subscribe(shared: Arc<Shared>) {
    let mut pause = Duration::from_millis(100);
    let mut url_index = 0;
    loop {
        let urls = shared.l2.urls();
        let url = &urls[url_index % urls.len().max(1)];
        url_index += 1;
        let connected = async {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut pubsub =
                tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub())
                    .await
                    .ok()?
                    .ok()?;
            pubsub.subscribe(&shared.channel).await.ok()?;
            Some(pubsub)
        }
        .await;
        let Some(pubsub) = connected else {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            continue;
        };
        pause = Duration::from_millis(100);
        // Whatever was announced while we were away is unknown: start empty.
        let _ = shared.l1.clear("").await;
        replay(&shared).await;
        shared.subscribed.send_replace(true);
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let Some((node, what)) = decode(msg.get_payload_bytes()) else {
                continue;
            };
            if node == shared.node {
                continue;
            }
            drop_local(&shared, what).await;
        }
        shared.subscribed.send_replace(false);
        tracing::warn!(channel = %shared.channel, "lost the cache invalidation subscription; reconnecting");
    }
}

async fn drop_local(shared: &Shared, what: &str) {
    let _ = match what.strip_prefix('*') {
        Some(prefix) => shared.l1.clear(prefix).await,
        None => shared.l1.delete(&[what.to_owned()]).await.map(|_| ()),
    };
}

async fn replay(shared: &Shared) {
    let pending = std::mem::take(&mut *shared.pending.lock().unwrap_or_else(|p| p.into_inner()));
    for what in pending {
        // The write itself may have failed too: make Redis forget it.
        let l2 = match what.strip_prefix('*') {
            Some(prefix) => shared.l2.clear(prefix).await,
            None => shared
                .l2
                .delete(std::slice::from_ref(&what))
                .await
                .map(|_| ()),
        };
        if l2.is_err() || announce(shared, &what).await.is_err() {
            shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(what);
        }
    }
}

async fn announce(shared: &Shared, what: &str) -> Result<(), CacheError> {
    shared
        .l2
        .publish(&shared.channel, &encode(shared.node, what))
        .await
}

impl Shared {
    /// Tells the other nodes, or remembers to.
    async fn invalidate(&self, what: String) {
        if announce(self, &what).await.is_err() {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(what);
        }
    }
}

impl Backend for Tiered {
    fn kind(&self) -> &'static str {
        "tiered"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>> {
        Box::pin(async move {
            let s = &self.shared;
            if let Some(v) = s.l1.get(key).await? {
                s.l1_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(Some(v));
            }
            let v = s.l2.get(key).await?;
            if let Some(v) = &v {
                s.l2_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                s.l1.set(key, v.clone(), Some(s.l1_ttl)).await?;
            }
            Ok(v)
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let s = &self.shared;
            let l1_ttl = Some(ttl.map_or(s.l1_ttl, |t| t.min(s.l1_ttl)));
            let written = s.l2.set(key, value.clone(), ttl).await;
            s.l1.set(key, value, l1_ttl).await?;
            s.invalidate(key.to_owned()).await;
            written
        })
    }

    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, CacheError>> {
        Box::pin(async move {
            let s = &self.shared;
            let now = s.l2.set_if_absent(key, value.clone()).await?;
            s.l1.set(key, now.clone(), Some(s.l1_ttl)).await?;
            if now == value {
                // Created here: a node may still hold what Redis lost.
                s.invalidate(key.to_owned()).await;
            }
            Ok(now)
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move {
            let s = &self.shared;
            s.l2.ping().await?;
            if !*s.subscribed.borrow() {
                return Err(CacheError::Backend {
                    backend: "tiered",
                    message: "not subscribed to other nodes' invalidations: this node's \
                              in-process entries may be stale"
                        .into(),
                });
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<u64, CacheError>> {
        Box::pin(async move {
            let s = &self.shared;
            s.l1.delete(keys).await?;
            let deleted = s.l2.delete(keys).await;
            for k in keys {
                s.invalidate(k.clone()).await;
            }
            if deleted.is_err() {
                // Redis still holds the values: replay the deletes later.
                s.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(keys.iter().cloned());
            }
            deleted
        })
    }

    fn incr<'a>(
        &'a self,
        key: &'a str,
        by: i64,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<i64, CacheError>> {
        Box::pin(async move {
            let s = &self.shared;
            // Counters (and tag versions) live in Redis only.
            let n = s.l2.incr(key, by, ttl).await;
            s.l1.delete(&[key.to_owned()]).await?;
            s.invalidate(key.to_owned()).await;
            n
        })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<bool>, CacheError>> {
        self.shared.l2.try_lock(key, token, ttl)
    }

    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        self.shared.l2.unlock(key, token)
    }

    fn figures(&self) -> serde_json::Value {
        let s = &self.shared;
        serde_json::json!({
            "l1_hits": s.l1_hits.load(std::sync::atomic::Ordering::Relaxed),
            "l2_hits": s.l2_hits.load(std::sync::atomic::Ordering::Relaxed),
            "subscribed": *s.subscribed.borrow(),
            "pending_invalidations": s.pending.lock().map(|p| p.len()).unwrap_or(0),
        })
    }

    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let s = &self.shared;
            s.l1.clear(prefix).await?;
            let cleared = s.l2.clear(prefix).await;
            let what = format!("*{prefix}");
            if cleared.is_err() {
                s.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(what);
            } else {
                s.invalidate(what).await;
            }
            cleared
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip() {
        let p = encode(0xabc, "app:post:1");
        assert_eq!(decode(&p), Some((0xabc, "app:post:1")));
        assert_eq!(decode(b"garbage"), None);
    }
}
