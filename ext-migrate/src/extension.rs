//! The migrations extension: the app's migrations and those extensions
//! contribute, applied on startup in development (under a lock, so one
//! node of many migrates) and by the `db` commands.

use std::sync::Arc;

use phial_core::{AppBuilder, BoxError, Extension};
use phial_orm::{Databases, Orm};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::config::{MigrateConfig, SECTION};
use crate::migrations::{Contributed, Migrations};
use crate::{cli, metrics, migrations};

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

/// The longest wait for the migration lock on startup: 5 s (or a quarter)
/// less than `startup_timeout_secs`, which bounds the whole startup hook.
fn startup_lock_wait(startup_timeout_secs: u64) -> std::time::Duration {
    let limit = std::time::Duration::from_secs(startup_timeout_secs);
    limit - (limit / 4).min(std::time::Duration::from_secs(5))
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
        let auto = cfg.auto_upgrade.unwrap_or(!profile.is_production()) && app.serving();
        if auto {
            let wait_cap = startup_lock_wait(app.core_config().startup_timeout_secs);
            app.on_startup(move |state| async move {
                let migrations = state
                    .get::<Migrations>()
                    .ok_or("the migrations were not collected")?;
                // Give up on the lock before the startup hook is cut off, so
                // the failure names the holder.
                let timeout = migrations.lock_timeout().min(wait_cap);
                let migrations = migrations.clone().with_lock_timeout(timeout);
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
        metrics::describe();
        app.metrics_collector(|state| async move {
            if let (Some(migrations), Some(dbs)) =
                (state.get::<Migrations>(), state.get::<Databases>())
            {
                metrics::collect(migrations, dbs).await;
            }
        });
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
        let cfg: MigrateConfig = app.section(SECTION)?;
        let lock_timeout = std::time::Duration::from_secs(cfg.lock_timeout_secs);
        app.insert(Migrations::new(list).with_lock_timeout(lock_timeout));
        Ok(())
    }
}
