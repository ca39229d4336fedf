//! A Flask developer's page handlers: forms re-rendered with their errors,
//! redirects by endpoint name, any serialisable value in a template, and
//! error pages that extend the site's base template.

use std::path::Path;

use axum::response::{IntoResponse, Response};
use phial_core::routing::get;
use phial_core::{App, Config, HttpError, Session, Submission, Templates, Urls, context};
use serde::{Deserialize, Serialize};
use validator::Validate;

#[derive(Debug, Deserialize, Serialize, Validate)]
struct NewBookmark {
    #[validate(url(message = "must be a URL"))]
    url: String,
    #[validate(length(min = 1, message = "give it a title"))]
    title: String,
    stars: u8,
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

async fn new_form(tpl: Templates) -> Result<impl IntoResponse, HttpError> {
    tpl.render(
        "new.html",
        context! { errors => phial_core::FormErrors::default() },
    )
}

async fn create(
    tpl: Templates,
    urls: Urls,
    session: Session,
    form: Submission<NewBookmark>,
) -> Result<Response, HttpError> {
    match form {
        Submission::Valid(bookmark) => {
            session.flash(format!("saved {}", bookmark.title));
            Ok(urls.redirect("show", &[("id", "7")])?.into_response())
        }
        Submission::Invalid(errors) => {
            let page = tpl.render("new.html", context! { errors })?;
            Ok((http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn show(tpl: Templates) -> Result<impl IntoResponse, HttpError> {
    // Any `Serialize` value goes into `context!`: a struct, a vector of them.
    let bookmarks = vec![NewBookmark {
        url: "https://example.com".into(),
        title: "Example".into(),
        stars: 5,
    }];
    tpl.render("show.html", context! { bookmarks })
}

async fn broken_link(urls: Urls) -> Result<String, HttpError> {
    urls.url_for("no_such_endpoint", &[("id", "1")])
}

async fn site(root: &Path) -> App {
    write(
        root,
        "templates/base.html",
        "<ul>{% for m in get_flashed_messages() %}<li class=flash>{{ m }}</li>{% endfor %}</ul>\
         <main>{% block content %}{% endblock %}</main><footer>{{ request.path }}</footer>",
    );
    write(
        root,
        "templates/new.html",
        "{% extends 'base.html' %}{% block content %}<form method=post>\
         <input name=csrf_token value='{{ csrf_token() }}'>\
         <input name=url value='{{ errors.values.url }}'>\
         {% for e in errors.fields.url %}<b class=err>url: {{ e }}</b>{% endfor %}\
         {% for e in errors.fields.title %}<b class=err>title: {{ e }}</b>{% endfor %}\
         {% for e in errors.fields.stars %}<b class=err>stars: {{ e }}</b>{% endfor %}\
         </form>{% endblock %}",
    );
    write(
        root,
        "templates/show.html",
        "{% extends 'base.html' %}{% block content %}{% for b in bookmarks %}\
         <a href='{{ b.url }}'>{{ b.title }} ({{ b.stars }})</a>{% endfor %}{% endblock %}",
    );
    write(
        root,
        "templates/errors/404.html",
        "{% extends 'base.html' %}{% block content %}<h1>Lost: {{ reason }}</h1>{% endblock %}",
    );
    App::builder(Config::testing().set("csrf.enabled", false))
        .root_path(root)
        .route("/new", get(new_form).post(create).name("new"))
        .route("/bookmarks/{id}", get(show).name("show"))
        .route("/broken", get(broken_link))
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_invalid_form_comes_back_with_messages_by_field_and_the_values_typed() {
    let dir = tempfile::tempdir().unwrap();
    let app = site(dir.path()).await;
    let client = app.test_client();
    assert_eq!(client.get("/new").send().await.status(), 200);

    let res = client
        .post("/new")
        .form(&[("url", "not a url"), ("title", ""), ("stars", "5")])
        .send()
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text();
    assert!(html.contains("url: must be a URL"), "{html}");
    assert!(html.contains("title: give it a title"), "{html}");
    assert!(
        html.contains("value='not a url'"),
        "the typed value comes back: {html}"
    );
    assert!(html.contains("new</footer>"), "{html}");

    // A value of the wrong type is a message on its field too, not a 4xx page.
    let res = client
        .post("/new")
        .form(&[
            ("url", "https://example.com"),
            ("title", "x"),
            ("stars", "many"),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().contains("stars: "), "{}", res.text());
}

#[tokio::test]
async fn a_valid_form_redirects_by_endpoint_name_and_flashes() {
    let dir = tempfile::tempdir().unwrap();
    let app = site(dir.path()).await;
    let client = app.test_client();
    let res = client
        .post("/new")
        .form(&[
            ("url", "https://example.com"),
            ("title", "Example"),
            ("stars", "5"),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.header("location"), Some("/bookmarks/7"));
    let page = client.get("/bookmarks/7").send().await.text();
    assert!(
        page.contains("<li class=flash>saved Example</li>"),
        "{page}"
    );
    assert!(
        page.contains("example.com'>Example (5)</a>"),
        "a vector of structs renders: {page}"
    );
}

#[tokio::test]
async fn a_wrong_endpoint_name_is_a_500_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = site(dir.path()).await;
    let res = app.test_client().get("/broken").send().await;
    assert_eq!(res.status(), 500);
    assert!(res.text().contains("no_such_endpoint"), "{}", res.text());
}

#[tokio::test]
async fn an_error_page_extends_the_base_with_flashes_and_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let app = site(dir.path()).await;
    let client = app.test_client();
    client
        .post("/new")
        .form(&[
            ("url", "https://example.com"),
            ("title", "Kept"),
            ("stars", "1"),
        ])
        .send()
        .await;
    let res = client
        .get("/nowhere")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(res.status(), 404);
    let html = res.text();
    assert!(html.contains("<h1>Lost:"), "the app's template: {html}");
    assert!(
        html.contains("<li class=flash>saved Kept</li>"),
        "flashes show on the error page: {html}"
    );
    assert!(html.contains("nowhere</footer>"), "{html}");
}
