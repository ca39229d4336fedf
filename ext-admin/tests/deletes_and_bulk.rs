//! Deleting: a row's delete page lists what goes with it first; a bulk
//! action (the app's "publish") runs on the rows selected; the CSV export
//! follows the list's filter; a bulk delete asks before it deletes.

mod common;

use common::library::{ROOT, comment, library, post, seed, sign_in};
use common::submit;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

#[tokio::test]
async fn deletes_confirm_first_and_bulk_actions_and_export_work() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = library(&None, dir.path(), |c| c).await;
    let (published, draft) = seed(&db).await;
    comment::ActiveModel {
        post_id: Set(published),
        author_name: Set("Bob".into()),
        body: Set("hi".into()),
        ..Default::default()
    }
    .insert(db.conn())
    .await
    .unwrap();
    let http = app.test_client();
    assert_eq!(sign_in(&http, ROOT.0, ROOT.1).await, 303);
    let confirm = http
        .get(&format!("/admin/post/{published}/delete"))
        .send()
        .await
        .text();
    assert!(
        confirm.contains("Comments") && confirm.contains("Bob"),
        "related rows listed: {confirm}"
    );

    // Publish the draft with the app's action.
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
    let row = post::Entity::find_by_id(draft)
        .one(db.conn())
        .await
        .unwrap();
    assert!(row.unwrap().published, "published by the action");

    // CSV of the filtered list.
    let csv = http
        .get("/admin/post/export.csv?published=true")
        .send()
        .await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    assert!(
        text.starts_with("id,author_id,title,body,published\r\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "a header and two rows: {text}");

    // Bulk delete asks first, then deletes (with the post's comment).
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
    let exists = async |id| {
        post::Entity::find_by_id(id)
            .one(db.conn())
            .await
            .unwrap()
            .is_some()
    };
    assert!(exists(published).await, "not yet");
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
    assert!(!exists(published).await, "deleted");
    assert!(
        comment::Entity::find()
            .all(db.conn())
            .await
            .unwrap()
            .is_empty(),
        "its comment went with it"
    );
}
