//! The panel's pages. Every page but the sign-in form takes [`Ctx`]: the
//! signed-in staff user (or a redirect to sign in), the app, the
//! database, templates and the policies their permissions are checked
//! against.
//!
//! One file: `Ctx`, the extractor every page takes, with the helpers and
//! the route table that use it. One unit with `writes.rs` and `custom.rs`:
//! `Ctx` hands pages the [`Writer`] and the custom pages, which take `Ctx`
//! and the [`Registry`] back, so they import each other by design.

pub(crate) mod auth;
pub(crate) mod bulk;
pub(crate) mod cells;
pub(crate) mod choices;
pub(crate) mod custom;
pub(crate) mod dashboard;
pub(crate) mod edit;
pub(crate) mod export;
pub(crate) mod list;
pub(crate) mod log;
pub(crate) mod reach;
pub(crate) mod related;
pub(crate) mod staff;
pub(crate) mod write_failed;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use http::request::Parts;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use phial_core::{AppState, HttpError, Session, Templates};
use phial_orm::Db;
use phial_orm::policy::{Action, Policies};
use sea_orm::Condition;
use serde::Serialize;
use serde_json::Value as Json;

use crate::access::{Permission, STAFF_REALM, Staff};
use crate::audit_entries::Who;
use crate::config::AdminConfig;
use crate::custom::AdminPage;
use crate::model::{AdminModel, WriteError};
use crate::writes::Writer;

/// Everything the pages share, in the app's state.
pub(crate) struct Registry {
    pub(crate) cfg: AdminConfig,
    pub(crate) title: String,
    pub(crate) models: Vec<Arc<dyn AdminModel>>,
    pub(crate) pages: Vec<AdminPage>,
    /// The Socket.IO path, when the socket extension serves live updates.
    pub(crate) live: Option<String>,
}

impl Registry {
    pub(crate) fn model(&self, slug: &str) -> Option<&Arc<dyn AdminModel>> {
        self.models.iter().find(|m| m.spec().slug == slug)
    }

    pub(crate) fn by_table(&self, table: &str) -> Option<&Arc<dyn AdminModel>> {
        self.models.iter().find(|m| m.spec().meta.table == table)
    }

    pub(crate) fn url(&self, rest: &str) -> String {
        format!("{}/{}", self.cfg.prefix, rest.trim_start_matches('/'))
    }
}

/// A signed-in staff user's request.
pub(crate) struct Ctx {
    pub(crate) app: AppState,
    pub(crate) reg: Arc<Registry>,
    pub(crate) staff: Staff,
    pub(crate) session: Session,
    pub(crate) tpl: Templates,
    pub(crate) db: Db,
    pub(crate) policies: Policies,
}

fn internal(e: impl std::fmt::Display) -> Response {
    HttpError::internal(e.to_string()).into_response()
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let reg = app
            .get::<Arc<Registry>>()
            .cloned()
            .ok_or_else(|| internal("the admin's registry is missing"))?;
        let session = Session::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        // Whether the session named a staff sign-in before it was checked:
        // if it is gone afterwards, it ended (idle, signed out elsewhere, a
        // new password, deactivated).
        let had_sign_in = session
            .get::<std::collections::BTreeMap<String, String>>("_auth")
            .is_some_and(|m| m.contains_key(STAFF_REALM));
        let tpl = Templates::from_request_parts(parts, app)
            .await
            .map_err(|e| match e {})?;
        let db =
            Db::from_state(app).ok_or_else(|| internal("the admin needs the Orm extension"))?;
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let to_login = |flash: Option<&str>| {
            if let Some(m) = flash {
                session.flash_with("warning", m);
            }
            let next = utf8_percent_encode(&here, NON_ALPHANUMERIC);
            Redirect::to(&format!("{}/login?next={next}", reg.cfg.prefix)).into_response()
        };
        let staff = phial_auth::CurrentUser::<Staff>::from_request_parts(parts, app).await;
        let staff = match staff {
            Ok(phial_auth::CurrentUser(s)) => s,
            Err(res) if res.status() == StatusCode::SERVICE_UNAVAILABLE => return Err(res),
            Err(_) if had_sign_in => {
                return Err(to_login(Some(
                    "Your session ended (idle, signed out elsewhere, or your account changed): sign in again.",
                )));
            }
            Err(_) => return Err(to_login(None)),
        };
        let policies = app.get::<Policies>().cloned().unwrap_or_default();
        Ok(Ctx {
            app: app.clone(),
            reg,
            staff,
            session,
            tpl,
            db,
            policies,
        })
    }
}

