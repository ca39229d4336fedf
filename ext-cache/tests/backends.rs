//! One suite for every backend (memory, and Redis when reachable): typed
//! values, TTLs, tags, counters, stampede protection, prefixes; plus the
//! memory backend's bounds, the null backend, and invalidation that
//! follows the app's change feed.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use phial_cache::memory::{Capacity, Memory, Null};
use phial_cache::redis::Redis;
use phial_cache::{AnyBackend, Cache, Caching};
use phial_core::changes::Change;
use phial_core::routing::get;
use phial_core::{App, Config, HttpError};
use serde_json::json;

mod common;

use common::{caches, cluster_seed, prefix};

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Post {
    id: u32,
    title: String,
}

#[tokio::test]
async fn typed_values_round_trip_and_other_types_are_misses() {
    for (_backend, cache) in caches().await {
        let post = Post {
            id: 1,
            title: "hi".into(),
        };
        cache.set("p1", &post, None).await;
        assert_eq!(cache.get::<Post>("p1").await, Some(post.clone()));
        assert_eq!(
            cache.get::<Vec<u64>>("p1").await,
            None,
            "a changed type is a miss, not a panic"
        );
        cache.set_many(&[("a", 1u8), ("b", 2u8)], None).await;
        assert_eq!(
            cache.get_many::<u8>(&["a", "b", "c"]).await,
            vec![Some(1), Some(2), None]
        );
        cache.delete_many(&["a", "p1"]).await;
        assert_eq!(cache.get_many::<u8>(&["a", "b"]).await, vec![None, Some(2)]);
        let stats = cache.stats();
        assert!(stats.hits >= 3 && stats.misses >= 3, "{stats:?}");
    }
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    for (_backend, cache) in caches().await {
        cache
            .set("short", &1u8, Some(Duration::from_millis(100)))
            .await;
        cache.set("long", &2u8, Some(Duration::from_secs(60))).await;
        assert_eq!(cache.get::<u8>("short").await, Some(1));
        // Wait well past the TTL (this is the behaviour under test, not a race).
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(cache.get::<u8>("short").await, None);
        assert_eq!(cache.get::<u8>("long").await, Some(2));
    }
}

#[tokio::test]
async fn invalidating_a_tag_drops_only_its_entries() {
    for (_backend, cache) in caches().await {
        cache
            .set_tagged("list", &vec![1u8, 2], None, &["post"])
            .await;
        cache
            .set_tagged("both", &3u8, None, &["post", "author"])
            .await;
        cache.set_tagged("authors", &4u8, None, &["author"]).await;
        cache.invalidate_tag("post").await;
        assert_eq!(cache.get::<Vec<u8>>("list").await, None);
        assert_eq!(cache.get::<u8>("both").await, None);
        assert_eq!(cache.get::<u8>("authors").await, Some(4));
        // Stored again after the invalidation, it is fresh.
        cache.set_tagged("list", &vec![9u8], None, &["post"]).await;
        assert_eq!(cache.get::<Vec<u8>>("list").await, Some(vec![9]));
    }
}

#[tokio::test]
async fn user_keys_never_clobber_the_caches_own() {
    for (backend, cache) in caches().await {
        cache.set_tagged("list", &1u8, None, &["post"]).await;
        // Named like the tag's version: must not replace it (an invalidation
        // would then fail and leave `list` stale).
        cache.set("tag:post", &"mine", None).await;
        cache.set("\u{1}tag:post", &"mine too", None).await;
        cache.invalidate_tag("post").await;
        assert_eq!(cache.get::<u8>("list").await, None, "{backend}");
        assert_eq!(
            cache.get::<String>("tag:post").await.as_deref(),
            Some("mine"),
            "{backend}"
        );
        assert_eq!(
            cache.get::<String>("\u{1}tag:post").await.as_deref(),
            Some("mine too"),
            "{backend}"
        );
        // Named like a load lock: must not make the load wait for a node
        // that is not loading.
        cache.set("lock:report", &"x", None).await;
        cache.set("\u{1}lock:report", &"x", None).await;
        let started = std::time::Instant::now();
        let v: u8 = cache
            .get_or_set_with("report", None, || async { Ok::<_, Infallible>(3) })
            .await
            .unwrap();
        assert_eq!(v, 3, "{backend}");
        assert!(
            // (Another node's load is waited for up to two seconds.)
            started.elapsed() < std::time::Duration::from_secs(2),
            "{backend}: the load waited for a lock nobody held"
        );
    }
}

