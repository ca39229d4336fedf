//! Tag versions. Each tag has a version stored under a key of Phial's own;
//! an entry keeps the versions of its tags as they were when it was
//! written, and is fresh only while every one of them is unchanged.
//!
//! Invalidation never goes backwards: a version is a random 64-bit number
//! (never a counter that could come back to a value an old entry holds),
//! invalidating writes a new one (a tag key is never deleted to
//! invalidate), and a tag whose version is missing — evicted under memory
//! pressure, deleted by hand or by the tiered backend's replay — makes
//! every entry that carries it a miss. A write that finds a tag without a
//! version creates one with `SET NX` semantics, so concurrent writers and
//! readers agree on it.
//!
//! A write that must not be acknowledged unless every node will drop what
//! it replaces brackets its commit: [`Cache::begin_invalidation`] puts a
//! mark in place of the version before the commit (every entry carrying
//! the tag is a miss from then on, and none is stored with it), and
//! `invalidate_tag` after the commit replaces the mark with a new version.
//! If the mark cannot be written the write is refused, nothing saved; if
//! the second step fails the mark expires after [`WRITE_LEASE`] and the
//! tag starts over without a version (every old entry stays a miss).

use bytes::Bytes;

use crate::cache::Cache;
use crate::error::CacheError;
use crate::local_tags::{LocalTags, TAG_MARK};

/// What a tag holds while a write to its rows is in progress.
const CHANGING: &[u8] = b"changing";

/// How long a write's mark lasts if the write never replaces it (its node
/// lost the store between the commit and the invalidation).
pub const WRITE_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// A tag's version as it is read: `None` when the tag has none (then no
/// entry carrying the tag is fresh).
pub(crate) type Version = Option<u64>;

impl Cache {
    fn tag_key(&self, tag: &str) -> String {
        // Pushed, not `format!`ed: every tagged hit builds these.
        let prefix = &self.0.prefix;
        let mut key = String::with_capacity(prefix.len() + tag.len() + 8);
        key.push_str(prefix);
        key.push_str(TAG_MARK);
        key.push_str(tag);
        key
    }