/// A menu entry.
#[derive(Debug, Serialize)]
pub(crate) struct MenuItem {
    pub(crate) label: String,
    pub(crate) url: String,
    pub(crate) active: bool,
}

impl Ctx {
    pub(crate) fn who(&self) -> Who {
        Who {
            id: Some(self.staff.id),
            username: self.staff.username.clone(),
        }
    }

    /// Whether the user may `p` the model here: the view switches it on,
    /// the user holds the model's `view` grant (a staff user sees a model
    /// in the admin only with it: Django's rule), and the one decision
    /// (`Policies::decide`, what REST and sockets ask too) allows it.
    pub(crate) fn may(&self, model: &dyn AdminModel, p: Permission) -> bool {
        let spec = model.spec();
        let switched_on = match p {
            Permission::View => true,
            Permission::Add => spec.can.create,
            Permission::Change => spec.can.edit || !model.actions().is_empty(),
            Permission::Delete => spec.can.delete,
        };
        switched_on && self.staff.may(&self.policies, &spec.meta.table, p)
    }

    /// Whether the user may run bulk actions that need `p` (the view's
    /// switches aside).
    pub(crate) fn may_run(&self, model: &dyn AdminModel, p: Permission) -> bool {
        self.staff.may(&self.policies, &model.spec().meta.table, p)
    }

    /// The rows of `model` the user may see: `cond` narrowed by the one
    /// decision's row filter.
    pub(crate) fn scope(&self, model: &dyn AdminModel, cond: Condition) -> Condition {
        let d = self
            .policies
            .decide(&self.staff.caller, &model.spec().meta.table, Action::List);
        match d.rows {
            Some(rows) => Condition::all().add(cond).add(rows),
            None => cond,
        }
    }

    /// Fields of `model` the model's policy hides from this user (on top
    /// of the view's hidden columns).
    pub(crate) fn hidden(&self, model: &dyn AdminModel) -> Vec<String> {
        self.policies
            .decide(&self.staff.caller, &model.spec().meta.table, Action::Read)
            .hidden
    }

