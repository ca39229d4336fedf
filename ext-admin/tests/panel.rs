//! The panel on SQLite, PostgreSQL and MariaDB: every widget's value
//! round-trips through a form, filters by type narrow the list, a large
//! table is never counted in full, a stale edit is a conflict (under the
//! row lock), and a delete reverts from the audit log with its key.

mod common;
use common::{submit, version};

use phial_admin::{Admin, ModelView, create_user};
use phial_core::{App, Config};
use phial_migrate::Migrate;
use phial_orm::{Db, Orm};
use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};

mod widget {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "admin_widget")]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(40))")]
        pub name: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub note: Option<String>,
        pub qty: i32,
        pub price: Option<f64>,
        pub active: bool,
        pub due: Option<Date>,
        pub made_at: DateTimeUtc,
        pub data: Option<Json>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

async fn app(url: &Option<String>, dir: &std::path::Path) -> (App, Db) {
    let mut config = Config::testing()
        .set("instance_path", dir.display().to_string())
        .set("admin.count_limit", 3)
        .set("migrate.auto_upgrade", false)
        // The tables come from the entities here, not the migrations: the
        // sign-ins live in memory rather than in `phial_session`.
        .set("session.store", "memory");
    if let Some(url) = url {
        config = config.set("database.url", url);
    }
    let app = App::builder(config)
        .register(Orm::new())
        .register(Migrate::new())
        .register(
            Admin::new().model(
                ModelView::<widget::Entity>::new()
                    .list(["id", "name", "qty", "active", "due"])
                    .search(["name", "note"])
                    .filters(["qty", "active", "due", "made_at", "name"])
                    .sortable(["qty", "name"]),
            ),
        )
        .build()
        .await
        .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    common::fresh_tables(&db, widget::Entity).await;
    create_user(&db, "root", "correct horse battery", true)
        .await
        .unwrap();
    (app, db)
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn the_panel_works_on_every_database() {
    let _one_at_a_time = SERIAL.lock().await;
    for (name, url) in phial_core::testing::sql_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = app(&url, dir.path()).await;
        let http = app.test_client();
        let res = submit(
            &http,
            "/admin/login",
            "/admin/login",
            &[("username", "root"), ("password", "correct horse battery")],
        )
        .await;
        assert_eq!(res.status(), 303, "{name}: {}", res.text());

        // Every widget, typed values in, the same values back.
        let res = submit(
            &http,
            "/admin/admin_widget/new",
            "/admin/admin_widget/new",
            &[
                ("name", "alpha"),
                ("note", "a note"),
                ("qty", "7"),
                ("price", "2.5"),
                ("active", "false"),
                ("active", "true"),
                ("due", "2026-12-24"),
                ("made_at", "2026-12-02T10:30"),
                ("data", "{\"tags\": [\"x\"]}"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303, "{name}: {}", res.text());
        let detail = http
            .get(res.header("location").unwrap())
            .send()
            .await
            .text();
        for shown in [
            "alpha",
            "a note",
            "7",
            "2.5",
            "Yes",
            "2026-12-24",
            "2026-12-02 10:30",
            "tags",
        ] {
            assert!(
                detail.contains(shown),
                "{name}: `{shown}` missing in {detail}"
            );
        }
        // Bad values: each reported beside its field, nothing stored.
        let res = submit(
            &http,
            "/admin/admin_widget/new",
            "/admin/admin_widget/new",
            &[
                ("name", ""),
                ("qty", "seven"),
                ("data", "{oops"),
                ("made_at", "2026-12-02T10:30"),
            ],
        )
        .await;
        assert_eq!(res.status(), 422, "{name}");
        let html = res.text();
        for id in ["e-name", "e-qty", "e-data"] {
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "{name}: {id} missing: {html}"
            );
        }
        assert!(
            html.contains("seven") && html.contains("{oops"),
            "{name}: typed text kept"
        );
        for (n, qty, active) in [
            ("beta", "1", "false"),
            ("gamma", "20", "true"),
            ("delta", "3", "false"),
            ("omega", "9", "true"),
        ] {
            let res = submit(
                &http,
                "/admin/admin_widget/new",
                "/admin/admin_widget/new",
                &[
                    ("name", n),
                    ("qty", qty),
                    ("active", active),
                    ("made_at", "2026-11-01T08:00:00"),
                ],
            )
            .await;
            assert_eq!(res.status(), 303, "{name}: {}", res.text());
        }

        // Filters by type.
        let list = |q: &str| {
            let http = http.clone();
            let q = q.to_owned();
            async move {
                http.get(&format!("/admin/admin_widget/?{q}"))
                    .send()
                    .await
                    .text()
            }
        };
        let range = list("qty__ge=3&qty__le=9").await;
        assert!(
            range.contains("alpha") && range.contains("delta") && range.contains("omega"),
            "{name}: {range}"
        );
        assert!(
            !range.contains("beta") && !range.contains("gamma"),
            "{name}"
        );
        let on = list("active=true").await;
        assert!(
            on.contains("alpha") && on.contains("gamma") && !on.contains("delta"),
            "{name}"
        );
        let days = list("made_at__ge=2026-12-02&made_at__le=2026-12-02").await;
        assert!(
            days.contains("alpha") && !days.contains("beta"),
            "{name}: {days}"
        );
        let text = list("name__contains=MEG").await;
        assert!(text.contains("omega") && !text.contains("alpha"), "{name}");
        let sorted = list("sort=-qty").await;
        assert!(
            sorted.find("gamma").unwrap() < sorted.find("omega").unwrap(),
            "{name}"
        );

        // Five rows past a count limit of three, two a page: never counted
        // in full. (A page that ends the list is its own count.)
        let all = list("per_page=2").await;
        assert!(
            all.contains("more than 3") || all.contains("about 5"),
            "{name}: {all}"
        );
        if name == "PostgreSQL" {
            db.conn()
                .execute_unprepared("ANALYZE admin_widget")
                .await
                .unwrap();
            assert!(
                list("per_page=2").await.contains("about 5"),
                "{name}: the planner's estimate"
            );
        }
        // A filter that narrows a table past the limit to a few rows
        // counts them (bounded), whatever the table's size.
        let few = list("qty__le=2").await;
        assert!(
            few.contains(r#"<span class="total">1 "#) && few.contains("beta"),
            "{name}: a narrowed list counts its rows: {few}"
        );
        let many = list("qty__ge=1&per_page=2").await;
        assert!(
            many.contains(r#"<span class="total">more than 3 "#),
            "{name}: past the limit a narrowed list says so: {many}"
        );
        let whole = list("qty__ge=1").await;
        assert!(
            whole.contains(r#"<span class="total">5 "#),
            "{name}: a page that ends the list is its count: {whole}"
        );

        // A stale edit is a conflict, not an overwrite.
        let form = http.get("/admin/admin_widget/1/edit").send().await;
        let (token, stale) = (form.csrf_token().unwrap(), version(&form.text()));
        let fresh = submit(
            &http,
            "/admin/admin_widget/1/edit",
            "/admin/admin_widget/1/edit",
            &[
                ("name", "alpha"),
                ("qty", "8"),
                ("active", "true"),
                ("made_at", "2026-12-02T10:30:00"),
            ],
        )
        .await;
        assert_eq!(fresh.status(), 303, "{name}: {}", fresh.text());
        let res = http
            .post("/admin/admin_widget/1/edit")
            .form(&[
                ("csrf_token", token.as_str()),
                ("_version", stale.as_str()),
                ("name", "alpha"),
                ("qty", "99"),
                ("active", "true"),
                ("made_at", "2026-12-02T10:30:00"),
            ])
            .send()
            .await;
        assert_eq!(res.status(), 409, "{name}");
        let row = widget::Entity::find_by_id(1)
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.qty, 8, "{name}: nothing overwritten");
        if name == "PostgreSQL" {
            // A save racing another connection's uncommitted change of the
            // row waits for the row lock, then sees the newer version: 409.
            // (Without the lock it would read the committed row, match the
            // form's version and overwrite the other change.)
            let form = http.get("/admin/admin_widget/1/edit").send().await;
            let token = form.csrf_token().unwrap();
            let current = version(&form.text());
            let other = db.conn().begin().await.unwrap();
            other
                .execute_unprepared("UPDATE admin_widget SET qty = 50 WHERE id = 1")
                .await
                .unwrap();
            let fields: Vec<(String, String)> = [
                ("csrf_token", token.as_str()),
                ("_version", current.as_str()),
                ("name", "alpha"),
                ("qty", "77"),
                ("active", "true"),
                ("made_at", "2026-12-02T10:30:00"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
            let save = tokio::spawn({
                let http = http.clone();
                async move {
                    let res = http
                        .post("/admin/admin_widget/1/edit")
                        .form(&fields)
                        .send()
                        .await;
                    res.status().as_u16()
                }
            });
            // Until the admin's SELECT ... FOR UPDATE waits on our lock.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let row = db
                    .conn()
                    .query_one_raw(sea_orm::Statement::from_string(
                        sea_orm::DbBackend::Postgres,
                        "SELECT count(*)::bigint AS n FROM pg_locks WHERE NOT granted",
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                if row.try_get::<i64>("", "n").unwrap() > 0 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the save never waited on the row lock"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other.commit().await.unwrap();
            assert_eq!(
                save.await.unwrap(),
                409,
                "{name}: the locked row's newer version"
            );
            let row = widget::Entity::find_by_id(1)
                .one(db.conn())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.qty, 50, "{name}: the other change stands");
        }

        // Delete, then revert the delete from the log: the same row, same key.
        let res = submit(
            &http,
            "/admin/admin_widget/1/delete",
            "/admin/admin_widget/1/delete",
            &[],
        )
        .await;
        assert_eq!(res.status(), 303, "{name}");
        assert!(
            widget::Entity::find_by_id(1)
                .one(db.conn())
                .await
                .unwrap()
                .is_none()
        );
        let log = http
            .get("/admin/log?table=admin_widget")
            .send()
            .await
            .text()
            .replace("&#x2f;", "/");
        let at = log.find("/admin/log/").unwrap();
        let entry: String = log[at..].chars().take_while(|c| *c != '"').collect();
        assert!(
            http.get(&entry).send().await.text().contains("alpha"),
            "{name}"
        );
        let res = submit(&http, &entry, &format!("{entry}/revert"), &[]).await;
        assert_eq!(res.status(), 303, "{name}");
        let back = widget::Entity::find_by_id(1)
            .one(db.conn())
            .await
            .unwrap()
            .expect("restored");
        assert_eq!(
            (
                back.name.as_str(),
                back.qty,
                back.due.map(|d| d.to_string())
            ),
            (
                "alpha",
                if name == "PostgreSQL" { 50 } else { 8 },
                Some("2026-12-24".into())
            ),
            "{name}"
        );
        app.shutdown().await;
    }
}
