//! Reads served from the app's cache when the cache extension is
//! registered (feature `cache`): a `get` or `list` answer is kept with its
//! ETag, so the same request again — and an `If-None-Match` that matches —
//! is answered without a query. Writes invalidate through the change feed:
//! a row's entries when its key is in the event, every row's when the
//! event names none, and the table's lists on any write (the cache's own
//! table tag). Entries are kept per caller when the policy narrows rows by
//! caller, so no one is served another caller's rows.

use std::future::Future;

use crate::access::Access;
use phial_core::AppState;
#[cfg(feature = "cache")]
use phial_core::changes::Change;
use serde::{Deserialize, Serialize};

use crate::problem::Problem;
use crate::resource::Shared;

/// A cached answer: its ETag and its JSON body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub(crate) etag: String,
    pub(crate) body: String,
}

/// The tag of one row's entries.
#[cfg(feature = "cache")]
fn row_tag(table: &str, key: &str) -> String {
    format!("rest:{table}#{key}")
}

/// The tag every row entry of a table carries, for changes without keys.
#[cfg(feature = "cache")]
fn rows_tag(table: &str) -> String {
    format!("rest:{table}#*")
}

/// The part of a cache key that depends on who asks: only the fields
/// hidden from them when the policy shows everyone the same rows, else
/// the caller themselves.
#[cfg(feature = "cache")]
fn scope(s: &Shared, app: &AppState, access: &Access) -> String {
    let anonymous = s
        .policy(app)
        .row_filter(&phial_orm::policy::Caller::anonymous());
    let mut hidden = access.decision.hidden.clone();
    hidden.sort();
    if access.decision.rows.is_none() && anonymous.is_none() {
        return format!("all|{}", hidden.join(","));
    }
    let caller = &access.caller;
    let mut roles = caller.roles().to_vec();
    roles.sort();
    format!(
        "{:?}:{}|{}|{}",
        caller.kind(),
        caller.id().unwrap_or("-"),
        roles.join(","),
        hidden.join(",")
    )
}

/// What a read is: one row (its key text) or a list (its query string).
#[cfg_attr(
    not(feature = "cache"),
    expect(dead_code, reason = "what is read names the cache entry")
)]
pub(crate) enum Read<'a> {
    Item(&'a str),
    List(&'a str),
}

/// The answer to a read: from the cache when it holds one, else from
/// `load` (once for concurrent misses), kept for the next time.
pub(crate) async fn read<F, Fut>(
    s: &Shared,
    app: &AppState,
    access: &Access,
    what: Read<'_>,
    load: F,
) -> Result<Stored, Problem>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Stored, Problem>>,
{
    #[cfg(feature = "cache")]
    if let Some(cache) = app.get::<phial_cache::Cache>().filter(|_| s.cache) {
        let table = s.meta.table.as_str();
        let scope = scope(s, app, access);
        let (key, tags) = match what {
            Read::Item(id) => (
                format!("rest:{}:{scope}:item:{id}", s.collection),
                vec![row_tag(table, id), rows_tag(table)],
            ),
            Read::List(query) => (
                format!("rest:{}:{scope}:list:{query}", s.collection),
                vec![table.to_owned()],
            ),
        };
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        return cache.get_or_set_tagged_with(&key, None, &tags, load).await;
    }
    let _ = (s, app, access, what);
    load().await
}

/// The tags of the cached rows a change touches: each row's, or every
/// row's when the change does not name them (the cache drops the table's
/// lists itself).
#[cfg(feature = "cache")]
fn touched(change: &Change) -> Vec<String> {
    if change.keys.is_empty() {
        return vec![rows_tag(&change.table)];
    }
    change
        .keys
        .iter()
        .map(|key| row_tag(&change.table, &crate::row_key::key_text(key)))
        .collect()
}

/// Drops the cached rows a change touched.
#[cfg(feature = "cache")]
pub(crate) async fn on_change(app: AppState, change: std::sync::Arc<Change>) {
    if let Some(cache) = app.get::<phial_cache::Cache>() {
        for tag in touched(&change) {
            cache.invalidate_tag(&tag).await;
        }
    }
}

/// Before a write commits on a shared cache, its rows stop being served
/// and stored on every node (the cache's own guard does the table's
/// lists); refused when the cache cannot be told. Inserted rows had no
/// cached reads (a missing row is not cached): nothing to mark.
#[cfg(feature = "cache")]
pub(crate) async fn before_change(
    app: AppState,
    change: std::sync::Arc<Change>,
) -> Result<(), String> {
    let Some(cache) = app.get::<phial_cache::Cache>() else {
        return Ok(());
    };
    if !cache.guards_writes() || change.op == phial_core::changes::Operation::Insert {
        return Ok(());
    }
    for tag in touched(&change) {
        cache
            .begin_invalidation(&tag)
            .await
            .map_err(|e| format!("the shared cache cannot be told of the write: {e}"))?;
    }
    Ok(())
}
