//! A sign-in's idle timer is renewed by a person's requests only: a page's
//! own background requests (`X-Phial-Background: 1`, the admin's live
//! list) do not keep it alive. And auth costs anonymous pages nothing
//! they could notice: no `Vary: Cookie`, no session cookie set, so they
//! stay shareable through caches, while a signed-in user's page that
//! reads who they are is personal.

mod common;

use std::time::{Duration, Instant};

use common::{add_member, config, reason, sign_in};

#[tokio::test]
async fn background_requests_do_not_keep_a_sign_in_alive() {
    let dir = tempfile::tempdir().unwrap();
    // Staff sign-ins idle out after 2 s here (the realm's own timeout).
    let app = common::app_with_staff_idle(config(dir.path(), None), Duration::from_secs(2)).await;
    let person = app.test_client();
    let login = person
        .post("/staff/login")
        .json(&serde_json::json!({"name": "root", "password": "staff-password"}))
        .send()
        .await;
    assert_eq!(login.status(), 200, "{}", reason(&login));
    let page = app.test_client();
    page.set_cookie("session", &person.cookie("session").unwrap());
    // A person's requests keep it: 3 s of use, one every half second.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        assert_eq!(
            person.get("/staff/me").send().await.status(),
            200,
            "control: in use"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A page's script alone does not: it sees the sign-in end.
    let started = Instant::now();
    let mut ended = None;
    while started.elapsed() < Duration::from_secs(6) {
        let res = page
            .get("/staff/me")
            .header("x-phial-background", "1")
            .send()
            .await;
        if res.status() == 401 {
            ended = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ended = ended.expect("background requests kept the sign-in alive");
    assert!(
        ended <= Duration::from_millis(3500),
        "ended after {ended:?} (idle 2 s)"
    );
}

#[tokio::test]
async fn anonymous_pages_stay_shareable_and_signed_in_pages_are_personal() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(config(dir.path(), None)).await;
    add_member(&app, "ada@example.com", "correct horse").await;
    let visitor = app.test_client();
    let page = visitor.get("/page").send().await;
    assert_eq!(page.text(), "hello stranger|0");
    assert_eq!(
        page.header("vary"),
        None,
        "an anonymous page does not vary by cookie"
    );
    assert_eq!(page.header("set-cookie"), None, "no session for a visitor");
    // 10,000 cookieless visits leave no sign-in record behind.
    let records = || async {
        use sea_orm::ConnectionTrait;
        let db = phial_orm::Db::from_state(app.state()).unwrap();
        let row = db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                db.conn().get_database_backend(),
                "SELECT COUNT(*) AS n FROM phial_session",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    let before = records().await;
    for _ in 0..10_000 {
        let res = visitor.get("/maybe").without_cookies().send().await;
        assert_eq!(res.text(), "nobody");
    }
    assert_eq!(
        records().await,
        before,
        "no record for visitors who did not sign in"
    );
    let member = app.test_client();
    sign_in(&member, "ada@example.com", "correct horse").await;
    let mine = member.get("/page").send().await;
    assert_eq!(mine.text(), "hello ada (user)|1");
    assert_eq!(
        mine.header("vary"),
        Some("cookie"),
        "a signed-in page is personal"
    );
}
