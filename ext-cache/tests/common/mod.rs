//! Helpers the suites share: fresh key prefixes, and every backend the
//! machine offers (memory always; Redis, the tiered backend and the Redis
//! Cluster when reachable).
#![allow(dead_code, reason = "each suite uses some of the helpers")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use phial_cache::memory::{Capacity, Memory};
use phial_cache::redis::Redis;
use phial_cache::tiered::Tiered;
use phial_cache::{AnyBackend, Cache};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh prefix per cache, so tests sharing one Redis stay apart.
pub(crate) fn prefix() -> String {
    format!(
        "phial-test:{}:{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// The local Redis, when reachable.
pub(crate) async fn redis_url() -> Option<String> {
    phial_core::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
        .await
}

/// A seed node of the local cluster `scripts/redis-cluster.sh start` runs.
pub(crate) async fn cluster_seed() -> Option<String> {
    phial_core::testing::service_url(
        "Redis Cluster",
        "PHIAL_TEST_REDIS_CLUSTER_URL",
        "redis://127.0.0.1:7100",
    )
    .await
}

/// The port of a `redis://host:port` URL.
pub(crate) fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("`{url}` has no port"))
}

/// Whether `cache` holds `k0`..`k{n-1}` = 0..n.
pub(crate) async fn all_present(cache: &Cache, n: u32) -> bool {
    for i in 0..n {
        if cache.get::<u32>(&format!("k{i}")).await != Some(i) {
            return false;
        }
    }
    true
}

/// Each backend with the prefix its cache uses.
pub(crate) async fn backends() -> Vec<(&'static str, AnyBackend, String)> {
    let mut out: Vec<(&'static str, AnyBackend, String)> = vec![(
        "memory",
        AnyBackend::new(Memory::new(Capacity::Entries(1000), None)),
        prefix(),
    )];
    if let Some(url) = redis_url().await {
        let backend = Redis::new(&url, Duration::from_millis(500)).unwrap();
        out.push(("redis", AnyBackend::new(backend), prefix()));
        let p = prefix();
        let l2 = Redis::new(&url, Duration::from_millis(500)).unwrap();
        let tiered = Tiered::new(
            l2,
            Capacity::Entries(1000),
            Duration::from_secs(60),
            format!("{p}invalidate"),
        );
        out.push(("tiered", AnyBackend::new(tiered), p));
    }
    if let Some(seed) = cluster_seed().await {
        let backend = Redis::cluster(&[seed], Duration::from_millis(500)).unwrap();
        out.push(("redis-cluster", AnyBackend::new(backend), prefix()));
    }
    out
}

/// A cache on each backend; a default TTL so keys a failed run leaves
/// behind expire.
pub(crate) async fn caches() -> Vec<(&'static str, Cache)> {
    backends()
        .await
        .into_iter()
        .map(|(name, backend, prefix)| {
            (
                name,
                Cache::shared(backend, prefix, Some(Duration::from_secs(120))),
            )
        })
        .collect()
}

/// A Redis URL where nothing listens (a port just closed).
pub(crate) async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("redis://{addr}")
}

/// Polls `check` until it holds or `within` passes.
pub(crate) async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
