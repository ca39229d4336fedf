//! Testing an app: [`TestClient`] drives the app's router in-process with a
//! cookie jar (always here: `app.test_client()`); with the `testing`
//! feature, helpers for tests that need a real service (PostgreSQL,
//! MariaDB, Redis: a loud `SKIPPED` line, or a failure under
//! `PHIAL_REQUIRE_SERVICES=1`) and [`TcpProxy`] to cut a connection from
//! outside.
//!
//! ```
//! # use phial_core::{App, Config, routing::get};
//! use phial_core::testing::TestClient;
//! # async fn doc() {
//! # let app = App::builder(Config::testing()).route("/", get(|| async { "hi" })).build().await.unwrap();
//! let client: TestClient = app.test_client();
//! assert_eq!(client.get("/").send().await.status(), 200);
//! # }
//! ```

pub(crate) mod client;
#[cfg(feature = "testing")]
mod services;

pub use client::{TestClient, TestRequest, TestResponse};
#[cfg(feature = "testing")]
pub use services::*;
