//! The blog's `/metrics`: every extension adds its figures to the core's
//! request series: the database pool and query times, the cache's hits
//! and misses, Socket.IO connections and rooms, the migrations applied.

use phial::socket::testing::SocketClient;
use phial::testing::metric as value;
use phial::{App, Config};
use serde_json::json;

mod common;
use common::TOKEN;

async fn scrape(app: &App) -> String {
    let res = app.test_client().get("/metrics").send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    res.text()
}

#[tokio::test]
async fn every_extension_reports_on_the_metrics_page() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    let config = Config::testing()
        .set("database.url", url)
        .set("database.max_connections", 7)
        .set("blog.api_token", TOKEN);
    let app = blog::create_app(config).await.expect("the blog builds");
    let (post, _draft) = common::seed(&app, TOKEN).await;
    let http = app.test_client();
    for _ in 0..2 {
        assert_eq!(http.get("/").send().await.status(), 200);
    }
    assert_eq!(
        http.get(&format!("/posts/{post}")).send().await.status(),
        200
    );
    let reader = SocketClient::connect(&http, "/live").await.unwrap();
    let joined: serde_json::Value = reader
        .emit_with_ack("join", &json!({"post_id": post}))
        .await
        .unwrap();
    assert_eq!(joined, json!({"ok": true, "complete": true}));

    let page = scrape(&app).await;
    let get =
        |series: &str| value(&page, series).unwrap_or_else(|| panic!("no {series} in:\n{page}"));
    assert!(get(r#"phial_http_requests_total{method="GET",route="/",status="200"}"#) >= 2.0);
    assert!(
        get(r#"phial_http_requests_total{method="GET",route="/posts/{id}",status="200"}"#) >= 1.0
    );
    assert!(
        get(r#"phial_http_requests_total{method="POST",route="/api/posts",status="201"}"#) >= 2.0
    );
    assert_eq!(
        get(r#"phial_db_pool_max_connections{database="default"}"#),
        7.0
    );
    let idle = get(r#"phial_db_pool_connections{database="default",state="idle"}"#);
    let in_use = get(r#"phial_db_pool_connections{database="default",state="in_use"}"#);
    assert!((1.0..=7.0).contains(&(idle + in_use)), "{page}");
    assert!(get(r#"phial_db_query_duration_seconds_count{database="default",outcome="ok"}"#) > 0.0);
    assert!(get(r#"phial_cache_hits_total{backend="memory",tier="memory"}"#) >= 1.0);
    assert!(get(r#"phial_cache_misses_total{backend="memory"}"#) >= 1.0);
    assert_eq!(get(r#"phial_socket_connections{namespace="/live"}"#), 1.0);
    assert!(get(r#"phial_socket_rooms{namespace="/live"}"#) >= 1.0);
    assert!(get(r#"phial_migrations{state="applied"}"#) >= 1.0);
    assert_eq!(get(r#"phial_migrations{state="pending"}"#), 0.0);
    assert!(
        page.contains("# HELP phial_db_query_duration_seconds"),
        "{page}"
    );

    // Read at each scrape, not counted once: the reader leaving shows.
    reader.disconnect().await;
    let mut left = false;
    for _ in 0..200 {
        let page = scrape(&app).await;
        if value(&page, r#"phial_socket_connections{namespace="/live"}"#) == Some(0.0) {
            left = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(left, "the gauge still counts a reader that left");
}
