//! A realm: one kind of user (the app's users, the admin's staff) with
//! how to load one by id, find one by name, and read what sign-in needs
//! from it. The app describes it with [`AuthUser`] and a loader, or with an
//! entity whose columns say it (see `entity`); either way it becomes the
//! type-erased [`Realm`] the resolver and [`Accounts`](crate::Accounts) use.

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use phial_core::{AppState, BoxError};
use phial_orm::policy::Caller;

/// A user type signed in with a loader of your own
/// ([`Auth::with_loader`](crate::Auth::with_loader)).
///
/// ```
/// use phial_auth::AuthUser;
/// #[derive(Clone)]
/// struct Member { id: u64, email: String, hash: String, active: bool }
/// impl AuthUser for Member {
///     fn auth_id(&self) -> String { self.id.to_string() }
///     fn display_name(&self) -> String { self.email.clone() }
///     fn password_hash(&self) -> &str { &self.hash }
///     fn is_active(&self) -> bool { self.active }
/// }
/// ```
pub trait AuthUser: Clone + Send + Sync + 'static {
    /// The id a sign-in keeps (a primary key as text).
    fn auth_id(&self) -> String;
    /// What pages show (`current_user.name`).
    fn display_name(&self) -> String;
    /// The stored scrypt PHC string (`phial::password::hash`); empty: the
    /// user cannot sign in with a password. A changed hash ends the user's
    /// sign-ins.
    fn password_hash(&self) -> &str;
    /// Whether the user may sign in; an inactive user's sign-ins end at
    /// their next request.
    fn is_active(&self) -> bool {
        true
    }
    /// Who the user is to models' policies (REST, the admin, sockets).
    fn caller(&self) -> Caller {
        Caller::user(self.auth_id())
    }
}

/// A user as sign-in sees them.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) password_hash: String,
    pub(crate) active: bool,
    pub(crate) caller: Caller,
}

/// A loaded user of the realm's type, type-erased.
pub(crate) type AnyUser = Arc<dyn Any + Send + Sync>;

type LoadFn = Arc<
    dyn Fn(AppState, String) -> BoxFuture<'static, Result<Option<AnyUser>, BoxError>> + Send + Sync,
>;
type ViewFn = Arc<dyn Fn(&AnyUser) -> Option<Loaded> + Send + Sync>;

/// One realm, type-erased.
#[derive(Clone)]
pub(crate) struct Realm {
    pub(crate) name: Arc<str>,
    pub(crate) user_type: TypeId,
    pub(crate) user_type_name: &'static str,
    pub(crate) load: LoadFn,
    pub(crate) find: Option<LoadFn>,
    pub(crate) view: ViewFn,
    /// Where browsers are sent to sign in.
    pub(crate) login_url: String,
    /// An idle timeout of the realm's own (the admin's), else `[auth]`'s.
    pub(crate) idle: Option<Duration>,
    /// The users' table, for an entity's realm: a write to a user's row
    /// re-checks their sockets.
    pub(crate) table: Option<String>,
}

impl std::fmt::Debug for Realm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realm")
            .field("name", &self.name)
            .field("user_type", &self.user_type_name)
            .finish_non_exhaustive()
    }
}

impl Realm {
    /// A realm of `U` from a loader by id and, for password sign-in, a
    /// finder by name.
    pub(crate) fn of<U, L, LF, F, FF>(
        name: &str,
        login_url: &str,
        load: L,
        find: Option<F>,
    ) -> Realm
    where
        U: AuthUser,
        L: Fn(AppState, String) -> LF + Send + Sync + 'static,
        LF: Future<Output = Result<Option<U>, BoxError>> + Send + 'static,
        F: Fn(AppState, String) -> FF + Send + Sync + 'static,
        FF: Future<Output = Result<Option<U>, BoxError>> + Send + 'static,
    {
        let load = erase(load);
        let find = find.map(erase);
        Realm {
            name: name.into(),
            user_type: TypeId::of::<U>(),
            user_type_name: std::any::type_name::<U>(),
            load,
            find,
            view: Arc::new(|any| {
                let u = any.downcast_ref::<U>()?;
                Some(Loaded {
                    id: u.auth_id(),
                    name: u.display_name(),
                    password_hash: u.password_hash().to_owned(),
                    active: u.is_active(),
                    caller: u.caller(),
                })
            }),
            login_url: login_url.to_owned(),
            idle: None,
            table: None,
        }
    }
}

/// A typed loader as the realm keeps it.
fn erase<U, F, Fut>(f: F) -> LoadFn
where
    U: Send + Sync + 'static,
    F: Fn(AppState, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<U>, BoxError>> + Send + 'static,
{
    Arc::new(move |app, key| {
        let fut = f(app, key);
        Box::pin(async move { Ok(fut.await?.map(|u| Arc::new(u) as AnyUser)) })
    })
}

/// Every realm of the app, in its state.
#[derive(Debug, Default, Clone)]
pub(crate) struct Realms(pub(crate) Vec<Arc<Realm>>);

impl Realms {
    pub(crate) fn by_type(&self, t: TypeId) -> Option<&Arc<Realm>> {
        self.0.iter().find(|r| r.user_type == t)
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<&Arc<Realm>> {
        self.0.iter().find(|r| &*r.name == name)
    }
}
