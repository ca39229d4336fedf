//! Loads that run once. Concurrent misses for one key in this process
//! share one load: the first caller (the leader) runs its loader and hands
//! the outcome — the value, or the loader's error — to every caller
//! waiting on it, so a down backend or a failing loader never makes
//! callers load one after another. A leader whose future is dropped
//! (a cancelled request) leaves the flight, and one waiter takes over.
//! Across nodes, the leader takes a short lock in the shared backend; a
//! node that finds it taken waits a bounded time for the value.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::CacheError;
use crate::cache::{Cache, Stored};

/// How long a node may hold the load lock of a key.
pub(crate) const LOCK_TTL: Duration = Duration::from_secs(5);
/// How long other nodes wait for its value before they load themselves.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(2);
const LOCK_POLL: Duration = Duration::from_millis(20);

/// What a leader hands its waiters.
enum Outcome {
    /// The entry as stored (a `Stored<T>`, encoded).
    Value(Bytes),
    /// The loader's error (an `E`).
    Failed(Arc<dyn Any + Send + Sync>),
    /// The value could not be encoded: each waiter loads its own.
    Unshared,
}

type Slot = watch::Receiver<Option<Arc<Outcome>>>;

/// The loads running in this process, by key.
#[derive(Default)]
pub(crate) struct Flights {
    running: Mutex<HashMap<String, (u64, Slot)>>,
    next_id: AtomicU64,
}

enum Turn<'a> {
    Lead(Leader<'a>),
    Follow(Slot),
}

/// The right to load a key; dropping it (done or cancelled) ends the flight.
struct Leader<'a> {
    flights: &'a Flights,
    key: String,
    id: u64,
    tx: watch::Sender<Option<Arc<Outcome>>>,
}

impl Flights {
    fn join(&self, key: &str) -> Turn<'_> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, slot)) = running.get(key) {
            return Turn::Follow(slot.clone());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        running.insert(key.to_owned(), (id, rx));
        Turn::Lead(Leader {
            flights: self,
            key: key.to_owned(),
            id,
            tx,
        })
    }
}

impl Leader<'_> {
    fn publish(&self, outcome: Outcome) {
        self.tx.send_replace(Some(Arc::new(outcome)));
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let mut running = self
            .flights
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if running.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            running.remove(&self.key);
        }
        // Dropping `tx` now wakes waiters that got no outcome: one of
        // them leads next.
    }
}

/// The outcome the leader handed over; `None` when it left without one.
async fn wait(mut slot: Slot) -> Option<Arc<Outcome>> {
    slot.wait_for(Option::is_some).await.ok()?.clone()
}

/// The cross-node load lock; released when dropped, even mid-load.
struct NodeLock {
    cache: Cache,
    key: String,
    token: String,
    held: bool,
}

impl NodeLock {
    async fn release(mut self) {
        if std::mem::take(&mut self.held)
            && let Err(e) = self.cache.0.backend.unlock(&self.key, &self.token).await
        {
            self.cache.failed("unlock", &e);
        }
    }
}

impl Drop for NodeLock {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (cache, key, token) = (
                self.cache.clone(),
                std::mem::take(&mut self.key),
                std::mem::take(&mut self.token),
            );
            runtime.spawn(async move {
                let _ = cache.0.backend.unlock(&key, &token).await;
            });
        }
    }
}

fn lock_token() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        b[..8].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
    }
    hex::encode(b)
}

