//! [`Cache`]: typed values (MessagePack), TTLs, tags, counters and
//! memoized functions over any [`Backend`]. It fails open: a backend error
//! is a miss or a dropped write, logged and counted, never a failed
//! request. Tag versions live in `tags.rs`, loads that run once for
//! concurrent misses in `flight.rs`.
//!
//! One file: the `Cache` API (typed reads and writes with their tag checks)
//! is one surface; its parts (tags, flights, backends) have files of their
//! own. `tags.rs` and `flight.rs` are one unit with this file: they are
//! `impl Cache` blocks over its private state, so they import each other
//! by design.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::backend::{AnyBackend, Backend, DynBackend};
use crate::error::CacheError;
use crate::flight::Flights;

/// Counters since the app started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Reads that found a value.
    pub hits: u64,
    /// Reads that found nothing (or a stale tagged value).
    pub misses: u64,
    /// Backend errors (each also logged).
    pub errors: u64,
    /// Writes dropped because the backend failed.
    pub dropped_writes: u64,
    /// Loads run by `get_or_set_with` (and `memoize`).
    pub loads: u64,
    /// Times a call of `get_or_set_with` waited for a load of the same
    /// key already running in this process instead of loading (it takes
    /// that load's result, or loads itself if the load was cancelled).
    pub waits: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) dropped_writes: AtomicU64,
    pub(crate) loads: AtomicU64,
    pub(crate) waits: AtomicU64,
}

pub(crate) struct Inner {
    pub(crate) backend: Arc<dyn DynBackend>,
    pub(crate) prefix: String,
    default_ttl: Option<Duration>,
    pub(crate) counters: Counters,
    pub(crate) flights: Flights,
    /// Whether writes through Phial mark their tags before they commit.
    guard_writes: std::sync::atomic::AtomicBool,
}

/// The app's cache. Cheap to clone; also a request extractor.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use phial_cache::{Cache, memory::{Capacity, Memory}};
/// let cache = Cache::new(Memory::new(Capacity::Entries(1000), None), "app:", None);
/// cache.set("answer", &42u32, None).await;
/// assert_eq!(cache.get::<u32>("answer").await, Some(42));
/// let n: u32 = cache.get_or_set_with("slow", None, || async { Ok::<_, std::convert::Infallible>(7) }).await.unwrap();
/// assert_eq!(n, 7);
/// # }
/// ```
#[derive(Clone)]
pub struct Cache(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.0.backend.kind())
            .field("prefix", &self.0.prefix)
            .finish()
    }
}

/// What is stored: the value plus the versions of its tags at write time.
#[derive(Serialize, serde::Deserialize)]
pub(crate) struct Stored<T> {
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<(String, u64)>,
    #[serde(rename = "v")]
    pub(crate) value: T,
}

impl<T: Serialize> Stored<T> {
    /// Tags paired with their versions at write time.
    pub(crate) fn new(value: T, tags: &[&str], versions: Vec<u64>) -> Self {
        Stored {
            tags: tags.iter().map(|t| t.to_string()).zip(versions).collect(),
            value,
        }
    }

    pub(crate) fn encode(&self, key: &str) -> Result<Bytes, CacheError> {
        rmp_serde::to_vec_named(self)
            .map(Bytes::from)
            .map_err(|e| CacheError::Codec {
                key: key.to_owned(),
                action: "encoded",
                message: e.to_string(),
            })
    }
}

/// What is stored, borrowed from its bytes: the tags' names point into
/// them and the value may too (the response cache serves a page from the
/// stored bytes without copying it).
#[derive(serde::Deserialize)]
pub(crate) struct StoredRef<'a, T> {
    #[serde(rename = "t", default, borrow)]
    pub(crate) tags: Vec<(&'a str, u64)>,
    #[serde(rename = "v")]
    pub(crate) value: T,
}

impl<T: DeserializeOwned> Stored<T> {
    pub(crate) fn decode(key: &str, raw: &[u8]) -> Result<Self, CacheError> {
        rmp_serde::from_slice(raw).map_err(|e| CacheError::Codec {
            key: key.to_owned(),
            action: "decoded",
            message: e.to_string(),
        })
    }
}

