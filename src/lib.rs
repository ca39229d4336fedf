//! # Phial
//!
//! Flask's idea rebuilt in Rust on axum: a small core — routing, config,
//! templates, sessions, security, CLI — and extensions that plug in through
//! one [`Extension`] trait, bound inside an app factory.
//!
//! ```
//! use phial::prelude::*;
//!
//! async fn create_app(config: Config) -> phial::Result<App> {
//!     Ok(App::builder(config)
//!         .route("/", get(|| async { "Hello, World!" }).name("index"))
//!         .build()
//!         .await?)
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let app = create_app(Config::testing()).await.unwrap();
//! # assert_eq!(app.test_client().get("/").send().await.text(), "Hello, World!");
//! # }
//! ```
//!
//! Extensions are modules behind cargo features of the same name (`orm`
//! today; `migrate`, `cache`, ... as they land); `full` turns all of them on.

pub use phial_core::*;

/// Databases: sea-orm pools from `[database]`, the `Db` extractor.
#[cfg(feature = "orm")]
pub use phial_orm as orm;

/// Migrations: sea-orm-migration run by the app, the `db` CLI.
#[cfg(feature = "migrate")]
pub use phial_migrate as migrate;

/// The cache: typed values, stampede protection, tags that follow writes.
#[cfg(feature = "cache")]
pub use phial_cache as cache;

// The README's examples are compiled as doctests, so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// What most apps import: `use phial::prelude::*;`.
pub mod prelude {
    pub use phial_core::axum::extract::{Path, Query, State};
    pub use phial_core::axum::response::{Html, IntoResponse, Redirect, Response};
    pub use phial_core::csrf::CsrfToken;
    pub use phial_core::minijinja::context;
    pub use phial_core::routing::{any, delete, get, patch, post, put};
    pub use phial_core::{
        App, AppBuilder, AppState, Blueprint, BoxError, Config, Dep, Extension, Flash, Form,
        HttpError, Json, Profile, RequestId, Session, Templates, Valid,
    };
}
