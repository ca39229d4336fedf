//! The admin extension: its models, custom pages and the assets it
//! embeds (templates, CSS and JS), mounted under `admin.prefix`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use phial_core::{AppBuilder, BoxError, Extension};
use phial_orm::policy::Action;

use crate::config::{AdminConfig, SECTION};
use crate::custom::AdminPage;
use crate::view::{AdminEntity, ModelView};
use crate::{access, cli, migrations, model, pages, writes};

/// The admin's templates, embedded (an app's own `admin/*.html` in its
/// template folder takes precedence).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "admin/base.html",
        include_str!("../assets/templates/base.html"),
    ),
    (
        "admin/login.html",
        include_str!("../assets/templates/login.html"),
    ),
    (
        "admin/dashboard.html",
        include_str!("../assets/templates/dashboard.html"),
    ),
    (
        "admin/list.html",
        include_str!("../assets/templates/list.html"),
    ),
    (
        "admin/_rows.html",
        include_str!("../assets/templates/_rows.html"),
    ),
    (
        "admin/detail.html",
        include_str!("../assets/templates/detail.html"),
    ),
    (
        "admin/form.html",
        include_str!("../assets/templates/form.html"),
    ),
    (
        "admin/conflict.html",
        include_str!("../assets/templates/conflict.html"),
    ),
    (
        "admin/delete.html",
        include_str!("../assets/templates/delete.html"),
    ),
    (
        "admin/bulk_delete.html",
        include_str!("../assets/templates/bulk_delete.html"),
    ),
    (
        "admin/log.html",
        include_str!("../assets/templates/log.html"),
    ),
    (
        "admin/entry.html",
        include_str!("../assets/templates/entry.html"),
    ),
    (
        "admin/page.html",
        include_str!("../assets/templates/page.html"),
    ),
    (
        "admin/error.html",
        include_str!("../assets/templates/error.html"),
    ),
    (
        "admin/access_users.html",
        include_str!("../assets/templates/access_users.html"),
    ),
    (
        "admin/access_user.html",
        include_str!("../assets/templates/access_user.html"),
    ),
    (
        "admin/access_roles.html",
        include_str!("../assets/templates/access_roles.html"),
    ),
    (
        "admin/access_role.html",
        include_str!("../assets/templates/access_role.html"),
    ),
];

/// CSS and JS, embedded and served at `{prefix}/static/`: no CDN.
static STATIC: &[(&str, &[u8])] = &[
    ("admin.css", include_bytes!("../assets/static/admin.css")),
    ("admin.js", include_bytes!("../assets/static/admin.js")),
];

/// The admin extension (see the crate docs). Needs `Orm` and `Migrate`.
#[derive(Default)]
pub struct Admin {
    models: Vec<Arc<dyn model::AdminModel>>,
    pages: Vec<AdminPage>,
    problems: Vec<String>,
    live_contributed: AtomicBool,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field(
                "models",
                &self
                    .models
                    .iter()
                    .map(|m| m.spec().meta.table.clone())
                    .collect::<Vec<_>>(),
            )
            .field("pages", &self.pages)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// The extension, with no model yet.
    pub fn new() -> Self {
        Admin::default()
    }

    /// Adds a model to the panel.
    pub fn model<E: AdminEntity>(mut self, view: ModelView<E>) -> Self {
        self.problems.extend(view.spec.check());
        if self.models.iter().any(|m| m.spec().slug == view.spec.slug) {
            self.problems.push(format!(
                "two admin views at `{0}`: give one `.slug(\"...\")`",
                view.spec.slug
            ));
        }
        self.models.push(model::Mounted::erased(view));
        self
    }

    /// Adds a page of your own to the menu.
    pub fn page(mut self, page: AdminPage) -> Self {
        self.pages.push(page);
        self
    }

    fn tables(&self) -> Vec<String> {
        self.models
            .iter()
            .map(|m| m.spec().meta.table.clone())
            .collect()
    }

