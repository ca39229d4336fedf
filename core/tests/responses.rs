//! What clients see: security headers, error pages (JSON or HTML), panics,
//! body limits, extractor failures, request ids, static files, templates.

use std::path::Path;

use axum::response::IntoResponse;
use phial_core::routing::{get, post};
use phial_core::{App, Config, Form, HttpError, Json, Profile, RequestId, Templates, Valid};
use serde::Deserialize;
use validator::Validate;

#[derive(Deserialize, Validate)]
struct Signup {
    #[validate(length(min = 3, message = "must be at least 3 characters"))]
    name: String,
    #[validate(range(min = 18))]
    age: u32,
}

async fn signup(Valid(Json(s)): Valid<Json<Signup>>) -> String {
    format!("{} {}", s.name, s.age)
}

async fn signup_form(Form(s): Form<Signup>) -> String {
    format!("{} {}", s.name, s.age)
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

async fn app(root: &Path, config: Config) -> App {
    App::builder(config.set("csrf.enabled", false))
        .root_path(root)
        .route(
            "/",
            get(|tpl: Templates| async move {
                tpl.render("page.html", minijinja::context! { name => "<b>x</b>" })
            })
            .name("index"),
        )
        .route("/posts/{id}", get(|| async { "post" }).name("post"))
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("secret internals");
                }
                ""
            }),
        )
        .route(
            "/gone",
            get(|| async { HttpError::not_found("no such post") }),
        )
        .route(
            "/teapot",
            get(|| async { (http::StatusCode::IM_A_TEAPOT, "short and stout") }),
        )
        .route("/signup", post(signup))
        .route("/signup-form", post(signup_form))
        .route(
            "/echo",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        .route("/id", get(|id: RequestId| async move { id.to_string() }))
        .route(
            "/own-csp",
            get(|| async { ([("content-security-policy", "default-src *")], "x") }),
        )
        .build()
        .await
        .unwrap()
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "templates/page.html",
        "<p>{{ name }}</p><a href=\"{{ url_for('post', id=7, q='a b') }}\">p</a>",
    );
    write(dir.path(), "static/site.css", "body{}");
    write(dir.path(), "static/.env", "SECRET=1");
    write(dir.path(), "outside.txt", "private");
    dir
}

