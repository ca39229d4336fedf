//! The blog's admin where it meets the rest of the app: a staff grant
//! means the same through the API (and a sign-out ends both), and a live
//! admin page hears a write made on another node. The panel's own
//! features (sign-in, lists, forms, conflicts, deletes and bulk actions,
//! permissions, staff pages, live pages) are tested in `ext-admin/tests/`,
//! one file each.

use phial::admin::{assign_role, create_role, create_user};
use phial::orm::Db;
use phial::testing::TestClient;
use phial::{App, Config};
use serde_json::{Value, json};

mod common;
use common::{TOKEN, sign_in};

async fn app(dir: &tempfile::TempDir) -> App {
    common::blog_app(dir, |c| c.set("auth.attempts", 3)).await
}

async fn setup() -> (tempfile::TempDir, App, TestClient) {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let db = Db::from_state(app.state()).unwrap();
    create_user(&db, "root", "correct horse battery", true)
        .await
        .unwrap();
    let http = app.test_client();
    (dir, app, http)
}

#[tokio::test]
async fn an_admin_page_on_one_node_hears_a_write_on_another() {
    use phial::socket::testing::SocketClient;
    let Some(redis) =
        phial::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("admin-nodes-{}", std::process::id());
    let node = |dir: &tempfile::TempDir| {
        let url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
        let config = Config::testing()
            .set("database.url", url)
            .set("blog.api_token", TOKEN)
            .set("socket.adapter", "redis")
            .set("socket.redis_url", redis.clone())
            .set("socket.channel_prefix", prefix.clone());
        blog::create_app(config)
    };
    let one = node(&dir).await.unwrap();
    let two = node(&dir).await.unwrap();
    let db = Db::from_state(one.state()).unwrap();
    create_user(&db, "root", "correct horse battery", true)
        .await
        .unwrap();
    common::seed(&one, TOKEN).await;
    let http = one.test_client();
    assert_eq!(sign_in(&http, "root", "correct horse battery").await, 303);
    let live = SocketClient::connect(&http, "/phial-admin").await.unwrap();
    let ok: Value = live.emit_with_ack("watch", &json!("post")).await.unwrap();
    assert_eq!(ok["ok"], true, "{ok}");
    // A write through the other node's API.
    let res = two
        .test_client()
        .post("/api/posts")
        .header("authorization", &format!("Bearer {TOKEN}"))
        .json(&json!({"author_id": 1, "title": "from node two", "body": "b"}))
        .send()
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>()["id"].clone();
    let event = live.recv_event("changed").await.unwrap();
    let change: Value = event.arg(0);
    assert_eq!(
        (change["table"].clone(), change["keys"].clone()),
        (json!("post"), json!([id]))
    );
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test]
async fn a_staff_grant_means_the_same_through_the_api() {
    let (_dir, app, http) = setup().await;
    let (published, _) = common::seed(&app, TOKEN).await;
    let db = Db::from_state(app.state()).unwrap();
    let mut comments = Vec::new();
    for body in ["one", "two"] {
        let res = http
            .post("/api/comments")
            .header("authorization", &format!("Bearer {TOKEN}"))
            .json(&json!({"post_id": published, "author_name": "Bob", "body": body}))
            .send()
            .await;
        assert_eq!(res.status(), 201);
        comments.push(res.json::<Value>()["id"].as_i64().unwrap());
    }
    create_role(&db, "moderators", "comment.view comment.delete")
        .await
        .unwrap();
    create_role(&db, "readers", "comment.view").await.unwrap();
    for (name, role) in [("mod", "moderators"), ("reader", "readers")] {
        create_user(&db, name, "correct horse battery", false)
            .await
            .unwrap();
        assign_role(&db, name, role).await.unwrap();
    }
    // Signed in to the admin only: the API sees the same staff user.
    let reader = app.test_client();
    assert_eq!(
        sign_in(&reader, "reader", "correct horse battery").await,
        303
    );
    let res = reader
        .delete(&format!("/api/comments/{}", comments[0]))
        .send()
        .await;
    assert_eq!(res.status(), 403, "no comment.delete grant: {}", res.text());
    assert_eq!(
        reader
            .get(&format!("/admin/comment/{}/delete", comments[0]))
            .send()
            .await
            .status(),
        403
    );
    // The blog's statistics page needs post.view, which this reader lacks.
    assert_eq!(reader.get("/admin/pages/stats").send().await.status(), 403);
    let moderator = app.test_client();
    assert_eq!(
        sign_in(&moderator, "mod", "correct horse battery").await,
        303
    );
    let res = moderator
        .delete(&format!("/api/comments/{}", comments[0]))
        .send()
        .await;
    assert_eq!(res.status(), 204, "{}", res.text());
    assert_eq!(
        moderator
            .get(&format!("/admin/comment/{}/delete", comments[1]))
            .send()
            .await
            .status(),
        200
    );
    // Signed out, the API no longer knows them.
    let token = moderator.get("/admin/").send().await.csrf_token().unwrap();
    moderator
        .post("/admin/logout")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await;
    let res = moderator
        .delete(&format!("/api/comments/{}", comments[1]))
        .send()
        .await;
    assert_eq!(res.status(), 401, "{}", res.text());
}
