//! The stores the cache keeps for the core, on a real Redis and a real
//! Redis Cluster: sign-in records (one round trip for a user's keys, the
//! first writer's epoch wins and its time to live is renewed, records
//! expire), rate-limit counters shared by every app on the same Redis (two
//! apps count together; growing delays; forget), and, on the memory
//! backend, records that filling the cache does not evict.

mod common;

use std::time::Duration;

use phial_cache::Caching;
use phial_cache::redis::Redis;
use phial_cache::stores::{RedisLimitStore, RedisSessionStore};
use phial_core::rate_limit::{Backoff, LimitStore, Limiter, Rate};
use phial_core::session::{SessionStore, SessionStores};
use phial_core::{App, Config};

async fn redises() -> Vec<(&'static str, Redis)> {
    let mut out = Vec::new();
    if let Some(url) = common::redis_url().await {
        out.push((
            "redis",
            Redis::new(&url, Duration::from_millis(500)).unwrap(),
        ));
    }
    if let Some(seed) = common::cluster_seed().await {
        out.push((
            "redis-cluster",
            Redis::cluster(&[seed], Duration::from_millis(500)).unwrap(),
        ));
    }
    out
}

#[tokio::test]
async fn session_records_round_trip_expire_and_keep_the_first_epoch() {
    for (name, redis) in redises().await {
        let store = RedisSessionStore::new(redis, common::prefix());
        let record = "{user:7}:s:abc".to_owned();
        let epoch = "{user:7}:e".to_owned();
        store
            .set(&record, b"record".to_vec(), Duration::from_millis(400))
            .await
            .unwrap();
        let first = store
            .set_if_absent(&epoch, b"one".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        let second = store
            .set_if_absent(&epoch, b"two".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            (first.as_slice(), second.as_slice()),
            (&b"one"[..], &b"one"[..]),
            "{name}"
        );
        let both = store.get(&[record.clone(), epoch.clone()]).await.unwrap();
        assert_eq!(
            both,
            vec![Some(b"record".to_vec()), Some(b"one".to_vec())],
            "{name}"
        );
        // Records expire by themselves.
        let mut gone = false;
        for _ in 0..40 {
            if store.get(std::slice::from_ref(&record)).await.unwrap()[0].is_none() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "{name}: the record outlived its time to live");
        store.delete(std::slice::from_ref(&epoch)).await.unwrap();
        assert_eq!(store.get(&[epoch]).await.unwrap(), vec![None], "{name}");
        store.ping().await.unwrap();
    }
}

#[tokio::test]
async fn rate_counters_are_shared_by_every_app_on_the_same_redis() {
    for (name, redis) in redises().await {
        let prefix = common::prefix();
        let a = RedisLimitStore::new(redis.clone(), prefix.clone());
        let b = RedisLimitStore::new(redis, prefix);
        let rate: Rate = "3/minute".parse().unwrap();
        // A route pattern with braces is a plain key, not a hash tag.
        let key = "rl:/posts/{id}/comments:a:192.0.2.1";
        assert!(a.take(key, rate, 1).await.unwrap().allowed, "{name}");
        assert!(b.take(key, rate, 1).await.unwrap().allowed, "{name}");
        let last = a.take(key, rate, 1).await.unwrap();
        assert!(last.allowed && last.remaining == 0, "{name}: {last:?}");
        let refused = b.take(key, rate, 1).await.unwrap();
        assert!(
            !refused.allowed,
            "{name}: the second node counts the first's requests"
        );
        assert!(
            refused.retry_after > Duration::from_secs(15)
                && refused.retry_after <= Duration::from_secs(20),
            "{name}: {refused:?}"
        );
        let backoff = Backoff {
            free: 2,
            base: Duration::from_secs(30),
            max: Duration::from_secs(600),
            window: Duration::from_secs(60),
        };
        assert!(a.attempt("login:ada", backoff).await.unwrap().allowed);
        assert!(b.attempt("login:ada", backoff).await.unwrap().allowed);
        let held = a.attempt("login:ada", backoff).await.unwrap();
        assert!(!held.allowed, "{name}");
        assert!(
            held.retry_after > Duration::from_secs(25),
            "{name}: {held:?}"
        );
        b.forget("login:ada").await.unwrap();
        assert!(
            a.attempt("login:ada", backoff).await.unwrap().allowed,
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_app_counts_in_redis_and_keeps_sessions_there_on_a_shared_backend() {
    let Some(url) = common::redis_url().await else {
        return;
    };
    let prefix = common::prefix();
    let config = || {
        Config::testing()
            .set("cache.type", "redis")
            .set("cache.urls", [url.clone()])
            .set("cache.key_prefix", prefix.clone())
            .set("session.store", "cache")
    };
    let one = App::builder(config())
        .register(Caching::new())
        .build()
        .await
        .unwrap();
    let two = App::builder(config())
        .register(Caching::new())
        .build()
        .await
        .unwrap();
    let (l1, l2) = (Limiter::of(one.state()), Limiter::of(two.state()));
    assert_eq!(l1.kind(), "redis");
    let rate: Rate = "1/minute".parse().unwrap();
    assert!(l1.take("rl:t:a:1", rate, 1).await.allowed);
    assert!(
        !l2.take("rl:t:a:1", rate, 1).await.allowed,
        "the other node knows"
    );
    let store = two
        .state()
        .get::<SessionStores>()
        .unwrap()
        .store()
        .unwrap()
        .clone();
    assert_eq!(store.kind(), "redis");
}

#[tokio::test]
async fn on_the_memory_backend_filling_the_cache_signs_nobody_out() {
    let app = App::builder(
        Config::testing()
            .set("cache.type", "memory")
            .set("cache.max_entries", 10)
            .set("session.store", "cache"),
    )
    .register(Caching::new())
    .build()
    .await
    .unwrap();
    let store = app
        .state()
        .get::<SessionStores>()
        .unwrap()
        .store()
        .unwrap()
        .clone();
    store
        .set(
            "{user:1}:s:x",
            b"signed in".to_vec(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let cache = app.state().get::<phial_cache::Cache>().unwrap().clone();
    for i in 0..1000 {
        cache.set(&format!("filler-{i}"), &i, None).await;
    }
    assert_eq!(
        store.get(&["{user:1}:s:x".into()]).await.unwrap(),
        vec![Some(b"signed in".to_vec())]
    );
}
