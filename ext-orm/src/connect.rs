//! Opening a pool from a [`ConnectionConfig`]: SQLite gets WAL, foreign
//! keys and a busy timeout and is created on first use; every failure names
//! the URL with its password hidden.

use std::path::Path;
use std::time::Duration;

use phial_core::config::redact_url;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::ConnectionConfig;
use crate::error::OrmError;

/// The URL to use: the configured one, or a SQLite file in the instance folder.
pub(crate) fn resolve_url(cfg: &ConnectionConfig, instance: &Path, file_stem: &str) -> String {
    if !cfg.url.trim().is_empty() {
        return cfg.url.trim().to_owned();
    }
    format!(
        "sqlite://{}",
        instance.join(format!("{file_stem}.sqlite")).display()
    )
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Opens the pool and checks it answers.
pub(crate) async fn connect(
    name: &str,
    url: &str,
    cfg: &ConnectionConfig,
) -> Result<DatabaseConnection, OrmError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.min_connections(cfg.min_connections)
        .max_connections(cfg.max_connections.max(1))
        .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(cfg.acquire_timeout_secs))
        .idle_timeout(Duration::from_secs(cfg.idle_timeout_secs))
        .sqlx_logging(cfg.log_statements);
    if is_sqlite(url) {
        let busy = Duration::from_millis(cfg.sqlite_busy_timeout_ms);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        opts.map_sqlx_sqlite_opts(move |o| {
            let o = o
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(busy);
            if in_memory {
                o
            } else {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            }
        });
        let parent = sqlite_path(url).and_then(|p| Path::new(p).parent().map(Path::to_path_buf));
        if let Some(parent) = parent.filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(&parent).map_err(|e| OrmError::Connect {
                name: name.to_owned(),
                url: redact_url(url),
                reason: format!("cannot create the folder `{}`: {e}", parent.display()),
            })?;
        }
    }
    let mut conn = Database::connect(opts)
        .await
        .map_err(|e| OrmError::Connect {
            name: name.to_owned(),
            url: redact_url(url),
            reason: missing_driver(url, &e.to_string()).unwrap_or_else(|| e.to_string()),
        })?;
    conn.ping().await.map_err(|e| OrmError::Connect {
        name: name.to_owned(),
        url: redact_url(url),
        reason: e.to_string(),
    })?;
    crate::metrics::time_queries(name, &mut conn);
    Ok(conn)
}

/// sea-orm's "no supporting driver" for a URL whose driver is a cargo
/// feature left off, said with the feature to turn on.
fn missing_driver(url: &str, error: &str) -> Option<String> {
    if !error.contains("no supporting driver") {
        return None;
    }
    let feature = match url.split("://").next().unwrap_or("") {
        "postgres" | "postgresql" => "postgres",
        "mysql" | "mariadb" => "mysql",
        _ => return None,
    };
    Some(format!(
        "this binary was built without the {feature} driver: add the `{feature}` feature \
         (`phial = {{ features = [\"{feature}\"] }}`, or `full`) and rebuild"
    ))
}

/// The file of a `sqlite://path?opts` URL (none for in-memory databases).
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_url_is_a_sqlite_file_in_the_instance_folder() {
        let cfg = ConnectionConfig::default();
        assert_eq!(
            resolve_url(&cfg, Path::new("/srv/app/instance"), "app"),
            "sqlite:///srv/app/instance/app.sqlite"
        );
        let cfg = ConnectionConfig {
            url: " postgres://db/app ".into(),
            ..Default::default()
        };
        assert_eq!(
            resolve_url(&cfg, Path::new("/x"), "app"),
            "postgres://db/app"
        );
    }

    #[test]
    fn a_missing_driver_names_the_feature() {
        let e = "Connection Error: The connection string 'postgres://x' has no supporting driver.";
        let msg = missing_driver("postgres://db/app", e).unwrap();
        assert!(msg.contains("`postgres` feature"), "{msg}");
        assert!(
            missing_driver("mysql://db/app", e)
                .unwrap()
                .contains("`mysql`")
        );
        assert_eq!(missing_driver("postgres://db/app", "timed out"), None);
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/a.db?mode=rwc"),
            Some("/tmp/a.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://rel/a.db"), Some("rel/a.db"));
    }
}
