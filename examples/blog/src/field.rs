//! The endpoints `scripts/bench-field.sh` measures in the blog, in a bare
//! axum + sea-orm server (`phial-bench`'s `field-axum`) and in Flask
//! (`bench/field_flask/app.py`), each written the way that framework's
//! users would: plain text, JSON, one row as JSON, a template of the 12
//! latest posts, the same page from the cache. The sixth, a REST list, is
//! the blog's generated `GET /api/posts?per_page=12`.
//!
//! They live under `/field/` (a blueprint) and read what the rest of the
//! blog writes, so they also make a quick smoke test of a deployment.

use std::time::Duration;

use phial::cache::cached;
use phial::orm::{Db, OrmError};
use phial::prelude::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::{author, post};

/// Posts on the template page.
pub const PAGE_ROWS: u64 = 12;

/// The `/field/...` routes.
pub fn blueprint() -> Blueprint {
    Blueprint::new("field")
        .url_prefix("/field")
        .route("/plaintext", get(plaintext).name("plaintext"))
        .route("/json", get(json).name("json"))
        .route("/posts/{id}", get(one_post).name("post"))
        .route("/posts", get(latest).name("posts"))
        // The same page kept for 5 minutes, dropped when a post or an
        // author is written (on every node sharing the cache).
        .route(
            "/cached",
            get(cached(Duration::from_secs(300), latest)
                .tag("post")
                .tag("author"))
            .name("cached"),
        )
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

async fn json() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

/// One published post as JSON.
async fn one_post(db: Db, Path(id): Path<i32>) -> Result<Json<post::Model>, HttpError> {
    post::Entity::find_by_id(id)
        .filter(post::Column::Published.eq(true))
        .one(db.conn())
        .await
        .map_err(OrmError::from)?
        .map(Json)
        .ok_or_else(|| HttpError::not_found(format!("there is no published post {id}")))
}

/// The 12 latest published posts with their authors, rendered.
async fn latest(tpl: Templates, db: Db) -> Result<Html<String>, HttpError> {
    let rows = post::Entity::find()
        .filter(post::Column::Published.eq(true))
        .order_by_desc(post::Column::CreatedAt)
        .order_by_desc(post::Column::Id)
        .limit(PAGE_ROWS)
        .find_also_related(author::Entity)
        .all(db.conn())
        .await
        .map_err(OrmError::from)?;
    let posts: Vec<_> = rows
        .into_iter()
        .map(|(p, a)| {
            context! {
                id => p.id,
                title => p.title,
                author => a.map(|a| a.name),
                created_at => p.created_at.format("%Y-%m-%d %H:%M").to_string(),
            }
        })
        .collect();
    tpl.render("field/posts.html", context! { posts })
}
