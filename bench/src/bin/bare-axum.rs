//! Run with: `cargo run --release -p phial-bench --bin bare-axum -- 127.0.0.1:5001`
//!
//! Bare axum with hello's `/plaintext` and `/json` handlers: the baseline
//! for `scripts/bench-hello.sh`.

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
    let app = Router::new()
        .route("/plaintext", get(plaintext))
        .route("/json", get(json));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
