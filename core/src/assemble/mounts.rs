//! The routes the core mounts itself (the app's and blueprints' static
//! files, health checks, the metrics page), the URL map of every named
//! route, and the finished router.

use axum::Router;
use axum::extract::{Path, Request};
use axum::response::IntoResponse;

use crate::builder::{APP_SOURCE, AppBuilder};
use crate::error::{BuildError, HttpError};
use crate::health;
use crate::prometheus::requests::RequestMetrics;
use crate::routing::RouteInfo;
use crate::state::AppState;
use crate::url_for::UrlMap;

use super::CORE_SOURCE;

/// Step 4: static files, health checks and the metrics page; says whether
/// requests are recorded.
pub(super) fn builtin_routes(b: &mut AppBuilder, root: &std::path::Path) -> Option<RequestMetrics> {
    mount_static(b, root);
    mount_health(b);
    mount_metrics(b)
}

/// Whether the app's own folders are read from disk: always, unless its
/// files are compiled in and no `root_path` in the configuration points at
/// folders that override them.
pub(super) fn reads_app_folders(b: &AppBuilder) -> bool {
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
fn mount_metrics(b: &mut AppBuilder) -> Option<RequestMetrics> {
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

pub(super) fn url_map(b: &mut AppBuilder) -> UrlMap {
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

/// Step 7: the router with its route layers, the fallback and the app's
/// layers, bound to the state.
pub(super) fn router(b: &mut AppBuilder, state: &AppState) -> Router {
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
