//! Loads never convoy: concurrent misses for one key in a process share
//! one load and its result — value or error — even when the shared store
//! is down (nothing stored for the next caller to find), and a cancelled
//! load is taken over by one waiter instead of leaving the rest hanging.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use phial_cache::Cache;
use phial_cache::memory::{Capacity, Memory};
use phial_cache::redis::Redis;

/// A cache whose Redis is down (nothing listens on its port), and one in
/// memory.
async fn caches() -> Vec<(&'static str, Cache)> {
    let down = Redis::new(&common::closed_port_url().await, Duration::from_millis(200)).unwrap();
    vec![
        ("redis down", Cache::new(down, "convoy:", None)),
        (
            "memory",
            Cache::new(Memory::new(Capacity::Entries(100), None), "convoy:", None),
        ),
    ]
}

/// Waits (bounded) until `n` callers have missed: they have all joined the
/// load by then.
async fn until_missed(cache: &Cache, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.stats().misses < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_hundred_misses_with_redis_down_load_once_in_bounded_time() {
    let (_, cache) = caches().await.remove(0);
    let loads = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks = (0..100).map(|_| {
        let (cache, loads) = (cache.clone(), loads.clone());
        tokio::spawn(async move {
            let waiter = cache.clone();
            cache
                .get_or_set_with("report", None, || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    until_missed(&waiter, 100).await;
                    // A slow query.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, Infallible>(vec![1u32, 2, 3])
                })
                .await
        })
    });
    for r in futures_util::future::join_all(tasks).await {
        assert_eq!(r.unwrap().unwrap(), vec![1, 2, 3]);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1, "one load for 100 callers");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "callers waited for each other: {:?}",
        start.elapsed()
    );
    assert_eq!(cache.stats().waits, 99);
}

#[tokio::test]
async fn a_failing_load_fails_every_waiter_and_runs_once() {
    for (backend, cache) in caches().await {
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks = (0..100).map(|_| {
            let (cache, loads) = (cache.clone(), loads.clone());
            tokio::spawn(async move {
                let waiter = cache.clone();
                cache
                    .get_or_set_with("report", None, || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        until_missed(&waiter, 100).await;
                        Err::<u32, _>("the database is down".to_owned())
                    })
                    .await
            })
        });
        for r in futures_util::future::join_all(tasks).await {
            assert_eq!(
                r.unwrap(),
                Err("the database is down".to_owned()),
                "{backend}"
            );
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "{backend}");
    }
}

#[tokio::test]
async fn a_cancelled_load_is_taken_over_by_a_waiter() {
    for (backend, cache) in caches().await {
        let loads = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(tokio::sync::Notify::new());
        let leader = {
            let (cache, loads, started) = (cache.clone(), loads.clone(), started.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set_with("report", None, || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        started.notify_one();
                        std::future::pending::<Result<u32, Infallible>>().await
                    })
                    .await
            })
        };
        started.notified().await;
        let waiters: Vec<_> = (0..99)
            .map(|_| {
                let (cache, loads) = (cache.clone(), loads.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_set_with("report", None, || async move {
                            loads.fetch_add(1, Ordering::SeqCst);
                            Ok::<u32, Infallible>(7)
                        })
                        .await
                })
            })
            .collect();
        until_missed(&cache, 100).await;
        // The request that was loading goes away (client disconnected).
        leader.abort();
        let all = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join_all(waiters),
        )
        .await
        .expect("waiters are not left hanging");
        for r in all {
            assert_eq!(r.unwrap(), Ok(7), "{backend}");
        }
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "{backend}: the cancelled load and one takeover"
        );
    }
}
