//! Built without the `redis` feature (the facade's `cache` without
//! `cache-redis`), a config that asks for a shared backend stops the app
//! at startup with the feature to turn on, instead of silently caching in
//! memory on each node. CI runs it with
//! `cargo test -p phial-cache --no-default-features --test without_redis`.
#![cfg(not(feature = "redis"))]

use phial_cache::{Cache, Caching};
use phial_core::{App, Config};

#[tokio::test]
async fn a_shared_backend_without_the_feature_names_the_feature() {
    for kind in ["redis", "redis-cluster", "tiered"] {
        let config = Config::testing().set("cache.type", kind);
        let err = App::builder(config)
            .register(Caching::new())
            .build()
            .await
            .expect_err("a shared backend needs the feature")
            .to_string();
        assert!(err.contains(&format!("cache.type = \"{kind}\"")), "{err}");
        assert!(err.contains("cache-redis"), "{err}");
    }
}

#[tokio::test]
async fn memory_works_without_the_feature() {
    let app = App::builder(Config::testing().set("cache.type", "memory"))
        .register(Caching::new())
        .build()
        .await
        .unwrap();
    let cache = app.state().get::<Cache>().unwrap().clone();
    cache.set("k", &7u32, None).await;
    assert_eq!(cache.get::<u32>("k").await, Some(7));
}
