//! A small app for the admin's feature tests: authors, their posts (a
//! draft or published) and comments on posts, with the panel a project
//! would write for them (search, filters, a "publish" bulk action, a page
//! of its own), on SQLite unless a test names a database. Its tables are
//! `lib_author`, `lib_post` and `lib_comment` (grants name them:
//! `lib_post.view`); the panel shows them at `/admin/author/`,
//! `/admin/post/` and `/admin/comment/`.

use phial_admin::{Admin, AdminPage, ModelView, Permission, Staff, create_user};
use phial_core::testing::TestClient;
use phial_core::{App, AppState, Config, HttpError};
use phial_migrate::Migrate;
use phial_orm::{Db, Orm};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    Schema, Set,
};

pub(crate) mod author {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lib_author")]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "String(StringLen::N(80))")]
        pub name: String,
        #[sea_orm(column_type = "String(StringLen::N(120))")]
        pub email: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub enum Relation {
        #[sea_orm(has_many = "super::post::Entity")]
        Post,
    }

    impl Related<super::post::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Post.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lib_post")]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub author_id: i32,
        #[sea_orm(column_type = "String(StringLen::N(200))")]
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub published: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::author::Entity",
            from = "Column::AuthorId",
            to = "super::author::Column::Id",
            on_delete = "Cascade"
        )]
        Author,
        #[sea_orm(has_many = "super::comment::Entity")]
        Comment,
    }

    impl Related<super::author::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Author.def()
        }
    }

    impl Related<super::comment::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Comment.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod comment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lib_comment")]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub post_id: i32,
        #[sea_orm(column_type = "String(StringLen::N(80))")]
        pub author_name: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    #[expect(unreachable_pub, reason = "sea-orm's derive makes public items")]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::post::Entity",
            from = "Column::PostId",
            to = "super::post::Column::Id",
            on_delete = "Cascade"
        )]
        Post,
    }

    impl Related<super::post::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Post.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The superuser every library starts with.
pub(crate) const ROOT: (&str, &str) = ("root", "correct horse battery");

/// The library's panel: posts (search, filters, sorting, the "publish"
/// action), authors and comments, and a statistics page for staff who may
/// view posts.
fn admin() -> Admin {
    Admin::new()
        .model(
            ModelView::<post::Entity>::new()
                .slug("post")
                .named("Posts", "post")
                .list(["id", "title", "author_id", "published"])
                .search(["title", "body"])
                .filters(["published", "author_id"])
                .sortable(["title"])
                .action("publish", "Publish selected posts", publish),
        )
        .model(
            ModelView::<author::Entity>::new()
                .slug("author")
                .named("Authors", "author")
                .list(["id", "name", "email"])
                .search(["name", "email"])
                .sortable(["name"]),
        )
        .model(
            ModelView::<comment::Entity>::new()
                .slug("comment")
                .named("Comments", "comment")
                .list(["id", "post_id", "author_name"])
                .title("author_name"),
        )
        .page(
            AdminPage::new("stats", "Statistics", stats_page)
                .requires("lib_post", Permission::View),
        )
}

/// The statistics page's body (the admin adds the layout).
async fn stats_page(_staff: Staff, app: AppState) -> Result<String, HttpError> {
    let db = Db::from_state(&app).ok_or_else(|| HttpError::internal("no database"))?;
    let published = post::Entity::find()
        .filter(post::Column::Published.eq(true))
        .count(db.conn())
        .await
        .map_err(|e| HttpError::internal(e.to_string()))?;
    Ok(format!(
        "<dl class=\"fields card\"><div><dt>Published posts</dt><dd>{published}</dd></div></dl>"
    ))
}

/// The bulk action: publishes the selected drafts in the action's
/// transaction (with its log entries).
async fn publish(
    tx: std::sync::Arc<phial_orm::Tx>,
    posts: Vec<post::Model>,
) -> Result<String, phial_core::BoxError> {
    let mut n = 0;
    for p in posts.into_iter().filter(|p| !p.published) {
        let mut am: post::ActiveModel = p.into();
        am.published = Set(true);
        tx.update(am).await?;
        n += 1;
    }
    Ok(format!(
        "Published {n} post{}.",
        if n == 1 { "" } else { "s" }
    ))
}

/// A library on `url` (SQLite in `dir` when `None`), its tables fresh, the
/// superuser [`ROOT`] made; `configure` sets what a test changes.
pub(crate) async fn library(
    url: &Option<String>,
    dir: &std::path::Path,
    configure: impl FnOnce(Config) -> Config,
) -> (App, Db) {
    open(url, dir, configure, false).await
}

/// A library on SQLite in `dir` with the socket extension: the panel's
/// pages are live (`/phial-admin`).
pub(crate) async fn live_library(dir: &std::path::Path) -> (App, Db) {
    open(&None, dir, |c| c, true).await
}

async fn open(
    url: &Option<String>,
    dir: &std::path::Path,
    configure: impl FnOnce(Config) -> Config,
    live: bool,
) -> (App, Db) {
    let mut config = Config::testing()
        .set("instance_path", dir.display().to_string())
        // The tables come from the entities here: sign-ins live in memory
        // rather than in `phial_session`.
        .set("session.store", "memory")
        .set("migrate.auto_upgrade", false);
    if let Some(url) = url {
        config = config.set("database.url", url);
    }
    let mut builder = App::builder(configure(config));
    builder
        .register(Orm::new())
        .register(Migrate::new())
        .register(admin());
    if live {
        builder.register(phial_socket::Socket::new());
    }
    let app = builder.build().await.unwrap();
    let db = Db::from_state(app.state()).unwrap();
    let schema = Schema::new(db.conn().get_database_backend());
    for table in ["lib_comment", "lib_post", "lib_author"] {
        db.conn()
            .execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .unwrap();
    }
    super::fresh_tables(&db, author::Entity).await;
    for create in [
        schema.create_table_from_entity(post::Entity),
        schema.create_table_from_entity(comment::Entity),
    ] {
        db.conn().execute(&create).await.unwrap();
    }
    create_user(&db, ROOT.0, ROOT.1, true).await.unwrap();
    (app, db)
}

/// Ada, her published post and her draft: `(published, draft)` ids.
pub(crate) async fn seed(db: &Db) -> (i32, i32) {
    author::ActiveModel {
        name: Set("Ada".into()),
        email: Set("ada@example.com".into()),
        ..Default::default()
    }
    .insert(db.conn())
    .await
    .unwrap();
    let mut ids = Vec::new();
    for (title, published) in [("Hello", true), ("Draft", false)] {
        let p = new_post(db, title, published).await;
        ids.push(p);
    }
    (ids[0], ids[1])
}

/// A post of Ada's (author 1).
pub(crate) async fn new_post(db: &Db, title: &str, published: bool) -> i32 {
    post::ActiveModel {
        author_id: Set(1),
        title: Set(title.into()),
        body: Set(format!("{title}'s body")),
        published: Set(published),
        ..Default::default()
    }
    .insert(db.conn())
    .await
    .unwrap()
    .id
}

/// Signs `user` in through the login form; the status of the answer (303
/// signed in, 401 refused, 429 throttled).
pub(crate) async fn sign_in(http: &TestClient, user: &str, password: &str) -> u16 {
    http.submit_form(
        "/admin/login",
        &[
            ("username", user),
            ("password", password),
            ("next", "/admin/"),
        ],
    )
    .await
    .status()
    .as_u16()
}
