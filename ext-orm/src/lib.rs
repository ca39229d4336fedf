//! # phial-orm
//!
//! Databases for Phial apps through [sea-orm](https://docs.rs/sea-orm): the
//! [`Orm`] extension opens the pools named in `[database]` when the app is
//! built, handlers reach them with the [`Db`] extractor, `/readyz` pings
//! them, and they are closed at shutdown. SQLite in the instance folder is
//! the default; PostgreSQL and MySQL/MariaDB come by URL.
//!
//! ```
//! use phial_core::{App, Config, routing::get};
//! use phial_orm::{Db, Orm, OrmError};
//! use sea_orm::ConnectionTrait;
//!
//! async fn ping(db: Db) -> Result<&'static str, OrmError> {
//!     db.conn().execute_unprepared("SELECT 1").await?; // a read: no change to publish
//!     Ok("pong")
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = App::builder(Config::testing().set("database.url", "sqlite::memory:"))
//!     .register(Orm::new())
//!     .route("/ping", get(ping))
//!     .build().await.unwrap();
//! assert_eq!(app.test_client().get("/ping").send().await.text(), "pong");
//! # }
//! ```

mod bulk;
mod config;
mod connect;
mod db;
pub mod doors;
mod error;
pub mod live;
pub mod meta;
mod metrics;
mod pagination;
pub mod policy;
pub mod query;
mod request_tx;
mod write;

use std::collections::BTreeMap;

use phial_core::{AppBuilder, BoxError, DeployFinding, Extension};

pub use bulk::{bind_limit, rows_per_chunk};
pub use config::{ConnectionConfig, DatabaseConfig};
pub use db::{Databases, Db};
pub use error::OrmError;
pub use pagination::{
    DEFAULT_PER_PAGE, KeysetPage, MAX_OFFSET, MAX_PER_PAGE, Page, PageQuery, keyset, paginate,
};
pub use request_tx::{RequestTx, Transactional, TransactionalService};
pub use sea_orm;

/// What handlers and app factories use: `use phial::orm::prelude::*;`.
pub mod prelude {
    pub use crate::policy::{Access, Action, Caller, CallerKind, Policies, Policy, Rule};
    pub use crate::{Db, Orm, OrmError, Page, PageQuery, RequestTx, Transactional, paginate};
}
pub use write::Tx;

/// The config section this extension reads.
pub const SECTION: &str = "database";

/// The database extension. Register it in the app factory:
/// `App::builder(config).register(Orm::new())`.
///
/// Each model's access is declared here, once
/// ([`policy`](Orm::policy)); REST, the admin and Socket.IO rooms enforce it.
#[derive(Debug, Clone, Default)]
pub struct Orm {
    policies: policy::Policies,
}

impl Orm {
    /// The extension, reading `[database]`.
    pub fn new() -> Self {
        Orm::default()
    }

    /// Who may list, read, create, change and delete `E`'s rows, and which
    /// rows each caller sees: declared once for every way in (a REST
    /// resource without a policy of its own, the admin, socket rooms).
    ///
    /// ```
    /// use phial_orm::Orm;
    /// use phial_orm::policy::{Policy, Rule};
    /// # mod post {
    /// #     use sea_orm::entity::prelude::*;
    /// #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    /// #     #[sea_orm(table_name = "post")]
    /// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32 }
    /// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// #     pub enum Relation {}
    /// #     impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// let orm = Orm::new().policy::<post::Entity>(Policy::new().delete(Rule::role("editor")));
    /// ```
    pub fn policy<E: sea_orm::EntityTrait>(mut self, policy: policy::Policy) -> Self {
        let table = sea_orm::EntityName::table_name(&E::default()).to_owned();
        self.policies = self.policies.with(table, policy);
        self
    }
}

