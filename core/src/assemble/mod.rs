//! What `AppBuilder::build` does with what the builder collected, as the
//! lifecycle's steps in the order they run ([`build`] reads as the list):
//! extensions bind, settings are checked, providers run, the built-in
//! routes are mounted, the app's state is made, the router assembled and
//! startup hooks run. Every failure is collected so one start reports
//! everything.
//!
//! The steps' parts live beside this file: [`checks`] (settings and
//! secrets), [`mounts`] (static files, health, metrics, the URL map and the
//! router) and [`template_sources`] (where templates come from).

mod checks;
mod mounts;
mod template_sources;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::builder::{APP_SOURCE, AppBuilder, Provided, config_error};
use crate::config::{Config, ConfigError};
use crate::error::{BoxError, BuildError, BuildErrors};
use crate::error_page::ErrorPages;
use crate::health::HealthChecks;
use crate::prometheus::requests::RequestMetrics;
use crate::security::SecurityHeaders;
use crate::session::Keys;
use crate::state::{AppInner, AppState};
use crate::templates::{EngineParts, TemplateEngine};
use crate::url_for::UrlMap;

/// The source named in errors about the core's own settings and routes.
const CORE_SOURCE: &str = "core";

impl AppBuilder {
    /// Binds every extension and builds the app; reports every failure.
    pub async fn build(&mut self) -> Result<App, BuildErrors> {
        let builder = std::mem::replace(self, AppBuilder::new(Config::testing()));
        build(builder).await
    }
}

/// Builds the app: the lifecycle, one named step a line. A describe-only
/// build (`routes`, `check` without a database) binds and mounts but
/// provides nothing and starts nothing.
async fn build(mut b: AppBuilder) -> Result<App, BuildErrors> {
    let describe_only = b.describe_only();
    bind_extensions(&mut b);
    checks::settings(&mut b, describe_only);
    let root = b.resolved_root();
    let instance_path = root.join(&b.core.instance_path);
    if !describe_only {
        provide(&mut b, &instance_path).await;
    }
    let request_metrics = mounts::builtin_routes(&mut b, &root);
    let parts = StateParts::gather(&mut b, root, instance_path, request_metrics);
    if !b.errors.is_empty() {
        return Err(BuildErrors(b.errors));
    }
    let state = app_state(&mut b, parts);
    let router = mounts::router(&mut b, &state);
    if describe_only {
        // Nothing started, so there is nothing to stop.
        let commands = std::mem::take(&mut b.commands);
        return Ok(App::new(state, router, Default::default(), commands));
    }
    start(&mut b, &state).await?;
    Ok(App::new(
        state,
        router,
        crate::lifecycle::StopHooks {
            drain: std::mem::take(&mut b.drain),
            shutdown: std::mem::take(&mut b.shutdown),
        },
        std::mem::take(&mut b.commands),
    ))
}

/// Step 1: every extension's `init_app` in registration order (they may
/// register more), their declared dependencies, then every `finish`.
fn bind_extensions(b: &mut AppBuilder) {
    while let Some(reg) = b.pending.pop_front() {
        b.current = reg.name.clone();
        let ext = reg.ext.clone();
        b.extensions.push(reg);
        if let Err(source) = ext.init_app(b) {
            let error = extension_error(&b.current, "init_app", source);
            b.errors.push(error);
        }
    }
    for (extension, type_id, requires) in std::mem::take(&mut b.requires) {
        if !b.extensions.iter().any(|r| r.type_id == type_id) {
            b.errors.push(BuildError::MissingDependency {
                extension,
                requires: requires.to_owned(),
            });
        }
    }
    for i in 0..b.extensions.len() {
        let (name, ext) = (b.extensions[i].name.clone(), b.extensions[i].ext.clone());
        b.current = name;
        if let Err(source) = ext.finish(b) {
            let error = extension_error(&b.current, "finish", source);
            b.errors.push(error);
        }
    }
    warn_uncollected(b);
    for late in std::mem::take(&mut b.pending) {
        b.errors.push(BuildError::Extension {
            extension: late.name,
            phase: "finish",
            source: "extensions must be registered before `finish`: register it in the factory or in `init_app`".into(),
        });
    }
    b.current = APP_SOURCE.to_owned();
}

