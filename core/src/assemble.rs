//! What `AppBuilder::build` does with what the builder collected: binds
//! the extensions, checks dependencies and settings, runs providers, checks
//! routes against the state, assembles the router and runs startup hooks.
//! Every failure is collected so one start reports everything.
//!
//! One file: the build's lifecycle in the order it runs, so a maintainer
//! reads it top to bottom.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request};
use axum::response::IntoResponse;

use crate::app::App;
use crate::builder::{APP_SOURCE, AppBuilder, Provided, config_error};
use crate::config::ConfigError;
use crate::error::{BoxError, BuildError, BuildErrors, HttpError};
use crate::error_page::ErrorPages;
use crate::health::{self, HealthChecks};
use crate::routing::RouteInfo;
use crate::security::SecurityHeaders;
use crate::session::Keys;
use crate::state::{AppInner, AppState};
use crate::templates::{EngineParts, TemplateEngine};
use crate::url::UrlMap;

const CORE_SOURCE: &str = "core";

pub(crate) async fn build(mut b: AppBuilder) -> Result<App, BuildErrors> {
    let describe_only = b.describe_only();
    bind_extensions(&mut b);
    if !describe_only {
        check_secret(&mut b);
        crate::password::configure(&b.core.password);
    }
    check_settings(&mut b);
    let root = b.resolved_root();
    let instance_path = root.join(&b.core.instance_path);
    if !describe_only {
        if let Err(e) = std::fs::create_dir_all(&instance_path) {
            b.errors.push(BuildError::Config {
                extension: CORE_SOURCE.into(),
                key: "instance_path".into(),
                message: format!("cannot create `{}`: {e}", instance_path.display()),
            });
        }
        run_providers(&mut b, &instance_path).await;
        let provided = Provided {
            config: b.config.clone(),
            core: Arc::new(b.core.clone()),
            values: b.values.clone(),
            instance_path: instance_path.clone(),
        };
        crate::builder::sessions::resolve(&mut b, &provided);
        crate::sentinel::check_routes(&mut b);
    }
    mount_static(&mut b, &root);
    mount_health(&mut b);
    let request_metrics = mount_metrics(&mut b);
    let urls = url_map(&mut b);
    let security_headers =
        SecurityHeaders::from_config(&b.core.security).unwrap_or_else(|errors| {
            b.errors.extend(errors);
            SecurityHeaders::default()
        });
    let request_id_header = static_header_name(&b.core.request_id.header).unwrap_or_else(|| {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "request_id.header".into(),
            message: "is not a valid header name (use letters, digits and `-`)".into(),
        });
        http::HeaderName::from_static("x-request-id")
    });
    // Nearly every response has these on top of ours (axum sets the
    // length of a body of known size).
    let mut security_headers = security_headers
        .with_slot(http::header::CONTENT_TYPE)
        .with_slot(http::header::CONTENT_LENGTH);
    if b.core.request_id.enabled {
        security_headers = security_headers.with_slot(request_id_header.clone());
    }
    let trusted_proxies = trusted_proxies(&mut b);
    let config_value = match b.config.effective(&b.sections) {
        Ok(v) => v,
        Err(e) => {
            b.errors.push(config_error(CORE_SOURCE, e));
            serde_json::Value::Null
        }
    };
    let mut folders = Vec::new();
    if reads_app_folders(&b) {
        folders.push(root.join(&b.core.templates.folder));
    }
    // Compiled-in templates come after every folder on disk; among them,
    // later sources win: extensions' own, then embedded blueprint folders,
    // then the app's (an app overrides a blueprint, which overrides an
    // extension).
    let mut embedded = Vec::new();
    for folder in std::mem::take(&mut b.template_folders) {
        match folder {
            crate::assets::Folder::Path(path) => folders.push(root.join(path)),
            crate::assets::Folder::Embedded(files) => embedded.extend(files),
        }
    }
    if let Some((templates, _)) = b.embedded.take() {
        embedded.extend(templates);
    }
    if !embedded.is_empty() {
        let mut sources = Vec::with_capacity(embedded.len());
        for (name, bytes) in embedded {
            match bytes_to_str(bytes) {
                Ok(text) => sources.push((name.into_owned(), text)),
                Err(()) => b.errors.push(BuildError::Template {
                    name: name.into_owned(),
                    message: "is not UTF-8 text: save it as UTF-8".into(),
                }),
            }
        }
        // Later sources win: the app's override extensions' ones.
        b.template_sources.append(&mut sources);
    }
    if !b.errors.is_empty() {
        return Err(BuildErrors(b.errors));
    }
    let urls = Arc::new(urls);
    let templates = TemplateEngine::new(EngineParts {
        folders,
        sources: std::mem::take(&mut b.template_sources),
        setup: std::mem::take(&mut b.template_setup),
        urls: urls.clone(),
        config: config_value.clone(),
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
        effective_config: config_value,
        core: b.core.clone(),
        root_path: root,
        instance_path,
        values: std::mem::take(&mut b.values),
        urls,
        templates,
        keys,
        routes: std::mem::take(&mut b.routes),
        extensions: b.extensions.iter().map(|r| r.name.clone()).collect(),
        error_pages: ErrorPages {
            handlers: b.error_handlers.drain(..).collect(),
        },
        security_headers,
        request_id_header,
        request_metrics,
        trusted_proxies,
        limit_store: Arc::new(crate::rate_limit::MemoryLimitStore::new(
            b.core.rate_limit.memory_bytes,
        )),
    }));

    let _ = b.state_slot.set(Arc::downgrade(&state.0));
    let router = assemble_router(&mut b, &state);
    if describe_only {
        // Nothing started, so there is nothing to stop.
        return Ok(App::new(
            state,
            router,
            Default::default(),
            std::mem::take(&mut b.commands),
        ));
    }
    let startup_limit = Duration::from_secs(b.core.startup_timeout_secs);
    let errors =
        crate::lifecycle::run_startup(std::mem::take(&mut b.startup), &state, startup_limit).await;
    if !errors.is_empty() {
        return Err(BuildErrors(errors));
    }
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

