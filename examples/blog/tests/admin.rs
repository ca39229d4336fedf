//! The admin panel through HTTP, as a browser without JavaScript uses it:
//! sign-in (refused, throttled, expired), lists (search, filter, sort,
//! pages), forms (errors beside fields, values kept), edit conflicts,
//! deletion, bulk actions, CSV export, permissions (403), CSRF, the audit
//! log and revert.

use phial::admin::{assign_role, create_role, create_user};
use phial::orm::Db;
use phial::testing::{TestClient, TestResponse};
use phial::{App, Config};
use serde_json::{Value, json};

mod common;
use common::TOKEN;

async fn app(dir: &tempfile::TempDir) -> App {
    common::blog_app(dir, |c| c.set("auth.attempts", 3)).await
}

async fn sign_in(http: &TestClient, user: &str, password: &str) -> u16 {
    let form = http.get("/admin/login").send().await;
    let token = form.csrf_token().expect("the login form has a CSRF field");
    let res = http
        .post("/admin/login")
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", user),
            ("password", password),
            ("next", "/admin/"),
        ])
        .send()
        .await;
    res.status().as_u16()
}

/// Posts a form from the page at `page` (its CSRF token) with `fields`.
async fn submit(
    http: &TestClient,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    let form = http.get(page).send().await;
    assert_eq!(form.status(), 200, "{page}: {}", form.text());
    let token = form.csrf_token().expect("the page has a CSRF field");
    let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    http.post(action).form(&all).send().await
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
async fn anonymous_visitors_are_sent_to_sign_in_and_wrong_passwords_refused() {
    let (_dir, _app, http) = setup().await;
    let res = http.get("/admin/").send().await;
    assert_eq!(res.status(), 303, "{}", res.text());
    assert!(
        res.header("location")
            .unwrap()
            .starts_with("/admin/login?next=%2Fadmin%2F")
    );
    let page = http.get("/admin/login").send().await;
    let html = page.text();
    for field in [
        "name=\"username\"",
        "name=\"password\"",
        "name=\"csrf_token\"",
    ] {
        assert!(html.contains(field), "{field} missing: {html}");
    }
    assert_eq!(sign_in(&http, "root", "wrong password").await, 401);
    assert_eq!(http.get("/admin/post/").send().await.status(), 303);
    // Throttled after the limit, even with the right password.
    assert_eq!(sign_in(&http, "root", "wrong again").await, 401);
    assert_eq!(sign_in(&http, "root", "and again").await, 401);
    assert_eq!(sign_in(&http, "root", "correct horse battery").await, 429);
}

#[tokio::test]
async fn a_superuser_lists_searches_filters_sorts_and_pages() {
    let (_dir, app, http) = setup().await;
    let (published, draft) = common::seed(&app, TOKEN).await;
    assert_eq!(sign_in(&http, "root", "correct horse battery").await, 303);
    let dash = http.get("/admin/").send().await;
    assert_eq!(dash.status(), 200);
    assert!(dash.text().contains("Posts"), "{}", dash.text());
    // The blog's own page is in the menu, and renders in the layout.
    assert!(dash.text().contains("Statistics"));
    let stats = http.get("/admin/pages/stats").send().await.text();
    assert!(stats.contains("Published posts</dt><dd>1</dd>"), "{stats}");
    let list = http.get("/admin/post/").send().await.text();
    assert!(
        list.contains(&format!("data-key=\"{published}\"")),
        "{list}"
    );
    assert!(list.contains(&format!("data-key=\"{draft}\"")));
    assert!(
        list.contains("Ada"),
        "the author's name stands for author_id: {list}"
    );
    let only_drafts = http.get("/admin/post/?published=false").send().await.text();
    assert!(only_drafts.contains(&format!("data-key=\"{draft}\"")));
    assert!(!only_drafts.contains(&format!("data-key=\"{published}\"")));
    // The admin's first filter form redirects to the same list in the
    // API's grammar.
    let old = http.get("/admin/post/?f.published=false").send().await;
    assert_eq!(old.status(), 308);
    assert_eq!(
        old.header("location").unwrap(),
        "/admin/post/?published=false"
    );
    // Mistakes are a 400 naming the parameter (the list's own query
    // layer: the API answers the same).
    for (query, reason) in [
        (
            "published=maybe",
            "`published` must be true or false, not `maybe`",
        ),
        ("sort=body", "cannot sort on `body`"),
    ] {
        let bad = http.get(&format!("/admin/post/?{query}")).send().await;
        assert_eq!(bad.status(), 400, "{query}");
        let bad = bad.text();
        assert!(bad.contains(reason), "{query}: {bad}");
    }
    // Search and pages on more rows.
    let auth = format!("Bearer {TOKEN}");
    for i in 0..30 {
        let res = http
            .post("/api/posts")
            .header("authorization", &auth)
            .json(&json!({"author_id": 1, "title": format!("needle {i:02}"), "body": "b"}))
            .send()
            .await;
        assert_eq!(res.status(), 201);
    }
    let found = http
        .get("/admin/post/?q=NEEDLE&sort=title")
        .send()
        .await
        .text();
    assert!(found.contains("30 posts"), "{found}");
    let first = found.find("needle 00").expect("sorted by title");
    assert!(found.find("needle 01").unwrap() > first);
    assert!(!found.contains("needle 29"), "25 a page");
    let page2 = http
        .get("/admin/post/?q=needle&sort=title&page=2")
        .send()
        .await
        .text();
    assert!(page2.contains("needle 29") && !page2.contains("needle 00"));
    let desc = http
        .get("/admin/post/?q=needle&sort=-title")
        .send()
        .await
        .text();
    assert!(desc.find("needle 29").unwrap() < desc.find("needle 28").unwrap());
}

#[tokio::test]
async fn forms_keep_what_was_typed_and_show_errors_beside_fields() {
    let (_dir, app, http) = setup().await;
    common::seed(&app, TOKEN).await;
    assert_eq!(sign_in(&http, "root", "correct horse battery").await, 303);
    let long = "x".repeat(201);
    let res = submit(
        &http,
        "/admin/post/new",
        "/admin/post/new",
        &[
            ("title", long.as_str()),
            ("body", "my body text"),
            ("author_id", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text();
    assert!(html.contains("id=\"e-title\""), "{html}");
    assert!(html.contains("at most 200"), "{html}");
    assert!(
        html.contains("my body text"),
        "what was typed stays: {html}"
    );
    let res = submit(
        &http,
        "/admin/post/new",
        "/admin/post/new",
        &[
            ("title", "Hello admin"),
            ("body", "text"),
            ("author_id", "1"),
            ("published", "false"),
            ("published", "true"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let detail_url = res.header("location").unwrap().to_owned();
    let detail = http.get(&detail_url).send().await.text();
    assert!(detail.contains("Hello admin"), "{detail}");
    let api: Value = http.get("/api/posts?q=Hello%20admin").send().await.json();
    assert_eq!(api["items"][0]["published"], true, "{api}");
    // The audit log holds the creation with every field.
    let log = http.get("/admin/log").send().await.text();
    assert!(
        log.contains("Hello admin") && log.contains("create"),
        "{log}"
    );
}

#[tokio::test]
async fn a_save_over_a_newer_change_shows_both_and_overwrites_nothing() {
    let (_dir, app, http) = setup().await;
    let (published, _) = common::seed(&app, TOKEN).await;
    assert_eq!(sign_in(&http, "root", "correct horse battery").await, 303);
    let edit_url = format!("/admin/post/{published}/edit");
    let form = http.get(&edit_url).send().await;
    let html = form.text();
    let token = form.csrf_token().unwrap();
    let at = html.find("name=\"_version\" value=\"").unwrap() + 23;
    let version = html[at..at + 32].to_owned();
    // Someone else saves first, through the API.
    let res = http
        .patch(&format!("/api/posts/{published}"))
        .header("authorization", &format!("Bearer {TOKEN}"))
        .json(&json!({"title": "theirs"}))
        .send()
        .await;
    assert_eq!(res.status(), 200);
    let res = http
        .post(&edit_url)
        .form(&[
            ("csrf_token", token.as_str()),
            ("_version", version.as_str()),
            ("title", "mine"),
            ("body", "b"),
            ("author_id", "1"),
            ("published", "true"),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 409);
    let page = res.text();
    assert!(page.contains("theirs") && page.contains("mine"), "{page}");
    let api: Value = http
        .get(&format!("/api/posts/{published}"))
        .send()
        .await
        .json();
    assert_eq!(api["title"], "theirs", "nothing was overwritten");
    // Saving mine over theirs, knowingly, carries the new version.
    let token = res.csrf_token().unwrap();
    let at = page.find("name=\"_version\" value=\"").unwrap() + 23;
    let newer = page[at..at + 32].to_owned();
    let res = http
        .post(&edit_url)
        .form(&[
            ("csrf_token", token.as_str()),
            ("_version", newer.as_str()),
            ("title", "mine"),
            ("body", "b"),
            ("author_id", "1"),
            ("published", "true"),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let api: Value = http
        .get(&format!("/api/posts/{published}"))
        .send()
        .await
        .json();
    assert_eq!(api["title"], "mine");
    // The change is logged with its diff, and reverts in one click.
    // (minijinja escapes `/` in attributes as `&#x2f;`)
    let log = http
        .get(&format!("/admin/post/{published}/history"))
        .send()
        .await
        .text()
        .replace("&#x2f;", "/");
    let at = log.find("/admin/log/").unwrap_or_else(|| panic!("{log}"));
    let entry_url: String = log[at..].chars().take_while(|c| *c != '"').collect();
    let entry = http.get(&entry_url).send().await.text();
    assert!(
        entry.contains("theirs") && entry.contains("mine"),
        "{entry}"
    );
    let res = submit(&http, &entry_url, &format!("{entry_url}/revert"), &[]).await;
    assert_eq!(res.status(), 303);
    let api: Value = http
        .get(&format!("/api/posts/{published}"))
        .send()
        .await
        .json();
    assert_eq!(api["title"], "theirs", "reverted");
}

#[tokio::test]
async fn deletes_confirm_first_and_bulk_actions_and_export_work() {
    let (_dir, app, http) = setup().await;
    let (published, draft) = common::seed(&app, TOKEN).await;
    assert_eq!(sign_in(&http, "root", "correct horse battery").await, 303);
    let res = http
        .post("/api/comments")
        .header("authorization", &format!("Bearer {TOKEN}"))
        .json(&json!({"post_id": published, "author_name": "Bob", "body": "hi"}))
        .send()
        .await;
    assert_eq!(res.status(), 201);
    let confirm = http
        .get(&format!("/admin/post/{published}/delete"))
        .send()
        .await
        .text();
    assert!(
        confirm.contains("Comments") && confirm.contains("Bob"),
        "related rows listed: {confirm}"
    );
    // Publish the draft with the custom action.
    let draft_s = draft.to_string();
    let res = submit(
        &http,
        "/admin/post/",
        "/admin/post/bulk",
        &[
            ("action", "publish"),
            ("_selected", draft_s.as_str()),
            ("back", "?"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let api: Value = http.get(&format!("/api/posts/{draft}")).send().await.json();
    assert_eq!(api["published"], true);
    // CSV of the filtered list.
    let csv = http
        .get("/admin/post/export.csv?published=true")
        .send()
        .await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    assert!(
        text.starts_with("id,author_id,title,body,published,created_at\r\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");
    // Bulk delete asks first, then deletes.
    let pub_s = published.to_string();
    let ask = submit(
        &http,
        "/admin/post/",
        "/admin/post/bulk",
        &[("action", "delete"), ("_selected", pub_s.as_str())],
    )
    .await;
    assert_eq!(ask.status(), 200);
    assert!(ask.text().contains("Yes, delete them"));
    assert_eq!(
        http.get(&format!("/api/posts/{published}"))
            .send()
            .await
            .status(),
        200,
        "not yet"
    );
    let token = ask.csrf_token().unwrap();
    let res = http
        .post("/admin/post/bulk")
        .form(&[
            ("csrf_token", token.as_str()),
            ("action", "delete"),
            ("confirm", "yes"),
            ("_selected", pub_s.as_str()),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        http.get(&format!("/api/posts/{published}"))
            .send()
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn staff_without_a_permission_are_refused_and_forms_need_csrf() {
    let (_dir, app, http) = setup().await;
    let (published, _) = common::seed(&app, TOKEN).await;
    let db = Db::from_state(app.state()).unwrap();
    create_user(&db, "viewer", "correct horse battery", false)
        .await
        .unwrap();
    create_role(&db, "readers", "post.view").await.unwrap();
    assign_role(&db, "viewer", "readers").await.unwrap();
    assert_eq!(sign_in(&http, "viewer", "correct horse battery").await, 303);
    let list = http.get("/admin/post/").send().await;
    assert_eq!(list.status(), 200);
    let html = list.text();
    assert!(
        !html.contains("+ Add post") && !html.contains("/admin/author/"),
        "hidden: {html}"
    );
    assert_eq!(http.get("/admin/author/").send().await.status(), 403);
    assert_eq!(http.get("/admin/post/new").send().await.status(), 403);
    // A page that needs post.view: this viewer has it.
    assert_eq!(http.get("/admin/pages/stats").send().await.status(), 200);
    let edit = http
        .get(&format!("/admin/post/{published}/edit"))
        .send()
        .await;
    assert_eq!(edit.status(), 403);
    assert!(
        edit.text().contains("post.change"),
        "the page names the permission"
    );
    // A form without its CSRF token is refused whoever sends it.
    let res = http
        .post(&format!("/admin/post/{published}/delete"))
        .form(&[("x", "y")])
        .send()
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().contains("CSRF"));
}

#[tokio::test]
async fn live_pages_watch_only_what_staff_may_view() {
    use phial::socket::testing::SocketClient;
    let (_dir, app, http) = setup().await;
    common::seed(&app, TOKEN).await;
    // Not signed in to the admin: refused at connect.
    assert!(SocketClient::connect(&http, "/phial-admin").await.is_err());
    let db = Db::from_state(app.state()).unwrap();
    create_user(&db, "viewer", "correct horse battery", false)
        .await
        .unwrap();
    create_role(&db, "readers", "post.view").await.unwrap();
    assign_role(&db, "viewer", "readers").await.unwrap();
    assert_eq!(sign_in(&http, "viewer", "correct horse battery").await, 303);
    let live = SocketClient::connect(&http, "/phial-admin").await.unwrap();
    let ok: Value = live.emit_with_ack("watch", &json!("post")).await.unwrap();
    assert_eq!(ok["ok"], true, "{ok}");
    let refused: Value = live
        .emit_with_ack("watch", &json!("comment"))
        .await
        .unwrap();
    assert!(
        refused["error"].is_string(),
        "no comment.view grant: {refused}"
    );
    let res = http
        .post("/api/posts")
        .header("authorization", &format!("Bearer {TOKEN}"))
        .json(&json!({"author_id": 1, "title": "fresh", "body": "b"}))
        .send()
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>()["id"].clone();
    let event = live.recv_event("changed").await.unwrap();
    let change: Value = event.arg(0);
    assert_eq!(change["table"], "post");
    assert_eq!(change["keys"], json!([id]));
}

#[tokio::test]
async fn superusers_edit_roles_and_staff_in_the_panel() {
    let (_dir, app, http) = setup().await;
    common::seed(&app, TOKEN).await;
    assert_eq!(sign_in(&http, "root", "correct horse battery").await, 303);
    let page = http.get("/admin/access/roles/new").send().await.text();
    assert!(
        page.contains("value=\"post.change\""),
        "the matrix lists the models: {page}"
    );
    let res = submit(
        &http,
        "/admin/access/roles/new",
        "/admin/access/roles/new",
        &[
            ("name", "editors"),
            ("grant", "post.view"),
            ("grant", "post.change"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let roles = http.get("/admin/access/roles/").send().await.text();
    assert!(
        roles.contains("editors") && roles.contains("post.change"),
        "{roles}"
    );
    let role_id = "1"; // the first role of a fresh database
    let res = submit(
        &http,
        "/admin/access/users/new",
        "/admin/access/users/new",
        &[
            ("username", "eve"),
            ("password", "short"),
            ("superuser", "false"),
            ("role", role_id),
        ],
    )
    .await;
    assert_eq!(res.status(), 422, "a short password is refused");
    assert!(res.text().contains("too short"));
    let res = submit(
        &http,
        "/admin/access/users/new",
        "/admin/access/users/new",
        &[
            ("username", "eve"),
            ("password", "correct horse battery"),
            ("superuser", "false"),
            ("role", role_id),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    // A superuser cannot lock themselves out.
    let users = http.get("/admin/access/users/").send().await.text();
    assert!(
        users.contains("eve") && users.contains("editors"),
        "{users}"
    );
    let res = submit(
        &http,
        "/admin/access/users/1",
        "/admin/access/users/1",
        &[("superuser", "false"), ("active", "true")],
    )
    .await;
    assert_eq!(res.status(), 422);
    // The new staff user: posts yes, authors no, this page no.
    let eve = app.test_client();
    assert_eq!(sign_in(&eve, "eve", "correct horse battery").await, 303);
    assert_eq!(eve.get("/admin/post/").send().await.status(), 200);
    assert_eq!(eve.get("/admin/post/1/edit").send().await.status(), 200);
    assert_eq!(eve.get("/admin/post/1/delete").send().await.status(), 403);
    assert_eq!(eve.get("/admin/author/").send().await.status(), 403);
    assert_eq!(eve.get("/admin/access/users/").send().await.status(), 403);
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
