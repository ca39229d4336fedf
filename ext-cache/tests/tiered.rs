//! The tiered backend across two app nodes sharing Redis: a write or an
//! invalidation on one node drops the other node's in-process copy, a node
//! that lost its subscription starts clean when it resubscribes, and a
//! node that cannot prove it hears the channel (its connections cut or
//! silent) stops serving from memory within the bound.
//!
//! Invalidations travel through Redis pub/sub, so the other node sees them
//! a moment later: those checks poll with a deadline. Subscriptions are
//! awaited, not slept for.

use std::time::{Duration, Instant};

use phial_cache::Cache;
use phial_cache::memory::Capacity;
use phial_cache::redis::Redis;
use phial_cache::tiered::{Coherent, DEFAULT_BOUND, Subscription, Tiered};
use phial_core::testing::{TcpProxy, service_url, url_addr, url_via};

/// One node's cache, once it hears the other nodes.
async fn node(url: &str, prefix: &str) -> (Cache, Subscription) {
    node_with(url, prefix, 10_000, Duration::from_millis(300)).await
}

/// One node's cache and its coherence signal, once it trusts its memory.
async fn coherent_node(url: &str, prefix: &str) -> (Cache, Coherent) {
    coherent_node_timed(url, prefix, Duration::from_millis(300)).await
}

/// [`coherent_node`] whose Redis calls may take `timeout`.
async fn coherent_node_timed(url: &str, prefix: &str, timeout: Duration) -> (Cache, Coherent) {
    let l2 = Redis::new(url, timeout).unwrap();
    let tiered = Tiered::new(
        l2,
        Capacity::Entries(1000),
        Duration::from_secs(60),
        format!("{prefix}invalidate"),
    );
    let mut coherent = tiered.coherence();
    coherent.trusted().await;
    (
        Cache::new(tiered, prefix.to_owned(), Some(Duration::from_secs(120))),
        coherent,
    )
}

/// The in-process hits a tiered cache has served.
fn memory_hits(cache: &Cache) -> u64 {
    cache.metrics()["backend_figures"]["l1_hits"]
        .as_u64()
        .unwrap()
}

/// A node that keeps at most `max_pending` invalidations during an outage
/// and gives up on a Redis call after `timeout` (every call during an
/// outage costs it).
async fn node_with(
    url: &str,
    prefix: &str,
    max_pending: usize,
    timeout: Duration,
) -> (Cache, Subscription) {
    let l2 = Redis::new(url, timeout).unwrap();
    let tiered = Tiered::new(
        l2,
        Capacity::Entries(1000),
        Duration::from_secs(60),
        format!("{prefix}invalidate"),
    )
    .max_pending(max_pending);
    let mut subscription = tiered.subscription();
    subscription.live().await;
    (
        Cache::new(tiered, prefix.to_owned(), Some(Duration::from_secs(120))),
        subscription,
    )
}

/// Polls `check` until it holds or two seconds pass.
async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A writer and a reader that reaches Redis through a proxy the test can
/// freeze, both trusting their memory; `None` when Redis is absent.
async fn writer_and_proxied_reader(name: &str) -> Option<(Cache, Cache, Coherent, TcpProxy)> {
    let url = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await?;
    let prefix = format!("phial-tiered-{name}:{}:", std::process::id());
    let target = url_addr(&url).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let (writer, _) = coherent_node(&url, &prefix).await;
    let (reader, coherent) = coherent_node(&url_via(&url, proxy.addr()), &prefix).await;
    Some((writer, reader, coherent, proxy))
}

