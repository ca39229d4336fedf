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
    /// The migration lock could not be taken (the database refused or
    /// failed the request); nothing was migrated.
    #[error("migration lock: {0}")]
    Lock(String),
    /// Another session held the migration lock for longer than
    /// `migrate.lock_timeout_secs`; nothing was migrated.
    #[error(
        "the migration lock ({lock}) is held by {holder}; gave up after waiting {waited_secs}s and applied nothing. \
         If another node is migrating, let it finish and run this again; if the holder is stuck, end it; \
         or wait longer with `migrate.lock_timeout_secs` (PHIAL_MIGRATE__LOCK_TIMEOUT_SECS)"
    )]
    LockTimeout {
        /// Which lock: the database's lock or the SQLite lock file.
        lock: String,
        /// Who holds it, as far as the database tells.
        holder: String,
        /// How long this node waited.
        waited_secs: u64,
    },
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
