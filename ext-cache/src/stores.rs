//! What the cache's shared backend keeps for the core besides cached
//! values: sign-in records ([`RedisSessionStore`], `session.store =
//! "cache"`) and rate-limit counters ([`RedisLimitStore`]), on Redis or a
//! Redis Cluster — the shared tier of a tiered cache, never a node's
//! in-process tier, so a sign-out is seen by every node at its next
//! request. Both answer with errors rather than guesses: a session store
//! that fails makes signed-in requests 503s (never anonymous), a limit
//! store that fails hands over to the node's own counters.
//!
//! Keys start with the cache's prefix (`<app>:sess:`, `<app>:rl:`). A
//! user's session keys share a `{...}` hash tag, so one `MGET` reads a
//! record and its user's epoch on a cluster too. Redis must not evict
//! them: run the shared Redis with `maxmemory-policy noeviction` or
//! `volatile-*` with room to spare (records have a time to live, so
//! `volatile-lru` may take them under pressure; `check --deploy` cannot
//! see the server's policy, `docs/security.md` says so).

use std::time::Duration;

use phial_core::rate_limit::{Backoff, Decision, LimitError, LimitStore, Rate, backoff_step, gcra};
use phial_core::session::{SessionStore, StoreError};

use crate::error::CacheError;
use crate::redis::Redis;

/// Sign-in records in Redis (see the module docs).
#[derive(Clone)]
pub struct RedisSessionStore {
    redis: Redis,
    prefix: String,
}

impl RedisSessionStore {
    /// Records under `prefix` (the cache's prefix and `sess:`).
    pub fn new(redis: Redis, prefix: impl Into<String>) -> Self {
        RedisSessionStore {
            redis,
            prefix: prefix.into(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn store_error(e: CacheError) -> StoreError {
    StoreError {
        store: "redis",
        message: e.to_string(),
    }
}

fn millis(ttl: Duration) -> String {
    ttl.as_millis().clamp(1, u128::from(u64::MAX)).to_string()
}

impl SessionStore for RedisSessionStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for k in keys {
            cmd.arg(self.key(k));
        }
        self.redis.command(cmd).await.map_err(store_error)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("PX").arg(millis(ttl));
        self.redis.command::<()>(cmd).await.map_err(store_error)
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<Vec<u8>, StoreError> {
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                "local cur = redis.call('GET', KEYS[1]) \
                 if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return ARGV[1] end \
                 redis.call('PEXPIRE', KEYS[1], ARGV[2]) return cur",
            )
        });
        let key = self.key(key);
        let now: Vec<u8> = self
            .redis
            .script(&SCRIPT, &[&key], &[&value, millis(ttl).as_bytes()])
            .await
            .map_err(store_error)?;
        Ok(now)
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("DEL");
        for k in keys {
            cmd.arg(self.key(k));
        }
        self.redis.command::<i64>(cmd).await.map_err(store_error)?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.redis.ping().await.map_err(store_error)
    }
}

/// Rate-limit counters in Redis, counted by the server's clock (see the
/// module docs).
#[derive(Clone)]
pub struct RedisLimitStore {
    redis: Redis,
    prefix: String,
}

impl RedisLimitStore {
    /// Counters under `prefix` (the cache's prefix).
    pub fn new(redis: Redis, prefix: impl Into<String>) -> Self {
        RedisLimitStore {
            redis,
            prefix: prefix.into(),
        }
    }

    /// A counter's key; braces are replaced so that a route pattern
    /// (`/posts/{id}`) does not become a hash tag that piles every
    /// counter of the route into one cluster slot.
    fn key(&self, key: &str) -> String {
        let mut k = self.prefix.clone();
        k.extend(key.chars().map(|c| match c {
            '{' => '(',
            '}' => ')',
            c => c,
        }));
        k
    }
}

fn limit_error(e: CacheError) -> LimitError {
    LimitError {
        store: "redis",
        message: e.to_string(),
    }
}

