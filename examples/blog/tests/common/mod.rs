//! What several blog test files set up through the API.

use phial::App;
use serde_json::{Value, json};

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
