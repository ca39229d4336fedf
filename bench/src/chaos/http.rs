//! The checker's HTTP client: one request, its status, body, the
//! read-your-writes mark and cookies; a failed connection or a timeout
//! is status 0.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A pooled HTTP/1.1 client.
pub(crate) type Http = Client<HttpConnector, Full<Bytes>>;

/// A client with a keep-alive pool, as a browser or an API client has.
pub(crate) fn client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One answer: status (0: the connection failed or timed out), body, the
/// `Phial-Wrote` mark, `Location`, and the cookies set.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) mark: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) cookies: Vec<(String, String)>,
}

impl Answer {
    fn failed() -> Answer {
        Answer {
            status: 0,
            body: String::new(),
            mark: None,
            location: None,
            cookies: Vec::new(),
        }
    }
}

/// What a request carries besides its method and URL.
#[derive(Default)]
pub(crate) struct Body {
    pub(crate) json: Option<Value>,
    pub(crate) form: Option<String>,
}

pub(crate) async fn send(
    http: &Http,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Body,
) -> Answer {
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let body = match body {
        Body { json: Some(v), .. } => {
            req = req.header("content-type", "application/json");
            Full::new(Bytes::from(v.to_string()))
        }
        Body { form: Some(f), .. } => {
            req = req.header("content-type", "application/x-www-form-urlencoded");
            Full::new(Bytes::from(f))
        }
        _ => Full::new(Bytes::new()),
    };
    let Ok(req) = req.body(body) else {
        return Answer::failed();
    };
    let Ok(Ok(res)) = tokio::time::timeout(Duration::from_secs(10), http.request(req)).await else {
        return Answer::failed();
    };
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (mark, location) = (header("phial-wrote"), header("location"));
    let cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| {
            let pair = c.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    let Ok(Ok(body)) =
        tokio::time::timeout(Duration::from_secs(10), res.into_body().collect()).await
    else {
        return Answer::failed();
    };
    Answer {
        status,
        body: String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        mark,
        location,
        cookies,
    }
}

/// A browser's cookies for one site (names and values; the checker
/// needs no paths or expiry).
#[derive(Default)]
pub(crate) struct Jar(Vec<(String, String)>);

impl Jar {
    /// Keeps what an answer set (an empty value removes the cookie).
    pub(crate) fn keep(&mut self, answer: &Answer) {
        for (name, value) in &answer.cookies {
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.0.push((name.clone(), value.clone()));
            }
        }
    }

    /// The `Cookie` header.
    pub(crate) fn header(&self) -> (&'static str, String) {
        let pairs: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
        ("cookie", pairs.join("; "))
    }
}

/// A form body.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the page's hidden `csrf_token` field.
pub(crate) fn csrf_token(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf_token\"")?;
    let tag = &page[page[..at].rfind('<')?..at + page[at..].find('>')?];
    let v = tag.find("value=\"")? + 7;
    Some(tag[v..v + tag[v..].find('"')?].to_owned())
}
