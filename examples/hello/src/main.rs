//! Run with: `cargo run -p hello` (then open http://127.0.0.1:5000), or
//! `cargo run -p hello -- routes` for the other commands.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    phial::cli::main(hello::create_app).await
}
