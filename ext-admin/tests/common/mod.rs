//! What the admin's test files share: fresh admin tables beside a test's
//! own table, a staff user signed in through the login form, and a small
//! app of authors, posts and comments (`library`) for the feature tests.

#![allow(dead_code, reason = "each test file uses part of it")]

pub(crate) mod library;

use phial_core::App;
use phial_core::testing::{TestClient, TestResponse};
use phial_orm::Db;
use sea_orm::{ConnectionTrait, EntityTrait, Schema};

/// Drops and creates the admin's tables and `own`'s, so a test starts from
/// nothing on a shared database.
pub(crate) async fn fresh_tables<E: EntityTrait>(db: &Db, own: E) {
    let schema = Schema::new(db.conn().get_database_backend());
    for table in [
        own.table_name(),
        "phial_admin_log",
        "phial_admin_user_role",
        "phial_admin_role",
        "phial_admin_user",
    ] {
        db.conn()
            .execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .unwrap();
    }
    for create in [
        schema.create_table_from_entity(phial_admin::user::Entity),
        schema.create_table_from_entity(phial_admin::role::Entity),
        schema.create_table_from_entity(phial_admin::user_role::Entity),
        schema.create_table_from_entity(phial_admin::log::Entity),
        schema.create_table_from_entity(own),
    ] {
        db.conn().execute(&create).await.unwrap();
    }
}

/// A client signed in to the admin as `user`.
pub(crate) async fn signed_in(app: &App, user: &str, password: &str) -> TestClient {
    let http = app.test_client();
    let res = http
        .submit_form(
            "/admin/login",
            &[("username", user), ("password", password)],
        )
        .await;
    assert_eq!(res.status(), 303, "{user}: {}", res.text());
    http
}

/// Posts a form from the page at `page` (its CSRF token) to `action`.
pub(crate) async fn submit(
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

/// The `_version` an edit form carries.
pub(crate) fn version(html: &str) -> String {
    let at = html.find("name=\"_version\" value=\"").unwrap() + 23;
    html[at..at + 32].to_owned()
}
