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
use common::TOKEN;

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
    let app = common::blog_app(&dir, |c| c).await;
    let db = Db::from_state(app.state()).unwrap();
    create_user(&db, "root", "correct horse battery", true)
        .await
        .unwrap();
    let (post_id, _) = common::seed(&app, TOKEN).await;
    let http = app.test_client();
    let served = browser_support::Served::start(&app).await;
    let base = served.base.clone();
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

        // A row's page says when the row changes elsewhere.
        client
            .goto(&format!("{base}/admin/post/{post_id}/"))
            .await?;
        wait_for(&client, "body[data-live=on]").await?;
        let res = http
            .patch(&format!("/api/posts/{post_id}"))
            .header("authorization", &format!("Bearer {TOKEN}"))
            .json(&json!({"body": "changed through REST"}))
            .send()
            .await;
        assert_eq!(res.status(), 200, "{}", res.text());
        wait_for(&client, "[data-live-changed]:not([hidden])").await?;

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
    served.stop(client, driver).await;
    result.expect("the admin works in the browser");
    eprintln!("screenshots in {}", shots_dir().display());
}

/// Types into the sign-in form and submits it.
async fn sign_in_as(
    client: &Client,
    base: &str,
    user: &str,
    password: &str,
) -> Result<(), fantoccini::error::CmdError> {
    client.goto(&format!("{base}/admin/login")).await?;
    wait_for(client, "input[name=username]")
        .await?
        .send_keys(user)
        .await?;
    client
        .find(Locator::Css("input[name=password]"))
        .await?
        .send_keys(password)
        .await?;
    client
        .find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    Ok(())
}

async fn click(client: &Client, css: &str) -> Result<(), fantoccini::error::CmdError> {
    wait_for(client, css).await?.click().await
}

