//! `ModelView`: how one model appears in the admin — which columns a list
//! shows, what it searches, filters and sorts on, which fields a form
//! edits, labels and help, what may be done, and bulk actions.
//!
//! One file: `ModelView` is one builder; its methods are the admin's
//! vocabulary for a model, read together.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use phial_core::BoxError;
use phial_orm::Tx;

use crate::access::Permission;
use phial_orm::meta::{FieldKind, FieldNames, ModelMeta};
use sea_orm::EntityTrait;

/// The bound the admin puts on an entity: the query layer's one
/// [`Model`](phial_orm::query::Model) (this name stays for a release).
pub use phial_orm::query::Model as AdminEntity;

type ActionFn<E> = Arc<
    dyn Fn(Arc<Tx>, Vec<<E as EntityTrait>::Model>) -> BoxFuture<'static, Result<String, BoxError>>
        + Send
        + Sync,
>;

/// A bulk action run on the selected rows (Django's admin actions).
pub(crate) struct BulkAction<E: EntityTrait> {
    pub(crate) name: String,
    pub(crate) label: String,
    /// The permission it needs (`change` unless declared).
    pub(crate) needs: Permission,
    pub(crate) run: ActionFn<E>,
}

/// What may be done to a model's rows in the admin, on top of the staff
/// user's permissions (a view can switch an operation off for everyone).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Can {
    pub(crate) create: bool,
    pub(crate) edit: bool,
    pub(crate) delete: bool,
    pub(crate) export: bool,
}

/// The non-generic part of a view.
#[derive(Debug, Clone)]
pub(crate) struct ViewSpec {
    pub(crate) meta: ModelMeta,
    pub(crate) slug: String,
    pub(crate) label: String,
    pub(crate) singular: String,
    pub(crate) list_columns: Vec<String>,
    pub(crate) search: Vec<String>,
    pub(crate) filters: Vec<String>,
    pub(crate) sortable: Vec<String>,
    /// `(column, descending)`.
    pub(crate) order: Vec<(String, bool)>,
    pub(crate) per_page: Option<u64>,
    pub(crate) form_fields: Option<Vec<String>>,
    pub(crate) read_only: Vec<String>,
    pub(crate) labels: HashMap<String, String>,
    pub(crate) help: HashMap<String, String>,
    pub(crate) title_field: Option<String>,
    pub(crate) can: Can,
}

impl ViewSpec {
    /// A field's label: declared, or its name in words.
    pub(crate) fn label_of(&self, field: &str) -> String {
        if let Some(l) = self.labels.get(field) {
            return l.clone();
        }
        // A foreign key is named after what it points at (`author_id`:
        // Author).
        match field.strip_suffix("_id") {
            Some(base) if !base.is_empty() && self.meta.foreign_key(field).is_some() => {
                humanize(base)
            }
            _ => humanize(field),
        }
    }

    /// The fields its forms edit, in order.
    pub(crate) fn form_fields(&self) -> Vec<String> {
        match &self.form_fields {
            Some(f) => f.clone(),
            None => self
                .meta
                .fields
                .iter()
                .filter(|f| !f.hidden && !f.auto_increment)
                .map(|f| f.name.clone())
                .collect(),
        }
    }

    /// Whether a form may write `field`.
    pub(crate) fn writable(&self, field: &str) -> bool {
        !self.read_only.iter().any(|r| r == field)
            && self.meta.field(field).is_some_and(|f| f.writable())
    }

    /// Problems with the declaration, each naming the fix.
    pub(crate) fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let table = &self.meta.table;
        let mut known = |names: &[String], what: &str, text_only: bool| {
            for name in names {
                match self.meta.field(name) {
                    None => problems.push(format!(
                        "admin view `{table}`: {what} field `{name}` is not a column; its columns are {}",
                        self.meta.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                    Some(f) if f.hidden => problems.push(format!(
                        "admin view `{table}`: {what} field `{name}` is hidden"
                    )),
                    Some(f) if text_only && !matches!(f.kind, FieldKind::String | FieldKind::Text | FieldKind::Enum) => {
                        problems.push(format!(
                            "admin view `{table}`: searchable field `{name}` is not text"
                        ))
                    }
                    Some(_) => {}
                }
            }
        };
        known(&self.list_columns, "list", false);
        known(&self.search, "searchable", true);
        known(&self.filters, "filter", false);
        known(&self.sortable, "sortable", false);
        let order: Vec<String> = self.order.iter().map(|(c, _)| c.clone()).collect();
        known(&order, "order", false);
        if let Some(form) = &self.form_fields {
            known(form, "form", false);
        }
        known(&self.read_only, "read-only", false);
        if let Some(t) = &self.title_field {
            known(std::slice::from_ref(t), "title", false);
        }
        if self.meta.primary_key.is_empty() {
            problems.push(format!(
                "admin view `{table}`: the model has no primary key"
            ));
        }
        if RESERVED.contains(&self.slug.as_str()) {
            problems.push(format!(
                "admin view `{table}`: slug `{}` is one of the panel's own paths ({}); give the view `.slug(\"...\")`",
                self.slug,
                RESERVED.join(", ")
            ));
        }
        if self.slug.is_empty()
            || !self
                .slug
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            problems.push(format!(
                "admin view `{table}`: slug `{}` must be letters, digits, `-` and `_`",
                self.slug
            ));
        }
        problems
    }
}

