//! # phial-core
//!
//! Phial's core: the [`App`] and its [`AppBuilder`], the [`Extension`]
//! trait, layered [`Config`], templates, sessions, CSRF, security headers,
//! static files, error pages, health checks, the CLI and a test client.
//! Users depend on the facade crate `phial`, which re-exports this one.
//!
//! ```
//! use phial_core::{App, Config, Result, routing::get};
//!
//! async fn create_app(config: Config) -> Result<App> {
//!     Ok(App::builder(config)
//!         .route("/", get(|| async { "Hello, World!" }).name("index"))
//!         .build()
//!         .await?)
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = create_app(Config::testing()).await.unwrap();
//! assert_eq!(app.test_client().get("/").send().await.text(), "Hello, World!");
//! # }
//! ```

mod address_map;
mod app;
mod assemble;
mod assets;
mod blueprint;
mod builder;
pub mod changes;
pub mod cli;
mod client_addr;
pub mod conditional;
pub mod config;
mod context;
pub mod cors;
pub mod csrf;
mod deploy_check;
mod error;
mod error_page;
mod extension;
mod extract;
mod health;
pub mod identity;
mod launch;
mod lifecycle;
mod log_context;
mod middleware;
pub mod password;
mod prometheus;
pub mod rate_limit;
mod request_id;
mod route_table;
pub mod routing;
mod security;
mod sentinel;
mod server;
pub mod session;
pub mod signing;
mod state;
mod static_files;
mod submission;
mod templates;
pub mod testing;
pub mod url_for;

pub use address_map::AddressMap;
pub use app::{App, AppService};
pub use assets::{Assets, EmbeddedFile, Folder};
pub use blueprint::Blueprint;
pub use builder::{AppBuilder, Provided};
pub use client_addr::ClientAddr;
pub use config::{Config, ConfigError, CoreConfig, MetricsConfig, Profile};
pub use deploy_check::{DeployFinding, DeployLevel};
pub use error::{BoxError, BuildError, BuildErrors, Error, HttpError, Result};
pub use error_page::{ErrorContext, ErrorHandler};
pub use extension::Extension;
pub use extract::{Form, HasValidated, Json, Valid, content_type, validation_error};
pub use middleware::{CoreFuture, CoreService};
pub use request_id::RequestId;
pub use sentinel::Sentinel;
pub use server::shutdown_signal;
pub use session::{Flash, Session, SessionError};
pub use state::{AppState, Dep, WeakAppState, missing_state};
pub use submission::{FormErrors, Submission};
pub use templates::{TemplateEngine, Templates};
pub use url_for::Urls;

/// Renamed to [`url_for`] (URL building and [`Urls`] are one module).
#[deprecated(note = "renamed: use phial_core::url_for")]
pub mod url {
    pub use crate::url_for::{UrlError, UrlMap};
}

/// Moved to [`testing`] (`TestClient`, `TestRequest`, `TestResponse`).
#[deprecated(note = "moved: use phial_core::testing::{TestClient, TestRequest, TestResponse}")]
pub mod test_client {
    pub use crate::testing::client::{TestClient, TestRequest, TestResponse};
}

/// Libraries whose types appear in Phial's API.
pub use {axum, clap, http, metrics, minijinja, serde_json, tokio, tower, tower_http, validator};

/// What Phial's macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use axum;
    pub use http;
    pub use inventory;
}
