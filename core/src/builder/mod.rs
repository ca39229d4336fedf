//! `AppBuilder`: what the app factory and the extensions' `init_app` fill in,
//! and `build()`, which turns it into an [`App`].

use std::any::{Any, TypeId, type_name};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use http::StatusCode;

use crate::app::App;
use crate::assets::{EmbeddedFile, Folder};
use crate::cli::CliCommand;
use crate::config::{Config, ConfigError, CoreConfig};
use crate::error::BuildError;
use crate::error_page::ErrorHandler;
use crate::extension::Extension;
use crate::health::HealthCheck;
use crate::lifecycle::{ShutdownHook, StartupHook};
use crate::routing::RouteInfo;
use crate::state::{AppState, TypeMap};
use crate::static_files::StaticMount;
use crate::templates::TemplateSetup;

mod assets;
mod health;
mod hooks;
mod metrics;
mod routes;
pub(crate) mod sessions;
mod state;

pub(crate) use routes::LayerFn;
pub use state::Provided;
pub(crate) use state::Provider;

/// Who is adding things while no extension's `init_app` runs.
pub(crate) const APP_SOURCE: &str = "app";

pub(crate) struct Registered {
    pub(crate) name: String,
    pub(crate) type_id: TypeId,
    pub(crate) ext: Arc<dyn Extension>,
    pub(crate) any: Arc<dyn Any + Send + Sync>,
}

/// One contributed item, who contributed it and its type's name (for the
/// warning when nobody collects it).
pub(crate) struct Contribution {
    pub(crate) source: String,
    pub(crate) type_name: &'static str,
    pub(crate) item: Box<dyn Any + Send + Sync>,
}

