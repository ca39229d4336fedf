//! A resource: one entity served as REST, with what it allows.
//!
//! One file: `Resource`'s builder beside the mounting it drives, so each
//! option sits next to where it takes effect.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::routing::MethodRouter;
use http::Method;
use phial_core::routing::MethodRoutes;
use phial_core::{AppBuilder, AppState};
use phial_orm::meta::{FieldNames, ModelMeta};
use phial_orm::policy::{Action, Policy};
use sea_orm::EntityTrait;

use crate::config::RestConfig;
use crate::guard::Guard;
use crate::handlers;
use crate::openapi::ResourceDoc;
use phial_orm::query::ListRules;

/// The bound REST puts on an entity: the query layer's one
/// [`Model`](phial_orm::query::Model) (this name stays for a release).
pub use phial_orm::query::Model as RestEntity;

/// The operations a resource can serve; each can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// `GET /api/posts`
    List,
    /// `GET /api/posts/{id}`
    Get,
    /// `POST /api/posts`
    Create,
    /// `PUT /api/posts/{id}`
    Replace,
    /// `PATCH /api/posts/{id}`
    Update,
    /// `DELETE /api/posts/{id}`
    Delete,
    /// `POST /api/posts/bulk`
    BulkCreate,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 7] = [
        Operation::List,
        Operation::Get,
        Operation::Create,
        Operation::Replace,
        Operation::Update,
        Operation::Delete,
        Operation::BulkCreate,
    ];
}

/// One entity as a REST resource (see the crate docs).
///
/// ```
/// use phial_rest::{Guard, Operation, Resource};
/// # mod author {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "author")]
/// #     pub struct Model {
/// #         #[sea_orm(primary_key)]
/// #         pub id: i32,
/// #         pub name: String,
/// #         pub password_hash: String,
/// #     }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// let authors = Resource::<author::Entity>::new()
///     .path("authors")
///     .hidden("password_hash")
///     .filterable(["name"])
///     .sortable(["name"])
///     .without(Operation::BulkCreate);
/// # let _ = authors;
/// ```
pub struct Resource<E> {
    pub(crate) meta: ModelMeta,
    path: Option<String>,
    ops: BTreeSet<Operation>,
    filterable: Vec<String>,
    sortable: Vec<String>,
    searchable: Vec<String>,
    per_page: Option<u64>,
    max_per_page: Option<u64>,
    read_guard: Option<Guard>,
    write_guard: Option<Guard>,
    policy: Option<Policy>,
    limits: Vec<phial_core::rate_limit::RateLimit>,
    cors: Option<phial_core::cors::Cors>,
    cascade: bool,
    _entity: PhantomData<fn() -> E>,
}

impl<E: EntityTrait> std::fmt::Debug for Resource<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("table", &self.meta.table)
            .field("path", &self.path)
            .field("ops", &self.ops)
            .finish_non_exhaustive()
    }
}

impl<E> Default for Resource<E>
where
    E: RestEntity,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Resource<E>
