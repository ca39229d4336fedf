//! Rate-limit counters in this process, bounded in bytes: when the keys
//! take more than the budget, those that have run out (their allowance
//! whole again, their attempts forgotten) go first, then the least
//! restricted ones, so an attacker spraying keys frees the entries that
//! restrict nobody before any that holds someone back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Rate;
use super::store::{Backoff, Decision, LimitError, LimitStore, backoff_step, gcra};

/// What one key holds.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// GCRA's theoretical arrival time (µs since the epoch).
    Rate { tat: u64 },
    /// Attempts counted and the last one's time (µs), until `until`.
    Attempts { count: u32, last: u64, until: u64 },
}

impl Entry {
    /// When the entry no longer matters (µs).
    fn expires(&self) -> u64 {
        match *self {
            Entry::Rate { tat } => tat,
            Entry::Attempts { until, .. } => until,
        }
    }
}

/// Bytes a key costs beside its text: the entry, the map's slot.
const OVERHEAD: usize = 64;

/// In-process counters (see the module docs): one node's view, for apps
/// on one node, and the fallback when a shared store fails.
#[derive(Debug)]
pub struct MemoryLimitStore {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Box<str>, Entry>,
    bytes: usize,
}

pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl MemoryLimitStore {
    /// A store that keeps its keys within about `budget` bytes.
    pub fn new(budget: usize) -> Self {
        MemoryLimitStore {
            budget: budget.max(OVERHEAD * 16),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Bytes the keys take now (approximately).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn put(&self, inner: &mut Inner, key: &str, entry: Entry, now: u64) {
        if let Some(e) = inner.map.get_mut(key) {
            *e = entry;
            return;
        }
        let cost = key.len() + OVERHEAD;
        if inner.bytes + cost > self.budget {
            Self::shrink(inner, self.budget * 9 / 10, now);
        }
        inner.bytes += cost;
        inner.map.insert(key.into(), entry);
    }

    /// Drops entries that have run out, then the least restricted ones,
    /// until the keys fit in `target` bytes.
    fn shrink(inner: &mut Inner, target: usize, now: u64) {
        let mut freed = 0;
        inner.map.retain(|k, e| {
            let keep = e.expires() > now;
            if !keep {
                freed += k.len() + OVERHEAD;
            }
            keep
        });
        inner.bytes -= freed;
        if inner.bytes <= target {
            return;
        }
        let mut by_expiry: Vec<(u64, Box<str>)> = inner
            .map
            .iter()
            .map(|(k, e)| (e.expires(), k.clone()))
            .collect();
        by_expiry.sort_unstable();
        for (_, k) in by_expiry {
            if inner.bytes <= target {
                break;
            }
            inner.map.remove(&k);
            inner.bytes -= k.len() + OVERHEAD;
        }
    }
}

impl LimitStore for MemoryLimitStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn take(&self, key: &str, rate: Rate, cost: u32) -> Result<Decision, LimitError> {
        let now = now_micros();
        let mut inner = self.lock();
        let tat = match inner.map.get(key) {
            Some(Entry::Rate { tat }) => *tat,
            _ => 0,
        };
        let (stored, decision) = gcra(tat, now, rate, cost);
        if let Some(tat) = stored {
            self.put(&mut inner, key, Entry::Rate { tat }, now);
        }
        Ok(decision)
    }

    async fn attempt(&self, key: &str, backoff: Backoff) -> Result<Decision, LimitError> {
        let now = now_micros();
        let mut inner = self.lock();
        let (count, last) = match inner.map.get(key) {
            Some(Entry::Attempts { count, last, until }) if *until > now => (*count, *last),
            _ => (0, 0),
        };
        let (stored, decision) = backoff_step(count, last, now, backoff);
        if let Some((count, last)) = stored {
            let until = last + window_micros(backoff.window);
            self.put(&mut inner, key, Entry::Attempts { count, last, until }, now);
        }
        Ok(decision)
    }

    async fn refund(&self, key: &str) -> Result<(), LimitError> {
        let mut inner = self.lock();
        if let Some(Entry::Attempts { count, .. }) = inner.map.get_mut(key) {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn forget(&self, key: &str) -> Result<(), LimitError> {
        let mut inner = self.lock();
        if inner.map.remove(key).is_some() {
            inner.bytes -= key.len() + OVERHEAD;
        }
        Ok(())
    }
}

fn window_micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_stay_within_the_budget_and_restricted_ones_survive_a_spray() {
        let store = MemoryLimitStore::new(64 * 1024);
        let rate: Rate = "1/hour".parse().unwrap();
        // A key that is held back.
        assert!(store.take("victim-guesser", rate, 1).await.unwrap().allowed);
        assert!(!store.take("victim-guesser", rate, 1).await.unwrap().allowed);
        let loose: Rate = "1000000/second".parse().unwrap();
        for i in 0..20_000 {
            store.take(&format!("spray-{i}"), loose, 1).await.unwrap();
        }
        assert!(store.bytes() <= 64 * 1024, "{} bytes", store.bytes());
        assert!(
            !store.take("victim-guesser", rate, 1).await.unwrap().allowed,
            "the spray must not free the restricted key"
        );
    }

    #[tokio::test]
    async fn attempts_are_forgotten_on_success() {
        let store = MemoryLimitStore::new(1 << 20);
        let b = Backoff {
            free: 1,
            base: Duration::from_secs(60),
            max: Duration::from_secs(600),
            window: Duration::from_secs(900),
        };
        assert!(store.attempt("k", b).await.unwrap().allowed);
        let refused = store.attempt("k", b).await.unwrap();
        assert!(!refused.allowed && refused.retry_after > Duration::from_secs(50));
        store.forget("k").await.unwrap();
        assert!(store.attempt("k", b).await.unwrap().allowed);
    }
}