/// Waits until `condition` (JavaScript) is true on the page.
async fn wait_until(client: &Client, condition: &str) -> Result<(), fantoccini::error::CmdError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ok = client
            .execute(&format!("return !!({condition})"), vec![])
            .await?;
        if ok == json!(true) {
            return Ok(());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never true: {condition}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The rows' titles on the list page, in order.
async fn titles(client: &Client) -> Result<Vec<String>, fantoccini::error::CmdError> {
    let out = client
        .execute(
            "return [...document.querySelectorAll('tbody[data-rows] tr[data-key] td:nth-child(3)')].map(td => td.innerText)",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(out).unwrap_or_default())
}

#[tokio::test]
async fn crud_search_filters_pages_bulk_export_and_refusals_in_the_browser() {
    let Some((driver, client)) = browser_support::browser().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = common::blog_app(&dir, |c| c).await;
    let db = Db::from_state(app.state()).unwrap();
    create_user(&db, "root", "correct horse battery", true)
        .await
        .unwrap();
    create_user(&db, "viewer", "correct horse battery", false)
        .await
        .unwrap();
    phial::admin::create_role(&db, "readers", "post.view")
        .await
        .unwrap();
    phial::admin::assign_role(&db, "viewer", "readers")
        .await
        .unwrap();
    common::seed(&app, TOKEN).await;
    let http = app.test_client();
    for i in 0..30 {
        let res = http
            .post("/api/posts")
            .header("authorization", &format!("Bearer {TOKEN}"))
            .json(&json!({"author_id": 1, "title": format!("row {i:02}"), "body": "b"}))
            .send()
            .await;
        assert_eq!(res.status(), 201);
    }
    let served = browser_support::Served::start(&app).await;
    let base = served.base.clone();
    let result = async {
        client.set_window_size(1280, 900).await?;
        sign_in_as(&client, &base, "root", "correct horse battery").await?;
        wait_for(&client, ".dash").await?;

        // Create through the form.
        client.goto(&format!("{base}/admin/post/new")).await?;
        wait_for(&client, "#f-title").await?.send_keys("made by hand").await?;
        client.find(Locator::Css("#f-body")).await?.send_keys("its text").await?;
        click(&client, ".submit button.primary").await?;
        let flash = wait_for(&client, ".flash.success").await?;
        assert!(flash.text().await?.contains("made by hand"));
        let created_url = client.current_url().await?.to_string();

        // Search, sort (by clicking the header twice), paginate.
        client.goto(&format!("{base}/admin/post/")).await?;
        let q = wait_for(&client, "#q").await?;
        q.send_keys("row").await?;
        click(&client, "form.search button").await?;
        wait_until(&client, "location.search.includes('q=row') && document.readyState === 'complete'").await?;
        let total = client.find(Locator::Css(".pager .total")).await?.text().await?;
        assert_eq!(total, "30 posts");
        client.find(Locator::XPath("//th//a[contains(., 'Title')]")).await?.click().await?;
        wait_for(&client, "th[aria-sort=ascending]").await?;
        assert_eq!(titles(&client).await?.first().map(String::as_str), Some("row 00"));
        client.find(Locator::XPath("//th//a[contains(., 'Title')]")).await?.click().await?;
        wait_for(&client, "th[aria-sort=descending]").await?;
        assert_eq!(titles(&client).await?.first().map(String::as_str), Some("row 29"));
        click(&client, "a[rel=next]").await?;
        wait_until(&client, "location.search.includes('page=2') && document.readyState === 'complete'").await?;
        let page2 = titles(&client).await?;
        assert_eq!(page2, ["row 04", "row 03", "row 02", "row 01", "row 00"]);

        // Filter: published posts only (the seeded one).
        client.goto(&format!("{base}/admin/post/")).await?;
        let select = wait_for(&client, "select[name='published']").await?;
        select.select_by_value("true").await?;
        click(&client, "aside.filters button").await?;
        wait_until(&client, "location.search.includes('published') && document.readyState === 'complete'").await?;
        assert_eq!(client.find(Locator::Css(".pager .total")).await?.text().await?, "1 post");

        // A bulk action: publish two drafts.
        client.goto(&format!("{base}/admin/post/?q=row+0&sort=title")).await?;
        wait_for(&client, "tbody[data-rows]").await?;
        client
            .execute(
                "document.querySelectorAll('input[name=_selected]').forEach((b, i) => { if (i < 2) b.click(); })",
                vec![],
            )
            .await?;
        wait_for(&client, "select#action").await?.select_by_value("publish").await?;
        click(&client, ".actions button").await?;
        let flash = wait_for(&client, ".flash.success").await?;
        assert_eq!(flash.text().await?, "Published 2 posts.");

        // CSV of the filtered list, fetched by the page (the browser's
        // session and all).
        let csv = client
            .execute(
                "return fetch('/admin/post/export.csv?published=true').then(r => r.text())",
                vec![],
            )
            .await?;
        let csv = csv.as_str().unwrap_or_default().to_owned();
        assert!(csv.starts_with("id,author_id,title,body,published,created_at\r\n"), "{csv}");
        assert_eq!(csv.lines().count(), 4, "the header, the seeded post and the two published: {csv}");

        // A form posted without its CSRF token is refused.
        let status = client
            .execute(
                "return fetch('/admin/post/1/delete', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'x=1'}).then(r => r.status)",
                vec![],
            )
            .await?;
        assert_eq!(status, json!(403));

        // Delete the created post, after its confirmation page.
        client.goto(&format!("{created_url}delete")).await?;
        click(&client, "form.submit button.danger").await?;
        let flash = wait_for(&client, ".flash.success").await?;
        assert!(flash.text().await?.contains("Deleted post"));
        client.goto(&created_url).await?;
        wait_for(&client, ".flash.error").await?;

        // Signed out, then in as a viewer: posts yes, authors refused.
        click(&client, ".who button").await?;
        wait_for(&client, "input[name=username]").await?;
        sign_in_as(&client, &base, "viewer", "correct horse battery").await?;
        wait_for(&client, ".dash").await?;
        let menu = client.find(Locator::Css("nav.side")).await?.text().await?;
        assert!(menu.contains("Posts") && !menu.contains("Authors"), "{menu}");
        client.goto(&format!("{base}/admin/author/")).await?;
        let refused = wait_for(&client, ".flash.error").await?;
        assert!(refused.text().await?.contains("author.view"));
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    served.stop(client, driver).await;
    result.expect("the admin works in the browser");
}
