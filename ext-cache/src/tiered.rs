//! The tiered backend: moka in front of Redis (or a Redis Cluster). Reads
//! hit the in-process tier first; every write, delete, counter and clear
//! goes to Redis and is announced on a pub/sub channel, so every node
//! drops its in-process copy. A node that lost its subscription (Redis
//! restarted) empties its in-process tier when it resubscribes, and
//! invalidations that could not be announced are replayed when Redis is
//! back: no node keeps a stale entry after recovery. Those pending
//! invalidations are kept once per key and at most
//! [`max_pending`](Tiered::max_pending) of them; past that the node keeps
//! only the prefix they share, and the replay removes that prefix from
//! Redis and empties every node's in-process tier (logged as a warning).
//!
//! An in-process hit is served only while the node has proven, within a
//! bound (250 ms by default), that it hears the invalidation channel: see
//! `tiered/coherence.rs`. Past the bound (Redis frozen or failing over, a
//! silent connection) reads skip the in-process tier until the proof is
//! back, and the tier is emptied first. So no value served from a node's
//! memory is older than the bound after the write that replaced it was
//! announced, under any single fault.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::backend::Backend;
use crate::error::CacheError;
use crate::memory::{Capacity, Memory};
use crate::redis::Redis;

mod coherence;
mod fills;
mod pending;
mod subscriber;

use crate::local_tags::LocalTags;
use coherence::Coherence;
pub use coherence::DEFAULT_BOUND;
use fills::Fills;
use pending::Pending;
use subscriber::{announce, heartbeats, subscribe};

struct Shared {
    l1: Memory,
    l2: Redis,
    node: u64,
    channel: String,
    l1_ttl: Duration,
    /// Invalidations that failed, to replay once Redis answers again.
    pending: Mutex<Pending>,
    /// Whether the invalidation subscription is live.
    subscribed: tokio::sync::watch::Sender<bool>,
    /// Whether the in-process tier may be trusted now.
    coherence: Coherence,
    /// Tag versions in process memory, read while trusted.
    tags: LocalTags,
    /// Fills of the in-process tier that raced a drop.
    fills: Fills,
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

/// Watches whether a [`Tiered`] node may serve from its memory: proven
/// while its own heartbeats come back through the invalidation channel
/// within the bound.
#[derive(Clone)]
pub struct Coherent(tokio::sync::watch::Receiver<bool>);

impl Coherent {
    /// Resolves once reads may use the in-process tier.
    pub async fn trusted(&mut self) {
        let _ = self.0.wait_for(|t| *t).await;
    }

    /// Resolves once reads skip the in-process tier (the proof lapsed).
    pub async fn distrusted(&mut self) {
        let _ = self.0.wait_for(|t| !*t).await;
    }
}

/// moka + Redis, kept coherent across nodes.
pub struct Tiered {
    shared: Arc<Shared>,
    subscriber: tokio::task::JoinHandle<()>,
    heartbeats: tokio::task::JoinHandle<()>,
}

impl Drop for Tiered {
    fn drop(&mut self) {
        self.subscriber.abort();
        self.heartbeats.abort();
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
            pending: Mutex::new(Pending::new()),
            subscribed: tokio::sync::watch::channel(false).0,
            coherence: Coherence::new(DEFAULT_BOUND),
            tags: LocalTags::default(),
            fills: Fills::default(),
            l1_hits: Default::default(),
            l2_hits: Default::default(),
        });
        let subscriber = tokio::spawn(subscribe(shared.clone()));
        let heartbeats = tokio::spawn(heartbeats(shared.clone()));
        Tiered {
            shared,
            subscriber,
            heartbeats,
        }
    }

    /// How stale an in-process hit may be under a fault (250 ms by
    /// default, [`DEFAULT_BOUND`]): the node sends a heartbeat every
    /// quarter of it and serves from memory only while its last one came
    /// back within it. A shorter bound costs more heartbeats (each node
    /// publishes `4 / bound` a second and hears every node's).
    pub fn coherence_bound(self, bound: Duration) -> Self {
        self.shared.coherence.set_bound(bound);
        self
    }

    /// Follows whether reads may use the in-process tier.
    pub fn coherence(&self) -> Coherent {
        Coherent(self.shared.coherence.watch())
    }

    /// Follows the state of the invalidation subscription (tests and
    /// readiness checks wait for it).
    pub fn subscription(&self) -> Subscription {
        Subscription(self.shared.subscribed.subscribe())
    }

    /// Keeps at most `limit` invalidations (distinct keys) to replay after
    /// an outage (10 000 by default). Past it, the replay removes from
    /// Redis every key under the prefix the dropped ones share and empties
    /// every node's in-process tier.
    pub fn max_pending(self, limit: usize) -> Self {
        self.shared.pending().set_limit(limit);
        self
    }
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `what` to replay once Redis answers.
    fn remember(&self, what: String) {
        let overflow = self.pending().push(what);
        if let Some(prefix) = overflow {
            tracing::warn!(
                channel = %self.channel,
                prefix = %prefix,
                "too many cache invalidations pending while Redis is unreachable: once it \
                 answers, every key under the prefix is removed from Redis and every node's \
                 in-process tier is emptied"
            );
        }
    }

    /// Drops `key` from this node's memory (announced by another node, or
    /// written here): the entry, and the tag version if it is one.
    async fn drop_key(&self, key: &str) {
        self.fills.dropped(key);
        let _ = self.l1.delete(&[key.to_owned()]).await;
        self.tags.changed(key);
    }

    /// Empties this node's memory (a clear, a lapse, a resubscription).
    async fn empty_memory(&self, prefix: &str) {
        self.fills.dropped_all();
        let _ = self.l1.clear(prefix).await;
        self.tags.forget_all();
    }

    /// Tells the other nodes, or remembers to (and says it could not).
    async fn invalidate(&self, what: String) -> Result<(), CacheError> {
        if let Err(e) = announce(self, &what).await {
            self.remember(what);
            return Err(e);
        }
        Ok(())
    }
}

