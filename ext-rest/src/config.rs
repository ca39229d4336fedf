//! The `[rest]` section. Stable keys: `rest.prefix`, `rest.per_page`,
//! `rest.max_per_page`, `rest.max_in`, `rest.count_limit`, `rest.bulk_limit`, `rest.cache`, `rest.docs`,
//! `rest.title`, `rest.version`.

use serde::{Deserialize, Serialize};

/// The config section this extension reads.
pub const SECTION: &str = "rest";

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
    /// Most values one `__in` filter may list (a longer list is a 400
    /// naming the limit).
    pub max_in: usize,
    /// Lists count their rows up to this many (a filtered list up to
    /// 1,000 at most); past it `total` is the database's estimate for a
    /// whole table, or the limit (`total_estimated: true`), so a page
    /// costs the same at any table size. A page that ends the list is its
    /// own count.
    pub count_limit: u64,
    /// Most rows one bulk create may carry.
    pub bulk_limit: usize,
    /// Serve reads (`GET` of a list or a row) from the app's cache when the
    /// cache extension is registered; writes through `Db` drop them. Turn
    /// it off when something other than this app writes the tables (a
    /// script, another service): the change feed sees only `Db`'s writes.
    pub cache: bool,
    /// Serve the OpenAPI document (`{prefix}/openapi.json`) and Swagger UI
    /// (`{prefix}/docs/`).
    pub docs: bool,
    /// The document's title (default: the app's name and "API").
    pub title: Option<String>,
    /// The API's version in the document.
    pub version: String,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            prefix: "/api".into(),
            per_page: 20,
            max_per_page: 100,
            max_in: 100,
            count_limit: 10_000,
            bulk_limit: 10_000,
            cache: true,
            docs: true,
            title: None,
            version: "1.0.0".into(),
        }
    }
}
