//! Login throttling: failed sign-ins counted per name and per client
//! address in a sliding window; past the limit, sign-in is refused (even
//! with the right password) until the oldest failure leaves the window.
//! Kept on each node: with N nodes behind a balancer a guesser gets at
//! most N times the limit, still a handful of guesses per window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures per key.
#[derive(Debug)]
pub(crate) struct Throttle {
    limit: usize,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            limit: limit as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long until `keys` may try again, if any is over the limit.
    pub(crate) fn blocked(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| {
                let list = map.get_mut(k)?;
                list.retain(|t| now.duration_since(*t) < self.window);
                (list.len() >= self.limit)
                    .then(|| self.window.saturating_sub(now.duration_since(list[0])))
            })
            .max()
    }

    /// Counts a failure against each key.
    pub(crate) fn fail(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Keep the map bounded under a spray of names.
        if map.len() > 100_000 {
            map.retain(|_, l| {
                l.last()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for k in keys {
            map.entry(k.clone()).or_default().push(now);
        }
    }

    /// Forgets the name's failures after a successful sign-in.
    pub(crate) fn succeed(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_forgets_on_success() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let keys = ["u:ada".to_owned(), "ip:1".to_owned()];
        assert!(t.blocked(&keys).is_none());
        t.fail(&keys);
        assert!(t.blocked(&keys).is_none());
        t.fail(&keys);
        assert!(t.blocked(&keys).is_some());
        t.succeed("u:ada");
        assert!(t.blocked(&keys[..1]).is_none());
        assert!(t.blocked(&keys[1..]).is_some(), "the address stays counted");
    }
}
