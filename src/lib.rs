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
//! Extensions are modules behind cargo features of the same name; `full`
//! turns all of them on:
//!
//! | feature | module | what |
//! |---|---|---|
//! | `orm` | [`orm`] | databases through sea-orm, model policies |
//! | `postgres`, `mysql` | | the other database drivers |
//! | `migrate` | [`migrate`] | migrations and the `db` CLI |
//! | `auth` | [`auth`] | sign-in (Flask-Login): realms, `CurrentUser`, sign-ins that end |
//! | `cache` | [`cache`] | the cache, in process |
//! | `cache-redis` | | its Redis, Redis Cluster and tiered backends |
//! | `rest` | [`rest`] | REST resources and OpenAPI |
//! | `socket` | [`socket`] | Socket.IO, one node or many |
//! | `admin` | [`admin`] | the admin panel |
//! | `testing` | [`testing`] | test helpers |
//!
//! The core is always there: routing, config, templates, sessions, CSRF,
//! security headers, [`rate_limit`], [`cors`], the client's address behind
//! trusted proxies ([`ClientAddr`]), the CLI.

pub use phial_core::*;

/// Databases: sea-orm pools from `[database]`, the `Db` extractor.
#[cfg(feature = "orm")]
pub use phial_orm as orm;

/// Migrations: sea-orm-migration run by the app, the `db` CLI.
#[cfg(feature = "migrate")]
pub use phial_migrate as migrate;

/// Sign-in (Flask-Login's job): realms over an entity or a loader,
/// `CurrentUser`, `login_required`, sign-ins that end on every node.
#[cfg(feature = "auth")]
pub use phial_auth as auth;

/// The cache: typed values, stampede protection, tags that follow writes.
#[cfg(feature = "cache")]
pub use phial_cache as cache;

/// REST resources generated from entities: pagination, filters,
/// validation, ETags, the model's policy, problem+json errors.
#[cfg(feature = "rest")]
pub use phial_rest as rest;

/// Socket.IO: namespaces, rooms, acks, emits from HTTP handlers, session
/// auth at connect, many nodes over Redis, an in-process test client.
#[cfg(feature = "socket")]
pub use phial_socket as socket;

/// The admin panel: `Admin::new().model(ModelView::<E>::new())`, staff
/// users and roles, the audit log, the `admin` CLI.
#[cfg(feature = "admin")]
pub use phial_admin as admin;

/// The app's `templates/` and `static/` folders (beside its `Cargo.toml`)
/// for [`AppBuilder::assets`]: read from the source tree in debug builds
/// (edits show at once, templates reload), compiled into the binary in
/// release builds, so the release binary runs alone anywhere; its
/// `instance/` folder (the SQLite file) is then made in the working
/// directory. A missing folder is simply empty.
///
/// ```
/// use phial::prelude::*;
///
/// async fn create_app(config: Config) -> phial::Result<App> {
///     Ok(App::builder(config).assets(phial::assets!()).build().await?)
/// }
/// ```
#[macro_export]
macro_rules! assets {
    () => {{
        #[cfg(debug_assertions)]
        let assets = $crate::Assets::folders(env!("CARGO_MANIFEST_DIR"));
        #[cfg(not(debug_assertions))]
        let assets = {
            #[derive($crate::__private::rust_embed::Embed)]
            #[crate_path = "phial::__private::rust_embed"]
            #[folder = "$CARGO_MANIFEST_DIR/templates/"]
            #[allow_missing = true]
            struct Templates;
            #[derive($crate::__private::rust_embed::Embed)]
            #[crate_path = "phial::__private::rust_embed"]
            #[folder = "$CARGO_MANIFEST_DIR/static/"]
            #[allow_missing = true]
            struct Static;
            $crate::Assets::embedded(
                $crate::__private::embedded_files::<Templates>(),
                $crate::__private::embedded_files::<Static>(),
            )
        };
        assets
    }};
}

/// A folder below the crate (beside its `Cargo.toml`) as a [`Folder`] for
/// blueprints and extensions' templates or static files: read from the
/// source tree in debug builds, compiled into release builds (a missing
/// folder fails the release build).
///
/// ```
/// use phial::prelude::*;
///
/// let pages = Blueprint::new("pages")
///     .url_prefix("/pages")
///     .template_folder(phial::folder!("pages/templates"))
///     .static_folder(phial::folder!("pages/static"));
/// ```
#[macro_export]
macro_rules! folder {
    ($path:literal) => {{
        #[cfg(debug_assertions)]
        let folder = $crate::Folder::Path(::std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/",
            $path
        )));
        #[cfg(not(debug_assertions))]
        let folder = {
            #[derive($crate::__private::rust_embed::Embed)]
            #[crate_path = "phial::__private::rust_embed"]
            #[folder = $path]
            struct Files;
            $crate::Folder::Embedded($crate::__private::embedded_files::<Files>())
        };
        folder
    }};
}

/// What Phial's macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use phial_core::__private::*;
    pub use rust_embed;

    /// Every file of a `rust_embed` folder, with its path.
    pub fn embedded_files<E: rust_embed::RustEmbed>() -> Vec<phial_core::EmbeddedFile> {
        E::iter()
            .filter_map(|name| E::get(&name).map(|file| (name, file.data)))
            .collect()
    }
}

// The README's examples are compiled as doctests, so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

// The "Coming from Flask" guide's examples too: compiled, and run where
// they need no database.
#[doc = include_str!("../docs/from-flask.md")]
#[cfg(all(doctest, feature = "orm", feature = "cache"))]
pub struct FromFlaskDoctests;

/// What most apps import: `use phial::prelude::*;`.
pub mod prelude {
    pub use phial_core::axum::extract::{Path, Query, State};
    pub use phial_core::axum::response::{Html, IntoResponse, Redirect, Response};
    pub use phial_core::context;
    pub use phial_core::csrf::CsrfToken;
    pub use phial_core::http::StatusCode;
    pub use phial_core::rate_limit::limit;
    pub use phial_core::routing::{any, delete, get, patch, post, put};
    pub use phial_core::{
        App, AppBuilder, AppState, Assets, Blueprint, BoxError, ClientAddr, Config, Dep, Extension,
        Flash, Form, FormErrors, HttpError, Json, Profile, RequestId, Session, Submission,
        Templates, Urls, Valid,
    };

    #[cfg(feature = "admin")]
    pub use phial_admin::prelude::*;
    #[cfg(feature = "auth")]
    pub use phial_auth::prelude::*;
    #[cfg(feature = "cache")]
    pub use phial_cache::prelude::*;
    #[cfg(feature = "migrate")]
    pub use phial_migrate::Migrate;
    #[cfg(feature = "orm")]
    pub use phial_orm::prelude::*;
    #[cfg(feature = "rest")]
    pub use phial_rest::prelude::*;
    #[cfg(feature = "socket")]
    pub use phial_socket::prelude::*;
}
