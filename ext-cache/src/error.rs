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
    /// The arguments of a memoized function cannot be encoded into a key.
    #[error("the arguments of memoized `{name}` cannot be encoded: {message}")]
    Arguments {
        /// The function's name.
        name: String,
        /// Why.
        message: String,
    },
    /// A write to the tag's rows is in progress (see
    /// `Cache::begin_invalidation`): nothing is stored under it until the
    /// write has invalidated it. Not a fault; not logged as one.
    #[error("`{0}` is being written: values tagged with it are not stored until the write ends")]
    TagChanging(String),
    /// The loader of `get_or_set_with` failed.
    #[error("loading `{key}` failed: {message}")]
    Loader {
        /// The key.
        key: String,
        /// The loader's error.
        message: String,
    },
}

/// A handler can `?` a cache error (from `memoize`): a 500 whose reason is
/// logged, and shown only outside production.
impl From<CacheError> for phial_core::HttpError {
    fn from(e: CacheError) -> Self {
        phial_core::HttpError::internal(e.to_string())
    }
}
