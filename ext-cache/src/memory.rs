//! The in-process backend: moka, bounded by entries or bytes, with a time
//! to live per entry and an optional idle time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use moka::future::Cache as Moka;
use moka::ops::compute::Op;

use crate::backend::Backend;
use crate::error::CacheError;
use crate::local_tags::LocalTags;

#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Option<Duration>,
}

struct PerEntryTtl;

impl Expiry<Arc<str>, Entry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &Arc<str>,
        value: &Entry,
        _now: Instant,
    ) -> Option<Duration> {
        value.ttl
    }

    fn expire_after_update(
        &self,
        _key: &Arc<str>,
        value: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        value.ttl
    }
}

/// Bounds of the memory backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// At most this many entries.
    Entries(u64),
    /// At most this many bytes of keys and values.
    Bytes(u64),
}

/// moka behind the [`Backend`] trait.
pub struct Memory {
    cache: Moka<Arc<str>, Entry>,
    /// Every change passes through here: tag versions are always known.
    tags: LocalTags,
}

impl Memory {
    /// A memory backend; `idle` drops entries not read for that long.
    pub fn new(capacity: Capacity, idle: Option<Duration>) -> Self {
        // `clear` removes this app's keys by prefix: moka needs to be told.
        let mut builder = Moka::builder()
            .expire_after(PerEntryTtl)
            .support_invalidation_closures();
        builder = match capacity {
            Capacity::Entries(n) => builder.max_capacity(n),
            Capacity::Bytes(n) => builder
                .weigher(|k: &Arc<str>, v: &Entry| {
                    u32::try_from(k.len() + v.value.len()).unwrap_or(u32::MAX)
                })
                .max_capacity(n),
        };
        if let Some(idle) = idle {
            builder = builder.time_to_idle(idle);
        }
        Memory {
            cache: builder.build(),
            tags: LocalTags::default(),
        }
    }

    /// Entries held now (after pending maintenance).
    pub async fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}

impl Backend for Memory {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        Ok(self.cache.get(key).await.map(|e| e.value))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        self.cache
            .insert(Arc::from(key), Entry { value, ttl })
            .await;
        self.tags.changed(key);
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: Bytes) -> Result<Bytes, CacheError> {
        let entry = self
            .cache
            .entry(Arc::from(key))
            .or_insert(Entry { value, ttl: None })
            .await;
        if entry.is_fresh() {
            self.tags.changed(key);
        }
        Ok(entry.into_value().value)
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, CacheError> {
        let mut n = 0;
        for k in keys {
            n += u64::from(self.cache.remove(k.as_str()).await.is_some());
            self.tags.changed(k);
        }
        Ok(n)
    }

    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, CacheError> {
        // moka serialises computations per key: counters on other keys
        // never wait for this one.
        let mut outcome: Result<i64, CacheError> = Ok(0);
        self.cache
            .entry(Arc::from(key))
            .and_compute_with(|current| {
                let next = match &current {
                    Some(e) => std::str::from_utf8(&e.value().value)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .map(|n| (n.saturating_add(by), e.value().ttl))
                        .ok_or_else(|| CacheError::NotAnInteger(key.to_owned())),
                    None => Ok((by, ttl)),
                };
                let op = match &next {
                    Ok((n, ttl)) => Op::Put(Entry {
                        value: Bytes::from(n.to_string()),
                        ttl: *ttl,
                    }),
                    Err(_) => Op::Nop,
                };
                outcome = next.map(|(n, _)| n);
                std::future::ready(op)
            })
            .await;
        self.tags.changed(key);
        outcome
    }

    async fn clear(&self, prefix: &str) -> Result<(), CacheError> {
        let owned = prefix.to_owned();
        self.cache
            .invalidate_entries_if(move |k, _| k.starts_with(owned.as_str()))
            .map_err(|e| CacheError::Backend {
                backend: "memory",
                message: e.to_string(),
            })?;
        self.cache.run_pending_tasks().await;
        self.tags.forget_all();
        Ok(())
    }

    fn local_tags(&self) -> Option<&LocalTags> {
        Some(&self.tags)
    }
}

/// Stores nothing: every read misses. For tests and for turning caching
/// off without changing code.
pub struct Null;

impl Backend for Null {
    fn kind(&self) -> &'static str {
        "null"
    }

    async fn get(&self, _key: &str) -> Result<Option<Bytes>, CacheError> {
        Ok(None)
    }

    async fn set(
        &self,
        _key: &str,
        _value: Bytes,
        _ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        Ok(())
    }

    async fn delete(&self, _keys: &[String]) -> Result<u64, CacheError> {
        Ok(0)
    }

    async fn incr(&self, _key: &str, by: i64, _ttl: Option<Duration>) -> Result<i64, CacheError> {
        Ok(by)
    }

    async fn clear(&self, _prefix: &str) -> Result<(), CacheError> {
        Ok(())
    }
}
