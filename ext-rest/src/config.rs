//! The `[rest]` section. Stable keys: `rest.prefix`, `rest.per_page`,
//! `rest.max_per_page`, `rest.bulk_limit`.

use serde::{Deserialize, Serialize};

/// `[rest]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RestConfig {
    /// Where resources are mounted.
    pub prefix: String,
    /// Rows per page when a list does not say (a resource may set its own).
    pub per_page: u64,
    /// Most rows a page may ask for (a resource may set its own).
    pub max_per_page: u64,
    /// Most rows one bulk create may carry.
    pub bulk_limit: usize,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            prefix: "/api".into(),
            per_page: 20,
            max_per_page: 100,
            bulk_limit: 10_000,
        }
    }
}
