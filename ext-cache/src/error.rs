//! Cache errors. Reads and writes through [`Cache`](crate::Cache) fail open
//! (a miss, a dropped write, logged and counted); these reach callers only
//! from the explicit `try_` methods and at startup.

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The backend could not be reached or answered an error.
    #[error("cache backend `{backend}`: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What it said.
        message: String,
    },
    /// A value could not be encoded or decoded (a type changed between
    /// deploys: the entry is treated as a miss).
    #[error("cache value for `{key}` cannot be {action}: {message}")]
    Codec {
        /// The key.
        key: String,
        /// `encoded` or `decoded`.
        action: &'static str,
        /// Why.
        message: String,
    },
    /// The stored value is not an integer (`incr`).
    #[error("cache value for `{0}` is not an integer")]
    NotAnInteger(String),
    /// The loader of `get_or_set_with` failed.
    #[error("loading `{key}` failed: {message}")]
    Loader {
        /// The key.
        key: String,
        /// The loader's error.
        message: String,
    },
}
