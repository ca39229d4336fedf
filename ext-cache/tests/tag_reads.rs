//! A tagged hit costs one read of the store: the tags' versions come from
//! process memory when the backend holds them there (the memory backend;
//! the tiered one while it proves it hears the other nodes), and an
//! invalidation still makes the entry a miss at once. The control: the
//! same backend without its versions in memory pays one read per tag.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use phial_cache::bytes::Bytes;
use phial_cache::memory::{Capacity, Memory};
use phial_cache::{Backend, Cache, CacheError, LocalTags};

/// The memory backend, counting the keys read from it; `local` says
/// whether it offers its tag versions.
struct Counting {
    inner: Memory,
    reads: AtomicU64,
    local: bool,
}

impl Counting {
    fn new(local: bool) -> Self {
        Counting {
            inner: Memory::new(Capacity::Entries(1000), None),
            reads: AtomicU64::new(0),
            local,
        }
    }
}

impl Backend for Counting {
    fn kind(&self) -> &'static str {
        "counting"
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError> {
        self.inner.set(key, value, ttl).await
    }
    async fn set_if_absent(&self, key: &str, value: Bytes) -> Result<Bytes, CacheError> {
        self.inner.set_if_absent(key, value).await
    }
    async fn delete(&self, keys: &[String]) -> Result<u64, CacheError> {
        self.inner.delete(keys).await
    }
    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, CacheError> {
        self.inner.incr(key, by, ttl).await
    }
    async fn clear(&self, prefix: &str) -> Result<(), CacheError> {
        self.inner.clear(prefix).await
    }
    fn local_tags(&self) -> Option<&LocalTags> {
        if self.local {
            self.inner.local_tags()
        } else {
            None
        }
    }
}

/// Reads of the store for 100 hits of an entry tagged `post` and `author`,
/// and whether invalidating `post` then made it a miss.
async fn hundred_hits(local: bool) -> (u64, bool) {
    let backend = std::sync::Arc::new(Counting::new(local));
    let cache = Cache::from_arc(backend.clone(), "app:", None);
    cache
        .set_tagged("page", &"posts", None, &["post", "author"])
        .await;
    assert_eq!(cache.get::<String>("page").await.as_deref(), Some("posts"));
    backend.reads.store(0, Ordering::Relaxed);
    for _ in 0..100 {
        assert_eq!(cache.get::<String>("page").await.as_deref(), Some("posts"));
    }
    let reads = backend.reads.load(Ordering::Relaxed);
    cache.invalidate_tag("post").await;
    let missed = cache.get::<String>("page").await.is_none();
    (reads, missed)
}

#[tokio::test]
async fn a_tagged_hit_reads_the_store_once_and_an_invalidation_still_misses() {
    let (reads, missed) = hundred_hits(true).await;
    assert_eq!(reads, 100, "one read per hit: the entry");
    assert!(missed, "the invalidated tag made the entry a miss");

    // The control: without the versions in memory, a read per tag too.
    let (reads, missed) = hundred_hits(false).await;
    assert_eq!(reads, 300, "the entry and its two tags");
    assert!(missed);
}

#[tokio::test]
async fn a_tag_written_directly_in_the_store_is_seen() {
    // The versions in memory follow every write the backend takes, even
    // one that bypasses the cache's own calls.
    let backend = std::sync::Arc::new(Counting::new(true));
    let cache = Cache::from_arc(backend.clone(), "app:", None);
    cache.set_tagged("page", &1u8, None, &["post"]).await;
    assert_eq!(cache.get::<u8>("page").await, Some(1));
    backend
        .set("app:\u{1}tag:post", Bytes::from_static(b"12345"), None)
        .await
        .unwrap();
    assert_eq!(cache.get::<u8>("page").await, None);
    backend.delete(&["app:\u{1}tag:post".into()]).await.unwrap();
    assert_eq!(
        cache.get::<u8>("page").await,
        None,
        "a lost version is a miss"
    );
}
