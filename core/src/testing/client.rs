//! A client that drives the app's router in-process, with a cookie jar, so
//! session and CSRF flows are tested without a socket.
//!
//! ```
//! # use phial_core::{App, Config, routing::get};
//! # async fn doc() {
//! # let app = App::builder(Config::testing()).route("/", get(|| async { "hi" })).build().await.unwrap();
//! let client = app.test_client();
//! let res = client.get("/").header("accept", "text/html").send().await;
//! assert_eq!(res.status(), 200);
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use bytes::Bytes;
use cookie::Cookie;
use http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use crate::AppService;

/// Drives a router in-process and keeps cookies between requests.
#[derive(Clone)]
pub struct TestClient {
    router: AppService,
    jar: Arc<Mutex<BTreeMap<String, String>>>,
}

impl TestClient {
    pub(crate) fn new(router: AppService) -> Self {
        TestClient {
            router,
            jar: Arc::default(),
        }
    }

    /// A request with any method.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest {
        TestRequest {
            client: self.clone(),
            method,
            uri: uri.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            cookies: true,
            peer: None,
        }
    }

    /// A GET request.
    pub fn get(&self, uri: &str) -> TestRequest {
        self.request(Method::GET, uri)
    }

    /// A POST request.
    pub fn post(&self, uri: &str) -> TestRequest {
        self.request(Method::POST, uri)
    }

    /// A PUT request.
    pub fn put(&self, uri: &str) -> TestRequest {
        self.request(Method::PUT, uri)
    }

    /// A PATCH request.
    pub fn patch(&self, uri: &str) -> TestRequest {
        self.request(Method::PATCH, uri)
    }

    /// A DELETE request.
    pub fn delete(&self, uri: &str) -> TestRequest {
        self.request(Method::DELETE, uri)
    }

    /// A cookie's current value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Sets a cookie (to send tampered or stale ones, say).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), value.to_owned());
    }

    /// Forgets every cookie.
    pub fn clear_cookies(&self) {
        self.jar.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Fills in the form of the page at `page` the way a browser would:
    /// loads the page, takes its CSRF token and its first POST form's
    /// `action` (the page itself when the form names none), and posts
    /// `fields` with the token (Flask's `client.post(..., data=...)` after
    /// reading the form).
    ///
    /// ```
    /// # async fn doc(app: phial_core::App) {
    /// let res = app
    ///     .test_client()
    ///     .submit_form("/login", &[("username", "ada"), ("password", "secret")])
    ///     .await;
    /// assert_eq!(res.status(), 303);
    /// # }
    /// ```
    pub async fn submit_form(&self, page: &str, fields: &[(&str, &str)]) -> TestResponse {
        let form = self.get(page).send().await;
        assert!(
            form.status().is_success(),
            "{page} answered {} instead of a form: {}",
            form.status(),
            form.text()
        );
        let token = form.csrf_token();
        let action = form.form_action().unwrap_or_else(|| page.to_owned());
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(fields.len() + 1);
        if let Some(token) = &token {
            all.push(("csrf_token", token.as_str()));
        }
        all.extend_from_slice(fields);
        self.post(&action).form(&all).send().await
    }

    fn store(&self, headers: &HeaderMap) {
        let mut jar = self.jar.lock().unwrap_or_else(|p| p.into_inner());
        for value in headers.get_all(SET_COOKIE) {
            let Some(c) = value
                .to_str()
                .ok()
                .and_then(|v| Cookie::parse_encoded(v.to_owned()).ok())
            else {
                continue;
            };
            let expired = c.max_age().is_some_and(|a| a.is_zero() || a.is_negative());
            if expired || c.value().is_empty() {
                jar.remove(c.name());
            } else {
                jar.insert(c.name().to_owned(), c.value().to_owned());
            }
        }
    }
}

/// A request being built.
pub struct TestRequest {
    client: TestClient,
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
    cookies: bool,
    peer: Option<std::net::SocketAddr>,
}

impl TestRequest {
    /// Sends the request as if from a TCP peer at `addr` (as the server
    /// gives handlers `ConnectInfo`): what [`ClientAddr`](crate::ClientAddr),
    /// sign-in throttling and rate limits see. Without it a request comes
    /// from `127.0.0.1`.
    ///
    /// ```
    /// # async fn doc(client: phial_core::testing::TestClient) {
    /// let res = client.get("/").from_addr("203.0.113.9").send().await;
    /// # }
    /// ```
    pub fn from_addr(mut self, addr: &str) -> Self {
        let ip: std::net::IpAddr = addr.parse().expect("an IP address");
        self.peer = Some(std::net::SocketAddr::new(ip, 40000));
        self
    }

    /// Adds a header. Panics on an invalid name or value (a test bug).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        self.headers.append(
            name,
            HeaderValue::from_str(value).expect("valid header value"),
        );
        self
    }

    /// Sends a URL-encoded form.
    pub fn form<T: Serialize + ?Sized>(mut self, form: &T) -> Self {
        self.body = serde_urlencoded::to_string(form)
            .expect("form serialises")
            .into();
        self.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self
    }

    /// Sends JSON.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.body = serde_json::to_vec(value).expect("JSON serialises").into();
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self
    }

    /// Sends raw bytes (set the content type with [`header`](Self::header)).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Leaves the cookie jar out of this request.
    pub fn without_cookies(mut self) -> Self {
        self.cookies = false;
        self
    }

    /// Sends the request through the router.
    pub async fn send(self) -> TestResponse {
        let mut req = Request::builder()
            .method(self.method)
            .uri(&self.uri)
            .body(Body::from(self.body))
            .expect("valid request");
        *req.headers_mut() = self.headers;
        if let Some(peer) = self.peer {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        if self.cookies {
            let jar = self
                .client
                .jar
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if !jar.is_empty() {
                let line = jar
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                req.headers_mut().insert(
                    COOKIE,
                    HeaderValue::from_str(&line).expect("cookie values are header-safe"),
                );
            }
        }
        let res = self
            .client
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("axum routers never fail");
        let (parts, body) = res.into_parts();
        self.client.store(&parts.headers);
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// A complete response.
#[derive(Debug)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON. Panics with the body when it is not (a test failure).
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not the expected JSON ({e}): {}", self.text()))
    }

    /// Where the first `<form method="post">` of an HTML body posts: its
    /// `action` (entities such as `&#x2f;` decoded), `None` when it has
    /// none (it posts to the page itself).
    pub fn form_action(&self) -> Option<String> {
        let text = self.text();
        let lower = text.to_ascii_lowercase();
        let mut from = 0;
        while let Some(at) = lower[from..].find("<form") {
            let start = from + at;
            let end = start + lower[start..].find('>')?;
            let tag = &text[start..end];
            from = end;
            if !tag.to_ascii_lowercase().contains("method=\"post\"") {
                continue;
            }
            let v = tag.find("action=\"")? + 8;
            let raw = &tag[v..v + tag[v..].find('"')?];
            return Some(
                raw.replace("&#x2f;", "/")
                    .replace("&#x2F;", "/")
                    .replace("&amp;", "&"),
            );
        }
        None
    }

    /// The value of the first `name="csrf_token"` input in an HTML body.
    pub fn csrf_token(&self) -> Option<String> {
        let text = self.text();
        let at = text.find("name=\"csrf_token\"")?;
        let tag_start = text[..at].rfind('<')?;
        let tag_end = at + text[at..].find('>')?;
        let tag = &text[tag_start..tag_end];
        let v = tag.find("value=\"")? + 7;
        Some(tag[v..v + tag[v..].find('"')?].to_owned())
    }
}