    fn writer<'a>(&'a self, tx: &'a Arc<phial_orm::Tx>, who: &'a Who) -> Writer<'a> {
        Writer {
            tx,
            who,
            caller: &self.staff.caller,
            policies: &self.policies,
            reg: &self.reg,
        }
    }

    /// `model`'s view as this user may see it: the fields the model's
    /// policy hides from them are hidden here too — not listed, shown,
    /// exported, filtered, sorted, searched or edited.
    pub(crate) fn spec(&self, model: &dyn AdminModel) -> crate::view::ViewSpec {
        let hidden = self.hidden(model);
        let mut spec = model.spec().clone();
        if hidden.is_empty() {
            return spec;
        }
        for f in &mut spec.meta.fields {
            if hidden.contains(&f.name) {
                f.hidden = true;
            }
        }
        let keep = |names: &mut Vec<String>| names.retain(|n| !hidden.contains(n));
        keep(&mut spec.list_columns);
        keep(&mut spec.search);
        keep(&mut spec.filters);
        keep(&mut spec.sortable);
        spec.order.retain(|(n, _)| !hidden.contains(n));
        let fields: Vec<String> = spec
            .form_fields()
            .into_iter()
            .filter(|n| !hidden.contains(n))
            .collect();
        spec.form_fields = Some(fields);
        if spec
            .title_field
            .as_ref()
            .is_some_and(|t| hidden.contains(t))
        {
            spec.title_field = None;
        }
        spec
    }

    /// Runs `f` with the user's [`Writer`] in a transaction that is always
    /// rolled back: what a write would do, found as it would find it.
    pub(crate) async fn dry_run<T>(
        &self,
        f: impl AsyncFnOnce(&Writer<'_>) -> Result<T, WriteError>,
    ) -> Result<T, WriteError> {
        let tx = Arc::new(self.db.begin().await?);
        let who = self.who();
        let out = f(&self.writer(&tx, &who)).await;
        if let Ok(tx) = Arc::try_unwrap(tx) {
            tx.rollback().await;
        }
        out
    }

    /// Runs `f` with the user's [`Writer`] in one transaction: committed
    /// (and its changes published) when `f` returns `Ok`, rolled back
    /// otherwise — a write, its checks and its log entries land together.
    pub(crate) async fn write<T>(
        &self,
        f: impl AsyncFnOnce(&Writer<'_>) -> Result<T, WriteError>,
    ) -> Result<T, WriteError> {
        let tx = Arc::new(self.db.begin().await?);
        let who = self.who();
        let out = f(&self.writer(&tx, &who)).await;
        let Ok(tx) = Arc::try_unwrap(tx) else {
            // Dropping the last clone rolls back.
            return Err(WriteError::Action(
                "the action kept its transaction after it returned; it must not hold on to it"
                    .into(),
            ));
        };
        match out {
            Ok(v) => {
                tx.commit(self.db.changes()).await?;
                Ok(v)
            }
            Err(e) => {
                tx.rollback().await;
                Err(e)
            }
        }
    }

    /// The model at `slug` if the user may `p` it: a 404 for no such
    /// model, a 403 naming what is missing.
    pub(crate) fn model(&self, slug: &str, p: Permission) -> Result<Arc<dyn AdminModel>, Response> {
        let m = self.reg.model(slug).cloned().ok_or_else(|| {
            self.error(StatusCode::NOT_FOUND, &format!("No model `{slug}` here."))
        })?;
        if !self.may(&*m, p) {
            return Err(self.error(
                StatusCode::FORBIDDEN,
                &format!(
                    "You may not {} {}: ask an administrator for the `{}.{}` permission.",
                    p.word(),
                    m.spec().label.to_lowercase(),
                    m.spec().meta.table,
                    p.word()
                ),
            ));
        }
        Ok(m)
    }

    /// The menu: models the user may view, then custom pages.
    pub(crate) fn menu(&self, active: &str) -> Vec<MenuItem> {
        let mut items: Vec<MenuItem> = self
            .reg
            .models
            .iter()
            .filter(|m| self.may(&***m, Permission::View))
            .map(|m| MenuItem {
                label: m.spec().label.clone(),
                url: self.reg.url(&format!("{}/", m.spec().slug)),
                active: m.spec().slug == active,
            })
            .collect();
        for p in &self.reg.pages {
            if p.allowed(self) {
                items.push(MenuItem {
                    label: p.title.clone(),
                    url: self.reg.url(&format!("pages/{}", p.slug)),
                    active: format!("pages/{}", p.slug) == active,
                });
            }
        }
        items
    }

    /// The context every page's layout needs.
    pub(crate) fn base(&self, active: &str, title: &str) -> Json {
        serde_json::json!({
            "admin": {
                "title": self.reg.title,
                "prefix": self.reg.cfg.prefix,
                "user": self.staff.username,
                "user_id": self.staff.id,
                "superuser": self.staff.superuser,
                "menu": self.menu(active),
                "active": active,
                "live": self.reg.live.as_ref().map(|path| serde_json::json!({
                    "path": path,
                    "namespace": self.reg.cfg.live_namespace,
                })),
            },
            "page_title": title,
        })
    }

    /// Renders `template` with the layout's context plus `ctx`.
    pub(crate) fn render(&self, template: &str, active: &str, title: &str, ctx: Json) -> Response {
        let mut all = self.base(active, title);
        if let (Some(a), Json::Object(b)) = (all.as_object_mut(), ctx) {
            a.extend(b);
        }
        match self.tpl.render(template, all) {
            Ok(html) => html.into_response(),
            Err(e) => e.into_response(),
        }
    }

    /// An error page in the layout.
    pub(crate) fn error(&self, status: StatusCode, message: &str) -> Response {
        let mut r = self.render(
            "admin/error.html",
            "",
            status.canonical_reason().unwrap_or("Error"),
            serde_json::json!({"message": message, "status": status.as_u16()}),
        );
        *r.status_mut() = status;
        r
    }

    /// Back to `url` with a message.
    pub(crate) fn redirect(&self, url: &str, category: &str, message: &str) -> Response {
        self.session.flash_with(category, message);
        Redirect::to(url).into_response()
    }
}

/// The URL segment of a row's key: the one form every surface uses
/// ([`phial_orm::query::key`]: `7`, or `7,2` for a composite key).
pub(crate) fn key_segment(key: &Json) -> String {
    const KEEP: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b',')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    utf8_percent_encode(&phial_orm::query::key::text(key), KEEP).to_string()
}

