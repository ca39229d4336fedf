//! The response cache (Flask-Caching's `@cache.cached`): wrap a handler,
//! and successful GET responses are kept for a while, keyed by method,
//! host, path, query and chosen headers, marked `x-cache: HIT` or `MISS`.
//! Responses that set a cookie, read the session, say `no-store` or
//! `private`, or are large are never stored; a request with
//! `Cache-Control: no-cache` or `no-store` bypasses the cache.
//!
//! The trade-off to know: a page whose template shows flash messages or a
//! CSRF form reads the session, so it is personal and never cached (each
//! skip is logged at DEBUG on target `phial::cache` with the reason,
//! `RUST_LOG=phial::cache=debug`). Cache the pages everybody sees alike;
//! keep forms and flashes on pages that are not cached.
//!
//! ```
//! use std::time::Duration;
//! use phial_cache::cached;
//! use phial_core::routing::get;
//! async fn index() -> &'static str { "posts" }
//! let routes = get(cached(Duration::from_secs(60), index).tag("post")).name("index");
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, HOST, SET_COOKIE, VARY};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use phial_core::{AppState, HttpError, Session};
use serde::{Deserialize, Serialize};

use crate::cache::{Cache, StoredRef};

/// Largest body kept.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// The header that says whether the cache answered.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// A handler whose successful GET responses are cached.
#[derive(Clone)]
pub struct Cached<H> {
    handler: H,
    ttl: Duration,
    // Shared, not owned: axum clones the handler for every request.
    tags: std::sync::Arc<[&'static str]>,
    vary: std::sync::Arc<[HeaderName]>,
}

/// Caches `handler`'s responses for `ttl`.
pub fn cached<H>(ttl: Duration, handler: H) -> Cached<H> {
    Cached {
        handler,
        ttl,
        tags: std::sync::Arc::new([]),
        vary: std::sync::Arc::new([]),
    }
}

impl<H> Cached<H> {
    /// Drops the cached responses when `tag` is invalidated (a table's
    /// name: writes to it invalidate it).
    pub fn tag(mut self, tag: &'static str) -> Self {
        self.tags = self.tags.iter().copied().chain([tag]).collect();
        self
    }

    /// Keeps one response per value of this request header.
    pub fn vary(mut self, header: &'static str) -> Self {
        self.vary = self
            .vary
            .iter()
            .cloned()
            .chain([HeaderName::from_static(header)])
            .collect();
        self
    }
}

/// A kept response. Bytes are stored as MessagePack binary (`serde_bytes`),
/// not as arrays of integers (which cost up to twice the size).
#[derive(Serialize, Deserialize)]
struct Stored {
    status: u16,
    headers: Vec<(String, serde_bytes::ByteBuf)>,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

/// A kept response read in place: the headers and body point into the
/// stored bytes, and the response shares them (no copy of the page).
#[derive(Deserialize)]
struct StoredView<'a> {
    status: u16,
    #[serde(borrow)]
    headers: Vec<(&'a str, &'a [u8])>,
    body: &'a [u8],
}

fn directive(headers: &http::HeaderMap, words: &[&str]) -> bool {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .map(|d| d.trim().to_ascii_lowercase())
                .any(|d| words.iter().any(|w| d == *w))
        })
}

/// Method, host (one app may serve several sites), path, query, and the
/// `vary` headers' values.
fn key(req: &Request, vary: &[HeaderName]) -> String {
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.headers().get(HOST).and_then(|h| h.to_str().ok()))
        .unwrap_or("");
    // Pushed, not `format!`ed: this runs on every hit.
    let path = req.uri().path();
    let mut key = String::with_capacity(16 + host.len() + path.len());
    key.push_str("resp:");
    key.push_str(req.method().as_str());
    key.push(':');
    key.extend(host.chars().map(|c| c.to_ascii_lowercase()));
    key.push_str(path);
    if let Some(q) = req.uri().query() {
        key.push('?');
        key.push_str(q);
    }
    for name in vary {
        key.push('|');
        key.push_str(
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        );
    }
    key
}

/// Why a response may not be shared, if it may not: logged at DEBUG
/// (target `phial::cache`) so a page that is never cached says why.
fn not_storable(res: &Response, session: Option<&Session>) -> Option<&'static str> {
    if res.status() != StatusCode::OK {
        Some("the status is not 200")
    } else if res.headers().contains_key(SET_COOKIE) {
        Some("it sets a cookie")
    } else if directive(res.headers(), &["no-store", "private"]) {
        Some("its Cache-Control says no-store or private")
    } else if res
        .headers()
        .get_all(VARY)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"cookie"))
    {
        Some("it varies by cookie")
    } else if session.is_some_and(Session::accessed) {
        Some(
            "the handler read the session (flash messages, csrf_token() or the user in the \
             page make it personal): render those parts outside the cached page",
        )
    } else {
        None
    }
}

