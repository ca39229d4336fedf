//! The `blog` example: authors, posts and comments in a database (SQLite
//! in `instance/` by default, PostgreSQL or MySQL by `database.url`),
//! created by migrations that run on startup in development; the post list
//! is served from the response cache and dropped when posts change. The
//! same models are a REST API at `/api/posts`, `/api/authors` and
//! `/api/comments` (docs at `/api/docs/`), beside a hand-written
//! `/api/stats` in the same document.
//!
//! One file: the blog's app factory and handlers as a newcomer reads them,
//! top to bottom (entities, migrations, policies and the live feed have
//! files of their own).

pub mod entities;
pub mod field;
pub mod io_demo;
pub mod live;
pub mod migrations;
pub mod policies;

use std::time::Duration;

use phial::admin::{Admin, AdminPage, ModelView};
use phial::auth::{Accounts, Auth, AuthError, Remember};
use phial::cache::{Caching, cached};
use phial::migrate::Migrate;
use phial::orm::{Db, Orm, OrmError};
use phial::prelude::*;
use phial::rest::utoipa::{self, OpenApi};
use phial::rest::{Guard, Resource, Rest};
use sea_orm::ColumnTrait;
use sea_orm::{ActiveValue::Set, EntityTrait, ModelTrait, PaginatorTrait, QueryFilter, QueryOrder};

use entities::{author, comment, post};

/// The app factory.
pub async fn create_app(config: Config) -> phial::Result<App> {
    Ok(App::builder(config)
        .assets(phial::assets!())
        .register(
            Orm::new()
                .policy::<post::Entity>(policies::posts())
                .policy::<author::Entity>(policies::authors())
                .policy::<comment::Entity>(policies::comments()),
        )
        .register(Migrate::new().migrator::<migrations::Migrator>())
        // Authors sign in at /login with their email (`phial::auth`): the
        // sign-in lives on the server, so signing out really ends it.
        .register(Auth::<author::Entity>::new().username(author::Column::Email))
        // The admin panel at /admin (`blog admin create-user --username
        // NAME --superuser` first); live with the socket extension.
        .register(admin())
        .register(demo_data)
        .register(Caching::new())
        .register(api())
        // Live comments at /live, on every node with socket.adapter = "redis".
        .register(live::socket())
        .on_change("live-comments", live::comments_created)
        .route("/api/stats", get(stats).name("api_stats"))
        // The post list comes from the response cache until a post, an
        // author or a comment is written (on any node sharing the cache).
        .route(
            "/",
            get(cached(Duration::from_secs(300), index)
                .tag("post")
                .tag("author"))
            .name("index"),
        )
        .route("/posts/{id}", get(show).name("post"))
        // Ten comments a minute per address: enough for people, not for
        // a script (429 with Retry-After past it).
        .route(
            "/posts/{id}/comments",
            post(add_comment).limit(comment_limit()).name("add_comment"),
        )
        .route("/login", get(login_page).post(login).name("login"))
        .route("/logout", post(logout).name("logout"))
        .route("/import", post(import).name("import"))
        // Three 100 ms queries, one after another and joined (PostgreSQL
        // or MySQL): the Flask overview's async table.
        .route(
            "/io/sequential",
            get(io_demo::sequential).name("io_sequential"),
        )
        .route("/io/joined", get(io_demo::joined).name("io_joined"))
        .blueprint(pages())
        // What scripts/bench-field.sh measures against axum and Flask.
        .blueprint(field::blueprint())
        .build()
        .await?)
}

/// The admin: authors, posts and comments, with search, filters and a
/// "publish selected" action.
fn admin() -> Admin {
    Admin::new()
        .model(
            ModelView::<post::Entity>::new()
                .list(["id", "title", "author_id", "published", "created_at"])
                .search(["title", "body"])
                .filters(["published", "author_id", "created_at"])
                .sortable(["title", "created_at"])
                .order_by("created_at", true)
                .read_only("created_at")
                .help(
                    "published",
                    "Published posts are on the index for everyone.",
                )
                .action("publish", "Publish selected posts", publish),
        )
        .model(
            ModelView::<author::Entity>::new()
                .hidden("password_hash")
                .list(["id", "name", "email"])
                .search(["name", "email"])
                .sortable(["name"])
                .order_by("name", false),
        )
        .model(
            ModelView::<comment::Entity>::new()
                .list(["id", "post_id", "author_name", "created_at"])
                .search(["author_name", "body"])
                .filters(["post_id", "created_at"])
                .read_only("created_at")
                .title("author_name"),
        )
        // A page of our own in the menu, for staff who may view posts.
        .page(
            AdminPage::new("stats", "Statistics", stats_page)
                .requires("post", phial::admin::Permission::View),
        )
}

