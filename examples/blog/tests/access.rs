//! One permission model, tried from outside the way the issue found it
//! broken: the same staff cookie at the admin and at the API, an author
//! writing outside their rows, drafts and emails at every door, an author
//! deleted with what refers to it and restored by a revert, staff changes
//! in the log, and the inputs that were 500s. Every refusal has its
//! control: the same request from a caller who may make it succeeds.

use blog::entities::{author, comment, post};
use phial::admin::{assign_role, create_role, create_user};
use phial::orm::Db;
use phial::testing::TestClient;
use phial::{App, Config};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

mod common;
use common::submit;

const TOKEN: &str = "access-test-token";
const PASSWORD: &str = "correct horse battery";

struct World {
    app: App,
    db: Db,
    _dir: tempfile::TempDir,
    ada: i32,
    bob: i32,
    ada_pub: i32,
    ada_draft: i32,
    bob_pub: i32,
    bob_draft: i32,
    /// A comment on Ada's published post.
    comment: i32,
}

/// The blog on a fresh SQLite database: two authors (Ada, Bob) with a
/// published post and a draft each, a comment on each published post, and
/// the superuser `root`.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("blog.sqlite").display());
    let app = blog::create_app(
        Config::testing()
            .set("database.url", url)
            .set("blog.api_token", TOKEN),
    )
    .await
    .expect("the blog builds");
    let db = Db::from_state(app.state()).unwrap();
    let hash = phial::password::hash(PASSWORD).await.unwrap();
    let mut authors = Vec::new();
    for (name, email) in [("Ada", "ada@example.com"), ("Bob", "bob@example.com")] {
        let a = db
            .insert(author::ActiveModel {
                name: Set(name.into()),
                email: Set(email.into()),
                password_hash: Set(hash.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        authors.push(a.id);
    }
    let mut posts = Vec::new();
    for a in &authors {
        for published in [true, false] {
            let p = db
                .insert(post::ActiveModel {
                    author_id: Set(*a),
                    title: Set(format!("post of {a} ({published})")),
                    body: Set(format!("body of {a} ({published})")),
                    published: Set(published),
                    created_at: Set(chrono::Utc::now()),
                    ..Default::default()
                })
                .await
                .unwrap();
            posts.push(p.id);
        }
    }
    let mut comments = Vec::new();
    for p in [posts[0], posts[2]] {
        let c = db
            .insert(comment::ActiveModel {
                post_id: Set(p),
                author_name: Set("Grace".into()),
                body: Set("Nice".into()),
                created_at: Set(chrono::Utc::now()),
                ..Default::default()
            })
            .await
            .unwrap();
        comments.push(c.id);
    }
    create_user(&db, "root", PASSWORD, true).await.unwrap();
    World {
        app,
        db,
        _dir: dir,
        ada: authors[0],
        bob: authors[1],
        ada_pub: posts[0],
        ada_draft: posts[1],
        bob_pub: posts[2],
        bob_draft: posts[3],
        comment: comments[0],
    }
}

/// A client signed in to the admin as `user`.
async fn staff(w: &World, user: &str) -> TestClient {
    let http = w.app.test_client();
    let res = submit(
        &http,
        "/admin/login",
        "/admin/login",
        &[
            ("username", user),
            ("password", PASSWORD),
            ("next", "/admin/"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{user} signs in: {}", res.text());
    http
}

/// A client signed in at `/login` as the author with `email`.
async fn author(w: &World, email: &str) -> TestClient {
    let http = w.app.test_client();
    let res = submit(
        &http,
        "/login",
        "/login",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303, "{email} signs in: {}", res.text());
    http
}

/// A staff user with one role granting `grants` (a role named `role`).
async fn staff_user(w: &World, name: &str, role: &str, grants: &str) -> TestClient {
    create_user(&w.db, name, PASSWORD, false).await.unwrap();
    create_role(&w.db, role, grants).await.unwrap();
    assign_role(&w.db, name, role).await.unwrap();
    staff(w, name).await
}

async fn title_of(w: &World, id: i32) -> String {
    post::Entity::find_by_id(id)
        .one(w.db.conn())
        .await
        .unwrap()
        .unwrap()
        .title
}

#[tokio::test]
async fn a_staff_grant_means_the_same_in_the_admin_and_the_api() {
    let w = world().await;
    // The caller: a role granting only `comment.view`.
    let viewer = staff_user(&w, "viewer", "comment-readers", "comment.view").await;
    let res = viewer.get("/admin/post/").send().await;
    assert_eq!(res.status(), 403, "the admin refuses posts");
    let patch = json!({"title": "hijacked"});
    let url = format!("/api/posts/{}", w.ada_pub);
    let res = viewer.patch(&url).json(&patch).send().await;
    assert_eq!(res.status(), 403, "and so does the API: {}", res.text());
    assert!(res.text().contains("post.change"), "{}", res.text());
    assert_ne!(title_of(&w, w.ada_pub).await, "hijacked");
    let res = viewer
        .delete(&format!("/api/authors/{}", w.ada))
        .send()
        .await;
    assert_eq!(res.status(), 403, "{}", res.text());
    // Drafts are not theirs to read either (no `post.view`).
    let res = viewer
        .get(&format!("/api/posts/{}", w.ada_draft))
        .send()
        .await;
    assert_eq!(res.status(), 404);
    // Deleting a comment needs `comment.delete` (or the moderator role).
    let res = viewer
        .delete(&format!("/api/comments/{}", w.comment))
        .send()
        .await;
    assert_eq!(res.status(), 403, "{}", res.text());

    // Controls: an editor with the grants does both, the same way.
    let editor = staff_user(&w, "editor", "editors", "post.view post.change").await;
    assert_eq!(editor.get("/admin/post/").send().await.status(), 200);
    let res = editor.patch(&url).json(&patch).send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(title_of(&w, w.ada_pub).await, "hijacked");
    let res = editor
        .get(&format!("/api/posts/{}", w.ada_draft))
        .send()
        .await;
    assert_eq!(res.status(), 200, "post.view reads drafts");
    // A moderator deletes comments without the grant: the policy says so.
    let moderator = staff_user(&w, "mo", "moderator", "").await;
    let res = moderator
        .delete(&format!("/api/comments/{}", w.comment))
        .send()
        .await;
    assert_eq!(res.status(), 204, "{}", res.text());

    // A superuser may delete an author, but not silently with her posts:
    // the API names them (the admin lists and logs them).
    let root = staff(&w, "root").await;
    let res = root.delete(&format!("/api/authors/{}", w.ada)).send().await;
    assert_eq!(res.status(), 409, "{}", res.text());
    assert!(res.text().contains("`post`"), "{}", res.text());
    assert!(
        author::Entity::find_by_id(w.ada)
            .one(w.db.conn())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn an_author_writes_inside_their_own_rows_only() {
    let w = world().await;
    let ada = author(&w, "ada@example.com").await;
    let bobs_posts = || async {
        post::Entity::find()
            .filter(post::Column::AuthorId.eq(w.bob))
            .count(w.db.conn())
            .await
            .unwrap()
    };
    let before = bobs_posts().await;
    let res = ada
        .post("/api/posts")
        .json(&json!({"author_id": w.bob, "title": "in Bob's name", "body": "b"}))
        .send()
        .await;
    assert_eq!(
        res.status(),
        403,
        "a post for another author: {}",
        res.text()
    );
    assert_eq!(bobs_posts().await, before, "nothing was written");
    let res = ada
        .post("/api/posts")
        .json(&json!({"author_id": w.ada, "title": "mine", "body": "b"}))
        .send()
        .await;
    assert_eq!(res.status(), 201, "control: her own: {}", res.text());

    // Moving her post to Bob is writing outside her rows.
    let mine = format!("/api/posts/{}", w.ada_pub);
    let res = ada
        .patch(&mine)
        .json(&json!({"author_id": w.bob}))
        .send()
        .await;
    assert_eq!(res.status(), 403, "{}", res.text());
    assert_eq!(bobs_posts().await, before);
    let res = ada
        .patch(&mine)
        .json(&json!({"title": "renamed"}))
        .send()
        .await;
    assert_eq!(res.status(), 200, "control: {}", res.text());
    // Bob's published post: she sees it (403), his draft she does not (404).
    let res = ada
        .patch(&format!("/api/posts/{}", w.bob_pub))
        .json(&json!({"title": "x"}))
        .send()
        .await;
    assert_eq!(res.status(), 403, "{}", res.text());
    let res = ada
        .patch(&format!("/api/posts/{}", w.bob_draft))
        .json(&json!({"title": "x"}))
        .send()
        .await;
    assert_eq!(res.status(), 404, "{}", res.text());
    let res = ada
        .delete(&format!("/api/posts/{}", w.bob_pub))
        .send()
        .await;
    assert_eq!(res.status(), 403);
    // Her own record, not Bob's.
    let res = ada
        .patch(&format!("/api/authors/{}", w.bob))
        .json(&json!({"name": "Mallory"}))
        .send()
        .await;
    assert_eq!(res.status(), 403, "{}", res.text());
    let res = ada
        .patch(&format!("/api/authors/{}", w.ada))
        .json(&json!({"name": "Ada L."}))
        .send()
        .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    // The same rule through the bulk endpoint: all or nothing.
    let res = ada
        .post("/api/posts/bulk")
        .json(&json!([
            {"author_id": w.ada, "title": "one", "body": "b"},
            {"author_id": w.bob, "title": "two", "body": "b"}
        ]))
        .send()
        .await;
    assert_eq!(res.status(), 403, "{}", res.text());
    assert_eq!(bobs_posts().await, before);
    assert_eq!(
        post::Entity::find()
            .filter(post::Column::Title.eq("one"))
            .count(w.db.conn())
            .await
            .unwrap(),
        0,
        "the batch left nothing"
    );
}

#[tokio::test]
async fn drafts_and_emails_stay_with_those_who_may_see_them_on_every_door() {
    let w = world().await;
    let anon = w.app.test_client();
    let draft_page = format!("/posts/{}", w.ada_draft);
    assert_eq!(anon.get(&draft_page).send().await.status(), 404);
    assert_eq!(
        anon.get(&format!("/api/posts/{}", w.ada_draft))
            .send()
            .await
            .status(),
        404
    );
    let ada = author(&w, "ada@example.com").await;
    let res = ada.get(&draft_page).send().await;
    assert_eq!(res.status(), 200, "her own draft");
    assert!(res.text().contains(&format!("body of {} (false)", w.ada)));
    let bob = author(&w, "bob@example.com").await;
    assert_eq!(bob.get(&draft_page).send().await.status(), 404);

    // Comments: on a published post, yes; on a draft, not for anonymous
    // readers; its author may.
    let db = w.db.clone();
    let comments_on = |p: i32| {
        let db = db.clone();
        async move {
            comment::Entity::find()
                .filter(comment::Column::PostId.eq(p))
                .count(db.conn())
                .await
                .unwrap()
        }
    };
    let fields = [("author_name", "Eve"), ("body", "first!")];
    let published_page = format!("/posts/{}", w.ada_pub);
    let res = submit(
        &anon,
        &published_page,
        &format!("/posts/{}/comments", w.ada_draft),
        &fields,
    )
    .await;
    assert_eq!(res.status(), 404, "{}", res.text());
    assert_eq!(comments_on(w.ada_draft).await, 0);
    let res = submit(
        &anon,
        &published_page,
        &format!("/posts/{}/comments", w.ada_pub),
        &fields,
    )
    .await;
    assert_eq!(res.status(), 303, "control: {}", res.text());
    let res = submit(
        &ada,
        &draft_page,
        &format!("/posts/{}/comments", w.ada_draft),
        &fields,
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    assert_eq!(comments_on(w.ada_draft).await, 1);
    // Through the API too: Bob may not comment on Ada's draft.
    let res = bob
        .post("/api/comments")
        .json(&json!({"post_id": w.ada_draft, "author_name": "Bob", "body": "b"}))
        .send()
        .await;
    assert_eq!(res.status(), 403, "{}", res.text());
    assert_eq!(comments_on(w.ada_draft).await, 1);

    // Emails: not for anonymous readers, not even through a filter.
    let list: Value = anon.get("/api/authors").send().await.json();
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|a| a.get("email").is_none()), "{list}");
    let one: Value = anon
        .get(&format!("/api/authors/{}", w.ada))
        .send()
        .await
        .json();
    assert!(one.get("email").is_none() && one["name"] == "Ada", "{one}");
    let probe = anon
        .get("/api/authors?email=ada%40example.com")
        .send()
        .await;
    assert_eq!(probe.status(), 400, "{}", probe.text());
    let signed_in: Value = ada.get("/api/authors").send().await.json();
    assert!(
        signed_in["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["email"].is_string()),
        "{signed_in}"
    );

    // /import: nobody in particular imports nothing; an author imports as
    // herself, whatever the batch says; the token as anyone.
    let batch = json!([{"author_id": w.bob, "title": "imported", "body": "b", "published": true}]);
    let res = anon.post("/import").json(&batch).send().await;
    assert_eq!(res.status(), 401, "{}", res.text());
    let res = ada.post("/import").json(&batch).send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let imported = post::Entity::find()
        .filter(post::Column::Title.eq("imported"))
        .all(w.db.conn())
        .await
        .unwrap();
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].author_id, w.ada, "hers");
    let res = anon
        .post("/import")
        .header("authorization", &format!("Bearer {TOKEN}"))
        .json(&batch)
        .send()
        .await;
    assert_eq!(res.status(), 200);
}

/// Entries of the audit log, newest first, as a superuser reads them.
async fn entries(w: &World) -> Vec<phial::admin::log::Model> {
    use sea_orm::QueryOrder;
    phial::admin::log::Entity::find()
        .order_by_desc(phial::admin::log::Column::Id)
        .all(w.db.conn())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_author_deleted_with_what_refers_to_her_comes_back_whole_by_one_revert() {
    let w = world().await;
    let root = staff(&w, "root").await;
    let confirm = root
        .get(&format!("/admin/author/{}/delete", w.ada))
        .send()
        .await;
    assert_eq!(confirm.status(), 200);
    let page = confirm.text();
    assert!(
        page.contains("Posts") && page.contains("Comments"),
        "the confirmation lists what goes with her: {page}"
    );
    let url = format!("/admin/author/{}/delete", w.ada);
    let res = submit(&root, &url, &url, &[]).await;
    assert_eq!(res.status(), 303, "{}", res.text());
    assert!(
        author::Entity::find_by_id(w.ada)
            .one(w.db.conn())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        post::Entity::find_by_id(w.ada_pub)
            .one(w.db.conn())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        comment::Entity::find_by_id(w.comment)
            .one(w.db.conn())
            .await
            .unwrap()
            .is_none()
    );
    // Each row logged, the taken ones against her delete; no hash shown.
    let log = entries(&w).await;
    let head = log
        .iter()
        .find(|e| e.table_name == "author" && e.action == "delete")
        .unwrap()
        .clone();
    let taken: Vec<_> = log
        .iter()
        .filter(|e| e.cascade_of == Some(head.id))
        .collect();
    assert_eq!(taken.len(), 3, "two posts and a comment: {taken:?}");
    assert!(!head.changes.contains("password_hash"));
    let shown = root
        .get(&format!("/admin/log/{}", head.id))
        .send()
        .await
        .text();
    assert!(
        !shown.contains("scrypt") && !shown.contains("password"),
        "{shown}"
    );
    // A taken row alone is not reverted: its delete is.
    let one = taken[0].id;
    let page = format!("/admin/log/{one}");
    let res = submit(&root, &page, &format!("/admin/log/{one}/revert"), &[]).await;
    assert_eq!(res.status(), 409, "{}", res.text());
    let page = format!("/admin/log/{}", head.id);
    let res = submit(&root, &page, &format!("/admin/log/{}/revert", head.id), &[]).await;
    assert_eq!(res.status(), 303, "{}", res.text());
    for p in [w.ada_pub, w.ada_draft] {
        assert!(
            post::Entity::find_by_id(p)
                .one(w.db.conn())
                .await
                .unwrap()
                .is_some()
        );
    }
    assert!(
        comment::Entity::find_by_id(w.comment)
            .one(w.db.conn())
            .await
            .unwrap()
            .is_some()
    );
    // Her password came back with her: she signs in.
    author(&w, "ada@example.com").await;
    let log = entries(&w).await;
    assert!(
        log.iter()
            .filter(|e| e.id == head.id || e.cascade_of == Some(head.id))
            .all(|e| e.reverted_by.is_some()),
        "every restored row's entry says so"
    );
}

#[tokio::test]
async fn staff_changes_are_in_the_log_for_superusers_only() {
    let w = world().await;
    let root = staff(&w, "root").await;
    let res = submit(
        &root,
        "/admin/access/roles/new",
        "/admin/access/roles/new",
        &[
            ("name", "writers"),
            ("grant", "post.view"),
            ("grant", "post.change"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let res = submit(
        &root,
        "/admin/access/users/new",
        "/admin/access/users/new",
        &[("username", "carol"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let carol = phial::admin::user::Entity::find()
        .filter(phial::admin::user::Column::Username.eq("carol"))
        .one(w.db.conn())
        .await
        .unwrap()
        .unwrap();
    let role = phial::admin::role::Entity::find()
        .one(w.db.conn())
        .await
        .unwrap()
        .unwrap();
    let page = format!("/admin/access/users/{}", carol.id);
    let role_id = role.id.to_string();
    let res = submit(
        &root,
        &page,
        &page,
        &[
            ("active", "true"),
            ("role", role_id.as_str()),
            ("password", "a brand new password"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let res = submit(&root, &page, &format!("{page}/sign-out"), &[]).await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let actions: Vec<(String, String)> = entries(&w)
        .await
        .into_iter()
        .filter(|e| e.table_name.starts_with("phial_admin_"))
        .map(|e| (e.table_name, e.action))
        .collect();
    for expected in [
        ("phial_admin_role", "create"),
        ("phial_admin_user", "create"),
        ("phial_admin_user", "change"),
        ("phial_admin_user", "password"),
        ("phial_admin_user", "sign_out_everywhere"),
    ] {
        assert!(
            actions
                .iter()
                .any(|(t, a)| t == expected.0 && a == expected.1),
            "{expected:?} in {actions:?}"
        );
    }
    let log = root.get("/admin/log").send().await.text();
    assert!(log.contains("carol") && log.contains("writers"), "{log}");
    let change = entries(&w)
        .await
        .into_iter()
        .find(|e| e.action == "change" && e.table_name == "phial_admin_user")
        .unwrap();
    assert!(change.changes.contains("writers"), "{}", change.changes);
    assert!(
        !entries(&w)
            .await
            .iter()
            .any(|e| e.changes.contains("brand new"))
    );
    // Staff who are not superusers do not see them.
    let editor = staff_user(&w, "editor", "post-viewers", "post.view").await;
    let theirs = editor.get("/admin/log").send().await.text();
    assert!(!theirs.contains("carol"), "{theirs}");
}

#[tokio::test]
async fn the_inputs_that_were_500s_are_4xx_with_a_reason() {
    let w = world().await;
    let root = staff(&w, "root").await;
    let res = root
        .get("/admin/post/?page=400000000000000000")
        .send()
        .await;
    assert_eq!(res.status(), 400, "{}", res.text());
    assert!(
        res.text()
            .contains("`page` goes up to 1000000000: narrow the list"),
        "{}",
        res.text()
    );
    let res = root
        .get("/admin/log?page=18446744073709551615")
        .send()
        .await;
    assert_eq!(res.status(), 400, "{}", res.text());
    for bad in ["/admin/post%00", "/admin/post%0d%0a", "/admin/nothing"] {
        let res = root.get(bad).send().await;
        assert_eq!(res.status(), 404, "{bad}: {}", res.text());
    }
    // Controls.
    let res = root.get("/admin/post").send().await;
    assert_eq!(res.status(), 308);
    assert_eq!(res.header("location"), Some("/admin/post/"));
    assert_eq!(root.get("/admin/post/?page=2").send().await.status(), 200);
    assert_eq!(root.get("/admin/log?page=2").send().await.status(), 200);
}
