//! The app the suites sign in to: members (an entity, realm `user`) and
#![allow(unreachable_pub, reason = "the entity macro writes pub items")]
//! staff (a loader over a fixed list, realm `staff`), on SQLite in a
//! temporary folder or the database a suite gives, with pages that need
//! each realm.
#![allow(dead_code, reason = "each suite uses some of the helpers")]

use std::sync::Arc;

use phial_auth::{
    Accounts, Auth, AuthUser, CurrentUser, Remember, fresh_login_required, login_required,
};
use phial_core::routing::{get, post};
use phial_core::testing::{TestClient, TestResponse};
use phial_core::{App, Config, Json, Session, Templates};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

pub(crate) mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "auth_test_member")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: String,
        pub name: String,
        pub password_hash: String,
        pub is_active: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod create_member {
    use sea_orm_migration::prelude::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261207_000001_create_auth_test_member"
        }
    }

    #[sea_orm_migration::async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table("auth_test_member")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("id")
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new("email")
                            .string_len(200)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new("name").string_len(100).not_null())
                    .col(ColumnDef::new("password_hash").string_len(200).not_null())
                    .col(
                        ColumnDef::new("is_active")
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .to_owned(),
            )
            .await
        }
        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(Table::drop().table("auth_test_member").to_owned())
                .await
        }
    }
}

/// A staff user of the loader realm.
#[derive(Clone, Debug)]
pub(crate) struct StaffUser {
    pub(crate) name: String,
    pub(crate) hash: String,
}

impl AuthUser for StaffUser {
    fn auth_id(&self) -> String {
        self.name.clone()
    }
    fn display_name(&self) -> String {
        self.name.clone()
    }
    fn password_hash(&self) -> &str {
        &self.hash
    }
}

/// The staff list (one user, `root`, password `staff-password`).
pub(crate) fn staff_list() -> Arc<Vec<StaffUser>> {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = HASH
        .get_or_init(|| phial_core::password::hash_blocking("staff-password").unwrap())
        .clone();
    Arc::new(vec![StaffUser {
        name: "root".into(),
        hash,
    }])
}

#[derive(serde::Deserialize)]
struct Login {
    name: String,
    password: String,
    #[serde(default)]
    remember: bool,
}

async fn login(
    accounts: Accounts<member::Model>,
    session: Session,
    Json(form): Json<Login>,
) -> Result<String, phial_auth::AuthError> {
    let m = accounts.verify_password(&form.name, &form.password).await?;
    let remember = if form.remember {
        Remember::Yes
    } else {
        Remember::No
    };
    accounts.login(&session, &m, remember).await?;
    Ok(format!("signed in as {}", m.name))
}

async fn staff_login(
    accounts: Accounts<StaffUser>,
    session: Session,
    Json(form): Json<Login>,
) -> Result<String, phial_auth::AuthError> {
    let s = accounts.verify_password(&form.name, &form.password).await?;
    accounts.login(&session, &s, Remember::No).await?;
    Ok(format!("staff {}", s.name))
}

/// The app, with `config` on top of the testing profile.
pub(crate) async fn app(config: Config) -> App {
    builder(config, None).build().await.unwrap()
}

/// The app whose staff sign-ins idle out after `idle`.
pub(crate) async fn app_with_staff_idle(config: Config, idle: std::time::Duration) -> App {
    builder(config, Some(idle)).build().await.unwrap()
}

/// The app with the cache extension too (sign-ins and counters in the
/// cache's backend).
pub(crate) async fn app_with_cache(config: Config) -> App {
    builder(config, None)
        .register(phial_cache::Caching::new())
        .build()
        .await
        .unwrap()
}

