//! The response cache: HIT/MISS, keys by path, query and chosen headers,
//! never a response that sets a cookie, reads the session or says
//! no-store, bypass on request, invalidation by tag from database writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use phial_cache::{Caching, cached};
use phial_core::changes::Change;
use phial_core::routing::get;
use phial_core::{App, Config, Dep, Session};

struct Calls {
    n: AtomicUsize,
}

async fn app() -> (App, Arc<Calls>) {
    let calls = Arc::new(Calls {
        n: AtomicUsize::new(0),
    });
    let ttl = Duration::from_secs(60);
    let app = App::builder(Config::testing())
        .register(Caching::new())
        .insert_arc(calls.clone())
        .route(
            "/posts",
            get(cached(ttl, |calls: Dep<Calls>| async move {
                let n = calls.n.fetch_add(1, Ordering::SeqCst) + 1;
                format!("render {n}")
            })
            .tag("post")
            .vary("accept-language")),
        )
        .route(
            "/me",
            get(cached(ttl, |session: Session| async move {
                let n: u32 = session.get("n").unwrap_or(0);
                format!("you {n}")
            })),
        )
        .route(
            "/cookie",
            get(cached(ttl, |calls: Dep<Calls>| async move {
                calls.n.fetch_add(1, Ordering::SeqCst);
                ([("set-cookie", "a=b")], "with cookie")
            })),
        )
        .route(
            "/private",
            get(cached(ttl, |calls: Dep<Calls>| async move {
                calls.n.fetch_add(1, Ordering::SeqCst);
                ([("cache-control", "no-store")], "secret")
            })),
        )
        .build()
        .await
        .unwrap();
    (app, calls)
}

#[tokio::test]
async fn hits_after_the_first_miss_per_path_query_and_vary_header() {
    let (app, calls) = app().await;
    let client = app.test_client();
    let first = client.get("/posts").send().await;
    assert_eq!(
        (first.header("x-cache"), first.text()),
        (Some("MISS"), "render 1".to_owned())
    );
    let second = client.get("/posts").send().await;
    assert_eq!(
        (second.header("x-cache"), second.text()),
        (Some("HIT"), "render 1".to_owned())
    );
    assert!(
        second
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        second.header("x-content-type-options").is_some(),
        "core headers still apply"
    );
    assert_eq!(
        client.get("/posts?page=2").send().await.header("x-cache"),
        Some("MISS")
    );
    assert_eq!(
        client
            .get("/posts")
            .header("accept-language", "fr")
            .send()
            .await
            .header("x-cache"),
        Some("MISS")
    );
    let bypass = client
        .get("/posts")
        .header("cache-control", "no-cache")
        .send()
        .await;
    assert_eq!(bypass.text(), "render 4");
    assert_eq!(calls.n.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn writes_to_the_tagged_table_drop_the_cached_response() {
    let (app, _) = app().await;
    let client = app.test_client();
    client.get("/posts").send().await;
    assert_eq!(
        client.get("/posts").send().await.header("x-cache"),
        Some("HIT")
    );
    app.state()
        .changes()
        .publish(Change::insert("post", [serde_json::json!(9)]))
        .await;
    let after = client.get("/posts").send().await;
    assert_eq!(
        (after.header("x-cache"), after.text()),
        (Some("MISS"), "render 2".to_owned())
    );
}

/// A write that ends while a page renders from the rows before it: the
/// page goes to the client that asked before the write, and is never
/// served to one that asks after it (the tags' versions are read before
/// the page renders, not when it is stored).
#[tokio::test]
async fn a_page_rendered_before_a_write_is_not_served_after_it() {
    struct Rows {
        version: AtomicUsize,
        read: tokio::sync::Notify,
        go_on: tokio::sync::Notify,
    }
    let rows = Arc::new(Rows {
        version: AtomicUsize::new(1),
        read: tokio::sync::Notify::new(),
        go_on: tokio::sync::Notify::new(),
    });
    let app = App::builder(Config::testing())
        .register(Caching::new())
        .insert_arc(rows.clone())
        .route(
            "/posts",
            get(
                cached(Duration::from_secs(60), |rows: Dep<Rows>| async move {
                    let seen = rows.version.load(Ordering::SeqCst);
                    if seen == 1 {
                        // The rows are read; the page is still rendering.
                        rows.read.notify_one();
                        rows.go_on.notified().await;
                    }
                    format!("version {seen}")
                })
                .tag("post"),
            ),
        )
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.get("/posts").send().await.text() }
    });
    rows.read.notified().await;
    // The write: the rows change and their tag is invalidated.
    rows.version.store(2, Ordering::SeqCst);
    app.state()
        .changes()
        .publish(Change::update("post", [serde_json::json!(1)]))
        .await;
    rows.go_on.notify_one();
    assert_eq!(slow.await.unwrap(), "version 1", "asked before the write");
    let after = client.get("/posts").send().await;
    assert_eq!(
        (after.header("x-cache"), after.text()),
        (Some("MISS"), "version 2".to_owned()),
        "the page rendered before the write was served after it"
    );
    // The control: the fresh page is cached.
    assert_eq!(
        client.get("/posts").send().await.header("x-cache"),
        Some("HIT")
    );
}

