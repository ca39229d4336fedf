//! Where templates and static files come from: the root path, embedded
//! assets, extra folders, template sources and static mounts.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use super::AppBuilder;
use crate::assets::{Assets, AssetsKind, Folder};
use crate::static_files::StaticMount;

impl AppBuilder {
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
}
