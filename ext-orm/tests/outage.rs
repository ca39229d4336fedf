//! A database that goes away while the app runs: requests get 503s (not
//! panics or hangs), /readyz says so, and the app recovers by itself when
//! the database returns. The outage is a TCP proxy in front of PostgreSQL
//! that the test cuts and restores.

use phial_core::routing::get;
use phial_core::testing::{TcpProxy, service_url, url_addr, url_via};
use phial_core::{App, Config};
use phial_orm::{Db, Orm, OrmError};
use sea_orm::ConnectionTrait;

async fn one(db: Db) -> Result<&'static str, OrmError> {
    db.conn().execute_unprepared("SELECT 1").await?;
    Ok("ok")
}

#[tokio::test]
async fn requests_get_503_while_the_database_is_down_and_recover_after() {
    let Some(url) = service_url(
        "PostgreSQL",
        "PHIAL_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
    .await
    else {
        return;
    };
    let target = url_addr(&url).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let port = proxy.addr();
    let dir = tempfile::tempdir().unwrap();
    let config = Config::testing()
        .set("database.url", url_via(&url, port))
        .set("database.max_connections", 2)
        .set("database.acquire_timeout_secs", 1)
        .set("database.connect_timeout_secs", 1);
    let app = App::builder(config)
        .root_path(dir.path())
        .register(Orm::new())
        .route("/one", get(one))
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    assert_eq!(client.get("/one").send().await.text(), "ok");

    proxy.cut().await;
    for _ in 0..3 {
        let res = client.get("/one").send().await;
        assert_eq!(res.status(), 503, "{}", res.text());
        assert!(
            res.text().contains("database is unavailable"),
            "{}",
            res.text()
        );
    }
    assert_eq!(client.get("/readyz").send().await.status(), 503);
    assert_eq!(
        client.get("/healthz").send().await.status(),
        200,
        "alive, just not ready"
    );

    let proxy = TcpProxy::start(port, target).await.unwrap();
    // The pool drops the dead connections and opens new ones on its own.
    let res = client.get("/one").send().await;
    assert_eq!((res.status().as_u16(), res.text()), (200, "ok".to_owned()));
    assert_eq!(client.get("/readyz").send().await.status(), 200);
    app.shutdown().await;
    proxy.cut().await;
}
