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

use bytes::Bytes;

use crate::cache::{Cache, INTERNAL};
use crate::error::CacheError;

/// A tag's version as it is read: `None` when the tag has none (then no
/// entry carrying the tag is fresh).
pub(crate) type Version = Option<u64>;

impl Cache {
    fn tag_key(&self, tag: &str) -> String {
        // Pushed, not `format!`ed: every tagged hit builds these.
        let prefix = &self.0.prefix;
        let mut key = String::with_capacity(prefix.len() + tag.len() + 8);
        key.push_str(prefix);
        key.push(INTERNAL);
        key.push_str("tag:");
        key.push_str(tag);
        key
    }

    /// The versions of `tags` now (`None` for a tag without one).
    pub(crate) async fn tag_versions(&self, tags: &[&str]) -> Result<Vec<Version>, CacheError> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = tags.iter().map(|t| self.tag_key(t)).collect();
        let raw = self.0.backend.get_many(&keys).await?;
        Ok(raw.iter().map(|v| v.as_deref().and_then(parse)).collect())
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
