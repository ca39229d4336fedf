//! With the cache registered, reads are kept with their ETags: a matching
//! `If-None-Match` is a 304 without a query (counted from the database
//! driver's own statement log), and writes — through the API or any other
//! way that publishes to the change feed — drop exactly what they made
//! stale. In memory and on Redis.

#![cfg(feature = "cache")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{SERIAL, api, bearer};
use http::StatusCode;
use phial_cache::Caching;
use phial_core::changes::Change;
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

/// Statements the database driver ran (its `sqlx::query` log events).
static QUERIES: AtomicUsize = AtomicUsize::new(0);

struct CountQueries;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountQueries {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target().starts_with("sqlx::query") {
            QUERIES.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn count_queries() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(CountQueries);
        tracing::subscriber::set_global_default(subscriber)
            .expect("one subscriber per test binary");
    });
}

/// Runs `f` and returns what it gave and how many statements ran meanwhile.
async fn queries<T>(f: impl AsyncFnOnce() -> T) -> (T, usize) {
    let before = QUERIES.load(Ordering::SeqCst);
    let out = f().await;
    (out, QUERIES.load(Ordering::SeqCst) - before)
}

async fn backends() -> Vec<(&'static str, Option<String>)> {
    let mut out = vec![("memory", None)];
    if let Some(url) =
        phial_core::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await
    {
        out.push(("redis", Some(url)));
    }
    out
}

/// The API's app again with the cache registered (`api()` registers the
/// Orm and Rest), an author created through it, and its URL.
async fn with_cache_and_ada(api: &common::Api) -> (phial_core::App, Value, String) {
    let app = phial_core::App::builder(api.app.state().config().clone())
        .root_path(api.app.state().instance_path().parent().unwrap())
        .register(phial_orm::Orm::new())
        .register(Caching::new())
        .register(common::rest())
        .build()
        .await
        .unwrap();
    let ada: Value = app
        .test_client()
        .post("/api/authors")
        .header("authorization", &bearer())
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .json();
    let url = format!("/api/authors/{}", ada["id"]);
    (app, ada, url)
}

