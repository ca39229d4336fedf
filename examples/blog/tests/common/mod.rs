//! What the blog's test files share: the app on a fresh SQLite file with
//! the API token, and the rows several of them seed through the API.

#![allow(dead_code, reason = "each test file uses part of it")]

use phial::{App, Config};
use serde_json::{Value, json};

/// The API token the test apps accept (`blog.api_token`).
pub(crate) const TOKEN: &str = "blog-test-token";

/// The blog on a fresh SQLite file in `dir`, with [`TOKEN`], and what
/// `configure` adds to the testing config.
pub(crate) async fn blog_app(
    dir: &tempfile::TempDir,
    configure: impl FnOnce(Config) -> Config,
) -> App {
    let url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    let config = Config::testing()
        .set("database.url", url)
        .set("blog.api_token", TOKEN);
    blog::create_app(configure(config))
        .await
        .expect("the blog builds")
}

/// An author and two posts (one published, one draft) through the API.
pub(crate) async fn seed(app: &App, token: &str) -> (i64, i64) {
    let http = app.test_client();
    let auth = format!("Bearer {token}");
    let author: Value = http
        .post("/api/authors")
        .header("authorization", &auth)
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .json();
    let mut ids = Vec::new();
    for published in [true, false] {
        let post: Value = http
            .post("/api/posts")
            .header("authorization", &auth)
            .json(&json!({"author_id": author["id"], "title": "t", "body": "b", "published": published}))
            .send()
            .await
            .json();
        ids.push(post["id"].as_i64().unwrap());
    }
    (ids[0], ids[1])
}
