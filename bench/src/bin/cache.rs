//! Run with: `cargo run --release -p phial-bench --bin cache [N]`
//!
//! What Phial's cache costs over the stores it wraps, in one run:
//! a memory-backend hit and a tiered L1 hit vs a bare moka get; a Redis
//! hit (a tiered L2 hit) vs a raw redis GET on the same kind of
//! connection (when Redis is reachable; alternating rounds, medians); and an endpoint served from the
//! response cache vs the same endpoint rendering every time.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::time::{Duration, Instant};

use phial::cache::memory::{Capacity, Memory};
use phial::cache::redis::Redis;
use phial::cache::{Cache, Caching, cached};
use phial::prelude::*;
use tower::ServiceExt;

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct Post {
    id: u32,
    title: String,
    tags: Vec<String>,
}

fn post() -> Post {
    Post {
        id: 7,
        title: "A post title of ordinary length".into(),
        tags: vec!["rust".into(), "web".into()],
    }
}

/// Rounds of the Redis comparison.
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn per_op<F: AsyncFnMut()>(n: u32, mut f: F) -> f64 {
    for _ in 0..n / 10 {
        f().await;
    }
    let start = Instant::now();
    for _ in 0..n {
        f().await;
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// A page that takes some work to render: 200 rows through a template.
async fn page(tpl: Templates) -> Result<Html<String>, HttpError> {
    let rows: Vec<u32> = (0..200).collect();
    tpl.render_string("list.html", context! { rows }).map(Html)
}

async fn endpoint_ns(app: &App, path: &'static str, n: u32) -> f64 {
    let svc = app.service();
    per_op(n, async || {
        let req = http::Request::get(http::Uri::from_static(path))
            .body(axum::body::Body::empty())
            .unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        std::hint::black_box(res);
    })
    .await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "operation", "phial ns", "baseline ns", "ratio"
    );
    let row = |name: &str, phial: f64, base: f64| {
        println!(
            "{name:<44} {phial:>12.0} {base:>12.0} {:>8.2}",
            phial / base
        )
    };

    // L1: a memory-backend hit vs a bare moka get of the same bytes.
    let cache = Cache::new(Memory::new(Capacity::Entries(10_000), None), "b:", None);
    cache.set("post", &post(), None).await;
    let moka: moka::future::Cache<String, bytes::Bytes> = moka::future::Cache::new(10_000);
    moka.insert(
        "b:post".into(),
        bytes::Bytes::from(rmp_serde::to_vec_named(&post()).unwrap()),
    )
    .await;
    let phial = per_op(n, async || {
        std::hint::black_box(cache.get::<Post>("post").await.unwrap());
    })
    .await;
    let bare = per_op(n, async || {
        let raw = moka.get("b:post").await.unwrap();
        std::hint::black_box(rmp_serde::from_slice::<Post>(&raw).unwrap());
    })
    .await;
    row(
        "memory hit (decode included) vs moka get+decode",
        phial,
        bare,
    );

    // L2: a Redis-backend hit vs a raw GET through a connection manager.
    if let Some(url) =
        phial::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    {
        let rn = (n / 20).max(1000);
        let cache = Cache::new(
            Redis::new(&url, Duration::from_secs(1)).unwrap(),
            "phial-bench:",
            None,
        );
        cache.set("post", &post(), None).await;
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = redis::aio::ConnectionManager::new(client).await.unwrap();
        // Alternating rounds: a Redis round trip drifts more between
        // seconds than the difference measured here.
        let (mut phials, mut raws, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let phial = per_op(rn, async || {
                std::hint::black_box(cache.get::<Post>("post").await.unwrap());
            })
            .await;
            let raw = per_op(rn, async || {
                let v: Vec<u8> = redis::cmd("GET")
                    .arg("phial-bench:post")
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                std::hint::black_box(rmp_serde::from_slice::<serde::de::IgnoredAny>(&v).ok());
            })
            .await;
            phials.push(phial);
            raws.push(raw);
            ratios.push(phial / raw);
        }
        let (phial, raw) = (median(phials), median(raws));
        println!(
            "  (redis: median of {ROUNDS} alternating rounds; median ratio {:.3})",
            median(ratios)
        );
        row("redis hit vs raw GET (same server)", phial, raw);
        cache.clear().await;

        // The tiered backend's in-process tier vs a bare moka get.
        let l2 = Redis::new(&url, Duration::from_secs(1)).unwrap();
        let tiered = phial::cache::tiered::Tiered::new(
            l2,
            Capacity::Entries(10_000),
            Duration::from_secs(60),
            "phial-bench:invalidate",
        );
        let mut subscription = tiered.subscription();
        subscription.live().await;
        let cache = Cache::new(tiered, "phial-bench:", None);
        cache.set("post", &post(), None).await;
        let l1 = per_op(n, async || {
            std::hint::black_box(cache.get::<Post>("post").await.unwrap());
        })
        .await;
        row("tiered L1 hit vs moka get+decode", l1, bare);
        cache.clear().await;
    }

    // A rendered page from the response cache vs rendering it each time.
    let app =
        App::builder(Config::for_profile(Profile::Production).set("secret_key", "b".repeat(48)))
            .register(Caching::new())
            .template_source(
                "list.html",
                "<ul>{% for r in rows %}<li>row {{ r }}</li>{% endfor %}</ul>",
            )
            .route("/cached", get(cached(Duration::from_secs(300), page)))
            .route("/uncached", get(page))
            .route(
                "/cached-tagged",
                get(cached(Duration::from_secs(300), fixed_page)
                    .tag("post")
                    .tag("author")),
            )
            .route("/fixed", get(fixed_page))
            .build()
            .await
            .unwrap();
    let en = (n / 10).max(1000);
    let hit = endpoint_ns(&app, "/cached", en).await;
    let render = endpoint_ns(&app, "/uncached", en).await;
    row("cached endpoint vs the same endpoint uncached", hit, render);
    // What a hit costs over a handler that returns the page at once: the
    // key, the lookup, the tags' versions, decoding, the headers.
    let tagged = endpoint_ns(&app, "/cached-tagged", en).await;
    let fixed = endpoint_ns(&app, "/fixed", en).await;
    row("cached hit (2 tags, 2.5 KB) vs a fixed page", tagged, fixed);
}

/// A page of the size of the blog's 12-row list, returned as is.
async fn fixed_page() -> Html<&'static str> {
    static PAGE: std::sync::LazyLock<&'static str> = std::sync::LazyLock::new(|| {
        let row = "<tr><td>12</td><td><a href=\"/posts/12\">Post number 12: notes</a></td><td>Ada</td><td>2026-01-01 11:00</td></tr>\n";
        Box::leak(format!("<!doctype html><table>{}</table>", row.repeat(24)).into_boxed_str())
    });
    Html(*PAGE)
}
