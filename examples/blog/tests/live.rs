//! Live comments at `/live`: a reader follows a post (`join`) and receives
//! each new comment as a `comment` event, whether it came through the API
//! or the page's form, and on another node sharing Redis; drafts cannot be
//! followed anonymously; a reader back after a disconnect gets the
//! comments it missed.

use phial::socket::testing::SocketClient;
use phial::{App, Config};
use serde_json::{Value, json};

mod common;
use common::TOKEN;

use common::seed;

async fn node(dir: &tempfile::TempDir, redis: Option<(&str, &str)>) -> App {
    let url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    let mut config = Config::testing()
        .set("database.url", url)
        .set("blog.api_token", TOKEN);
    if let Some((redis_url, prefix)) = redis {
        config = config
            .set("socket.adapter", "redis")
            .set("socket.redis_url", redis_url)
            .set("socket.channel_prefix", prefix);
    }
    blog::create_app(config).await.expect("the blog builds")
}

async fn comment_through_api(app: &App, post_id: i64, body: &str) {
    let res = app
        .test_client()
        .post("/api/comments")
        .header("authorization", &format!("Bearer {TOKEN}"))
        .json(&json!({"post_id": post_id, "author_name": "Bob", "body": body}))
        .send()
        .await;
    assert_eq!(res.status(), 201, "{}", res.text());
}

#[tokio::test]
async fn a_reader_following_a_post_sees_new_comments() {
    let dir = tempfile::tempdir().unwrap();
    let app = node(&dir, None).await;
    let (published, draft) = seed(&app, TOKEN).await;
    let http = app.test_client();
    let reader = SocketClient::connect(&http, "/live").await.unwrap();
    let ok: Value = reader
        .emit_with_ack("join", &json!({"post_id": published}))
        .await
        .unwrap();
    assert_eq!(ok, json!({"ok": true, "complete": true}));
    let refused: Value = reader
        .emit_with_ack("join", &json!({"post_id": draft}))
        .await
        .unwrap();
    assert!(
        refused["error"].as_str().unwrap().contains("no post"),
        "{refused}"
    );

    comment_through_api(&app, published, "first!").await;
    let c = reader.recv_event("comment").await.unwrap().arg::<Value>(0);
    assert_eq!(
        (c["post_id"].as_i64(), c["body"].as_str()),
        (Some(published), Some("first!"))
    );

    // Through the page's form (with its CSRF token), the same.
    let page = http.get(&format!("/posts/{published}")).send().await;
    assert!(page.text().contains("/socket.io/socket.io.min.js"));
    let token = page
        .csrf_token()
        .expect("the comment form carries a CSRF token");
    let res = http
        .post(&format!("/posts/{published}/comments"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("author_name", "Cy"),
            ("body", "from the form"),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let c = reader.recv_event("comment").await.unwrap().arg::<Value>(0);
    assert_eq!(c["body"], "from the form");

    // A comment on another post does not reach this room: the next event
    // is the one for this post.
    comment_through_api(&app, draft, "on the draft").await;
    comment_through_api(&app, published, "second").await;
    let c = reader.recv_event("comment").await.unwrap().arg::<Value>(0);
    assert_eq!(c["body"], "second");

    // A bad form is a 422, and nothing is sent.
    let res = http
        .post(&format!("/posts/{published}/comments"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("author_name", ""),
            ("body", "x"),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 422, "{}", res.text());
    assert_eq!(reader.try_recv().await, None);
    app.shutdown().await;
}

#[tokio::test]
async fn a_comment_on_one_node_reaches_a_reader_on_another() {
    let Some(redis) =
        phial::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("blog-live-test-{}", std::process::id());
    let one = node(&dir, Some((&redis, &prefix))).await;
    let two = node(&dir, Some((&redis, &prefix))).await;
    let (published, _) = seed(&one, TOKEN).await;
    let reader = SocketClient::connect(&one.test_client(), "/live")
        .await
        .unwrap();
    let _: Value = reader
        .emit_with_ack("join", &json!({"post_id": published}))
        .await
        .unwrap();
    comment_through_api(&two, published, "from node two").await;
    let c = reader.recv_event("comment").await.unwrap().arg::<Value>(0);
    assert_eq!(c["body"], "from node two");
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test]
async fn a_reader_back_after_a_disconnect_gets_the_comments_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let app = node(&dir, None).await;
    let (published, _) = seed(&app, TOKEN).await;
    let follow = async |since: Option<&str>| {
        let reader = SocketClient::connect(&app.test_client(), "/live")
            .await
            .unwrap();
        let ok: Value = reader
            .emit_with_ack("join", &json!({"post_id": published, "since": since}))
            .await
            .unwrap();
        assert_eq!(ok, json!({"ok": true, "complete": true}));
        reader
    };
    let reader = follow(None).await;
    comment_through_api(&app, published, "before").await;
    let event = reader.recv_event("comment").await.unwrap();
    assert_eq!(event.arg::<Value>(0)["body"], "before");
    let offset: String = event.arg(1);
    reader.disconnect().await;

    comment_through_api(&app, published, "while away").await;
    comment_through_api(&app, published, "and again").await;

    // Back with its last offset: the ack comes after the replayed events.
    let back = follow(Some(&offset)).await;
    let mut missed = Vec::new();
    while let Some(e) = back.try_recv().await {
        if e.arg::<String>(1) != offset {
            missed.push(e.arg::<Value>(0)["body"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(missed, ["while away", "and again"]);
    // The control: a new reader gets nothing from before it came.
    let newcomer = follow(None).await;
    assert_eq!(newcomer.try_recv().await, None);
}
