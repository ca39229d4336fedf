//! The operations behind `db …` and upgrade-on-startup, each under the
//! migration lock.

use std::time::Duration;

use sea_orm_migration::sea_orm::{DatabaseConnection, DbBackend};
use sea_orm_migration::{MigrationStatus, MigratorTraitSelf};

use crate::error::MigrateError;
use crate::lock::with_lock;
use crate::migrations::Migrations;

/// A migration and whether it is applied (with when, in seconds since
/// the epoch).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// Applied or pending.
    pub applied: bool,
    /// When it was applied.
    pub applied_at: Option<i64>,
}

impl Migrations {
    /// How long [`upgrade`](Self::upgrade), [`downgrade`](Self::downgrade)
    /// and [`wipe`](Self::wipe) wait for another node's migration lock
    /// before failing with [`MigrateError::LockTimeout`]
    /// (`migrate.lock_timeout_secs`, 60 s by default).
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// The same migrations, waiting at most `timeout` for the lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Every migration with its state, in apply order; applied migrations
    /// that the app no longer knows come last.
    pub async fn status(&self, db: &DatabaseConnection) -> Result<Vec<Entry>, MigrateError> {
        let applied = self.get_migration_models(db).await?;
        let mut out: Vec<Entry> = self
            .names()
            .map(|name| {
                let row = applied.iter().find(|m| m.version == name);
                Entry {
                    name: name.to_owned(),
                    applied: row.is_some(),
                    applied_at: row.map(|m| m.applied_at),
                }
            })
            .collect();
        for m in &applied {
            if !self.names().any(|n| n == m.version) {
                out.push(Entry {
                    name: m.version.clone(),
                    applied: true,
                    applied_at: Some(m.applied_at),
                });
            }
        }
        Ok(out)
    }

    /// Names of the pending migrations.
    pub async fn pending(&self, db: &DatabaseConnection) -> Result<Vec<String>, MigrateError> {
        Ok(self
            .status(db)
            .await?
            .into_iter()
            .filter(|e| !e.applied)
            .map(|e| e.name)
            .collect())
    }

    /// Applies pending migrations (up to and including `to`), under the
    /// lock; returns what it applied. A node that waited for another finds
    /// nothing left to do; one that waited longer than
    /// [`lock_timeout`](Self::lock_timeout) applies nothing and fails with
    /// [`MigrateError::LockTimeout`], naming the lock's holder.
    pub async fn upgrade(
        &self,
        url: &str,
        db: &DatabaseConnection,
        to: Option<&str>,
    ) -> Result<Vec<String>, MigrateError> {
        if let Some(target) = to.filter(|t| !self.names().any(|n| n == *t)) {
            return Err(MigrateError::UnknownMigration(target.to_owned()));
        }
        with_lock(url, db, self.lock_timeout, async |conn| {
            let pending: Vec<String> = self
                .get_migration_with_status(conn)
                .await?
                .into_iter()
                .filter(|m| m.status() == MigrationStatus::Pending)
                .map(|m| m.name().to_owned())
                .collect();
            let steps = match to {
                None => pending.len(),
                Some(target) => match pending.iter().position(|n| n == target) {
                    Some(i) => i + 1,
                    None => 0,
                },
            };
            if steps == 0 {
                return Ok(Vec::new());
            }
            if let Err(e) = self.up(conn, Some(steps as u32)).await {
                let still = self.pending(conn).await.unwrap_or_default();
                let failed = still.first().cloned().unwrap_or_else(|| "?".into());
                return Err(MigrateError::Failed {
                    migration: failed,
                    error: e.to_string(),
                    rolled_back: conn.get_database_backend() == DbBackend::Postgres,
                });
            }
            Ok(pending.into_iter().take(steps).collect())
        })
        .await
    }

    /// Rolls back the last `n` applied migrations, under the lock; returns
    /// their names.
    pub async fn downgrade(
        &self,
        url: &str,
        db: &DatabaseConnection,
        n: u32,
    ) -> Result<Vec<String>, MigrateError> {
        with_lock(url, db, self.lock_timeout, async |conn| {
            let mut applied: Vec<String> = self
                .status(conn)
                .await?
                .into_iter()
                .filter(|e| e.applied)
                .map(|e| e.name)
                .collect();
            applied.reverse();
            applied.truncate(n as usize);
            if !applied.is_empty() {
                self.down(conn, Some(n)).await?;
            }
            Ok(applied)
        })
        .await
    }

    /// Rolls back everything (`reset`), or drops every table and applies
    /// everything again (`fresh`), under the lock.
    pub async fn wipe(
        &self,
        url: &str,
        db: &DatabaseConnection,
        fresh: bool,
    ) -> Result<(), MigrateError> {
        with_lock(url, db, self.lock_timeout, async |conn| {
            if fresh {
                self.fresh(conn).await?
            } else {
                self.reset(conn).await?
            }
            Ok(())
        })
        .await
    }
}
