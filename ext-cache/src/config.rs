//! The `[cache]` section. Stable keys: `cache.type`, `cache.key_prefix`,
//! `cache.default_ttl_secs`, `cache.max_entries`, `cache.max_bytes`,
//! `cache.idle_secs`, `cache.urls`, `cache.timeout_ms`, `cache.l2`,
//! `cache.l1_ttl_secs`, `cache.coherence_ms`, `cache.max_pending`,
//! `cache.guard_writes`, `cache.address_map`, `cache.metrics_path`.

use phial_core::AddressMap;
use serde::{Deserialize, Serialize};

/// The config section this extension reads: `[cache]`.
pub const SECTION: &str = "cache";

/// Invalidations a tiered node keeps for replay by default
/// (`cache.max_pending`).
pub(crate) const DEFAULT_MAX_PENDING: usize = 10_000;

/// Which backend (`cache.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// Stores nothing.
    Null,
    /// In-process (moka).
    #[default]
    Memory,
    /// One Redis server (`cache.urls[0]`).
    Redis,
    /// A Redis Cluster (`cache.urls` are seed nodes).
    RedisCluster,
    /// moka in front of `cache.l2`, coherent across nodes.
    Tiered,
}

impl BackendKind {
    /// The name `cache.type` uses.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Null => "null",
            BackendKind::Memory => "memory",
            BackendKind::Redis => "redis",
            BackendKind::RedisCluster => "redis-cluster",
            BackendKind::Tiered => "tiered",
        }
    }
}

/// The shared tier of `tiered` (`cache.l2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SharedKind {
    /// One Redis server.
    #[default]
    Redis,
    /// A Redis Cluster.
    RedisCluster,
}

/// `[cache]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct CacheConfig {
    /// `null`, `memory`, `redis`, `redis-cluster` or `tiered`.
    #[serde(rename = "type")]
    pub kind: BackendKind,
    /// Put before every key, so apps sharing a server stay apart; the
    /// tiered backend's channel is `<key_prefix>invalidate`. Unset: the
    /// app's name and a colon (`<name>:`, see the core key `name`).
    pub key_prefix: Option<String>,
    /// Seconds an entry lives when the call gives no TTL; 0 for no limit.
    pub default_ttl_secs: u64,
    /// Memory backend: most entries.
    pub max_entries: u64,
    /// Memory backend: most bytes (keys + values); wins over `max_entries`.
    pub max_bytes: Option<u64>,
    /// Memory backend: drop entries not read for this many seconds.
    pub idle_secs: Option<u64>,
    /// Redis: the server (`redis://host:port/db`); Redis Cluster: seed nodes.
    pub urls: Vec<String>,
    /// Redis: milliseconds any call may take before it counts as failed.
    pub timeout_ms: u64,
    /// Tiered: the shared tier behind the in-process one.
    pub l2: SharedKind,
    /// Tiered: seconds an entry stays in a node's memory at most.
    pub l1_ttl_secs: u64,
    /// Tiered: how stale a value served from a node's memory may be under
    /// a fault, in milliseconds: a node serves from memory only while its
    /// heartbeat came back through the invalidation channel within it.
    pub coherence_ms: u64,
    /// Tiered: invalidations a node keeps for replay while Redis is
    /// unreachable; past it, recovery clears the app's prefix everywhere.
    pub max_pending: usize,
    /// Shared backends: before a write through Phial commits, mark its
    /// table's tag in the shared store (every node stops serving and
    /// storing the table's entries), and refuse the write — 503, nothing
    /// saved — when the store cannot be told. Off: a node cut off from
    /// the store still acknowledges writes, and other nodes may serve
    /// what they replaced until the entries expire.
    pub guard_writes: bool,
    /// Redis: where to connect for the addresses the servers are known by
    /// — the seeds and every node a cluster announces — when this node
    /// must reach them elsewhere (NAT, a container network, a proxy):
    /// `address_map = { "10.0.0.5:6379" = "127.0.0.1:16379" }`.
    pub address_map: AddressMap,
    /// Path of the JSON metrics endpoint; empty to leave it out. Unset:
    /// `/metrics/cache`, except in production, where the counters are
    /// not published unless a path is given (put it behind your own
    /// access control).
    pub metrics_path: Option<String>,
}

impl CacheConfig {
    /// The key prefix: `cache.key_prefix`, else `<app_name>:`.
    pub fn prefix(&self, app_name: &str) -> String {
        self.key_prefix
            .clone()
            .unwrap_or_else(|| format!("{app_name}:"))
    }

    /// The metrics endpoint's path, if it is mounted: `cache.metrics_path`,
    /// else `/metrics/cache` outside production.
    pub fn metrics_route(&self, production: bool) -> Option<&str> {
        match self.metrics_path.as_deref() {
            Some("") => None,
            Some(path) => Some(path),
            None if production => None,
            None => Some("/metrics/cache"),
        }
    }

    /// Whether the backend is shared with other processes (and so other
    /// apps, unless the prefix keeps them apart).
    pub fn is_shared(&self) -> bool {
        matches!(
            self.kind,
            BackendKind::Redis | BackendKind::RedisCluster | BackendKind::Tiered
        )
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            kind: BackendKind::Memory,
            key_prefix: None,
            default_ttl_secs: 300,
            max_entries: 10_000,
            max_bytes: None,
            idle_secs: None,
            urls: vec!["redis://127.0.0.1:6379".into()],
            timeout_ms: 250,
            l2: SharedKind::Redis,
            l1_ttl_secs: 60,
            coherence_ms: 250,
            max_pending: DEFAULT_MAX_PENDING,
            guard_writes: true,
            address_map: AddressMap::default(),
            metrics_path: None,
        }
    }
}
