//! Apps are kept apart by name: the cache's default key prefix (and the
//! tiered backend's channel) is `<name>:`, from the core key `name` or the
//! binary's name, so two apps on one Redis never share keys, tags or
//! `clear()`; an explicit `cache.key_prefix` wins, and `check --deploy`
//! warns when a shared backend runs without one.

mod common;

use phial_cache::{Cache, Caching};
use phial_core::{App, Config, Profile};

async fn cache_of(config: Config) -> Cache {
    let app = App::builder(config)
        .register(Caching::new())
        .build()
        .await
        .unwrap();
    app.state().get::<Cache>().unwrap().clone()
}

fn on_redis(url: &str) -> Config {
    Config::testing()
        .set("cache.type", "redis")
        .set("cache.urls", [url])
        .set("cache.default_ttl_secs", 120)
}

#[tokio::test]
async fn two_apps_with_different_names_on_one_redis_keep_apart() {
    let Some(url) = common::redis_url().await else {
        return;
    };
    let pid = std::process::id();
    let a = cache_of(on_redis(&url).set("name", format!("phial-test-a-{pid}"))).await;
    let b = cache_of(on_redis(&url).set("name", format!("phial-test-b-{pid}"))).await;
    assert_eq!(a.prefix(), format!("phial-test-a-{pid}:"));

    a.set("k", &1u8, None).await;
    b.set("k", &2u8, None).await;
    assert_eq!(a.get::<u8>("k").await, Some(1));
    assert_eq!(b.get::<u8>("k").await, Some(2));

    a.set_tagged("list", &1u8, None, &["post"]).await;
    b.set_tagged("list", &2u8, None, &["post"]).await;
    a.invalidate_tag("post").await;
    assert_eq!(a.get::<u8>("list").await, None);
    assert_eq!(b.get::<u8>("list").await, Some(2), "tags are per app");

    a.clear().await;
    assert_eq!(a.get::<u8>("k").await, None);
    assert_eq!(b.get::<u8>("k").await, Some(2), "a's clear left b's keys");
    b.clear().await;
}

#[tokio::test]
async fn the_prefix_comes_from_the_name_unless_one_is_given() {
    let unnamed = cache_of(Config::testing()).await;
    let exe = std::env::current_exe().unwrap();
    let stem = exe.file_stem().unwrap().to_string_lossy();
    assert_eq!(unnamed.prefix(), format!("{stem}:"), "the binary's name");
    let explicit = cache_of(
        Config::testing()
            .set("name", "blog")
            .set("cache.key_prefix", "shared:"),
    )
    .await;
    assert_eq!(explicit.prefix(), "shared:");
}

async fn deploy_report(config: Config) -> String {
    let app = App::builder(config)
        .register(Caching::new())
        .build()
        .await
        .unwrap();
    let (out, buf) = phial_core::cli::Output::buffer();
    app.run_cli(["app", "check", "--deploy"], out)
        .await
        .unwrap();
    String::from_utf8(buf.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn a_shared_backend_without_a_key_prefix_is_a_deploy_warning() {
    let url = common::closed_port_url().await;
    let production = || {
        Config::for_profile(Profile::Production)
            .set("secret_key", "p".repeat(40))
            .set("name", "blog")
    };
    for kind in ["redis", "redis-cluster", "tiered"] {
        let shared = || {
            production()
                .set("cache.type", kind)
                .set("cache.urls", [&url])
        };
        let report = deploy_report(shared()).await;
        assert!(
            report.contains("WARNING cache: cache.key_prefix: not set")
                && report.contains("`blog:`"),
            "{kind}: {report}"
        );
        let report = deploy_report(shared().set("cache.key_prefix", "blog-prod:")).await;
        assert!(!report.contains("cache.key_prefix"), "{kind}: {report}");
    }
    let report = deploy_report(production()).await;
    assert!(!report.contains("cache.key_prefix"), "memory: {report}");
}

#[tokio::test]
async fn a_route_taking_the_cache_without_caching_is_a_build_error() {
    async fn cached_count(cache: phial_cache::Cache) -> String {
        format!("{:?}", cache.incr("n", 1, None).await)
    }
    let err = phial_core::App::builder(phial_core::Config::testing())
        .route("/count", phial_core::routing::get(cached_count))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("route GET /count") && err.contains(".register(phial::cache::Caching::new())"),
        "{err}"
    );
}

#[tokio::test]
async fn a_cached_route_without_caching_is_a_build_error() {
    let err = phial_core::App::builder(phial_core::Config::testing())
        .route(
            "/page",
            phial_core::routing::get(phial_cache::cached(
                std::time::Duration::from_secs(60),
                || async { "page" },
            )),
        )
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("route GET /page") && err.contains("`cached(...)`"),
        "{err}"
    );
}