impl Cache {
    /// A cache over `backend`; every key gets `prefix` so apps sharing a
    /// server stay apart; `default_ttl` applies when a call gives none.
    pub fn new(
        backend: impl Backend,
        prefix: impl Into<String>,
        default_ttl: Option<Duration>,
    ) -> Self {
        Self::from_arc(Arc::new(backend), prefix, default_ttl)
    }

    /// Like [`new`](Self::new), with a backend other caches share.
    pub fn from_arc<B: Backend>(
        backend: Arc<B>,
        prefix: impl Into<String>,
        default_ttl: Option<Duration>,
    ) -> Self {
        Self::on(backend, prefix, default_ttl)
    }

    /// Like [`new`](Self::new), on a backend whose type was erased (see
    /// [`AnyBackend`]); caches made from clones of it share it.
    pub fn shared(
        backend: AnyBackend,
        prefix: impl Into<String>,
        default_ttl: Option<Duration>,
    ) -> Self {
        Self::on(backend.0, prefix, default_ttl)
    }

    fn on(
        backend: Arc<dyn DynBackend>,
        prefix: impl Into<String>,
        default_ttl: Option<Duration>,
    ) -> Self {
        Cache(Arc::new(Inner {
            backend,
            prefix: prefix.into(),
            default_ttl,
            counters: Counters::default(),
            flights: Flights::default(),
            guard_writes: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// Whether writes through Phial are guarded by this cache: before a
    /// write commits, the tags it changes are marked in the store with
    /// [`begin_invalidation`](Self::begin_invalidation), and the write is
    /// refused when they cannot be (`cache.guard_writes`, on for shared
    /// backends). Extensions that cache under tags of their own guard
    /// them when this says so.
    pub fn guards_writes(&self) -> bool {
        self.0.guard_writes.load(Ordering::Relaxed)
    }

    /// Turns the write guard on or off (see
    /// [`guards_writes`](Self::guards_writes)); the `Caching` extension
    /// sets it from `cache.guard_writes` on shared backends.
    pub fn guard_writes(&self, on: bool) {
        self.0.guard_writes.store(on, Ordering::Relaxed);
    }

    /// What every key of this cache starts with (`cache.key_prefix`, else
    /// the app's name and a colon).
    pub fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// The backend's kind (`memory`, `redis`, ...).
    pub fn kind(&self) -> &'static str {
        self.0.backend.kind()
    }

    /// The stored name of a user's key: the prefix, then the key. Phial's
    /// own keys (tag versions, load locks) start with [`INTERNAL`] after the
    /// prefix; a user's key that starts with it gets it once more, so no
    /// user key can ever name (and clobber) one of them.
    pub(crate) fn full(&self, key: &str) -> String {
        // Pushed, not `format!`ed: this runs on every hit.
        let prefix = &self.0.prefix;
        let escape = key.starts_with(INTERNAL);
        let mut full = String::with_capacity(prefix.len() + key.len() + 1);
        full.push_str(prefix);
        if escape {
            full.push(INTERNAL);
        }
        full.push_str(key);
        full
    }

    pub(crate) fn lock_key(&self, key: &str) -> String {
        format!("{}{INTERNAL}lock:{key}", self.0.prefix)
    }

    pub(crate) fn failed(&self, op: &str, e: &CacheError) {
        self.0.counters.errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            backend = self.kind(),
            "cache {op} failed (continuing without the cache): {e}"
        );
    }

    pub(crate) fn ttl(&self, ttl: Option<Duration>) -> Option<Duration> {
        ttl.or(self.0.default_ttl)
    }

    /// Counters and the backend's own figures, as the metrics endpoint
    /// shows them.
    pub fn metrics(&self) -> serde_json::Value {
        serde_json::json!({
            "backend": self.kind(),
            "stats": self.stats(),
            "backend_figures": self.0.backend.figures(),
        })
    }

    /// Counters since the start.
    pub fn stats(&self) -> Stats {
        let c = &self.0.counters;
        Stats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            dropped_writes: c.dropped_writes.load(Ordering::Relaxed),
            loads: c.loads.load(Ordering::Relaxed),
            waits: c.waits.load(Ordering::Relaxed),
        }
    }

    /// Whether the backend answers (Redis `PING`; the tiered backend also
    /// says whether it hears other nodes' invalidations). The extension's
    /// `/readyz` check reports a failure as `degraded`: the app serves
    /// without its cache.
    pub async fn ping(&self) -> Result<(), CacheError> {
        self.0.backend.ping().await
    }

    /// The stored bytes and value under `key`, if present and fresh.
    pub(crate) async fn read_stored<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(Bytes, T)>, CacheError> {
        if crate::fresh_reads::marked() {
            // A client that just wrote reads the database (fresh_reads.rs).
            return Ok(None);
        }
        let Some(raw) = self.0.backend.get(&self.full(key)).await? else {
            return Ok(None);
        };
        let stored = Stored::<T>::decode(key, &raw)?;
        if !self.tags_fresh(&stored.tags).await? {
            return Ok(None);
        }
        Ok(Some((raw, stored.value)))
    }

    /// The entry under `key`, if present and fresh, read in place by
    /// `view`: it decodes the stored bytes once into their tags and a value
    /// that may share them (the response cache serves a page without
    /// copying it; see [`StoredRef`]). Counted as a hit or a miss like
    /// `get`; bytes `view` cannot read are a miss, logged.
    pub(crate) async fn get_view<R>(
        &self,
        key: &str,
        view: impl for<'r> FnOnce(&'r Bytes) -> Option<(Vec<(&'r str, u64)>, R)>,
    ) -> Option<R> {
        let found = async {
            if crate::fresh_reads::marked() {
                return Ok(None);
            }
            let Some(raw) = self.0.backend.get(&self.full(key)).await? else {
                return Ok(None);
            };
            let (tags, value) = view(&raw).ok_or_else(|| CacheError::Codec {
                key: key.to_owned(),
                action: "decoded",
                message: "the stored bytes are not what this read expects".into(),
            })?;
            Ok(self.tags_fresh(&tags).await?.then_some(value))
        };
        self.counted(found.await)
    }

    /// A read's outcome, counted: a hit, or a miss (a failure is also
    /// logged, and the caller carries on without the cache).
    fn counted<T>(&self, read: Result<Option<T>, CacheError>) -> Option<T> {
        match read {
            Ok(Some(v)) => {
                self.0.counters.hits.fetch_add(1, Ordering::Relaxed);
                Some(v)
            }
            Ok(None) => {
                self.0.counters.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(e) => {
                self.0.counters.misses.fetch_add(1, Ordering::Relaxed);
                self.failed("get", &e);
                None
            }
        }
    }

    async fn try_read<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        Ok(self.read_stored(key).await?.map(|(_, v)| v))
    }

    /// The value under `key`, or `None` (missing, expired, invalidated by
    /// a tag, of another type, or the backend is down).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.counted(self.try_read(key).await)
    }

    /// Several values; missing ones are `None`.
    pub async fn get_many<T: DeserializeOwned>(&self, keys: &[&str]) -> Vec<Option<T>> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(k).await);
        }
        out
    }

    async fn try_write<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
        tags: &[&str],
    ) -> Result<(), CacheError> {
        let versions = self.versions_for_write(tags).await?;
        let raw = Stored::new(value, tags, versions).encode(key)?;
        self.store(key, raw, ttl).await
    }

    /// Stores a value computed after `versions` were read (by
    /// `versions_for_write` before computing it): a write to its tags in
    /// between leaves it stale, as it should be. Reading the versions at
    /// store time instead would stamp a value computed from the rows
    /// before that write as current.
    pub(crate) async fn set_tagged_as_of<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
        tags: &[&str],
        versions: Result<Vec<u64>, CacheError>,
    ) {
        let written = match versions {
            Ok(versions) => match Stored::new(value, tags, versions).encode(key) {
                Ok(raw) => self.store(key, raw, ttl).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            self.dropped(&e);
        }
    }

    /// Writes an encoded entry.
    pub(crate) async fn store(
        &self,
        key: &str,
        raw: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        self.0
            .backend
            .set(&self.full(key), raw, self.ttl(ttl))
            .await
    }

    /// Counts and logs a write that did not happen.
    pub(crate) fn dropped(&self, e: &CacheError) {
        if let CacheError::TagChanging(tag) = e {
            // The rows are being written: storing them now would keep
            // what the write replaces.
            tracing::debug!(target: "phial::cache", tag, "not stored while its tag is being written");
            return;
        }
        self.0
            .counters
            .dropped_writes
            .fetch_add(1, Ordering::Relaxed);
        self.failed("set", e);
    }

    /// Stores a value (`ttl` `None`: the default TTL).
    pub async fn set<T: Serialize>(&self, key: &str, value: &T, ttl: Option<Duration>) {
        self.set_tagged(key, value, ttl, &[]).await;
    }

    /// Stores a value that [`invalidate_tag`](Self::invalidate_tag) of any
    /// of `tags` drops (tables' names follow database writes). The tags'
    /// versions are read now: a value computed from rows read before a
    /// write that ended since is stored as current. To cache what a query
    /// returns, use [`get_or_set_tagged_with`](Self::get_or_set_tagged_with)
    /// (or `cached(..)` for a page), which read the versions before the
    /// loader runs.
    pub async fn set_tagged<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
        tags: &[&str],
    ) {
        if let Err(e) = self.try_write(key, value, ttl, tags).await {
            self.dropped(&e);
        }
    }

    /// Stores several values.
    pub async fn set_many<T: Serialize>(&self, items: &[(&str, T)], ttl: Option<Duration>) {
        for (k, v) in items {
            self.set(k, v, ttl).await;
        }
    }

    /// Removes a key.
    pub async fn delete(&self, key: &str) {
        self.delete_many(&[key]).await;
    }

    /// Removes keys.
    pub async fn delete_many(&self, keys: &[&str]) {
        let full: Vec<String> = keys.iter().map(|k| self.full(k)).collect();
        if let Err(e) = self.0.backend.delete(&full).await {
            self.failed("delete", &e);
        }
    }

    /// Adds `by` to a counter and returns it (for rate limits); `ttl`
    /// applies when the counter is created. `None` when the backend is down.
    pub async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Option<i64> {
        match self.0.backend.incr(&self.full(key), by, ttl).await {
            Ok(n) => Some(n),
            Err(e) => {
                self.failed("incr", &e);
                None
            }
        }
    }

    /// Removes every key of this app (its prefix), never other apps' keys.
    pub async fn clear(&self) {
        if let Err(e) = self.0.backend.clear(&self.0.prefix).await {
            self.failed("clear", &e);
        }
    }

    /// Caches a function's result by its name and arguments (Flask's
    /// `@cache.memoize`), as [`get_or_set_with`](Self::get_or_set_with)
    /// does. The key is the name and a SHA-256 of the encoded arguments;
    /// arguments that cannot be encoded are an error
    /// ([`CacheError::Arguments`]), never a key shared with other calls.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use phial_cache::{Cache, CacheError, memory::{Capacity, Memory}};
    /// let cache = Cache::new(Memory::new(Capacity::Entries(100), None), "app:", None);
    /// let n: u64 = cache
    ///     .memoize("square", &(12u64,), None, || async { Ok::<_, phial_core::HttpError>(144) })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(n, 144);
    /// # }
    /// ```
    pub async fn memoize<A, T, E, F, Fut>(
        &self,
        name: &str,
        args: &A,
        ttl: Option<Duration>,
        f: F,
    ) -> Result<T, E>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        E: From<CacheError> + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let encoded = rmp_serde::to_vec(args).map_err(|e| {
            E::from(CacheError::Arguments {
                name: name.to_owned(),
                message: e.to_string(),
            })
        })?;
        let digest = Sha256::digest(&encoded);
        let hex = hex::encode(digest);
        self.get_or_set_with(&format!("memo:{name}:{hex}"), ttl, f)
            .await
    }
}

/// Starts Phial's own keys after the prefix (a control character no
/// readable key begins with).
pub(crate) const INTERNAL: char = '\u{1}';
