//! Sign-ins that really end, tried from outside with copied cookies: after
//! sign-out, after a new password, after deactivation, after "sign out
//! everywhere" (also from the CLI); a cookie from before sign-in signs in
//! nobody and its CSRF token is dead; two realms on one browser end apart;
//! a remember-me token restores a sign-in that timed out (not fresh) and is
//! revoked by sign-out; pages and API clients are told differently.

mod common;

use common::{add_member, app, config, member, reason, sign_in};
use phial_core::session::SessionStores;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

/// A second browser holding a copy of `from`'s cookies.
fn copy_cookies(
    from: &phial_core::testing::TestClient,
    app: &phial_core::App,
) -> phial_core::testing::TestClient {
    let thief = app.test_client();
    thief.set_cookie(
        "session",
        &from.cookie("session").expect("a session cookie"),
    );
    thief
}

#[tokio::test]
async fn a_copied_cookie_is_refused_after_sign_out() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)).await;
    add_member(&app, "ada@example.com", "correct horse").await;
    let browser = app.test_client();
    let res = sign_in(&browser, "ada@example.com", "correct horse").await;
    assert_eq!(res.status(), 200, "{}", reason(&res));
    assert_eq!(browser.get("/me").send().await.text(), "ada");
    let thief = copy_cookies(&browser, &app);
    assert_eq!(
        thief.get("/me").send().await.text(),
        "ada",
        "control: the copy works while signed in"
    );
    let out = browser.post("/logout").json(&0).send().await;
    assert_eq!(out.status(), 200, "{}", reason(&out));
    let refused = thief.get("/me").send().await;
    assert_eq!(refused.status(), 401, "{}", reason(&refused));
    assert_eq!(browser.get("/me").send().await.status(), 401);
    assert_eq!(thief.get("/maybe").send().await.text(), "nobody");
}

#[tokio::test]
async fn a_cookie_from_before_sign_in_signs_in_nobody_and_its_csrf_token_is_dead() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)).await;
    add_member(&app, "ada@example.com", "correct horse").await;
    let browser = app.test_client();
    let token = browser.get("/form-token").send().await.text();
    let planted = copy_cookies(&browser, &app);
    let ok = browser
        .post("/form")
        .header("x-csrf-token", &token)
        .send()
        .await;
    assert_eq!(
        ok.status(),
        200,
        "control: the token works before sign-in: {}",
        reason(&ok)
    );
    sign_in(&browser, "ada@example.com", "correct horse").await;
    assert_ne!(
        browser.cookie("session"),
        planted.cookie("session"),
        "sign-in writes a new cookie"
    );
    assert_eq!(
        planted.get("/me").send().await.status(),
        401,
        "the pre-login cookie is useless"
    );
    let stale = browser
        .post("/form")
        .header("x-csrf-token", &token)
        .send()
        .await;
    assert_eq!(
        stale.status(),
        403,
        "a token from before sign-in: {}",
        reason(&stale)
    );
}

#[tokio::test]
async fn a_new_password_or_deactivation_ends_every_sign_in_of_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)).await;
    let id = add_member(&app, "ada@example.com", "correct horse").await;
    let db = phial_orm::Db::from_state(app.state()).unwrap();
    let browser = app.test_client();
    sign_in(&browser, "ada@example.com", "correct horse").await;
    let thief = copy_cookies(&browser, &app);
    // Renaming the user is no reason to sign anyone out.
    let row = member::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    let mut am: member::ActiveModel = row.into();
    am.name = Set("Ada L.".into());
    am.update(db.conn()).await.unwrap();
    assert_eq!(thief.get("/me").send().await.text(), "Ada L.");
    // A new password is.
    let row = member::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    let mut am: member::ActiveModel = row.into();
    am.password_hash = Set(phial_core::password::hash("battery staple").await.unwrap());
    am.update(db.conn()).await.unwrap();
    assert_eq!(thief.get("/me").send().await.status(), 401);
    assert_eq!(browser.get("/me").send().await.status(), 401);
    // Signed in again with the new password, then deactivated.
    assert_eq!(
        sign_in(&browser, "ada@example.com", "battery staple")
            .await
            .status(),
        200
    );
    assert_eq!(browser.get("/me").send().await.status(), 200);
    let row = member::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    let mut am: member::ActiveModel = row.into();
    am.is_active = Set(false);
    am.update(db.conn()).await.unwrap();
    assert_eq!(browser.get("/me").send().await.status(), 401);
    let refused = sign_in(&browser, "ada@example.com", "battery staple").await;
    assert_eq!(
        refused.status(),
        401,
        "an inactive user cannot sign in: {}",
        reason(&refused)
    );
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_browser_from_the_api_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)).await;
    let id = add_member(&app, "ada@example.com", "correct horse").await;
    let bob = add_member(&app, "bob@example.com", "hunter2hunter2").await;
    let (laptop, phone, other) = (app.test_client(), app.test_client(), app.test_client());
    sign_in(&laptop, "ada@example.com", "correct horse").await;
    sign_in(&phone, "ada@example.com", "correct horse").await;
    sign_in(&other, "bob@example.com", "hunter2hunter2").await;
    let accounts = phial_auth::Accounts::<member::Model>::of(app.state()).unwrap();
    accounts.logout_everywhere(&id.to_string()).await.unwrap();
    assert_eq!(laptop.get("/me").send().await.status(), 401);
    assert_eq!(phone.get("/me").send().await.status(), 401);
    assert_eq!(
        other.get("/me").send().await.text(),
        "bob",
        "other users stay signed in"
    );
    // Ada signs in again; the CLI ends it.
    sign_in(&laptop, "ada@example.com", "correct horse").await;
    assert_eq!(laptop.get("/me").send().await.status(), 200);
    // The command runs in a process of its own on the same database.
    let cli = || async { common::app(config(dir.path(), None)).await };
    let (out, buf) = phial_core::cli::Output::buffer();
    let (err, err_buf) = phial_core::cli::Output::buffer();
    let code = cli()
        .await
        .run_cli_to(
            [
                "app",
                "auth",
                "sign-out-everywhere",
                "--user",
                &id.to_string(),
            ],
            out,
            err,
        )
        .await
        .unwrap();
    let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap()
        + &String::from_utf8(err_buf.lock().unwrap().clone()).unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{text}");
    assert!(text.contains("has ended"), "{text}");
    assert_eq!(laptop.get("/me").send().await.status(), 401);
    // A user that does not exist is named, not silently accepted.
    let (out, _) = phial_core::cli::Output::buffer();
    let (err, err_buf) = phial_core::cli::Output::buffer();
    let code = cli()
        .await
        .run_cli_to(
            ["app", "auth", "sign-out-everywhere", "--user", "999999"],
            out,
            err,
        )
        .await
        .unwrap();
    let text = String::from_utf8(err_buf.lock().unwrap().clone()).unwrap();
    assert_ne!(code, std::process::ExitCode::SUCCESS);
    assert!(text.contains("no user `999999`"), "{text}");
    let _ = bob;
}

