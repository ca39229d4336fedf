//! What the blog's test files share: the app on a fresh SQLite file with
//! the API token, the rows several of them seed through the API, and
//! forms posted with their CSRF token (the admin's sign-in among them).

#![allow(dead_code, reason = "each test file uses part of it")]

use phial::testing::{TestClient, TestResponse};
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

/// Posts the form at `page` (its CSRF token) to `action` with `fields`.
pub(crate) async fn submit(
    http: &TestClient,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    let form = http.get(page).send().await;
    let token = form
        .csrf_token()
        .unwrap_or_else(|| panic!("{page} has a CSRF field: {}", form.text()));
    let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    http.post(action).form(&all).send().await
}

/// Signs `user` in to the admin; the status (303 signed in, 401 refused,
/// 429 throttled).
pub(crate) async fn sign_in(http: &TestClient, user: &str, password: &str) -> u16 {
    let fields = [
        ("username", user),
        ("password", password),
        ("next", "/admin/"),
    ];
    submit(http, "/admin/login", "/admin/login", &fields)
        .await
        .status()
        .as_u16()
}
