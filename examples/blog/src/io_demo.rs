//! The Flask overview's async table, reproduced: a page that waits on three
//! 100 ms database queries, written one after another
//! (`/io/sequential`, ~300 ms) and joined (`/io/joined`, as long as the
//! slowest, ~100 ms). Flask needs `async def` and `asyncio.gather` for
//! the second, and runs an event loop per request to do it; here every
//! handler is async and `tokio::join!` is the whole change.
//!
//! The queries sleep in the database (`pg_sleep` on PostgreSQL, `SLEEP` on
//! MySQL): SQLite has no such function, so there the pages answer 501 and
//! say why. `scripts/bench-field.sh` times both against Flask's.

use std::time::Instant;

use phial::orm::sea_orm::{ConnectionTrait, DbBackend, Statement};
use phial::orm::{Db, OrmError};
use phial::prelude::*;

/// How long each query waits in the database.
pub const QUERY_SECS: f64 = 0.1;

/// What each page answers: how many queries ran and how long it took.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Timing {
    /// Queries run (always 3).
    pub queries: u32,
    /// Wall time of the three, in milliseconds.
    pub ms: u64,
}

/// One query that takes [`QUERY_SECS`] in the database.
async fn slow_query(db: &Db) -> Result<(), HttpError> {
    let backend = db.conn().get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!("SELECT pg_sleep({QUERY_SECS})"),
        DbBackend::MySql => format!("SELECT SLEEP({QUERY_SECS})"),
        _ => {
            return Err(HttpError::new(
                StatusCode::NOT_IMPLEMENTED,
                "this page sleeps in the database: run the blog on PostgreSQL or MySQL \
                 (database.url); SQLite has no sleep function",
            ));
        }
    };
    db.conn()
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .map_err(OrmError::from)?;
    Ok(())
}

fn timing(started: Instant) -> Json<Timing> {
    Json(Timing {
        queries: 3,
        ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// `GET /io/sequential`: the three queries one after another (Flask's
/// sync view).
pub async fn sequential(db: Db) -> Result<Json<Timing>, HttpError> {
    let started = Instant::now();
    slow_query(&db).await?;
    slow_query(&db).await?;
    slow_query(&db).await?;
    Ok(timing(started))
}

/// `GET /io/joined`: the same three at once, each on its own pooled
/// connection (Flask's `await asyncio.gather(...)`).
pub async fn joined(db: Db) -> Result<Json<Timing>, HttpError> {
    let started = Instant::now();
    let (a, b, c) = tokio::join!(slow_query(&db), slow_query(&db), slow_query(&db));
    a?;
    b?;
    c?;
    Ok(timing(started))
}
