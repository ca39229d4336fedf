//! Headless Chromium over WebDriver for the browser tests: chromedriver on
//! a free port (stopped when dropped) and a session with the flags the
//! machine needs. `None` (a loud SKIPPED, or a failure under
//! `PHIAL_REQUIRE_SERVICES=1`) when the browser is not installed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use phial::testing::tool;
use serde_json::json;

/// chromedriver, killed with the test.
pub(crate) struct Driver {
    child: tokio::process::Child,
}

impl Driver {
    /// Stops chromedriver.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// chromedriver and a headless Chromium session.
pub(crate) async fn browser() -> Option<(Driver, Client)> {
    let driver = tool("chromedriver")?;
    let chromium = tool("chromium")?;
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
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-dev-shm-usage"],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a browser session");
    Some((Driver { child }, client))
}
