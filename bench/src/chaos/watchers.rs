//! Socket.IO watchers: clients in one post's room on `/live` through
//! nginx (WebSocket, Engine.IO 4 / Socket.IO 5 spoken directly), that
//! reconnect by themselves after any disconnect and join again with the
//! last offset they got — as the page's script does — and record when
//! they were in the room and which comments arrived (a replayed one they
//! already had is dropped by its offset, as the page drops it).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::Run;

const NS: &str = "/live";

/// How one connection ended.
enum Ended {
    /// Never got into the room.
    NotJoined,
    /// Was in the room until then.
    Left,
}

/// What a watcher carries from one connection to the next, as the page
/// does: the newest offset (sent back when joining again, for the room
/// log's replay) and the offsets already seen (a replay starts a little
/// before, and events from several nodes may cross).
#[derive(Default)]
struct Memory {
    since: Option<(u64, u64, String)>,
    seen: HashSet<String>,
}

impl Memory {
    /// Records `offset`; false when it was seen before.
    fn keep(&mut self, offset: &str) -> bool {
        let parsed = offset
            .split_once('-')
            .and_then(|(m, s)| Some((m.parse().ok()?, s.parse().ok()?)));
        if let Some((m, s)) = parsed
            && self
                .since
                .as_ref()
                .is_none_or(|(bm, bs, _)| (m, s) > (*bm, *bs))
        {
            self.since = Some((m, s, offset.to_owned()));
        }
        self.seen.insert(offset.to_owned())
    }
}

/// One connection: connect, join the post's room (with the last offset),
/// record comments until the connection ends or the run stops.
async fn session(
    run: &Run,
    me: usize,
    post: i64,
    lost_at: Option<f64>,
    memory: &mut Memory,
) -> Ended {
    let ws = run
        .front("/socket.io/?EIO=4&transport=websocket")
        .replacen("http://", "ws://", 1);
    let Ok(Ok((mut socket, _))) =
        tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(ws)).await
    else {
        return Ended::NotJoined;
    };
    let mut joined = false;
    loop {
        let next = tokio::select! {
            m = tokio::time::timeout(Duration::from_secs(60), socket.next()) => m,
            _ = run.stopping() => break,
        };
        let Ok(Some(Ok(msg))) = next else { break };
        let Message::Text(text) = msg else {
            if matches!(msg, Message::Close(_)) {
                break;
            }
            continue;
        };
        let text = text.as_str();
        if text.starts_with('0') {
            let _ = socket.send(Message::text(format!("40{NS},"))).await;
        } else if text == "2" {
            let _ = socket.send(Message::text("3")).await;
        } else if text.starts_with(&format!("40{NS},")) {
            let since = memory
                .since
                .as_ref()
                .map_or("null".to_owned(), |(_, _, o)| format!("\"{o}\""));
            let join = format!("42{NS},1[\"join\",{{\"post_id\":{post},\"since\":{since}}}]");
            let _ = socket.send(Message::text(join)).await;
        } else if let Some(answer) = text.strip_prefix(&format!("43{NS},1")) {
            if !answer.contains("\"ok\":true") {
                break;
            }
            joined = true;
            let at = run.now();
            let mut h = run.history();
            let w = &mut h.watchers[me];
            w.joined.push((at, None));
            if let Some(lost) = lost_at {
                w.reconnects.push((lost, at - lost));
            }
        } else if let Some(event) = text.strip_prefix(&format!("42{NS},")) {
            let Ok(args) = serde_json::from_str::<Vec<serde_json::Value>>(event) else {
                continue;
            };
            if args.first().and_then(|n| n.as_str()) != Some("comment") {
                continue;
            }
            // Seen before (a replay's overlap): the page drops it too.
            if let Some(offset) = args.get(2).and_then(|o| o.as_str())
                && !memory.keep(offset)
            {
                continue;
            }
            if let Some(author) = args.get(1).and_then(|c| c["author_name"].as_str()) {
                let at = run.now();
                run.history().watchers[me]
                    .received
                    .push((author.to_owned(), at));
            }
        } else if text.starts_with(&format!("41{NS}")) || text.starts_with('1') {
            // Told to go (the node shuts down): reconnect like the pages.
            break;
        }
    }
    if !joined {
        return Ended::NotJoined;
    }
    if !run.stopped() {
        let at = run.now();
        if let Some(last) = run.history().watchers[me].joined.last_mut() {
            last.1 = Some(at);
        }
    }
    let _ = socket.close(None).await;
    Ended::Left
}

/// Keeps watcher `me` in the room for the whole run.
pub(crate) async fn watcher(run: Arc<Run>, me: usize, post: i64) {
    let mut lost_at = None;
    let mut memory = Memory::default();
    while !run.stopped() {
        match session(&run, me, post, lost_at, &mut memory).await {
            Ended::Left => lost_at = Some(run.now()),
            Ended::NotJoined => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
