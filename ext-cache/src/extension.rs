//! The `Caching` extension: builds the app's [`Cache`] from `[cache]`,
//! makes it an extractor, follows the change feed, pings its backend on
//! `/readyz` (a failure there is `degraded`, not unavailable: the cache
//! fails open), publishes its counters outside production, and warns in
//! `check --deploy` when a shared backend has no explicit key prefix.

use std::time::Duration;

use phial_core::{AppBuilder, AppState, BoxError, DeployFinding, Extension};

use crate::cache::Cache;
#[cfg(feature = "redis")]
use crate::config::SharedKind;
use crate::config::{BackendKind, CacheConfig};
use crate::memory::{Capacity, Memory, Null};
#[cfg(feature = "redis")]
use crate::redis::Redis;
#[cfg(feature = "redis")]
use crate::tiered::Tiered;

/// The cache extension: `App::builder(config).register(Caching::new())`.
#[derive(Debug, Clone, Default)]
pub struct Caching {
    _private: (),
}

impl Caching {
    /// Reads `[cache]` when bound.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The shared Redis a cache sits on, when it sits on one (the session and
/// rate-limit stores share its connection).
#[cfg(feature = "redis")]
pub(crate) type SharedRedis = Option<Redis>;
#[cfg(not(feature = "redis"))]
pub(crate) type SharedRedis = Option<std::convert::Infallible>;

/// What a tiered node's start waits for: its memory trusted (its first
/// heartbeat back), so the app starts with its in-process tier in use.
/// Redis down at start: the app starts anyway, and trusts it later.
#[cfg(feature = "redis")]
type Coherence = Option<crate::tiered::Coherent>;
#[cfg(not(feature = "redis"))]
type Coherence = Option<std::convert::Infallible>;

/// Builds the cache a config describes (`prefix` comes from
/// [`CacheConfig::prefix`]), with the shared Redis when there is one.
pub(crate) fn build_shared(
    cfg: &CacheConfig,
    prefix: String,
) -> Result<(Cache, SharedRedis, Coherence), crate::CacheError> {
    let ttl = (cfg.default_ttl_secs > 0).then(|| Duration::from_secs(cfg.default_ttl_secs));
    cfg.address_map
        .check()
        .map_err(|why| crate::CacheError::Backend {
            backend: cfg.kind.name(),
            message: format!("config key `cache.address_map` {why}"),
        })?;
    Ok(match cfg.kind {
        BackendKind::Null => (Cache::new(Null, prefix, ttl), None, None),
        BackendKind::Memory => {
            let capacity = cfg
                .max_bytes
                .map_or(Capacity::Entries(cfg.max_entries), Capacity::Bytes);
            let memory = Memory::new(capacity, cfg.idle_secs.map(Duration::from_secs));
            (Cache::new(memory, prefix, ttl), None, None)
        }
        #[cfg(feature = "redis")]
        BackendKind::Redis => {
            let url = cfg.urls.first().ok_or_else(|| crate::CacheError::Backend {
                backend: "redis",
                message: "config key `cache.urls` is empty: give the server's URL".into(),
            })?;
            let backend = Redis::new_mapped(
                url,
                Duration::from_millis(cfg.timeout_ms.max(1)),
                &cfg.address_map,
            )?;
            (
                Cache::new(backend.clone(), prefix, ttl),
                Some(backend),
                None,
            )
        }
        #[cfg(feature = "redis")]
        BackendKind::RedisCluster => {
            let backend = Redis::cluster_mapped(
                &cfg.urls,
                Duration::from_millis(cfg.timeout_ms.max(1)),
                &cfg.address_map,
            )?;
            (
                Cache::new(backend.clone(), prefix, ttl),
                Some(backend),
                None,
            )
        }
        #[cfg(feature = "redis")]
        BackendKind::Tiered => {
            let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
            let l2 = match cfg.l2 {
                SharedKind::Redis => Redis::new_mapped(
                    cfg.urls.first().map(String::as_str).unwrap_or_default(),
                    timeout,
                    &cfg.address_map,
                )?,
                SharedKind::RedisCluster => {
                    Redis::cluster_mapped(&cfg.urls, timeout, &cfg.address_map)?
                }
            };
            let capacity = cfg
                .max_bytes
                .map_or(Capacity::Entries(cfg.max_entries), Capacity::Bytes);
            let l1_ttl = Duration::from_secs(cfg.l1_ttl_secs.max(1));
            let channel = format!("{prefix}invalidate");
            let shared = l2.clone();
            let tiered = Tiered::new(l2, capacity, l1_ttl, channel)
                .max_pending(cfg.max_pending)
                .coherence_bound(Duration::from_millis(cfg.coherence_ms));
            let coherent = tiered.coherence();
            (
                Cache::new(tiered, prefix, ttl),
                Some(shared),
                Some(coherent),
            )
        }
        #[cfg(not(feature = "redis"))]
        kind @ (BackendKind::Redis | BackendKind::RedisCluster | BackendKind::Tiered) => {
            return Err(crate::CacheError::Backend {
                backend: kind.name(),
                message: format!(
                    "`cache.type = \"{}\"` needs Phial's `cache-redis` feature: \
                     phial = {{ version = \"…\", features = [\"cache-redis\"] }} \
                     (or `redis` on phial-cache)",
                    kind.name()
                ),
            });
        }
    })
}

impl Extension for Caching {
    fn name(&self) -> &str {
        "cache"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let cfg: CacheConfig = app.section(crate::SECTION)?;
        // The backend is made (and the tiered subscriber started) when the
        // app is built, not while it is only described for `routes`.
        let prefix = cfg.prefix(&app.core_config().app_name());
        let setup = cfg.clone();
        let shared: std::sync::Arc<std::sync::OnceLock<SharedRedis>> = Default::default();
        let keep = shared.clone();
        let store_prefix = prefix.clone();
        app.provide(move |_p| async move {
            let (cache, redis, coherent) = build_shared(&setup, prefix).map_err(BoxError::from)?;
            cache.guard_writes(setup.is_shared() && setup.guard_writes);
            let _ = keep.set(redis);
            #[cfg(feature = "redis")]
            if let Some(mut coherent) = coherent {
                let _ = tokio::time::timeout(Duration::from_secs(1), coherent.trusted()).await;
            }
            #[cfg(not(feature = "redis"))]
            let _ = coherent;
            Ok(cache)
        });
        crate::stores_offer::offer(app, cfg.kind, shared, store_prefix);
        // A shared cache: before a write commits, every node stops serving
        // and storing the table's entries; a write whose invalidation
        // cannot reach the store is refused (see `tags.rs`).
        let guard = cfg.is_shared() && cfg.guard_writes;
        if guard {
            app.before_change("cache", |state, change| async move {
                let Some(cache) = state.get::<Cache>().filter(|c| c.guards_writes()) else {
                    return Ok(());
                };
                cache
                    .begin_invalidation(&change.table)
                    .await
                    .map_err(|e| format!("the shared cache cannot be told of the write: {e}"))
            });
        }
        // Writes to a table drop what was cached under the table's tag.
        app.on_change("cache", |state, change| async move {
            if let Some(cache) = state.get::<Cache>() {
                cache.invalidate_tag(&change.table).await;
            }
            crate::fresh_reads::wrote();
        });
        // Tiered: a client that wrote reads the shared tier on every node
        // until the others have surely heard (see `fresh_reads.rs`).
        #[cfg(feature = "redis")]
        if cfg.kind == BackendKind::Tiered {
            let window =
                Duration::from_millis(cfg.coherence_ms) + crate::fresh_reads::CLOCK_ALLOWANCE;
            let signer = crate::fresh_reads::signer(app.core_config());
            app.layer(axum::middleware::from_fn(move |req, next| {
                crate::fresh_reads::layer(window, signer.clone(), req, next)
            }));
        }
        let production = app.config().profile().is_production();
        if let Some(path) = cfg.metrics_route(production) {
            app.route(
                path,
                phial_core::routing::get(|cache: Cache| async move {
                    phial_core::Json(cache.metrics())
                })
                .name("cache_metrics"),
            );
        }
        crate::metrics::describe();
        app.metrics_collector(|state: AppState| async move {
            if let Some(cache) = state.get::<Cache>() {
                crate::metrics::collect(cache);
            }
        });
        // The app serves without its cache (slower): degraded, not down.
        app.health_check_optional("cache", |state: AppState| async move {
            let cache = state.get::<Cache>().ok_or("no cache in the state")?;
            cache.ping().await.map_err(BoxError::from)
        });
        let unprefixed = cfg.is_shared() && cfg.key_prefix.is_none();
        app.deploy_check(move |state| {
            if !unprefixed {
                return Vec::new();
            }
            let derived = cfg.prefix(&state.core().app_name());
            vec![DeployFinding::warning(
                "cache.key_prefix",
                format!(
                    "not set: keys on the shared `{}` backend start with `{derived}` (from the \
                     app's name); set cache.key_prefix so no other app or renamed binary \
                     shares them",
                    cfg.kind.name()
                ),
            )]
        });
        Ok(())
    }
}

// A route taking `Cache` in an app without `Caching` fails to build.
phial_core::state_extractor!(Cache, extension "Caching", register "phial::cache::Caching::new()");
