//! # phial-orm
//!
//! Databases for Phial apps through [sea-orm](https://docs.rs/sea-orm): the
//! [`Orm`] extension opens the pools named in `[database]` when the app is
//! built, handlers reach them with the [`Db`] extractor, `/readyz` pings
//! them, and they are closed at shutdown. SQLite in the instance folder is
//! the default; PostgreSQL and MySQL/MariaDB come by URL.
//!
//! ```
//! use phial_core::{App, Config, routing::get};
//! use phial_orm::{Db, Orm, OrmError};
//! use sea_orm::ConnectionTrait;
//!
//! async fn ping(db: Db) -> Result<&'static str, OrmError> {
//!     db.conn().execute_unprepared("SELECT 1").await?; // a read: no change to publish
//!     Ok("pong")
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = App::builder(Config::testing().set("database.url", "sqlite::memory:"))
//!     .register(Orm::new())
//!     .route("/ping", get(ping))
//!     .build().await.unwrap();
//! assert_eq!(app.test_client().get("/ping").send().await.text(), "pong");
//! # }
//! ```

mod bulk;
mod config;
mod connect;
mod db;
mod deploy_report;
pub mod doors;
mod error;
mod extension;
pub mod live;
pub mod meta;
mod metrics;
mod pagination;
pub mod policy;
pub mod query;
mod request_tx;
mod write;

pub use config::{ConnectionConfig, DatabaseConfig, SECTION};
pub use db::{Databases, Db};
pub use error::OrmError;
pub use extension::Orm;
pub use pagination::{
    DEFAULT_PER_PAGE, KeysetPage, MAX_OFFSET, MAX_PER_PAGE, Page, PageQuery, keyset, paginate,
};
pub use request_tx::{RequestTx, Transactional, TransactionalService};
pub use sea_orm;

/// What handlers and app factories use: `use phial::orm::prelude::*;`.
pub mod prelude {
    pub use crate::policy::{Access, Action, Caller, CallerKind, Policies, Policy, Rule};
    pub use crate::{Db, Orm, OrmError, Page, PageQuery, RequestTx, Transactional, paginate};
}
pub use write::Tx;
