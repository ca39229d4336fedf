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

/// A folder of templates or static files: a path on disk, or files
/// compiled into the binary. `phial::folder!("admin/templates")` gives the
/// path below the crate in debug builds and the embedded files in release
/// builds; a plain path (`"themes/dark"`) is always read from disk,
/// relative to the root path.
///
/// ```
/// use phial_core::{Blueprint, Folder};
/// let bp = Blueprint::new("admin").template_folder("admin/templates");
/// let embedded = Folder::Embedded(vec![("page.html".into(), b"<p>hi</p>"[..].into())]);
/// let bp = bp.template_folder(embedded);
/// ```
#[derive(Debug, Clone)]
pub enum Folder {
    /// Read from disk; relative paths start at the app's root path.
    Path(PathBuf),
    /// Compiled in: each file's path below the folder and its bytes.
    Embedded(Vec<EmbeddedFile>),
}

impl From<PathBuf> for Folder {
    fn from(path: PathBuf) -> Self {
        Folder::Path(path)
    }
}

impl From<&std::path::Path> for Folder {
    fn from(path: &std::path::Path) -> Self {
        Folder::Path(path.to_path_buf())
    }
}

impl From<&str> for Folder {
    fn from(path: &str) -> Self {
        Folder::Path(path.into())
    }
}

impl From<String> for Folder {
    fn from(path: String) -> Self {
        Folder::Path(path.into())
    }
}
