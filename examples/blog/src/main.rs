//! Run with: `cargo run -p blog` (then open http://127.0.0.1:5000), or
//! `cargo run -p blog -- db status` for the migration commands.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    phial::cli::main(blog::create_app).await
}
