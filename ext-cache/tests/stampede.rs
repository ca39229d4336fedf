//! A hundred concurrent misses across two app nodes sharing Redis load
//! the value once: one node takes a short shared lock, the others wait
//! for its value.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use phial_cache::Cache;
use phial_cache::memory::Capacity;
use phial_cache::redis::Redis;
use phial_cache::tiered::Tiered;
use phial_core::testing::service_url;

async fn stampede(a: Cache, b: Cache) -> usize {
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks = (0..100).map(|i| {
        let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
        let loads = loads.clone();
        tokio::spawn(async move {
            cache
                .get_or_set_with("report", None, || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    // A slow query: the other callers arrive meanwhile.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, std::convert::Infallible>(vec![1u32, 2, 3])
                })
                .await
                .unwrap()
        })
    });
    for r in futures_util::future::join_all(tasks).await {
        assert_eq!(r.unwrap(), vec![1, 2, 3]);
    }
    a.clear().await;
    loads.load(Ordering::SeqCst)
}

#[tokio::test]
async fn one_load_across_two_redis_nodes() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let prefix = format!("phial-stampede:{}:", std::process::id());
    let node = || {
        Cache::new(
            Redis::new(&url, Duration::from_millis(500)).unwrap(),
            prefix.clone(),
            None,
        )
    };
    assert_eq!(stampede(node(), node()).await, 1);
}

#[tokio::test]
async fn one_load_across_two_tiered_nodes() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let prefix = format!("phial-stampede-tiered:{}:", std::process::id());
    let node = || {
        let l2 = Redis::new(&url, Duration::from_millis(500)).unwrap();
        let tiered = Tiered::new(
            l2,
            Capacity::Entries(100),
            Duration::from_secs(30),
            format!("{prefix}invalidate"),
        );
        Cache::new(tiered, prefix.clone(), None)
    };
    assert_eq!(stampede(node(), node()).await, 1);
}
