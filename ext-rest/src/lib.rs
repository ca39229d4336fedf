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
mod error;
mod etag;
mod extension;
mod guard;
mod handlers;
mod list_handler;
mod openapi;
mod problem;
mod resource;
mod respond;
mod row_key;

pub use config::{RestConfig, SECTION};
pub use error::RestError;
pub use extension::Rest;
pub use guard::Guard;
pub use problem::{PROBLEM_JSON, Problem, ProblemField};
pub use resource::{Operation, Resource, RestEntity};
pub use utoipa;

/// What apps use: `use phial::rest::prelude::*;`.
pub mod prelude {
    pub use crate::{Guard, Operation, Problem, Resource, Rest};
    pub use phial_orm::policy::{Action, Caller, Policy, Rule};
}
