//! The `[admin]` section. Stable keys: `admin.prefix`, `admin.title`,
//! `admin.per_page`, `admin.session_idle_minutes`, `admin.count_limit`,
//! `admin.live_namespace`. Sign-in throttling is `phial::auth`'s, in
//! `[auth]` (`attempts`, `attempts_per_address`, `delay_secs`, ...).

use serde::{Deserialize, Serialize};

/// The config section this extension reads.
pub const SECTION: &str = "admin";

/// `[admin]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AdminConfig {
    /// Where the panel is mounted.
    pub prefix: String,
    /// The name in the header (default: the app's name and "admin").
    pub title: Option<String>,
    /// Rows per list page when a model view does not say.
    pub per_page: u64,
    /// A staff sign-in unused this long by a person (a live page's own
    /// refreshes do not count) ends.
    pub session_idle_minutes: u64,
    /// Lists count rows up to this many (a filtered list up to 1,000 at
    /// most); past it they say "more than" (or the database's estimate,
    /// unfiltered) instead of a full `COUNT(*)`. A page that ends the list
    /// is its own count.
    pub count_limit: u64,
    /// The Socket.IO namespace of live updates (with the socket extension).
    pub live_namespace: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            prefix: "/admin".into(),
            title: None,
            per_page: 25,
            session_idle_minutes: 120,
            count_limit: 10_000,
            live_namespace: "/phial-admin".into(),
        }
    }
}

impl AdminConfig {
    /// The first bad value, as (key, what is wrong).
    pub(crate) fn check(&self) -> Option<(&'static str, String)> {
        let p = &self.prefix;
        if !p.starts_with('/') || p.len() < 2 || p.ends_with('/') || p.contains(['{', '}', '*']) {
            return Some((
                "prefix",
                format!("is `{p}`: use a path such as `/admin` (a leading slash, none at the end)"),
            ));
        }
        if self.per_page == 0 || self.per_page > 500 {
            return Some(("per_page", "must be between 1 and 500".into()));
        }
        if self.session_idle_minutes == 0 {
            return Some(("session_idle_minutes", "must be at least 1".into()));
        }
        if !self.live_namespace.starts_with('/') {
            return Some(("live_namespace", "must start with `/`".into()));
        }
        None
    }
}
