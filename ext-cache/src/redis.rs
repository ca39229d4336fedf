//! The Redis backends: one server through redis-rs's `ConnectionManager`
//! (it reconnects by itself; a bare multiplexed connection would not), or
//! a Redis Cluster through the cluster client (MOVED/ASK and failover
//! handled by it, multi-key commands split by slot), with every call
//! bounded by a short timeout so a slow or dead Redis costs a request
//! milliseconds, not seconds. A connection that goes silent without
//! closing (a host gone, an address moved by a failover) never errors, and
//! redis-rs retries a timed-out command on it rather than reconnect: after
//! two calls in a row that timed out, the single-server backend opens a
//! fresh one (the cluster client manages its connections itself).
//!
//! One file: the single-server and cluster backends differ only in their
//! connection; each command is written once for both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use redis::AsyncCommands;

use phial_core::AddressMap;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

use crate::backend::Backend;
use crate::error::CacheError;

/// A Redis server or cluster behind the [`Backend`] trait.
#[derive(Clone)]
pub struct Redis {
    link: Link,
    timeout: Duration,
    /// Where to subscribe for invalidations (any node of a cluster sees
    /// every PUBLISH).
    urls: Vec<String>,
}

#[derive(Clone)]
enum Link {
    Single(Arc<SingleLink>),
    Cluster(Arc<ClusterLink>),
}

/// One server: the manager in use, and what makes a fresh one.
struct SingleLink {
    client: redis::Client,
    config: ConnectionManagerConfig,
    conn: std::sync::RwLock<ConnectionManager>,
    /// Calls in a row that timed out.
    timeouts: AtomicU32,
}

/// A cluster, connected on first use (an app starts while it is down).
/// The cluster client keeps its own connections to every node and
/// refreshes them on errors and failovers; a fresh one would start again
/// from the seed nodes, which may be the very ones that are gone.
struct ClusterLink {
    client: ClusterClient,
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

/// Calls in a row that timed out before the connection is replaced.
const TIMEOUTS_BEFORE_RECONNECT: u32 = 2;

/// One connection of either kind, for commands.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

fn backend_error(e: impl std::fmt::Display) -> CacheError {
    CacheError::Backend {
        backend: "redis",
        message: e.to_string(),
    }
}

/// `*`, `?`, `[` and `\` are glob characters for `SCAN MATCH`.
pub(crate) fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

impl Redis {
    /// Connects lazily to `url` (`redis://host:port/db`): an app starts
    /// even while Redis is down, and the cache fills once it is up.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, CacheError> {
        Self::new_mapped(url, timeout, &AddressMap::default())
    }

