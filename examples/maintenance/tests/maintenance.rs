//! Maintenance mode from outside: the CLI writes the flag, a serving app
//! notices it within its poll interval and answers 503 with Retry-After on
//! pages while its probes and allowed paths still answer; `off` brings the
//! pages back; a bad setting stops the build naming its key.

use std::process::ExitCode;
use std::time::Duration;

use phial::cli::Output;
use phial::prelude::*;
use phial_maintenance::{Maintenance, Switch};

async fn app(config: Config) -> phial::Result<App> {
    Ok(App::builder(config)
        .register(Maintenance)
        .route("/", get(|| async { "home" }))
        .route(
            "/status",
            get(|switch: Dep<Switch>| async move { if switch.is_on() { "down" } else { "up" } }),
        )
        .build()
        .await?)
}

async fn cli(config: Config, args: &[&str]) -> (ExitCode, String) {
    let (out, buf) = Output::buffer();
    let (err, err_buf) = Output::buffer();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let code = phial::cli::run_with(app, config, argv, out, err).await;
    let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap()
        + &String::from_utf8(err_buf.lock().unwrap().clone()).unwrap();
    (code, text)
}

/// Waits (bounded) until `/` answers `status`.
async fn until_index(app: &App, status: u16) {
    let client = app.test_client();
    for _ in 0..200 {
        if client.get("/").send().await.status().as_u16() == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("`/` never answered {status}");
}

#[tokio::test]
async fn the_cli_takes_the_site_down_and_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        Config::testing()
            .set("instance_path", dir.path().display().to_string())
            .set("maintenance.poll_ms", 20)
            .set("maintenance.allow", vec!["/status"])
            .set("maintenance.message", "Upgrading the database")
    };
    let site = app(config()).await.unwrap();
    let client = site.test_client();
    assert_eq!(client.get("/").send().await.text(), "home");

    let (code, text) = cli(config(), &["maintenance", "on"]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(dir.path().join("MAINTENANCE").exists());
    until_index(&site, 503).await;
    let res = client
        .get("/")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(res.header("retry-after"), Some("300"));
    assert!(
        res.text().contains("Upgrading the database"),
        "{}",
        res.text()
    );
    assert_eq!(
        client.get("/healthz").send().await.status(),
        200,
        "probes still answer"
    );
    assert_eq!(
        client.get("/status").send().await.text(),
        "down",
        "an allowed path sees the switch"
    );
    let (_, text) = cli(config(), &["maintenance"]).await;
    assert!(text.contains("maintenance is on"), "{text}");
    let metrics = client.get("/metrics").send().await.text();
    assert!(metrics.contains("maintenance_on 1"), "{metrics}");

    let (code, text) = cli(config(), &["maintenance", "off"]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    until_index(&site, 200).await;
    assert_eq!(client.get("/status").send().await.text(), "up");
}

#[tokio::test]
async fn a_bad_setting_is_refused_with_its_key() {
    let Err(err) = app(Config::testing().set("maintenance.poll_ms", 0)).await else {
        panic!("refused")
    };
    assert!(err.to_string().contains("maintenance.poll_ms"), "{err}");
    let Err(err) = app(Config::testing().set("maintenance.retry_after_secs", "soon")).await else {
        panic!("refused")
    };
    assert!(
        err.to_string().contains("maintenance.retry_after_secs"),
        "{err}"
    );
}
