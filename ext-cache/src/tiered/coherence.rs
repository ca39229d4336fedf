//! Whether a tiered node may trust its in-process tier, proven from
//! outside: each node publishes a heartbeat on the invalidation channel
//! every quarter of the bound and hears it come back through Redis; while
//! its own heartbeat came back within the bound and no other node's
//! announcements went missing, an in-process hit needs no round trip. The
//! moment it did not (Redis frozen, failing over, a connection silent, the
//! node starved), reads skip the in-process tier until a heartbeat comes
//! back again — and the tier is emptied first, since what was announced in
//! between is unknown.
//!
//! The guarantee, under any single fault: a value served from a node's
//! memory is never older than the bound after the write that replaced it
//! was announced. Announcements reach a subscriber in the order Redis
//! took them, so the echo of a heartbeat proves that every announcement
//! published before the heartbeat was *sent* has been heard: the trust
//! runs for the bound from that send time, not from the echo's arrival,
//! and an echo later than the bound proves nothing (on a slow link the
//! round trip would otherwise add to the bound — the consistency suite's
//! slow network found reads 259 ms behind).
//!
//! A missing announcement is found by counting: each heartbeat carries how
//! many announcements its node had published before it; a subscriber that
//! heard fewer from that node by the next heartbeat (one period's grace,
//! for a Redis Cluster that may deliver two publishes out of order) missed
//! one, and empties its tier.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a heartbeat announces instead of a key (a node of an older version
/// drops a key of that name from its memory: nothing it holds).
pub(super) const HEARTBEAT: &str = "\u{1}heartbeat:";

/// The bound by default: how stale an in-process hit may be under a fault.
pub const DEFAULT_BOUND: Duration = Duration::from_millis(250);

/// One other node, as this node has heard it.
#[derive(Default)]
struct Origin {
    /// Announcements (not heartbeats) heard from it.
    heard: u64,
    /// Announcements it had published before its last heartbeat, as the
    /// count this node expects: `None` until its first heartbeat.
    expected: Option<u64>,
    /// What its heartbeats count that this node could not have heard
    /// (published before this node subscribed).
    before_us: u64,
}

pub(super) struct Coherence {
    start: Instant,
    /// The bound in ms (set once, before the first read; see
    /// `Tiered::coherence_bound`).
    bound_ms: AtomicU64,
    /// When the newest heartbeat this node heard back was sent, in ms
    /// since `start` plus one (0: none since it subscribed).
    last_echo: AtomicU64,
    /// When this node last heard any of its heartbeats back, however late
    /// (ms since `start` plus one; 0: none): the channel is alive even when
    /// a slow link makes its echoes prove nothing.
    last_arrival: AtomicU64,
    /// False from a lapse until the tier is emptied and an echo is heard.
    coherent: AtomicBool,
    /// Announcements this node published (Redis acknowledged them).
    published: AtomicU64,
    origins: Mutex<HashMap<u64, Origin>>,
    /// Times this node stopped trusting its memory.
    lapses: AtomicU64,
    /// Whether reads may use the in-process tier (for waiters).
    state: tokio::sync::watch::Sender<bool>,
}

impl Coherence {
    pub(super) fn new(bound: Duration) -> Self {
        let c = Coherence {
            start: Instant::now(),
            bound_ms: AtomicU64::new(0),
            last_echo: AtomicU64::new(0),
            last_arrival: AtomicU64::new(0),
            coherent: AtomicBool::new(false),
            published: AtomicU64::new(0),
            origins: Mutex::new(HashMap::new()),
            lapses: AtomicU64::new(0),
            state: tokio::sync::watch::channel(false).0,
        };
        c.set_bound(bound);
        c
    }

    /// Sets the bound (at least 4 ms).
    pub(super) fn set_bound(&self, bound: Duration) {
        let ms = (bound.as_millis() as u64).max(4);
        self.bound_ms.store(ms, Ordering::Release);
    }

    fn bound_ms(&self) -> u64 {
        self.bound_ms.load(Ordering::Acquire)
    }

    pub(super) fn bound(&self) -> Duration {
        Duration::from_millis(self.bound_ms())
    }

