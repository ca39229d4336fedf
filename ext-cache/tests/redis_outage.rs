//! Redis stopped mid-run: requests keep succeeding (reads miss, writes are
//! dropped and counted, each call bounded by the timeout), and the cache
//! works again by itself when Redis returns.

use std::time::{Duration, Instant};

use phial_cache::Cache;
use phial_cache::redis::Redis;
use phial_core::testing::{TcpProxy, service_url, url_addr, url_via};

#[tokio::test]
async fn the_cache_fails_open_while_redis_is_down_and_recovers() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let target = url_addr(&url).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let port = proxy.addr();
    let backend = Redis::new(&url_via(&url, port), Duration::from_millis(200)).unwrap();
    let cache = Cache::new(
        backend,
        format!("phial-outage:{}:", std::process::id()),
        Some(Duration::from_secs(60)),
    );
    cache.set("k", &1u8, None).await;
    assert_eq!(cache.get::<u8>("k").await, Some(1));

    proxy.cut().await;
    let start = Instant::now();
    assert_eq!(cache.get::<u8>("k").await, None, "a miss, not an error");
    cache.set("k2", &2u8, None).await;
    let loaded: u8 = cache
        .get_or_set_with("k3", None, || async {
            Ok::<_, std::convert::Infallible>(3)
        })
        .await
        .unwrap();
    assert_eq!(loaded, 3, "reads fall through to the loader");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "bounded by the timeout: {:?}",
        start.elapsed()
    );
    let stats = cache.stats();
    assert!(stats.errors >= 3 && stats.dropped_writes >= 2, "{stats:?}");

    let proxy = TcpProxy::start(port, target).await.unwrap();
    // The connection manager reconnects on its own; a call may still see
    // the old connection fail once.
    let mut recovered = false;
    for _ in 0..20 {
        cache.set("k", &4u8, None).await;
        if cache.get::<u8>("k").await == Some(4) {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the cache works again once Redis is back");
    cache.clear().await;
    proxy.cut().await;
}
