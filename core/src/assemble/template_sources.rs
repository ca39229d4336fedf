//! Where the app's templates come from, in the order they win: folders on
//! disk (the app's, then blueprints' and extensions'), then compiled-in
//! sources (extensions' own, then embedded blueprint folders, then the
//! app's: an app overrides a blueprint, which overrides an extension).

use crate::builder::AppBuilder;
use crate::error::BuildError;

/// The template folders to read, in order; compiled-in templates are
/// appended to the builder's sources (a file that is not UTF-8 is a build
/// error).
pub(super) fn gather(b: &mut AppBuilder, root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut folders = Vec::new();
    if super::mounts::reads_app_folders(b) {
        folders.push(root.join(&b.core.templates.folder));
    }
    // Compiled-in templates come after every folder on disk; among them,
    // later sources win.
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
    folders
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
