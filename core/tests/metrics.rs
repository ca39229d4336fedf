//! `/metrics`: requests counted by route pattern (never by path) and
//! status with latency buckets, extensions' collectors (a stuck one is
//! left out, not waited for), the token, production's default of not
//! serving it unprotected, and the separate listener.
//!
//! The recorder is the process's, shared by every test here: each test
//! reads its own routes' series before and after.

use std::process::ExitCode;

use phial_core::cli::Output;
use phial_core::routing::get;
use phial_core::{App, AppBuilder, AppState, Config, HttpError, Profile};

/// The value of `series` on the page, 0 when absent.
fn value(page: &str, series: &str) -> f64 {
    phial_core::testing::metric(page, series).unwrap_or(0.0)
}

async fn page(app: &App) -> String {
    let res = app.test_client().get("/metrics").send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    res.text()
}

async fn shop() -> App {
    shop_with(|b| b).await
}

async fn shop_with(more: impl FnOnce(&mut AppBuilder) -> &mut AppBuilder) -> App {
    let mut b = App::builder(Config::testing());
    more(&mut b);
    b.route(
        "/shop/items/{id}",
        get(|| async { "an item" }).name("shop_item"),
    )
    .route(
        "/shop/broken",
        get(|| async { Err::<&str, _>(HttpError::internal("the shelf fell")) }).name("shop_broken"),
    )
    .nest(
        "/shop/api",
        phial_core::axum::Router::new().route(
            "/stock/{sku}",
            phial_core::axum::routing::get(|| async { "3" }),
        ),
    )
    .metrics_collector(|_state: AppState| async {
        phial_core::metrics::gauge!("shop_shelves").set(7.0);
    })
    .build()
    .await
    .unwrap()
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_and_status_with_latency_buckets() {
    let app = shop().await;
    let client = app.test_client();
    let item = r#"phial_http_requests_total{method="GET",route="/shop/items/{id}",status="200"}"#;
    let broken = r#"phial_http_requests_total{method="GET",route="/shop/broken",status="500"}"#;
    let nested =
        r#"phial_http_requests_total{method="GET",route="/shop/api/stock/{sku}",status="200"}"#;
    let before = page(&app).await;
    for id in 1..=3 {
        assert_eq!(
            client
                .get(&format!("/shop/items/{id}"))
                .send()
                .await
                .status(),
            200
        );
    }
    assert_eq!(client.get("/shop/broken").send().await.status(), 500);
    assert_eq!(
        client.get("/shop/api/stock/ab-12").send().await.status(),
        200
    );
    let odd = phial_core::http::Method::from_bytes(b"BREW").unwrap();
    assert_eq!(
        client.request(odd, "/shop/items/1").send().await.status(),
        405
    );
    let after = page(&app).await;

    assert_eq!(value(&after, item) - value(&before, item), 3.0, "{after}");
    assert!(
        !after.contains("/shop/items/1\""),
        "a series per path: {after}"
    );
    assert_eq!(
        value(&after, broken) - value(&before, broken),
        1.0,
        "{after}"
    );
    assert_eq!(
        value(&after, nested) - value(&before, nested),
        1.0,
        "{after}"
    );
    assert!(
        after.contains(r#"method="OTHER",route="/shop/items/{id}",status="405""#),
        "a client's odd method is one label, not a series of its own: {after}"
    );
    let count = r#"phial_http_request_duration_seconds_count{method="GET",route="/shop/items/{id}",status="200"}"#;
    assert_eq!(value(&after, count) - value(&before, count), 3.0, "{after}");
    let inf = r#"phial_http_request_duration_seconds_bucket{method="GET",route="/shop/items/{id}",status="200",le="+Inf"}"#;
    assert_eq!(value(&after, inf), value(&after, count), "{after}");
    // A pattern, never a path: the page cannot grow with the paths asked.
    let unmatched = r#"phial_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    let before_404 = value(&page(&app).await, unmatched);
    for path in ["/a", "/b", "/c"] {
        assert_eq!(client.get(path).send().await.status(), 404);
    }
    let after = page(&app).await;
    assert_eq!(value(&after, unmatched) - before_404, 3.0, "{after}");
    assert!(!after.contains(r#"route="/a""#), "{after}");
    assert!(
        after.contains("# TYPE phial_http_request_duration_seconds histogram"),
        "{after}"
    );
}

#[tokio::test]
async fn collectors_add_figures_and_a_stuck_one_does_not_hold_the_page() {
    let app =
        shop_with(|b| b.metrics_collector(|_state: AppState| std::future::pending::<()>())).await;
    let started = std::time::Instant::now();
    let text = page(&app).await;
    assert_eq!(value(&text, "shop_shelves"), 7.0, "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the stuck collector was waited for"
    );
}

#[tokio::test]
async fn a_token_guards_the_page() {
    let app = App::builder(Config::testing().set("metrics.token", "scrape-me-0123456789"))
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    let res = client.get("/metrics").send().await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    assert!(
        res.text().contains("Authorization: Bearer"),
        "{}",
        res.text()
    );
    let res = client
        .get("/metrics")
        .header("authorization", "Bearer scrape-me-012345678")
        .send()
        .await;
    assert_eq!(res.status(), 401);
    let res = client
        .get("/metrics")
        .header("authorization", "Bearer scrape-me-0123456789")
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text().contains("phial_http_requests_total"),
        "{}",
        res.text()
    );
}

async fn deploy_check(config: Config) -> (ExitCode, String) {
    let (out, buf) = Output::buffer();
    let (err, err_buf) = Output::buffer();
    let factory = |config: Config| async move { Ok(App::builder(config).build().await?) };
    let code =
        phial_core::cli::run_with(factory, config, ["app", "check", "--deploy"], out, err).await;
    let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap()
        + &String::from_utf8(err_buf.lock().unwrap().clone()).unwrap();
    (code, text)
}

#[tokio::test]
async fn production_serves_the_page_only_behind_a_token_or_a_port_of_its_own() {
    let prod = || Config::for_profile(Profile::Production).set("secret_key", "k".repeat(48));
    let app = App::builder(prod()).build().await.unwrap();
    assert_eq!(app.test_client().get("/metrics").send().await.status(), 404);
    let (code, text) = deploy_check(prod()).await;
    assert_eq!(code, ExitCode::SUCCESS, "a warning, not an error: {text}");
    assert!(text.contains("WARNING metrics.token"), "{text}");
    assert!(text.contains("PHIAL_METRICS__TOKEN"), "{text}");

    let guarded = || prod().set("metrics.token", "t".repeat(40));
    let (_, text) = deploy_check(guarded()).await;
    assert!(!text.contains("metrics."), "{text}");
    let app = App::builder(guarded()).build().await.unwrap();
    let res = app
        .test_client()
        .get("/metrics")
        .header("authorization", &format!("Bearer {}", "t".repeat(40)))
        .send()
        .await;
    assert_eq!(res.status(), 200);

    let exposed = prod().set("metrics.bind", "0.0.0.0:9100");
    let (_, text) = deploy_check(exposed).await;
    assert!(text.contains("WARNING metrics.bind"), "{text}");
    assert!(!text.contains("WARNING metrics.token"), "{text}");
}

#[tokio::test]
async fn metrics_bind_serves_the_page_on_its_own_port_and_not_on_the_app() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let app = App::builder(Config::testing().set("metrics.bind", format!("127.0.0.1:{port}")))
        .route("/", get(|| async { "home" }))
        .build()
        .await
        .unwrap();
    assert_eq!(app.test_client().get("/metrics").send().await.status(), 404);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_with(listener, async move {
        let _ = stop_rx.await;
    }));
    let body = http_get(&format!("127.0.0.1:{port}"), "/metrics").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("# TYPE"), "{body}");
    let app_page = http_get(&app_addr.to_string(), "/metrics").await;
    assert!(app_page.starts_with("HTTP/1.1 404"), "{app_page}");
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the metrics port closes with the app"
    );
}