/// Each declared model's effective rules, for `check --deploy` (from the
/// one decision, asked for a caller of each kind), and a warning for a
/// model anonymous callers may change or delete (creating, a comment form,
/// is listed, not warned about).
fn policy_findings(policies: &policy::Policies, doors: &[doors::Door]) -> Vec<DeployFinding> {
    use policy::CallerKind;
    let mut tables: Vec<&str> = policies
        .tables()
        .chain(doors.iter().map(|d| d.table.as_str()))
        .collect();
    tables.sort_unstable();
    tables.dedup();
    let mut out = Vec::new();
    for table in tables {
        let described = policies.describe(table);
        let mut parts = Vec::new();
        for (kind, actions, narrowed) in &described {
            let who = match kind {
                CallerKind::Anonymous => "anonymous",
                CallerKind::User => "users",
                CallerKind::Staff => "staff without grants",
                CallerKind::Token => "tokens without scopes",
            };
            let what = if actions.is_empty() {
                "nothing".to_owned()
            } else {
                actions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let rows = if *narrowed { " (some rows)" } else { "" };
            parts.push(format!("{who}: {what}{rows}"));
        }
        let at: Vec<String> = doors
            .iter()
            .filter(|d| d.table == table)
            .map(doors::Door::address)
            .collect();
        let declared = if policies.declared(table).is_some() {
            ""
        } else {
            " (no policy declared: the default)"
        };
        out.push(DeployFinding::info(
            format!("policy.{table}"),
            format!(
                "{}; staff and tokens with a grant: that action; superusers: everything{declared}{}",
                parts.join("; "),
                if at.is_empty() {
                    String::new()
                } else {
                    format!("; reached at {}", at.join(", "))
                }
            ),
        ));
        if described.iter().any(|(k, a, _)| {
            *k == CallerKind::Anonymous
                && a.iter()
                    .any(|a| matches!(a, policy::Action::Change | policy::Action::Delete))
        }) {
            out.push(DeployFinding::warning(
                format!("policy.{table}"),
                "anonymous callers may change or delete these rows: give those actions a rule \
                 (`Policy::new()` lets only staff with the grant and tokens with the scope write)",
            ));
        }
    }
    out
}

/// The list columns no index serves, found at startup.
#[derive(Debug, Clone, Default)]
struct UnindexedLists(std::sync::Arc<std::sync::Mutex<Vec<query::indexes::Missing>>>);

impl UnindexedLists {
    fn all(&self) -> Vec<query::indexes::Missing> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Asks the database which columns of each list door an index serves.
async fn list_indexes(state: &phial_core::AppState) {
    let (Some(dbs), Some(found)) = (state.get::<Databases>(), state.get::<UnindexedLists>()) else {
        return;
    };
    let db = dbs.default_db();
    let backend = db.get_database_backend();
    let mut all: Vec<query::indexes::Missing> = Vec::new();
    for door in doors::Doors::of(state) {
        let (Some(cols), Some(meta)) = (&door.list, &door.meta) else {
            continue;
        };
        let indexes = match query::indexes::of(db, &door.table).await {
            Ok(Some(i)) => i,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(table = %door.table, "reading indexes: {e}");
                continue;
            }
        };
        for m in query::indexes::missing(backend, &door.table, &meta.primary_key, cols, &indexes) {
            if !all
                .iter()
                .any(|a| a.table == m.table && a.column == m.column && a.use_ == m.use_)
            {
                all.push(m);
            }
        }
    }
    if !state.profile().is_production() {
        for m in all.iter().filter(|m| m.indexable) {
            tracing::warn!(table = %m.table, column = %m.column, "{m}");
        }
    }
    *found.0.lock().unwrap_or_else(|p| p.into_inner()) = all;
}

impl Extension for Orm {
    fn name(&self) -> &str {
        "orm"
    }

    fn finish(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        // After every `init_app`: startup migrations (`Migrate`) run first.
        app.on_startup(|state| async move {
            // A database slow to answer its catalog delays nothing: the
            // report is advice, the app starts without it.
            let wait = std::time::Duration::from_secs(3);
            if tokio::time::timeout(wait, list_indexes(&state))
                .await
                .is_err()
            {
                tracing::debug!("reading the lists' indexes took over {wait:?}; skipped");
            }
            Ok(())
        });
        Ok(())
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let cfg = DatabaseConfig::from_builder(app, SECTION)?;
        app.insert(self.policies.clone());
        let policies = self.policies.clone();
        app.deploy_check(move |state| policy_findings(&policies, &doors::Doors::of(state)));
        // Which list columns no index serves: asked once at startup (the
        // catalog queries cost a few milliseconds; the hook is added in
        // `finish`, after migrations), warned about in development, listed
        // by `check --deploy`.
        let unindexed = UnindexedLists::default();
        app.insert(unindexed.clone());
        app.deploy_check(move |_| {
            unindexed
                .all()
                .into_iter()
                .map(|m| {
                    let key = format!("index.{}.{}", m.table, m.column);
                    if m.indexable {
                        DeployFinding::warning(key, m.to_string())
                    } else {
                        DeployFinding::info(key, m.to_string())
                    }
                })
                .collect()
        });
        app.provide(move |p| async move {
            let instance = p.instance_path().to_path_buf();
            let url = connect::resolve_url(&cfg.default, &instance, "app");
            let default = connect::connect("default", &url, &cfg.default).await?;
            let mut binds = BTreeMap::new();
            for (name, bind_cfg) in &cfg.binds {
                let bind_url = connect::resolve_url(bind_cfg, &instance, name);
                let conn = connect::connect(name, &bind_url, bind_cfg).await?;
                binds.insert(name.clone(), (bind_url, conn));
            }
            Ok::<_, BoxError>(Databases::new(url, default, binds))
        });
        app.health_check("database", |state| async move {
            let dbs = state
                .get::<Databases>()
                .ok_or("the Orm extension provided no databases")?;
            dbs.ping_all().await.map_err(BoxError::from)
        });
        metrics::describe();
        app.metrics_collector(|state| async move {
            if let Some(dbs) = state.get::<Databases>() {
                metrics::collect(dbs);
            }
        });
        app.on_shutdown(|state| async move {
            if let Some(dbs) = state.get::<Databases>() {
                dbs.close_all().await;
            }
            Ok(())
        });
        app.deploy_check(|state| {
            let Some(dbs) = state.get::<Databases>() else { return Vec::new() };
            dbs.urls()
                .filter(|(_, url)| url.starts_with("sqlite:"))
                .map(|(name, _)| {
                    let key = if name == "default" { "database.url".to_owned() } else { format!("database.binds.{name}.url") };
                    DeployFinding::warning(key, "SQLite serves a single node; point it at PostgreSQL or MySQL to run several")
                })
                .collect()
        });
        Ok(())
    }
}
