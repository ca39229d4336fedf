//! The change feed: "entity changed" events (table, operation, primary
//! keys) that writes through Phial publish — the ORM's helpers and bulk
//! inserts, and through them REST and the admin — and that other extensions follow
//! without depending on the ORM: the cache drops entries tagged with the
//! table, the admin and Socket.IO push updates. Apps publish for their own
//! writes too.
//!
//! Before a write runs, [`ChangeFeed::prepare`] asks the feed's guards
//! whether it may: a shared cache marks what the write will change so no
//! node serves or stores the old rows meanwhile, and refuses the write
//! (nothing is saved, the client gets a 503) when it cannot reach the
//! nodes to tell them — a write whose invalidation cannot be delivered is
//! never acknowledged.
//!
//! Two ways to follow it: [`ChangeFeed::listen`] registers an async
//! listener that `publish` awaits (in order) before it returns, so a cache
//! is invalidated before the response that wrote the row goes out;
//! [`ChangeFeed::subscribe`] gives a broadcast receiver for work that may
//! lag behind (it reports how many events it missed).
//!
//! ```
//! use phial_core::changes::{Change, ChangeFeed};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let feed = ChangeFeed::default();
//! let mut rx = feed.subscribe();
//! feed.publish(Change::update("post", [serde_json::json!(7)])).await;
//! assert_eq!(rx.recv().await.unwrap().table, "post");
//! # }
//! ```

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::broadcast;

/// What happened to the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Rows were inserted.
    Insert,
    /// Rows were updated.
    Update,
    /// Rows were deleted.
    Delete,
}

/// One event: rows of `table` changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The table (as the database names it).
    pub table: String,
    /// What happened.
    pub op: Operation,
    /// Primary keys of the rows (a composite key is a JSON array). Empty
    /// when unknown, e.g. an update by filter: treat the whole table as
    /// changed.
    pub keys: Vec<serde_json::Value>,
}

impl Change {
    /// A change with explicit keys.
    pub fn new(
        table: impl Into<String>,
        op: Operation,
        keys: impl IntoIterator<Item = serde_json::Value>,
    ) -> Self {
        Change {
            table: table.into(),
            op,
            keys: keys.into_iter().collect(),
        }
    }

    /// Rows inserted.
    pub fn insert(
        table: impl Into<String>,
        keys: impl IntoIterator<Item = serde_json::Value>,
    ) -> Self {
        Self::new(table, Operation::Insert, keys)
    }

    /// Rows updated.
    pub fn update(
        table: impl Into<String>,
        keys: impl IntoIterator<Item = serde_json::Value>,
    ) -> Self {
        Self::new(table, Operation::Update, keys)
    }

    /// Rows deleted.
    pub fn delete(
        table: impl Into<String>,
        keys: impl IntoIterator<Item = serde_json::Value>,
    ) -> Self {
        Self::new(table, Operation::Delete, keys)
    }
}

type Listener = Arc<dyn Fn(Arc<Change>) -> BoxFuture<'static, ()> + Send + Sync>;
type Guard = Arc<dyn Fn(Arc<Change>) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A write a guard refused before it ran: nothing was saved. Answered as
/// 503 Service Unavailable with the reason (the client may retry).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "nothing was saved: {guard} could not prepare the change to `{table}` ({reason}); try again"
)]
pub struct Refused {
    /// The guard's name (`cache`, `rest`).
    pub guard: String,
    /// The table the write was for.
    pub table: String,
    /// What the guard could not do.
    pub reason: String,
}

struct Inner {
    listeners: RwLock<Vec<(String, Listener)>>,
    guards: RwLock<Vec<(String, Guard)>>,
    tx: broadcast::Sender<Arc<Change>>,
}

/// The app's change feed (in its state; `AppBuilder::changes()` while
/// building). Cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed(Arc<Inner>);

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.listeners.read().map(|l| l.len()).unwrap_or(0);
        f.debug_struct("ChangeFeed").field("listeners", &n).finish()
    }
}

impl Default for ChangeFeed {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        ChangeFeed(Arc::new(Inner {
            listeners: RwLock::new(Vec::new()),
            guards: RwLock::new(Vec::new()),
            tx,
        }))
    }
}

/// How long `publish` waits for one listener before it moves on.
pub const LISTENER_TIMEOUT: Duration = Duration::from_secs(5);