/// A key from its URL segment (already percent-decoded), typed by the
/// key's fields; the admin's first form (a JSON array) is read too.
pub(crate) fn parse_key(model: &dyn AdminModel, text: &str) -> Option<Json> {
    phial_orm::query::key::parse(&model.spec().meta, text)
}

/// The pairs of a URL-encoded body or query (names may repeat).
pub(crate) fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// The value of `name` among `pairs`.
pub(crate) fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Routes of the panel under the prefix.
pub(crate) fn routes(app: &mut phial_core::AppBuilder, prefix: &str) {
    use phial_core::routing::{get, post};
    let p = |rest: &str| format!("{prefix}{rest}");
    app.route(&p("/"), get(dashboard::page).name("admin_index"));
    app.route(&p(""), get(dashboard::to_slash));
    app.route(
        &p("/login"),
        get(auth::form).post(auth::sign_in).name("admin_login"),
    );
    app.route(&p("/logout"), post(auth::sign_out).name("admin_logout"));
    app.route(&p("/log"), get(log::index).name("admin_log"));
    app.route(&p("/log/{entry}"), get(log::entry).name("admin_log_entry"));
    app.route(
        &p("/log/{entry}/revert"),
        post(log::revert).name("admin_log_revert"),
    );
    app.route(&p("/pages/{page}"), get(custom::page).name("admin_page"));
    app.route(&p("/access/users/"), get(staff::users).name("admin_users"));
    app.route(
        &p("/access/users/new"),
        get(staff::new_user_form).post(staff::new_user),
    );
    app.route(
        &p("/access/users/{id}"),
        get(staff::user_form).post(staff::user_save),
    );
    app.route(
        &p("/access/users/{id}/sign-out"),
        post(staff::sign_out_everywhere).name("admin_sign_out_everywhere"),
    );
    app.route(&p("/access/roles/"), get(staff::roles).name("admin_roles"));
    app.route(
        &p("/access/roles/new"),
        get(staff::new_role_form).post(staff::new_role),
    );
    app.route(
        &p("/access/roles/{id}"),
        get(staff::role_form).post(staff::role_save),
    );
    app.route(&p("/{model}/"), get(list::page).name("admin_list"));
    app.route(&p("/{model}"), get(list::to_slash));
    app.route(&p("/{model}/bulk"), post(bulk::bulk).name("admin_bulk"));
    app.route(
        &p("/{model}/export.csv"),
        get(export::export).name("admin_export"),
    );
    app.route(
        &p("/{model}/choices"),
        get(choices::choices).name("admin_choices"),
    );
    app.route(
        &p("/{model}/new"),
        get(edit::create_form)
            .post(edit::create)
            .name("admin_create"),
    );
    app.route(
        &p("/{model}/{key}/"),
        get(edit::detail).name("admin_detail"),
    );
    app.route(
        &p("/{model}/{key}/edit"),
        get(edit::edit_form).post(edit::edit).name("admin_edit"),
    );
    app.route(
        &p("/{model}/{key}/delete"),
        get(edit::delete_form)
            .post(edit::delete)
            .name("admin_delete"),
    );
    app.route(
        &p("/{model}/{key}/history"),
        get(log::history).name("admin_history"),
    );
}
