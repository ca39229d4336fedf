//! # phial-auth
//!
//! Flask-Login's job, for Phial: users who sign in, in one or more realms
//! (the app's users; the admin's staff is one too), each a user type over
//! an entity (`Auth::<author::Entity>::new()`) or a loader of your own
//! (`Auth::with_loader`). Handlers take [`CurrentUser<U>`] (or
//! `Option<CurrentUser<U>>`); routes, blueprints and routers take
//! [`login_required`] and [`fresh_login_required`]; templates see
//! `current_user`; [`Accounts<U>`] checks passwords and signs people in and
//! out.
//!
//! What it promises:
//! - **Sign-ins end.** Each is a record in the app's session store (the
//!   cache's Redis, the database, or memory on one node: `session.store`)
//!   named by the signed cookie. Signing out deletes it, "sign out
//!   everywhere" replaces the user's epoch, a new password changes the
//!   fingerprint and deactivation is seen on load: each takes effect at the
//!   next request on every node (the store is read on each signed-in
//!   request, never a node's in-process cache), and the user's sockets are
//!   disconnected on every node (through the socket extension's adapter).
//! - **No fixation.** Signing in makes a new random record id and a new
//!   CSRF secret: a cookie from before signs in nobody.
//! - **It fails safe.** When the store cannot be read, a request that
//!   carries a sign-in is a 503 (never served as anonymous); anonymous
//!   requests are served; `/readyz` says why.
//! - **Checking a password cannot be turned into a weapon.** Attempts are
//!   counted before hashing, per name and address and per address, with
//!   growing delays (429 + `Retry-After`) shared by every node on a shared
//!   cache; hashing runs in a few turns per process; names and passwords
//!   are length-capped; unknown names cost what known ones do.
//!
//! ```no_run
//! use phial_auth::{Accounts, Auth, CurrentUser, Remember};
//! use phial_core::{App, Config, Form, HttpError, Session, routing::{get, post}};
//! # mod author {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "author")]
//! #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub name: String, pub email: String, pub password_hash: String }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
//! #[derive(serde::Deserialize)]
//! struct Login { email: String, password: String }
//!
//! async fn login(accounts: Accounts<author::Model>, session: Session, Form(f): Form<Login>) -> Result<&'static str, HttpError> {
//!     let author = accounts.verify_password(&f.email, &f.password).await?;
//!     accounts.login(&session, &author, Remember::No).await?;
//!     Ok("welcome")
//! }
//!
//! async fn me(CurrentUser(author): CurrentUser<author::Model>) -> String {
//!     author.name
//! }
//!
//! # async fn doc(config: Config) -> phial_core::Result<App> {
//! Ok(App::builder(config)
//!     .register(phial_orm::Orm::new())
//!     .register(phial_migrate::Migrate::new())
//!     .register(Auth::<author::Entity>::new().username(author::Column::Email))
//!     .route("/login", post(login))
//!     .route("/me", get(me))
//!     .build()
//!     .await?)
//! # }
//! ```

mod accounts;
mod cli;
mod config;
mod current;
mod db_store;
mod entity;
mod error;
mod extension;
mod migration;
mod realm;
mod record;
mod required;
mod resolve;
mod signin;

pub use accounts::Accounts;
pub use config::AuthConfig;
pub use config::SECTION;
pub use current::CurrentUser;
pub use db_store::DbSessionStore;
pub use error::AuthError;
pub use extension::{Auth, AuthShared};
pub use realm::AuthUser;
pub use required::{LoginRequired, LoginRequiredService, fresh_login_required, login_required};
pub use signin::Remember;

/// What handlers and app factories use: `use phial::auth::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Accounts, Auth, AuthUser, CurrentUser, Remember, fresh_login_required, login_required,
    };
}