/// The admin's statistics page (its body; the admin adds the layout).
async fn stats_page(_staff: phial::admin::Staff, app: AppState) -> Result<String, HttpError> {
    let db = Db::from_state(&app).ok_or_else(|| HttpError::internal("no database"))?;
    let Json(stats) = stats(db).await?;
    Ok(format!(
        "<dl class=\"fields card\"><div><dt>Published posts</dt><dd>{}</dd></div>\
         <div><dt>Authors</dt><dd>{}</dd></div><div><dt>Comments</dt><dd>{}</dd></div></dl>",
        stats.published_posts, stats.authors, stats.comments
    ))
}

/// The admin's bulk action: publishes the selected posts, in the
/// action's transaction (with its log entries; the index's cache is
/// dropped and live pages follow after the commit).
async fn publish(
    tx: std::sync::Arc<phial::orm::Tx>,
    posts: Vec<post::Model>,
) -> Result<String, phial::BoxError> {
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

/// Ten comments a minute per address, through the post page's form and
/// the API together.
fn comment_limit() -> phial::rate_limit::RateLimit {
    limit("10/minute").scope("comments")
}

/// Who may write through the API and `/import`: `Authorization: Bearer
/// <blog.api_token>` (PHIAL_BLOG__API_TOKEN; a request that sends it is
/// the token's, whatever its cookies say), or a signed-in author or staff
/// user (`phial::auth`: staff with their roles' grants).
fn writers() -> Guard {
    Guard::bearer_from_config("blog.api_token").or(Guard::signed_in())
}

/// The REST API: callers are recognised as one of [`writers`] or else
/// anonymous, and every model's policy (declared on `Orm`, see
/// [`policies`]) decides what each may do — the same answers as the pages,
/// the admin and `/live` (an anonymous reader may comment here as on a
/// post's page, within the same ten a minute; other anonymous writes are a
/// 401 with the reason).
fn api() -> Rest {
    Rest::new()
        .guard(writers().or_anonymous())
        .document(ApiDoc::openapi())
        .resource(
            Resource::<post::Entity>::new()
                .path("posts")
                .read_only("created_at")
                .filterable(["author_id", "published", "created_at", "title"])
                .sortable(["created_at", "title"])
                .searchable(["title", "body"]),
        )
        .resource(
            Resource::<author::Entity>::new()
                .path("authors")
                .hidden("password_hash")
                .filterable(["name", "email"])
                .sortable(["name"]),
        )
        .resource(
            Resource::<comment::Entity>::new()
                .path("comments")
                .limit(comment_limit().methods([phial::http::Method::POST]))
                .read_only("created_at")
                // `id`: a page's script asks for the comments after the
                // newest it shows (static/live.js, after a reconnection).
                .filterable(["id", "post_id", "author_name"])
                .sortable(["id", "created_at"]),
        )
}

/// The sign-in form.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    /// The author's email.
    pub email: String,
    /// Their password.
    pub password: String,
}

async fn login_page(tpl: Templates) -> Result<Html<String>, HttpError> {
    tpl.render("login.html", context! {})
}

/// Signs an author in (`phial::auth`): the password is checked with the
/// attempts counted first (a burst is refused with 429 before any
/// hashing), then the sign-in is made on the server; REST and the live
/// pages see the same author.
async fn login(
    tpl: Templates,
    session: Session,
    accounts: Accounts<author::Model>,
    Form(form): Form<LoginForm>,
) -> Result<Response, HttpError> {
    let author = match accounts.verify_password(&form.email, &form.password).await {
        Ok(a) => a,
        Err(e) => {
            let message = match &e {
                AuthError::Invalid => "wrong email or password".to_owned(),
                other => other.to_string(),
            };
            let email: String = form.email.chars().take(200).collect();
            let page = tpl.render("login.html", context! { error => message, email })?;
            let mut res = (e.status(), page).into_response();
            if let Some(secs) = e.retry_after() {
                res.headers_mut()
                    .insert(phial::http::header::RETRY_AFTER, secs.into());
            }
            return Ok(res);
        }
    };
    accounts.login(&session, &author, Remember::No).await?;
    Ok(Redirect::to("/").into_response())
}

/// Ends the author's sign-in everywhere it is used.
async fn logout(
    session: Session,
    accounts: Accounts<author::Model>,
) -> Result<Redirect, HttpError> {
    accounts.logout(&session).await?;
    Ok(Redirect::to("/"))
}

