//! What the cache offers the core: a session store for `session.store =
//! "cache"` and the shared rate-limit counters (see `stores`). On the
//! memory backend the session store is an in-process map of its own, not
//! the cache (filling the cache must not sign anybody out); the null
//! backend offers none.

use std::sync::{Arc, OnceLock};

use phial_core::AppBuilder;
use phial_core::rate_limit::SharedLimitStore;
use phial_core::session::{MemorySessionStore, StoreKind};

use crate::config::BackendKind;
use crate::extension::SharedRedis;

pub(crate) fn offer(
    app: &mut AppBuilder,
    kind: BackendKind,
    shared: Arc<OnceLock<SharedRedis>>,
    prefix: String,
) {
    if kind == BackendKind::Null {
        app.insert(SharedLimitStore(None));
        return;
    }
    let for_sessions = shared.clone();
    let session_prefix = format!("{prefix}sess:");
    app.offer_session_store(StoreKind::Cache, move |_p| {
        #[cfg(feature = "redis")]
        if let Some(Some(redis)) = for_sessions.get() {
            return Ok(Arc::new(crate::stores::RedisSessionStore::new(
                redis.clone(),
                session_prefix,
            )) as _);
        }
        let _ = (for_sessions, session_prefix);
        Ok(Arc::new(MemorySessionStore::default()) as _)
    });
    let limit_prefix = format!("{prefix}rl:");
    app.provide(move |_p| async move {
        #[cfg(feature = "redis")]
        if let Some(Some(redis)) = shared.get() {
            return Ok(SharedLimitStore(Some(Arc::new(
                crate::stores::RedisLimitStore::new(redis.clone(), limit_prefix),
            ))));
        }
        let _ = (shared, limit_prefix);
        Ok(SharedLimitStore(None))
    });
}