#[tokio::test]
async fn etags_are_answered_from_the_cache_until_a_write_makes_them_stale() {
    count_queries();
    let _serial = SERIAL.lock().await;
    for (backend, redis) in backends().await {
        let prefix = format!("rest-test-{}:", std::process::id());
        let api = api("SQLite", &None, |c| {
            let c = c
                .set("database.log_statements", true)
                .set("cache.key_prefix", prefix.as_str());
            match &redis {
                Some(url) => c
                    .set("cache.type", "redis")
                    .set("cache.urls", vec![url.clone()]),
                None => c,
            }
        })
        .await;
        let (app, ada, url) = with_cache_and_ada(&api).await;
        let client = app.test_client();

        let (first, n) = queries(async || client.get(&url).send().await).await;
        assert_eq!(first.status(), StatusCode::OK, "{backend}");
        assert!(n > 0, "{backend}: the first read queries");
        let tag = first.header("etag").unwrap().to_owned();

        let (again, n) =
            queries(async || client.get(&url).header("if-none-match", &tag).send().await).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{backend}");
        assert_eq!(
            n, 0,
            "{backend}: a matching ETag is answered without a query"
        );
        let (body, n) = queries(async || client.get(&url).send().await).await;
        assert_eq!((body.status(), n), (StatusCode::OK, 0), "{backend}");
        assert_eq!(body.json::<Value>(), ada);
        // Another spelling of the same key is the same entry.
        let (_, n) = queries(async || {
            client
                .get(&format!("/api/authors/0{}", ada["id"]))
                .send()
                .await
        })
        .await;
        assert_eq!(n, 0, "{backend}");

        // A write through the API: the old tag no longer matches.
        client
            .patch(&url)
            .header("authorization", &bearer())
            .json(&json!({"name": "Ada L."}))
            .send()
            .await;
        let (after, n) =
            queries(async || client.get(&url).header("if-none-match", &tag).send().await).await;
        assert_eq!(after.status(), StatusCode::OK, "{backend}");
        assert_eq!(after.json::<Value>()["name"], "Ada L.");
        assert!(n > 0, "{backend}");

        // A write some other way, announced without keys: every row is stale.
        let db = phial_orm::Db::from_state(app.state()).unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(
            db.conn(),
            "UPDATE rest_test_author SET name = 'Renamed'",
        )
        .await
        .unwrap();
        let (cached, _) = queries(async || client.get(&url).send().await).await;
        assert_eq!(
            cached.json::<Value>()["name"],
            "Ada L.",
            "{backend}: not announced yet"
        );
        db.publish(Change::update("rest_test_author", [])).await;
        let fresh: Value = client.get(&url).send().await.json();
        assert_eq!(fresh["name"], "Renamed", "{backend}");

        // Lists: kept per query string, dropped by any write to the table.
        let (list, _) = queries(async || client.get("/api/authors?sort=name").send().await).await;
        let list_tag = list.header("etag").unwrap().to_owned();
        let (same, n) = queries(async || {
            client
                .get("/api/authors?sort=name")
                .header("if-none-match", &list_tag)
                .send()
                .await
        })
        .await;
        assert_eq!(
            (same.status(), n),
            (StatusCode::NOT_MODIFIED, 0),
            "{backend}"
        );
        client
            .post("/api/authors")
            .header("authorization", &bearer())
            .json(&json!({"name": "Grace", "email": "grace@example.com"}))
            .send()
            .await;
        let grown = client
            .get("/api/authors?sort=name")
            .header("if-none-match", &list_tag)
            .send()
            .await;
        assert_eq!(grown.status(), StatusCode::OK, "{backend}");
        assert_eq!(grown.json::<Value>()["total"], 2);

        // Rows narrowed by caller are kept per caller: a signed-in reader's
        // drafts never reach an anonymous one.
        client
            .post("/api/posts")
            .header("authorization", &bearer())
            .json(&json!({"author_id": ada["id"], "title": "draft", "body": "b"}))
            .send()
            .await;
        let signed_in: Value = client
            .get("/api/posts")
            .header("authorization", &bearer())
            .send()
            .await
            .json();
        assert_eq!(signed_in["total"], 1, "{backend}");
        let anonymous: Value = client.get("/api/posts").send().await.json();
        assert_eq!(anonymous["total"], 0, "{backend}");
        let draft = client.get("/api/posts/1").send().await;
        assert_eq!(draft.status(), StatusCode::NOT_FOUND, "{backend}");

        app.shutdown().await;
        api.app.shutdown().await;
    }
}

/// `rest.cache = false`: with the cache registered for other things, every
/// read queries, so a write the change feed never saw (another program's)
/// shows at once.
#[tokio::test]
async fn with_rest_cache_off_reads_see_writes_made_behind_the_apps_back() {
    count_queries();
    let _serial = SERIAL.lock().await;
    let api = api("SQLite", &None, |c| {
        c.set("database.log_statements", true)
            .set("rest.cache", false)
    })
    .await;
    let (app, _, url) = with_cache_and_ada(&api).await;
    let client = app.test_client();
    for _ in 0..2 {
        let (read, n) = queries(async || client.get(&url).send().await).await;
        assert_eq!(read.status(), StatusCode::OK);
        assert!(n > 0, "every read queries with rest.cache off");
        let (list, n) = queries(async || client.get("/api/authors").send().await).await;
        assert_eq!(list.json::<Value>()["total"], 1);
        assert!(n > 0, "every list queries with rest.cache off");
    }
    let db = phial_orm::Db::from_state(app.state()).unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        db.conn(),
        "UPDATE rest_test_author SET name = 'Renamed'",
    )
    .await
    .unwrap();
    let fresh: Value = client.get(&url).send().await.json();
    assert_eq!(fresh["name"], "Renamed", "no announcement needed");
    app.shutdown().await;
    api.app.shutdown().await;
}
