//! The storage a [`Cache`](crate::Cache) sits on. Backends store opaque
//! bytes under full keys (the app's prefix included); encoding, tags and
//! stampede protection live above them, the same for every backend.
//!
//! [`Backend`] is written with plain `async fn`s; the cache holds it
//! through a private object-safe twin that boxes each call (axum's
//! pattern for handlers), so an implementer never writes
//! `Box::pin(async move { .. })`. [`AnyBackend`] is a backend with its
//! type erased, for code that picks one at run time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::error::CacheError;
use crate::local_tags::LocalTags;

/// A place to keep bytes by key, with an optional time to live.
///
/// ```
/// use std::time::Duration;
/// use phial_cache::{Backend, CacheError};
/// use phial_cache::bytes::Bytes;
///
/// /// Forgets everything: every read misses.
/// struct Forgetful;
///
/// impl Backend for Forgetful {
///     fn kind(&self) -> &'static str { "forgetful" }
///     async fn get(&self, _key: &str) -> Result<Option<Bytes>, CacheError> { Ok(None) }
///     async fn set(&self, _key: &str, _v: Bytes, _ttl: Option<Duration>) -> Result<(), CacheError> { Ok(()) }
///     async fn delete(&self, _keys: &[String]) -> Result<u64, CacheError> { Ok(0) }
///     async fn incr(&self, _key: &str, by: i64, _ttl: Option<Duration>) -> Result<i64, CacheError> { Ok(by) }
///     async fn clear(&self, _prefix: &str) -> Result<(), CacheError> { Ok(()) }
/// }
/// let cache = phial_cache::Cache::new(Forgetful, "app:", None);
/// # let _ = cache;
/// ```
pub trait Backend: Send + Sync + 'static {
    /// `null`, `memory`, `redis`, ...
    fn kind(&self) -> &'static str;

    /// The value under `key`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, CacheError>> + Send;

    /// Several values at once (backends with a batch command override this).
    fn get_many(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Bytes>>, CacheError>> + Send {
        async move {
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push(self.get(k).await?);
            }
            Ok(out)
        }
    }

    /// Stores `value`; `ttl` `None` keeps it until evicted.
    fn set(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), CacheError>> + Send;

    /// Stores `value` under `key` (with no time to live) unless a value is
    /// there already, and returns the value now under `key`: concurrent
    /// callers all get the one that won (Redis `SET NX`). The cache keeps
    /// its tag versions with it. The default reads, then writes: backends
    /// that share their keys between processes must override it with an
    /// atomic operation.
    fn set_if_absent(
        &self,
        key: &str,
        value: Bytes,
    ) -> impl Future<Output = Result<Bytes, CacheError>> + Send {
        async move {
            if let Some(current) = self.get(key).await? {
                return Ok(current);
            }
            self.set(key, value.clone(), None).await?;
            Ok(value)
        }
    }

    /// Whether the backend answers, for `/readyz`: `PING` on Redis. The
    /// default reads a key that does not exist.
    fn ping(&self) -> impl Future<Output = Result<(), CacheError>> + Send {
        async move { self.get("\u{1}ping").await.map(|_| ()) }
    }

    /// Removes keys; returns how many existed.
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<u64, CacheError>> + Send;

    /// Adds `by` to the integer under `key` (0 when missing) and returns
    /// the new value; a new key gets `ttl`.
    fn incr(
        &self,
        key: &str,
        by: i64,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<i64, CacheError>> + Send;

    /// Removes every key that starts with `prefix` (this app's keys only).
    fn clear(&self, prefix: &str) -> impl Future<Output = Result<(), CacheError>> + Send;

    /// Backend-specific figures for the metrics endpoint (the tiered
    /// backend reports its in-process and shared hits).
    fn figures(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Tag versions this process may read without asking the store, while
    /// the backend sees every change to them (the memory backend always;
    /// the tiered one while it proves it hears the other nodes). The
    /// backend must call [`LocalTags::changed`] for every key it writes,
    /// deletes or hears announced, and [`LocalTags::forget_all`] on a
    /// clear; `None` (the default) reads the versions from the store.
    fn local_tags(&self) -> Option<&LocalTags> {
        None
    }

    /// Takes a lock shared by every node for `ttl` (for loads that should
    /// run once across nodes). `Ok(None)`: the backend is per-process and
    /// has no such lock; `Ok(Some(false))`: another node holds it.
    fn try_lock(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<bool>, CacheError>> + Send {
        let _ = (key, token, ttl);
        async { Ok(None) }
    }

    /// Releases a lock taken with `token` (a lock that expired and was
    /// taken by another node is left alone).
    fn unlock(
        &self,
        key: &str,
        token: &str,
    ) -> impl Future<Output = Result<(), CacheError>> + Send {
        let _ = (key, token);
        async { Ok(()) }
    }
}

/// [`Backend`] made object-safe: each call boxed. Private: implementers
/// write `Backend`; the blanket impl below gives them this.
pub(crate) trait DynBackend: Send + Sync + 'static {
    fn kind(&self) -> &'static str;
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>>;
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Bytes>>, CacheError>>;
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), CacheError>>;
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, CacheError>>;
    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>>;
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<u64, CacheError>>;
    fn incr<'a>(
        &'a self,
        key: &'a str,
        by: i64,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<i64, CacheError>>;
    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<(), CacheError>>;
    fn figures(&self) -> serde_json::Value;
    fn local_tags(&self) -> Option<&LocalTags>;
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<bool>, CacheError>>;
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), CacheError>>;
}

