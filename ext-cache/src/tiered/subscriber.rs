//! A tiered node's side of the invalidation channel: the subscriber that
//! drops in-process copies other nodes announce, starts clean after every
//! (re)subscription, and replays what this node could not announce or
//! write while Redis was away.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::Shared;
use super::coherence::{heartbeat_count, heartbeat_sent};
use crate::backend::Backend;
use crate::error::CacheError;

/// How often a subscribed node retries invalidations still pending (its
/// command connection may come back after its subscription).
const REPLAY_EVERY: Duration = Duration::from_millis(500);

/// What an announcement asks: drop one key, or every key with a prefix.
fn encode(node: u64, what: &str) -> Vec<u8> {
    format!("{node:016x}\n{what}").into_bytes()
}

fn decode(payload: &[u8]) -> Option<(u64, &str)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (node, what) = text.split_once('\n')?;
    Some((u64::from_str_radix(node, 16).ok()?, what))
}

/// Follows the channel for as long as the backend lives, reconnecting
/// with a growing pause; every (re)subscription starts from an empty
/// in-process tier and replays pending announcements.
pub(super) async fn subscribe(shared: Arc<Shared>) {
    let mut pause = Duration::from_millis(100);
    let mut url_index = 0;
    loop {
        let urls = shared.l2.urls();
        let url = &urls[url_index % urls.len().max(1)];
        url_index += 1;
        let connected = async {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut pubsub =
                tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub())
                    .await
                    .ok()?
                    .ok()?;
            pubsub.subscribe(&shared.channel).await.ok()?;
            Some(pubsub)
        }
        .await;
        let Some(pubsub) = connected else {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            continue;
        };
        pause = Duration::from_millis(100);
        // Whatever was announced while we were away is unknown: start
        // empty (again at the first echo, which proves the channel).
        shared.coherence.lapse();
        shared.empty_memory("").await;
        replay(&shared).await;
        shared.subscribed.send_replace(true);
        // Prove the channel now, not a heartbeat period from now (a long
        // bound would leave a new node untrusted for a quarter of it).
        beat(&shared).await;
        let mut messages = pubsub.into_on_message();
        let mut retry = tokio::time::interval(REPLAY_EVERY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut watchdog = tokio::time::interval(shared.coherence.period());
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let subscribed_at = std::time::Instant::now();
        loop {
            tokio::select! {
                msg = messages.next() => {
                    let Some(msg) = msg else { break };
                    let Some((node, what)) = decode(msg.get_payload_bytes()) else {
                        continue;
                    };
                    heard(&shared, node, what).await;
                }
                _ = retry.tick() => {
                    if shared.pending().len() > 0 {
                        replay(&shared).await;
                    }
                }
                _ = watchdog.tick() => {
                    shared.coherence.check();
                    // A connection that carries nothing (a host gone without
                    // closing it, an address moved by a failover) never
                    // errors: four bounds of silence and this node
                    // subscribes afresh.
                    if shared.coherence.silent_for(subscribed_at) > shared.coherence.bound() * 4 {
                        break;
                    }
                }
            }
        }
        shared.subscribed.send_replace(false);
        shared.coherence.lapse();
        tracing::warn!(channel = %shared.channel, "lost the cache invalidation subscription; reconnecting");
    }
}

/// One message on the channel: this node's own heartbeat proves the
/// channel (emptying the tier first after a lapse); another node's
/// heartbeat says whether one of its announcements went missing; another
/// node's announcement drops what it names.
async fn heard(shared: &Shared, node: u64, what: &str) {
    let beat = heartbeat_count(what);
    if node == shared.node {
        let sent = heartbeat_sent(what);
        if sent.is_some() {
            shared.coherence.arrived();
        }
        if let Some(sent) = sent
            && shared.coherence.proves(sent)
        {
            if shared.coherence.must_empty_on_echo() {
                shared.empty_memory("").await;
            }
            shared.coherence.echoed(sent);
        }
        return;
    }
    if !shared.coherence.heard(node, beat) {
        tracing::warn!(
            channel = %shared.channel,
            "a cache invalidation from another node went missing: emptying this node's \
             in-process tier"
        );
        shared.empty_memory("").await;
    }
    if beat.is_none() {
        drop_local(shared, what).await;
    }
}

/// Publishes this node's heartbeat every period, for as long as the
/// backend lives (a failed publish is a missing echo: the proof lapses).
pub(super) async fn heartbeats(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(shared.coherence.period()).await;
        beat(&shared).await;
    }
}

async fn beat(shared: &Shared) {
    let beat = shared.coherence.heartbeat();
    let _ = shared
        .l2
        .publish(&shared.channel, &encode(shared.node, &beat))
        .await;
}

async fn drop_local(shared: &Shared, what: &str) {
    match what.strip_prefix('*') {
        Some(prefix) => shared.empty_memory(prefix).await,
        None => shared.drop_key(what).await,
    }
}

async fn replay(shared: &Shared) {
    let replay = shared.pending().take();
    if let Some(prefix) = replay.overflow
        && replay_overflow(shared, &prefix).await.is_err()
    {
        shared.pending().restore_overflow(prefix);
    }
    for what in replay.keys {
        // The write itself may have failed too: make Redis forget it.
        let l2 = match what.strip_prefix('*') {
            Some(prefix) => shared.l2.clear(prefix).await,
            None => shared
                .l2
                .delete(std::slice::from_ref(&what))
                .await
                .map(|_| ()),
        };
        if l2.is_err() || announce(shared, &what).await.is_err() {
            shared.remember(what);
        }
    }
}

/// Too many invalidations were pending to list: remove what they covered
/// from Redis, and empty every node's in-process tier.
async fn replay_overflow(shared: &Shared, prefix: &str) -> Result<(), CacheError> {
    if prefix.is_empty() {
        tracing::error!(
            channel = %shared.channel,
            "the dropped cache invalidations share no prefix: Redis may keep entries they removed \
             until those expire; emptying every node's in-process tier"
        );
    } else {
        shared.l2.clear(prefix).await?;
    }
    announce(shared, "*").await?;
    shared.empty_memory("").await;
    tracing::warn!(
        channel = %shared.channel,
        prefix,
        "replayed an overflow of cache invalidations: removed every key under the prefix \
         from Redis and emptied every node's in-process tier"
    );
    Ok(())
}

pub(super) async fn announce(shared: &Shared, what: &str) -> Result<(), CacheError> {
    shared
        .l2
        .publish(&shared.channel, &encode(shared.node, what))
        .await?;
    shared.coherence.published();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip() {
        let p = encode(0xabc, "app:post:1");
        assert_eq!(decode(&p), Some((0xabc, "app:post:1")));
        assert_eq!(decode(b"garbage"), None);
    }
}
