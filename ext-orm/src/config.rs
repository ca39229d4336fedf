//! The `[database]` config section. Stable keys: `database.url`
//! (`PHIAL_DATABASE__URL`), the pool settings below, and extra databases
//! under `database.binds.<name>` (Flask-SQLAlchemy's binds).

use std::collections::BTreeMap;

/// The config section this extension reads.
pub const SECTION: &str = "database";

use phial_core::{Config, ConfigError};
use serde::{Deserialize, Serialize};

/// One database's connection settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ConnectionConfig {
    /// `sqlite://path`, `postgres://…` or `mysql://…`. Empty: SQLite at
    /// `<instance>/app.sqlite` (for a bind: `<instance>/<name>.sqlite`),
    /// created on first run.
    pub url: String,
    /// Connections kept open.
    pub min_connections: u32,
    /// Connections at most.
    pub max_connections: u32,
    /// Seconds to wait for a new connection.
    pub connect_timeout_secs: u64,
    /// Seconds a request waits for a free connection before it fails (a
    /// dead database gives fast 503s instead of 30 s hangs).
    pub acquire_timeout_secs: u64,
    /// Seconds an idle connection is kept.
    pub idle_timeout_secs: u64,
    /// Log every statement (at INFO, target `sqlx::query`).
    pub log_statements: bool,
    /// SQLite: milliseconds a writer waits for a lock.
    pub sqlite_busy_timeout_ms: u64,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            url: String::new(),
            min_connections: 0,
            max_connections: 10,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 3,
            idle_timeout_secs: 600,
            log_statements: false,
            sqlite_busy_timeout_ms: 5000,
        }
    }
}

/// `[database]`: the default database plus named binds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatabaseConfig {
    /// The default database: the keys directly under `[database]`.
    pub default: ConnectionConfig,
    /// Extra databases by name: `[database.binds.analytics]`.
    pub binds: BTreeMap<String, ConnectionConfig>,
}

impl DatabaseConfig {
    /// Reads the section through the app builder, so `config` shows its
    /// defaults; a bad value's error names its full key.
    pub fn from_builder(
        app: &mut phial_core::AppBuilder,
        section: &str,
    ) -> Result<Self, ConfigError> {
        Ok(DatabaseConfig {
            default: app.section(section)?,
            binds: app.section(&format!("{section}.binds"))?,
        })
    }

    /// Reads the section; a bad value's error names its full key.
    pub fn from_config(config: &Config, section: &str) -> Result<Self, ConfigError> {
        Ok(DatabaseConfig {
            default: config.section(section)?,
            binds: config.section(&format!("{section}.binds"))?,
        })
    }
}
