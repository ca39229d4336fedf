//! Invalidation never goes backwards: once a tag is invalidated, its
//! entries stay misses even when the tag's version disappears (evicted
//! under memory pressure, deleted by hand, dropped by the tiered
//! backend's replay). Run on every backend the machine offers.

mod common;

use std::time::Duration;

use phial_cache::{Backend, Cache};

/// The stored name of a tag's version (Phial's own key space).
fn tag_key(prefix: &str, tag: &str) -> String {
    format!("{prefix}\u{1}tag:{tag}")
}

#[tokio::test]
async fn an_invalidated_entry_stays_stale_when_its_tag_version_is_lost() {
    for (name, backend, prefix) in common::backends().await {
        let cache = Cache::shared(
            backend.clone(),
            prefix.clone(),
            Some(Duration::from_secs(120)),
        );
        cache.set_tagged("list", &1u8, None, &["post"]).await;
        assert_eq!(cache.get::<u8>("list").await, Some(1), "{name}");
        cache.invalidate_tag("post").await;
        assert_eq!(cache.get::<u8>("list").await, None, "{name}");

        // The version is gone (as after an eviction): still a miss.
        backend.delete(&[tag_key(&prefix, "post")]).await.unwrap();
        assert_eq!(
            cache.get::<u8>("list").await,
            None,
            "{name}: a stale entry came back after its tag version was lost"
        );

        // Written while the tag has no version: the tag gets one, the
        // entry is fresh.
        cache.set_tagged("list", &2u8, None, &["post"]).await;
        assert_eq!(cache.get::<u8>("list").await, Some(2), "{name}");
        // Lost without any invalidation: a miss, never a wrong hit.
        backend.delete(&[tag_key(&prefix, "post")]).await.unwrap();
        assert_eq!(cache.get::<u8>("list").await, None, "{name}");
        cache.clear().await;
    }
}

#[tokio::test]
async fn writers_that_find_no_tag_version_agree_on_one() {
    for (name, backend, prefix) in common::backends().await {
        let ttl = Some(Duration::from_secs(120));
        let a = Cache::shared(backend.clone(), prefix.clone(), ttl);
        let b = Cache::shared(backend.clone(), prefix.clone(), ttl);
        let writes = (0..20u8).map(|i| {
            let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
            async move {
                cache
                    .set_tagged(&format!("k{i}"), &i, None, &["fresh-tag"])
                    .await
            }
        });
        futures_util::future::join_all(writes).await;
        for i in 0..20u8 {
            assert_eq!(
                a.get::<u8>(&format!("k{i}")).await,
                Some(i),
                "{name}: every writer used the one version that won"
            );
        }
        b.invalidate_tag("fresh-tag").await;
        for i in 0..20u8 {
            assert_eq!(a.get::<u8>(&format!("k{i}")).await, None, "{name}");
        }
        a.clear().await;
    }
}

/// A call that begins after a write, while a load begun before it still
/// runs, does not take that load's value: it loads the rows after the
/// write. (The call that began the load gets its value: it asked first.)
#[tokio::test]
async fn a_call_that_joins_a_load_begun_before_a_write_gets_the_rows_after_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU8, Ordering};
    for (name, cache) in common::caches().await {
        let rows = Arc::new(AtomicU8::new(1));
        let (read, go_on) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let first = tokio::spawn({
            let (cache, rows, read, go_on) =
                (cache.clone(), rows.clone(), read.clone(), go_on.clone());
            async move {
                cache
                    .get_or_set_tagged_with("count", None, &["post"], || async move {
                        let seen = rows.load(Ordering::SeqCst);
                        read.notify_one();
                        go_on.notified().await;
                        Ok::<_, std::convert::Infallible>(seen)
                    })
                    .await
                    .unwrap()
            }
        });
        read.notified().await;
        // The write ends while that load still runs.
        rows.store(2, Ordering::SeqCst);
        cache.invalidate_tag("post").await;
        let waits = cache.stats().waits;
        let second = tokio::spawn({
            let (cache, rows) = (cache.clone(), rows.clone());
            async move {
                cache
                    .get_or_set_tagged_with("count", None, &["post"], || async move {
                        Ok::<_, std::convert::Infallible>(rows.load(Ordering::SeqCst))
                    })
                    .await
                    .unwrap()
            }
        });
        // Once the second call waits on the first one's load, let it end.
        while cache.stats().waits == waits {
            tokio::task::yield_now().await;
        }
        go_on.notify_one();
        assert_eq!(first.await.unwrap(), 1, "{name}: it asked before the write");
        assert_eq!(
            second.await.unwrap(),
            2,
            "{name}: a call after the write got the rows before it"
        );
        cache.clear().await;
    }
}

#[tokio::test]
async fn a_value_loaded_across_an_invalidation_is_not_kept() {
    for (name, cache) in common::caches().await {
        let invalidator = cache.clone();
        let v: u8 = cache
            .get_or_set_tagged_with("count", None, &["post"], || async move {
                // The database changes while the loader reads it.
                invalidator.invalidate_tag("post").await;
                Ok::<_, std::convert::Infallible>(1)
            })
            .await
            .unwrap();
        assert_eq!(v, 1);
        assert_eq!(
            cache.get::<u8>("count").await,
            None,
            "{name}: the loader's value predates the invalidation"
        );
        cache.clear().await;
    }
}

#[tokio::test]
async fn while_a_write_runs_its_tags_entries_miss_and_none_is_stored() {
    for (name, backend, prefix) in common::backends().await {
        let cache = Cache::shared(backend, prefix, Some(Duration::from_secs(120)));
        cache.set_tagged("list", &1u8, None, &["post"]).await;
        assert_eq!(cache.get::<u8>("list").await, Some(1), "{name}");
        cache
            .begin_invalidation("post")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(cache.get::<u8>("list").await, None, "{name}: a miss");
        // Read from the database before the commit: not kept.
        cache.set_tagged("list", &2u8, None, &["post"]).await;
        assert_eq!(
            cache.get::<u8>("list").await,
            None,
            "{name}: stored while the write ran"
        );
        let loaded = cache
            .get_or_set_tagged_with("list", None, &["post"], || async { Ok::<_, String>(3u8) })
            .await;
        assert_eq!(loaded, Ok(3), "{name}: the loader's value is returned");
        assert_eq!(cache.get::<u8>("list").await, None, "{name}: and not kept");
        // The write ends: entries are kept again.
        cache.invalidate_tag("post").await;
        cache.set_tagged("list", &4u8, None, &["post"]).await;
        assert_eq!(cache.get::<u8>("list").await, Some(4), "{name}");
        // Other tags are untouched meanwhile.
        cache.set_tagged("authors", &5u8, None, &["author"]).await;
        cache.begin_invalidation("post").await.unwrap();
        assert_eq!(cache.get::<u8>("authors").await, Some(5), "{name}");
        cache.invalidate_tag("post").await;
    }
}
