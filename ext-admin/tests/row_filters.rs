//! Row filters hold for the admin's writes and its log, on SQLite,
//! PostgreSQL and MariaDB: a staff user limited to one tenant cannot
//! create rows in another, move rows there (by form or bulk action), or
//! read another tenant's rows through the audit log, an entry, a history
//! or a revert; a bulk action commits with its log entries or not at all.
//! Each refusal has its control.

use phial_admin::{Admin, ModelView, assign_role, create_role, create_user};
use phial_core::testing::TestClient;
use phial_core::{App, Config};
use phial_migrate::Migrate;
use phial_orm::policy::{Policy, Rule};
use phial_orm::{Db, Orm};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};

mod common;
use common::submit;

mod ledger {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "admin_ledger")]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(10))")]
        pub tenant: String,
        #[sea_orm(column_type = "String(StringLen::N(40))")]
        pub name: String,
        pub qty: i32,
        /// Hidden by the policy from everyone but superusers.
        #[sea_orm(column_type = "String(StringLen::N(40))", default_value = "")]
        pub secret: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const PASSWORD: &str = "correct horse battery";

/// Staff with the role `tenant-a` reach tenant `a`'s rows only (reads and
/// writes) and do not see `secret`; superusers every row and field.
fn tenants() -> Policy {
    let only = |c: &phial_orm::policy::Caller| {
        if c.has_every_grant() {
            None
        } else if c.has_role("tenant-a") {
            Some(Condition::all().add(ledger::Column::Tenant.eq("a")))
        } else {
            Some(Condition::all().add(ledger::Column::Tenant.eq("")))
        }
    };
    Policy::new()
        .reads(Rule::nobody())
        .rows(only)
        .write_rows(only)
        .hide(["secret"], |c| !c.has_every_grant())
}