fn bytes_to_str(
    bytes: std::borrow::Cow<'static, [u8]>,
) -> Result<std::borrow::Cow<'static, str>, ()> {
    use std::borrow::Cow;
    match bytes {
        Cow::Borrowed(b) => std::str::from_utf8(b).map(Cow::Borrowed).map_err(drop),
        Cow::Owned(v) => String::from_utf8(v).map(Cow::Owned).map_err(drop),
    }
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

/// `server.trusted_proxies`, parsed; each bad entry is a build error.
fn trusted_proxies(b: &mut AppBuilder) -> crate::client_addr::TrustedProxies {
    crate::client_addr::TrustedProxies::parse(&b.core.server.trusted_proxies).unwrap_or_else(
        |bad| {
            for (i, message) in bad {
                b.errors.push(BuildError::Config {
                    extension: CORE_SOURCE.into(),
                    key: format!("server.trusted_proxies[{i}]"),
                    message,
                });
            }
            Default::default()
        },
    )
}

/// A header name whose clones cost nothing per request (leaked once per app).
fn static_header_name(name: &str) -> Option<http::HeaderName> {
    let lower = name.to_ascii_lowercase();
    http::HeaderName::from_bytes(lower.as_bytes()).ok()?;
    Some(http::HeaderName::from_static(Box::leak(
        lower.into_boxed_str(),
    )))
}

fn check_settings(b: &mut AppBuilder) {
    if let Err((key, message)) = crate::cors::Cors::from_config(b.core.cors.clone()).layer() {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: format!("cors.{key}"),
            message,
        });
    }
    if b.core.session.same_site == crate::config::SameSite::None && !b.core.session.secure {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "session.same_site".into(),
            message: "`None` needs `session.secure = true` (browsers drop SameSite=None \
                      cookies that are not Secure); or use `Lax`"
                .into(),
        });
    }
    if b.core.csrf.enabled && !b.core.session.enabled {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "csrf.enabled".into(),
            message:
                "CSRF tokens live in the session: turn session.enabled on, or csrf.enabled off"
                    .into(),
        });
    }
}

fn check_secret(b: &mut AppBuilder) {
    match b.core.secret_key_problem() {
        Some(problem) if b.config.profile().is_production() => b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: "secret_key".into(),
            message: format!(
                "{problem}: production needs a random secret of at least {} characters. Set PHIAL_SECRET_KEY, \
                 e.g. to the output of `openssl rand -hex 32` (or this binary's `secret` command)",
                crate::config::MIN_SECRET_KEY_LEN
            ),
        }),
        Some(_) if b.core.secret_key.is_none() => {
            tracing::debug!("no secret_key set: using the development key (production refuses it)");
        }
        _ => {}
    }
    if let Some((i, problem)) = b.core.fallback_key_problem()
        && b.config.profile().is_production()
    {
        b.errors.push(BuildError::Config {
            extension: CORE_SOURCE.into(),
            key: format!("secret_key_fallbacks[{i}]"),
            message: format!(
                "{problem}: an old key still signs in whoever holds it, so production needs \
                 each fallback as strong as the key ({} characters or more); drop it from \
                 the list once its sessions have expired",
                crate::config::MIN_SECRET_KEY_LEN
            ),
        });
    }
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

