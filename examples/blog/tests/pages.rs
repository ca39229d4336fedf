//! The blog as a reader sees it, on a fresh SQLite database per test.

use blog::entities::{author, comment, post};
use phial::orm::Db;
use phial::{App, Config};
use sea_orm::ActiveValue::Set;

const TOKEN: &str = "import-token";

async fn app(dir: &tempfile::TempDir) -> (App, Db) {
    let url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    let config = Config::testing()
        .set("database.url", url)
        .set("blog.api_token", TOKEN);
    let app = blog::create_app(config).await.expect("the blog builds");
    let db = Db::from_state(app.state()).unwrap();
    (app, db)
}

async fn seed(db: &Db) -> (i32, i32) {
    let now = chrono::Utc::now();
    let ada = db
        .insert(author::ActiveModel {
            name: Set("Ada <3".into()),
            email: Set("ada@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (title, published) in [("Shown", true), ("Draft", false)] {
        let p = db
            .insert(post::ActiveModel {
                author_id: Set(ada.id),
                title: Set(title.into()),
                body: Set(format!("{title} body")),
                published: Set(published),
                created_at: Set(now),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(p.id);
    }
    db.insert(comment::ActiveModel {
        post_id: Set(ids[0]),
        author_name: Set("Grace".into()),
        body: Set("Nice <b>post</b>".into()),
        created_at: Set(now),
        ..Default::default()
    })
    .await
    .unwrap();
    (ids[0], ids[1])
}

#[tokio::test]
async fn the_index_lists_published_posts_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = app(&dir).await;
    let client = app.test_client();
    assert!(
        client
            .get("/")
            .send()
            .await
            .text()
            .contains("No posts yet.")
    );
    let (shown, _) = seed(&db).await;
    let html = client.get("/").send().await.text();
    assert!(
        html.contains(&format!(
            r#"<a href="/posts/{shown}">Shown</a> by Ada &lt;3"#
        )),
        "{html}"
    );
    assert!(!html.contains("Draft"), "drafts stay hidden: {html}");
}

#[tokio::test]
async fn a_post_shows_its_comments() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = app(&dir).await;
    let (shown, _) = seed(&db).await;
    let res = app
        .test_client()
        .get(&format!("/posts/{shown}"))
        .send()
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text();
    assert!(
        html.contains("<h1>Shown</h1>") && html.contains(">1</span> comment</h2>"),
        "{html}"
    );
    assert!(
        html.contains("<b>Grace</b>: Nice &lt;b&gt;post&lt;&#x2f;b&gt;"),
        "comments are escaped: {html}"
    );
}

#[tokio::test]
async fn missing_and_malformed_posts_are_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(&dir).await;
    let client = app.test_client();
    let missing = client
        .get("/posts/999")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(missing.status(), 404);
    assert!(
        missing.text().contains("there is no post 999")
            && missing.text().contains("Back to the posts"),
        "{}",
        missing.text()
    );
    let malformed = client.get("/posts/abc").send().await;
    assert_eq!(malformed.status(), 400);
    assert!(
        malformed.json::<serde_json::Value>()["reason"]
            .as_str()
            .unwrap()
            .contains("abc")
    );
}

#[tokio::test]
async fn the_binary_has_the_db_commands() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.sqlite").display());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_blog"))
            .args(args)
            .env("PHIAL_DATABASE__URL", &url)
            .env("PHIAL_ENV", "testing")
            .output()
            .unwrap()
    };
    let out = run(&["db", "check"]);
    assert!(!out.status.success(), "pending migrations fail the check");
    // The blog's five, the admin's three and phial::auth's session table.
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("9 migration(s) pending"), "{err}");
    assert!(run(&["db", "upgrade"]).status.success());
    let out = run(&["db", "status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("applied")).count(),
        9,
        "{text}"
    );
    assert!(run(&["db", "check"]).status.success());
}

