//! The database extension: opens the configured pools when the app is
//! built, holds each model's policy, pings the databases for `/readyz`,
//! reports to `check --deploy`, and closes the pools at shutdown.

use std::collections::BTreeMap;

use phial_core::{AppBuilder, BoxError, DeployFinding, Extension};

use crate::config::{DatabaseConfig, SECTION};
use crate::db::Databases;
use crate::deploy_report::{UnindexedLists, list_indexes, policy_findings};
use crate::{connect, doors, metrics, policy};

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