/// Row counts, for a dashboard.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Published posts.
    pub published_posts: u64,
    /// Authors.
    pub authors: u64,
    /// Comments.
    pub comments: u64,
}

/// How much there is: a hand-written endpoint documented beside the
/// generated ones.
#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "stats",
    responses((status = 200, description = "row counts", body = Stats))
)]
async fn stats(db: Db) -> Result<Json<Stats>, HttpError> {
    let published_posts = post::Entity::find()
        .filter(post::Column::Published.eq(true))
        .count(db.conn())
        .await
        .map_err(OrmError::from)?;
    let authors = author::Entity::find()
        .count(db.conn())
        .await
        .map_err(OrmError::from)?;
    let comments = comment::Entity::find()
        .count(db.conn())
        .await
        .map_err(OrmError::from)?;
    Ok(Json(Stats {
        published_posts,
        authors,
        comments,
    }))
}

#[derive(OpenApi)]
#[openapi(paths(stats), components(schemas(Stats)))]
struct ApiDoc;

async fn index(tpl: Templates, db: Db) -> Result<Html<String>, HttpError> {
    let posts = post::Entity::find()
        .filter(post::Column::Published.eq(true))
        .order_by_desc(post::Column::CreatedAt)
        .find_also_related(author::Entity)
        .all(db.conn())
        .await
        .map_err(OrmError::from)?;
    let posts: Vec<_> = posts
        .into_iter()
        .map(|(p, a)| context! { id => p.id, title => p.title, author => a.map(|a| a.name), created_at => p.created_at.format("%Y-%m-%d").to_string() })
        .collect();
    tpl.render("index.html", context! { posts })
}

/// One post with its comments, as the post's policy lets the caller read
/// it: a draft is not there for anonymous readers (404, like
/// `/api/posts/N`); an author sees their own.
async fn show(
    tpl: Templates,
    db: Db,
    access: Access,
    Path(id): Path<i32>,
) -> Result<Html<String>, HttpError> {
    let posts = access.allowed::<post::Entity>(Action::Read)?;
    let (post, author) = post::Entity::find_by_id(id)
        .filter(posts.filter())
        .find_also_related(author::Entity)
        .one(db.conn())
        .await
        .map_err(OrmError::from)?
        .ok_or_else(|| HttpError::not_found(format!("there is no post {id}")))?;
    let comments = access.allowed::<comment::Entity>(Action::List)?;
    let comments = post
        .find_related(comment::Entity)
        .filter(comments.filter())
        .order_by_asc(comment::Column::CreatedAt)
        .all(db.conn())
        .await
        .map_err(OrmError::from)?;
    // Models are serde values: a JSON object is the context.
    tpl.render(
        "post.html",
        serde_json::json!({ "post": post, "author": author, "comments": comments }),
    )
}

/// The comment form.
#[derive(Debug, serde::Deserialize, validator::Validate)]
pub struct NewComment {
    /// Who writes.
    #[validate(length(min = 1, max = 100, message = "between 1 and 100 characters"))]
    pub author_name: String,
    /// What they say.
    #[validate(length(min = 1, max = 5000, message = "between 1 and 5000 characters"))]
    pub body: String,
}

