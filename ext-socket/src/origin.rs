//! The Origin check socketioxide lacks. A browser sends `Origin` with every
//! cross-site request and with every WebSocket handshake, and a WebSocket is
//! not covered by CORS: without a check, any page a signed-in user visits
//! could open a socket with the user's cookie (cross-site WebSocket
//! hijacking). Pages of the app's own origin may connect, and those listed
//! in `socket.allowed_origins`; clients that send no `Origin` (servers,
//! test clients) are not browsers and are let through.
//!
//! While the app drains (shutting down), new connections are refused with
//! 503 so that clients reconnect to another node.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, FutureExt};
use http::{HeaderValue, Method, StatusCode, header};

/// `scheme://host[:port]` split, lower-cased; `None` when it is not an
/// origin.
pub(crate) fn parse_origin(origin: &str) -> Option<(String, String)> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https") || rest.is_empty() || rest.contains('/') {
        return None;
    }
    Some((scheme, rest.to_ascii_lowercase()))
}

/// Which origins may connect.
#[derive(Clone, Debug)]
pub(crate) struct Origins {
    any: bool,
    listed: Vec<String>,
    /// The app is served over HTTPS (its session cookie is `Secure`): a page
    /// on `http://` with the same host is not its origin.
    https: bool,
}

impl Origins {
    pub(crate) fn new(allowed: &[String], https: bool) -> Origins {
        Origins {
            https,
            any: allowed.iter().any(|o| o == "*"),
            listed: allowed
                .iter()
                .filter(|o| *o != "*")
                .filter_map(|o| parse_origin(o).map(|(s, h)| format!("{s}://{h}")))
                .collect(),
        }
    }

    /// Whether a request with this `Origin` and `Host` may go on; `Err`
    /// carries the reason for the refusal.
    fn check(&self, origin: &str, host: Option<&str>) -> Result<Cross, String> {
        let Some((scheme, authority)) = parse_origin(origin) else {
            return Err(format!("`Origin: {origin}` is not an origin"));
        };
        let same_scheme = !self.https || scheme == "https";
        if same_scheme && host.is_some_and(|h| h.eq_ignore_ascii_case(&authority)) {
            return Ok(Cross::No);
        }
        if self.any || self.listed.contains(&format!("{scheme}://{authority}")) {
            return Ok(Cross::Yes);
        }
        Err(format!(
            "pages on {origin} may not connect: add it to `socket.allowed_origins` (env \
             PHIAL_SOCKET__ALLOWED_ORIGINS) if they should"
        ))
    }
}

/// Whether an allowed request came from another origin (it then needs CORS
/// headers on its answer).
#[derive(PartialEq)]
enum Cross {
    No,
    Yes,
}

/// Guards the Socket.IO service (mounted at its path alone).
#[derive(Clone)]
pub(crate) struct OriginLayer {
    pub(crate) origins: Arc<Origins>,
}

impl<S> tower::Layer<S> for OriginLayer {
    type Service = OriginService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OriginService {
            inner,
            origins: self.origins.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct OriginService<S> {
    inner: S,
    origins: Arc<Origins>,
}

impl<S> tower::Service<Request> for OriginService<S>
where
    S: tower::Service<Request, Error = Infallible> + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.uri().path() == CLIENT_JS_PATH {
            return std::future::ready(Ok(client_js(&req))).boxed();
        }
        if phial_core::AppState::of_request(req.extensions()).is_some_and(|app| app.draining()) {
            // This node is shutting down and has closed its sockets: a
            // client reconnects elsewhere (a proxy retries a 503 on
            // another node; nginx.conf's `proxy_next_upstream`).
            let mut res = (
                StatusCode::SERVICE_UNAVAILABLE,
                "this node is shutting down: reconnect (another node will answer)",
            )
                .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return std::future::ready(Ok(res)).boxed();
        }
        let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
            let fut = self.inner.call(req);
            return async move { Ok(fut.await?.into_response()) }.boxed();
        };
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        let verdict = origin
            .to_str()
            .map_err(|_| "the Origin header is not text".to_owned())
            .and_then(|o| self.origins.check(o, host));
        match verdict {
            Err(reason) => {
                tracing::info!(origin = ?origin, "Socket.IO connection refused: {reason}");
                std::future::ready(Ok((StatusCode::FORBIDDEN, reason).into_response())).boxed()
            }
            Ok(Cross::Yes) if req.method() == Method::OPTIONS => {
                let mut res = Response::new(Body::empty());
                *res.status_mut() = StatusCode::NO_CONTENT;
                let h = res.headers_mut();
                cors(h, origin);
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, POST"),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("content-type"),
                );
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("600"),
                );
                std::future::ready(Ok(res)).boxed()
            }
            Ok(cross) => {
                let fut = self.inner.call(req);
                async move {
                    let mut res = fut.await?.into_response();
                    if cross == Cross::Yes {
                        cors(res.headers_mut(), origin);
                    }
                    Ok(res)
                }
                .boxed()
            }
        }
    }
}

/// Where the official browser client is served, under `socket.path`
/// (`/socket.io/socket.io.min.js`, as a Node Socket.IO server does).
pub(crate) const CLIENT_JS_PATH: &str = "/socket.io.min.js";

/// socket.io-client 4.8.1's browser bundle (MIT; its licence is beside it
/// in `assets/`), compiled in: pages need no CDN.
static CLIENT_JS: &[u8] = include_bytes!("../assets/socket.io.min.js");

/// The browser client, cacheable for a day; revalidated by its version.
fn client_js(req: &Request) -> Response {
    const ETAG: &str = "\"socket.io-client-4.8.1\"";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "GET the client").into_response();
    }
    let fresh = phial_core::conditional::none_match(
        req.headers().get(header::IF_NONE_MATCH),
        &HeaderValue::from_static(ETAG),
    );
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(CLIENT_JS))
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(header::ETAG, HeaderValue::from_static(ETAG));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    res
}

/// What a browser needs to hand a cross-origin answer (with cookies) to
/// the page.
fn cors(h: &mut http::HeaderMap, origin: HeaderValue) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.append(header::VARY, HeaderValue::from_static("origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_listed_and_refused() {
        let o = Origins::new(&["https://app.example.com".into()], false);
        assert!(matches!(
            o.check("http://localhost:5000", Some("localhost:5000")),
            Ok(Cross::No)
        ));
        assert!(matches!(
            o.check("https://APP.example.com", Some("api:1")),
            Ok(Cross::Yes)
        ));
        let err = o
            .check("https://evil.example", Some("localhost:5000"))
            .err()
            .unwrap();
        assert!(err.contains("socket.allowed_origins"), "{err}");
        assert!(o.check("null", Some("localhost")).is_err());
        assert!(
            Origins::new(&["*".into()], false)
                .check("https://x.y", None)
                .is_ok()
        );
        // Served over HTTPS: the plain-HTTP page on the same host is another origin.
        let secure = Origins::new(&[], true);
        assert!(
            secure
                .check("http://app.example.com", Some("app.example.com"))
                .is_err()
        );
        assert!(
            secure
                .check("https://app.example.com", Some("app.example.com"))
                .is_ok()
        );
    }
}