/// Paths the panel uses itself, which no model view may take.
const RESERVED: [&str; 6] = ["login", "logout", "log", "pages", "static", "access"];

/// `created_at` → `Created at`.
pub(crate) fn humanize(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One model in the admin (see the crate docs).
///
/// ```
/// use phial_admin::ModelView;
/// # mod post {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "post")]
/// #     pub struct Model {
/// #         #[sea_orm(primary_key)]
/// #         pub id: i32,
/// #         pub title: String,
/// #         pub published: bool,
/// #     }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// let posts = ModelView::<post::Entity>::new()
///     .list(["id", "title", "published"])
///     .search(["title"])
///     .filters(["published"])
///     .order_by("id", true)
///     .help("published", "Shown to readers")
///     .action("publish", "Publish selected", async |tx, posts| {
///         for p in &posts {
///             let mut p: post::ActiveModel = p.clone().into();
///             p.published = sea_orm::ActiveValue::Set(true);
///             tx.update(p).await?;
///         }
///         Ok(format!("{} published", posts.len()))
///     });
/// # let _ = posts;
/// ```
pub struct ModelView<E: EntityTrait> {
    pub(crate) spec: ViewSpec,
    pub(crate) actions: Vec<BulkAction<E>>,
    _entity: PhantomData<fn() -> E>,
}

impl<E: EntityTrait> std::fmt::Debug for ModelView<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelView")
            .field("table", &self.spec.meta.table)
            .finish_non_exhaustive()
    }
}

impl<E: AdminEntity> Default for ModelView<E> {
    fn default() -> Self {
        Self::new()
    }
}

fn names(n: impl FieldNames) -> Vec<String> {
    n.names().into_iter().map(str::to_owned).collect()
}

impl<E: AdminEntity> ModelView<E> {
    /// Every visible column listed and edited, sorted by the key (newest
    /// first), every operation on: narrow it with the methods below.
    pub fn new() -> Self {
        let meta = ModelMeta::of::<E>();
        let table = meta.table.clone();
        let list_columns: Vec<String> = meta
            .fields
            .iter()
            .filter(|f| {
                !f.hidden
                    && !matches!(
                        f.kind,
                        FieldKind::Text | FieldKind::Json | FieldKind::Binary
                    )
            })
            .take(6)
            .map(|f| f.name.clone())
            .collect();
        let order = meta.primary_key.iter().map(|k| (k.clone(), true)).collect();
        let sortable = meta.primary_key.clone();
        let title_field = meta
            .fields
            .iter()
            .find(|f| {
                !f.hidden
                    && matches!(f.kind, FieldKind::String)
                    && ["name", "title", "username", "label", "email"].contains(&f.name.as_str())
            })
            .map(|f| f.name.clone());
        ModelView {
            spec: ViewSpec {
                slug: table.clone(),
                label: humanize(&format!("{table}s")),
                singular: table.replace('_', " "),
                meta,
                list_columns,
                search: Vec::new(),
                filters: Vec::new(),
                sortable,
                order,
                per_page: None,
                form_fields: None,
                read_only: Vec::new(),
                labels: HashMap::new(),
                help: HashMap::new(),
                title_field,
                can: Can {
                    create: true,
                    edit: true,
                    delete: true,
                    export: true,
                },
            },
            actions: Vec::new(),
            _entity: PhantomData,
        }
    }