where
    E: RestEntity,
{
    /// Every operation, at the table's name, sortable by the primary key,
    /// no filters, the default [`Policy`].
    pub fn new() -> Self {
        let meta = ModelMeta::of::<E>();
        let sortable = meta.primary_key.clone();
        Resource {
            meta,
            path: None,
            ops: Operation::ALL.into_iter().collect(),
            filterable: Vec::new(),
            sortable,
            searchable: Vec::new(),
            per_page: None,
            max_per_page: None,
            read_guard: None,
            write_guard: None,
            policy: None,
            limits: Vec::new(),
            cors: None,
            cascade: false,
            _entity: PhantomData,
        }
    }

    /// The path under the prefix (default: the table's name).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into().trim_matches('/').to_owned());
        self
    }

    /// Fields never sent (and never written from a client).
    ///
    /// # Panics
    /// When a name is not a column.
    pub fn hidden(mut self, names: impl FieldNames) -> Self {
        self.meta = self.meta.hidden(names);
        self
    }

    /// Fields never written from a client (the key and other defaults).
    ///
    /// # Panics
    /// When a name is not a column.
    pub fn read_only(mut self, names: impl FieldNames) -> Self {
        self.meta = self.meta.read_only(names);
        self
    }

    /// Fields a list may filter on (`title=..`, `rank__ge=..`).
    pub fn filterable(mut self, names: impl FieldNames) -> Self {
        self.filterable = names.names().into_iter().map(str::to_owned).collect();
        self
    }

    /// Fields a list may sort on (the primary key always may).
    pub fn sortable(mut self, names: impl FieldNames) -> Self {
        for name in names.names() {
            if !self.sortable.iter().any(|s| s == name) {
                self.sortable.push(name.to_owned());
            }
        }
        self
    }

    /// Text fields `q=..` searches (contains, ignoring case).
    pub fn searchable(mut self, names: impl FieldNames) -> Self {
        self.searchable = names.names().into_iter().map(str::to_owned).collect();
        self
    }

    /// Rows per page when a list does not say.
    pub fn per_page(mut self, n: u64) -> Self {
        self.per_page = Some(n);
        self
    }

    /// Most rows a page may ask for.
    pub fn max_per_page(mut self, n: u64) -> Self {
        self.max_per_page = Some(n);
        self
    }

    /// Who may call `list` and `get` (default: the Rest's guard or else
    /// anyone, as anonymous).
    pub fn read_guard(mut self, guard: Guard) -> Self {
        self.read_guard = Some(guard);
        self
    }

    /// Who may call the writes (default: the Rest's guard, or anyone for
    /// the policy to judge).
    pub fn write_guard(mut self, guard: Guard) -> Self {
        self.write_guard = Some(guard);
        self
    }

    /// Who may do what, and which rows they reach, for this resource only.
    /// Without it the resource enforces the model's policy declared on the
    /// `Orm` extension (`Orm::new().policy::<E>(...)`, shared with the admin
    /// and socket rooms), else [`Policy::new`].
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Limits how often callers may use the resource, every operation
    /// together (one allowance per caller across its routes; see
    /// `phial::rate_limit`).
    ///
    /// ```no_run
    /// # use phial_rest::Resource;
    /// use phial_core::rate_limit::limit;
    /// # fn doc<E: phial_rest::RestEntity>() -> Resource<E> {
    /// Resource::<E>::new().limit(limit("600/minute").by_user())
    /// # }
    /// ```
    pub fn limit(mut self, limit: phial_core::rate_limit::RateLimit) -> Self {
        self.limits.push(limit);
        self
    }

    /// Lets a delete take the rows that refer to it (the database's
    /// cascade); without it such a delete is a 409 naming them. Caches
    /// and watchers of those tables are told every row may have changed.
    pub fn cascade(mut self) -> Self {
        self.cascade = true;
        self
    }

    /// Answers calls from other origins by this policy instead of the
    /// app's `[cors]` section.
    pub fn cors(mut self, cors: phial_core::cors::Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Switches an operation off.
    pub fn without(mut self, op: Operation) -> Self {
        self.ops.remove(&op);
        self
    }

    /// Serves only these operations.
    pub fn only(mut self, ops: impl IntoIterator<Item = Operation>) -> Self {
        self.ops = ops.into_iter().collect();
        self
    }

    /// The resource's metadata.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let table = &self.meta.table;
        let mut known = |list: &[String], what: &str| {
            for name in list {
                match self.meta.field(name) {
                    None => problems.push(format!(
                        "resource `{table}`: {what} field `{name}` is not a column"
                    )),
                    Some(f) if f.hidden => problems.push(format!(
                        "resource `{table}`: {what} field `{name}` is hidden; a client could probe its values"
                    )),
                    Some(_) => {}
                }
            }
        };
        known(&self.filterable, "filterable");
        known(&self.sortable, "sortable");
        known(&self.searchable, "searchable");
        if self.meta.primary_key.is_empty() {
            problems.push(format!("resource `{table}` has no primary key"));
        }
        problems
    }
}

