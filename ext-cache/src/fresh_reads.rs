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
//! write or stopped trusting its memory. It is signed with the app's
//! secret (`until.signature`, [`phial_core::signing`]): a client cannot
//! make one, so only a write — as rate-limited as the app makes it —
//! buys a window of uncached reads, and a mark reaching further than one
//! window from now is no mark.
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
#[cfg(feature = "redis")]
use phial_core::signing::Signer;

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
/// The signer of marks (a purpose of its own under the app's secret).
pub(crate) fn signer(core: &phial_core::CoreConfig) -> Signer {
    Signer::from_config(core, "phial.wrote.v1")
}

#[cfg(feature = "redis")]
/// The mark the request carries, if any and signed: the header, else the
/// cookie.
fn carried(req: &Request, signer: &Signer) -> Option<u64> {
    let raw = match req.headers().get(HEADER) {
        Some(v) => v.to_str().ok()?.trim(),
        None => req
            .headers()
            .get_all(COOKIE_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value)?,
    };
    signer.unsign(raw)?.parse().ok()
}

#[cfg(feature = "redis")]
/// Whether the request carries a signed mark that has not expired and
/// reaches no further than one `window` from now (a mark signed under a
/// longer window, or by a node whose clock runs far ahead, is no mark).
fn live_mark(req: &Request, window: Duration, signer: &Signer) -> bool {
    let now = now_ms();
    carried(req, signer)
        .is_some_and(|until| until > now && until <= now + window.as_millis() as u64)
}

#[cfg(feature = "redis")]
/// The middleware the `Caching` extension installs on a tiered cache:
/// reads skip the cache while the client's mark lasts, and a request that
/// wrote gets a new one lasting `window`.
pub(crate) async fn layer(window: Duration, signer: Signer, req: Request, next: Next) -> Response {
    let marked_request = live_mark(&req, window, &signer);
    let current = Arc::new(Current {
        marked_request,
        wrote: AtomicBool::new(false),
    });
    let mut res = CURRENT.scope(current.clone(), next.run(req)).await;
    if current.wrote.load(Ordering::Relaxed) {
        let mark = signer.sign(&(now_ms() + window.as_millis() as u64).to_string());
        let secs = window.as_secs().max(1) + 1;
        let cookie = format!("{COOKIE}={mark}; Path=/; Max-Age={secs}; HttpOnly; SameSite=Lax");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(SET_COOKIE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&mark) {
            res.headers_mut().insert(HEADER, v);
        }
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

    fn signer() -> Signer {
        Signer::new("a secret for the tests", &[], "phial.wrote.v1")
    }

    #[test]
    fn the_signed_mark_is_read_from_the_header_or_the_cookie() {
        let s = signer();
        let (m42, m77) = (s.sign("42"), s.sign("77"));
        assert_eq!(carried(&req(Some(&m42), None), &s), Some(42));
        let cookies = format!("session=abc; phial_wrote={m77}; x=1");
        assert_eq!(carried(&req(None, Some(&cookies)), &s), Some(77));
        assert_eq!(carried(&req(None, Some("session=abc")), &s), None);
        // Unsigned, forged, or signed by another app: no mark.
        assert_eq!(carried(&req(Some("42"), None), &s), None);
        assert_eq!(
            carried(&req(Some("42.AAAAAAAAAAAAAAAAAAAAAA"), None), &s),
            None
        );
        let other = Signer::new("another app's secret", &[], "phial.wrote.v1");
        assert_eq!(carried(&req(Some(&other.sign("42")), None), &s), None);
        assert_eq!(carried(&req(Some(&s.sign("not a time")), None), &s), None);
    }

    #[test]
    fn an_expired_or_far_off_mark_is_no_mark() {
        let s = signer();
        let window = Duration::from_secs(2);
        let mark = |until: u64| s.sign(&until.to_string());
        assert!(!live_mark(&req(Some(&mark(1)), None), window, &s));
        let soon = mark(now_ms() + 1_000);
        assert!(live_mark(&req(Some(&soon), None), window, &s));
        assert!(!live_mark(&req(None, None), window, &s));
        let later = mark(now_ms() + 60_000);
        assert!(
            !live_mark(&req(Some(&later), None), window, &s),
            "past one window"
        );
        assert!(!live_mark(&req(Some(&mark(u64::MAX)), None), window, &s));
        // The unsigned form of a live mark is no mark.
        let unsigned = (now_ms() + 1_000).to_string();
        assert!(!live_mark(&req(Some(&unsigned), None), window, &s));
    }
}