#[tokio::test]
async fn two_realms_on_one_browser_end_apart() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)).await;
    add_member(&app, "ada@example.com", "correct horse").await;
    let browser = app.test_client();
    sign_in(&browser, "ada@example.com", "correct horse").await;
    let staff = browser
        .post("/staff/login")
        .json(&serde_json::json!({"name": "root", "password": "staff-password"}))
        .send()
        .await;
    assert_eq!(staff.status(), 200, "{}", reason(&staff));
    assert_eq!(browser.get("/me").send().await.text(), "ada");
    assert_eq!(browser.get("/staff/me").send().await.text(), "root");
    assert_eq!(
        browser.get("/page").send().await.text(),
        "hello ada (user)|2"
    );
    browser.post("/staff/logout").json(&0).send().await;
    assert_eq!(browser.get("/staff/me").send().await.status(), 401);
    assert_eq!(
        browser.get("/me").send().await.text(),
        "ada",
        "the other realm stays"
    );
    browser.post("/logout").json(&0).send().await;
    assert_eq!(browser.get("/page").send().await.text(), "hello stranger|0");
}

#[tokio::test]
async fn remember_me_restores_a_timed_out_sign_in_as_not_fresh_and_sign_out_revokes_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)).await;
    add_member(&app, "ada@example.com", "correct horse").await;
    let browser = app.test_client();
    let res = browser
        .post("/login")
        .json(&serde_json::json!({"name": "ada@example.com", "password": "correct horse", "remember": true}))
        .send()
        .await;
    assert_eq!(res.status(), 200, "{}", reason(&res));
    assert_eq!(
        browser.get("/password").send().await.status(),
        200,
        "fresh right after the password"
    );
    // The sign-in times out: its record is gone from the store.
    let store = app
        .state()
        .get::<SessionStores>()
        .unwrap()
        .store()
        .unwrap()
        .clone();
    let record = browser.get("/debug-auth").send().await.text();
    assert_eq!(
        store
            .get(std::slice::from_ref(&record))
            .await
            .unwrap()
            .len(),
        1
    );
    store.delete(&[record]).await.unwrap();
    assert_eq!(
        browser.get("/me").send().await.text(),
        "ada",
        "restored from the token"
    );
    let stale = browser
        .get("/password")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(
        stale.status(),
        303,
        "not fresh: asked for the password again"
    );
    assert!(
        stale
            .header("location")
            .unwrap()
            .starts_with("/login?next=%2Fpassword"),
        "{:?}",
        stale.header("location")
    );
    let thief = copy_cookies(&browser, &app);
    browser.post("/logout").json(&0).send().await;
    assert_eq!(
        thief.get("/me").send().await.status(),
        401,
        "the token went with the sign-out"
    );
}

#[tokio::test]
async fn pages_send_browsers_to_sign_in_and_tell_api_clients_why() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(config(dir.path(), None)).await;
    let c = app.test_client();
    let page = c
        .get("/drafts?x=1")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.header("location"),
        Some("/login?next=%2Fdrafts%3Fx%3D1")
    );
    let api = c
        .get("/drafts")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(api.status(), 401);
    assert!(api.text().contains("sign in at /login"), "{}", api.text());
    let staff = c
        .get("/staff/me")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(
        staff.header("location"),
        Some("/staff/login?next=%2Fstaff%2Fme")
    );
    // A realm's store: cookie sessions are refused for apps with sign-ins.
    let err = phial_core::App::builder(config(dir.path(), None).set("session.store", "cookie"))
        .register(phial_orm::Orm::new())
        .register(phial_auth::Auth::<member::Entity>::new().username(member::Column::Email))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("session.store") && err.contains("cookie"),
        "{err}"
    );
}
