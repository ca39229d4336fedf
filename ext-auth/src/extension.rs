//! [`Auth`]: one realm's extension, and the shared `auth` extension every
//! realm registers once: it gathers the realms in `finish`, resolves who
//! is signed in on each request (the core's identity), offers the database
//! session store and its table, pings the store on `/readyz`, and adds the
//! `auth` command.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use phial_core::identity::Resolver;
use phial_core::session::{SessionStores, StoreKind};
use phial_core::{AppBuilder, AppState, BoxError, DeployFinding, Extension};
use sea_orm::EntityTrait;

use crate::config::{AuthConfig, SECTION};
use crate::entity::Columns;
use crate::realm::{AuthUser, Realm, Realms};
use crate::signin::AuthCore;

type EntityRealm = fn(&str, &str, &Columns) -> Result<Realm, String>;

enum Source {
    Entity(EntityRealm, Columns),
    Loader(Realm),
}

/// One realm of users who sign in (Flask-Login's `LoginManager`): the
/// app's users over an entity, or over a loader of your own.
///
/// ```no_run
/// use phial_auth::Auth;
/// # mod author {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "author")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub email: String, pub password_hash: String }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// let users = Auth::<author::Entity>::new()
///     .username(author::Column::Email)
///     .login_url("/login");
/// # let _ = users;
/// ```
pub struct Auth<T> {
    realm: String,
    /// `auth:<realm>`.
    ext_name: String,
    login_url: String,
    source: Source,
    idle: Option<Duration>,
    staff: bool,
    _user: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Auth<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("realm", &self.realm)
            .field("login_url", &self.login_url)
            .finish_non_exhaustive()
    }
}

impl<E> Auth<E>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync + 'static,
{
    /// The realm `user` over `E`: users are its rows, loaded by primary
    /// key and found by the name column (`username`, `email`, `login` or
    /// `name` unless named), their hash in `password_hash` (or
    /// `password`), inactive when `is_active` / `active` is false.
    /// Handlers take `CurrentUser<E::Model>` and `Accounts<E::Model>`.
    pub fn new() -> Self {
        Auth {
            realm: "user".into(),
            ext_name: "auth:user".into(),
            login_url: "/login".into(),
            source: Source::Entity(crate::entity::realm::<E>, Columns::default()),
            idle: None,
            staff: false,
            _user: PhantomData,
        }
    }

    fn columns(mut self, f: impl FnOnce(&mut Columns)) -> Self {
        if let Source::Entity(_, cols) = &mut self.source {
            f(cols);
        }
        self
    }

    /// The column users sign in with.
    pub fn username(self, column: E::Column) -> Self {
        let name = sea_orm::IdenStatic::as_str(&column).to_owned();
        self.columns(|c| c.username = Some(name))
    }

    /// The column holding the scrypt hash.
    pub fn password(self, column: E::Column) -> Self {
        let name = sea_orm::IdenStatic::as_str(&column).to_owned();
        self.columns(|c| c.password = Some(name))
    }

    /// The column pages show (`current_user.name`).
    pub fn display(self, column: E::Column) -> Self {
        let name = sea_orm::IdenStatic::as_str(&column).to_owned();
        self.columns(|c| c.display = Some(name))
    }

    /// A boolean column: users with `false` cannot sign in, and their
    /// sign-ins end.
    pub fn active(self, column: E::Column) -> Self {
        let name = sea_orm::IdenStatic::as_str(&column).to_owned();
        self.columns(|c| c.active = Some(name))
    }
}

impl<E> Default for Auth<E>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<U: AuthUser> Auth<U> {
    /// The realm `user` over your own type: `load` gives the user with an
    /// id (a sign-in's), or `None` when there is none.
    ///
    /// ```no_run
    /// use phial_auth::{Auth, AuthUser};
    /// #[derive(Clone)]
    /// struct Member { id: u64, hash: String }
    /// impl AuthUser for Member {
    ///     fn auth_id(&self) -> String { self.id.to_string() }
    ///     fn display_name(&self) -> String { format!("member {}", self.id) }
    ///     fn password_hash(&self) -> &str { &self.hash }
    /// }
    /// let members = Auth::with_loader(|_app, id: String| async move {
    ///     Ok(id.parse().ok().map(|id| Member { id, hash: String::new() }))
    /// })
    /// .finder(|_app, _name: String| async move { Ok(None::<Member>) });
    /// # let _ = members;
    /// ```
    pub fn with_loader<L, LF>(load: L) -> Self
    where
        L: Fn(AppState, String) -> LF + Send + Sync + 'static,
        LF: std::future::Future<Output = Result<Option<U>, BoxError>> + Send + 'static,
    {
        type NoFind<U> = fn(AppState, String) -> std::future::Ready<Result<Option<U>, BoxError>>;
        Auth {
            realm: "user".into(),
            ext_name: "auth:user".into(),
            login_url: "/login".into(),
            source: Source::Loader(Realm::of::<U, _, _, NoFind<U>, _>(
                "user", "/login", load, None,
            )),
            idle: None,
            staff: false,
            _user: PhantomData,
        }
    }

    /// How to find a user by the name they sign in with (for
    /// `Accounts::verify_password`).
    pub fn finder<F, FF>(mut self, find: F) -> Self
    where
        F: Fn(AppState, String) -> FF + Send + Sync + 'static,
        FF: std::future::Future<Output = Result<Option<U>, BoxError>> + Send + 'static,
    {
        if let Source::Loader(realm) = &mut self.source {
            let with_find = Realm::of::<U, _, _, F, FF>(
                &realm.name,
                &realm.login_url,
                |_, _| async { Ok(None::<U>) },
                Some(find),
            );
            realm.find = with_find.find;
        }
        self
    }
}

