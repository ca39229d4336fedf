//! Server-side session records: where `phial::auth` keeps each sign-in, so
//! that ending one (sign-out, a changed password, "sign out everywhere")
//! takes effect on every node at the next request instead of when a cookie
//! expires. The signed cookie only names the record.
//!
//! The app picks the store with `session.store`: `cache` (the cache
//! extension's backend: Redis, Redis Cluster, the shared tier of a tiered
//! cache — never a node's in-process tier — or, on the memory backend, an
//! in-process map that nothing evicts), `database` (the `phial_session`
//! table, from `phial::auth`), `memory` (this process only: one node), or
//! `cookie` (no records: sign-ins cannot be ended). `auto`, the default,
//! takes `cache`, then `database`, then `memory` when an extension needs
//! records (`phial::auth`, the admin), and `cookie` otherwise.
//!
//! Stores keep bytes under keys with a time to live. Keys of one user
//! share a `{...}` hash tag, so a Redis Cluster keeps them in one slot and
//! [`SessionStore::get`] reads them in one round trip.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use crate::config::StoreKind;

/// A store failed (unreachable, timed out): sign-ins cannot be checked,
/// so requests that carry one get a 503, never "anonymous".
#[derive(Debug, Clone, thiserror::Error)]
#[error("the session store `{store}` failed: {message}")]
pub struct StoreError {
    /// Which store.
    pub store: &'static str,
    /// What went wrong.
    pub message: String,
}

/// Bytes by key with a time to live (see the module docs). Records must
/// never be evicted to make room for other data.
///
/// ```
/// use std::time::Duration;
/// use phial_core::session::{MemorySessionStore, SessionStore};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemorySessionStore::default();
/// store.set("k", b"v".to_vec(), Duration::from_secs(60)).await.unwrap();
/// let got = store.get(&["k".into(), "missing".into()]).await.unwrap();
/// assert_eq!(got, vec![Some(b"v".to_vec()), None]);
/// # }
/// ```
pub trait SessionStore: Send + Sync + 'static {
    /// `memory`, `redis`, `database`, ...
    fn kind(&self) -> &'static str;

    /// The values under `keys`, in order (the keys share a hash tag).
    fn get(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, StoreError>> + Send;

    /// Stores `value` under `key` for `ttl`.
    fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `value` under `key` for `ttl` unless a value is there, and
    /// returns the value there now (the one that won), its time to live
    /// renewed to `ttl`.
    fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Removes keys.
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether the store answers (for `/readyz`).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// [`SessionStore`] as the app keeps it (object-safe; implemented for
/// every `SessionStore`).
pub trait DynSessionStore: Send + Sync + 'static {
    /// See [`SessionStore::kind`].
    fn kind(&self) -> &'static str;
    /// See [`SessionStore::get`].
    fn get<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, StoreError>>;
    /// See [`SessionStore::set`].
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// See [`SessionStore::set_if_absent`].
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Vec<u8>, StoreError>>;
    /// See [`SessionStore::delete`].
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>>;
    /// See [`SessionStore::ping`].
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

impl<T: SessionStore> DynSessionStore for T {
    fn kind(&self) -> &'static str {
        SessionStore::kind(self)
    }
    fn get<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, StoreError>> {
        Box::pin(SessionStore::get(self, keys))
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::set(self, key, value, ttl))
    }
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Vec<u8>, StoreError>> {
        Box::pin(SessionStore::set_if_absent(self, key, value, ttl))
    }
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::delete(self, keys))
    }
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(SessionStore::ping(self))
    }
}

/// Records in this process (one node), kept until they expire: nothing
/// else evicts them. Expired ones are swept as new ones come in.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    map: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    values: HashMap<String, (Vec<u8>, Instant)>,
    next_sweep: Option<Instant>,
}

impl MemorySessionStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records held now (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.lock().values.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Records {
    fn sweep(&mut self, now: Instant) {
        if self.next_sweep.is_some_and(|t| t > now) {
            return;
        }
        self.values.retain(|_, (_, until)| *until > now);
        self.next_sweep = Some(now + Duration::from_secs(30));
    }

    fn live(&self, key: &str, now: Instant) -> Option<&Vec<u8>> {
        self.values
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v)
    }
}

impl SessionStore for MemorySessionStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let now = Instant::now();
        let map = self.lock();
        Ok(keys.iter().map(|k| map.live(k, now).cloned()).collect())
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut map = self.lock();
        map.sweep(now);
        map.values.insert(key.to_owned(), (value, now + ttl));
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<Vec<u8>, StoreError> {
        let now = Instant::now();
        let mut map = self.lock();
        map.sweep(now);
        let current = map.live(key, now).cloned().unwrap_or(value);
        map.values
            .insert(key.to_owned(), (current.clone(), now + ttl));
        Ok(current)
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut map = self.lock();
        for k in keys {
            map.values.remove(k);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Makes an offered store once the providers have run.
pub(crate) type MakeStore =
    Box<dyn FnOnce(&crate::Provided) -> Result<Arc<dyn DynSessionStore>, crate::BoxError> + Send>;

/// A store an extension offers for `session.store = kind`.
pub(crate) struct Offer {
    pub(crate) source: String,
    pub(crate) kind: StoreKind,
    pub(crate) make: MakeStore,
}

/// The app's session store, in its state (`None`: cookie sessions).
#[derive(Clone)]
pub struct SessionStores {
    store: Option<Arc<dyn DynSessionStore>>,
}

impl std::fmt::Debug for SessionStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStores")
            .field("kind", &self.store.as_ref().map(|s| s.kind()))
            .finish()
    }
}

impl SessionStores {
    pub(crate) fn new(store: Option<Arc<dyn DynSessionStore>>) -> Self {
        SessionStores { store }
    }

    /// The store records live in, unless sessions are cookies only.
    pub fn store(&self) -> Option<&Arc<dyn DynSessionStore>> {
        self.store.as_ref()
    }
}