/// Reads `key` from outside until the reader's memory stops answering;
/// every memory hit must be `held`. How long after `frozen` the last one
/// came.
async fn last_memory_hit(reader: &Cache, key: &str, held: u32, frozen: Instant) -> Duration {
    let mut last = Duration::ZERO;
    loop {
        let hits = memory_hits(reader);
        let value = reader.get::<u32>(key).await;
        if memory_hits(reader) == hits {
            return last;
        }
        assert_eq!(value, Some(held), "memory held the old value");
        last = frozen.elapsed();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn a_write_on_one_node_reaches_the_other_nodes_memory() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let prefix = format!("phial-tiered:{}:", std::process::id());
    let ((a, _), (b, _)) = (node(&url, &prefix).await, node(&url, &prefix).await);
    a.set("k", &1u32, None).await;
    assert_eq!(
        b.get::<u32>("k").await,
        Some(1),
        "read through to Redis, now in b's memory"
    );
    a.set("k", &2u32, None).await;
    assert!(
        eventually(async || b.get::<u32>("k").await == Some(2)).await,
        "b's stale copy was dropped"
    );

    b.set_tagged("list", &vec![1u8], None, &["post"]).await;
    assert_eq!(a.get::<Vec<u8>>("list").await, Some(vec![1]));
    b.invalidate_tag("post").await;
    assert!(
        eventually(async || a.get::<Vec<u8>>("list").await.is_none()).await,
        "the tag reached a"
    );

    a.delete("k").await;
    assert!(eventually(async || b.get::<u32>("k").await.is_none()).await);
    a.clear().await;
}

#[tokio::test]
async fn a_node_that_lost_its_subscription_starts_clean() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let prefix = format!("phial-tiered-cut:{}:", std::process::id());
    let target = url_addr(&url).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let port = proxy.addr();
    let (writer, _) = node(&url, &prefix).await;
    let (reader, mut subscription) = node(&url_via(&url, port), &prefix).await;
    // The reader's own write fills its memory (a node ignores its own
    // announcements; the writer's could arrive late and evict it).
    reader.set("k", &1u32, None).await;
    assert_eq!(reader.get::<u32>("k").await, Some(1));

    // The reader cannot hear anything while cut off, so it stops serving
    // from memory...
    proxy.cut().await;
    subscription.lost().await;
    writer.set("k", &2u32, None).await;
    assert_ne!(
        reader.get::<u32>("k").await,
        Some(1),
        "never the stale 1 from memory while Redis is unreachable"
    );
    // ...and empties its memory when it resubscribes.
    let proxy = TcpProxy::start(port, target).await.unwrap();
    subscription.live().await;
    // Never the stale 1 again; the first read may still miss while the
    // reader's own connection to Redis reconnects.
    assert_ne!(
        reader.get::<u32>("k").await,
        Some(1),
        "no stale entry after recovery"
    );
    assert!(eventually(async || reader.get::<u32>("k").await == Some(2)).await);
    writer.clear().await;
    proxy.cut().await;
}

fn pending(cache: &Cache) -> u64 {
    cache.metrics()["backend_figures"]["pending_invalidations"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn pending_invalidations_are_kept_once_per_key() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let prefix = format!("phial-tiered-dedupe:{}:", std::process::id());
    let target = url_addr(&url).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let fast = Duration::from_millis(100);
    let (cut_off, mut subscription) =
        node_with(&url_via(&url, proxy.addr()), &prefix, 100, fast).await;
    proxy.cut().await;
    subscription.lost().await;
    for i in 0..5u32 {
        cut_off.set("hot", &i, None).await;
        cut_off.delete("hot").await;
    }
    assert_eq!(pending(&cut_off), 1, "one key, remembered once");
}

#[tokio::test]
async fn past_the_pending_limit_recovery_drops_everything_that_was_lost() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let prefix = format!("phial-tiered-overflow:{}:", std::process::id());
    let target = url_addr(&url).await.unwrap();
    let proxy = TcpProxy::start("127.0.0.1:0".parse().unwrap(), target)
        .await
        .unwrap();
    let port = proxy.addr();
    let fast = Duration::from_millis(100);
    let (writer, mut subscription) = node_with(&url_via(&url, port), &prefix, 3, fast).await;
    let (reader, _) = node(&url, &prefix).await;
    let keys: Vec<String> = (0..8).map(|i| format!("post:{i}")).collect();
    for k in &keys {
        writer.set(k, &1u8, None).await;
        assert_eq!(
            reader.get::<u8>(k).await,
            Some(1),
            "now in the reader's memory"
        );
    }

    proxy.cut().await;
    subscription.lost().await;
    for k in &keys {
        writer.delete(k).await; // neither Redis nor the reader hears it
    }
    assert!(pending(&writer) <= 3, "bounded: {}", pending(&writer));
    assert_eq!(
        writer.metrics()["backend_figures"]["pending_overflowed"],
        true
    );

    let proxy = TcpProxy::start(port, target).await.unwrap();
    subscription.live().await;
    assert!(
        eventually(async || pending(&writer) == 0).await,
        "the overflow was replayed"
    );
    for k in &keys {
        assert!(
            eventually(async || reader.get::<u8>(k).await.is_none()).await,
            "{k}: the reader dropped its copy and Redis forgot the value"
        );
    }
    writer.clear().await;
    proxy.cut().await;
}

#[tokio::test]
async fn a_node_whose_connections_go_silent_stops_serving_from_memory_within_the_bound() {
    let Some((writer, reader, mut coherent, proxy)) = writer_and_proxied_reader("silent").await
    else {
        return;
    };
    reader.set("k", &1u32, None).await;
    // Control: while the reader proves it hears the channel, its memory
    // serves (no round trip).
    let before = memory_hits(&reader);
    assert_eq!(reader.get::<u32>("k").await, Some(1));
    assert_eq!(memory_hits(&reader), before + 1, "served from memory");

    // Its connections go silent without closing (no error, ever): the
    // writer's announcement cannot reach it.
    let frozen = Instant::now();
    proxy.freeze();
    writer.set("k", &2u32, None).await;
    // Read from outside until memory stops answering: the last stale hit.
    let last_memory_hit = last_memory_hit(&reader, "k", 1, frozen).await;
    writeln_stderr(&format!(
        "MEASURED a node whose connections froze served its memory until \
         {last_memory_hit:?} after (bound {DEFAULT_BOUND:?})"
    ));
    // The read decides by its clock before the test reads its own: a few
    // milliseconds of slack for that, not for the guarantee.
    assert!(
        last_memory_hit <= DEFAULT_BOUND + Duration::from_millis(5),
        "no stale hit from memory past the bound: {last_memory_hit:?}"
    );
    // The lapse is reported too (metrics, waiters).
    coherent.distrusted().await;
    let hits = memory_hits(&reader);
    assert_ne!(
        reader.get::<u32>("k").await,
        Some(1),
        "no stale value from memory past the bound"
    );
    assert_eq!(memory_hits(&reader), hits, "memory was not asked");

    // It subscribes afresh (new connections work), empties its memory
    // and reads the writer's value.
    coherent.trusted().await;
    assert!(eventually(async || reader.get::<u32>("k").await == Some(2)).await);
    writer.clear().await;
    proxy.cut().await;
}