    /// Asks the socket extension for the live namespace, once: staff
    /// signed in to the admin (`phial::auth`, resolved when the socket
    /// connected) connect, with their roles' grants.
    fn contribute_live(&self, app: &mut AppBuilder, cfg: &AdminConfig) {
        if !app.extension_names().contains(&"socket")
            || self.models.is_empty()
            || self.live_contributed.swap(true, Ordering::SeqCst)
        {
            return;
        }
        app.contribute(phial_orm::live::LiveFeed::new(
            cfg.live_namespace.clone(),
            self.tables(),
            |_app, session| {
                let who = phial_core::identity::resolved_for(session?)?;
                who.get(access::STAFF_REALM)?
                    .get::<phial_orm::policy::Caller>()
                    .cloned()
            },
        ));
    }
}

impl Extension for Admin {
    fn name(&self) -> &str {
        "admin"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let cfg: AdminConfig = app.section(SECTION)?;
        if let Some((key, message)) = cfg.check() {
            return Err(format!("config key `admin.{key}` {message}").into());
        }
        if let Some(p) = self.problems.first() {
            return Err(p.clone().into());
        }
        app.require::<phial_orm::Orm>();
        app.require::<phial_migrate::Migrate>();
        app.contribute(phial_migrate::Contributed::new(migrations::CreateAdminUser));
        app.contribute(phial_migrate::Contributed::new(
            migrations::CreateAdminRolesAndLog,
        ));
        app.contribute(phial_migrate::Contributed::new(
            migrations::AddLogCascadeAndHidden,
        ));
        app.command(cli::command(), cli::run);
        for (name, source) in TEMPLATES {
            app.template_source(*name, *source);
        }
        app.static_embedded("admin_static", &format!("{}/static", cfg.prefix), STATIC);
        pages::routes(app, &cfg.prefix);
        // Staff sign in through `phial::auth`, in a realm of their own.
        if !app.extension_names().contains(&"auth:staff") {
            app.register(access::realm(&cfg.prefix, cfg.session_idle_minutes));
        }
        self.contribute_live(app, &cfg);
        Ok(())
    }

    fn finish(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let cfg: AdminConfig = app.section(SECTION)?;
        self.contribute_live(app, &cfg);
        let live = app.extension_names().contains(&"socket").then(|| {
            app.config()
                .get::<String>("socket.path")
                .unwrap_or_else(|_| "/socket.io".into())
        });
        let title = cfg
            .title
            .clone()
            .unwrap_or_else(|| format!("{} admin", app.core_config().app_name()));
        for m in &self.models {
            let spec = m.spec();
            let mut actions = vec![Action::List, Action::Read];
            for (on, action) in [
                (spec.can.create, Action::Create),
                (spec.can.edit, Action::Change),
                (spec.can.delete, Action::Delete),
            ] {
                if on {
                    actions.push(action);
                }
            }
            phial_orm::doors::Doors::add(
                app,
                phial_orm::doors::Door {
                    table: spec.meta.table.clone(),
                    kind: phial_orm::doors::DoorKind::Admin {
                        url: format!("{}/{}/", cfg.prefix, spec.slug),
                        actions,
                        export: spec.can.export,
                        bulk: m
                            .actions()
                            .into_iter()
                            .map(|(name, _, needs)| (name, writes::action_of(needs)))
                            .collect(),
                    },
                    meta: Some(spec.meta.clone()),
                    policy: None,
                    list: Some(phial_orm::query::indexes::ListColumns {
                        sort: spec
                            .order
                            .iter()
                            .map(|(n, _)| n.clone())
                            .chain(spec.sortable.iter().cloned())
                            .fold(Vec::new(), |mut v, n| {
                                if !v.contains(&n) {
                                    v.push(n);
                                }
                                v
                            }),
                        filter: spec.filters.clone(),
                        search: spec.search.clone(),
                    }),
                },
            );
        }
        app.insert(Arc::new(pages::Registry {
            cfg,
            title,
            models: self.models.clone(),
            pages: self.pages.clone(),
            live,
        }));
        Ok(())
    }
}
