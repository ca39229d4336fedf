//! # phial-rest
//!
//! REST resources generated at runtime from sea-orm entities: register
//! [`Rest`] with a [`Resource`] per entity and each one serves, under
//! `rest.prefix` (default `/api`), list (pages or cursor, sort, filters,
//! search, total and links), get, create, replace, partial update, delete
//! and bulk create — each can be switched off. Input is checked against
//! the columns (required, types, lengths, enum values: a 422 listing every
//! bad field); unknown fields are refused and read-only or hidden ones
//! never written; unique violations are 409s, references to missing rows
//! 422s; every error is `application/problem+json` (RFC 9457). `get` and
//! `list` answer with strong ETags (`If-None-Match` gives a 304) and
//! writes honour `If-Match` (a 412 when the row changed). Writes go
//! through [`Db`](phial_orm::Db), so they publish to the change feed
//! (the cache drops what it holds for the table). Who may do what is the
//! model's [`Policy`](phial_orm::policy::Policy); who is calling, a
//! [`Guard`].
//!
//! ```
//! use phial_core::{App, Config};
//! use phial_orm::Orm;
//! use phial_rest::{Guard, Resource, Rest};
//! # mod post {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "post")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i32,
//! #         pub title: String,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = App::builder(Config::testing().set("database.url", "sqlite::memory:"))
//!     .register(Orm::new())
//!     .register(
//!         Rest::new()
//!             .guard(Guard::bearer_from_config("api_token"))
//!             .resource(Resource::<post::Entity>::new().path("posts").filterable(["title"])),
//!     )
//!     .build()
//!     .await
//!     .unwrap();
//! // Writes need the token (`api_token`, or PHIAL_API_TOKEN in the environment).
//! let res = app.test_client().post("/api/posts").json(&serde_json::json!({"title": "Hi"})).send().await;
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.header("content-type"), Some("application/problem+json"));
//! # }
//! ```

mod access;
mod body;
mod cached;
mod config;
mod docs;
mod etag;
mod guard;
mod handlers;
mod list_handler;
mod openapi;
mod problem;
mod resource;
mod respond;
mod row_key;

use std::sync::Mutex;

use phial_core::{AppBuilder, BoxError, Extension};
use phial_orm::Orm;

pub use config::RestConfig;
pub use guard::Guard;
pub use problem::{PROBLEM_JSON, Problem, ProblemField};
pub use resource::{Operation, Resource, RestEntity};
pub use utoipa;

/// The config section this extension reads.
pub const SECTION: &str = "rest";

/// What apps use: `use phial::rest::prelude::*;`.
pub mod prelude {
    pub use crate::{Guard, Operation, Problem, Resource, Rest};
    pub use phial_orm::policy::{Action, Caller, Policy, Rule};
}

/// The REST extension (see the crate docs).
#[derive(Default)]
pub struct Rest {
    resources: Mutex<Vec<Box<dyn resource::Mount>>>,
    guard: Option<Guard>,
    documents: Vec<serde_json::Value>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables: Vec<String> = self
            .resources
            .lock()
            .map(|r| r.iter().map(|m| m.table().to_owned()).collect())
            .unwrap_or_default();
        f.debug_struct("Rest")
            .field("resources", &tables)
            .field("guard", &self.guard)
            .finish()
    }
}

impl Rest {
    /// No resources yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves an entity.
    pub fn resource<E: RestEntity>(self, resource: Resource<E>) -> Self {
        self.resources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(resource));
        self
    }

    /// Adds the app's own endpoints to the API's document: handlers
    /// annotated with `#[utoipa::path]`, gathered by `#[derive(OpenApi)]`.
    ///
    /// ```
    /// use phial_rest::Rest;
    /// use phial_rest::utoipa::{self, OpenApi};
    ///
    /// /// How many posts there are.
    /// #[utoipa::path(get, path = "/api/stats", responses((status = 200, description = "counts", body = u64)))]
    /// async fn stats() -> String { "0".into() }
    ///
    /// #[derive(OpenApi)]
    /// #[openapi(paths(stats))]
    /// struct ApiDoc;
    ///
    /// let rest = Rest::new().document(ApiDoc::openapi());
    /// # let _ = rest;
    /// ```
    pub fn document(mut self, doc: utoipa::openapi::OpenApi) -> Self {
        match serde_json::to_value(&doc) {
            Ok(v) => self.documents.push(v),
            Err(e) => tracing::error!("an OpenAPI document could not be read: {e}"),
        }
        self
    }

    /// How callers are recognised on every resource that does not set its
    /// own guards: writes need it to pass; reads let anyone else through as
    /// anonymous (the policy decides what they see).
    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }
}

impl Extension for Rest {
    fn name(&self) -> &str {
        "rest"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        app.require::<Orm>();
        let cfg: RestConfig = app.section(SECTION)?;
        if !cfg.prefix.starts_with('/') {
            return Err(format!(
                "config key `rest.prefix` must start with `/` (it is `{}`)",
                cfg.prefix
            )
            .into());
        }
        // Writes drop the cached reads of the rows they touched.
        #[cfg(feature = "cache")]
        app.on_change("rest", cached::on_change);
        let resources =
            std::mem::take(&mut *self.resources.lock().unwrap_or_else(|p| p.into_inner()));
        let mut problems = Vec::new();
        let mut docs = Vec::new();
        for resource in resources {
            match resource.mount(app, &cfg, self.guard.as_ref()) {
                Ok(doc) => docs.push(doc),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("; ").into());
        }
        if cfg.docs {
            let title = cfg
                .title
                .clone()
                .unwrap_or_else(|| format!("{} API", app.core_config().app_name()));
            let document = openapi::document(&title, &cfg.version, &docs, &self.documents);
            let bytes = serde_json::to_vec(&document)?;
            docs::mount(app, &cfg.prefix, bytes.into());
        }
        Ok(())
    }
}