/// A link slower one way than the bound, for a while: echoes of the
/// node's heartbeats keep coming back, each late, and another node's
/// announcement takes longer than the bound to arrive. A late echo proves
/// nothing (trust counts from when the heartbeat was sent, not from when
/// it came back): the node does not use its memory at all, rather than
/// serve what was replaced for as long as the link is slow.
#[tokio::test]
async fn a_node_on_a_slow_link_does_not_trust_its_memory() {
    let Some(url) = service_url("Redis", "PHIAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").await
    else {
        return;
    };
    let prefix = format!("phial-tiered-slow:{}:", std::process::id());
    let proxy = TcpProxy::start(
        "127.0.0.1:0".parse().unwrap(),
        url_addr(&url).await.unwrap(),
    )
    .await
    .unwrap();
    let (writer, _) = coherent_node(&url, &prefix).await;
    // Redis calls may take the slow round trip (2 × 300 ms).
    let (reader, mut coherent) = coherent_node_timed(
        &url_via(&url, proxy.addr()),
        &prefix,
        Duration::from_secs(3),
    )
    .await;
    let memory_serves = async || {
        reader.set("k", &1u32, None).await;
        assert_eq!(reader.get::<u32>("k").await, Some(1));
        let hits = memory_hits(&reader);
        assert_eq!(reader.get::<u32>("k").await, Some(1));
        memory_hits(&reader) > hits
    };
    assert!(
        memory_serves().await,
        "the control: a fast link, memory serves"
    );

    let slow = DEFAULT_BOUND + Duration::from_millis(50);
    proxy.set_latency(slow);
    coherent.distrusted().await;
    // The link has been slow for a while: echoes flow again, each late.
    tokio::time::sleep(slow * 4).await;
    assert!(
        !memory_serves().await,
        "an echo that took longer than the bound proved the node current"
    );
    // Reads go to Redis, which has the other node's write.
    writer.set("k", &2u32, None).await;
    assert_eq!(reader.get::<u32>("k").await, Some(2));

    // The link fast again: trusted, and memory serves.
    proxy.set_latency(Duration::ZERO);
    coherent.trusted().await;
    assert!(memory_serves().await, "memory serves again");
    writer.clear().await;
    proxy.cut().await;
}

#[tokio::test]
async fn a_tagged_hit_on_a_trusted_node_is_one_memory_read_and_follows_the_bound() {
    let Some((writer, reader, mut coherent, proxy)) = writer_and_proxied_reader("tags").await
    else {
        return;
    };
    writer
        .set_tagged("page", &1u32, None, &["post", "author"])
        .await;
    assert_eq!(reader.get::<u32>("page").await, Some(1));
    assert_eq!(reader.get::<u32>("page").await, Some(1));
    // Tag versions come from the node's memory without a lookup each: a
    // hit is one read of the in-process tier (it was three: the entry
    // and its two tags).
    let before = memory_hits(&reader);
    for _ in 0..50 {
        assert_eq!(reader.get::<u32>("page").await, Some(1));
    }
    assert_eq!(memory_hits(&reader) - before, 50, "one memory read a hit");

    // An invalidation announced by another node reaches those versions.
    writer.invalidate_tag("post").await;
    assert!(eventually(async || reader.get::<u32>("page").await.is_none()).await);

    // Under a fault they follow the same bound as the entries.
    writer
        .set_tagged("page", &2u32, None, &["post", "author"])
        .await;
    assert!(eventually(async || reader.get::<u32>("page").await == Some(2)).await);
    let frozen = Instant::now();
    proxy.freeze();
    writer.invalidate_tag("author").await;
    let last_memory_hit = last_memory_hit(&reader, "page", 2, frozen).await;
    assert!(
        last_memory_hit <= DEFAULT_BOUND + Duration::from_millis(5),
        "no stale tagged hit past the bound: {last_memory_hit:?}"
    );
    coherent.distrusted().await;
    assert_eq!(
        reader.get::<u32>("page").await,
        None,
        "the invalidated tag is read from Redis"
    );
    writer.clear().await;
    proxy.cut().await;
}

/// A line a passing test prints (libtest hides `eprintln!` of a passing
/// test's thread).
fn writeln_stderr(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