impl<T> Auth<T> {
    /// The realm's name (`user` unless set; the admin's is `staff`):
    /// the key of its sign-ins in the session and the store.
    pub fn realm(mut self, name: impl Into<String>) -> Self {
        self.realm = name.into();
        self.ext_name = format!("auth:{}", self.realm);
        self
    }

    /// Where browsers that must sign in are sent (with `?next=`).
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.login_url = url.into();
        self
    }

    /// An idle timeout of the realm's own (else `auth.idle_minutes`).
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }

    /// Marks the realm as staff (the admin's): requests list its user
    /// after the app's own.
    #[doc(hidden)]
    pub fn staff(mut self) -> Self {
        self.staff = true;
        self
    }

    fn build_realm(&self) -> Result<Realm, String> {
        let mut realm = match &self.source {
            Source::Entity(make, cols) => make(&self.realm, &self.login_url, cols)?,
            Source::Loader(realm) => realm.clone(),
        };
        realm.name = self.realm.as_str().into();
        realm.login_url = self.login_url.clone();
        realm.idle = self.idle;
        Ok(realm)
    }
}

/// A realm handed to the shared extension.
struct RealmSpec {
    realm: Realm,
    staff: bool,
}

impl<T: 'static> Extension for Auth<T> {
    fn name(&self) -> &str {
        // Unique per realm: `auth:user`, `auth:staff`.
        &self.ext_name
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let realm = self.build_realm()?;
        if !self
            .realm
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "realm `{}`: use letters, digits, `-` and `_` (it is part of keys)",
                self.realm
            )
            .into());
        }
        app.contribute(RealmSpec {
            realm,
            staff: self.staff,
        });
        if !app.has_extension::<AuthShared>() {
            app.register(AuthShared);
        }
        app.require_session_store();
        Ok(())
    }
}

/// The extension every realm shares (registered by the first `Auth`).
#[derive(Debug, Default)]
pub struct AuthShared;

impl Extension for AuthShared {
    fn name(&self) -> &str {
        "auth"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let cfg: AuthConfig = app.section(SECTION)?;
        if let Some((key, message)) = cfg.check() {
            return Err(format!("config key `auth.{key}` {message}").into());
        }
        app.contribute(phial_migrate::Contributed::new(
            crate::migration::CreateSession,
        ));
        app.offer_session_store(StoreKind::Database, |p| {
            let dbs = p
                .get::<phial_orm::Databases>()
                .ok_or("session.store = \"database\" needs the Orm extension: register it")?;
            Ok(Arc::new(crate::db_store::DbSessionStore::new(
                dbs.default_db().clone(),
            )) as _)
        });
        app.command(crate::cli::command(), crate::cli::run);
        // Signed-in requests need the store; anonymous ones do not: the
        // node is degraded, not down, and says why.
        app.health_check_optional("sessions", |state: AppState| async move {
            let store = state
                .get::<SessionStores>()
                .and_then(|s| s.store().cloned())
                .ok_or("no session store")?;
            store.ping().await.map_err(BoxError::from)
        });
        app.deploy_check(|state| {
            let kind = state
                .get::<SessionStores>()
                .and_then(|s| s.store().map(|st| st.kind()));
            match kind {
                Some("memory") => vec![DeployFinding::warning(
                    "session.store",
                    "sign-ins live in this process's memory: they end when it restarts and \
                     other nodes do not see them; set session.store to `cache` (Redis) or \
                     `database`",
                )],
                _ => Vec::new(),
            }
        });
        Ok(())
    }

    fn finish(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let cfg: AuthConfig = app.section(SECTION)?;
        let mut specs: Vec<RealmSpec> = app
            .take_contributions::<RealmSpec>()
            .into_iter()
            .map(|(_, spec)| spec)
            .collect();
        specs.sort_by_key(|s| s.staff);
        let mut realms: Vec<Arc<Realm>> = Vec::new();
        for spec in specs {
            if let Some(same) = realms
                .iter()
                .find(|r| r.name == spec.realm.name || r.user_type == spec.realm.user_type)
            {
                return Err(format!(
                    "two realms for `{}` / `{}`: give each user type one `Auth` with its own \
                     `.realm(..)` name",
                    same.name, spec.realm.name
                )
                .into());
            }
            realms.push(Arc::new(spec.realm));
        }
        // A write to a user's row (a new password, deactivation, new
        // rights) re-checks their sockets on every node: they reconnect
        // if their sign-in still holds. Requests see it at once anyway.
        let tables: Vec<(String, Arc<str>)> = realms
            .iter()
            .filter_map(|r| r.table.clone().map(|t| (t, r.name.clone())))
            .collect();
        if !tables.is_empty() {
            app.on_change("auth", move |state, change| {
                let tables = tables.clone();
                async move {
                    use phial_core::changes::Operation;
                    if change.op == Operation::Insert {
                        return;
                    }
                    for (table, realm) in &tables {
                        if *table != change.table {
                            continue;
                        }
                        for key in &change.keys {
                            let id = match key {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            state
                                .sign_outs()
                                .publish(phial_core::identity::SignOut::User {
                                    realm: realm.to_string(),
                                    id,
                                });
                        }
                    }
                }
            });
        }
        let core = Arc::new(AuthCore {
            cfg,
            realms: Realms(realms),
        });
        app.insert(core.clone());
        app.insert::<Arc<dyn Resolver>>(core);
        Ok(())
    }
}
