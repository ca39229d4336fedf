//! # phial-migrate
//!
//! Migrations for Phial apps through
//! [sea-orm-migration](https://docs.rs/sea-orm-migration): the app's own
//! migrations and those other extensions contribute, composed into one
//! ordered set in one history table (`seaql_migrations`); applied on
//! startup in development and testing (`migrate.auto_upgrade`), never
//! twice when several nodes start together (a database lock); and the
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
mod error;
mod lock;
mod migrations;
mod runner;
mod template;

use std::sync::Arc;

use phial_core::{AppBuilder, BoxError, Extension};
use phial_orm::{Databases, Orm};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::Deserialize;

pub use error::MigrateError;
pub use migrations::{Contributed, Migrations};
pub use runner::Entry;
pub use sea_orm_migration;

/// The config section this extension reads.
pub const SECTION: &str = "migrate";

/// `[migrate]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MigrateConfig {
    /// Apply pending migrations when the app starts (`PHIAL_MIGRATE__AUTO_UPGRADE`).
    /// Default: on in development and testing, off in production.
    pub auto_upgrade: Option<bool>,
}

/// The migrations extension. Needs [`Orm`].
#[derive(Clone, Default)]
pub struct Migrate {
    own: Vec<Arc<dyn MigrationTrait>>,
}

impl std::fmt::Debug for Migrate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrate")
            .field("migrations", &self.own.len())
            .finish()
    }
}

impl Migrate {
    /// No migrations of the app's own yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every migration of a sea-orm-migration `Migrator` (what
    /// `sea-orm-cli migrate init` generates).
    pub fn migrator<M: MigratorTrait>(mut self) -> Self {
        self.own.extend(M::migrations().into_iter().map(Arc::from));
        self
    }

    /// Adds one migration.
    pub fn migration(mut self, migration: impl MigrationTrait + 'static) -> Self {
        self.own.push(Arc::new(migration));
        self
    }
}

impl Extension for Migrate {
    fn name(&self) -> &str {
        "migrate"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        app.require::<Orm>();
        let cfg: MigrateConfig = app.section(SECTION)?;
        let profile = app.config().profile();
        // Only serving migrates on startup (`run`, or an app built outside
        // the CLI, as tests do): `db …` migrates explicitly (upgrading first
        // would hide what `db status` and `db check` are asked about), and
        // `check`, `routes` or `config` must change nothing.
        let serving = matches!(app.launch_command(), None | Some("run"));
        let auto = cfg.auto_upgrade.unwrap_or(!profile.is_production()) && serving;
        if auto {
            app.on_startup(|state| async move {
                let migrations = state
                    .get::<Migrations>()
                    .ok_or("the migrations were not collected")?;
                let dbs = state
                    .get::<Databases>()
                    .ok_or("the Orm extension provided no databases")?;
                let (_, url) = dbs.urls().next().ok_or("no default database")?;
                let applied = migrations.upgrade(url, dbs.default_db(), None).await?;
                if !applied.is_empty() {
                    tracing::info!(
                        "applied {} migration(s): {}",
                        applied.len(),
                        applied.join(", ")
                    );
                }
                Ok(())
            });
        }
        cli::register(app);
        Ok(())
    }

    fn finish(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let mut list: Vec<_> = self
            .own
            .iter()
            .map(|m| migrations::Named::new(None, m.clone()))
            .collect();
        for (source, contributed) in app.take_contributions::<Contributed>() {
            list.push(migrations::Named::new(Some(&source), contributed.0));
        }
        let mut seen = std::collections::HashSet::new();
        for m in &list {
            if !seen.insert(m.name.clone()) {
                return Err(format!("two migrations are named `{}`: rename one", m.name).into());
            }
        }
        app.insert(Migrations::new(list));
        Ok(())
    }
}
