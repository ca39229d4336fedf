//! Baselines for Phial's benchmarks. `bare-axum` serves the same
//! `/plaintext` and `/json` handlers as `examples/hello` with nothing else,
//! so `scripts/bench-hello.sh` can print Phial's cost as a ratio.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use http::{HeaderName, HeaderValue, Request};
use tower::ServiceExt;
use tower_http::set_header::SetResponseHeaderLayer;

/// `router` sending what Phial's defaults add to every response: the
/// security headers (copied from hello's production app, so they stay the
/// same) and a request id, with tower-http as a hand-written axum app
/// would. Measures what the headers cost apart from Phial's machinery.
pub async fn with_phial_headers(mut router: Router) -> Router {
    for (name, value) in phial_security_headers().await {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    router.layer(SetResponseHeaderLayer::overriding(
        HeaderName::from_static("x-request-id"),
        |_: &axum::response::Response| {
            Some(HeaderValue::from(COUNTER.fetch_add(1, Ordering::Relaxed)))
        },
    ))
}

/// The headers hello's production app adds to `/plaintext` beyond the
/// body's own and the request id.
async fn phial_security_headers() -> Vec<(HeaderName, HeaderValue)> {
    let config =
        phial::Config::for_profile(phial::Profile::Production).set("secret_key", "b".repeat(48));
    let app = hello::create_app(config).await.expect("hello builds");
    let req = Request::get("/plaintext").body(Body::empty()).unwrap();
    let res = app.service().oneshot(req).await.unwrap();
    res.headers()
        .iter()
        .filter(|(n, _)| {
            !matches!(
                n.as_str(),
                "content-type" | "content-length" | "x-request-id"
            )
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the checker reports on standard output"
)]
pub mod chaos;
