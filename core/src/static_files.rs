//! Static files: folders on disk (tower-http's `ServeFile` does ranges,
//! `Last-Modified`, `HEAD`) behind checks it lacks — no dot-files, no `..`,
//! no symlink that leaves the folder — plus `Cache-Control` (`ETag` comes
//! from `ServeFile`, embedded files get a content hash); and
//! files embedded in the binary, for extensions' own assets.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, StatusCode};
use sha2::Digest;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::error::HttpError;

enum Source {
    Folder(PathBuf),
    Embedded(&'static [(&'static str, &'static [u8])]),
    Files(Vec<crate::assets::EmbeddedFile>),
}

/// A static folder or embedded file set, mounted under a URL prefix.
pub(crate) struct StaticMount {
    pub(crate) name: String,
    pub(crate) url_path: String,
    pub(crate) source_ext: String,
    source: Source,
}

impl StaticMount {
    pub(crate) fn folder(
        name: String,
        url_path: String,
        folder: PathBuf,
        source_ext: String,
    ) -> Self {
        StaticMount {
            name,
            url_path,
            source_ext,
            source: Source::Folder(folder),
        }
    }

    pub(crate) fn embedded(
        name: String,
        url_path: String,
        files: &'static [(&'static str, &'static [u8])],
        source_ext: String,
    ) -> Self {
        StaticMount {
            name,
            url_path,
            source_ext,
            source: Source::Embedded(files),
        }
    }

    /// A folder on disk or compiled in.
    pub(crate) fn from_folder(
        name: String,
        url_path: String,
        folder: crate::assets::Folder,
        source_ext: String,
    ) -> Self {
        match folder {
            crate::assets::Folder::Path(path) => Self::folder(name, url_path, path, source_ext),
            crate::assets::Folder::Embedded(files) => {
                Self::files(name, url_path, files, source_ext)
            }
        }
    }

    /// Files compiled into the app binary (`phial::assets!()`).
    pub(crate) fn files(
        name: String,
        url_path: String,
        files: Vec<crate::assets::EmbeddedFile>,
        source_ext: String,
    ) -> Self {
        StaticMount {
            name,
            url_path,
            source_ext,
            source: Source::Files(files),
        }
    }

    /// Relative folders are taken from `root`.
    pub(crate) fn resolve(&mut self, root: &Path) {
        if let Source::Folder(f) = &mut self.source {
            *f = root.join(&*f);
        }
    }

    /// The handler serving `filename` for this mount.
    pub(crate) fn into_server(self, max_age_secs: u64) -> StaticServer {
        let cache_control = if max_age_secs == 0 {
            HeaderValue::from_static("no-cache")
        } else {
            HeaderValue::from_str(&format!("public, max-age={max_age_secs}"))
                .expect("digits are a valid header value")
        };
        let kind = match self.source {
            Source::Folder(folder) => Kind::Folder(folder.canonicalize().unwrap_or(folder)),
            Source::Embedded(files) => Kind::Embedded(
                files
                    .iter()
                    .map(|(name, bytes)| embedded(name, Cow::Borrowed(bytes)))
                    .collect(),
            ),
            Source::Files(files) => Kind::Embedded(
                files
                    .into_iter()
                    .map(|(name, bytes)| embedded(&name, bytes))
                    .collect(),
            ),
        };
        StaticServer(Arc::new(ServerInner {
            kind,
            cache_control,
        }))
    }
}

fn embedded(name: &str, bytes: Cow<'static, [u8]>) -> (String, Embedded) {
    let etag = format!("\"{}\"", hex::encode(&sha2::Sha256::digest(&bytes)[..8]));
    let mime = mime_guess::from_path(name)
        .first_or_octet_stream()
        .to_string();
    (
        name.to_owned(),
        Embedded {
            bytes: match bytes {
                Cow::Borrowed(b) => bytes::Bytes::from_static(b),
                Cow::Owned(v) => bytes::Bytes::from(v),
            },
            etag: hv(&etag),
            mime: hv(&mime),
        },
    )
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

struct Embedded {
    bytes: bytes::Bytes,
    etag: HeaderValue,
    mime: HeaderValue,
}

enum Kind {
    Folder(PathBuf),
    Embedded(HashMap<String, Embedded>),
}

struct ServerInner {
    kind: Kind,
    cache_control: HeaderValue,
}

/// Serves one mount.
#[derive(Clone)]
pub(crate) struct StaticServer(Arc<ServerInner>);

/// Refuses `..`, `.`, dot-files, empty segments, backslashes and NUL.
fn check_name(name: &str) -> Result<(), HttpError> {
    let bad = name.is_empty()
        || name
            .split('/')
            .any(|seg| seg.is_empty() || seg.starts_with('.') || seg.contains(['\\', '\0']));
    if bad {
        return Err(HttpError::not_found(format!(
            "no static file `{name}`: paths may not contain `..`, hidden (dot) files or empty segments"
        )));
    }
    Ok(())
}

fn not_found(name: &str) -> HttpError {
    HttpError::not_found(format!("no static file `{name}`"))
}

fn etag_matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    crate::conditional::none_match(headers.get(IF_NONE_MATCH), etag)
}

impl StaticServer {
    pub(crate) async fn serve(&self, name: &str, req: Request) -> Response {
        match self.try_serve(name, req).await {
            Ok(res) => res,
            Err(e) => e.into_response(),
        }
    }

    async fn try_serve(&self, name: &str, req: Request) -> Result<Response, HttpError> {
        check_name(name)?;
        match &self.0.kind {
            Kind::Embedded(files) => {
                let file = files.get(name).ok_or_else(|| not_found(name))?;
                let mut res = if etag_matches(req.headers(), &file.etag) {
                    StatusCode::NOT_MODIFIED.into_response()
                } else {
                    let mut res = file.bytes.clone().into_response();
                    res.headers_mut().insert(CONTENT_TYPE, file.mime.clone());
                    res
                };
                res.headers_mut().insert(ETAG, file.etag.clone());
                res.headers_mut()
                    .insert(CACHE_CONTROL, self.0.cache_control.clone());
                Ok(res)
            }
            Kind::Folder(root) => {
                let path = tokio::fs::canonicalize(root.join(name))
                    .await
                    .map_err(|_| not_found(name))?;
                if !path.starts_with(root) {
                    tracing::warn!(
                        file = name,
                        "refused a static path that leaves the folder (symlink)"
                    );
                    return Err(not_found(name));
                }
                let meta = tokio::fs::metadata(&path)
                    .await
                    .map_err(|_| not_found(name))?;
                if !meta.is_file() {
                    return Err(not_found(name));
                }
                // tower-http's ServeFile answers If-None-Match and
                // If-Modified-Since itself, with its own strong ETag.
                let mut res = match ServeFile::new(&path).oneshot(req).await {
                    Ok(res) => res.map(axum::body::Body::new),
                    Err(e) => {
                        return Err(HttpError::internal(format!(
                            "could not read static file `{name}`: {e}"
                        )));
                    }
                };
                if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
                    res.headers_mut()
                        .insert(CACHE_CONTROL, self.0.cache_control.clone());
                }
                Ok(res)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            ".env",
            "a/.git/config",
            "",
            "a//b",
            "a\\..\\b",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in ["site.css", "css/site.css", "img/a.b.png"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
    }
}