async fn app(url: &Option<String>, dir: &std::path::Path) -> (App, Db) {
    let mut config = Config::testing()
        .set("instance_path", dir.display().to_string())
        .set("migrate.auto_upgrade", false)
        .set("session.store", "memory");
    if let Some(url) = url {
        config = config.set("database.url", url);
    }
    let app = App::builder(config)
        .register(Orm::new().policy::<ledger::Entity>(tenants()))
        .register(Migrate::new())
        .register(
            Admin::new().model(
                ModelView::<ledger::Entity>::new()
                    .list(["id", "tenant", "name", "qty", "secret"])
                    .filters(["secret", "tenant"])
                    .search(["name", "secret"])
                    .action("bump", "Add one", async |tx, rows| {
                        for r in &rows {
                            let mut am: ledger::ActiveModel = r.clone().into();
                            am.qty = Set(r.qty + 1);
                            tx.update(am).await?;
                        }
                        Ok(format!("bumped {}", rows.len()))
                    })
                    .action("move", "Move to tenant b", async |tx, rows| {
                        for r in &rows {
                            let mut am: ledger::ActiveModel = r.clone().into();
                            am.tenant = Set("b".into());
                            tx.update(am).await?;
                        }
                        Ok("moved".into())
                    })
                    .action("fail", "Change, then fail", async |tx, rows| {
                        for r in &rows {
                            let mut am: ledger::ActiveModel = r.clone().into();
                            am.qty = Set(-1);
                            tx.update(am).await?;
                        }
                        Err("the ledger is closed".into())
                    }),
            ),
        )
        .build()
        .await
        .unwrap();
    let db = Db::from_state(app.state()).unwrap();
    common::fresh_tables(&db, ledger::Entity).await;
    for (tenant, name) in [("a", "a1"), ("a", "a2"), ("b", "b1")] {
        db.insert(ledger::ActiveModel {
            tenant: Set(tenant.into()),
            name: Set(name.into()),
            qty: Set(1),
            secret: Set(format!("s3cret-{name}")),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    create_user(&db, "root", PASSWORD, true).await.unwrap();
    create_user(&db, "alice", PASSWORD, false).await.unwrap();
    create_role(
        &db,
        "tenant-a",
        "admin_ledger.view admin_ledger.add admin_ledger.change admin_ledger.delete",
    )
    .await
    .unwrap();
    assign_role(&db, "alice", "tenant-a").await.unwrap();
    (app, db)
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn signed_in(app: &App, user: &str) -> TestClient {
    common::signed_in(app, user, PASSWORD).await
}

async fn row(db: &Db, name: &str) -> ledger::Model {
    ledger::Entity::find()
        .filter(ledger::Column::Name.eq(name))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no row {name}"))
}

async fn log_count(db: &Db) -> u64 {
    phial_admin::log::Entity::find()
        .filter(phial_admin::log::Column::TableName.eq("admin_ledger"))
        .count(db.conn())
        .await
        .unwrap()
}

#[tokio::test]
async fn writes_and_the_log_stay_inside_the_callers_rows() {
    let _one_at_a_time = SERIAL.lock().await;
    for (name, url) in phial_core::testing::sql_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = app(&url, dir.path()).await;
        let alice = signed_in(&app, "alice").await;
        let root = signed_in(&app, "root").await;
        let (a1, b1) = (row(&db, "a1").await, row(&db, "b1").await);

        // Reads: her tenant's rows only.
        let list = alice.get("/admin/admin_ledger/").send().await.text();
        // (Labels as cells: `>a1<`; a CSRF token may hold "b1".)
        assert!(
            list.contains(">a1<") && !list.contains(">b1<"),
            "{name}: {list}"
        );
        let res = alice
            .get(&format!("/admin/admin_ledger/{}/", b1.id))
            .send()
            .await;
        assert_eq!(res.status(), 404, "{name}");
        // The field the policy hides from her: not listed, shown, exported
        // or edited; a superuser sees it.
        for page in [
            "/admin/admin_ledger/".to_owned(),
            format!("/admin/admin_ledger/{}/", a1.id),
            "/admin/admin_ledger/export.csv".to_owned(),
            format!("/admin/admin_ledger/{}/edit", a1.id),
        ] {
            let text = alice.get(&page).send().await.text();
            assert!(!text.contains("s3cret"), "{name}: {page}: {text}");
            let theirs = root.get(&page).send().await.text();
            assert!(
                theirs.contains("s3cret-a1"),
                "{name}: control: {page}: {theirs}"
            );
        }
        // Nor searched or filtered on: either would tell its value by the
        // rows it leaves. Both work for root.
        let searched = alice
            .get("/admin/admin_ledger/?q=s3cret")
            .send()
            .await
            .text();
        assert!(!searched.contains(">a1<"), "{name}: {searched}");
        let control = root
            .get("/admin/admin_ledger/?q=s3cret-a1")
            .send()
            .await
            .text();
        assert!(control.contains(">a1<"), "{name}: control: {control}");
        // A filter on it is refused for her (as for a field that does not
        // exist: nothing tells her it does), applied for a superuser.
        let filtered = alice
            .get("/admin/admin_ledger/?secret__contains=nope")
            .send()
            .await;
        assert_eq!(filtered.status(), 400, "{name}");
        let filtered = filtered.text();
        assert!(
            filtered.contains("unknown query parameter `secret__contains`")
                && !filtered.contains(">a1<"),
            "{name}: {filtered}"
        );
        let control = root
            .get("/admin/admin_ledger/?secret__contains=nope")
            .send()
            .await;
        assert_eq!(control.status(), 200, "{name}");
        let control = control.text();
        assert!(
            !control.contains(">a1<") && control.contains("admin_ledger"),
            "{name}: control: {control}"
        );

        // Creates: a row in tenant b is refused, nothing written.
        let new = "/admin/admin_ledger/new";
        let res = submit(
            &alice,
            new,
            new,
            &[("tenant", "b"), ("name", "sneak"), ("qty", "1")],
        )
        .await;
        assert_eq!(res.status(), 403, "{name}: {}", res.text());
        let sneaked = ledger::Entity::find()
            .filter(ledger::Column::Name.eq("sneak"))
            .count(db.conn())
            .await
            .unwrap();
        assert_eq!(sneaked, 0, "{name}");
        let res = submit(
            &alice,
            new,
            new,
            &[("tenant", "a"), ("name", "a3"), ("qty", "1")],
        )
        .await;
        assert_eq!(res.status(), 303, "{name}: control: {}", res.text());

        // Edits: moving a1 to tenant b is refused; another change is not.
        let edit = format!("/admin/admin_ledger/{}/edit", a1.id);
        let page = alice.get(&edit).send().await.text();
        let at = page.find("name=\"_version\" value=\"").unwrap() + 23;
        let version = page[at..at + 32].to_owned();
        let res = submit(
            &alice,
            &edit,
            &edit,
            &[
                ("_version", &version),
                ("tenant", "b"),
                ("name", "a1"),
                ("qty", "1"),
            ],
        )
        .await;
        assert_eq!(res.status(), 403, "{name}: {}", res.text());
        assert_eq!(row(&db, "a1").await.tenant, "a", "{name}");
        let res = submit(
            &alice,
            &edit,
            &edit,
            &[
                ("_version", &version),
                ("tenant", "a"),
                ("name", "a1"),
                ("qty", "5"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303, "{name}: control: {}", res.text());
        assert_eq!(row(&db, "a1").await.qty, 5, "{name}");
        assert_eq!(
            row(&db, "a1").await.secret,
            "s3cret-a1",
            "{name}: her form left it alone"
        );
        // Another tenant's row is not there for her to edit.
        let res = alice
            .get(&format!("/admin/admin_ledger/{}/edit", b1.id))
            .send()
            .await;
        assert_eq!(res.status(), 404, "{name}");

        // Bulk actions: one moving rows out of her reach changes nothing
        // and logs nothing; one that fails after writing changes nothing
        // and logs nothing; the control changes and logs every row.
        let list = "/admin/admin_ledger/";
        let bulk = "/admin/admin_ledger/bulk";
        let (a1, a2) = (row(&db, "a1").await, row(&db, "a2").await);
        let (k1, k2) = (a1.id.to_string(), a2.id.to_string());
        let logged = log_count(&db).await;
        for (action, status) in [("move", 403), ("fail", 303)] {
            let res = submit(
                &alice,
                list,
                bulk,
                &[("action", action), ("_selected", &k1), ("_selected", &k2)],
            )
            .await;
            assert_eq!(res.status(), status, "{name}: {action}: {}", res.text());
            assert_eq!(row(&db, "a1").await, a1, "{name}: {action}");
            assert_eq!(row(&db, "a2").await, a2, "{name}: {action}");
            assert_eq!(
                log_count(&db).await,
                logged,
                "{name}: {action} logged nothing"
            );
        }
        let res = submit(
            &alice,
            list,
            bulk,
            &[("action", "bump"), ("_selected", &k1), ("_selected", &k2)],
        )
        .await;
        assert_eq!(res.status(), 303, "{name}: {}", res.text());
        assert_eq!(row(&db, "a1").await.qty, a1.qty + 1, "{name}");
        assert_eq!(log_count(&db).await, logged + 2, "{name}: one entry a row");
        // Selecting another tenant's row does not reach it.
        let kb = b1.id.to_string();
        submit(
            &alice,
            list,
            bulk,
            &[("action", "bump"), ("_selected", &kb)],
        )
        .await;
        assert_eq!(row(&db, "b1").await.qty, b1.qty, "{name}");

        // The log: root changes b1; alice sees neither the entry nor the
        // row's history, and cannot revert it; root can.
        let edit_b = format!("/admin/admin_ledger/{}/edit", b1.id);
        let page = root.get(&edit_b).send().await.text();
        let at = page.find("name=\"_version\" value=\"").unwrap() + 23;
        let version = page[at..at + 32].to_owned();
        let res = submit(
            &root,
            &edit_b,
            &edit_b,
            &[
                ("_version", &version),
                ("tenant", "b"),
                ("name", "b1"),
                ("qty", "99"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303, "{name}: {}", res.text());
        let entry = phial_admin::log::Entity::find()
            .filter(phial_admin::log::Column::ObjectKey.eq(b1.id.to_string()))
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        let theirs = alice.get("/admin/log").send().await.text();
        assert!(
            !theirs.contains(">b1<") && theirs.contains(">a1<"),
            "{name}: {theirs}"
        );
        let res = alice.get(&format!("/admin/log/{}", entry.id)).send().await;
        assert_eq!(res.status(), 404, "{name}");
        let history = alice
            .get(&format!("/admin/admin_ledger/{}/history", b1.id))
            .send()
            .await
            .text();
        assert!(history.contains("Nothing logged yet."), "{name}: {history}");
        let theirs = root
            .get(&format!("/admin/admin_ledger/{}/history", b1.id))
            .send()
            .await
            .text();
        assert!(
            !theirs.contains("Nothing logged yet."),
            "{name}: control: {theirs}"
        );
        // With her own valid CSRF token (from a page she may see): the
        // refusal is the row's, not the form's.
        let res = submit(
            &alice,
            "/admin/admin_ledger/",
            &format!("/admin/log/{}/revert", entry.id),
            &[],
        )
        .await;
        assert_eq!(res.status(), 404, "{name}: {}", res.text());
        assert_eq!(row(&db, "b1").await.qty, 99, "{name}");
        let res = submit(
            &root,
            &format!("/admin/log/{}", entry.id),
            &format!("/admin/log/{}/revert", entry.id),
            &[],
        )
        .await;
        assert_eq!(res.status(), 303, "{name}: control: {}", res.text());
        assert_eq!(row(&db, "b1").await.qty, b1.qty, "{name}");
        app.shutdown().await;
    }
}
