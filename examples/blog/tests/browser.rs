//! The blog in a real browser (headless Chromium over WebDriver): a post's
//! page loads the Socket.IO client the app serves, follows its post, and
//! shows a comment written through the API without a reload — the CSP,
//! the served client, the origin check and the Redis-free local adapter
//! together, as a reader sees them.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{Value, json};

mod browser_support;
mod common;
use common::TOKEN;

#[tokio::test]
async fn a_post_page_shows_new_comments_live() {
    let Some((driver, client)) = browser_support::browser().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = common::blog_app(&dir, |c| c).await;
    let http = app.test_client();
    let auth = format!("Bearer {TOKEN}");
    let (post_id, _draft) = common::seed(&app, TOKEN).await;
    let served = browser_support::Served::start(&app).await;
    let base = served.base.clone();

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
    served.stop(client, driver).await;
    result.expect("the page updated live");
}