    /// How often this node sends its heartbeat: four a bound, so one lost
    /// or late heartbeat does not end the proof.
    pub(super) fn period(&self) -> Duration {
        self.bound() / 4
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
    }

    /// Whether an in-process hit may be served now.
    pub(super) fn trusted(&self) -> bool {
        let last = self.last_echo.load(Ordering::Acquire);
        last != 0
            && self.coherent.load(Ordering::Acquire)
            && self.now_ms().saturating_sub(last) <= self.bound_ms()
    }

    /// The heartbeat this node publishes now: its marker, how many
    /// announcements it had published before it, and when it is sent (this
    /// node's clock, read back from its own echo).
    pub(super) fn heartbeat(&self) -> String {
        format!(
            "{HEARTBEAT}{}@{}",
            self.published.load(Ordering::Acquire),
            self.now_ms()
        )
    }

    /// Redis acknowledged one of this node's announcements.
    pub(super) fn published(&self) {
        self.published.fetch_add(1, Ordering::AcqRel);
    }

    /// One of this node's heartbeats came back (proving anything or not).
    pub(super) fn arrived(&self) {
        self.last_arrival.store(self.now_ms(), Ordering::Release);
    }

    /// Whether the echo of a heartbeat sent at `sent` proves anything now:
    /// it came back within the bound. A later one is ignored (it neither
    /// empties the tier nor trusts it).
    pub(super) fn proves(&self, sent: u64) -> bool {
        self.now_ms().saturating_sub(sent) <= self.bound_ms()
    }

    /// This node heard its own heartbeat. True when the in-process tier
    /// must be emptied before it is trusted again (the first echo after a
    /// (re)subscription, a lapse, or no proof for longer than the bound).
    pub(super) fn must_empty_on_echo(&self) -> bool {
        let last = self.last_echo.load(Ordering::Acquire);
        !self.coherent.load(Ordering::Acquire)
            || last == 0
            || self.now_ms().saturating_sub(last) > self.bound_ms()
    }

    /// This node heard back its heartbeat sent at `sent` (its
    /// `heartbeat()`'s clock), and the tier is empty or was proven current:
    /// trust it for the bound from when the heartbeat was sent.
    pub(super) fn echoed(&self, sent: u64) {
        let sent = sent.min(self.now_ms());
        self.last_echo.fetch_max(sent, Ordering::AcqRel);
        self.coherent.store(true, Ordering::Release);
        self.state.send_if_modified(|s| !std::mem::replace(s, true));
    }

    /// Stops trusting the tier (a lapse found by the watchdog, a gap, a
    /// lost subscription); the next echo empties it first.
    pub(super) fn lapse(&self) {
        if self.coherent.swap(false, Ordering::AcqRel) {
            self.lapses.fetch_add(1, Ordering::Relaxed);
        }
        self.state.send_if_modified(|s| std::mem::replace(s, false));
        self.origins().clear();
    }

    /// How long since this node last heard its own heartbeat, or since
    /// `since` (its subscription) when it has not heard one on it.
    pub(super) fn silent_for(&self, since: Instant) -> Duration {
        let last = self.last_arrival.load(Ordering::Acquire);
        let heard = self.start + Duration::from_millis(last.saturating_sub(1));
        let from = if last == 0 { since } else { heard.max(since) };
        from.elapsed()
    }

    /// The watchdog's check: a silence past the bound is a lapse.
    pub(super) fn check(&self) {
        if self.coherent.load(Ordering::Acquire) && !self.trusted() {
            self.lapse();
        }
    }

