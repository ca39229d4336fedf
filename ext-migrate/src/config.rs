//! The `[migrate]` section: upgrading on startup and how long a node
//! waits for another node's migration lock.

use serde::Deserialize;

#[cfg(doc)]
use crate::MigrateError;

/// The config section this extension reads.
pub const SECTION: &str = "migrate";

/// How long a node waits for another node's migration lock, by default.
pub const DEFAULT_LOCK_TIMEOUT_SECS: u64 = 60;

/// `[migrate]`.
///
/// ```toml
/// [migrate]
/// auto_upgrade = true       # default: on in development and testing
/// lock_timeout_secs = 60    # wait this long for another node's migrations
/// ```
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct MigrateConfig {
    /// Apply pending migrations when the app starts (`PHIAL_MIGRATE__AUTO_UPGRADE`).
    /// Default: on in development and testing, off in production.
    pub auto_upgrade: Option<bool>,
    /// How many seconds upgrade-on-startup and the `db` commands that
    /// change the schema wait for the migration lock held by another node
    /// (`PHIAL_MIGRATE__LOCK_TIMEOUT_SECS`). Past it they fail with
    /// [`MigrateError::LockTimeout`], naming the holder, and apply nothing.
    /// `0` tries once. Default: 60. On startup the wait also ends 5 s
    /// before `startup_timeout_secs`, which bounds the whole startup.
    pub lock_timeout_secs: u64,
}

impl Default for MigrateConfig {
    fn default() -> Self {
        MigrateConfig {
            auto_upgrade: None,
            lock_timeout_secs: DEFAULT_LOCK_TIMEOUT_SECS,
        }
    }
}
