//! Consistency across two blog nodes on the tiered cache (moka in front of
//! Redis), tried from outside by cutting and freezing their connections
//! to Redis with `TcpProxy`:
//! - a node cut off from Redis while it still reaches the database does
//!   not acknowledge a write it cannot invalidate: 503, nothing saved (the
//!   control: the same write succeeds before the cut and after Redis is
//!   back, and the other node reads it);
//! - a client that wrote reads its write on the other node at once, even
//!   while that node still trusts a memory that has not heard the write
//!   (the control: a client without the mark reads the old value there).

use std::time::{Duration, Instant};

use phial::App;
use phial::testing::{TcpProxy, TestClient, service_url, url_addr, url_via};
use serde_json::{Value, json};

mod common;
use common::TOKEN;

/// Two nodes on one SQLite file and one Redis; each reaches Redis through
/// the URL given, and `bound_ms` is each one's coherence bound.
struct Nodes {
    dir: tempfile::TempDir,
    a: App,
    b: App,
}

async fn nodes(redis: (&str, &str), bound_ms: (u64, u64)) -> Nodes {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!(
        "consistency-{}-{}:",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let node = |url: &str, bound: u64| {
        let (url, prefix) = (url.to_owned(), prefix.clone());
        common::blog_app(&dir, move |c| {
            c.set("cache.type", "tiered")
                .set("cache.urls", [url])
                .set("cache.key_prefix", prefix)
                .set("cache.timeout_ms", 200)
                .set("cache.coherence_ms", bound)
        })
    };
    let a = node(redis.0, bound_ms.0).await;
    let b = node(redis.1, bound_ms.1).await;
    Nodes { dir, a, b }
}

impl Nodes {
    /// What the database holds, read by a node without a cache.
    async fn title_in_database(&self, id: i64) -> String {
        let plain = common::blog_app(&self.dir, |c| c.set("cache.type", "null")).await;
        let post: Value = plain
            .test_client()
            .get(&format!("/api/posts/{id}"))
            .send()
            .await
            .json();
        post["title"].as_str().unwrap().to_owned()
    }
}

async fn title(http: &TestClient, id: i64, mark: Option<&str>) -> String {
    let mut req = http.get(&format!("/api/posts/{id}"));
    if let Some(mark) = mark {
        req = req.header("phial-wrote", mark);
    }
    let res = req.send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json::<Value>()["title"].as_str().unwrap().to_owned()
}

async fn rename(app: &App, id: i64, to: &str) -> phial::testing::TestResponse {
    app.test_client()
        .patch(&format!("/api/posts/{id}"))
        .header("authorization", &format!("Bearer {TOKEN}"))
        .json(&json!({"title": to}))
        .send()
        .await
}

/// Polls until `check` holds, up to `within`.
async fn within(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// A proxy to Redis the test can cut or freeze: it, the URL through it,
/// and Redis's address (to start it again on the same port).
async fn proxied(redis: &str) -> (TcpProxy, String, std::net::SocketAddr) {
    let target = url_addr(redis).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let through = url_via(redis, proxy.addr());
    (proxy, through, target)
}

#[tokio::test]
async fn a_node_cut_off_from_redis_refuses_writes_it_cannot_invalidate() {
    let Some(redis) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let (proxy, through, target) = proxied(&redis).await;
    let nodes = nodes((&through, &redis), (250, 250)).await;
    let (id, _) = common::seed(&nodes.a, TOKEN).await;
    let reader = nodes.b.test_client();
    assert_eq!(title(&reader, id, None).await, "t");
    assert_eq!(title(&reader, id, None).await, "t", "now cached on b");

    // The control: a write on a, read on b within the bound.
    assert_eq!(rename(&nodes.a, id, "v1").await.status(), 200);
    assert!(
        within(Duration::from_secs(2), async || title(&reader, id, None)
            .await
            == "v1")
        .await,
        "b read the write"
    );

    // a loses Redis, not the database.
    let addr = proxy.addr();
    proxy.cut().await;
    let refused = rename(&nodes.a, id, "v2").await;
    assert_eq!(refused.status(), 503, "{}", refused.text());
    assert!(
        refused.text().contains("nothing was saved"),
        "the client is told: {}",
        refused.text()
    );
    assert_eq!(nodes.title_in_database(id).await, "v1", "nothing was saved");
    assert_eq!(title(&reader, id, None).await, "v1");
    // A comment through the page's form: refused the same way.
    let form = common::submit(
        &nodes.a.test_client(),
        &format!("/posts/{id}"),
        &format!("/posts/{id}/comments"),
        &[("author_name", "Eve"), ("body", "cut off")],
    )
    .await;
    assert_eq!(form.status(), 503, "{}", form.text());

    // Redis is back: a's writes are acknowledged again, and b reads them.
    let _proxy = TcpProxy::start(addr, target).await.unwrap();
    assert!(
        within(Duration::from_secs(10), async || {
            // A refused attempt saved nothing: retrying is safe.
            rename(&nodes.a, id, "v3").await.status() == 200
        })
        .await,
        "a writes again once Redis answers"
    );
    assert!(
        within(Duration::from_secs(2), async || title(&reader, id, None)
            .await
            == "v3")
        .await,
        "b read the write made after the outage"
    );
}

#[tokio::test]
async fn a_client_that_wrote_reads_its_write_on_another_node_at_once() {
    let Some(redis) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let (proxy, through, _) = proxied(&redis).await;
    // b trusts its memory for 5 s after it last heard the channel: long
    // enough that the window is there to see.
    let nodes = nodes((&redis, &through), (250, 5_000)).await;
    let b_metrics = nodes.b.test_client();
    assert!(
        within(Duration::from_secs(5), async || {
            let m: Value = b_metrics.get("/metrics/cache").send().await.json();
            m["backend_figures"]["coherent"] == true
        })
        .await,
        "b trusts its memory"
    );
    let (id, _) = common::seed(&nodes.a, TOKEN).await;
    let reader = nodes.b.test_client();
    assert_eq!(title(&reader, id, None).await, "t");
    let index = reader.get("/").send().await.text();
    assert!(index.contains(">t<"), "the index lists the post: {index}");

    // b hears nothing from now on, and does not know it yet.
    proxy.freeze();
    let wrote = rename(&nodes.a, id, "mine").await;
    assert_eq!(wrote.status(), 200, "{}", wrote.text());
    let mark = wrote
        .header("phial-wrote")
        .expect("a writing client gets its mark")
        .to_owned();
    let cookie = wrote
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("phial_wrote="))
        .expect("and its cookie")
        .to_owned();

    // The control: another client reads b's memory, which missed it.
    assert_eq!(
        title(&reader, id, None).await,
        "t",
        "the window read-your-writes closes"
    );
    // A mark the client made up (the time without its signature) is no
    // mark: a client cannot buy uncached reads without writing.
    let forged = mark.split('.').next().unwrap().to_owned();
    assert_eq!(
        title(&nodes.b.test_client(), id, Some(&forged)).await,
        "t",
        "an unsigned mark"
    );
    // The writer, through its header (an API client) ...
    assert_eq!(title(&nodes.b.test_client(), id, Some(&mark)).await, "mine");
    // ... and through its cookie (a browser), on a cached page too.
    let browser = nodes.b.test_client();
    let value = cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .unwrap()
        .1;
    browser.set_cookie("phial_wrote", value);
    assert_eq!(title(&browser, id, None).await, "mine");
    let index = browser.get("/").send().await.text();
    assert!(index.contains(">mine<"), "the writer's index: {index}");
}