#[tokio::test]
async fn security_headers_are_on_by_default_and_hsts_only_in_production() {
    let dir = site();
    let dev = app(dir.path(), Config::testing()).await;
    let res = dev.test_client().get("/").send().await;
    assert!(
        res.header("content-security-policy")
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(res.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(
        res.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(res.header("strict-transport-security"), None);
    // A handler's own header wins.
    assert_eq!(
        dev.test_client()
            .get("/own-csp")
            .send()
            .await
            .header("content-security-policy"),
        Some("default-src *")
    );

    let prod = app(
        dir.path(),
        Config::for_profile(Profile::Production).set("secret_key", "s".repeat(40)),
    )
    .await;
    let res = prod.test_client().get("/").send().await;
    assert_eq!(
        res.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );

    let custom = app(
        dir.path(),
        Config::testing()
            .set("security.frame_options", "DENY")
            .set("security.content_security_policy", ""),
    )
    .await;
    let res = custom.test_client().get("/").send().await;
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header("content-security-policy"), None);
}

#[tokio::test]
async fn templates_autoescape_and_build_urls() {
    let dir = site();
    let app = app(dir.path(), Config::testing()).await;
    let text = app.test_client().get("/").send().await.text();
    assert!(text.contains("<p>&lt;b&gt;x&lt;&#x2f;b&gt;</p>"), "{text}");
    assert!(text.contains(r#"href="/posts/7?q=a%20b""#), "{text}");
    assert_eq!(
        app.state().url_for("post", &[("id", "3")]).unwrap(),
        "/posts/3"
    );
}

#[tokio::test]
async fn templates_reload_in_development_only() {
    async fn home(app: &App) -> String {
        app.test_client().get("/").send().await.text()
    }
    let dir = site();
    let dev = app(dir.path(), Config::for_profile(Profile::Development)).await;
    let test = app(dir.path(), Config::testing()).await;
    assert!(home(&dev).await.starts_with("<p>"));
    assert!(home(&test).await.starts_with("<p>"));
    write(
        dir.path(),
        "templates/page.html",
        "<div>changed {{ name }}</div>",
    );
    assert!(home(&dev).await.starts_with("<div>changed"));
    assert!(
        home(&test).await.starts_with("<p>"),
        "testing caches templates"
    );
}

#[tokio::test]
async fn errors_are_json_for_api_clients_and_html_for_browsers() {
    let dir = site();
    let app = app(dir.path(), Config::testing()).await;
    let client = app.test_client();
    let api = client.get("/gone").send().await;
    assert_eq!(api.status(), 404);
    assert_eq!(api.header("content-type"), Some("application/json"));
    let body: serde_json::Value = api.json();
    assert_eq!(body["reason"], "no such post");

    let page = client
        .get("/gone")
        .header("accept", "text/html,*/*")
        .send()
        .await;
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.text()
            .contains("<h1>404 Not Found</h1><p>no such post</p>"),
        "{}",
        page.text()
    );

    // A plain-text error from a handler or axum becomes a page too.
    let teapot = client.get("/teapot").send().await;
    assert_eq!(teapot.status(), 418);
    assert_eq!(
        teapot.json::<serde_json::Value>()["reason"],
        "short and stout"
    );

    // The app's own error template wins over the built-in page.
    write(
        dir.path(),
        "templates/errors/404.html",
        "custom {{ status }}: {{ reason }}",
    );
    let app2 = self::app(dir.path(), Config::testing()).await;
    let page = app2
        .test_client()
        .get("/nowhere")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(page.text(), "custom 404: no route for GET &#x2f;nowhere");
}

#[tokio::test]
async fn custom_error_handlers_per_status() {
    let app = App::builder(Config::testing())
        .error_handler(http::StatusCode::NOT_FOUND, |ctx| {
            (ctx.status(), format!("lost: {}", ctx.path())).into_response()
        })
        .build()
        .await
        .unwrap();
    let res = app.test_client().get("/x/y").send().await;
    assert_eq!(
        (res.status().as_u16(), res.text()),
        (404, "lost: /x/y".to_owned())
    );
}

#[tokio::test]
async fn panics_are_500s_that_leak_nothing_unless_debug_is_on() {
    let dir = site();
    let dev = app(dir.path(), Config::testing().set("debug", true)).await;
    let res = dev.test_client().get("/panic").send().await;
    assert_eq!(res.status(), 500);
    assert!(
        res.text().contains("secret internals"),
        "in debug mode the message helps debugging"
    );
    let quiet = app(dir.path(), Config::testing().set("debug", false)).await;
    let res = quiet.test_client().get("/panic").send().await;
    assert_eq!(res.status(), 500);
    assert!(
        !res.text().contains("secret internals"),
        "debug is off: {}",
        res.text()
    );

    let prod = app(
        dir.path(),
        Config::for_profile(Profile::Production).set("secret_key", "s".repeat(40)),
    )
    .await;
    let res = prod
        .test_client()
        .get("/panic")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(res.status(), 500);
    assert!(!res.text().contains("secret internals"), "{}", res.text());
    assert!(res.header("x-request-id").is_some());
    // The app keeps serving.
    assert_eq!(
        prod.test_client().get("/posts/1").send().await.text(),
        "post"
    );
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let dir = site();
    let app = app(dir.path(), Config::testing().set("body_limit", 16)).await;
    let client = app.test_client();
    assert_eq!(client.post("/echo").body("small").send().await.text(), "5");
    let res = client.post("/echo").body(vec![b'x'; 17]).send().await;
    assert_eq!(res.status(), 413);
    assert!(
        res.json::<serde_json::Value>()["reason"]
            .as_str()
            .unwrap()
            .contains("body_limit")
    );
    // Declared up front, refused before the handler runs.
    let res = client
        .post("/echo")
        .header("content-length", "17")
        .body(vec![b'x'; 17])
        .send()
        .await;
    assert_eq!(res.status(), 413);
    let res = client
        .post("/signup")
        .json(&serde_json::json!({"name": "a very long name indeed", "age": 30}))
        .send()
        .await;
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn json_and_form_failures_say_what_is_wrong() {
    let dir = site();
    let app = app(dir.path(), Config::testing()).await;
    let client = app.test_client();
    let ok = client
        .post("/signup")
        .json(&serde_json::json!({"name": "ann", "age": 30}))
        .send()
        .await;
    assert_eq!(ok.text(), "ann 30");

    let malformed = client
        .post("/signup")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await;
    assert_eq!(malformed.status(), 400);
    assert!(
        malformed.json::<serde_json::Value>()["reason"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON")
    );

    let wrong_type = client
        .post("/signup")
        .json(&serde_json::json!({"name": "ann", "age": "old"}))
        .send()
        .await;
    assert_eq!(wrong_type.status(), 422);
    let body: serde_json::Value = wrong_type.json();
    assert!(
        body["fields"]["age"][0]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{body}"
    );

    let missing = client
        .post("/signup")
        .json(&serde_json::json!({"name": "ann"}))
        .send()
        .await;
    assert_eq!(
        missing.json::<serde_json::Value>()["fields"]["age"][0],
        "is required"
    );

    let invalid = client
        .post("/signup")
        .json(&serde_json::json!({"name": "a", "age": 3}))
        .send()
        .await;
    assert_eq!(invalid.status(), 422);
    let body: serde_json::Value = invalid.json();
    assert_eq!(body["fields"]["name"][0], "must be at least 3 characters");
    assert!(
        body["fields"]["age"][0].as_str().unwrap().contains("range"),
        "{body}"
    );

    let not_json = client.post("/signup").form(&[("name", "ann")]).send().await;
    assert_eq!(not_json.status(), 415);

    let form = client
        .post("/signup-form")
        .form(&[("name", "ann"), ("age", "x")])
        .send()
        .await;
    assert_eq!(form.status(), 422);
    assert!(form.json::<serde_json::Value>()["fields"]["age"].is_array());
    let form_html = client
        .post("/signup-form")
        .header("accept", "text/html")
        .form(&[("name", "ann")])
        .send()
        .await;
    assert!(
        form_html
            .text()
            .contains("<li><b>age</b>: is required</li>"),
        "{}",
        form_html.text()
    );
}

#[tokio::test]
async fn request_ids_are_made_or_kept() {
    let dir = site();
    let app = app(dir.path(), Config::testing()).await;
    let client = app.test_client();
    let res = client.get("/id").send().await;
    assert_eq!(res.header("x-request-id").unwrap(), res.text());
    let res = client
        .get("/id")
        .header("x-request-id", "edge-42")
        .send()
        .await;
    assert_eq!(
        (res.text(), res.header("x-request-id")),
        ("edge-42".to_owned(), Some("edge-42"))
    );
    let res = client
        .get("/id")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await;
    assert_ne!(res.text(), "bad id with spaces");
}

#[tokio::test]
async fn static_files_have_validators_and_never_leave_the_folder() {
    let dir = site();
    std::os::unix::fs::symlink(
        dir.path().join("outside.txt"),
        dir.path().join("static/escape.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("static/site.css"),
        dir.path().join("static/alias.css"),
    )
    .unwrap();
    let app = app(
        dir.path(),
        Config::for_profile(Profile::Production).set("secret_key", "s".repeat(40)),
    )
    .await;
    let client = app.test_client();

    let css = client.get("/static/site.css").send().await;
    assert_eq!(
        (css.status().as_u16(), css.text()),
        (200, "body{}".to_owned())
    );
    assert_eq!(css.header("content-type"), Some("text/css"));
    assert_eq!(css.header("cache-control"), Some("public, max-age=3600"));
    assert!(css.header("last-modified").is_some());
    let etag = css.header("etag").unwrap().to_owned();
    let again = client
        .get("/static/site.css")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status(), 304);
    assert!(again.bytes().is_empty());

    assert_eq!(
        client.get("/static/alias.css").send().await.status(),
        200,
        "symlinks inside the folder are fine"
    );
    for bad in [
        "/static/.env",
        "/static/../outside.txt",
        "/static/%2e%2e/outside.txt",
        "/static/escape.txt",
        "/static/nope.css",
        "/static/",
    ] {
        let res = client.get(bad).send().await;
        assert_eq!(res.status(), 404, "{bad}: {}", res.text());
        assert!(
            !res.text().contains("private") && !res.text().contains("SECRET"),
            "{bad}"
        );
    }
    let res = client.get("/static/..%2Foutside.txt").send().await;
    assert_eq!(res.status(), 404);
    assert!(
        res.json::<serde_json::Value>()["reason"]
            .as_str()
            .unwrap()
            .contains("`..`")
    );
}
