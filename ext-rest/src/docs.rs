//! The API's docs, served by the app itself: the OpenAPI document at
//! `{prefix}/openapi.json` and Swagger UI at `{prefix}/docs/`, its files
//! compiled into the binary (no CDN: it works on a machine with no
//! internet; the validator badge, which would call out, is off).

use std::sync::Arc;

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use phial_core::AppBuilder;
use phial_core::routing::get;
use utoipa_swagger_ui::Config;

use crate::problem::Problem;

/// Mounts the document and the UI under `prefix`.
pub(crate) fn mount(app: &mut AppBuilder, prefix: &str, document: Bytes) {
    let prefix = prefix.trim_end_matches('/').to_owned();
    let spec_url = format!("{prefix}/openapi.json");
    app.route(
        &spec_url,
        get(move || {
            let document = document.clone();
            async move {
                (
                    [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                    document,
                )
            }
        })
        .name("rest_openapi"),
    );
    let config = Arc::new(Config::from(spec_url).validator_url("none"));
    let home = format!("{prefix}/docs/");
    let to_home = home.clone();
    app.route(
        &format!("{prefix}/docs"),
        get(move || {
            let to_home = to_home.clone();
            async move { Redirect::to(&to_home) }
        }),
    );
    let index = config.clone();
    app.route(
        &home,
        get(move || {
            let config = index.clone();
            async move { file("", config) }
        })
        .name("rest_docs"),
    );
    app.route(
        &format!("{home}{{*file}}"),
        get(move |Path(path): Path<String>| {
            let config = config.clone();
            async move { file(&path, config) }
        }),
    );
}

fn file(path: &str, config: Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(path, config) {
        Ok(Some(file)) => {
            let mut res = (StatusCode::OK, file.bytes.into_owned()).into_response();
            let headers = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&file.content_type) {
                headers.insert(CONTENT_TYPE, v);
            }
            if file.gzpipped {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
        Ok(None) => {
            Problem::new(StatusCode::NOT_FOUND, format!("no docs file `{path}`")).into_response()
        }
        Err(e) => Problem::internal(&e).into_response(),
    }
}
