//! Invalidations a tiered node could not carry out while Redis was away
//! (a delete that did not reach Redis, an announcement nobody heard), kept
//! to replay when Redis answers again: each key once, and at most
//! `limit` of them. Past the limit the node stops listing keys and
//! remembers only the prefix they all share: the replay then removes that
//! whole prefix from Redis and empties every node's in-process tier.

use std::collections::HashSet;

/// Entries kept at most (an overflow counts as one), unless [`Tiered::max_pending`](super::Tiered::max_pending) says otherwise.
pub(crate) const DEFAULT_LIMIT: usize = crate::config::DEFAULT_MAX_PENDING;

/// What to replay: listed keys (`*prefix` for a cleared prefix), or an
/// overflow that covers everything under `prefix`.
pub(crate) struct Replay {
    pub(crate) keys: Vec<String>,
    pub(crate) overflow: Option<String>,
}

pub(crate) struct Pending {
    keys: HashSet<String>,
    limit: usize,
    /// The prefix every dropped key shares, once the limit was passed.
    overflow: Option<String>,
}

impl Pending {
    pub(crate) fn new() -> Self {
        Pending {
            keys: HashSet::new(),
            limit: DEFAULT_LIMIT,
            overflow: None,
        }
    }

    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    /// Remembers `what` (a key, or `*prefix`). Returns the shared prefix
    /// when this push passed the limit (the caller logs it).
    pub(crate) fn push(&mut self, what: String) -> Option<String> {
        if self.keys.contains(&what) {
            return None;
        }
        if self.len() < self.limit {
            self.keys.insert(what);
            return None;
        }
        let dropped = self.keys.drain().chain([what]).chain(self.overflow.take());
        let prefix = common_prefix(dropped);
        self.overflow = Some(prefix.clone());
        Some(prefix)
    }

    /// Every invalidation pending; `self` starts empty.
    pub(crate) fn take(&mut self) -> Replay {
        Replay {
            keys: self.keys.drain().collect(),
            overflow: self.overflow.take(),
        }
    }

    /// Puts back an overflow whose replay failed.
    pub(crate) fn restore_overflow(&mut self, prefix: String) {
        let merged = match self.overflow.take() {
            Some(other) => common_prefix([prefix, other]),
            None => prefix,
        };
        self.overflow = Some(merged);
    }

    /// Keys listed (an overflow counts as one).
    pub(crate) fn len(&self) -> usize {
        self.keys.len() + usize::from(self.overflow.is_some())
    }

    pub(crate) fn overflowed(&self) -> bool {
        self.overflow.is_some()
    }
}

/// The longest prefix shared by every key (`*prefix` entries count as
/// their prefix), cut back to a character boundary.
fn common_prefix(keys: impl IntoIterator<Item = String>) -> String {
    let mut shared: Option<String> = None;
    for key in keys {
        let key = key.strip_prefix('*').unwrap_or(&key);
        shared = Some(match shared {
            None => key.to_owned(),
            Some(s) => {
                let n = s
                    .char_indices()
                    .zip(key.chars())
                    .find(|((_, a), b)| a != b)
                    .map_or(s.len().min(key.len()), |((i, _), _)| i);
                let mut n = n.min(key.len());
                while !s.is_char_boundary(n) {
                    n -= 1;
                }
                s[..n].to_owned()
            }
        });
    }
    shared.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_once() {
        let mut p = Pending::new();
        for _ in 0..5 {
            assert_eq!(p.push("app:k".into()), None);
        }
        p.push("*app:".into());
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn past_the_limit_only_the_shared_prefix_is_kept() {
        let mut p = Pending::new();
        p.set_limit(2);
        p.push("app:post:1".into());
        p.push("app:post:2".into());
        assert_eq!(p.push("app:posts".into()), Some("app:post".into()));
        assert_eq!((p.len(), p.overflowed()), (1, true));
        p.push("app:user:1".into());
        assert_eq!(p.len(), 2);
        assert_eq!(p.push("*app:u".into()), Some("app:".into()));
        assert!(p.len() <= 2);
        let replay = p.take();
        assert!(replay.keys.is_empty());
        assert_eq!(replay.overflow.as_deref(), Some("app:"));
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn prefixes_end_on_a_character_boundary() {
        assert_eq!(common_prefix(["aé1".into(), "aè2".into()]), "a");
        assert_eq!(common_prefix(["ab".into(), "abc".into()]), "ab");
        assert_eq!(common_prefix(["x".into(), "y".into()]), "");
    }
}