#[tokio::test]
async fn counters_count_and_refuse_non_numbers() {
    for (_backend, cache) in caches().await {
        assert_eq!(cache.incr("hits", 1, None).await, Some(1));
        assert_eq!(cache.incr("hits", 5, None).await, Some(6));
        assert_eq!(cache.incr("hits", -2, None).await, Some(4));
        cache.set("word", &"x", None).await;
        assert_eq!(
            cache.incr("word", 1, None).await,
            None,
            "not an integer: logged, no panic"
        );
    }
}

#[tokio::test]
async fn a_hundred_concurrent_misses_load_once() {
    for (_backend, cache) in caches().await {
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks = (0..100).map(|_| {
            let (cache, loads) = (cache.clone(), loads.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set_with("expensive", None, || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok::<_, Infallible>(Post {
                            id: 7,
                            title: "loaded".into(),
                        })
                    })
                    .await
                    .unwrap()
            })
        });
        let results = futures_util::future::join_all(tasks).await;
        assert!(results.iter().all(|r| r.as_ref().unwrap().id == 7));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(cache.stats().loads, 1);
    }
}

#[tokio::test]
async fn a_failing_loader_is_returned_and_nothing_is_cached() {
    for (_backend, cache) in caches().await {
        let err = cache
            .get_or_set_with("k", None, || async { Err::<u8, _>("db down") })
            .await
            .unwrap_err();
        assert_eq!(err, "db down");
        assert_eq!(
            cache
                .get_or_set_with("k", None, || async { Ok::<u8, &str>(5) })
                .await,
            Ok(5)
        );
    }
}

#[tokio::test]
async fn memoize_keys_by_arguments() {
    for (_backend, cache) in caches().await {
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            let v: u32 = cache
                .memoize("square", &(4u32,), None, || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, HttpError>(16)
                })
                .await
                .unwrap();
            assert_eq!(v, 16);
        }
        let v: u32 = cache
            .memoize("square", &(5u32,), None, || async {
                Ok::<_, HttpError>(25)
            })
            .await
            .unwrap();
        assert_eq!((v, calls.load(Ordering::SeqCst)), (25, 1));
    }
}

/// Arguments that refuse to be encoded.
struct Unencodable;

impl serde::Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("a handle, not data"))
    }
}

#[tokio::test]
async fn memoize_refuses_arguments_that_cannot_be_encoded() {
    for (backend, cache) in caches().await {
        let calls = AtomicUsize::new(0);
        let result = cache
            .memoize("report", &Unencodable, None, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<u32, HttpError>(1)
            })
            .await;
        let err = result.expect_err("not cached under some key of empty arguments");
        assert!(
            format!("{err:?}").contains("cannot be encoded"),
            "{backend}: {err:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{backend}");
    }
}

#[tokio::test]
async fn clear_removes_only_this_apps_keys() {
    let mut shared: Vec<AnyBackend> =
        vec![AnyBackend::new(Memory::new(Capacity::Entries(100), None))];
    if let Some(url) =
        phial_core::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await
    {
        shared.push(AnyBackend::new(
            Redis::new(&url, Duration::from_millis(500)).unwrap(),
        ));
    }
    if let Some(seed) = cluster_seed().await {
        shared.push(AnyBackend::new(
            Redis::cluster(&[seed], Duration::from_millis(500)).unwrap(),
        ));
    }
    for backend in shared {
        let a = Cache::shared(backend.clone(), prefix(), None);
        let b = Cache::shared(backend, prefix(), None);
        a.set("k", &1u8, None).await;
        b.set("k", &2u8, None).await;
        a.clear().await;
        assert_eq!(a.get::<u8>("k").await, None);
        assert_eq!(b.get::<u8>("k").await, Some(2));
        b.clear().await;
    }
}

#[tokio::test]
async fn byte_capacity_bounds_the_memory_backend() {
    let cache = Cache::new(Memory::new(Capacity::Bytes(10_000), None), "t:", None);
    for i in 0..100 {
        cache.set(&format!("k{i}"), &vec![0u8; 1000], None).await;
    }
    let present = futures_util::future::join_all((0..100).map(|i| {
        let cache = cache.clone();
        async move { cache.get::<Vec<u8>>(&format!("k{i}")).await.is_some() }
    }))
    .await
    .into_iter()
    .filter(|p| *p)
    .count();
    assert!(
        present <= 10,
        "about 10 KB fit, {present} entries of 1 KB remain"
    );
}

