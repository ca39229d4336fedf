//! # phial-cache
//!
//! A cache for Phial apps: typed values (MessagePack) over an in-process
//! backend (moka) and, with the `redis` feature (the facade's
//! `cache-redis`), Redis, Redis Cluster and a tiered backend (moka in front
//! of either, kept coherent across nodes through pub/sub); loads that run
//! once for concurrent misses (in a process, and across nodes), tags,
//! counters, a `Cache` extractor, a response cache, and invalidation that
//! follows database writes: every change published to the app's change
//! feed drops the entries tagged with its table.
//!
//! What it promises:
//! - **Invalidation never goes backwards.** A tag's version is random and
//!   replaced on invalidation; a tag whose version is gone (evicted,
//!   deleted) makes its entries misses, never fresh again.
//! - **Loads never convoy.** Concurrent misses of a key in a process run
//!   one loader and all get its value or a clone of its error, even with
//!   the shared store down; a cancelled load is taken over by one waiter.
//! - **Apps stay apart.** Keys start with `cache.key_prefix`, by default
//!   the app's name (core key `name`, else the binary's name) and a colon;
//!   `clear()` removes only those. `check --deploy` warns when a shared
//!   backend runs without an explicit prefix.
//! - **It fails open.** A backend error is a miss or a dropped write;
//!   `/readyz` pings the backend and reports a failure as `degraded` (200),
//!   not unavailable. `/metrics/cache` is mounted outside production only,
//!   unless `cache.metrics_path` is set.
//!
//! ```
//! use phial_core::{App, Config, routing::get};
//! use phial_cache::{Cache, Caching};
//!
//! async fn hits(cache: Cache) -> String {
//!     cache.incr("hits", 1, None).await.unwrap_or(0).to_string()
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = App::builder(Config::testing()).register(Caching::new()).route("/", get(hits)).build().await.unwrap();
//! let client = app.test_client();
//! client.get("/").send().await;
//! assert_eq!(client.get("/").send().await.text(), "2");
//! # }
//! ```

mod backend;
mod cache;
mod config;
mod error;
mod extension;
mod flight;
pub mod fresh_reads;
mod local_tags;
pub mod memory;
mod metrics;
#[cfg(feature = "redis")]
pub mod redis;
mod response;
#[cfg(feature = "redis")]
pub mod stores;
mod stores_offer;
mod tags;
#[cfg(feature = "redis")]
pub mod tiered;

/// What handlers and app factories use: `use phial::cache::prelude::*;`.
pub mod prelude {
    pub use crate::{Cache, Caching, cached};
}

/// The Redis client the shared backends use.
#[cfg(feature = "redis")]
pub use ::redis as redis_client;
/// The in-process cache library the memory backend wraps.
pub use moka;

pub use backend::{AnyBackend, Backend};
/// The byte buffers backends store.
pub use bytes;
pub use cache::{Cache, Stats};
pub use config::{BackendKind, CacheConfig, SECTION, SharedKind};
pub use error::CacheError;
pub use extension::Caching;
pub use local_tags::LocalTags;
pub use response::{Cached, X_CACHE, cached};
pub use tags::WRITE_LEASE;