/// Whether the app's own folders are read from disk: always, unless its
/// files are compiled in and no `root_path` in the configuration points at
/// folders that override them.
fn reads_app_folders(b: &AppBuilder) -> bool {
    b.embedded.is_none() || b.core.root_path.is_some()
}

fn mount_static(b: &mut AppBuilder, root: &std::path::Path) {
    let mut mounts = std::mem::take(&mut b.static_mounts);
    let app_folder = root.join(&b.core.static_files.folder);
    let url = b.core.static_files.url_path.clone();
    let embedded = b
        .embedded
        .as_mut()
        .map(|(_, statics)| std::mem::take(statics));
    if reads_app_folders(b) && app_folder.is_dir() {
        mounts.insert(
            0,
            crate::static_files::StaticMount::folder(
                "static".into(),
                url,
                app_folder,
                APP_SOURCE.into(),
            ),
        );
    } else if let Some(files) = embedded.filter(|f| !f.is_empty()) {
        mounts.insert(
            0,
            crate::static_files::StaticMount::files("static".into(), url, files, APP_SOURCE.into()),
        );
    }
    for mut mount in mounts {
        mount.resolve(root);
        let path = format!("{}/{{*filename}}", mount.url_path.trim_end_matches('/'));
        let (name, source) = (mount.name.clone(), mount.source_ext.clone());
        let server = mount.into_server(b.core.static_files.max_age_secs);
        let handler = move |Path(filename): Path<String>, req: Request| {
            let server = server.clone();
            async move { server.serve(&filename, req).await }
        };
        let previous = std::mem::replace(&mut b.current, source);
        b.route(&path, crate::routing::get(handler).name(name));
        b.current = previous;
    }
}

fn mount_health(b: &mut AppBuilder) {
    if !b.core.health.enabled {
        return;
    }
    let (live, ready) = (
        b.core.health.live_path.clone(),
        b.core.health.ready_path.clone(),
    );
    let previous = std::mem::replace(&mut b.current, CORE_SOURCE.into());
    b.route(&live, crate::routing::get(health::live).name("healthz"));
    b.route(&ready, crate::routing::get(health::ready).name("readyz"));
    b.current = previous;
}

/// Mounts the metrics page (unless it has a listener of its own) and
/// says whether requests are recorded: only while the page is served
/// somewhere, and Phial's recorder is the process's.
fn mount_metrics(b: &mut AppBuilder) -> Option<crate::prometheus::requests::RequestMetrics> {
    let cfg = &b.core.metrics;
    if !cfg.served(b.config.profile().is_production()) {
        return None;
    }
    crate::prometheus::recorder::handle()?;
    if !cfg.bind_set() {
        let path = cfg.path.clone();
        let previous = std::mem::replace(&mut b.current, CORE_SOURCE.into());
        b.route(
            &path,
            crate::routing::get(crate::prometheus::endpoint::scrape).name("metrics"),
        );
        b.current = previous;
    }
    Some(Default::default())
}

fn url_map(b: &mut AppBuilder) -> UrlMap {
    let mut map = UrlMap::default();
    let mut seen: Vec<&RouteInfo> = Vec::new();
    for route in &b.routes {
        let Some(name) = &route.name else { continue };
        if let Some(first) = seen.iter().find(|r| r.name.as_ref() == Some(name)) {
            b.errors.push(BuildError::DuplicateEndpoint {
                name: name.clone(),
                first: first.path.clone(),
                second: route.path.clone(),
            });
            continue;
        }
        seen.push(route);
        map.insert(name.clone(), route.path.clone());
    }
    map
}

async fn fallback(req: Request) -> axum::response::Response {
    HttpError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
    .into_response()
}

fn assemble_router(b: &mut AppBuilder, state: &AppState) -> Router {
    let mut router = std::mem::take(&mut b.router);
    if state.0.request_metrics.is_some() {
        // Before the fallback: unmatched requests have no pattern.
        router = router.route_layer(crate::prometheus::requests::RouteLabelLayer);
    }
    let mut router = router.fallback(fallback);
    for layer in b.layers.drain(..) {
        router = layer(router);
    }
    // The core service wraps the finished router from outside (see
    // `App::new`): `Router::layer` would box it once more per route.
    router.with_state(state.clone())
}
