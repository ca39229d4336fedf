//! Migration errors, each saying what to do.

use sea_orm_migration::sea_orm::DbErr;

/// What can go wrong while migrating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A migration failed; on PostgreSQL its changes were rolled back.
    #[error("migration `{migration}` failed: {error}{}", if *.rolled_back { " (rolled back: the schema is as it was before it)" } else { "" })]
    Failed {
        /// The migration's name.
        migration: String,
        /// The database's error.
        error: String,
        /// Whether the backend undid it (PostgreSQL runs each migration in a transaction).
        rolled_back: bool,
    },
    /// `--to` names no known migration.
    #[error("no migration named `{0}`: `db status` lists them")]
    UnknownMigration(String),
    /// A destructive command in production without `--force`.
    #[error("`db {0}` drops data and the profile is production: add --force if you mean it")]
    Refused(&'static str),
    /// The migration lock could not be taken.
    #[error("migration lock: {0}")]
    Lock(String),
    /// Writing a new migration file failed.
    #[error("cannot write the migration file `{path}`: {error}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        error: String,
    },
    /// The database refused something else.
    #[error(transparent)]
    Db(#[from] DbErr),
}
