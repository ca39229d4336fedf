//! The `[socket]` section. Stable keys: `socket.path`,
//! `socket.ping_interval_ms`, `socket.ping_timeout_ms`, `socket.max_payload`,
//! `socket.max_buffer_size`, `socket.transports`, `socket.allowed_origins`, `socket.adapter`,
//! `socket.redis_url`, `socket.channel_prefix`, `socket.request_timeout_ms`,
//! `socket.user_key`, `socket.address_map`, `socket.replay_secs`,
//! `socket.replay_max`.

use std::time::Duration;

/// The config section: `[socket]`.
pub const SECTION: &str = "socket";

use serde::{Deserialize, Serialize};

/// `[socket]`.
///
/// ```toml
/// [socket]
/// adapter = "redis"                      # "local" (one node), "redis", "redis-cluster"
/// redis_url = "redis://127.0.0.1:6379"   # cluster: seed URLs, comma-separated
/// allowed_origins = ["https://example.com"]
/// ```
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketConfig {
    /// Where Socket.IO is served (the clients' `path` option).
    pub path: String,
    /// How often the server pings each client.
    pub ping_interval_ms: u64,
    /// How long a client may take to answer a ping before it is dropped.
    pub ping_timeout_ms: u64,
    /// The largest message a client may send, in bytes.
    pub max_payload: u64,
    /// Packets that may wait for one slow client before more are dropped
    /// for it (its emits then fail).
    pub max_buffer_size: usize,
    /// Transports clients may use: `polling`, `websocket`.
    pub transports: Vec<String>,
    /// Pages on these origins (`https://example.com`) may connect from a
    /// browser, as well as pages of the app's own origin; `"*"` allows any.
    /// Clients that send no `Origin` (not browsers) are not checked.
    pub allowed_origins: Vec<String>,
    /// `local` (one node), `redis` or `redis-cluster` (broadcasts reach
    /// clients on every node that shares the Redis).
    pub adapter: AdapterKind,
    /// The Redis for `redis` / `redis-cluster` (seed URLs separated by
    /// commas for a cluster).
    pub redis_url: Option<String>,
    /// Nodes of one app share channels under this prefix; two apps on one
    /// Redis need different ones. Default: the app's name.
    pub channel_prefix: Option<String>,
    /// How long a request across nodes (acks, room lists) waits for the
    /// other nodes.
    pub request_timeout_ms: u64,
    /// The session key that holds the signed-in user, for apps that sign
    /// people in by hand (with `phial::auth`, its user is the socket's).
    pub user_key: String,
    /// Seconds between re-checks of the sign-ins sockets connected with
    /// (one that ended without a sign-out event, by idling out, is
    /// disconnected then). Sign-outs themselves disconnect at once.
    pub recheck_secs: u64,
    /// Where to connect for the addresses the Redis servers are known by —
    /// the seeds and every node a cluster announces — when this node must
    /// reach them elsewhere (NAT, a container network, a proxy):
    /// `address_map = { "10.0.0.5:6379" = "127.0.0.1:16379" }`.
    pub address_map: phial_core::AddressMap,
    /// How long events sent through `RoomLog::emit` are kept for clients
    /// that come back (a node restarted under them): they get what they
    /// missed when they join the room again. 0 keeps nothing.
    pub replay_secs: u64,
    /// At most this many events are kept per room.
    pub replay_max: usize,
}

/// How a node reaches clients connected to other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AdapterKind {
    /// This node's clients only.
    #[default]
    Local,
    /// Every node sharing one Redis.
    Redis,
    /// Every node sharing one Redis Cluster (sharded pub/sub).
    RedisCluster,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            path: "/socket.io".into(),
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 100_000,
            max_buffer_size: 128,
            transports: vec!["polling".into(), "websocket".into()],
            allowed_origins: Vec::new(),
            adapter: AdapterKind::Local,
            redis_url: None,
            channel_prefix: None,
            request_timeout_ms: 5_000,
            user_key: "user_id".into(),
            recheck_secs: 30,
            address_map: phial_core::AddressMap::default(),
            replay_secs: 120,
            replay_max: 1_000,
        }
    }
}

impl SocketConfig {
    pub(crate) fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }

    pub(crate) fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }

    /// Problems a user must fix, as `(key, message)`.
    pub(crate) fn check(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !self.path.starts_with('/') || self.path.len() < 2 || self.path.ends_with('/') {
            problems.push((
                "path",
                format!(
                    "`{}` must start with `/` and not end with one (e.g. `/socket.io`)",
                    self.path
                ),
            ));
        }
        if self.transports.is_empty() {
            problems.push((
                "transports",
                "is empty: list `polling`, `websocket` or both".into(),
            ));
        }
        for t in &self.transports {
            if t != "polling" && t != "websocket" {
                problems.push((
                    "transports",
                    format!("`{t}` is not a transport: use `polling` or `websocket`"),
                ));
            }
        }
        if self.ping_interval_ms == 0 || self.ping_timeout_ms == 0 {
            problems.push((
                "ping_interval_ms",
                "ping_interval_ms and ping_timeout_ms must be above 0".into(),
            ));
        }
        if self.max_buffer_size == 0 {
            problems.push(("max_buffer_size", "must be above 0 (packets)".into()));
        }
        if self.max_payload == 0 {
            problems.push(("max_payload", "must be above 0 (bytes)".into()));
        }
        for origin in &self.allowed_origins {
            if origin != "*" && crate::origin::parse_origin(origin).is_none() {
                problems.push((
                    "allowed_origins",
                    format!("`{origin}` is not an origin: write `https://host[:port]` or `*`"),
                ));
            }
        }
        if let Err(why) = self.address_map.check() {
            problems.push(("address_map", why));
        }
        if self.adapter != AdapterKind::Local && self.redis_url.as_deref().is_none_or(str::is_empty)
        {
            problems.push((
                "redis_url",
                format!(
                    "is required with adapter `{}` (e.g. `redis://127.0.0.1:6379`; env PHIAL_SOCKET__REDIS_URL)",
                    self.adapter.name()
                ),
            ));
        }
        problems
    }
}

impl AdapterKind {
    /// The config value.
    pub fn name(self) -> &'static str {
        match self {
            AdapterKind::Local => "local",
            AdapterKind::Redis => "redis",
            AdapterKind::RedisCluster => "redis-cluster",
        }
    }
}
