//! Where rate-limit counters live: [`LimitStore`], implemented in process
//! by [`MemoryLimitStore`] and, shared by every node, by the cache
//! extension over Redis. A store knows two operations, both atomic:
//! - [`take`](LimitStore::take): a rate (`10/minute`) as GCRA, the
//!   "generic cell rate algorithm": one timestamp per key (the theoretical
//!   arrival time), so a burst of the whole allowance is let through and
//!   then one request per interval;
//! - [`attempt`](LimitStore::attempt): attempts with growing delays (sign-in):
//!   the first few are free, then each must wait twice as long as the
//!   last, up to a cap; [`forget`](LimitStore::forget) ends it.
//!
//! Implementers write plain `async fn`s; the app keeps stores as
//! `Arc<dyn DynLimitStore>` through a private twin trait (axum's pattern).

use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::Rate;

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// How many more requests would be let through now.
    pub remaining: u32,
    /// Time until the allowance is whole again.
    pub reset: Duration,
    /// When refused: time until the next request would be let through.
    pub retry_after: Duration,
}

/// Growing delays between attempts (see [`LimitStore::attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts let through without delay.
    pub free: u32,
    /// The first delay; each later one doubles.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
    /// How long a key is remembered after its last attempt.
    pub window: Duration,
}

impl Backoff {
    /// The delay before attempt number `n + 1`, after `n` counted ones.
    pub fn delay_after(&self, n: u32) -> Duration {
        if n < self.free {
            return Duration::ZERO;
        }
        let doublings = (n - self.free).min(30);
        self.base.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// A store could not answer.
#[derive(Debug, thiserror::Error)]
#[error("the rate-limit store `{store}` failed: {message}")]
pub struct LimitError {
    /// Which store.
    pub store: &'static str,
    /// What went wrong.
    pub message: String,
}

/// Counters for rate limits (see the module docs).
///
/// ```
/// use phial_core::rate_limit::{Decision, LimitStore, MemoryLimitStore, Rate};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemoryLimitStore::new(1 << 20);
/// let rate: Rate = "2/minute".parse().unwrap();
/// assert!(store.take("k", rate, 1).await.unwrap().allowed);
/// assert!(store.take("k", rate, 1).await.unwrap().allowed);
/// assert!(!store.take("k", rate, 1).await.unwrap().allowed);
/// # }
/// ```
pub trait LimitStore: Send + Sync + 'static {
    /// `memory`, `redis`, ...
    fn kind(&self) -> &'static str;

    /// Takes `cost` from `key`'s allowance of `rate`.
    fn take(
        &self,
        key: &str,
        rate: Rate,
        cost: u32,
    ) -> impl Future<Output = Result<Decision, LimitError>> + Send;

    /// Counts an attempt on `key`: let through when the delay that the
    /// attempts before it earned has passed (and then counted), refused
    /// otherwise (and not counted).
    fn attempt(
        &self,
        key: &str,
        backoff: Backoff,
    ) -> impl Future<Output = Result<Decision, LimitError>> + Send;

    /// Forgets `key`'s attempts (a sign-in that succeeded).
    fn forget(&self, key: &str) -> impl Future<Output = Result<(), LimitError>> + Send;

    /// Takes one attempt back from `key` (one that turned out legitimate),
    /// leaving the others counted.
    fn refund(&self, key: &str) -> impl Future<Output = Result<(), LimitError>> + Send;
}

/// [`LimitStore`] as the app keeps it (object-safe; implemented for every
/// `LimitStore`).
pub trait DynLimitStore: Send + Sync + 'static {
    /// See [`LimitStore::kind`].
    fn kind(&self) -> &'static str;
    /// See [`LimitStore::take`].
    fn take<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        cost: u32,
    ) -> BoxFuture<'a, Result<Decision, LimitError>>;
    /// See [`LimitStore::attempt`].
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        backoff: Backoff,
    ) -> BoxFuture<'a, Result<Decision, LimitError>>;
    /// See [`LimitStore::forget`].
    fn forget<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), LimitError>>;
    /// See [`LimitStore::refund`].
    fn refund<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), LimitError>>;
}

