//! # phial-admin
//!
//! The admin's foundation: its users (`phial_admin_user`, scrypt hashes),
//! their table contributed to the app's migrations, and the `admin` CLI
//! (`admin create-user --username NAME [--superuser]`, the password read
//! from standard input). The panel generated from the models builds on
//! these.
//!
//! ```no_run
//! use phial_core::{App, Config};
//! use phial_migrate::Migrate;
//! use phial_orm::Orm;
//! # async fn doc(config: Config) -> phial_core::Result<App> {
//! Ok(App::builder(config)
//!     .register(Orm::new())
//!     .register(Migrate::new())
//!     .register(phial_admin::Admin::new())
//!     .build()
//!     .await?)
//! # }
//! ```

mod cli;
mod migrations;
pub mod user;
mod users;

use phial_core::{AppBuilder, BoxError, Extension};

pub use users::{AdminError, MIN_PASSWORD_LEN, authenticate, create_user, valid_username};

/// The admin extension. Needs `Orm` and `Migrate`.
#[derive(Debug, Default)]
pub struct Admin {
    _private: (),
}

impl Admin {
    /// The extension.
    pub fn new() -> Self {
        Admin::default()
    }
}

impl Extension for Admin {
    fn name(&self) -> &str {
        "admin"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        app.require::<phial_orm::Orm>();
        app.require::<phial_migrate::Migrate>();
        app.contribute(phial_migrate::Contributed::new(migrations::CreateAdminUser));
        app.command(cli::command(), cli::run);
        Ok(())
    }
}
