//! A plain HTTP client for tests that talk to `blog` processes over
//! loopback (hyper's, as the browser tests use).

#![allow(dead_code, reason = "each test file uses part of it")]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub(crate) type Http = Client<HttpConnector, Full<Bytes>>;

/// What every request sends as `Host`: nodes behind one name, as behind a
/// proxy, share cached pages.
pub(crate) const HOST: &str = "blog.example";

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The `session` cookie this reply sets, as a `Cookie` header value.
    pub(crate) fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("session="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
    }
}

/// One request; its status, headers and body, or why it failed.
pub(crate) async fn send(
    http: &Http,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Result<Reply, String> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("host", HOST)
        .header("accept", "text/html,application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let payload = match body {
        Some((kind, text)) => {
            req = req.header("content-type", kind);
            Bytes::from(text)
        }
        None => Bytes::new(),
    };
    let res = http
        .request(req.body(Full::new(payload)).unwrap())
        .await
        .map_err(|e| format!("{method} {url}: {e:?}"))?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{method} {url}: the body: {e}"))?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A client with a connection pool (concurrent requests use their own
/// connections).
pub(crate) fn client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A client whose connections come from `local` (another loopback address,
/// `127.0.0.2`: another client, as the server sees it).
pub(crate) fn client_from(local: std::net::IpAddr) -> Http {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(local));
    Client::builder(TokioExecutor::new()).build(connector)
}

/// A form's hidden CSRF token in a page.
pub(crate) fn csrf_token(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    html[at..].split('"').next().map(str::to_owned)
}

/// `n` free loopback ports (bound at once, then released).
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}
