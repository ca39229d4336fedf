//! Run with: `cargo run --release -p phial-bench --bin field-axum -- 127.0.0.1:5302 blog.sqlite`
//!
//! The baseline of `scripts/bench-field.sh`: the blog's `/field/...`
//! endpoints and its REST list written with axum, sea-orm (the blog's own
//! entities, the same SQLite settings and pool size as Phial's defaults),
//! minijinja (the blog's template file) and moka, the way a hand-written
//! axum app would, with nothing else.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use blog::entities::{author, post};
use bytes::Bytes;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, ConnectOptions, Database, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Clone)]
struct AppState {
    db: DatabaseConnection,
    templates: Arc<minijinja::Environment<'static>>,
    page: moka::future::Cache<(), Bytes>,
}

type Failed = (StatusCode, String);

fn failed(e: impl std::fmt::Display) -> Failed {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

async fn json_message() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

async fn one_post(
    State(s): State<AppState>,
    Path(id): Path<i32>,
) -> Result<Json<post::Model>, Failed> {
    post::Entity::find_by_id(id)
        .filter(post::Column::Published.eq(true))
        .one(&s.db)
        .await
        .map_err(failed)?
        .map(Json)
        .ok_or((StatusCode::NOT_FOUND, format!("no published post {id}")))
}

#[derive(Serialize)]
struct Row {
    id: i32,
    title: String,
    author: Option<String>,
    created_at: String,
}

async fn render_latest(s: &AppState) -> Result<String, Failed> {
    let rows = post::Entity::find()
        .filter(post::Column::Published.eq(true))
        .order_by_desc(post::Column::CreatedAt)
        .order_by_desc(post::Column::Id)
        .limit(12)
        .find_also_related(author::Entity)
        .all(&s.db)
        .await
        .map_err(failed)?;
    let posts: Vec<Row> = rows
        .into_iter()
        .map(|(p, a)| Row {
            id: p.id,
            title: p.title,
            author: a.map(|a| a.name),
            created_at: p.created_at.format("%Y-%m-%d %H:%M").to_string(),
        })
        .collect();
    s.templates
        .get_template("field/posts.html")
        .and_then(|t| t.render(minijinja::context! { posts => minijinja::value::Serde(&posts) }))
        .map_err(failed)
}

async fn latest(State(s): State<AppState>) -> Result<Html<String>, Failed> {
    render_latest(&s).await.map(Html)
}

async fn cached(State(s): State<AppState>) -> Result<Html<Bytes>, Failed> {
    s.page
        .try_get_with((), async { render_latest(&s).await.map(Bytes::from) })
        .await
        .map(Html)
        .map_err(|e| (*e).clone())
}

#[derive(serde::Deserialize)]
struct PageParams {
    page: Option<u64>,
    per_page: Option<u64>,
}

/// Published posts, newest first: the page and its count, as Phial's REST
/// list answers (items, total, page links).
async fn list(
    State(s): State<AppState>,
    Query(p): Query<PageParams>,
) -> Result<Json<Value>, Failed> {
    let page = p.page.unwrap_or(1).max(1);
    let per_page = p.per_page.unwrap_or(20).clamp(1, 100);
    let published = || post::Entity::find().filter(post::Column::Published.eq(true));
    let total = published().count(&s.db).await.map_err(failed)?;
    // What `?sort=-created_at` gives in Phial: the key breaks ties.
    let mut items = published()
        .order_by_desc(post::Column::CreatedAt)
        .order_by_asc(post::Column::Id)
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
        .all(&s.db)
        .await
        .map_err(failed)?;
    let more = items.len() as u64 > per_page;
    items.truncate(per_page as usize);
    let pages = total.div_ceil(per_page).max(1);
    let link = |n: u64| format!("/api/posts?page={n}&per_page={per_page}");
    let mut links = json!({ "self": link(page), "first": link(1), "last": link(pages) });
    if more {
        links["next"] = link(page + 1).into();
    }
    Ok(Json(json!({
        "items": items,
        "total": total,
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "links": links,
    })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(file)) = (args.next(), args.next()) else {
        return Err("usage: field-axum ADDR SQLITE_FILE (a database the blog migrated)".into());
    };
    let mut opts = ConnectOptions::new(format!("sqlite://{file}"));
    opts.max_connections(10)
        .acquire_timeout(Duration::from_secs(3))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        });
    let db = Database::connect(opts).await?;
    let mut env = minijinja::Environment::new();
    env.add_template(
        "field/posts.html",
        include_str!("../../../examples/blog/templates/field/posts.html"),
    )?;
    let state = AppState {
        db,
        templates: Arc::new(env),
        page: moka::future::Cache::builder()
            .time_to_live(Duration::from_secs(300))
            .build(),
    };
    let app = Router::new()
        .route("/field/plaintext", get(plaintext))
        .route("/field/json", get(json_message))
        .route("/field/posts/{id}", get(one_post))
        .route("/field/posts", get(latest))
        .route("/field/cached", get(cached))
        .route("/api/posts", get(list))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