/// A plain HTTP/1.1 GET over a socket, retried while the listener comes up.
async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = None;
    for _ in 0..500 {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
    let mut stream = stream.unwrap_or_else(|| panic!("nothing listens on {addr}"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

/// A buffer the log subscriber writes to.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn production_logs_are_json_lines_that_name_their_request() {
    use phial_core::cli::{LogFormat, log_subscriber};
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = log_subscriber(LogFormat::Json, "info", move || writer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let app =
        App::builder(Config::for_profile(Profile::Production).set("secret_key", "k".repeat(48)))
            .route(
                "/work",
                get(|| async {
                    tracing::info!("working on it");
                    "done"
                }),
            )
            .route(
                "/fail",
                get(|| async { Err::<&str, _>(HttpError::internal("the disk is full")) }),
            )
            .build()
            .await
            .unwrap();
    let client = app.test_client();
    for (path, id) in [("/work", "log-work-1"), ("/fail", "log-fail-2")] {
        let res = client.get(path).header("x-request-id", id).send().await;
        assert_eq!(res.header("x-request-id"), Some(id));
    }
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let logged: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let line = |message: &str| {
        logged
            .iter()
            .find(|l| {
                l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(message))
            })
            .unwrap_or_else(|| panic!("no `{message}` line in:\n{text}"))
    };
    let work = line("working on it");
    assert_eq!(work["level"], "INFO");
    assert_eq!(work["request_id"], "log-work-1", "{work}");
    let failed = line("server error");
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(
        failed["request_id"], "log-fail-2",
        "the error page's line too: {failed}"
    );
    assert!(
        logged.iter().all(|l| l["request_id"].is_string()),
        "each line here was logged inside a request: {text}"
    );
}