impl ChangeFeed {
    /// Adds a listener that every `publish` awaits (bounded by
    /// [`LISTENER_TIMEOUT`]; a slow one is logged and skipped). `name`
    /// appears in that log.
    pub fn listen<F, Fut>(&self, name: &str, f: F)
    where
        F: Fn(Arc<Change>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener: Listener = Arc::new(move |c| Box::pin(f(c)));
        self.0
            .listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.to_owned(), listener));
    }

    /// Adds a guard that every write through Phial's helpers awaits before
    /// it runs (see [`prepare`](Self::prepare)); an `Err` refuses the
    /// write with its reason. `name` appears in the refusal.
    ///
    /// ```
    /// use phial_core::changes::{Change, ChangeFeed};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let feed = ChangeFeed::default();
    /// feed.guard("search", |change| async move {
    ///     if change.table == "frozen" { Err("the index is read-only".into()) } else { Ok(()) }
    /// });
    /// assert!(feed.prepare(&Change::update("post", [])).await.is_ok());
    /// let refused = feed.prepare(&Change::update("frozen", [])).await.unwrap_err();
    /// assert_eq!(refused.guard, "search");
    /// # }
    /// ```
    pub fn guard<F, Fut>(&self, name: &str, f: F)
    where
        F: Fn(Arc<Change>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        let guard: Guard = Arc::new(move |c| Box::pin(f(c)));
        self.0
            .guards
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.to_owned(), guard));
    }

    /// Asks every guard, in order, whether `change` may be written: call
    /// it before the write runs (before the commit, for a transaction).
    /// The first refusal is returned; a guard that does not answer within
    /// [`LISTENER_TIMEOUT`] refuses. Without guards it costs nothing.
    pub async fn prepare(&self, change: &Change) -> Result<(), Refused> {
        let guards = self
            .0
            .guards
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if guards.is_empty() {
            return Ok(());
        }
        let change = Arc::new(change.clone());
        for (name, guard) in guards {
            let reason = match tokio::time::timeout(LISTENER_TIMEOUT, guard(change.clone())).await {
                Ok(Ok(())) => continue,
                Ok(Err(reason)) => reason,
                Err(_) => format!("no answer within {} s", LISTENER_TIMEOUT.as_secs()),
            };
            tracing::warn!(guard = %name, table = %change.table, %reason, "a write was refused before it ran");
            return Err(Refused {
                guard: name,
                table: change.table.clone(),
                reason,
            });
        }
        Ok(())
    }

    /// [`prepare`](Self::prepare) for several changes (a transaction's).
    pub async fn prepare_all<'c>(
        &self,
        changes: impl IntoIterator<Item = &'c Change>,
    ) -> Result<(), Refused> {
        for change in changes {
            self.prepare(change).await?;
        }
        Ok(())
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.0.tx.subscribe()
    }

    /// Publishes one event: awaits the listeners, then broadcasts.
    pub async fn publish(&self, change: Change) {
        let change = Arc::new(change);
        let listeners = self
            .0
            .listeners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (name, listener) in listeners {
            if tokio::time::timeout(LISTENER_TIMEOUT, listener(change.clone()))
                .await
                .is_err()
            {
                tracing::warn!(listener = %name, table = %change.table, "change listener did not finish in time");
            }
        }
        // No receiver is not an error: nobody follows the feed.
        let _ = self.0.tx.send(change);
    }

    /// Publishes several events in order.
    pub async fn publish_all(&self, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            self.publish(change).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listeners_run_before_publish_returns_and_subscribers_get_everything() {
        let feed = ChangeFeed::default();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        feed.listen("test", move |c| {
            let s = s.clone();
            async move { s.lock().unwrap().push(c.table.clone()) }
        });
        let mut rx = feed.subscribe();
        feed.publish_all([
            Change::insert("a", []),
            Change::delete("b", [serde_json::json!([1, 2])]),
        ])
        .await;
        assert_eq!(*seen.lock().unwrap(), ["a", "b"]);
        assert_eq!(rx.recv().await.unwrap().op, Operation::Insert);
        let second = rx.recv().await.unwrap();
        assert_eq!(
            (second.table.as_str(), second.keys.clone()),
            ("b", vec![serde_json::json!([1, 2])])
        );
    }
}