impl Backend for Tiered {
    fn kind(&self) -> &'static str {
        "tiered"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let s = &self.shared;
        // Memory only while the node proves it hears invalidations; else
        // Redis (or a miss), and nothing kept: the tier is emptied before
        // it is trusted again.
        // A client that just wrote reads the shared tier (read-your-writes).
        let trusted = s.coherence.trusted() && !crate::fresh_reads::marked();
        if trusted && let Some(v) = s.l1.get(key).await? {
            s.l1_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(Some(v));
        }
        let since = s.fills.before(key);
        let v = s.l2.get(key).await?;
        if let Some(v) = &v {
            s.l2_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if trusted {
                s.l1.set(key, v.clone(), Some(s.l1_ttl)).await?;
                if !s.fills.unchanged(key, since) {
                    // Dropped while we fetched: what we kept may be what
                    // the drop replaced.
                    s.l1.delete(&[key.to_owned()]).await?;
                }
            }
        }
        Ok(v)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        let s = &self.shared;
        let l1_ttl = Some(ttl.map_or(s.l1_ttl, |t| t.min(s.l1_ttl)));
        let written = s.l2.set(key, value.clone(), ttl).await;
        s.fills.dropped(key);
        s.l1.set(key, value, l1_ttl).await?;
        s.tags.changed(key);
        if written.is_err() {
            // Redis keeps the value this one replaced: drop it later.
            s.remember(key.to_owned());
        }
        let announced = s.invalidate(key.to_owned()).await;
        // A write the other nodes were not told of failed too: they may
        // serve what it replaced (a guarded database write is refused).
        written.and(announced)
    }

    async fn set_if_absent(&self, key: &str, value: Bytes) -> Result<Bytes, CacheError> {
        let s = &self.shared;
        let now = s.l2.set_if_absent(key, value.clone()).await?;
        s.fills.dropped(key);
        s.l1.set(key, now.clone(), Some(s.l1_ttl)).await?;
        if now == value {
            s.tags.changed(key);
            // Created here: a node may still hold what Redis lost.
            s.invalidate(key.to_owned()).await?;
        }
        Ok(now)
    }

    async fn ping(&self) -> Result<(), CacheError> {
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
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, CacheError> {
        let s = &self.shared;
        let deleted = s.l2.delete(keys).await;
        for k in keys {
            s.drop_key(k).await;
        }
        for k in keys {
            let _ = s.invalidate(k.clone()).await;
        }
        if deleted.is_err() {
            // Redis still holds the values: replay the deletes later.
            for k in keys {
                s.remember(k.clone());
            }
        }
        deleted
    }

    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, CacheError> {
        let s = &self.shared;
        // Counters (and tag versions) live in Redis only.
        let n = s.l2.incr(key, by, ttl).await;
        s.drop_key(key).await;
        let _ = s.invalidate(key.to_owned()).await;
        n
    }

    async fn try_lock(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<Option<bool>, CacheError> {
        self.shared.l2.try_lock(key, token, ttl).await
    }

    async fn unlock(&self, key: &str, token: &str) -> Result<(), CacheError> {
        self.shared.l2.unlock(key, token).await
    }

    fn local_tags(&self) -> Option<&LocalTags> {
        // Only while this node proves it hears every other node's
        // announcements: the versions are as fresh as the memory.
        let s = &self.shared;
        (s.coherence.trusted() && !crate::fresh_reads::marked()).then_some(&s.tags)
    }

    fn figures(&self) -> serde_json::Value {
        let s = &self.shared;
        serde_json::json!({
            "l1_hits": s.l1_hits.load(std::sync::atomic::Ordering::Relaxed),
            "l2_hits": s.l2_hits.load(std::sync::atomic::Ordering::Relaxed),
            "subscribed": *s.subscribed.borrow(),
            "coherent": s.coherence.trusted(),
            "coherence_bound_ms": s.coherence.bound().as_millis() as u64,
            "coherence_lapses": s.coherence.lapses(),
            "pending_invalidations": s.pending().len(),
            "pending_overflowed": s.pending().overflowed(),
        })
    }

    async fn clear(&self, prefix: &str) -> Result<(), CacheError> {
        let s = &self.shared;
        let cleared = s.l2.clear(prefix).await;
        s.empty_memory(prefix).await;
        let what = format!("*{prefix}");
        if cleared.is_err() {
            s.remember(what);
        } else {
            let _ = s.invalidate(what).await;
        }
        cleared
    }
}