/// Contributions left after every `finish`: nobody collects their type (a
/// migration contributed without `Migrate` registered). Logged, since the
/// app still works without them.
fn warn_uncollected(b: &mut AppBuilder) {
    let mut left: Vec<(&str, Vec<&str>)> = Vec::new();
    for list in b.contributions.values() {
        let Some(first) = list.first() else { continue };
        let mut sources: Vec<&str> = list.iter().map(|c| c.source.as_str()).collect();
        sources.dedup();
        left.push((first.type_name, sources));
    }
    left.sort();
    for (type_name, sources) in left {
        tracing::warn!(
            "contributions of `{type_name}` from {} were not collected by any extension: \
             register the extension that gathers them (e.g. `Migrate` for migrations), or \
             stop contributing them",
            sources
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// An extension's failure; a bad config section (`app.section(..)?`) is
/// reported as [`BuildError::Config`] with the key at fault.
fn extension_error(extension: &str, phase: &'static str, source: BoxError) -> BuildError {
    match source.downcast::<ConfigError>() {
        Ok(e) => config_error(extension, *e),
        Err(source) => BuildError::Extension {
            extension: extension.to_owned(),
            phase,
            source,
        },
    }
}

/// Step 3: the instance folder, the providers (pools, stores), the session
/// store they chose, then each route's extractors checked against what
/// was provided (sentinels).
async fn provide(b: &mut AppBuilder, instance_path: &Path) {
    if let Err(e) = std::fs::create_dir_all(instance_path) {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "instance_path".into(),
            message: format!("cannot create `{}`: {e}", instance_path.display()),
        });
    }
    run_providers(b, instance_path).await;
    let provided = Provided {
        config: b.config.clone(),
        core: Arc::new(b.core.clone()),
        values: b.values.clone(),
        instance_path: instance_path.to_path_buf(),
    };
    crate::builder::sessions::resolve(b, &provided);
    crate::sentinel::check_routes(b);
}

/// Runs the providers in order, each bounded by `startup_timeout_secs`
/// (a pool that never connects must not hang the start).
async fn run_providers(b: &mut AppBuilder, instance_path: &std::path::Path) {
    let core = Arc::new(b.core.clone());
    let limit = Duration::from_secs(b.core.startup_timeout_secs);
    for provider in std::mem::take(&mut b.providers) {
        let view = Provided {
            config: b.config.clone(),
            core: core.clone(),
            values: b.values.clone(),
            instance_path: instance_path.to_path_buf(),
        };
        match tokio::time::timeout(limit, (provider.run)(view)).await {
            Ok(Ok(value)) => b
                .values
                .insert_any(provider.type_id, provider.type_name, value),
            Ok(Err(source)) => b.errors.push(BuildError::Extension {
                extension: provider.source,
                phase: "provider",
                source,
            }),
            Err(_) => b.errors.push(BuildError::StartupTimeout {
                extension: provider.source,
                phase: "provider",
                seconds: limit.as_secs(),
            }),
        }
    }
}

/// What the app's state is made of, read from the builder once every
/// route is mounted; each bad setting is a build error on the way.
struct StateParts {
    root: PathBuf,
    instance_path: PathBuf,
    request_metrics: Option<RequestMetrics>,
    urls: UrlMap,
    security_headers: SecurityHeaders,
    request_id_header: http::HeaderName,
    trusted_proxies: crate::client_addr::TrustedProxies,
    config_value: serde_json::Value,
    template_folders: Vec<PathBuf>,
}

impl StateParts {
    /// Step 5: the URL map, response headers, trusted proxies, the
    /// effective configuration and the template sources.
    fn gather(
        b: &mut AppBuilder,
        root: PathBuf,
        instance_path: PathBuf,
        request_metrics: Option<RequestMetrics>,
    ) -> Self {
        let urls = mounts::url_map(b);
        let (security_headers, request_id_header) = checks::response_headers(b);
        let trusted_proxies = checks::trusted_proxies(b);
        let config_value = match b.config.effective(&b.sections) {
            Ok(v) => v,
            Err(e) => {
                b.errors.push(config_error(CORE_SOURCE, e));
                serde_json::Value::Null
            }
        };
        let template_folders = template_sources::gather(b, &root);
        StateParts {
            root,
            instance_path,
            request_metrics,
            urls,
            security_headers,
            request_id_header,
            trusted_proxies,
            config_value,
            template_folders,
        }
    }
}

/// Step 6: the app's state: templates, the values extensions provided,
/// health and deploy checks, metrics collectors, signing keys.
fn app_state(b: &mut AppBuilder, p: StateParts) -> AppState {
    let urls = Arc::new(p.urls);
    let templates = TemplateEngine::new(EngineParts {
        folders: p.template_folders,
        sources: std::mem::take(&mut b.template_sources),
        setup: std::mem::take(&mut b.template_setup),
        urls: urls.clone(),
        config: p.config_value.clone(),
        auto_reload: b.core.templates.auto_reload,
    });
    b.values
        .insert(HealthChecks(std::mem::take(&mut b.health_checks)));
    b.values.insert(std::mem::take(&mut b.deploy_checks));
    b.values
        .insert(crate::prometheus::endpoint::MetricsCollectors(
            std::mem::take(&mut b.metrics_collectors),
        ));
    let keys = Keys::new(b.core.effective_secret_key(), &b.core.secret_key_fallbacks);
    let state = AppState(Arc::new(AppInner {
        config: b.config.clone(),
        effective_config: p.config_value,
        core: b.core.clone(),
        root_path: p.root,
        instance_path: p.instance_path,
        values: std::mem::take(&mut b.values),
        urls,
        templates,
        keys,
        routes: std::mem::take(&mut b.routes),
        extensions: b.extensions.iter().map(|r| r.name.clone()).collect(),
        error_pages: ErrorPages {
            handlers: b.error_handlers.drain(..).collect(),
        },
        security_headers: p.security_headers,
        request_id_header: p.request_id_header,
        request_metrics: p.request_metrics,
        trusted_proxies: p.trusted_proxies,
        limit_store: Arc::new(crate::rate_limit::MemoryLimitStore::new(
            b.core.rate_limit.memory_bytes,
        )),
        draining: std::sync::atomic::AtomicBool::new(false),
    }));
    let _ = b.state_slot.set(Arc::downgrade(&state.0));
    state
}

/// Step 8: the startup hooks, each bounded by `startup_timeout_secs`.
async fn start(b: &mut AppBuilder, state: &AppState) -> Result<(), BuildErrors> {
    let limit = Duration::from_secs(b.core.startup_timeout_secs);
    let errors = crate::lifecycle::run_startup(std::mem::take(&mut b.startup), state, limit).await;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(BuildErrors(errors))
    }
}