impl<T: LimitStore> DynLimitStore for T {
    fn kind(&self) -> &'static str {
        LimitStore::kind(self)
    }
    fn take<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        cost: u32,
    ) -> BoxFuture<'a, Result<Decision, LimitError>> {
        Box::pin(LimitStore::take(self, key, rate, cost))
    }
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        backoff: Backoff,
    ) -> BoxFuture<'a, Result<Decision, LimitError>> {
        Box::pin(LimitStore::attempt(self, key, backoff))
    }
    fn forget<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), LimitError>> {
        Box::pin(LimitStore::forget(self, key))
    }
    fn refund<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), LimitError>> {
        Box::pin(LimitStore::refund(self, key))
    }
}

/// GCRA in microseconds, shared by every store: given the stored
/// theoretical arrival time `tat` (0: none) and `now`, the new one to store
/// (when allowed) and the decision.
pub fn gcra(tat: u64, now: u64, rate: Rate, cost: u32) -> (Option<u64>, Decision) {
    let period = rate.period_micros();
    let interval = rate.interval_micros();
    let tat = tat.max(now);
    let new_tat = tat.saturating_add(interval.saturating_mul(u64::from(cost)));
    let allowed = new_tat.saturating_sub(now) <= period;
    let (stored, used) = if allowed {
        (Some(new_tat), new_tat)
    } else {
        (None, tat)
    };
    let left = period.saturating_sub(used - now);
    let decision = Decision {
        allowed,
        remaining: u32::try_from(left / interval.max(1)).unwrap_or(u32::MAX),
        reset: Duration::from_micros(used - now),
        retry_after: if allowed {
            Duration::ZERO
        } else {
            Duration::from_micros((new_tat - period).saturating_sub(now))
        },
    };
    (stored, decision)
}

/// The attempt rule in microseconds, shared by every store: given the
/// stored count and last attempt (0, 0 for none), what to store (when let
/// through) and the decision.
pub fn backoff_step(count: u32, last: u64, now: u64, b: Backoff) -> (Option<(u32, u64)>, Decision) {
    let wait = b.delay_after(count).as_micros() as u64;
    let ready_at = if count == 0 {
        now
    } else {
        last.saturating_add(wait)
    };
    if now < ready_at {
        let retry = Duration::from_micros(ready_at - now);
        return (
            None,
            Decision {
                allowed: false,
                remaining: 0,
                reset: retry,
                retry_after: retry,
            },
        );
    }
    let count = count.saturating_add(1);
    (
        Some((count, now)),
        Decision {
            allowed: true,
            remaining: b.free.saturating_sub(count),
            reset: b.delay_after(count),
            retry_after: Duration::ZERO,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    #[test]
    fn gcra_lets_a_burst_through_then_one_per_interval() {
        let rate: Rate = "3/minute".parse().unwrap();
        let mut tat = 0;
        for left in [2, 1, 0] {
            let (stored, d) = gcra(tat, 100 * S, rate, 1);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
            tat = stored.unwrap();
        }
        let (stored, d) = gcra(tat, 100 * S, rate, 1);
        assert!(!d.allowed && stored.is_none());
        assert_eq!(d.retry_after, Duration::from_secs(20));
        // One interval later, one more.
        assert!(gcra(tat, 120 * S, rate, 1).1.allowed);
    }

    #[test]
    fn attempts_wait_twice_as_long_each_time_after_the_free_ones() {
        let b = Backoff {
            free: 2,
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
            window: Duration::from_secs(900),
        };
        let (mut count, mut last) = (0, 0);
        let mut now = 10 * S;
        for _ in 0..2 {
            let (s, d) = backoff_step(count, last, now, b);
            assert!(d.allowed);
            (count, last) = s.unwrap();
        }
        for wait in [1, 2, 4, 8, 8] {
            let (s, d) = backoff_step(count, last, now, b);
            assert!(!d.allowed && s.is_none(), "refused without waiting");
            assert_eq!(d.retry_after, Duration::from_secs(wait));
            now += wait * S;
            let (s, d) = backoff_step(count, last, now, b);
            assert!(d.allowed);
            (count, last) = s.unwrap();
        }
    }
}
