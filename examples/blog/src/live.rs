//! `/live`: comments as they are written. A page emits `join` with
//! `{"post_id": N}` (and `"since"`: its last offset, when it comes back)
//! and receives a `comment` event (the comment as JSON, then its offset)
//! for every comment created for that post — through the API, a form or
//! the admin, on whichever node (`socket.adapter = "redis"`). Joining obeys
//! the post's policy: anonymous readers may follow published posts only.
//! The namespace also carries the change feed (`watch` a table, receive
//! `changed`).

use std::sync::Arc;

use phial::changes::{Change, Operation};
use phial::orm::Db;
use phial::orm::policy::{Action, Policies};
use phial::prelude::*;
use phial::socket::socketioxide::handler::ConnectHandler;
use phial::socket::{AckSender, App as SocketApp, Data, RoomLog, Socket, SocketIo, SocketRef};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::entities::{comment, post};

/// The namespace.
pub const NAMESPACE: &str = "/live";

/// What a page sends to follow a post.
#[derive(Debug, serde::Deserialize)]
pub struct Join {
    /// The post to follow.
    pub post_id: i32,
    /// The offset of the last comment event the page got, when it joins
    /// again after a disconnect: the comments sent since are replayed
    /// (`RoomLog`, `socket.replay_secs`).
    #[serde(default)]
    pub since: Option<String>,
}

/// The room of one post's followers.
pub fn room(post_id: i32) -> String {
    format!("post:{post_id}")
}

/// The extension: `/live` with its events and the change feed of posts and
/// comments.
pub fn socket() -> Socket {
    Socket::new()
        // The events are set up in a connect middleware (`.with`), which
        // runs before the client is told it is connected: a connect
        // handler runs on a task of its own, and a page that emits `join`
        // the moment it connects could otherwise be faster than it.
        .ns(NAMESPACE, (async |_s: SocketRef| {}).with(events))
        .feed(NAMESPACE, ["post", "comment"])
}

async fn events(socket: SocketRef) -> Result<(), std::convert::Infallible> {
    socket.on("join", join);
    socket.on("leave", async |s: SocketRef, Data(j): Data<Join>| {
        s.leave(room(j.post_id));
    });
    Ok(())
}

async fn join(s: SocketRef, SocketApp(app): SocketApp, Data(j): Data<Join>, ack: AckSender) {
    let answer = match may_follow(&app, &s, j.post_id).await {
        Ok(true) => match RoomLog::from_state(&app) {
            Some(log) => {
                let replay = log
                    .join(&s, NAMESPACE, &room(j.post_id), j.since.as_deref())
                    .await;
                // Not complete (Redis was away, or the page was gone longer
                // than the log keeps): the page catches up through the API.
                json!({"ok": true, "complete": replay.complete})
            }
            None => {
                s.join(room(j.post_id));
                json!({"ok": true, "complete": false})
            }
        },
        Ok(false) => json!({"error": format!("there is no post {}", j.post_id)}),
        Err(e) => {
            tracing::warn!("joining post {}: {e}", j.post_id);
            json!({"error": "the post cannot be checked right now: try again"})
        }
    };
    let _ = ack.send(&answer);
}

/// Whether the socket's user may read the post (its policy's decision, row
/// filter included: an anonymous reader cannot follow a draft).
async fn may_follow(app: &AppState, s: &SocketRef, post_id: i32) -> Result<bool, String> {
    let caller = phial::socket::caller(s);
    let policies = app.get::<Policies>().cloned().unwrap_or_default();
    // The one decision: the same answer as `/api/posts/N` and `/posts/N`.
    let read = policies.decide(&caller, "post", Action::Read);
    if !read.allowed {
        return Ok(false);
    }
    let cond = Condition::all()
        .add(post::Column::Id.eq(post_id))
        .add(read.filter());
    let db = Db::from_state(app).ok_or("no database")?;
    let found = post::Entity::find()
        .filter(cond)
        .one(db.conn())
        .await
        .map_err(|e| e.to_string())?;
    Ok(found.is_some())
}

/// Sends each new comment to its post's room (on every node, through the
/// adapter). Registered with `on_change`: the write may come from anywhere
/// on this node — the API, the form, the admin.
pub async fn comments_created(state: AppState, change: Arc<Change>) {
    if change.table != "comment" || change.op != Operation::Insert {
        return;
    }
    let ids: Vec<i64> = change.keys.iter().filter_map(Value::as_i64).collect();
    let (Some(db), Some(io)) = (Db::from_state(&state), SocketIo::from_state(&state)) else {
        return;
    };
    if ids.is_empty() {
        return;
    }
    let comments = match comment::Entity::find()
        .filter(comment::Column::Id.is_in(ids))
        .all(db.conn())
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("live comments: {e}");
            return;
        }
    };
    let Some(log) = RoomLog::from_state(&state) else {
        return;
    };
    for c in comments {
        // Sent live, and kept for pages that come back (the offset is the
        // event's last argument).
        log.emit(&io, NAMESPACE, &room(c.post_id), "comment", &c)
            .await;
    }
}