/// The response kept in `raw` (a cache entry), sharing its bytes, with the
/// entry's tags for the cache to check; `None` when the bytes are not one
/// (written by something else under the same key).
fn rebuild(raw: &bytes::Bytes) -> Option<(Vec<(&str, u64)>, Response)> {
    let stored: StoredRef<'_, StoredView<'_>> = rmp_serde::from_slice(raw).ok()?;
    let view = stored.value;
    let mut res = Response::new(Body::from(raw.slice_ref(view.body)));
    *res.status_mut() = StatusCode::from_u16(view.status).unwrap_or(StatusCode::OK);
    for (name, value) in view.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_maybe_shared(raw.slice_ref(value)),
        ) {
            res.headers_mut().append(n, v);
        }
    }
    res.headers_mut()
        .insert(X_CACHE, HeaderValue::from_static("HIT"));
    Some((stored.tags, res))
}

/// Names the response cache among a route's extractors, so a `cached`
/// route in an app without `Caching` fails to build (it would silently
/// never cache).
#[doc(hidden)]
#[derive(Debug)]
pub struct ResponseCache;

phial_core::sentinel!(
    ResponseCache,
    requires Cache,
    "the `Caching` extension for `cached(...)`: `.register(phial::cache::Caching::new())`"
);

impl<H, T> Handler<(ResponseCache, T), AppState> for Cached<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, req: Request, state: AppState) -> Self::Future {
        Box::pin(async move {
            let cache = state.get::<Cache>().cloned();
            let usable = (req.method() == Method::GET || req.method() == Method::HEAD)
                && !directive(req.headers(), &["no-cache", "no-store"]);
            let Some(cache) = cache.filter(|_| usable) else {
                return self.handler.call(req, state).await;
            };
            let key = key(&req, &self.vary);
            if let Some(res) = cache.get_view(&key, rebuild).await {
                return res;
            }
            // The tags' versions before the page is rendered: a write to
            // its rows while it renders leaves it stale (stored, but never
            // served), where versions read after it would stamp the page
            // rendered from the old rows as current.
            let versions = cache.versions_for_write(&self.tags).await;
            let session = Session::from_extensions(req.extensions());
            let req_path = req.uri().path().to_owned();
            let res = self.handler.call(req, state).await;
            let path = req_path;
            let skip = not_storable(&res, session.as_ref());
            if let Some(why) = skip {
                tracing::debug!(target: "phial::cache", %path, "response not cached: {why}");
            }
            let keep = skip.is_none();
            let (mut parts, body) = res.into_parts();
            parts
                .headers
                .insert(X_CACHE, HeaderValue::from_static("MISS"));
            // Only bodies of known, modest size: a stream passes through.
            let small = http_body::Body::size_hint(&body)
                .upper()
                .is_some_and(|n| n <= MAX_BODY as u64);
            if keep && !small {
                tracing::debug!(target: "phial::cache", %path, "response not cached: its body is streamed or larger than {MAX_BODY} bytes");
            }
            if !keep || !small {
                return Response::from_parts(parts, body);
            }
            let bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    return HttpError::internal(format!("the response body failed: {e}"))
                        .into_response();
                }
            };
            let headers = parts
                .headers
                .iter()
                .filter(|(n, _)| **n != X_CACHE && **n != CONTENT_LENGTH)
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        serde_bytes::ByteBuf::from(v.as_bytes()),
                    )
                })
                .collect();
            let stored = Stored {
                status: parts.status.as_u16(),
                headers,
                body: bytes.to_vec(),
            };
            cache
                .set_tagged_as_of(&key, &stored, Some(self.ttl), &self.tags, versions)
                .await;
            Response::from_parts(parts, Body::from(bytes))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_bodies_are_msgpack_binary_not_integer_arrays() {
        let stored = Stored {
            status: 200,
            headers: vec![(
                "content-type".into(),
                serde_bytes::ByteBuf::from(&b"text/html"[..]),
            )],
            body: vec![200u8; 1000],
        };
        let encoded = rmp_serde::to_vec(&stored).unwrap();
        // As integers each byte >= 128 would take two bytes.
        assert!(encoded.len() < 1050, "{} bytes", encoded.len());
        let back: Stored = rmp_serde::from_slice(&encoded).unwrap();
        assert_eq!(back.body, stored.body);
    }

    #[tokio::test]
    async fn a_kept_response_is_served_from_the_entry_without_copying_it() {
        let stored = Stored {
            status: 200,
            headers: vec![(
                "content-type".into(),
                serde_bytes::ByteBuf::from(&b"text/html; charset=utf-8"[..]),
            )],
            body: b"<p>kept</p>".to_vec(),
        };
        // As the cache writes it: with its tags' versions around it.
        let raw = crate::cache::Stored::new(&stored, &["post"], vec![7])
            .encode("k")
            .unwrap();
        let (tags, res) = rebuild(&raw).expect("a kept response");
        assert_eq!(tags, [("post", 7)], "its tags, for the cache to check");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(res.headers()[X_CACHE], "HIT");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"<p>kept</p>");
        let inside = raw.as_ptr_range();
        assert!(
            inside.contains(&body.as_ptr()),
            "the body points into the entry"
        );
        // Bytes that are not a kept response are a miss, not a panic.
        assert!(rebuild(&bytes::Bytes::from_static(b"\x93\x01\x02\x03")).is_none());
    }
}
