//! The storage a [`Cache`](crate::Cache) sits on. Backends store opaque
//! bytes under full keys (the app's prefix included); encoding, tags and
//! stampede protection live above them, the same for every backend.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::error::CacheError;

/// A place to keep bytes by key, with an optional time to live.
pub trait Backend: Send + Sync + 'static {
    /// `null`, `memory`, `redis`, ...
    fn kind(&self) -> &'static str;

    /// The value under `key`.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>>;

    /// Several values at once (backends with a batch command override this).
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Bytes>>, CacheError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push(self.get(k).await?);
            }
            Ok(out)
        })
    }

    /// Stores `value`; `ttl` `None` keeps it until evicted.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Stores `value` under `key` (with no time to live) unless a value is
    /// there already, and returns the value now under `key`: concurrent
    /// callers all get the one that won (Redis `SET NX`). The cache keeps
    /// its tag versions with it. The default reads, then writes: backends
    /// that share their keys between processes must override it with an
    /// atomic operation.
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, CacheError>> {
        Box::pin(async move {
            if let Some(current) = self.get(key).await? {
                return Ok(current);
            }
            self.set(key, value.clone(), None).await?;
            Ok(value)
        })
    }

    /// Whether the backend answers, for `/readyz`: `PING` on Redis. The
    /// default reads a key that does not exist.
    fn ping(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move { self.get("\u{1}ping").await.map(|_| ()) })
    }

    /// Removes keys; returns how many existed.
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<u64, CacheError>>;

    /// Adds `by` to the integer under `key` (0 when missing) and returns
    /// the new value; a new key gets `ttl`.
    fn incr<'a>(
        &'a self,
        key: &'a str,
        by: i64,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<i64, CacheError>>;

    /// Removes every key that starts with `prefix` (this app's keys only).
    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Backend-specific figures for the metrics endpoint (the tiered
    /// backend reports its in-process and shared hits).
    fn figures(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Takes a lock shared by every node for `ttl` (for loads that should
    /// run once across nodes). `Ok(None)`: the backend is per-process and
    /// has no such lock; `Ok(Some(false))`: another node holds it.
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<bool>, CacheError>> {
        let _ = (key, token, ttl);
        Box::pin(async { Ok(None) })
    }

    /// Releases a lock taken with `token` (a lock that expired and was
    /// taken by another node is left alone).
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        let _ = (key, token);
        Box::pin(async { Ok(()) })
    }
}