    fn origins(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Origin>> {
        self.origins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Another node's announcement (`heartbeat`: the count its heartbeat
    /// carries). False when one of its earlier announcements went missing.
    pub(super) fn heard(&self, node: u64, heartbeat: Option<u64>) -> bool {
        let mut origins = self.origins();
        let o = origins.entry(node).or_default();
        let Some(sent) = heartbeat else {
            o.heard += 1;
            return true;
        };
        let complete = match o.expected {
            None => {
                // What it published before this node heard it is not ours
                // to hear.
                o.before_us = sent.saturating_sub(o.heard);
                true
            }
            Some(expected) => o.heard + o.before_us >= expected,
        };
        if !complete {
            // Counted from here on, after the caller empties its tier.
            o.before_us = sent.saturating_sub(o.heard);
        }
        o.expected = Some(sent);
        complete
    }

    /// Follows whether reads may use the in-process tier.
    pub(super) fn watch(&self) -> tokio::sync::watch::Receiver<bool> {
        self.state.subscribe()
    }

    pub(super) fn lapses(&self) -> u64 {
        self.lapses.load(Ordering::Relaxed)
    }
}

/// The count a heartbeat carries, if `what` is one.
pub(super) fn heartbeat_count(what: &str) -> Option<u64> {
    let beat = what.strip_prefix(HEARTBEAT)?;
    beat.split_once('@')
        .map_or(beat, |(count, _)| count)
        .parse()
        .ok()
}

/// When a heartbeat was sent, by its sender's clock.
pub(super) fn heartbeat_sent(what: &str) -> Option<u64> {
    what.strip_prefix(HEARTBEAT)?
        .split_once('@')?
        .1
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_trusted_only_between_an_echo_and_the_bound() {
        let c = Coherence::new(Duration::from_secs(60));
        assert!(!c.trusted(), "not before its first echo");
        assert!(c.must_empty_on_echo(), "the first echo empties the tier");
        c.echoed(c.now_ms());
        assert!(c.trusted());
        assert!(!c.must_empty_on_echo());
        c.lapse();
        assert!(!c.trusted(), "a lapse ends the trust at once");
        assert!(c.must_empty_on_echo());
        assert_eq!(c.lapses(), 1);
        c.echoed(c.now_ms());
        assert!(c.trusted());

        let short = Coherence::new(Duration::from_millis(4));
        short.echoed(short.now_ms());
        std::thread::sleep(Duration::from_millis(10));
        assert!(!short.trusted(), "silence past the bound");
        assert!(short.must_empty_on_echo());
    }

    /// On a slow link the echo arrives late: the trust counts from when
    /// the heartbeat was sent, so a round trip longer than the bound
    /// proves nothing.
    #[test]
    fn the_trust_runs_from_the_heartbeats_send_time() {
        let c = Coherence::new(Duration::from_millis(50));
        let sent = heartbeat_sent(&c.heartbeat()).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        assert!(!c.proves(sent), "sent 60 ms ago: past the 50 ms bound");
        c.echoed(sent);
        assert!(!c.trusted());
        let fresh = heartbeat_sent(&c.heartbeat()).unwrap();
        assert!(c.proves(fresh));
        c.echoed(fresh);
        assert!(c.trusted(), "the control: a prompt echo");
        // An older echo arriving late does not move the proof back.
        c.echoed(sent);
        assert!(c.trusted());
    }

    #[test]
    fn a_missing_announcement_is_found_by_the_next_heartbeat() {
        let c = Coherence::new(DEFAULT_BOUND);
        // Node 7 had published 5 before we heard it; then 2 more.
        assert!(c.heard(7, Some(5)));
        assert!(c.heard(7, None));
        assert!(c.heard(7, None));
        assert!(c.heard(7, Some(7)), "5 before us, 2 heard: complete");
        assert!(c.heard(7, None));
        // Its heartbeat says 9 (two published), one arrives late: grace.
        assert!(c.heard(7, Some(9)), "checked against the count before");
        // By the next heartbeat the second never came.
        assert!(!c.heard(7, Some(9)), "one announcement missing");
        assert!(c.heard(7, Some(9)), "counted afresh after the gap");
    }

    #[test]
    fn heartbeats_read_back() {
        let c = Coherence::new(DEFAULT_BOUND);
        c.published();
        c.published();
        assert_eq!(heartbeat_count(&c.heartbeat()), Some(2));
        assert!(heartbeat_sent(&c.heartbeat()).is_some());
        assert_eq!(heartbeat_count("app:post:1"), None);
        // An older node's heartbeat (no send time) still counts.
        assert_eq!(heartbeat_count(&format!("{HEARTBEAT}3")), Some(3));
        assert_eq!(heartbeat_sent(&format!("{HEARTBEAT}3")), None);
    }
}
