//! Staff see and do what their roles grant: a viewer of posts lists them
//! (no add button, no authors), is refused the rest with the permission
//! named, reaches the app's page that needs `view`; a form without its
//! CSRF token is refused whoever sends it.

mod common;

use common::library::{ROOT, library, post, seed, sign_in};
use common::submit;
use phial_admin::{assign_role, create_role, create_user};
use sea_orm::EntityTrait;

#[tokio::test]
async fn staff_without_a_permission_are_refused_and_forms_need_csrf() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = library(&None, dir.path(), |c| c).await;
    let (published, draft) = seed(&db).await;
    create_user(&db, "viewer", ROOT.1, false).await.unwrap();
    create_role(&db, "readers", "lib_post.view").await.unwrap();
    assign_role(&db, "viewer", "readers").await.unwrap();
    let http = app.test_client();
    assert_eq!(sign_in(&http, "viewer", ROOT.1).await, 303);
    let list = http.get("/admin/post/").send().await;
    assert_eq!(list.status(), 200);
    let html = list.text();
    assert!(
        !html.contains("+ Add post") && !html.contains("/admin/author/"),
        "hidden: {html}"
    );
    assert_eq!(http.get("/admin/author/").send().await.status(), 403);
    assert_eq!(http.get("/admin/post/new").send().await.status(), 403);
    // The app's page needs lib_post.view: this viewer has it.
    assert_eq!(http.get("/admin/pages/stats").send().await.status(), 200);
    let edit = http
        .get(&format!("/admin/post/{published}/edit"))
        .send()
        .await;
    assert_eq!(edit.status(), 403);
    assert!(
        edit.text().contains("lib_post.change"),
        "the page names the permission"
    );

    // Control: the superuser may do all of it.
    let root = app.test_client();
    assert_eq!(sign_in(&root, ROOT.0, ROOT.1).await, 303);
    assert!(
        root.get("/admin/post/")
            .send()
            .await
            .text()
            .contains("+ Add post")
    );
    assert_eq!(root.get("/admin/author/").send().await.status(), 200);
    assert_eq!(
        root.get(&format!("/admin/post/{published}/edit"))
            .send()
            .await
            .status(),
        200
    );

    // A form without its CSRF token is refused whoever sends it...
    let res = root
        .post(&format!("/admin/post/{draft}/delete"))
        .form(&[("x", "y")])
        .send()
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().contains("CSRF"));
    let gone = || async {
        post::Entity::find_by_id(draft)
            .one(db.conn())
            .await
            .unwrap()
            .is_none()
    };
    assert!(!gone().await, "nothing deleted");
    // ...and the same form with it deletes.
    let page = format!("/admin/post/{draft}/delete");
    let res = submit(&root, &page, &page, &[]).await;
    assert_eq!(res.status(), 303, "{}", res.text());
    assert!(gone().await);
}