/// Adds a comment from the post page's form, as the comment policy allows
/// (a post the caller cannot read is a 404; a draft takes no comments but
/// its author's: a 403, as through the API); readers following the post
/// over `/live` see it at once.
async fn add_comment(
    db: Db,
    access: Access,
    Path(id): Path<i32>,
    Valid(Form(form)): Valid<Form<NewComment>>,
) -> Result<Redirect, HttpError> {
    let posts = access.allowed::<post::Entity>(Action::Read)?;
    post::Entity::find_by_id(id)
        .filter(posts.filter())
        .one(db.conn())
        .await
        .map_err(OrmError::from)?
        .ok_or_else(|| HttpError::not_found(format!("there is no post {id}")))?;
    access
        .insert(
            &db,
            comment::ActiveModel {
                post_id: Set(id),
                author_name: Set(form.author_name),
                body: Set(form.body),
                ..Default::default()
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/posts/{id}")))
}

/// One post in an `/import` batch.
#[derive(Debug, serde::Deserialize)]
pub struct ImportedPost {
    /// An existing author's id.
    pub author_id: i32,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Shown on the index.
    #[serde(default)]
    pub published: bool,
}

/// `POST /import` with a JSON array of posts: one bulk insert, all or
/// nothing; an unknown author is a 422. Only [`writers`] import (401
/// otherwise), as the post policy lets them create posts (403 otherwise):
/// the API token for any author, a signed-in author as themselves (the
/// posts are theirs, whatever `author_id` says).
async fn import(
    db: Db,
    State(app): State<AppState>,
    parts: phial::http::request::Parts,
    Json(posts): Json<Vec<ImportedPost>>,
) -> Result<Json<serde_json::Value>, HttpError> {
    phial::identity::of_request(&parts.extensions).await?;
    let caller = writers().check(&parts, &app).ok_or_else(|| {
        HttpError::new(
            StatusCode::UNAUTHORIZED,
            "sign in as an author or send the API token (Authorization: Bearer ...) to import",
        )
    })?;
    let policies = app.get::<Policies>().cloned().unwrap_or_default();
    let create = policies.decide(&caller, "post", Action::Create);
    if !create.allowed {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            create.reason.unwrap_or_default(),
        ));
    }
    let own = match caller.kind() {
        CallerKind::User => Some(policies::author_id(&caller)),
        // Anyone else the policy narrows cannot be checked row by row in
        // one bulk insert: the API is for them.
        _ if create.rows.is_some() => {
            return Err(HttpError::new(
                StatusCode::FORBIDDEN,
                "your posts are checked one by one: create them through /api/posts",
            ));
        }
        _ => None,
    };
    let now = chrono::Utc::now();
    let models = posts.into_iter().map(|p| post::ActiveModel {
        author_id: Set(own.unwrap_or(p.author_id)),
        title: Set(p.title),
        body: Set(p.body),
        published: Set(p.published),
        created_at: Set(now),
        ..Default::default()
    });
    let imported = db.insert_bulk(models).await?;
    Ok(Json(serde_json::json!({ "imported": imported })))
}

/// Static pages as a blueprint with its own templates and static files
/// (`/pages/about`, `/pages/static/...`); `phial::folder!` compiles them
/// into release builds like the app's own.
fn pages() -> Blueprint {
    Blueprint::new("pages")
        .url_prefix("/pages")
        .template_folder(phial::folder!("pages/templates"))
        .static_folder(phial::folder!("pages/static"))
        .route("/about", get(about).name("about"))
}

async fn about(tpl: Templates) -> Result<Html<String>, HttpError> {
    tpl.render("pages/about.html", context! {})
}

/// In development, fills an empty database with a few posts so the first
/// `cargo run -p blog` has something to show. Registered after `Migrate`,
/// so its startup hook runs after the migrations; only when the app is
/// about to serve (not before `db …` or `check`).
fn demo_data(app: &mut AppBuilder) -> Result<(), BoxError> {
    if app.config().profile() != Profile::Development || !app.serving() {
        return Ok(());
    }
    app.on_startup(|state| async move {
        let db = Db::from_state(&state).ok_or("no database")?;
        development_admin(&db).await?;
        if author::Entity::find().count(db.conn()).await? > 0 {
            return Ok(());
        }
        let now = chrono::Utc::now();
        // Ada signs in at /login with `ada@example.com` / `ada` (in
        // development only).
        let ada = db
            .insert(author::ActiveModel {
                name: Set("Ada".into()),
                email: Set("ada@example.com".into()),
                password_hash: Set(phial::password::hash("ada").await?),
                ..Default::default()
            })
            .await?;
        let hello = db
            .insert(post::ActiveModel {
                author_id: Set(ada.id),
                title: Set("Hello, Phial".into()),
                body: Set(
                    "This post lives in the database the blog created on its first run.".into(),
                ),
                published: Set(true),
                created_at: Set(now),
                ..Default::default()
            })
            .await?;
        db.insert(comment::ActiveModel {
            post_id: Set(hello.id),
            author_name: Set("Grace".into()),
            body: Set("Welcome!".into()),
            created_at: Set(now),
            ..Default::default()
        })
        .await?;
        Ok(())
    });
    Ok(())
}

/// In development, a first run with no admin user makes one, `admin`, with
/// a random password printed once in the log, so `/admin` opens on the
/// first `cargo run -p blog` (`blog admin create-user` makes more).
async fn development_admin(db: &Db) -> Result<(), BoxError> {
    if phial::admin::user::Entity::find().count(db.conn()).await? > 0 {
        return Ok(());
    }
    let password: String = phial::cli::new_secret().chars().take(20).collect();
    phial::admin::create_user(db, "admin", &password, true).await?;
    tracing::warn!(
        "development admin user created: sign in at /admin/ as `admin` \
         with password `{password}` (shown once; `blog admin create-user` makes others)"
    );
    Ok(())
}
