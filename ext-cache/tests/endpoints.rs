//! The cache on the app's endpoints: `/readyz` pings the backend and
//! reports a failure as `degraded` with the reason (the app serves without
//! its cache), and `/metrics/cache` is not published in production unless
//! a path is configured.

mod common;

use phial_cache::Caching;
use phial_core::testing::{TcpProxy, url_addr, url_via};
use phial_core::{App, Config, Profile};

#[tokio::test]
async fn readyz_says_degraded_while_redis_is_cut_and_ok_when_it_answers() {
    let Some(url) = common::redis_url().await else {
        return;
    };
    let target = url_addr(&url).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let port = proxy.addr();
    let config = Config::testing()
        .set("cache.type", "redis")
        .set("cache.urls", [url_via(&url, port)])
        .set("cache.timeout_ms", 200);
    let app = App::builder(config)
        .register(Caching::new())
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    let up = client.get("/readyz").send().await;
    assert_eq!(up.status(), 200);
    let body: serde_json::Value = up.json();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["checks"]["cache"]["status"], "ok", "{body}");

    proxy.cut().await;
    let down = client.get("/readyz").send().await;
    assert_eq!(down.status(), 200, "the app serves without its cache");
    let body: serde_json::Value = down.json();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["cache"]["status"], "degraded", "{body}");
    assert!(
        body["checks"]["cache"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("redis")),
        "{body}"
    );

    let proxy = TcpProxy::start(port, target).await.unwrap();
    let recovered = common::eventually(std::time::Duration::from_secs(5), async || {
        let body: serde_json::Value = client.get("/readyz").send().await.json();
        body["status"] == "ok"
    })
    .await;
    assert!(recovered, "ok again once Redis answers");
    proxy.cut().await;
}

fn production() -> Config {
    Config::for_profile(Profile::Production).set("secret_key", "p".repeat(40))
}

async fn metrics_status(config: Config) -> u16 {
    let app = App::builder(config)
        .register(Caching::new())
        .build()
        .await
        .unwrap();
    app.test_client()
        .get("/metrics/cache")
        .send()
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn cache_metrics_are_not_public_in_production_by_default() {
    assert_eq!(metrics_status(production()).await, 404);
    assert_eq!(
        metrics_status(production().set("cache.metrics_path", "/metrics/cache")).await,
        200,
        "published when asked for"
    );
    assert_eq!(metrics_status(Config::testing()).await, 200);
    assert_eq!(
        metrics_status(Config::testing().set("cache.metrics_path", "")).await,
        404
    );
}
