//! The staff pages: a superuser makes a role from the grant matrix and a
//! staff user with it (a short password refused), cannot take away their
//! own superuser flag, and the new user can do what the role grants and
//! nothing else.

mod common;

use common::library::{ROOT, library, seed, sign_in};
use common::submit;

#[tokio::test]
async fn superusers_edit_roles_and_staff_in_the_panel() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db) = library(&None, dir.path(), |c| c).await;
    let (published, _) = seed(&db).await;
    let http = app.test_client();
    assert_eq!(sign_in(&http, ROOT.0, ROOT.1).await, 303);
    let page = http.get("/admin/access/roles/new").send().await.text();
    assert!(
        page.contains("value=\"lib_post.change\""),
        "the matrix lists the models: {page}"
    );
    let res = submit(
        &http,
        "/admin/access/roles/new",
        "/admin/access/roles/new",
        &[
            ("name", "editors"),
            ("grant", "lib_post.view"),
            ("grant", "lib_post.change"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let roles = http.get("/admin/access/roles/").send().await.text();
    assert!(
        roles.contains("editors") && roles.contains("lib_post.change"),
        "{roles}"
    );
    let role_id = "1"; // the first role of a fresh database
    let new_user = async |password: &str| {
        submit(
            &http,
            "/admin/access/users/new",
            "/admin/access/users/new",
            &[
                ("username", "eve"),
                ("password", password),
                ("superuser", "false"),
                ("role", role_id),
            ],
        )
        .await
    };
    let res = new_user("short").await;
    assert_eq!(res.status(), 422, "a short password is refused");
    assert!(res.text().contains("too short"));
    let res = new_user("correct horse battery").await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let users = http.get("/admin/access/users/").send().await.text();
    assert!(
        users.contains("eve") && users.contains("editors"),
        "{users}"
    );
    // A superuser cannot lock themselves out.
    let res = submit(
        &http,
        "/admin/access/users/1",
        "/admin/access/users/1",
        &[("superuser", "false"), ("active", "true")],
    )
    .await;
    assert_eq!(res.status(), 422);

    // The new staff user: posts yes, authors no, the staff pages no.
    let eve = app.test_client();
    assert_eq!(sign_in(&eve, "eve", "correct horse battery").await, 303);
    let status = async |url: &str| eve.get(url).send().await.status();
    assert_eq!(status("/admin/post/").await, 200);
    assert_eq!(status(&format!("/admin/post/{published}/edit")).await, 200);
    assert_eq!(
        status(&format!("/admin/post/{published}/delete")).await,
        403
    );
    assert_eq!(status("/admin/author/").await, 403);
    assert_eq!(status("/admin/access/users/").await, 403);
}