/// What every handler of one resource shares.
pub(crate) struct Shared {
    pub(crate) meta: ModelMeta,
    pub(crate) rules: ListRules,
    /// The resource's own policy; `None`: the one declared on `Orm`.
    pub(crate) policy: Option<Policy>,
    pub(crate) read_guard: Guard,
    pub(crate) write_guard: Guard,
    /// `/api/posts`
    pub(crate) collection: String,
    pub(crate) bulk_limit: usize,
    /// Lists count up to this many rows (`rest.count_limit`).
    pub(crate) count_limit: u64,
    /// Deletes may take referring rows with them (a database cascade).
    pub(crate) cascade: bool,
    /// `rest.cache`: reads may come from the app's cache.
    #[cfg_attr(
        not(feature = "cache"),
        expect(dead_code, reason = "only the cache reads it")
    )]
    pub(crate) cache: bool,
}

impl Shared {
    /// The policy this resource enforces (see [`Resource::policy`]).
    pub(crate) fn policy<'a>(&'a self, app: &'a phial_core::AppState) -> &'a Policy {
        if let Some(own) = &self.policy {
            return own;
        }
        static DEFAULT: std::sync::LazyLock<Policy> = std::sync::LazyLock::new(Policy::new);
        app.get::<phial_orm::policy::Policies>()
            .map_or(&*DEFAULT, |p| p.get(&self.meta.table))
    }
}

/// A resource with its entity type erased, for the extension's list.
pub(crate) trait Mount: Send + Sync {
    fn table(&self) -> &str;
    fn mount(
        self: Box<Self>,
        app: &mut AppBuilder,
        cfg: &RestConfig,
        guard: Option<&Guard>,
    ) -> Result<ResourceDoc, Vec<String>>;
}

