//! # phial-migrate
//!
//! Migrations for Phial apps through
//! [sea-orm-migration](https://docs.rs/sea-orm-migration): the app's own
//! migrations and those other extensions contribute, composed into one
//! ordered set in one history table (`seaql_migrations`); applied on
//! startup in development and testing (`migrate.auto_upgrade`), never
//! twice when several nodes start together (a lock in the database, which
//! a node waits for at most `migrate.lock_timeout_secs`, 60 s by default,
//! before failing with the holder's name); and the
//! `db` CLI: `upgrade [--to NAME]`, `downgrade [-n N]`, `status`,
//! `history`, `check`, `new NAME`, `fresh`, `reset`.
//!
//! ```no_run
//! use phial_core::{App, Config};
//! use phial_migrate::Migrate;
//! use phial_orm::Orm;
//! # mod migration { pub struct Migrator; }
//! # async fn doc<M: phial_migrate::sea_orm_migration::MigratorTrait>(config: Config) -> phial_core::Result<App> {
//! Ok(App::builder(config)
//!     .register(Orm::new())
//!     .register(Migrate::new().migrator::<M>()) // e.g. migration::Migrator
//!     .build()
//!     .await?)
//! # }
//! ```

mod cli;
mod config;
mod error;
mod extension;
mod lock;
mod metrics;
mod migrations;
mod runner;
mod template;

pub use config::{DEFAULT_LOCK_TIMEOUT_SECS, MigrateConfig, SECTION};
pub use error::MigrateError;
pub use extension::Migrate;
pub use migrations::{Contributed, Migrations};
pub use runner::Entry;
pub use sea_orm_migration;

/// What app factories and migrations use: `use phial::migrate::prelude::*;`.
pub mod prelude {
    pub use crate::{Contributed, Migrate};
    pub use sea_orm_migration::prelude::*;
}

/// How Phial names its migration lock on each backend, for tests and tools
/// that need to take or inspect the same lock. Not a stable API.
#[doc(hidden)]
pub mod lock_keys {
    pub use crate::lock::{POSTGRES_KEY, mysql_lock_name, mysql_lock_name_of, sqlite_lock_file};
}