    /// [`Redis::new`] reached through `map` (`cache.address_map`).
    pub fn new_mapped(url: &str, timeout: Duration, map: &AddressMap) -> Result<Self, CacheError> {
        let url = &map.url(url);
        let client = redis::Client::open(url.as_str()).map_err(|e| CacheError::Backend {
            backend: "redis",
            message: format!(
                "`{}` is not a Redis URL: {e}",
                phial_core::config::redact_url(url)
            ),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(backend_error)?;
        Ok(Redis {
            link: Link::Single(Arc::new(SingleLink {
                client,
                config,
                conn: std::sync::RwLock::new(conn),
                timeouts: AtomicU32::new(0),
            })),
            timeout,
            urls: vec![url.to_owned()],
        })
    }

    /// A Redis Cluster from seed node URLs; connects on first use. The
    /// cluster client's own response timeout and retries are set from
    /// `timeout` (its defaults can hold a request for minutes).
    pub fn cluster(urls: &[String], timeout: Duration) -> Result<Self, CacheError> {
        Self::cluster_mapped(urls, timeout, &AddressMap::default())
    }

    /// [`Redis::cluster`] reached through `map` (`cache.address_map`): the
    /// seeds and every node the cluster announces (`CLUSTER SLOTS`) are
    /// connected to where the map says.
    pub fn cluster_mapped(
        urls: &[String],
        timeout: Duration,
        map: &AddressMap,
    ) -> Result<Self, CacheError> {
        if urls.is_empty() {
            return Err(backend_error(
                "config key `cache.urls` is empty: give the cluster's seed nodes",
            ));
        }
        let urls: Vec<String> = urls.iter().map(|u| map.url(u)).collect();
        let client = ClusterClientBuilder::new(urls.clone())
            .async_dns_resolver(map.clone())
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(2)
            .build()
            .map_err(|e| CacheError::Backend {
                backend: "redis-cluster",
                message: format!("the seed URLs are not valid: {e}"),
            })?;
        Ok(Redis {
            link: Link::Cluster(Arc::new(ClusterLink {
                client,
                conn: tokio::sync::OnceCell::new(),
            })),
            timeout,
            urls,
        })
    }

    async fn conn(&self) -> Result<Conn, CacheError> {
        match &self.link {
            Link::Single(link) => Ok(Conn::Single(
                link.conn.read().unwrap_or_else(|p| p.into_inner()).clone(),
            )),
            Link::Cluster(link) => {
                let client = &link.client;
                let connected = link
                    .conn
                    .get_or_try_init(|| async {
                        match tokio::time::timeout(self.timeout * 4, client.get_async_connection())
                            .await
                        {
                            Ok(r) => r.map_err(backend_error),
                            Err(_) => Err(backend_error("the cluster did not answer")),
                        }
                    })
                    .await?;
                Ok(Conn::Cluster(connected.clone()))
            }
        }
    }

    async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CacheError> {
        let result = tokio::time::timeout(self.timeout, fut).await;
        let Link::Single(link) = &self.link else {
            return match result {
                Ok(r) => r.map_err(backend_error),
                Err(_) => Err(self.no_answer()),
            };
        };
        let timeouts = &link.timeouts;
        // The connection's own response timeout is the same as ours, and
        // often the first to fire.
        let timed_out = match &result {
            Err(_) => true,
            Ok(r) => r.as_ref().is_err_and(redis::RedisError::is_timeout),
        };
        if !timed_out {
            timeouts.store(0, Ordering::Relaxed);
        } else if timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= TIMEOUTS_BEFORE_RECONNECT {
            timeouts.store(0, Ordering::Relaxed);
            self.reconnect(link);
        }
        match result {
            Ok(r) => r.map_err(backend_error),
            Err(_) => Err(self.no_answer()),
        }
    }

    fn no_answer(&self) -> CacheError {
        backend_error(format!("no answer within {} ms", self.timeout.as_millis()))
    }

    /// Replaces a server connection that stopped answering with a fresh
    /// one (opened on its first use).
    fn reconnect(&self, link: &SingleLink) {
        if let Ok(fresh) =
            ConnectionManager::new_lazy_with_config(link.client.clone(), link.config.clone())
        {
            *link.conn.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        }
        tracing::warn!(
            "Redis did not answer twice in a row within {} ms: opening a fresh connection",
            self.timeout.as_millis()
        );
    }

    /// Runs one command, bounded by the timeout.
    pub(crate) async fn command<T: redis::FromRedisValue>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, CacheError> {
        let mut c = self.conn().await?;
        self.bounded(async move { cmd.query_async::<T>(&mut c).await })
            .await
    }

    /// Runs a Lua script on `keys` (one hash slot) with `args`, bounded
    /// by the timeout.
    pub(crate) async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<T, CacheError> {
        let mut c = self.conn().await?;
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(*k);
        }
        for a in args {
            invocation.arg(a);
        }
        self.bounded(async move { invocation.invoke_async::<T>(&mut c).await })
            .await
    }

    /// Publishes `payload` on `channel` (to every node of a cluster).
    pub(crate) async fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), CacheError> {
        let mut c = self.conn().await?;
        self.bounded(async move {
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
    }

    /// The URLs a subscriber may connect to.
    pub(crate) fn urls(&self) -> &[String] {
        &self.urls
    }

    /// `PING`, for readiness.
    pub async fn ping(&self) -> Result<(), CacheError> {
        let mut c = self.conn().await?;
        self.bounded(async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }
}

impl Backend for Redis {
    fn kind(&self) -> &'static str {
        match self.link {
            Link::Single(_) => "redis",
            Link::Cluster(_) => "redis-cluster",
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let mut c = self.conn().await?;
        let v: Option<Vec<u8>> = self.bounded(async move { c.get(key).await }).await?;
        Ok(v.map(Bytes::from))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.conn().await?;
        let vs: Vec<Option<Vec<u8>>> = self
            .bounded(async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await?;
        Ok(vs.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        let mut c = self.conn().await?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value.as_ref());
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        self.bounded(async move { cmd.query_async::<()>(&mut c).await })
            .await
    }

    async fn set_if_absent(&self, key: &str, value: Bytes) -> Result<Bytes, CacheError> {
        let mut c = self.conn().await?;
        // NX with GET (Redis 7): nil when this value was stored, else
        // the value that was there (and stays).
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value.as_ref()).arg("NX").arg("GET");
        let before: Option<Vec<u8>> = self
            .bounded(async move { cmd.query_async(&mut c).await })
            .await?;
        Ok(before.map_or(value, Bytes::from))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Redis::ping(self).await
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, CacheError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut c = self.conn().await?;
        self.bounded(async move { redis::cmd("DEL").arg(keys).query_async(&mut c).await })
            .await
    }

    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, CacheError> {
        let mut c = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("INCRBY").arg(key).arg(by);
        if let Some(ttl) = ttl {
            // NX: only a new counter gets the TTL (Redis 7).
            pipe.cmd("PEXPIRE")
                .arg(key)
                .arg(ttl.as_millis().max(1) as u64)
                .arg("NX")
                .ignore();
        }
        let result: Result<(i64,), CacheError> = self
            .bounded(async move { pipe.query_async(&mut c).await })
            .await;
        match result {
            Ok((n,)) => Ok(n),
            Err(CacheError::Backend { message, .. }) if message.contains("not an integer") => {
                Err(CacheError::NotAnInteger(key.to_owned()))
            }
            Err(e) => Err(e),
        }
    }

    async fn try_lock(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<Option<bool>, CacheError> {
        let mut c = self.conn().await?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64);
        let set: Option<String> = self
            .bounded(async move { cmd.query_async(&mut c).await })
            .await?;
        Ok(Some(set.is_some()))
    }

    async fn unlock(&self, key: &str, token: &str) -> Result<(), CacheError> {
        let mut c = self.conn().await?;
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
        );
        self.bounded(async move { script.key(key).arg(token).invoke_async::<i64>(&mut c).await })
            .await
            .map(|_| ())
    }

    async fn clear(&self, prefix: &str) -> Result<(), CacheError> {
        let pattern = glob_escape(prefix);
        match self.conn().await? {
            Conn::Single(c) => self.clear_node(Conn::Single(c), None, &pattern).await,
            Conn::Cluster(mut c) => {
                // Keys live on every primary: scan each one.
                let nodes: String = self
                    .bounded(async { redis::cmd("CLUSTER").arg("NODES").query_async(&mut c).await })
                    .await?;
                for (host, port) in primaries(&nodes) {
                    self.clear_node(Conn::Cluster(c.clone()), Some((host, port)), &pattern)
                        .await?;
                }
                Ok(())
            }
        }
    }
}

/// `(host, port)` of every primary that is not failing, from `CLUSTER NODES`.
fn primaries(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let addr = fields.nth(1)?;
            let flags = fields.next()?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            let hostport = addr.split('@').next()?;
            let (host, port) = hostport.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

/// Groups keys for UNLINK: all together, or by hash slot on a cluster.
fn unlink_batches(keys: Vec<String>, cluster: bool) -> Vec<Vec<String>> {
    if keys.is_empty() {
        return Vec::new();
    }
    if !cluster {
        return vec![keys];
    }
    let mut by_slot: std::collections::HashMap<Route, Vec<String>> =
        std::collections::HashMap::new();
    for key in keys {
        by_slot
            .entry(Route::with_key(key.as_bytes(), SlotAddr::Master))
            .or_default()
            .push(key);
    }
    by_slot.into_values().collect()
}

impl Redis {
    /// SCANs one node (a cluster node by address) and unlinks what matches.
    async fn clear_node(
        &self,
        conn: Conn,
        node: Option<(String, u16)>,
        pattern: &str,
    ) -> Result<(), CacheError> {
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000);
            let mut c = conn.clone();
            let (next, keys): (u64, Vec<String>) = match (&mut c, &node) {
                (Conn::Cluster(cc), Some((host, port))) => {
                    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port: *port,
                    });
                    let value = self.bounded(cc.route_command(scan, routing)).await?;
                    redis::from_redis_value(value).map_err(backend_error)?
                }
                _ => self.bounded(scan.query_async(&mut c)).await?,
            };
            // One UNLINK per batch on one server; per hash slot on a
            // cluster (a multi-key command must stay within one slot).
            for batch in unlink_batches(keys, matches!(conn, Conn::Cluster(_))) {
                let mut c = conn.clone();
                self.bounded(async move {
                    redis::cmd("UNLINK")
                        .arg(batch)
                        .query_async::<u64>(&mut c)
                        .await
                })
                .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primaries_come_from_cluster_nodes() {
        let nodes = "a1 127.0.0.1:7100@17100 myself,master - 0 0 1 connected 0-5460\n\
                     b2 127.0.0.1:7103@17103 slave a1 0 0 1 connected\n\
                     c3 127.0.0.1:7101@17101 master,fail - 0 0 2 connected 5461-10922\n";
        assert_eq!(primaries(nodes), vec![("127.0.0.1".to_owned(), 7100)]);
    }

    #[test]
    fn prefixes_are_escaped_for_scan() {
        assert_eq!(glob_escape("app:"), "app:*");
        assert_eq!(glob_escape("a*b?[c]"), "a\\*b\\?\\[c\\]*");
    }
}
