//! The blog in a real browser (headless Chromium over WebDriver): a post's
//! page loads the Socket.IO client the app serves, follows its post, and
//! shows a comment written through the API without a reload — the CSP,
//! the served client, the origin check and the Redis-free local adapter
//! together, as a reader sees them.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use phial::testing::tool;
use serde_json::{Value, json};

mod common;

const TOKEN: &str = "blog-browser-token";

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: tokio::process::Child,
    url: String,
}

async fn chromedriver() -> Option<(Driver, std::path::PathBuf)> {
    let driver = tool("chromedriver")?;
    let browser = tool("chromium")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = tokio::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some((
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        },
        browser,
    ))
}

#[tokio::test]
async fn a_post_page_shows_new_comments_live() {
    let Some((mut driver, browser)) = chromedriver().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    let app = blog::create_app(
        phial::Config::testing()
            .set("database.url", db)
            .set("blog.api_token", TOKEN),
    )
    .await
    .unwrap();
    let http = app.test_client();
    let auth = format!("Bearer {TOKEN}");
    let (post_id, _draft) = common::seed(&app, TOKEN).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.clone().serve_with(listener, async move {
        let _ = stopped.await;
    }));

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-dev-shm-usage"],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session");
    let result = async {
        client.goto(&format!("{base}/posts/{}", post_id)).await?;
        // The page joined its post's room over /live.
        client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(r#"#comments[data-live="on"]"#))
            .await?;
        let res = http
            .post("/api/comments")
            .header("authorization", &auth)
            .json(&json!({"post_id": post_id, "author_name": "Bob", "body": "hello, live"}))
            .send()
            .await;
        assert_eq!(res.status(), 201, "{}", res.text());
        let id = res.json::<Value>()["id"].clone();
        let shown = client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Id(&format!("comment-{id}")))
            .await?;
        assert_eq!(shown.text().await?, "Bob: hello, live");
        assert_eq!(
            client
                .find(Locator::Id("comment-count"))
                .await?
                .text()
                .await?,
            "1"
        );
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = client.close().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let _ = driver.child.kill().await;
    result.expect("the page updated live");
}