impl<B: Backend> DynBackend for B {
    fn kind(&self) -> &'static str {
        Backend::kind(self)
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>> {
        Box::pin(Backend::get(self, key))
    }
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Bytes>>, CacheError>> {
        Box::pin(Backend::get_many(self, keys))
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(Backend::set(self, key, value, ttl))
    }
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, CacheError>> {
        Box::pin(Backend::set_if_absent(self, key, value))
    }
    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(Backend::ping(self))
    }
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<u64, CacheError>> {
        Box::pin(Backend::delete(self, keys))
    }
    fn incr<'a>(
        &'a self,
        key: &'a str,
        by: i64,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<i64, CacheError>> {
        Box::pin(Backend::incr(self, key, by, ttl))
    }
    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(Backend::clear(self, prefix))
    }
    fn figures(&self) -> serde_json::Value {
        Backend::figures(self)
    }
    fn local_tags(&self) -> Option<&LocalTags> {
        Backend::local_tags(self)
    }
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<bool>, CacheError>> {
        Box::pin(Backend::try_lock(self, key, token, ttl))
    }
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(Backend::unlock(self, key, token))
    }
}

/// A backend whose type is chosen at run time (a list of backends in a
/// test, a backend picked from config): cheap to clone, a [`Backend`]
/// itself.
///
/// ```
/// use phial_cache::{AnyBackend, Backend};
/// use phial_cache::memory::{Capacity, Memory};
/// let any = AnyBackend::new(Memory::new(Capacity::Entries(1000), None));
/// assert_eq!(any.kind(), "memory");
/// ```
#[derive(Clone)]
pub struct AnyBackend(pub(crate) Arc<dyn DynBackend>);

impl AnyBackend {
    /// `backend`, its type erased.
    pub fn new(backend: impl Backend) -> Self {
        AnyBackend(Arc::new(backend))
    }
}

impl std::fmt::Debug for AnyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AnyBackend").field(&self.0.kind()).finish()
    }
}

impl Backend for AnyBackend {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, CacheError> {
        self.0.get_many(keys).await
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        self.0.set(key, value, ttl).await
    }
    async fn set_if_absent(&self, key: &str, value: Bytes) -> Result<Bytes, CacheError> {
        self.0.set_if_absent(key, value).await
    }
    async fn ping(&self) -> Result<(), CacheError> {
        self.0.ping().await
    }
    async fn delete(&self, keys: &[String]) -> Result<u64, CacheError> {
        self.0.delete(keys).await
    }
    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, CacheError> {
        self.0.incr(key, by, ttl).await
    }
    async fn clear(&self, prefix: &str) -> Result<(), CacheError> {
        self.0.clear(prefix).await
    }
    fn figures(&self) -> serde_json::Value {
        self.0.figures()
    }
    fn local_tags(&self) -> Option<&LocalTags> {
        self.0.local_tags()
    }
    async fn try_lock(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<Option<bool>, CacheError> {
        self.0.try_lock(key, token, ttl).await
    }
    async fn unlock(&self, key: &str, token: &str) -> Result<(), CacheError> {
        self.0.unlock(key, token).await
    }
}
