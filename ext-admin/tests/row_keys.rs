//! One row-key form on every surface: a composite key is its parts in key
//! order joined by commas, in the API (`/api/pairs/1,x`) and the admin
//! (`/admin/admin_pair/1,x/`) alike; the admin's first form (a JSON array)
//! and a key spelled otherwise (`01`) redirect to it, and the row's history
//! (logged before and after) is found by either.

use phial_admin::{Admin, ModelView, create_user};
use phial_core::testing::TestClient;
use phial_core::{App, Config};
use phial_migrate::Migrate;
use phial_orm::{Db, Orm};
use phial_rest::{Resource, Rest};
use sea_orm::ActiveValue::Set;

mod common;

mod pair {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "admin_pair")]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub a: i32,
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(20))"
        )]
        pub b: String,
        pub qty: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const PASSWORD: &str = "correct horse battery";

async fn app(dir: &std::path::Path) -> App {
    let config = Config::testing()
        .set("instance_path", dir.display().to_string())
        .set("migrate.auto_upgrade", false)
        .set("session.store", "memory")
        .set("rest.cache", false)
        .set("test.api_token", "row-keys-token-0123456789abcdef0123");
    let app = App::builder(config)
        .register(Orm::new())
        .register(Migrate::new())
        .register(
            Rest::new()
                .guard(phial_rest::Guard::bearer_from_config("test.api_token"))
                .resource(Resource::<pair::Entity>::new().path("pairs")),
        )
        .register(Admin::new().model(ModelView::<pair::Entity>::new()))
        .build()
        .await
        .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    common::fresh_tables(&db, pair::Entity).await;
    db.insert(pair::ActiveModel {
        a: Set(1),
        b: Set("x".into()),
        qty: Set(5),
    })
    .await
    .unwrap();
    create_user(&db, "root", PASSWORD, true).await.unwrap();
    app
}

async fn signed_in(app: &App) -> TestClient {
    common::signed_in(app, "root", PASSWORD).await
}

#[tokio::test]
async fn a_composite_key_has_one_form_in_the_api_and_the_admin() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let admin = signed_in(&app).await;
    let api = app.test_client();

    // The API and the admin address the row alike.
    let res = api.get("/api/pairs/1,x").send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(res.json::<serde_json::Value>()["qty"], 5);
    let list = admin.get("/admin/admin_pair/").send().await.text();
    // (Templates escape `/` as `&#x2f;`.)
    assert!(
        list.contains("&#x2f;admin&#x2f;admin_pair&#x2f;1,x&#x2f;"),
        "{list}"
    );
    let page = admin.get("/admin/admin_pair/1,x/").send().await;
    assert_eq!(page.status(), 200, "{}", page.text());

    // The admin's first form, and another spelling, redirect to it.
    for old in [
        "/admin/admin_pair/%5B1%2C%22x%22%5D/",
        "/admin/admin_pair/01,x/",
    ] {
        let res = admin.get(old).send().await;
        assert_eq!(res.status(), 308, "{old}: {}", res.text());
        assert_eq!(
            res.header("location"),
            Some("/admin/admin_pair/1,x/"),
            "{old}"
        );
    }
    // A key that is not one is a 404 (control above: the row exists).
    for bad in [
        "/admin/admin_pair/1/",
        "/admin/admin_pair/x,1/",
        "/api/pairs/x,1",
    ] {
        let client = if bad.starts_with("/api") {
            &api
        } else {
            &admin
        };
        assert_eq!(client.get(bad).send().await.status(), 404, "{bad}");
    }

    // An edit through the API and one in the admin: the row's history,
    // at the key's one form, shows the admin's.
    let res = api
        .patch("/api/pairs/1,x")
        .header(
            "authorization",
            "Bearer row-keys-token-0123456789abcdef0123",
        )
        .json(&serde_json::json!({"qty": 6}))
        .send()
        .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let form = admin.get("/admin/admin_pair/1,x/edit").send().await;
    assert_eq!(form.status(), 200, "{}", form.text());
    let html = form.text();
    let version = html
        .split("name=\"_version\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let res = admin
        .post("/admin/admin_pair/1,x/edit")
        .form(&[
            ("csrf_token", form.csrf_token().unwrap().as_str()),
            ("_version", version.as_str()),
            ("qty", "7"),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    let history = admin.get("/admin/admin_pair/1,x/history").send().await;
    assert_eq!(history.status(), 200);
    let history = history.text();
    // The admin's change, logged under the row's key and found from its
    // URL in the one form.
    assert!(
        history.contains("History of admin pair 1,x")
            && history.contains("<span class=\"chip\">Qty</span>")
            && history.contains(">root<"),
        "{history}"
    );
    let row = api.get("/api/pairs/1,x").send().await;
    assert_eq!(row.json::<serde_json::Value>()["qty"], 7);
}
