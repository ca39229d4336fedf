//! Create forms: a field over its limit re-renders the form with the error
//! beside the field and what was typed kept; a good form saves (a repeated
//! checkbox reads as its last value), shows the row and logs it.

mod common;

use common::library::{ROOT, library, post, seed, sign_in};
use common::submit;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

#[tokio::test]
async fn forms_keep_what_was_typed_and_show_errors_beside_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = library(&None, dir.path(), |c| c).await;
    seed(&db).await;
    let http = app.test_client();
    assert_eq!(sign_in(&http, ROOT.0, ROOT.1).await, 303);
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
    assert!(
        post::Entity::find()
            .filter(post::Column::Body.eq("my body text"))
            .one(db.conn())
            .await
            .unwrap()
            .is_none(),
        "nothing saved"
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
    let saved = post::Entity::find()
        .filter(post::Column::Title.eq("Hello admin"))
        .one(db.conn())
        .await
        .unwrap()
        .expect("saved");
    assert!(saved.published, "the checkbox's last value");
    // The audit log holds the creation.
    let log = http.get("/admin/log").send().await.text();
    assert!(
        log.contains("Hello admin") && log.contains("create"),
        "{log}"
    );
}
