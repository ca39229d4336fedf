//! Pages of your own in the admin's menu (Flask-Admin's `BaseView`): a
//! function that returns the page's HTML, shown inside the admin's layout
//! to signed-in staff (and only to those with the permission it names).

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use phial_core::{AppState, HttpError};

use crate::access::{Permission, Staff};

type RenderFn =
    Arc<dyn Fn(Staff, AppState) -> BoxFuture<'static, Result<String, HttpError>> + Send + Sync>;

/// A page of your own at `{prefix}/pages/{slug}`, listed in the menu.
///
/// ```
/// use phial_admin::{AdminPage, Permission};
/// let report = AdminPage::new("report", "Weekly report", async |staff, _app| {
///     Ok(format!("<p>Hello {}</p>", staff.username)) // escape what you did not write
/// })
/// .requires("post", Permission::View);
/// # let _ = report;
/// ```
#[derive(Clone)]
pub struct AdminPage {
    pub(crate) slug: String,
    pub(crate) title: String,
    pub(crate) needs: Option<(String, Permission)>,
    pub(crate) render: RenderFn,
}

impl std::fmt::Debug for AdminPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminPage")
            .field("slug", &self.slug)
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

impl AdminPage {
    /// A page titled `title` whose body `render` returns (HTML, inserted
    /// as it is: escape what comes from users).
    pub fn new<F, Fut>(slug: &str, title: &str, render: F) -> Self
    where
        F: Fn(Staff, AppState) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, HttpError>> + Send + 'static,
    {
        AdminPage {
            slug: slug.trim_matches('/').to_owned(),
            title: title.to_owned(),
            needs: None,
            render: Arc::new(move |s, a| Box::pin(render(s, a))),
        }
    }

    /// Only staff with `permission` on `table` see it (default: every
    /// signed-in staff user).
    pub fn requires(mut self, table: &str, permission: Permission) -> Self {
        self.needs = Some((table.to_owned(), permission));
        self
    }

    pub(crate) fn allowed(&self, ctx: &crate::pages::Ctx) -> bool {
        match &self.needs {
            None => true,
            Some((table, p)) => ctx.staff.may(&ctx.policies, table, *p),
        }
    }
}
