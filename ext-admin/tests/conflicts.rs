//! Edit conflicts: a save over a newer change shows both versions and
//! overwrites nothing; saving again knowingly wins; the change is in the
//! row's history with its diff, and reverts.

mod common;

use common::library::{ROOT, library, post, seed, sign_in};
use common::{submit, version};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

async fn title(db: &phial_orm::Db, id: i32) -> String {
    post::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .unwrap()
        .unwrap()
        .title
}

#[tokio::test]
async fn a_save_over_a_newer_change_shows_both_and_overwrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = library(&None, dir.path(), |c| c).await;
    let (published, _) = seed(&db).await;
    let http = app.test_client();
    assert_eq!(sign_in(&http, ROOT.0, ROOT.1).await, 303);
    let edit_url = format!("/admin/post/{published}/edit");
    let form = http.get(&edit_url).send().await;
    let stale = version(&form.text());
    let token = form.csrf_token().unwrap();
    // Someone else saves first.
    post::ActiveModel {
        id: Set(published),
        title: Set("theirs".into()),
        ..Default::default()
    }
    .update(db.conn())
    .await
    .unwrap();
    let mine = |token: String, version: String| {
        let http = &http;
        let edit_url = &edit_url;
        async move {
            http.post(edit_url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("_version", version.as_str()),
                    ("title", "mine"),
                    ("body", "b"),
                    ("author_id", "1"),
                    ("published", "true"),
                ])
                .send()
                .await
        }
    };
    let res = mine(token, stale).await;
    assert_eq!(res.status(), 409);
    let page = res.text();
    assert!(page.contains("theirs") && page.contains("mine"), "{page}");
    assert_eq!(title(&db, published).await, "theirs", "nothing overwritten");
    // Saving mine over theirs, knowingly, carries the newer version.
    let res = mine(res.csrf_token().unwrap(), version(&page)).await;
    assert_eq!(res.status(), 303, "{}", res.text());
    assert_eq!(title(&db, published).await, "mine");

    // The change is in the row's history with its diff, and reverts.
    // (minijinja escapes `/` in attributes as `&#x2f;`)
    let history = http
        .get(&format!("/admin/post/{published}/history"))
        .send()
        .await
        .text()
        .replace("&#x2f;", "/");
    let at = history
        .find("/admin/log/")
        .unwrap_or_else(|| panic!("{history}"));
    let entry_url: String = history[at..].chars().take_while(|c| *c != '"').collect();
    let entry = http.get(&entry_url).send().await.text();
    assert!(
        entry.contains("theirs") && entry.contains("mine"),
        "{entry}"
    );
    let res = submit(&http, &entry_url, &format!("{entry_url}/revert"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(title(&db, published).await, "theirs", "reverted");
}
