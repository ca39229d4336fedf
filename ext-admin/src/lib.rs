//! # phial-admin
//!
//! An admin panel generated from the app's sea-orm entities, in the
//! browser: Django admin's daily work (lists with search, filters, sort and
//! pages; forms whose widgets follow the column types; bulk actions; CSV
//! export) on the model metadata and policies REST and Socket.IO share,
//! plus an audit log with field diffs and one-click revert, edit conflicts
//! shown side by side instead of overwritten, and — with the socket
//! extension — lists and rows that update live when data changes on any
//! node.
//!
//! Staff users live in `phial_admin_user` (scrypt hashes; `<app> admin
//! create-user --username NAME [--superuser]` reads the password from
//! standard input) and sign in through `phial::auth`, in the realm `staff`:
//! their sign-ins end on sign-out, a new password, deactivation or "sign
//! out everywhere", on every node, and the sign-in form is throttled like
//! every other. Roles (`<app> admin create-role --name editor --grant
//! "post.view post.change"`) grant Django's four permissions per model; a
//! role's grants are checked together with the model's policy, so they mean
//! the same everywhere the model is reached. The tables ship as migrations
//! contributed to the app's.
//!
//! ```no_run
//! use phial_admin::{Admin, ModelView};
//! use phial_core::{App, Config};
//! use phial_migrate::Migrate;
//! use phial_orm::Orm;
//! # mod post {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "post")]
//! #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub title: String }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! # async fn doc(config: Config) -> phial_core::Result<App> {
//! Ok(App::builder(config)
//!     .register(Orm::new())
//!     .register(Migrate::new())
//!     .register(Admin::new().model(ModelView::<post::Entity>::new().search(["title"])))
//!     .build()
//!     .await?)
//! # }
//! ```

#![allow(
    clippy::result_large_err,
    reason = "a page's refusal is a whole response, built once per request"
)]

mod access;
mod audit_entries;
mod cli;
mod config;
mod custom;
mod entities;
mod error;
mod extension;
mod form;
mod list_query;
mod migrations;
mod model;
mod pages;
mod staff_log;
mod staff_roles;
mod staff_users;
mod view;
mod writes;

pub use access::{Permission, STAFF_REALM, Staff};
pub use config::{AdminConfig, SECTION};
pub use custom::AdminPage;
pub use entities::{log, role, user, user_role};
pub use error::AdminError;
pub use error::MIN_PASSWORD_LEN;
pub use extension::Admin;
pub use staff_roles::{assign_role, create_role};
pub use staff_users::{authenticate, create_user};
pub use view::{AdminEntity, ModelView};

/// What apps import: `use phial::prelude::*;` brings these.
pub mod prelude {
    pub use crate::{Admin, AdminPage, ModelView};
}