    /// The URL segment (default: the table's name): `/admin/{slug}/`.
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.spec.slug = slug.into();
        self
    }

    /// The name in menus and headings, plural (`Posts`) and singular
    /// (`post`).
    pub fn named(mut self, plural: impl Into<String>, singular: impl Into<String>) -> Self {
        self.spec.label = plural.into();
        self.spec.singular = singular.into();
        self
    }

    /// The list's columns, in order.
    pub fn list(mut self, columns: impl FieldNames) -> Self {
        self.spec.list_columns = names(columns);
        self
    }

    /// Text fields the search box looks in (contains, ignoring case).
    pub fn search(mut self, fields: impl FieldNames) -> Self {
        self.spec.search = names(fields);
        self
    }

    /// Filters in the sidebar, each by its field's type: text contains,
    /// number and date ranges, yes / no, enum choices, foreign keys.
    pub fn filters(mut self, fields: impl FieldNames) -> Self {
        self.spec.filters = names(fields);
        self
    }

    /// Columns the list may be sorted on (the key always may). Sort on
    /// indexed columns: a large table sorted on another is slow.
    pub fn sortable(mut self, fields: impl FieldNames) -> Self {
        for name in names(fields) {
            if !self.spec.sortable.contains(&name) {
                self.spec.sortable.push(name);
            }
        }
        self
    }

    /// The default order: `column`, descending or not (replaces the key,
    /// which stays as the tie-break).
    pub fn order_by(mut self, column: &str, descending: bool) -> Self {
        self.spec.order = vec![(column.to_owned(), descending)];
        if !self.spec.sortable.iter().any(|s| s == column) {
            self.spec.sortable.push(column.to_owned());
        }
        self
    }

    /// Rows per page.
    pub fn per_page(mut self, n: u64) -> Self {
        self.spec.per_page = Some(n.clamp(1, 500));
        self
    }

    /// The fields the create and edit forms show, in order.
    pub fn form(mut self, fields: impl FieldNames) -> Self {
        self.spec.form_fields = Some(names(fields));
        self
    }

    /// Fields shown but never edited here.
    pub fn read_only(mut self, fields: impl FieldNames) -> Self {
        self.spec.read_only.extend(names(fields));
        self
    }

    /// Fields never shown nor written (password hashes, tokens).
    ///
    /// # Panics
    /// When a name is not a column.
    pub fn hidden(mut self, fields: impl FieldNames) -> Self {
        self.spec.meta = self.spec.meta.hidden(fields);
        let meta = &self.spec.meta;
        self.spec
            .list_columns
            .retain(|c| meta.field(c).is_some_and(|f| !f.hidden));
        self
    }

    /// A field's label (default: its name in words).
    pub fn label(mut self, field: &str, label: impl Into<String>) -> Self {
        self.spec.labels.insert(field.to_owned(), label.into());
        self
    }

    /// Help shown under a field in forms.
    pub fn help(mut self, field: &str, text: impl Into<String>) -> Self {
        self.spec.help.insert(field.to_owned(), text.into());
        self
    }

    /// The field that names a row (in headings, foreign-key selects and
    /// the audit log); default: `name`, `title`, `username`, `label` or
    /// `email` when there is one, else the key.
    pub fn title(mut self, field: &str) -> Self {
        self.spec.title_field = Some(field.to_owned());
        self
    }

    /// Whether rows may be created here.
    pub fn can_create(mut self, yes: bool) -> Self {
        self.spec.can.create = yes;
        self
    }

    /// Whether rows may be edited here.
    pub fn can_edit(mut self, yes: bool) -> Self {
        self.spec.can.edit = yes;
        self
    }

    /// Whether rows may be deleted here (one by one and in bulk).
    pub fn can_delete(mut self, yes: bool) -> Self {
        self.spec.can.delete = yes;
        self
    }

    /// Whether the list may be exported as CSV.
    pub fn can_export(mut self, yes: bool) -> Self {
        self.spec.can.export = yes;
        self
    }

    /// A bulk action on the selected rows, offered beside "Delete
    /// selected" to users who may change the model (see
    /// [`action_needing`](Self::action_needing) for another permission).
    /// `run` gets the write's transaction and the rows (as the user may
    /// see them) and returns the message shown after it. Its writes go
    /// through the transaction (`tx.update(..)`: published after the
    /// commit, live); each row it changed is logged with its diff in the
    /// same transaction, and a row it moved outside the rows the user may
    /// write rolls everything back. Returning an error rolls back too.
    pub fn action<F, Fut>(self, name: &str, label: &str, run: F) -> Self
    where
        F: Fn(Arc<Tx>, Vec<E::Model>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, BoxError>> + Send + 'static,
    {
        self.action_needing(name, label, Permission::Change, run)
    }

    /// A bulk action that needs `needs` on the model (`Permission::Delete`
    /// for one that archives rows away, `Permission::View` for one that
    /// only reads them).
    pub fn action_needing<F, Fut>(
        mut self,
        name: &str,
        label: &str,
        needs: Permission,
        run: F,
    ) -> Self
    where
        F: Fn(Arc<Tx>, Vec<E::Model>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, BoxError>> + Send + 'static,
    {
        self.actions.push(BulkAction {
            name: name.to_owned(),
            label: label.to_owned(),
            needs,
            run: Arc::new(move |tx, rows| Box::pin(run(tx, rows))),
        });
        self
    }
}