    /// The versions of `tags` now (`None` for a tag without one): from
    /// process memory when the backend holds them there (see
    /// `local_tags.rs`), else from the store, remembered for next time.
    pub(crate) async fn tag_versions(&self, tags: &[&str]) -> Result<Vec<Version>, CacheError> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = tags.iter().map(|t| self.tag_key(t)).collect();
        let local = self.0.backend.local_tags();
        if let Some(held) = local.and_then(|l| l.all(keys.iter().map(String::as_str))) {
            return Ok(held.into_iter().map(Some).collect());
        }
        let since = local.map(LocalTags::generation);
        let raw = self.0.backend.get_many(&keys).await?;
        let versions: Vec<Version> = raw.iter().map(|v| v.as_deref().and_then(parse)).collect();
        if let (Some(local), Some(since)) = (local, since) {
            for (key, version) in keys.iter().zip(&versions) {
                if let Some(v) = version {
                    local.remember(key, *v, since);
                }
            }
        }
        Ok(versions)
    }

    /// Whether an entry written with `tags` (names and their versions then)
    /// is still fresh: every tag's version unchanged. One read of process
    /// memory when the backend holds the versions there.
    pub(crate) async fn tags_fresh<S: AsRef<str>>(
        &self,
        tags: &[(S, u64)],
    ) -> Result<bool, CacheError> {
        if tags.is_empty() {
            return Ok(true);
        }
        if let Some(fresh) = self
            .0
            .backend
            .local_tags()
            .and_then(|l| l.matches(&self.0.prefix, tags))
        {
            return Ok(fresh);
        }
        let names: Vec<&str> = tags.iter().map(|(t, _)| t.as_ref()).collect();
        let now = self.tag_versions(&names).await?;
        Ok(fresh(tags, &now))
    }

    /// The versions an entry written now carries: a tag without a version
    /// gets one (the first writer's, when several race).
    pub(crate) async fn versions_for_write(&self, tags: &[&str]) -> Result<Vec<u64>, CacheError> {
        let now = self.tag_versions(tags).await?;
        let mut out = Vec::with_capacity(tags.len());
        for (tag, version) in tags.iter().zip(now) {
            let version = match version {
                Some(v) => v,
                None => {
                    let key = self.tag_key(tag);
                    let mine = fresh_version();
                    let won = self.0.backend.set_if_absent(&key, encode(mine)).await?;
                    match parse(&won) {
                        Some(v) => v,
                        // A write is in progress: nothing is stored under
                        // its tag until it ends.
                        None if won == CHANGING => {
                            return Err(CacheError::TagChanging((*tag).to_owned()));
                        }
                        // Not a version (written by something else): replace it.
                        None => {
                            self.0.backend.set(&key, encode(mine), None).await?;
                            mine
                        }
                    }
                }
            };
            out.push(version);
        }
        Ok(out)
    }

    /// Marks `tag` as being written, before the write commits: from now on
    /// every entry carrying it is a miss on every node and none is stored
    /// with it, until [`invalidate_tag`](Self::invalidate_tag) gives it a
    /// new version (or [`WRITE_LEASE`] passes). An error means the store,
    /// and through it the other nodes, could not be told: refuse the
    /// write. The cache's guard on the change feed calls this for every
    /// write through Phial when the backend is shared.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use phial_cache::Cache;
    /// use phial_cache::memory::{Capacity, Memory};
    /// let cache = Cache::new(Memory::new(Capacity::Entries(100), None), "app:", None);
    /// cache.set_tagged("page", &"old", None, &["post"]).await;
    /// cache.begin_invalidation("post").await.expect("the store answers");
    /// assert_eq!(cache.get::<String>("page").await, None, "a miss while the write runs");
    /// cache.set_tagged("page", &"read meanwhile", None, &["post"]).await;
    /// cache.invalidate_tag("post").await;
    /// assert_eq!(cache.get::<String>("page").await, None, "nothing was stored meanwhile");
    /// # }
    /// ```
    pub async fn begin_invalidation(&self, tag: &str) -> Result<(), CacheError> {
        self.0
            .backend
            .set(
                &self.tag_key(tag),
                Bytes::from_static(CHANGING),
                Some(WRITE_LEASE),
            )
            .await
    }

    /// Makes every entry stored with `tag` a miss from now on: the tag
    /// gets a new random version.
    pub async fn invalidate_tag(&self, tag: &str) {
        let key = self.tag_key(tag);
        if let Err(e) = self
            .0
            .backend
            .set(&key, encode(fresh_version()), None)
            .await
        {
            self.failed("invalidate_tag", &e);
        }
    }
}

/// Whether an entry written with `then` is still fresh given `now`.
pub(crate) fn fresh<S>(then: &[(S, u64)], now: &[Version]) -> bool {
    then.len() == now.len()
        && then
            .iter()
            .zip(now)
            .all(|((_, then), now)| *now == Some(*then))
}

fn parse(raw: &[u8]) -> Option<u64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

fn encode(version: u64) -> Bytes {
    Bytes::from(version.to_string())
}

/// A random version; if the system has no randomness, the clock mixed
/// with a process-wide counter (still never a value that comes back).
fn fresh_version() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_ok() {
        return u64::from_le_bytes(b);
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ n.rotate_left(48) ^ u64::from(std::process::id()).rotate_left(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_version_is_never_fresh() {
        let then = vec![("post".to_owned(), 7)];
        assert!(fresh(&then, &[Some(7)]));
        assert!(!fresh(&then, &[Some(8)]));
        assert!(!fresh(&then, &[None]));
    }

    #[test]
    fn versions_do_not_repeat() {
        let a: std::collections::HashSet<u64> = (0..1000).map(|_| fresh_version()).collect();
        assert_eq!(a.len(), 1000);
    }
}