#[tokio::test]
async fn import_inserts_a_batch_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = app(&dir).await;
    let client = app.test_client();
    let (shown, _) = seed(&db).await;
    let author: i32 = {
        use sea_orm::EntityTrait;
        post::Entity::find_by_id(shown)
            .one(db.conn())
            .await
            .unwrap()
            .unwrap()
            .author_id
    };
    let batch: Vec<_> = (0..250)
        .map(|i| serde_json::json!({"author_id": author, "title": format!("Imported {i}"), "body": "b", "published": true}))
        .collect();
    // Nobody in particular imports nothing ...
    let res = client.post("/import").json(&batch).send().await;
    assert_eq!(res.status(), 401, "{}", res.text());
    assert!(!client.get("/").send().await.text().contains("Imported 249"));
    // ... the API token imports.
    let bearer = format!("Bearer {TOKEN}");
    let res = client
        .post("/import")
        .header("authorization", &bearer)
        .json(&batch)
        .send()
        .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(res.json::<serde_json::Value>()["imported"], 250);
    assert!(client.get("/").send().await.text().contains("Imported 249"));

    let bad = serde_json::json!([{"author_id": author, "title": "ok", "body": "b"}, {"author_id": 9999, "title": "orphan", "body": "b"}]);
    let res = client
        .post("/import")
        .header("authorization", &bearer)
        .json(&bad)
        .send()
        .await;
    assert_eq!(res.status(), 422, "{}", res.text());
    assert!(
        !client.get("/").send().await.text().contains(">ok<"),
        "nothing of the failed batch stays"
    );

    let res = client
        .post("/import")
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body("[{")
        .send()
        .await;
    assert_eq!(res.status(), 400);
    let res = client
        .post("/import")
        .header("authorization", &bearer)
        .json(&serde_json::json!([{"title": "no author"}]))
        .send()
        .await;
    assert_eq!(res.status(), 422);
    let fields = res.json::<serde_json::Value>()["fields"].clone();
    assert_eq!(
        fields
            .as_object()
            .map(|f| f.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["[0].author_id".to_owned()]),
        "{fields}"
    );
}

#[tokio::test]
async fn the_post_list_is_cached_until_posts_change() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = app(&dir).await;
    let client = app.test_client();
    let first = client.get("/").send().await;
    assert_eq!(first.header("x-cache"), Some("MISS"));
    let second = client.get("/").send().await;
    assert_eq!(
        (
            second.header("x-cache"),
            second.text().contains("No posts yet.")
        ),
        (Some("HIT"), true)
    );
    seed(&db).await;
    let after = client.get("/").send().await;
    assert_eq!(
        after.header("x-cache"),
        Some("MISS"),
        "the write dropped the cached list"
    );
    assert!(after.text().contains("Shown"));
}

#[tokio::test]
async fn the_about_page_comes_from_the_pages_blueprint() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _db) = app(&dir).await;
    let client = app.test_client();
    let page = client.get("/pages/about").send().await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text().contains("About this blog") && page.text().contains("/pages/static/pages.css"),
        "{}",
        page.text()
    );
    let css = client.get("/pages/static/pages.css").send().await;
    assert_eq!(css.status(), 200);
    assert!(css.text().contains(".about"));
}

#[tokio::test]
async fn comments_are_limited_to_ten_a_minute_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = app(&dir).await;
    let (shown, _) = seed(&db).await;
    let page = format!("/posts/{shown}");
    let action = format!("/posts/{shown}/comments");
    let client = app.test_client();
    let token = client.get(&page).send().await.csrf_token().unwrap();
    let comment = |n: usize| {
        client.post(&action).from_addr("198.51.100.44").form(&[
            ("csrf_token", token.as_str()),
            ("author_name", "Bot"),
            ("body", &format!("comment {n}")),
        ])
    };
    for n in 0..10 {
        let res = comment(n).send().await;
        assert_eq!(res.status(), 303, "comment {n}: {}", res.text());
        assert!(res.header("ratelimit").is_some());
    }
    let refused = comment(10).send().await;
    assert_eq!(refused.status(), 429);
    assert!(refused.header("retry-after").is_some());
    // Someone else may still comment.
    let other = client
        .post(&action)
        .from_addr("198.51.100.45")
        .form(&[
            ("csrf_token", token.as_str()),
            ("author_name", "Ada"),
            ("body", "hi"),
        ])
        .send()
        .await;
    assert_eq!(other.status(), 303, "{}", other.text());
}
