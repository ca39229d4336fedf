//! Blueprints: prefixed routes, endpoint names, their own templates and
//! static folder, and the app overriding a blueprint's template.

use phial_core::routing::get;
use phial_core::{App, Blueprint, Config, HttpError, Templates};

fn write(root: &std::path::Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

async fn page(tpl: Templates) -> Result<axum::response::Html<String>, HttpError> {
    tpl.render("blog/index.html", ())
}

fn blog() -> Blueprint {
    Blueprint::new("blog")
        .url_prefix("/blog")
        .route("/", get(page).name("index"))
        .route("/posts/{id}", get(|| async { "post" }).name("show"))
        .template_folder("blog_templates")
        .static_folder("blog_static")
}

#[tokio::test]
async fn blueprint_routes_names_templates_and_static() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "blog_templates/blog/index.html",
        "{{ url_for('blog.show', id=3) }} {{ url_for('blog.static', filename='b.css') }} {{ config.env }}",
    );
    write(dir.path(), "blog_static/b.css", "p{}");
    let app = App::builder(Config::testing())
        .root_path(dir.path())
        .blueprint(blog())
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    let res = client.get("/blog").send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(res.text(), "/blog/posts/3 /blog/static/b.css testing");
    assert_eq!(client.get("/blog/posts/9").send().await.text(), "post");
    assert_eq!(client.get("/blog/static/b.css").send().await.text(), "p{}");
    assert_eq!(
        app.state()
            .url_for("blog.index", &[] as &[(&str, &str)])
            .unwrap(),
        "/blog"
    );
    assert!(
        app.state()
            .url_for("index", &[] as &[(&str, &str)])
            .is_err(),
        "names are prefixed"
    );
    assert!(
        app.state().instance_path().is_dir(),
        "the instance folder is created"
    );
    assert!(app.state().instance_path().starts_with(dir.path()));
}

#[tokio::test]
async fn the_app_overrides_a_blueprint_template() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "blog_templates/blog/index.html",
        "from blueprint",
    );
    write(dir.path(), "templates/blog/index.html", "from app");
    let app = App::builder(Config::testing())
        .root_path(dir.path())
        .blueprint(blog())
        .build()
        .await
        .unwrap();
    assert_eq!(
        app.test_client().get("/blog").send().await.text(),
        "from app"
    );
}

#[tokio::test]
async fn a_missing_template_is_a_500_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::builder(Config::testing())
        .root_path(dir.path())
        .blueprint(blog())
        .build()
        .await
        .unwrap();
    let res = app.test_client().get("/blog").send().await;
    assert_eq!(res.status(), 500);
    assert!(res.text().contains("blog/index.html"), "{}", res.text());
}

#[tokio::test]
async fn undecodable_paths_are_400s() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "blog_static/b.css", "p{}");
    let app = App::builder(Config::testing())
        .root_path(dir.path())
        .blueprint(blog())
        .build()
        .await
        .unwrap();
    let res = app.test_client().get("/blog/static/%FF%FE").send().await;
    assert_eq!(res.status(), 400, "{}", res.text());
    assert!(
        res.json::<serde_json::Value>()["reason"]
            .as_str()
            .unwrap()
            .contains("UTF-8"),
        "{}",
        res.text()
    );
}