impl<E> Mount for Resource<E>
where
    E: RestEntity,
{
    fn table(&self) -> &str {
        &self.meta.table
    }

    fn mount(
        self: Box<Self>,
        app: &mut AppBuilder,
        cfg: &RestConfig,
        guard: Option<&Guard>,
    ) -> Result<ResourceDoc, Vec<String>> {
        let problems = self.check();
        if !problems.is_empty() {
            return Err(problems);
        }
        let path = self.path.clone().unwrap_or_else(|| self.meta.table.clone());
        let collection = format!("{}/{path}", cfg.prefix.trim_end_matches('/'));
        let name = path.replace(['/', '-'], "_");
        let read_guard = self
            .read_guard
            .clone()
            .or_else(|| guard.map(|g| g.clone().or_anonymous()))
            .unwrap_or_else(Guard::anyone);
        let write_guard = self
            .write_guard
            .clone()
            .or_else(|| guard.cloned())
            .unwrap_or_else(Guard::anyone);
        let shared = Arc::new(Shared {
            rules: ListRules {
                max_in: cfg.max_in,
                ..ListRules::new(
                    self.per_page.unwrap_or(cfg.per_page),
                    self.max_per_page.unwrap_or(cfg.max_per_page),
                )
                .filterable(self.filterable.clone())
                .sortable(self.sortable.clone())
                .searchable(self.searchable.clone())
            },
            meta: self.meta.clone(),
            policy: self.policy.clone(),
            read_guard,
            write_guard,
            collection: collection.clone(),
            bulk_limit: cfg.bulk_limit,
            count_limit: cfg.count_limit,
            cascade: self.cascade,
            cache: cfg.cache,
        });
        let ops = &self.ops;
        // Listed among the model's doors (check --deploy, the matrix).
        let mut actions = Vec::new();
        for (op, action) in [
            (Operation::List, Action::List),
            (Operation::Get, Action::Read),
            (Operation::Create, Action::Create),
            (Operation::Update, Action::Change),
            (Operation::Replace, Action::Change),
            (Operation::Delete, Action::Delete),
        ] {
            if ops.contains(&op) && !actions.contains(&action) {
                actions.push(action);
            }
        }
        phial_orm::doors::Doors::add(
            app,
            phial_orm::doors::Door {
                table: self.meta.table.clone(),
                kind: phial_orm::doors::DoorKind::Rest {
                    collection: collection.clone(),
                    actions,
                    bulk: ops.contains(&Operation::BulkCreate),
                },
                meta: Some(self.meta.clone()),
                policy: self.policy.clone(),
                list: ops.contains(&Operation::List).then(|| {
                    phial_orm::query::indexes::ListColumns {
                        sort: self.sortable.clone(),
                        filter: self.filterable.clone(),
                        search: self.searchable.clone(),
                    }
                }),
            },
        );
        // One allowance per caller across the resource's routes.
        let scope = format!("resource:{}", self.meta.table);
        let dress = |mut routes: MethodRoutes| {
            for limit in &self.limits {
                routes = routes.limit(limit.clone().in_scope(&scope));
            }
            if let Some(cors) = &self.cors {
                routes = routes.cors(cors.clone());
            }
            routes
        };

        let mut methods = Vec::new();
        let mut router: MethodRouter<AppState> = MethodRouter::new();
        if ops.contains(&Operation::List) {
            let s = shared.clone();
            router = router.get(move |State(app): State<AppState>, req: Request| {
                crate::list_handler::list::<E>(s.clone(), app, req)
            });
            methods.push(Method::GET);
        }
        if ops.contains(&Operation::Create) {
            let s = shared.clone();
            router = router.post(move |State(app): State<AppState>, req: Request| {
                handlers::create::<E>(s.clone(), app, req)
            });
            methods.push(Method::POST);
        }
        if !methods.is_empty() {
            app.route(
                &collection,
                dress(MethodRoutes::json_api(router, methods).name(format!("{name}_list"))),
            );
        }

        let item = format!("{collection}/{{id}}");
        let mut methods = Vec::new();
        let mut router: MethodRouter<AppState> = MethodRouter::new();
        if ops.contains(&Operation::Get) {
            let s = shared.clone();
            router = router.get(move |State(app): State<AppState>, req: Request| {
                handlers::get::<E>(s.clone(), app, req)
            });
            methods.push(Method::GET);
        }
        if ops.contains(&Operation::Replace) {
            let s = shared.clone();
            router = router.put(move |State(app): State<AppState>, req: Request| {
                handlers::write::<E>(s.clone(), app, req, handlers::Write::Replace)
            });
            methods.push(Method::PUT);
        }
        if ops.contains(&Operation::Update) {
            let s = shared.clone();
            router = router.patch(move |State(app): State<AppState>, req: Request| {
                handlers::write::<E>(s.clone(), app, req, handlers::Write::Update)
            });
            methods.push(Method::PATCH);
        }
        if ops.contains(&Operation::Delete) {
            let s = shared.clone();
            router = router.delete(move |State(app): State<AppState>, req: Request| {
                handlers::write::<E>(s.clone(), app, req, handlers::Write::Delete)
            });
            methods.push(Method::DELETE);
        }
        if !methods.is_empty() {
            app.route(
                &item,
                dress(MethodRoutes::json_api(router, methods).name(format!("{name}_item"))),
            );
        }

        if ops.contains(&Operation::BulkCreate) {
            let s = shared.clone();
            let router: MethodRouter<AppState> =
                axum::routing::post(move |State(app): State<AppState>, req: Request| {
                    handlers::bulk::<E>(s.clone(), app, req)
                });
            app.route(
                &format!("{collection}/bulk"),
                dress(MethodRoutes::json_api(router, [Method::POST]).name(format!("{name}_bulk"))),
            );
        }
        Ok(ResourceDoc {
            bearer: shared.read_guard.bearer || shared.write_guard.bearer,
            shared,
            ops: self.ops.iter().copied().collect(),
            name: path,
        })
    }
}