#[tokio::test]
async fn the_null_backend_never_hits() {
    let cache = Cache::new(Null, "n:", None);
    cache.set("k", &1u8, None).await;
    assert_eq!(cache.get::<u8>("k").await, None);
}

#[tokio::test]
async fn writes_published_to_the_change_feed_drop_tagged_entries() {
    async fn posts(cache: Cache) -> String {
        let n: u32 = cache
            .get_or_set_tagged_with("post-count", None, &["post"], || async {
                Ok::<_, Infallible>(42)
            })
            .await
            .unwrap();
        n.to_string()
    }
    let app = App::builder(Config::testing())
        .register(Caching::new())
        .route("/", get(posts))
        .build()
        .await
        .unwrap();
    let cache = app.state().get::<Cache>().unwrap().clone();
    assert_eq!(app.test_client().get("/").send().await.text(), "42");
    assert_eq!(cache.get::<u32>("post-count").await, Some(42));
    app.state()
        .changes()
        .publish(Change::update("post", [serde_json::json!(1)]))
        .await;
    assert_eq!(
        cache.get::<u32>("post-count").await,
        None,
        "dropped before publish returned"
    );
    app.state()
        .changes()
        .publish(Change::update("comment", []))
        .await;
    cache.set_tagged("other", &1u8, None, &["post"]).await;
    assert_eq!(cache.get::<u8>("other").await, Some(1));
}

#[tokio::test]
async fn config_picks_the_backend_and_bad_values_name_the_key() {
    let start = async |key: &str, value: serde_json::Value| {
        App::builder(Config::testing().set(key, value))
            .register(Caching::new())
            .build()
            .await
            .map_err(|e| e.to_string())
    };
    let kind = |app: App| app.state().get::<Cache>().unwrap().kind();
    assert_eq!(
        kind(start("cache.type", json!("null")).await.unwrap()),
        "null"
    );
    let err = start("cache.type", json!("memcached")).await.unwrap_err();
    assert!(err.contains("config key `cache.type`"), "{err}");
    let err = start("cache.default_ttl_secs", json!("lots"))
        .await
        .unwrap_err();
    assert!(
        err.contains("config key `cache.default_ttl_secs`: invalid type"),
        "{err}"
    );
    let err = start("cache.address_map", json!({"10.0.0.5:6379": "nowhere"}))
        .await
        .unwrap_err();
    assert!(
        err.contains("config key `cache.address_map`") && err.contains("host:port"),
        "{err}"
    );
    // The control: a map of addresses is accepted.
    let map = json!({"10.0.0.5:6379": "127.0.0.1:16379"});
    assert_eq!(
        kind(start("cache.address_map", map).await.unwrap()),
        "memory"
    );
}

#[tokio::test]
async fn the_metrics_endpoint_reports_hits_misses_and_tiers() {
    async fn hit(cache: Cache) -> String {
        cache
            .get_or_set_with("x", None, || async { Ok::<_, Infallible>(1u8) })
            .await
            .unwrap()
            .to_string()
    }
    let app = App::builder(Config::testing())
        .register(Caching::new())
        .route("/", get(hit))
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    client.get("/").send().await;
    client.get("/").send().await;
    let m: serde_json::Value = client.get("/metrics/cache").send().await.json();
    assert_eq!(m["backend"], "memory");
    assert_eq!(m["stats"]["loads"], 1);
    assert!(
        m["stats"]["hits"].as_u64().unwrap() >= 1 && m["stats"]["misses"].as_u64().unwrap() >= 1,
        "{m}"
    );
    if let Some(url) =
        phial_core::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await
    {
        let config = Config::testing()
            .set("cache.type", "tiered")
            .set("cache.urls", [url])
            .set("cache.key_prefix", prefix());
        let app = App::builder(config)
            .register(Caching::new())
            .route("/", get(hit))
            .build()
            .await
            .unwrap();
        let client = app.test_client();
        client.get("/").send().await;
        client.get("/").send().await;
        let m: serde_json::Value = client.get("/metrics/cache").send().await.json();
        assert_eq!(m["backend"], "tiered");
        assert!(
            m["backend_figures"]["l1_hits"].as_u64().unwrap() >= 1,
            "{m}"
        );
        app.state().get::<Cache>().unwrap().clear().await;
    }
}
