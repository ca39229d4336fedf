//! Maintenance mode as a Phial extension: a short, complete example of the
//! extension contract (see the README's "Writing an extension").
//!
//! While the flag file (`instance/MAINTENANCE` by default) exists, every
//! page but the probes, the metrics and the paths in `maintenance.allow`
//! answers 503 with `Retry-After` and the configured message. The app's
//! own CLI switches it: `app maintenance on` / `off` / `status`. Nodes that
//! share the file (a common volume) switch together; each notices within
//! `maintenance.poll_ms`.
//!
//! ```
//! # async fn doc() -> phial::Result<()> {
//! use phial::prelude::*;
//! let app = App::builder(Config::testing())
//!     .register(phial_maintenance::Maintenance)
//!     .route("/", get(|| async { "home" }))
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! What it shows: a config section with defaults (`[maintenance]`), typed
//! state for handlers (`Dep<Switch>`), a tower layer over every route, a
//! background task started once the app serves and stopped at shutdown, a
//! CLI command, a figure on `/metrics` and a `check --deploy` finding.

mod config;
mod error;
mod extension;

pub use config::{MaintenanceConfig, SECTION};
pub use error::MaintenanceError;
pub use extension::{Maintenance, Switch};

/// What apps use: `use phial_maintenance::prelude::*;`.
pub mod prelude {
    pub use crate::{Maintenance, Switch};
}
