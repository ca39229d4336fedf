//! The composed set of migrations: the app's own plus those contributed
//! by extensions, one ordered list in one history table
//! (`seaql_migrations`). Contributed migrations are named after their
//! extension (`admin/m20260101_000001_users`) so names never clash.

use std::sync::Arc;
use std::time::Duration;

use sea_orm_migration::sea_orm::DbErr;
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTraitSelf, SchemaManager};

/// A migration an extension hands to the migrator with
/// `app.contribute(Contributed::new(M))` in its `init_app`.
pub struct Contributed(pub(crate) Arc<dyn MigrationTrait>);

impl Contributed {
    /// Wraps a sea-orm-migration migration.
    pub fn new(migration: impl MigrationTrait + 'static) -> Self {
        Contributed(Arc::new(migration))
    }
}

/// One migration with its final name (sea-orm-migration asks for fresh
/// boxes on every run, so the migration itself is shared).
#[derive(Clone)]
pub(crate) struct Named {
    pub(crate) name: String,
    inner: Arc<dyn MigrationTrait>,
}

impl Named {
    pub(crate) fn new(source: Option<&str>, inner: Arc<dyn MigrationTrait>) -> Self {
        let name = match source {
            Some(source) => format!("{source}/{}", inner.name()),
            None => inner.name().to_owned(),
        };
        Named { name, inner }
    }
}

impl MigrationName for Named {
    fn name(&self) -> &str {
        &self.name
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Named {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.inner.up(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.inner.down(manager).await
    }

    fn use_transaction(&self) -> Option<bool> {
        self.inner.use_transaction()
    }
}

/// Every migration of the app, in the order they apply.
#[derive(Clone)]
pub struct Migrations {
    pub(crate) list: Arc<Vec<Named>>,
    /// How long upgrade, downgrade and wipe wait for the migration lock.
    pub(crate) lock_timeout: Duration,
}

impl Migrations {
    /// Orders migrations by their own name (sea-orm-migration names start
    /// with a timestamp), whoever contributed them; ties keep their order.
    pub(crate) fn new(mut list: Vec<Named>) -> Self {
        list.sort_by(|a, b| a.inner.name().cmp(b.inner.name()));
        Migrations {
            list: Arc::new(list),
            lock_timeout: Duration::from_secs(crate::DEFAULT_LOCK_TIMEOUT_SECS),
        }
    }

    /// Names in apply order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|m| m.name.as_str())
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTraitSelf for Migrations {
    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        self.list
            .iter()
            .cloned()
            .map(|m| Box::new(m) as Box<dyn MigrationTrait>)
            .collect()
    }
}
