//! Tag versions held in process memory, so a tagged hit costs one lookup
//! (the entry) instead of one per tag.
//!
//! A backend that sees every change to its tag keys — the memory backend
//! always, the tiered backend while it proves it hears the invalidation
//! channel — keeps a [`LocalTags`] and forgets a tag's version whenever a
//! key of the tag namespace is written, deleted or cleared, here or (for
//! the tiered backend) announced by another node. The cache reads the
//! versions there first and fills what is missing from the backend.
//!
//! A fill races a change: the version read from the store may be the one
//! the change replaced. Each fill carries the table's generation from
//! before its read and is refused if anything was forgotten since, so a
//! replaced version is never remembered.

use std::collections::HashMap;
use std::sync::RwLock;

/// What every tag key holds after the cache's prefix (see `Cache::tag_key`).
pub(crate) const TAG_MARK: &str = "\u{1}tag:";

/// Tags remembered at most; past it the table starts over (apps that tag
/// with ids, `post:17`, would otherwise grow it without end).
const MAX_TAGS: usize = 10_000;

/// Tag versions this process holds, keyed by the tag's full key.
///
/// A [`Backend`](crate::Backend) that sees every change to its keys offers
/// one through [`Backend::local_tags`](crate::Backend::local_tags):
///
/// ```
/// use phial_cache::LocalTags;
/// let tags = LocalTags::default();
/// let before = tags.generation();
/// tags.remember("app:\u{1}tag:post", 7, before);
/// assert_eq!(tags.get("app:\u{1}tag:post"), Some(7));
/// tags.changed("app:\u{1}tag:post");
/// assert_eq!(tags.get("app:\u{1}tag:post"), None);
/// ```
#[derive(Default)]
pub struct LocalTags {
    inner: RwLock<Table>,
}

#[derive(Default)]
struct Table {
    versions: HashMap<Box<str>, u64>,
    /// Bumped by every forget: a fill that read before it is refused.
    generation: u64,
}

impl LocalTags {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The version remembered for the tag key `key`.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.read().versions.get(key).copied()
    }

    /// Reads several under one lock: `None` as soon as one is not held.
    pub(crate) fn all<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> Option<Vec<u64>> {
        let table = self.read();
        keys.into_iter()
            .map(|k| table.versions.get(k).copied())
            .collect()
    }

    /// Whether every tag of an entry (under the cache `prefix`, with the
    /// version it was written with) still has that version: `None` when
    /// one is not held (ask the store). No allocation but one key buffer:
    /// this runs on every tagged hit.
    pub(crate) fn matches<S: AsRef<str>>(&self, prefix: &str, tags: &[(S, u64)]) -> Option<bool> {
        let mut key = String::with_capacity(prefix.len() + TAG_MARK.len() + 16);
        let table = self.read();
        let mut fresh = true;
        for (tag, version) in tags {
            key.clear();
            key.push_str(prefix);
            key.push_str(TAG_MARK);
            key.push_str(tag.as_ref());
            fresh &= *table.versions.get(key.as_str())? == *version;
        }
        Some(fresh)
    }

    /// Where fills start from: read it before reading the store.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Remembers `version` for `key`, read from the store after
    /// [`generation`](Self::generation) returned `since`; refused when
    /// something changed in between.
    pub fn remember(&self, key: &str, version: u64, since: u64) {
        let mut table = self.write();
        if table.generation != since {
            return;
        }
        if table.versions.len() >= MAX_TAGS && !table.versions.contains_key(key) {
            table.versions.clear();
        }
        table.versions.insert(key.into(), version);
    }

    /// `key` was written, deleted or announced: forget it if it is a tag
    /// key (any key that holds the tag mark, to be safe).
    pub fn changed(&self, key: &str) {
        if key.contains(TAG_MARK) {
            let mut table = self.write();
            table.versions.remove(key);
            table.generation += 1;
        }
    }

    /// Forgets every version (a clear, a lapse of the tiered backend's
    /// proof, a resubscription).
    pub fn forget_all(&self) {
        let mut table = self.write();
        table.versions.clear();
        table.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_that_read_before_a_change_is_refused() {
        let tags = LocalTags::default();
        let key = "app:\u{1}tag:post";
        let before = tags.generation();
        // The store said 1; meanwhile the tag changed to 2.
        tags.changed(key);
        tags.remember(key, 1, before);
        assert_eq!(tags.get(key), None, "the replaced version is not kept");
        let now = tags.generation();
        tags.remember(key, 2, now);
        assert_eq!(tags.get(key), Some(2));
        assert_eq!(tags.matches("app:", &[("post", 2)]), Some(true));
        assert_eq!(tags.matches("app:", &[("post", 1)]), Some(false));
        assert_eq!(tags.matches("app:", &[("post", 2), ("x", 2)]), None);
    }

    #[test]
    fn the_mark_is_in_the_internal_namespace() {
        assert!(TAG_MARK.starts_with(crate::cache::INTERNAL));
    }

    #[test]
    fn keys_outside_the_tag_namespace_change_nothing() {
        let tags = LocalTags::default();
        let g = tags.generation();
        tags.remember("app:\u{1}tag:post", 1, g);
        tags.changed("app:resp:GET:/");
        assert_eq!(tags.generation(), g, "a page written is not a tag change");
        assert_eq!(tags.get("app:\u{1}tag:post"), Some(1));
        tags.forget_all();
        assert_eq!(tags.get("app:\u{1}tag:post"), None);
    }

    #[test]
    fn the_table_stays_bounded() {
        let tags = LocalTags::default();
        for i in 0..(MAX_TAGS + 5) {
            let g = tags.generation();
            tags.remember(&format!("app:\u{1}tag:post:{i}"), 1, g);
        }
        assert!(tags.read().versions.len() <= MAX_TAGS);
    }
}
