//! Where an app's `templates/` and `static/` come from: the source folders
//! while developing (edited files show at once), files embedded in the
//! binary in release builds, so one file deploys alone. The facade's
//! `phial::assets!()` macro picks one by build profile; this is what it
//! hands to [`AppBuilder::assets`](crate::AppBuilder::assets).

use std::borrow::Cow;
use std::path::PathBuf;

/// One embedded file: its path below the folder and its bytes.
pub type EmbeddedFile = (Cow<'static, str>, Cow<'static, [u8]>);

/// The app's templates and static files.
///
/// ```
/// use phial_core::{App, Assets, Config};
/// # async fn doc() {
/// // What `phial::assets!()` gives in a debug build:
/// let app = App::builder(Config::testing())
///     .assets(Assets::folders(env!("CARGO_MANIFEST_DIR")))
///     .build()
///     .await
///     .unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Assets {
    pub(crate) kind: AssetsKind,
}

#[derive(Debug, Clone)]
pub(crate) enum AssetsKind {
    /// Read from `<root>/templates` and `<root>/static`; `instance/` too.
    Folders(PathBuf),
    /// Compiled in; `instance/` is relative to the working directory.
    Embedded {
        templates: Vec<EmbeddedFile>,
        statics: Vec<EmbeddedFile>,
    },
}

impl Assets {
    /// Templates, static files and `instance/` under `root` (the crate's
    /// folder, `env!("CARGO_MANIFEST_DIR")`): same as
    /// [`AppBuilder::root_path`](crate::AppBuilder::root_path).
    pub fn folders(root: impl Into<PathBuf>) -> Self {
        Assets {
            kind: AssetsKind::Folders(root.into()),
        }
    }

    /// Templates and static files compiled into the binary (paths below
    /// `templates/` and `static/`). Files on disk still win when the
    /// configuration's `root_path` points at folders (an override in a
    /// deployment); `instance/` is relative to the working directory unless
    /// `instance_path` or `root_path` say otherwise.
    pub fn embedded(templates: Vec<EmbeddedFile>, statics: Vec<EmbeddedFile>) -> Self {
        Assets {
            kind: AssetsKind::Embedded { templates, statics },
        }
    }

    /// Whether the files are compiled in.
    pub fn is_embedded(&self) -> bool {
        matches!(self.kind, AssetsKind::Embedded { .. })
    }
}