impl Cache {
    /// The cached value, or the loader's (then cached). Concurrent misses
    /// for the same key in this process run one loader; the other callers
    /// get its value, or a clone of its error, without loading (an error
    /// type that is not `Clone` can travel in an `Arc`). When the loading
    /// call is cancelled, a waiting one loads instead. Tag versions are
    /// read before the loader runs, so an invalidation during the load
    /// leaves its value stale.
    pub async fn get_or_set_with<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.get_or_set_tagged_with(key, ttl, &[], loader).await
    }

    /// [`get_or_set_with`](Self::get_or_set_with) storing the value with tags.
    pub async fn get_or_set_tagged_with<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        tags: &[&str],
        loader: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if crate::fresh_reads::marked() {
            // A client that just wrote: neither the cache nor a load that
            // may have begun before its write (fresh_reads.rs).
            return self.load(key, ttl, tags, loader, None).await;
        }
        // Loads joined whose value a write had replaced by the time it came.
        let mut overtaken = 0;
        loop {
            if let Some(v) = self.get(key).await {
                return Ok(v);
            }
            let slot = match self.0.flights.join(key) {
                Turn::Lead(leader) => return self.lead(key, ttl, tags, leader, loader).await,
                Turn::Follow(slot) => slot,
            };
            self.0.counters.waits.fetch_add(1, Ordering::Relaxed);
            let Some(outcome) = wait(slot).await else {
                continue; // The leader was cancelled: try again, maybe as the leader.
            };
            match &*outcome {
                Outcome::Value(raw) => {
                    if let Ok(stored) = Stored::<T>::decode(key, raw) {
                        // The load may have begun before a write that ended
                        // before this call joined it: its value is this
                        // call's only if its tags are still current.
                        if self.still_current(&stored, tags).await {
                            return Ok(stored.value);
                        }
                        overtaken += 1;
                        if overtaken < 2 {
                            continue;
                        }
                        // Writes keep overtaking the loads: load our own.
                        return self.load(key, ttl, tags, loader, None).await;
                    }
                }
                Outcome::Failed(e) => {
                    if let Some(e) = e.downcast_ref::<E>() {
                        return Err(e.clone());
                    }
                }
                Outcome::Unshared => {}
            }
            // The leader's result is of another type than ours: load ours.
            return self.load(key, ttl, tags, loader, None).await;
        }
    }

    async fn lead<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        tags: &[&str],
        leader: Leader<'_>,
        loader: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        // Whoever led before may have stored it.
        if let Ok(Some((raw, v))) = self.read_stored::<T>(key).await {
            leader.publish(Outcome::Value(raw));
            return Ok(v);
        }
        // Across nodes: one takes a short shared lock and loads; the
        // others wait a bounded time for its value, then load anyway.
        let mut lock = NodeLock {
            cache: self.clone(),
            key: self.lock_key(key),
            token: lock_token(),
            held: false,
        };
        match self
            .0
            .backend
            .try_lock(&lock.key, &lock.token, LOCK_TTL)
            .await
        {
            Ok(Some(true)) => lock.held = true,
            Ok(Some(false)) => {
                if let Some((raw, v)) = self.wait_for_other_node::<T>(key).await {
                    leader.publish(Outcome::Value(raw));
                    return Ok(v);
                }
            }
            Ok(None) => {}
            Err(e) => self.failed("lock", &e),
        }
        let result = self.load(key, ttl, tags, loader, Some(&leader)).await;
        lock.release().await;
        result
    }

    /// Runs the loader and stores its value; the leader's waiters get the
    /// outcome before the (possibly slow) write.
    async fn load<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        tags: &[&str],
        loader: F,
        leader: Option<&Leader<'_>>,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        // Versions taken before loading: an invalidation while the loader
        // runs leaves what it returns stale, as it should be.
        let versions = self.versions_for_write(tags).await;
        self.0.counters.loads.fetch_add(1, Ordering::Relaxed);
        let result = loader().await;
        let value = match &result {
            Ok(value) => value,
            Err(e) => {
                if let Some(leader) = leader {
                    leader.publish(Outcome::Failed(Arc::new(e.clone())));
                }
                return result;
            }
        };
        // Without versions the value still reaches the waiters, unstored.
        let (versions, unversioned) = match versions {
            Ok(v) => (v, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        // Loaded while a write to its tags ran: the rows it read may be the
        // write's before or after; its waiters load their own.
        let changing = matches!(unversioned, Some(CacheError::TagChanging(_)));
        match Stored::new(value, tags, versions).encode(key) {
            Ok(raw) => {
                if let Some(leader) = leader {
                    leader.publish(if changing {
                        Outcome::Unshared
                    } else {
                        Outcome::Value(raw.clone())
                    });
                }
                let written = match unversioned {
                    None => self.store(key, raw, ttl).await,
                    Some(e) => Err(e),
                };
                if let Err(e) = written {
                    self.dropped(&e);
                }
            }
            Err(e) => {
                if let Some(leader) = leader {
                    leader.publish(Outcome::Unshared);
                }
                self.dropped(&e);
            }
        }
        result
    }

    /// Whether a loaded entry's tags are as they were when its load began.
    /// One loaded without versions because the shared store could not be
    /// read, or whose versions cannot be read now, is taken: while the
    /// store is away no write through Phial completes (its guard refuses
    /// them), and refusing it would make every waiter load at once.
    async fn still_current<T>(&self, stored: &Stored<T>, tags: &[&str]) -> bool {
        if tags.is_empty() || stored.tags.len() != tags.len() {
            return true;
        }
        self.tags_fresh(&stored.tags).await.unwrap_or(true)
    }

    /// Polls for the value another node is loading, up to [`LOCK_WAIT`].
    async fn wait_for_other_node<T: DeserializeOwned>(&self, key: &str) -> Option<(Bytes, T)> {
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(LOCK_POLL).await;
            if let Ok(Some(found)) = self.read_stored::<T>(key).await {
                return Some(found);
            }
        }
        None
    }
}
