//! `AppBuilder`: what the app factory and the extensions' `init_app` fill in,
//! and `build()`, which turns it into an [`App`].

use std::any::{Any, TypeId, type_name};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use futures_util::future::BoxFuture;
use http::StatusCode;

use crate::app::App;
use crate::assets::{Assets, AssetsKind, EmbeddedFile, Folder};
use crate::blueprint::Blueprint;
use crate::cli::{CliCommand, CommandContext};
use crate::config::{Config, ConfigError, CoreConfig};
use crate::error::{BoxError, BuildError, BuildErrors};
use crate::error_page::ErrorHandler;
use crate::extension::Extension;
use crate::health::HealthCheck;
use crate::lifecycle::{ShutdownHook, StartupHook};
use crate::routing::{MethodRoutes, RouteInfo, check_path, join_paths};
use crate::state::{AppState, TypeMap};
use crate::static_files::StaticMount;
use crate::templates::TemplateSetup;

/// Who is adding things while no extension's `init_app` runs.
pub(crate) const APP_SOURCE: &str = "app";

pub(crate) struct Registered {
    pub(crate) name: String,
    pub(crate) type_id: TypeId,
    pub(crate) ext: Arc<dyn Extension>,
    pub(crate) any: Arc<dyn Any + Send + Sync>,
}

type ProviderFn = Box<
    dyn FnOnce(Provided) -> BoxFuture<'static, Result<Arc<dyn Any + Send + Sync>, BoxError>> + Send,
>;

pub(crate) struct Provider {
    pub(crate) source: String,
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    pub(crate) run: ProviderFn,
}

/// One contributed item and who contributed it.
pub(crate) type Contribution = (String, Box<dyn Any + Send + Sync>);

pub(crate) type LayerFn = Box<dyn FnOnce(Router<AppState>) -> Router<AppState> + Send>;

/// Read access to the values provided so far, handed to a provider.
#[derive(Clone)]
pub struct Provided {
    pub(crate) config: Config,
    pub(crate) core: Arc<CoreConfig>,
    pub(crate) values: TypeMap,
    pub(crate) instance_path: PathBuf,
}

impl Provided {
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Phial's own keys.
    pub fn core(&self) -> &CoreConfig {
        &self.core
    }

    /// A value provided earlier (by an extension registered before).
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values.get::<T>()
    }

    /// The instance folder, created before providers run.
    pub fn instance_path(&self) -> &std::path::Path {
        &self.instance_path
    }
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
    pub(crate) changes: crate::changes::ChangeFeed,
    pub(crate) contributions: std::collections::HashMap<TypeId, Vec<Contribution>>,
    pub(crate) startup: Vec<StartupHook>,
    pub(crate) shutdown: Vec<ShutdownHook>,
    pub(crate) error_handlers: Vec<(StatusCode, ErrorHandler)>,
    pub(crate) launch: Option<crate::launch::Launch>,
    pub(crate) route_table: crate::route_table::RouteTable,
    pub(crate) embedded: Option<(Vec<EmbeddedFile>, Vec<EmbeddedFile>)>,
}

impl AppBuilder {
    pub(crate) fn new(config: Config) -> Self {
        let mut errors = Vec::new();
        let core = config.core().unwrap_or_else(|e| {
            errors.push(config_error("core", e));
            CoreConfig::defaults(config.profile())
        });
        let changes = crate::changes::ChangeFeed::default();
        let mut values = TypeMap::default();
        values.insert(changes.clone());
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
            changes,
            contributions: Default::default(),
            startup: Vec::new(),
            shutdown: Vec::new(),
            error_handlers: Vec::new(),
            launch: crate::launch::Launch::current(),
            route_table: Default::default(),
            embedded: None,
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

    /// Decodes an extension's config section (see [`Config::section`]).
    pub fn section<T: serde::de::DeserializeOwned + Default>(
        &self,
        key: &str,
    ) -> Result<T, ConfigError> {
        self.config.section(key)
    }

    /// Name of the extension whose `init_app`/`finish` is running, or `app`.
    pub fn current_source(&self) -> &str {
        &self.current
    }

    /// The folder templates/, static/ and instance/ are relative to. Apps
    /// usually pass `env!("CARGO_MANIFEST_DIR")`; `root_path` in the
    /// configuration wins (for deployments).
    pub fn root_path(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.root_path = Some(path.into());
        self
    }

    /// Where the app's `templates/` and `static/` come from: pass
    /// `phial::assets!()`, which reads the crate's folders in debug builds
    /// and compiles them into release builds, so the binary deploys alone
    /// (`instance/` is then relative to the working directory).
    ///
    /// ```
    /// # use phial_core::{App, Assets, Config};
    /// # async fn doc() {
    /// let app = App::builder(Config::testing())
    ///     .assets(Assets::folders(env!("CARGO_MANIFEST_DIR")))
    ///     .build()
    ///     .await
    ///     .unwrap();
    /// # }
    /// ```
    pub fn assets(&mut self, assets: Assets) -> &mut Self {
        match assets.kind {
            AssetsKind::Folders(root) => {
                self.root_path = Some(root);
                self.embedded = None;
            }
            AssetsKind::Embedded { templates, statics } => {
                self.root_path = None;
                self.embedded = Some((templates, statics));
            }
        }
        self
    }

    /// Queues an extension; it is bound when the app is built.
    pub fn register<E: Extension>(&mut self, ext: E) -> &mut Self {
        let name = ext.name().to_owned();
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

    /// Adds a value to the typed state now (no I/O needed).
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.values.insert(value);
        self
    }

    /// Adds a value that is already shared (an `Arc` the caller keeps).
    pub fn insert_arc<T: Send + Sync + 'static>(&mut self, value: Arc<T>) -> &mut Self {
        self.values
            .insert_any(TypeId::of::<T>(), type_name::<T>(), value);
        self
    }