fn builder(config: Config, staff_idle: Option<std::time::Duration>) -> phial_core::AppBuilder {
    let staff = staff_list();
    let find_staff = staff.clone();
    let mut staff_realm = Auth::with_loader(move |_app, id: String| {
        let staff = staff.clone();
        async move { Ok(staff.iter().find(|s| s.name == id).cloned()) }
    })
    .finder(move |_app, name: String| {
        let staff = find_staff.clone();
        async move { Ok(staff.iter().find(|s| s.name == name).cloned()) }
    })
    .realm("staff")
    .login_url("/staff/login")
    .staff();
    if let Some(idle) = staff_idle {
        staff_realm = staff_realm.idle(idle);
    }
    let mut b = App::builder(config);
    b.register(phial_orm::Orm::new())
        .register(phial_migrate::Migrate::new().migration(create_member::Migration))
        .register(Auth::<member::Entity>::new().username(member::Column::Email))
        .register(staff_realm)
        .template_source("page.html", "{% if current_user.is_authenticated %}hello {{ current_user.name }} ({{ current_user.realm }}){% else %}hello stranger{% endif %}|{{ signed_in | length }}")
        .route("/login", post(login))
        .route(
            "/logout",
            post(|a: Accounts<member::Model>, s: Session| async move {
                a.logout(&s).await.map(|()| "bye")
            }),
        )
        .route("/me", get(|CurrentUser(m): CurrentUser<member::Model>| async move { m.name }))
        .route(
            "/maybe",
            get(|m: Option<CurrentUser<member::Model>>| async move {
                m.map_or("nobody".to_owned(), |m| m.name.clone())
            }),
        )
        .route(
            "/drafts",
            get(|| async { "your drafts" }).layer(login_required::<member::Model>()),
        )
        .route(
            "/password",
            get(|| async { "change it here" }).layer(fresh_login_required::<member::Model>()),
        )
        .route(
            "/page",
            get(|tpl: Templates| async move { tpl.render("page.html", ()) }),
        )
        .route("/staff/login", post(staff_login))
        .route(
            "/staff/logout",
            post(|a: Accounts<StaffUser>, s: Session| async move { a.logout(&s).await.map(|()| "bye") }),
        )
        .route("/staff/me", get(|CurrentUser(s): CurrentUser<StaffUser>| async move { s.name }))
        .route(
            "/form-token",
            get(|t: phial_core::csrf::CsrfToken| async move { t.0 }),
        )
        .route("/form", post(|| async { "posted" }))
        // The store key of the member sign-in this session names (what a
        // timed-out sign-in loses), for tests that expire it by hand.
        .route(
            "/debug-auth",
            get(|s: Session| async move {
                let map: std::collections::BTreeMap<String, String> =
                    s.get("_auth").unwrap_or_default();
                let entry = map.get("user").cloned().unwrap_or_default();
                let (kid, sid) = entry.split_once('.').unwrap_or_default();
                format!("{{user:{kid}}}:s:{sid}")
            }),
        );
    b
}

/// A config on SQLite in `dir`, or on the database at `url`.
pub(crate) fn config(dir: &std::path::Path, url: Option<&str>) -> Config {
    let mut c = Config::testing().set("instance_path", dir.display().to_string());
    if let Some(url) = url {
        c = c.set("database.url", url);
    }
    c
}

/// Adds a member; returns its id.
pub(crate) async fn add_member(app: &App, email: &str, password: &str) -> i32 {
    let db = phial_orm::Db::from_state(app.state()).unwrap();
    let m = member::ActiveModel {
        email: Set(email.into()),
        name: Set(email.split('@').next().unwrap().into()),
        password_hash: Set(phial_core::password::hash(password).await.unwrap()),
        is_active: Set(true),
        ..Default::default()
    }
    .insert(db.conn())
    .await
    .unwrap();
    m.id
}

/// Signs `client` in as a member.
pub(crate) async fn sign_in(client: &TestClient, email: &str, password: &str) -> TestResponse {
    client
        .post("/login")
        .json(&serde_json::json!({"name": email, "password": password}))
        .send()
        .await
}

/// The error a refusal carries, for messages.
pub(crate) fn reason(res: &TestResponse) -> String {
    format!("{} {}", res.status(), res.text())
}
