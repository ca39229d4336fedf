//! The admin panel in a real browser (headless Chromium over WebDriver):
//! sign in, the dashboard, a list that updates live when a post is written
//! through REST, an edit with an error shown beside its field, the audit
//! log's diff — with screenshots of each, on a desktop and a phone-width
//! window, saved under `target/admin-screenshots/` to be looked at.

use std::time::Duration;

use fantoccini::{Client, Locator};
use phial::admin::create_user;
use phial::orm::Db;
use serde_json::json;

mod browser_support;
mod common;

const TOKEN: &str = "blog-admin-browser-token";

fn shots_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("admin-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(client: &Client, name: &str) -> Result<(), fantoccini::error::CmdError> {
    let png = client.screenshot().await?;
    assert!(png.len() > 1000, "{name}: an empty screenshot");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
    Ok(())
}

async fn wait_for(
    client: &Client,
    css: &str,
) -> Result<fantoccini::elements::Element, fantoccini::error::CmdError> {
    let found = client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await;
    if found.is_err() {
        let url = client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let page = client.source().await.unwrap_or_default();
        eprintln!("`{css}` did not appear on {url}: {page}");
    }
    found
}

#[tokio::test]
async fn staff_use_the_panel_in_a_browser_and_lists_update_live() {
    let Some((driver, client)) = browser_support::browser().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    let app = blog::create_app(
        phial::Config::testing()
            .set("database.url", db_url)
            .set("blog.api_token", TOKEN),
    )
    .await
    .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    create_user(&db, "root", "correct horse battery", true)
        .await
        .unwrap();
    let (post_id, _) = common::seed(&app, TOKEN).await;
    let http = app.test_client();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.clone().serve_with(listener, async move {
        let _ = stopped.await;
    }));
    let result = async {
        client.set_window_size(1280, 900).await?;
        client.goto(&format!("{base}/admin/")).await?;
        // Anonymous: the sign-in page; a wrong password is refused.
        wait_for(&client, "input[name=username]")
            .await?
            .send_keys("root")
            .await?;
        client
            .find(Locator::Css("input[name=password]"))
            .await?
            .send_keys("nope")
            .await?;
        client
            .find(Locator::Css("button[type=submit]"))
            .await?
            .click()
            .await?;
        let refused = wait_for(&client, "#login-error").await?;
        assert!(refused.text().await?.contains("Wrong username or password"));
        shot(&client, "login-refused").await?;
        client
            .find(Locator::Css("input[name=password]"))
            .await?
            .send_keys("correct horse battery")
            .await?;
        client
            .find(Locator::Css("button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for(&client, ".dash").await?;
        let h1 = client.find(Locator::Css("main h1")).await?;
        assert_eq!(h1.text().await?, "Dashboard");
        shot(&client, "dashboard").await?;

        // The list follows writes made elsewhere (REST), without a reload.
        client.goto(&format!("{base}/admin/post/")).await?;
        wait_for(&client, "body[data-live=on]").await?;
        shot(&client, "list").await?;
        let res = http
            .post("/api/posts")
            .header("authorization", &format!("Bearer {TOKEN}"))
            .json(&json!({"author_id": 1, "title": "written through REST", "body": "b"}))
            .send()
            .await;
        assert_eq!(res.status(), 201, "{}", res.text());
        let row = client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::XPath(
                "//tbody[@data-rows]//td[contains(., 'written through REST')]",
            ))
            .await?;
        assert!(row.text().await?.contains("written through REST"));

        // An edit with an error: shown beside the field, the other fields'
        // text kept (the input's maxlength keeps titles short; an empty
        // one is refused by the server, the form having `novalidate`).
        client
            .goto(&format!("{base}/admin/post/{post_id}/edit"))
            .await?;
        let body = wait_for(&client, "#f-body").await?;
        body.clear().await?;
        body.send_keys("typed before the error").await?;
        client.find(Locator::Css("#f-title")).await?.clear().await?;
        client
            .find(Locator::Css(".submit button.primary"))
            .await?
            .click()
            .await?;
        let error = wait_for(&client, "#e-title").await?;
        assert!(error.text().await?.contains("required"));
        let kept = client
            .find(Locator::Css("#f-body"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(kept.as_deref(), Some("typed before the error"));
        shot(&client, "edit-error").await?;
        let title = client.find(Locator::Css("#f-title")).await?;
        title.clear().await?;
        title.send_keys("A better title").await?;
        client
            .find(Locator::Css(".submit button.primary"))
            .await?
            .click()
            .await?;
        wait_for(&client, ".flash.success").await?;

        // The audit log's diff of that change.
        client.goto(&format!("{base}/admin/log")).await?;
        wait_for(&client, "table.log td.time a")
            .await?
            .click()
            .await?;
        let diff = wait_for(&client, "table.diff").await?;
        let text = diff.text().await?;
        assert!(text.contains("A better title"), "{text}");
        shot(&client, "audit-diff").await?;

        // The role editor: models by Django's four permissions.
        client
            .goto(&format!("{base}/admin/access/roles/new"))
            .await?;
        wait_for(&client, "table.matrix").await?;
        shot(&client, "role-matrix").await?;

        // A phone-width window: the same pages, one column.
        client.set_window_size(390, 844).await?;
        client.goto(&format!("{base}/admin/post/")).await?;
        wait_for(&client, "table.rows").await?;
        shot(&client, "list-phone").await?;
        client
            .goto(&format!("{base}/admin/post/{post_id}/edit"))
            .await?;
        wait_for(&client, "#f-title").await?;
        shot(&client, "edit-phone").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = client.close().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    driver.stop().await;
    result.expect("the admin works in the browser");
    eprintln!("screenshots in {}", shots_dir().display());
}