    /// Whether a value of type `T` is in the state or will be provided.
    pub fn provides<T: Send + Sync + 'static>(&self) -> bool {
        self.values.get::<T>().is_some()
            || self
                .providers
                .iter()
                .any(|p| p.type_id == TypeId::of::<T>())
    }

    /// Hands async work to the builder: `f` runs when the app is built, after
    /// the providers registered before it, and its value joins the typed
    /// state. Failures are collected with the extension's name.
    ///
    /// ```
    /// # use phial_core::{App, Config};
    /// # async fn doc() {
    /// struct Pool(u32);
    /// let app = App::builder(Config::testing())
    ///     .provide(|_p| async { Ok(Pool(5)) })
    ///     .build().await.unwrap();
    /// assert_eq!(app.state().get::<Pool>().unwrap().0, 5);
    /// # }
    /// ```
    pub fn provide<T, F, Fut>(&mut self, f: F) -> &mut Self
    where
        T: Send + Sync + 'static,
        F: FnOnce(Provided) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, BoxError>> + Send + 'static,
    {
        let run: ProviderFn = Box::new(move |p| {
            Box::pin(async move {
                f(p).await
                    .map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>)
            })
        });
        self.providers.push(Provider {
            source: self.current.clone(),
            type_id: TypeId::of::<T>(),
            type_name: type_name::<T>(),
            run,
        });
        self
    }

    /// Adds handlers for a path.
    pub fn route(&mut self, path: &str, routes: impl Into<MethodRoutes>) -> &mut Self {
        let routes = routes.into();
        self.add_route(path.to_owned(), routes, None);
        self
    }

    fn add_route(&mut self, path: String, routes: MethodRoutes, prefix_name: Option<&str>) {
        if let Err(message) = check_path(&path) {
            self.errors.push(BuildError::Extension {
                extension: self.current.clone(),
                phase: "routing",
                source: message.into(),
            });
            return;
        }
        let name = routes.name.map(|n| match prefix_name {
            Some(bp) => format!("{bp}.{n}"),
            None => n,
        });
        if let Some(clash) = self.routes.iter().find(|r| {
            r.path == path
                && (r.methods.is_empty()
                    || routes.methods.is_empty()
                    || r.methods.iter().any(|m| routes.methods.contains(m)))
        }) {
            self.errors.push(BuildError::Extension {
                extension: self.current.clone(),
                phase: "routing",
                source: format!(
                    "route {} {path} is already added by `{}`",
                    clash.methods_label(),
                    clash.source
                )
                .into(),
            });
            return;
        }
        if let Err(e) = self.route_table.claim(&path, &self.current) {
            self.errors.push(e);
            return;
        }
        // CSRF wraps the handlers only, so a wrong method is a 405 first.
        let method_router = if routes.csrf_wrapped {
            routes.router
        } else {
            routes.router.layer(crate::csrf_layer::CsrfLayer)
        };
        match crate::route_table::guarded_route(std::mem::take(&mut self.router), |r| {
            r.route(&path, method_router)
        }) {
            Ok(router) => self.router = router,
            Err(reason) => {
                self.errors.push(BuildError::Extension {
                    extension: self.current.clone(),
                    phase: "routing",
                    source: format!("route {path}: {reason}").into(),
                });
                return;
            }
        }
        self.routes.push(RouteInfo {
            methods: routes.methods,
            path: path.clone(),
            name,
            source: self.current.clone(),
            extractors: routes.extractors,
        });
    }

    /// Nests a plain axum router under a path; its routes are listed as one
    /// `*` entry.
    pub fn nest(&mut self, path: &str, router: Router<AppState>) -> &mut Self {
        if let Err(message) = check_path(path) {
            self.errors.push(BuildError::Extension {
                extension: self.current.clone(),
                phase: "routing",
                source: message.into(),
            });
            return self;
        }
        let listed = format!("{}/{{*rest}}", path.trim_end_matches('/'));
        if let Err(e) = self.route_table.claim(&listed, &self.current) {
            self.errors.push(e);
            return self;
        }
        let router = if router.has_routes() {
            router.route_layer(crate::csrf_layer::CsrfLayer)
        } else {
            router
        };
        match crate::route_table::guarded_route(std::mem::take(&mut self.router), |r| {
            r.nest(path, router)
        }) {
            Ok(router) => self.router = router,
            Err(reason) => {
                self.errors.push(BuildError::Extension {
                    extension: self.current.clone(),
                    phase: "routing",
                    source: format!("nested router at {path}: {reason}").into(),
                });
                return self;
            }
        }
        self.routes.push(RouteInfo {
            methods: Vec::new(),
            path: listed,
            name: None,
            source: self.current.clone(),
            extractors: Vec::new(),
        });
        self
    }

    /// Adds a blueprint: its routes under its prefix, its endpoint names
    /// prefixed with its name, its templates after the app's, its static
    /// folder at `<prefix>/static`.
    pub fn blueprint(&mut self, bp: Blueprint) -> &mut Self {
        for (path, routes) in bp.routes {
            self.add_route(join_paths(&bp.url_prefix, &path), routes, Some(&bp.name));
        }
        for (path, router) in bp.nested {
            self.nest(&join_paths(&bp.url_prefix, &path), router);
        }
        if let Some(folder) = bp.template_folder {
            self.template_folders.push(folder);
        }
        if let Some(folder) = bp.static_folder {
            let url = join_paths(&bp.url_prefix, "/static");
            self.static_mounts.push(StaticMount::from_folder(
                format!("{}.static", bp.name),
                url,
                folder,
                self.current.clone(),
            ));
        }
        self
    }

    /// Wraps every route (added by anyone) in a tower layer. Layers added
    /// later wrap those added earlier.
    pub fn layer<L>(&mut self, layer: L) -> &mut Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.layers.push(Box::new(move |r| r.layer(layer)));
        self
    }

    /// Adds a template folder, searched after the ones added before.
    /// Relative paths are relative to the root path; embedded folders
    /// (`phial::folder!`) come after every folder on disk.
    pub fn template_folder(&mut self, folder: impl Into<Folder>) -> &mut Self {
        self.template_folders.push(folder.into());
        self
    }

    /// Adds a template from a string, usually `include_str!` (embedded in
    /// the binary). Files in template folders take precedence, so apps can
    /// override an extension's templates.
    pub fn template_source(
        &mut self,
        name: impl Into<String>,
        source: impl Into<Cow<'static, str>>,
    ) -> &mut Self {
        self.template_sources.push((name.into(), source.into()));
        self
    }

    /// Adjusts the template environment: add filters, functions, globals.
    pub fn configure_templates<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&mut minijinja::Environment<'static>) + Send + Sync + 'static,
    {
        self.template_setup.push(Arc::new(f));
        self
    }

    /// Serves a folder under a URL prefix, with endpoint `name` for
    /// `url_for(name, filename=...)`.
    pub fn static_folder(
        &mut self,
        name: &str,
        url_path: &str,
        folder: impl Into<Folder>,
    ) -> &mut Self {
        self.static_mounts.push(StaticMount::from_folder(
            name.to_owned(),
            url_path.to_owned(),
            folder.into(),
            self.current.clone(),
        ));
        self
    }

    /// Serves files embedded in the binary (`include_bytes!`) under a URL
    /// prefix: for extensions' own assets (admin, docs UIs).
    pub fn static_embedded(
        &mut self,
        name: &str,
        url_path: &str,
        files: &'static [(&'static str, &'static [u8])],
    ) -> &mut Self {
        self.static_mounts.push(StaticMount::embedded(
            name.to_owned(),
            url_path.to_owned(),
            files,
            self.current.clone(),
        ));
        self
    }

    /// Adds a CLI subcommand to every binary of this app.
    ///
    /// ```
    /// # use phial_core::{App, Config};
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// app.command(clap::Command::new("hello").about("Says hello"), |ctx| async move {
    ///     ctx.println("hello");
    ///     Ok(())
    /// });
    /// # }
    /// ```
    pub fn command<F, Fut>(&mut self, command: clap::Command, run: F) -> &mut Self
    where
        F: Fn(CommandContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.commands.push(CliCommand {
            command,
            source: self.current.clone(),
            run: Arc::new(move |ctx| Box::pin(run(ctx))),
        });
        self
    }

    /// Adds a readiness check, run by `/readyz` with a time limit; its
    /// failure makes the app unavailable (503). For a dependency the app
    /// can serve without, see
    /// [`health_check_optional`](Self::health_check_optional).
    pub fn health_check<F, Fut>(&mut self, name: &str, check: F) -> &mut Self
    where
        F: Fn(AppState) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.health_checks.push(HealthCheck {
            name: name.to_owned(),
            source: self.current.clone(),
            check: Arc::new(move |s| Box::pin(check(s))),
            required: true,
        });
        self
    }

    /// Hands an item to whichever extension collects items of type `T`
    /// (migrations for the migrator, models for the admin, paths for
    /// OpenAPI). The collector takes them in its `finish` phase, so the
    /// order of registration does not matter.
    pub fn contribute<T: Send + Sync + 'static>(&mut self, item: T) -> &mut Self {
        let source = self.current.clone();
        self.contributions
            .entry(TypeId::of::<T>())
            .or_default()
            .push((source, Box::new(item)));
        self
    }

    /// Takes every contributed item of type `T`, each with the name of who
    /// contributed it (`app` or the extension), in contribution order.
    pub fn take_contributions<T: Send + Sync + 'static>(&mut self) -> Vec<(String, T)> {
        self.contributions
            .remove(&TypeId::of::<T>())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(source, item)| item.downcast::<T>().ok().map(|item| (source, *item)))
            .collect()
    }

    /// The app's change feed: publish writes, or follow them (see
    /// [`crate::changes`]). The same feed is in the built app's state.
    pub fn changes(&self) -> &crate::changes::ChangeFeed {
        &self.changes
    }

    /// Adds production checks to `check --deploy` (e.g. "SQLite in
    /// production"); findings are listed with the extension's name.
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// use phial_core::DeployFinding;
    /// app.deploy_check(|state| {
    ///     let url: String = state.config().get("database.url").unwrap_or_default();
    ///     if url.starts_with("sqlite:") {
    ///         vec![DeployFinding::warning("database.url", "SQLite does not scale to several nodes")]
    ///     } else {
    ///         vec![]
    ///     }
    /// });
    /// # }
    /// ```
    pub fn deploy_check<F>(&mut self, check: F) -> &mut Self
    where
        F: Fn(&AppState) -> Vec<crate::DeployFinding> + Send + Sync + 'static,
    {
        self.deploy_checks
            .push(self.current.clone(), Arc::new(check));
        self
    }

    /// Runs `f` once the state is complete, before the app is returned;
    /// bounded by `startup_timeout_secs`.
    pub fn on_startup<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: FnOnce(AppState) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.startup.push(StartupHook {
            source: self.current.clone(),
            run: Box::new(move |s| Box::pin(f(s))),
        });
        self
    }

    /// Runs `f` when the app shuts down; hooks run in reverse order of
    /// registration, each bounded by `shutdown_timeout_secs`.
    pub fn on_shutdown<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: FnOnce(AppState) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.shutdown.push(ShutdownHook {
            source: self.current.clone(),
            run: Box::new(move |s| Box::pin(f(s))),
        });
        self
    }

    /// Renders errors with this status yourself (Flask's `errorhandler`).
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// use axum::response::IntoResponse;
    /// app.error_handler(http::StatusCode::NOT_FOUND, |ctx| {
    ///     (ctx.status(), format!("nothing at {}", ctx.path())).into_response()
    /// });
    /// # }
    /// ```
    pub fn error_handler<F>(&mut self, status: StatusCode, f: F) -> &mut Self
    where
        F: Fn(&crate::error_page::ErrorContext<'_>) -> axum::response::Response
            + Send
            + Sync
            + 'static,
    {
        self.error_handlers.push((status, Arc::new(f)));
        self
    }

    /// Binds every extension and builds the app; reports every failure.
    pub async fn build(&mut self) -> Result<App, BuildErrors> {
        let builder = std::mem::replace(self, AppBuilder::new(Config::testing()));
        crate::build::build(builder).await
    }

    pub(crate) fn resolved_root(&self) -> PathBuf {
        self.core
            .root_path
            .clone()
            .or_else(|| self.root_path.clone())
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
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