/// GCRA, atomically: reads the stored time, lets the request through (and
/// stores the new time) when it fits, and returns what it read and the
/// server's clock, from which [`gcra`] computes the same decision.
const GCRA: &str = "\
local t = redis.call('TIME') \
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) \
local period = tonumber(ARGV[1]) local interval = tonumber(ARGV[2]) local cost = tonumber(ARGV[3]) \
local stored = tonumber(redis.call('GET', KEYS[1]) or '0') \
local tat = stored if tat < now then tat = now end \
local new_tat = tat + interval * cost \
if new_tat - now <= period then \
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1) \
end \
return {string.format('%.0f', stored), string.format('%.0f', now)}";

/// Attempts with growing delays, atomically: the count and the last
/// attempt's time, counted when let through; [`backoff_step`] computes the
/// same decision from what the script read.
const ATTEMPT: &str = "\
local t = redis.call('TIME') \
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) \
local free = tonumber(ARGV[1]) local base = tonumber(ARGV[2]) local max = tonumber(ARGV[3]) \
local v = redis.call('HMGET', KEYS[1], 'n', 'l') \
local n = tonumber(v[1] or '0') local last = tonumber(v[2] or '0') \
local wait = 0 \
if n >= free then wait = math.min(base * 2 ^ math.min(n - free, 30), max) end \
local ready = now if n > 0 then ready = last + wait end \
if now >= ready then \
  redis.call('HSET', KEYS[1], 'n', n + 1, 'l', string.format('%.0f', now)) \
  redis.call('PEXPIRE', KEYS[1], ARGV[4]) \
end \
return {tostring(n), string.format('%.0f', last), string.format('%.0f', now)}";

impl LimitStore for RedisLimitStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn take(&self, key: &str, rate: Rate, cost: u32) -> Result<Decision, LimitError> {
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(GCRA));
        let key = self.key(key);
        let (stored, now): (String, String) = self
            .redis
            .script(
                &SCRIPT,
                &[&key],
                &[
                    rate.period_micros().to_string().as_bytes(),
                    rate.interval_micros().to_string().as_bytes(),
                    cost.to_string().as_bytes(),
                ],
            )
            .await
            .map_err(limit_error)?;
        let (stored, now) = (parse(&stored)?, parse(&now)?);
        Ok(gcra(stored, now, rate, cost).1)
    }

    async fn attempt(&self, key: &str, backoff: Backoff) -> Result<Decision, LimitError> {
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(ATTEMPT));
        let key = self.key(key);
        let (n, last, now): (String, String, String) = self
            .redis
            .script(
                &SCRIPT,
                &[&key],
                &[
                    backoff.free.to_string().as_bytes(),
                    backoff.base.as_micros().to_string().as_bytes(),
                    backoff.max.as_micros().to_string().as_bytes(),
                    millis(backoff.window).as_bytes(),
                ],
            )
            .await
            .map_err(limit_error)?;
        let n = u32::try_from(parse(&n)?).unwrap_or(u32::MAX);
        Ok(backoff_step(n, parse(&last)?, parse(&now)?, backoff).1)
    }

    async fn refund(&self, key: &str) -> Result<(), LimitError> {
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                "local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0') \
                 if n > 0 then redis.call('HSET', KEYS[1], 'n', n - 1) end return n",
            )
        });
        let key = self.key(key);
        self.redis
            .script::<i64>(&SCRIPT, &[&key], &[])
            .await
            .map_err(limit_error)?;
        Ok(())
    }

    async fn forget(&self, key: &str) -> Result<(), LimitError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        self.redis.command::<i64>(cmd).await.map_err(limit_error)?;
        Ok(())
    }
}

fn parse(s: &str) -> Result<u64, LimitError> {
    s.parse().map_err(|_| LimitError {
        store: "redis",
        message: format!("the counter script answered `{s}`"),
    })
}
