//! hyper's timer for one connection, which tells the first wait for a
//! request's headers from the later ones. hyper arms one timer while a
//! connection waits for a request head (`header_read_timeout`), whether
//! the connection is new or kept alive after a response; nginx gives the
//! two cases their own settings (`client_header_timeout`,
//! `keepalive_timeout`). This timer moves the deadlines hyper asks for
//! after the first by the difference, so each case gets its own.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioTimer;

/// A connection's timer (cheap to make: one per accepted connection).
#[derive(Clone)]
pub(super) struct ConnTimer {
    inner: TokioTimer,
    waits: Arc<AtomicU32>,
    header_read: Duration,
    keep_alive: Duration,
}

impl ConnTimer {
    /// `header_read` is what hyper is configured with; waits after the
    /// first get `keep_alive` instead.
    pub(super) fn new(header_read: Duration, keep_alive: Duration) -> Self {
        ConnTimer {
            inner: TokioTimer::new(),
            waits: Arc::new(AtomicU32::new(0)),
            header_read,
            keep_alive,
        }
    }

    /// hyper's deadline (`now + header_read`) for this wait.
    fn deadline(&self, asked: Instant) -> Instant {
        if self.waits.fetch_add(1, Ordering::Relaxed) == 0 {
            return asked;
        }
        match asked.checked_sub(self.header_read) {
            Some(start) => start + self.keep_alive,
            None => asked,
        }
    }
}

impl Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.inner.sleep(duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        self.inner.sleep_until(self.deadline(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        self.inner.reset(sleep, self.deadline(new_deadline));
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_wait_keeps_its_deadline_and_later_ones_get_the_keep_alive_time() {
        let t = ConnTimer::new(Duration::from_secs(60), Duration::from_secs(75));
        let now = Instant::now();
        let asked = now + Duration::from_secs(60);
        assert_eq!(t.deadline(asked), asked);
        assert_eq!(t.deadline(asked), now + Duration::from_secs(75));
        assert_eq!(t.deadline(asked), now + Duration::from_secs(75));
    }
}