#[tokio::test]
async fn personal_responses_are_never_shared() {
    let (app, calls) = app().await;
    let client = app.test_client();
    for _ in 0..2 {
        assert_eq!(
            client.get("/me").send().await.header("x-cache"),
            Some("MISS"),
            "read the session"
        );
        assert_eq!(
            client.get("/cookie").send().await.header("x-cache"),
            Some("MISS"),
            "sets a cookie"
        );
        assert_eq!(
            client.get("/private").send().await.header("x-cache"),
            Some("MISS"),
            "no-store"
        );
    }
    assert_eq!(calls.n.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn the_same_path_on_two_hosts_is_two_entries() {
    let (app, calls) = app().await;
    let client = app.test_client();
    let on = |host: &'static str| client.get("/posts").header("host", host).send();
    assert_eq!(on("a.example").await.header("x-cache"), Some("MISS"));
    let other = on("b.example").await;
    assert_eq!(
        (other.header("x-cache"), other.text()),
        (Some("MISS"), "render 2".to_owned()),
        "another site's page is not served"
    );
    assert_eq!(on("a.example").await.header("x-cache"), Some("HIT"));
    assert_eq!(
        on("A.example").await.header("x-cache"),
        Some("HIT"),
        "hosts are case-insensitive"
    );
    assert_eq!(calls.n.load(Ordering::SeqCst), 2);
}

/// On Redis, changed from outside: a page whose tag version is evicted is
/// rendered again (never served stale), and an entry overwritten with
/// bytes that are not a kept response is a miss that renders the page
/// (never a panic or a 500).
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_lost_tag_version_or_a_foreign_entry_renders_the_page_again() {
    let Some(url) =
        phial_core::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await
    else {
        return;
    };
    let prefix = format!("phial-test-resp:{}:", std::process::id());
    let calls = Arc::new(Calls {
        n: AtomicUsize::new(0),
    });
    let config = Config::testing()
        .set("cache.type", "redis")
        .set("cache.urls", vec![url.clone()])
        .set("cache.key_prefix", prefix.as_str());
    let app = App::builder(config)
        .register(Caching::new())
        .insert_arc(calls.clone())
        .route(
            "/posts",
            get(
                cached(Duration::from_secs(60), |calls: Dep<Calls>| async move {
                    let n = calls.n.fetch_add(1, Ordering::SeqCst) + 1;
                    format!("render {n}")
                })
                .tag("post"),
            ),
        )
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    client.get("/posts").send().await;
    let hit = client.get("/posts").send().await;
    assert_eq!(
        (hit.header("x-cache"), hit.text()),
        (Some("HIT"), "render 1".to_owned())
    );

    // The tag's version evicted (as under memory pressure).
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}\u{1}tag:post"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let after = client.get("/posts").send().await;
    assert_eq!(
        (after.header("x-cache"), after.text()),
        (Some("MISS"), "render 2".to_owned())
    );

    // The entry replaced by something else's bytes.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}resp:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let _: () = redis::cmd("SET")
        .arg(&keys[0])
        .arg(&b"\x93\x01\x02\x03"[..])
        .query_async(&mut redis)
        .await
        .unwrap();
    let foreign = client.get("/posts").send().await;
    assert_eq!(foreign.status(), 200);
    assert_eq!(
        (foreign.header("x-cache"), foreign.text()),
        (Some("MISS"), "render 3".to_owned())
    );
    assert_eq!(
        client.get("/posts").send().await.header("x-cache"),
        Some("HIT"),
        "the page is kept again"
    );
    app.state()
        .get::<phial_cache::Cache>()
        .unwrap()
        .clear()
        .await;
}
