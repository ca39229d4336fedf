//! Where sign-ins live, and what happens when that place is gone:
//! - on the database (`session.store = "database"`, the `phial_session`
//!   table from the contributed migration) on PostgreSQL and MariaDB,
//!   a fresh database each;
//! - on Redis behind a proxy that is cut: signed-in requests are 503s
//!   (never anonymous), anonymous ones are served, `/readyz` says why, and
//!   the same sign-in works again once Redis is back.

mod common;

use common::{add_member, config, reason, sign_in};
use phial_core::testing::TcpProxy;
use sea_orm::ConnectionTrait;

/// `base` with its database replaced by `name`, made empty.
async fn fresh_database(base: &str, name: &str) -> String {
    let admin = sea_orm::Database::connect(base).await.unwrap();
    let force = if base.starts_with("postgres") {
        " WITH (FORCE)"
    } else {
        ""
    };
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}{force}"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

#[tokio::test]
async fn sign_ins_in_the_database_end_on_postgres_and_mariadb() {
    for (db_name, url) in phial_core::testing::sql_databases().await {
        let Some(url) = url else { continue };
        let url = fresh_database(&url, &format!("phial_auth_{}", std::process::id())).await;
        let dir = tempfile::tempdir().unwrap();
        let app =
            common::app(config(dir.path(), Some(&url)).set("session.store", "database")).await;
        add_member(&app, "ada@example.com", "correct horse").await;
        let browser = app.test_client();
        let res = sign_in(&browser, "ada@example.com", "correct horse").await;
        assert_eq!(res.status(), 200, "{db_name}: {}", reason(&res));
        let thief = app.test_client();
        thief.set_cookie("session", &browser.cookie("session").unwrap());
        assert_eq!(thief.get("/me").send().await.text(), "ada", "{db_name}");
        browser.post("/logout").json(&0).send().await;
        assert_eq!(thief.get("/me").send().await.status(), 401, "{db_name}");
        // A second sign-in, and everywhere ends it.
        sign_in(&browser, "ada@example.com", "correct horse").await;
        let accounts = phial_auth::Accounts::<common::member::Model>::of(app.state()).unwrap();
        let id = browser.get("/me").send().await;
        assert_eq!(id.status(), 200, "{db_name}");
        let me: i32 = {
            let db = phial_orm::Db::from_state(app.state()).unwrap();
            use sea_orm::EntityTrait;
            common::member::Entity::find()
                .one(db.conn())
                .await
                .unwrap()
                .unwrap()
                .id
        };
        accounts.logout_everywhere(&me.to_string()).await.unwrap();
        assert_eq!(browser.get("/me").send().await.status(), 401, "{db_name}");
        app.shutdown().await;
    }
}

#[tokio::test]
async fn with_the_store_cut_signed_in_requests_are_503_and_anonymous_ones_served() {
    let Some(url) =
        phial_core::testing::service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
            .await
    else {
        return;
    };
    let redis = phial_core::testing::url_addr(&url).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), redis)
        .await
        .unwrap();
    let via = proxy.addr();
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_with_cache(
        config(dir.path(), None)
            .set("cache.type", "redis")
            .set("cache.urls", [phial_core::testing::url_via(&url, via)])
            .set(
                "cache.key_prefix",
                format!("auth-outage-{}:", std::process::id()),
            )
            .set("cache.timeout_ms", 200),
    )
    .await;
    add_member(&app, "ada@example.com", "correct horse").await;
    let browser = app.test_client();
    assert_eq!(
        sign_in(&browser, "ada@example.com", "correct horse")
            .await
            .status(),
        200
    );
    assert_eq!(browser.get("/me").send().await.text(), "ada");
    proxy.cut().await;
    let down = browser.get("/me").send().await;
    assert_eq!(down.status(), 503, "never anonymous: {}", reason(&down));
    assert!(down.header("retry-after").is_some());
    let maybe = browser.get("/maybe").send().await;
    assert_eq!(
        maybe.status(),
        503,
        "an optional user is not `nobody` either: {}",
        reason(&maybe)
    );
    let anonymous = app.test_client();
    assert_eq!(anonymous.get("/maybe").send().await.text(), "nobody");
    assert_eq!(anonymous.get("/page").send().await.status(), 200);
    let ready = anonymous.get("/readyz").send().await;
    assert!(
        ready.text().contains("sessions") && ready.text().contains("redis"),
        "/readyz says why: {}",
        ready.text()
    );
    // Redis comes back on the same address: the sign-in was never lost.
    let _back = TcpProxy::start(via, redis).await.unwrap();
    let back_at = std::time::Instant::now();
    let mut status = 0;
    for _ in 0..50 {
        let res = browser.get("/me").send().await;
        status = res.status().as_u16();
        if status == 200 {
            assert_eq!(res.text(), "ada");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "recovered when the store answered again");
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "MEASURED with Redis cut: signed-in 503, anonymous 200; signed in again {:?} after Redis came back",
        back_at.elapsed()
    );
}
