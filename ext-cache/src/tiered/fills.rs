//! Guards the in-process tier's fills against the invalidations they race.
//!
//! A read that misses memory fetches from Redis and keeps the value; if
//! another node's announcement for that key arrives between the fetch and
//! the keep, the delete runs first and the replaced value would stay in
//! memory until its time to live — far past the coherence bound. Every
//! drop bumps a counter for its key's stripe; a fill keeps its value, then
//! checks that the stripe did not move since before the fetch, and takes
//! the value back out if it did (a spurious miss at worst).

use std::sync::atomic::{AtomicU64, Ordering};

const STRIPES: usize = 256;

pub(super) struct Fills {
    stripes: [AtomicU64; STRIPES],
}

impl Default for Fills {
    fn default() -> Self {
        Fills {
            stripes: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// FNV-1a: cheap, and spreads keys that differ in their last bytes.
fn stripe(key: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h as usize) % STRIPES
}

impl Fills {
    /// Where a fill of `key` starts: read before fetching from Redis.
    pub(super) fn before(&self, key: &str) -> u64 {
        self.stripes[stripe(key)].load(Ordering::Acquire)
    }

    /// Whether nothing dropped `key` since `before` returned `since`.
    pub(super) fn unchanged(&self, key: &str, since: u64) -> bool {
        self.stripes[stripe(key)].load(Ordering::Acquire) == since
    }

    /// `key` is being dropped from memory.
    pub(super) fn dropped(&self, key: &str) {
        self.stripes[stripe(key)].fetch_add(1, Ordering::AcqRel);
    }

    /// Every key is being dropped (a clear, an emptied tier).
    pub(super) fn dropped_all(&self) {
        for s in &self.stripes {
            s.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_between_fetch_and_keep_is_seen() {
        let f = Fills::default();
        let since = f.before("app:k");
        assert!(f.unchanged("app:k", since));
        f.dropped("app:k");
        assert!(!f.unchanged("app:k", since));
        let since = f.before("app:k");
        f.dropped_all();
        assert!(!f.unchanged("app:k", since));
    }
}
