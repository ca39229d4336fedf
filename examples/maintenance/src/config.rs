//! The `[maintenance]` section, with its defaults.

use std::path::PathBuf;

/// The config section this extension reads.
pub const SECTION: &str = "maintenance";

/// `[maintenance]` in `phial.toml` (or `PHIAL_MAINTENANCE__*`).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct MaintenanceConfig {
    /// The flag file, relative to the instance folder.
    pub flag_file: PathBuf,
    /// What visitors read while the site is down.
    pub message: String,
    /// Seconds in the `Retry-After` header.
    pub retry_after_secs: u64,
    /// Paths served anyway (a prefix each), besides the probes and
    /// `/metrics`.
    pub allow: Vec<String>,
    /// How often the flag file is looked at, in milliseconds.
    pub poll_ms: u64,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            flag_file: PathBuf::from("MAINTENANCE"),
            message: "Down for maintenance; back shortly.".into(),
            retry_after_secs: 300,
            allow: Vec::new(),
            poll_ms: 1000,
        }
    }
}
