//! Migrations in `/metrics`, read from the database at each scrape:
//! applied, pending, and applied by a binary this one does not know (a
//! newer node's, during a rolling deploy). A node with pending migrations
//! serves a schema older than its code expects.

use phial_core::metrics::gauge;
use phial_orm::Databases;

use crate::migrations::Migrations;

/// Sets `phial_migrations{state}` from the default database.
pub(crate) async fn collect(migrations: &Migrations, dbs: &Databases) {
    match migrations.status(dbs.default_db()).await {
        Ok(entries) => {
            let known = |name: &str| migrations.names().any(|n| n == name);
            let applied = entries
                .iter()
                .filter(|e| e.applied && known(&e.name))
                .count();
            let pending = entries.iter().filter(|e| !e.applied).count();
            let unknown = entries.iter().filter(|e| !known(&e.name)).count();
            gauge!("phial_migrations", "state" => "applied").set(applied as f64);
            gauge!("phial_migrations", "state" => "pending").set(pending as f64);
            gauge!("phial_migrations", "state" => "unknown").set(unknown as f64);
        }
        Err(e) => tracing::debug!("migration state for metrics: {e}"),
    }
}

/// Describes the figure once, for the page's `# HELP` line.
pub(crate) fn describe() {
    phial_core::metrics::describe_gauge!(
        "phial_migrations",
        "Migrations of the default database: applied, pending, or unknown to this binary"
    );
}
