//! Run with: `cargo run --release -p phial-bench --bin bare-axum -- 127.0.0.1:5001`
//!
//! Bare axum with hello's `/plaintext` and `/json` handlers: the baseline
//! for `scripts/bench-hello.sh`.
//!
//! With `--same-headers` it also sends what Phial's defaults add to every
//! response (the security headers, copied from hello's production app,
//! and a request id), with tower-http as a hand-written axum app would:
//! the cost of the bytes on the wire, apart from Phial's machinery.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5001".into());
    let mut app = Router::new()
        .route("/plaintext", get(plaintext))
        .route("/json", get(json));
    if std::env::args().any(|a| a == "--same-headers") {
        app = phial_bench::with_phial_headers(app).await;
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
