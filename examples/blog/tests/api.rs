//! The blog's REST API as a client uses it: reads for anyone (published
//! posts only), writes with the API token, one document with the
//! hand-written `/api/stats` beside the generated resources.

use phial::App;
use serde_json::{Value, json};

mod common;
use common::TOKEN;

async fn app(dir: &tempfile::TempDir) -> App {
    common::blog_app(dir, |c| c).await
}

#[tokio::test]
async fn writes_need_the_token_and_reads_page_and_sort() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let client = app.test_client();
    let auth = format!("Bearer {TOKEN}");

    let refused = client
        .post("/api/authors")
        .json(&json!({"name": "Eve", "email": "eve@example.com"}))
        .send()
        .await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );

    let res = client
        .post("/api/authors")
        .header("authorization", &auth)
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let ada: Value = res.json();
    for (title, published) in [("b", true), ("a", true), ("draft", false)] {
        let res = client
            .post("/api/posts")
            .header("authorization", &auth)
            .json(&json!({"author_id": ada["id"], "title": title, "body": "text", "published": published}))
            .send()
            .await;
        assert_eq!(res.status(), 201, "{}", res.text());
        let post: Value = res.json();
        assert!(
            post["created_at"].is_string(),
            "stamped by the model: {post}"
        );
    }
    let res = client
        .post("/api/comments")
        .header("authorization", &auth)
        .json(&json!({"post_id": 1, "author_name": "Grace", "body": "Nice", "created_at": "1999-01-01T00:00:00Z"}))
        .send()
        .await;
    assert_eq!(res.status(), 201, "{}", res.text());
    assert_ne!(
        res.json::<Value>()["created_at"],
        "1999-01-01T00:00:00Z",
        "read-only"
    );

    // Anonymous: published posts only, sorted as asked, one page at a time.
    let page: Value = client
        .get("/api/posts?sort=-created_at,title&per_page=1&page=2")
        .send()
        .await
        .json();
    assert_eq!(page["total"], 2);
    assert_eq!(page["pages"], 2);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let titles: Vec<String> = client
        .get("/api/posts?sort=title")
        .send()
        .await
        .json::<Value>()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["a", "b"]);
    // With the token, drafts too.
    let all: Value = client
        .get("/api/posts")
        .header("authorization", &auth)
        .send()
        .await
        .json();
    assert_eq!(all["total"], 3);

    let stats: Value = client.get("/api/stats").send().await.json();
    assert_eq!(
        stats,
        json!({"published_posts": 2, "authors": 1, "comments": 1})
    );

    let doc: Value = client.get("/api/openapi.json").send().await.json();
    for path in [
        "/api/posts",
        "/api/posts/{id}",
        "/api/authors",
        "/api/comments",
        "/api/stats",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
    assert_eq!(client.get("/api/docs/").send().await.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn a_signed_in_author_writes_through_the_api_with_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let db = phial::orm::Db::from_state(app.state()).unwrap();
    let ada = db
        .insert(blog::entities::author::ActiveModel {
            name: sea_orm::ActiveValue::Set("Ada".into()),
            email: sea_orm::ActiveValue::Set("ada@example.com".into()),
            password_hash: sea_orm::ActiveValue::Set(
                phial::password::hash("s3cret").await.unwrap(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let client = app.test_client();
    let new_post = json!({"author_id": ada.id, "title": "t", "body": "b"});
    assert_eq!(
        client
            .post("/api/posts")
            .json(&new_post)
            .send()
            .await
            .status(),
        401
    );

    let page = client.get("/login").send().await;
    let token = page.csrf_token().expect("the form carries a CSRF token");
    let wrong = client
        .post("/login")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "ada@example.com"),
            ("password", "nope"),
        ])
        .send()
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().contains("wrong email or password"));
    let res = client
        .post("/login")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "ada@example.com"),
            ("password", "s3cret"),
        ])
        .send()
        .await;
    assert!(res.status().is_redirection(), "{}", res.status());

    let created = client.post("/api/posts").json(&new_post).send().await;
    assert_eq!(created.status(), 201, "{}", created.text());
    // The hash is hidden: never sent, never written.
    let author: Value = client
        .get(&format!("/api/authors/{}", ada.id))
        .send()
        .await
        .json();
    assert!(author.get("password_hash").is_none(), "{author}");
    let res = client
        .patch(&format!("/api/authors/{}", ada.id))
        .json(&json!({"password_hash": "x"}))
        .send()
        .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let stored = <blog::entities::author::Entity as sea_orm::EntityTrait>::find_by_id(ada.id)
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.password_hash.starts_with("$scrypt$"),
        "{}",
        stored.password_hash
    );
    app.shutdown().await;
}
