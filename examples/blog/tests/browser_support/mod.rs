//! Headless Chromium over WebDriver for the browser tests: chromedriver on
//! a free port (stopped when dropped) and a session with the flags the
//! machine needs. `None` (a loud SKIPPED, or a failure under
//! `PHIAL_REQUIRE_SERVICES=1`) when the browser is not installed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use phial::testing::tool;
use serde_json::json;

/// One browser at a time in a test binary: two Chromiums on two cores
/// slow each other past the waits, and a port freed for chromedriver could
/// be taken by the other test's server before chromedriver binds it.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// chromedriver, killed with the test.
pub(crate) struct Driver {
    child: tokio::process::Child,
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
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
    let one_at_a_time = ONE_BROWSER.lock().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut child = tokio::process::Command::new(driver)
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
    assert!(
        child.try_wait().ok().flatten().is_none(),
        "chromedriver exited: port {port} was taken"
    );
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
    Some((
        Driver {
            child,
            _one_at_a_time: one_at_a_time,
        },
        client,
    ))
}

/// An app served on a free loopback port until [`Served::stop`].
pub(crate) struct Served {
    /// `http://127.0.0.1:PORT`
    pub(crate) base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), phial::Error>>,
}

impl Served {
    /// Serves `app`.
    pub(crate) async fn start(app: &phial::App) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.clone().serve_with(listener, async move {
            let _ = stopped.await;
        }));
        Served { base, stop, server }
    }

    /// Stops serving (gracefully) and closes the browser.
    pub(crate) async fn stop(self, client: Client, driver: Driver) {
        let _ = client.close().await;
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
        driver.stop().await;
    }
}
