//! Read-your-writes across nodes, for the tiered cache: a client that wrote
//! never reads, on any node, what its write replaced.
//!
//! Within the coherence bound another node's memory may still hold the
//! replaced entry (the announcement is on its way); a load that began
//! before the write may be about to hand its result to every request
//! waiting for it; and a Redis failover may lose the last writes a
//! primary acknowledged, a tag's new version among them. So a response to
//! a request that wrote through Phial (its change feed published) gives
//! the client a mark — the cookie `phial_wrote` and the header
//! `Phial-Wrote`, the time until which it holds, in ms since the Unix
//! epoch — and while a request carries it (the cookie, or the header sent
//! back by an API client that keeps no cookies), its reads skip the cache
//! on every node (both tiers, and the loads other requests are running):
//! they read the database, which has what the client wrote. What they
//! load is stored as usual.
//!
//! The mark lasts the coherence bound plus [`CLOCK_ALLOWANCE`] (the nodes'
//! clocks may differ by that much); past it every node has heard the
//! write or stopped trusting its memory.
//!
//! ```
//! use phial_cache::fresh_reads::{COOKIE, HEADER};
//! assert_eq!(COOKIE, "phial_wrote");
//! assert_eq!(HEADER, "phial-wrote");
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
#[cfg(feature = "redis")]
use std::time::{SystemTime, UNIX_EPOCH};

#[cfg(feature = "redis")]
use axum::{extract::Request, middleware::Next, response::Response};
#[cfg(feature = "redis")]
use http::HeaderValue;
#[cfg(feature = "redis")]
use http::header::{COOKIE as COOKIE_HEADER, SET_COOKIE};

/// The cookie a writing client gets.
pub const COOKIE: &str = "phial_wrote";

/// The response header with the same mark; API clients send it back.
pub const HEADER: &str = "phial-wrote";

/// How far apart the nodes' clocks may be: added to the coherence bound.
pub const CLOCK_ALLOWANCE: Duration = Duration::from_secs(1);

/// What the current request knows of read-your-writes.
struct Current {
    /// It carried a live mark: its reads skip the cache.
    marked_request: bool,
    /// It wrote: give the client a mark.
    wrote: AtomicBool,
}

tokio::task_local! {
    static CURRENT: Arc<Current>;
}

/// Whether the request being served carries a live write mark (its reads
/// skip the cache).
pub(crate) fn marked() -> bool {
    CURRENT.try_with(|c| c.marked_request).unwrap_or(false)
}

/// The request being served wrote (called from the change feed, which
/// runs in the request's task).
pub(crate) fn wrote() {
    let _ = CURRENT.try_with(|c| c.wrote.store(true, Ordering::Relaxed));
}

#[cfg(feature = "redis")]
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(feature = "redis")]
/// The mark the request carries, if any: the header, else the cookie.
fn carried(req: &Request) -> Option<u64> {
    if let Some(v) = req.headers().get(HEADER) {
        return v.to_str().ok()?.trim().parse().ok();
    }
    req.headers()
        .get_all(COOKIE_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| value.parse().ok())
}

#[cfg(feature = "redis")]
/// Whether the request carries a mark that has not expired and reaches no
/// further than one `window` from now (a client cannot send one that
/// holds for ever; the mark is not signed, so it buys no more than
/// `Cache-Control: no-cache` does).
fn live_mark(req: &Request, window: Duration) -> bool {
    let now = now_ms();
    carried(req).is_some_and(|until| until > now && until <= now + window.as_millis() as u64)
}

#[cfg(feature = "redis")]
/// The middleware the `Caching` extension installs on a tiered cache:
/// reads skip the cache while the client's mark lasts, and a request that
/// wrote gets a new one lasting `window`.
pub(crate) async fn layer(window: Duration, req: Request, next: Next) -> Response {
    let marked_request = live_mark(&req, window);
    let current = Arc::new(Current {
        marked_request,
        wrote: AtomicBool::new(false),
    });
    let mut res = CURRENT.scope(current.clone(), next.run(req)).await;
    if current.wrote.load(Ordering::Relaxed) {
        let until = now_ms() + window.as_millis() as u64;
        let secs = window.as_secs().max(1) + 1;
        let cookie = format!("{COOKIE}={until}; Path=/; Max-Age={secs}; HttpOnly; SameSite=Lax");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(SET_COOKIE, v);
        }
        res.headers_mut().insert(HEADER, HeaderValue::from(until));
    }
    res
}

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::*;

    fn req(header: Option<&str>, cookie: Option<&str>) -> Request {
        let mut b = http::Request::builder();
        if let Some(h) = header {
            b = b.header(HEADER, h);
        }
        if let Some(c) = cookie {
            b = b.header(COOKIE_HEADER, c);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn the_mark_is_read_from_the_header_or_the_cookie() {
        assert_eq!(carried(&req(Some("42"), None)), Some(42));
        assert_eq!(
            carried(&req(None, Some("session=abc; phial_wrote=77; x=1"))),
            Some(77)
        );
        assert_eq!(carried(&req(None, Some("session=abc"))), None);
        assert_eq!(carried(&req(Some("not a time"), None)), None);
    }

    #[test]
    fn an_expired_or_far_off_mark_is_no_mark() {
        let window = Duration::from_secs(2);
        assert!(!live_mark(&req(Some("1"), None), window));
        let soon = (now_ms() + 1_000).to_string();
        assert!(live_mark(&req(Some(&soon), None), window));
        assert!(!live_mark(&req(None, None), window));
        let later = (now_ms() + 60_000).to_string();
        assert!(
            !live_mark(&req(Some(&later), None), window),
            "past one window"
        );
        assert!(!live_mark(&req(Some(&u64::MAX.to_string()), None), window));
    }
}
