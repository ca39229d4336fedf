//! A resource's own rate limit (one allowance across its routes, 429 with
//! `Retry-After`) and its own cross-origin policy (a preflight for DELETE
//! answered, not a 405), on SQLite.

mod common;

use common::author;
use phial_core::cors::Cors;
use phial_core::rate_limit::limit;
use phial_core::{App, Config};
use phial_orm::{Db, Orm};
use phial_rest::{Guard, Resource, Rest};
use sea_orm::{ConnectionTrait, Schema};

async fn app() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::builder(Config::testing())
        .root_path(dir.path())
        .register(Orm::new())
        .register(
            Rest::new().guard(Guard::anyone()).resource(
                Resource::<author::Entity>::new()
                    .path("authors")
                    .hidden("password_hash")
                    .limit(limit("3/minute"))
                    .cors(Cors::new().origin("https://app.example").credentials(true)),
            ),
        )
        .build()
        .await
        .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    let schema = Schema::new(db.conn().get_database_backend());
    db.conn()
        .execute(&schema.create_table_from_entity(author::Entity))
        .await
        .unwrap();
    (dir, app)
}

#[tokio::test]
async fn a_resource_shares_one_allowance_across_its_routes() {
    let (_dir, app) = app().await;
    let c = app.test_client();
    assert_eq!(c.get("/api/authors").send().await.status(), 200);
    assert_eq!(c.get("/api/authors/1").send().await.status(), 404);
    assert_eq!(c.get("/api/authors").send().await.status(), 200);
    let refused = c.get("/api/authors/1").send().await;
    assert_eq!(refused.status(), 429, "{}", refused.text());
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        c.get("/api/authors")
            .from_addr("192.0.2.8")
            .send()
            .await
            .status(),
        200,
        "another client has its own allowance"
    );
}

#[tokio::test]
async fn a_resource_answers_preflights_by_its_own_policy() {
    let (_dir, app) = app().await;
    let c = app.test_client();
    let preflight = |origin: &str| {
        c.request(http::Method::OPTIONS, "/api/authors/1")
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
    };
    let ok = preflight("https://app.example").send().await;
    assert_eq!(ok.status(), 200, "{}", ok.text());
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    let other = preflight("https://evil.example").send().await;
    assert_eq!(other.header("access-control-allow-origin"), None);
}
