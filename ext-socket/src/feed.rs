//! The change feed in the browser: in a namespace opened with
//! [`Socket::feed`](crate::Socket::feed), a client emits `watch` with a
//! table's name and, if the model's policy lets it list that table, joins
//! the table's room (`phial:feed:<table>`); every write to the table (through `Db`, REST, the
//! admin, on this node) then reaches it as a `changed` event:
//! `{"table": "post", "op": "insert", "keys": [12], "ids": ["12"]}`, on
//! every node when the Redis adapter is on. `ids` are the rows' keys in the
//! one row-key form of `phial::orm::query::key` (a composite key as `7,b`):
//! what REST's and the admin's row URLs take, so a client fetches
//! `/api/posts/{id}` as it is.
//!
//! The policy is the one declared on `Orm` (`Orm::new().policy::<E>(..)`)
//! that REST and the admin enforce. A caller whose rows the policy narrows
//! (anonymous readers of published posts only) gets events without keys:
//! a key would tell it that a row it may not see exists. It refetches
//! through the API, which applies the filter.
//!
//! ```js
//! socket.emit("watch", "post", (answer) => console.log(answer)); // {ok: true}
//! socket.on("changed", ({table, op, ids}) => refresh(table, ids));
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use phial_core::AppState;
use phial_core::changes::Change;
use phial_orm::policy::{Action, Policies};
use serde_json::{Value, json};
use socketioxide::extract::Data;

use crate::extract::{AckSender, SocketRef};

/// The room of a table's unfiltered watchers (events with keys). Named
/// apart from the app's own rooms: a handler that lets clients join any
/// room must not let them into a feed past its policy check.
pub(crate) fn room(table: &str) -> String {
    format!("phial:feed:{table}")
}

/// The room of watchers whose rows the policy narrows (events without keys).
fn narrowed_room(table: &str) -> String {
    format!("phial:feed:{table}?narrowed")
}

/// One namespace's feed: which tables its clients may watch.
#[derive(Clone)]
pub(crate) struct Feed {
    pub(crate) ns: String,
    pub(crate) tables: Arc<HashSet<String>>,
    /// Watching also needs the caller's grant to list the table (a
    /// contributed feed such as the admin's).
    pub(crate) grants: bool,
}

impl Feed {
    /// The feed another extension asked for.
    pub(crate) fn contributed(live: &phial_orm::live::LiveFeed) -> Self {
        Feed {
            ns: live.namespace.clone(),
            tables: Arc::new(live.tables.iter().cloned().collect()),
            grants: true,
        }
    }

    /// Adds the `watch` / `unwatch` events to a socket of the namespace.
    pub(crate) fn attach(&self, socket: &SocketRef, app: &AppState) {
        let tables = self.tables.clone();
        let grants = self.grants;
        let policies = app.get::<Policies>().cloned().unwrap_or_default();
        socket.on(
            "watch",
            async move |s: SocketRef, Data(table): Data<String>, ack: AckSender| {
                let answer = watch(&s, &tables, grants, &policies, &table);
                let _ = ack.send(&answer);
            },
        );
        socket.on(
            "unwatch",
            async |s: SocketRef, Data(table): Data<String>, ack: AckSender| {
                s.leave([room(&table), narrowed_room(&table)]);
                let _ = ack.send(&json!({"ok": true}));
            },
        );
    }

    /// Sends a change to the table's watchers.
    pub(crate) async fn publish(&self, io: &crate::SocketIo, change: &Change) {
        if !self.tables.contains(&change.table) {
            return;
        }
        let Some(ns) = io.of(&self.ns) else { return };
        let ids: Vec<String> = change
            .keys
            .iter()
            .map(phial_orm::query::key::text)
            .collect();
        let full = json!({"table": change.table, "op": change.op, "keys": change.keys, "ids": ids});
        if let Err(e) = ns.to(room(&change.table)).emit("changed", &full).await {
            tracing::warn!(table = %change.table, "Socket.IO feed: {e}");
        }
        let Some(ns) = io.of(&self.ns) else { return };
        let keyless = json!({"table": change.table, "op": change.op, "keys": [], "ids": []});
        if let Err(e) = ns
            .to(narrowed_room(&change.table))
            .emit("changed", &keyless)
            .await
        {
            tracing::warn!(table = %change.table, "Socket.IO feed: {e}");
        }
    }
}

fn watch(
    s: &SocketRef,
    tables: &HashSet<String>,
    grants: bool,
    policies: &Policies,
    table: &str,
) -> Value {
    if !tables.contains(table) {
        let mut known: Vec<&String> = tables.iter().collect();
        known.sort();
        return json!({"error": format!("`{table}` is not watchable here (tables: {known:?})")});
    }
    let caller = crate::caller(s);
    // The one decision, as REST and the admin ask it; a contributed feed
    // (the admin's) also wants the staff surface's view grant.
    let decision = policies.decide(&caller, table, Action::List);
    if !decision.allowed || (grants && !caller.granted(table, Action::List)) {
        let why = decision.reason.unwrap_or_else(|| {
            format!("you may not watch `{table}` rows: it needs the `{table}.view` grant")
        });
        return json!({"error": why});
    }
    if decision.rows.is_some() {
        s.join(narrowed_room(table));
        json!({"ok": true, "keys": false})
    } else {
        s.join(room(table));
        json!({"ok": true, "keys": true})
    }
}