/// Collects everything an app is made of. Made by [`App::builder`]; every
/// method returns `&mut Self` so the factory can chain calls.
///
/// ```
/// use phial_core::{App, Config, routing::get};
/// # async fn doc() -> Result<(), phial_core::BuildErrors> {
/// let app = App::builder(Config::testing())
///     .route("/", get(|| async { "hi" }).name("index"))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
pub struct AppBuilder {
    pub(crate) config: Config,
    pub(crate) core: CoreConfig,
    pub(crate) root_path: Option<PathBuf>,
    pub(crate) pending: VecDeque<Registered>,
    pub(crate) extensions: Vec<Registered>,
    pub(crate) current: String,
    pub(crate) errors: Vec<BuildError>,
    pub(crate) values: TypeMap,
    pub(crate) providers: Vec<Provider>,
    pub(crate) requires: Vec<(String, TypeId, &'static str)>,
    pub(crate) router: Router<AppState>,
    pub(crate) routes: Vec<RouteInfo>,
    pub(crate) layers: Vec<LayerFn>,
    pub(crate) template_folders: Vec<Folder>,
    pub(crate) template_sources: Vec<(String, Cow<'static, str>)>,
    pub(crate) template_setup: Vec<TemplateSetup>,
    pub(crate) static_mounts: Vec<StaticMount>,
    pub(crate) commands: Vec<CliCommand>,
    pub(crate) health_checks: Vec<HealthCheck>,
    pub(crate) deploy_checks: crate::deploy_check::DeployChecks,
    pub(crate) metrics_collectors: Vec<(String, crate::prometheus::endpoint::CollectFn)>,
    pub(crate) changes: crate::changes::ChangeFeed,
    pub(crate) contributions: std::collections::HashMap<TypeId, Vec<Contribution>>,
    pub(crate) startup: Vec<StartupHook>,
    pub(crate) shutdown: Vec<ShutdownHook>,
    pub(crate) drain: Vec<ShutdownHook>,
    pub(crate) error_handlers: Vec<(StatusCode, ErrorHandler)>,
    pub(crate) launch: Option<crate::launch::Launch>,
    pub(crate) route_table: crate::route_table::RouteTable,
    /// Extension sections as decoded, for the `config` command.
    pub(crate) sections: Vec<(String, serde_json::Value)>,
    /// The built app's state, for listeners registered with `on_change`
    /// (weak: the state holds the feed that holds the listeners).
    pub(crate) state_slot: Arc<std::sync::OnceLock<std::sync::Weak<crate::state::AppInner>>>,
    pub(crate) embedded: Option<(Vec<EmbeddedFile>, Vec<EmbeddedFile>)>,
    /// Session stores extensions offer (see `sessions`).
    pub(crate) session_offers: Vec<crate::session::Offer>,
    /// The first extension that keeps records in the session store.
    pub(crate) session_store_needed_by: Option<String>,
}

impl AppBuilder {
    pub(crate) fn new(config: Config) -> Self {
        let mut errors = Vec::new();
        let core = config.core().unwrap_or_else(|e| {
            errors.push(config_error("core", e));
            CoreConfig::defaults(config.profile())
        });
        if core.metrics.served(config.profile().is_production()) {
            // Now, so what extensions describe and record while they bind
            // lands in the recorder the page renders.
            crate::prometheus::recorder::handle();
        }
        let changes = crate::changes::ChangeFeed::default();
        let mut values = TypeMap::default();
        values.insert(changes.clone());
        values.insert(crate::identity::SignOuts::default());
        AppBuilder {
            config,
            core,
            root_path: None,
            pending: VecDeque::new(),
            extensions: Vec::new(),
            current: APP_SOURCE.to_owned(),
            errors,
            values,
            providers: Vec::new(),
            requires: Vec::new(),
            router: Router::new(),
            routes: Vec::new(),
            layers: Vec::new(),
            template_folders: Vec::new(),
            template_sources: Vec::new(),
            template_setup: Vec::new(),
            static_mounts: Vec::new(),
            commands: Vec::new(),
            health_checks: Vec::new(),
            deploy_checks: Default::default(),
            metrics_collectors: Vec::new(),
            changes,
            contributions: Default::default(),
            startup: Vec::new(),
            shutdown: Vec::new(),
            drain: Vec::new(),
            error_handlers: Vec::new(),
            launch: crate::launch::Launch::current(),
            route_table: Default::default(),
            sections: Vec::new(),
            state_slot: Default::default(),
            embedded: None,
            session_offers: Vec::new(),
            session_store_needed_by: None,
        }
    }

    /// The CLI command the app is being built for (`run`, `check`, `db`,
    /// ...), or `None` when it is built outside the CLI (tests, a custom
    /// `main`), which is to be treated like `run`. The migrator upgrades on
    /// startup for `run` and `None` only.
    pub fn launch_command(&self) -> Option<&str> {
        self.launch.as_ref().and_then(|l| l.command.as_deref())
    }

    /// Whether the app is being built to serve requests: `run`, or built
    /// outside the CLI (tests, a custom `main`). Work that prepares for
    /// serving (migrating, seeding demo data) belongs behind this; `check`
    /// and the `db` commands build the app without it.
    pub fn serving(&self) -> bool {
        matches!(self.launch_command(), None | Some("run"))
    }

    /// Whether the app is only being described (for `--help`, `routes`,
    /// `config`): providers and startup hooks will not run, so `init_app`
    /// must not start background work or I/O of its own either.
    pub fn describe_only(&self) -> bool {
        self.launch.as_ref().is_some_and(|l| l.describe_only)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Phial's own keys, decoded.
    pub fn core_config(&self) -> &CoreConfig {
        &self.core
    }

    /// Decodes an extension's config section (see [`Config::section`]);
    /// the decoded value, defaults included, is what the `config` command
    /// shows for it. A bad value returned with `?` from `init_app` is
    /// reported as `BuildError::Config` naming the key.
    pub fn section<T: serde::de::DeserializeOwned + serde::Serialize + Default>(
        &mut self,
        key: &str,
    ) -> Result<T, ConfigError> {
        let value: T = self.config.section(key)?;
        if let Ok(json) = serde_json::to_value(&value) {
            self.sections.push((key.to_owned(), json));
        }
        Ok(value)
    }

    /// Name of the extension whose `init_app`/`finish` is running, or `app`.
    pub fn current_source(&self) -> &str {
        &self.current
    }

    /// Queues an extension; it is bound when the app is built.
    pub fn register<E: Extension>(&mut self, ext: E) -> &mut Self {
        let mut name = ext.name().to_owned();
        if name.ends_with("{{closure}}") {
            // Closures share their type's name within a function: tell
            // them apart by their position.
            let position = self.extensions.len() + self.pending.len() + 1;
            name = format!("{name}#{position}");
        }
        if self
            .extensions
            .iter()
            .chain(&self.pending)
            .any(|r| r.name == name)
        {
            self.errors.push(BuildError::DuplicateExtension { name });
            return self;
        }
        let ext = Arc::new(ext);
        self.pending.push_back(Registered {
            name,
            type_id: TypeId::of::<E>(),
            any: ext.clone(),
            ext,
        });
        self
    }

    /// Declares that the running extension needs extension `E`; checked
    /// after every `init_app`, so registration order does not matter.
    pub fn require<E: Extension>(&mut self) -> &mut Self {
        self.requires.push((
            self.current.clone(),
            TypeId::of::<E>(),
            short_type_name::<E>(),
        ));
        self
    }

    /// Whether an extension of type `E` is registered (optional cooperation).
    pub fn has_extension<E: Extension>(&self) -> bool {
        self.extension::<E>().is_some()
    }

    /// The registered extension of type `E`, if any.
    pub fn extension<E: Extension>(&self) -> Option<Arc<E>> {
        self.extensions
            .iter()
            .chain(&self.pending)
            .find(|r| r.type_id == TypeId::of::<E>())
            .and_then(|r| r.any.clone().downcast::<E>().ok())
    }

    /// Names of the extensions registered so far.
    pub fn extension_names(&self) -> Vec<&str> {
        self.extensions
            .iter()
            .chain(&self.pending)
            .map(|r| r.name.as_str())
            .collect()
    }

    pub(crate) fn resolved_root(&self) -> PathBuf {
        self.core
            .root_path
            .clone()
            .or_else(|| self.root_path.clone())
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
    }
}

impl App {
    /// Starts an app factory's builder.
    pub fn builder(config: Config) -> AppBuilder {
        AppBuilder::new(config)
    }
}

pub(crate) fn config_error(extension: &str, e: ConfigError) -> BuildError {
    BuildError::Config {
        extension: extension.to_owned(),
        key: e.key().unwrap_or("<root>").to_owned(),
        message: match e {
            ConfigError::Invalid { message, .. } => message,
            other => other.to_string(),
        },
    }
}

pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}
