//! [`Accounts`]: a realm's sign-in in handlers — check a password, sign a
//! user in and out, end every sign-in of a user.
//!
//! A password check is a resource to defend, so it is refused before any
//! hashing when the caller already tried too often: attempts are counted
//! per name and address and per address (growing delays, never a fixed
//! lock, so an attack on a name does not lock its owner out of another
//! address), and the hash itself waits for one of the process's few turns
//! (`[password]`). A name with no account costs the same work as a wrong
//! password, so the time taken does not tell which names exist.

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use phial_core::identity::SignOut;
use phial_core::rate_limit::{Limiter, address_key};
use phial_core::{AppState, ClientAddr, Session};

use crate::error::AuthError;
use crate::realm::{AnyUser, Realm};
use crate::signin::{AuthCore, Remember};

/// A realm's sign-in for a user type `U` (the entity's model with
/// `Auth::<E>::new()`, your type with `Auth::with_loader`). An extractor;
/// [`Accounts::of`] outside requests (the CLI).
///
/// ```no_run
/// use phial_auth::{Accounts, Remember};
/// use phial_core::{HttpError, Session};
/// # #[derive(Clone)] struct Author;
/// async fn sign_in(accounts: Accounts<Author>, session: Session) -> Result<&'static str, HttpError> {
///     # let (email, password) = ("ada@example.com", "secret");
///     match accounts.verify_password(email, password).await {
///         Ok(author) => {
///             accounts.login(&session, &author, Remember::No).await?;
///             Ok("signed in")
///         }
///         Err(e) => Err(HttpError::new(e.status(), e.to_string())),
///     }
/// }
/// ```
pub struct Accounts<U> {
    app: AppState,
    core: Arc<AuthCore>,
    realm: Arc<Realm>,
    addr: IpAddr,
    _user: PhantomData<fn() -> U>,
}

impl<U> Clone for Accounts<U> {
    fn clone(&self) -> Self {
        Accounts {
            app: self.app.clone(),
            core: self.core.clone(),
            realm: self.realm.clone(),
            addr: self.addr,
            _user: PhantomData,
        }
    }
}

impl<U> std::fmt::Debug for Accounts<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("realm", &self.realm.name)
            .finish_non_exhaustive()
    }
}

impl<U: Clone + Send + Sync + 'static> Accounts<U> {
    /// The realm of `U` in `app`, outside a request (calls come from
    /// `127.0.0.1`).
    pub fn of(app: &AppState) -> Result<Self, AuthError> {
        let core = app
            .get::<Arc<AuthCore>>()
            .cloned()
            .ok_or(AuthError::NoRealm(std::any::type_name::<U>()))?;
        let realm = core
            .realms
            .by_type(std::any::TypeId::of::<U>())
            .cloned()
            .ok_or(AuthError::NoRealm(std::any::type_name::<U>()))?;
        Ok(Accounts {
            app: app.clone(),
            core,
            realm,
            addr: IpAddr::from([127, 0, 0, 1]),
            _user: PhantomData,
        })
    }

    /// The realm's name (`user`, `staff`).
    pub fn realm(&self) -> &str {
        &self.realm.name
    }

    fn typed(any: AnyUser) -> Result<U, AuthError> {
        crate::signin::typed(&any).ok_or(AuthError::NoRealm(std::any::type_name::<U>()))
    }

    /// The user named `name` when `password` is theirs and they are
    /// active; otherwise [`AuthError::Invalid`] (which of the two was
    /// wrong is not said), or a refusal before any work (throttled, too
    /// long, too busy).
    pub async fn verify_password(&self, name: &str, password: &str) -> Result<U, AuthError> {
        let cfg = &self.core.cfg;
        let name = name.trim();
        if name.chars().count() > cfg.max_username {
            return Err(AuthError::TooLong {
                what: "name",
                max: cfg.max_username,
            });
        }
        let max_password = self.app.core().password.max_length;
        if password.len() > max_password {
            return Err(AuthError::TooLong {
                what: "password",
                max: max_password,
            });
        }
        let limiter = Limiter::of(&self.app);
        let (by_name, by_address) = self.attempt_keys(name);
        // Counted before the hash runs: a burst is refused at once, not
        // after it was hashed.
        let d = limiter.attempt(&by_name, cfg.per_name()).await;
        if !d.allowed {
            return Err(AuthError::Throttled {
                retry_after: d.retry_after,
            });
        }
        let d = limiter.attempt(&by_address, cfg.per_address()).await;
        if !d.allowed {
            return Err(AuthError::Throttled {
                retry_after: d.retry_after,
            });
        }
        let found = match &self.realm.find {
            Some(find) => find(self.app.clone(), name.to_owned())
                .await
                .map_err(|e| AuthError::Unavailable(e.to_string()))?,
            None => {
                return Err(AuthError::Unavailable(format!(
                    "realm `{}` has no finder: give `Auth::with_loader(..)` a `.finder(..)`",
                    self.realm.name
                )));
            }
        };
        let user = found.and_then(|any| (self.realm.view)(&any).map(|l| (l, any)));
        let Some((loaded, any)) = user else {
            phial_core::password::verify_unknown(password).await?;
            return Err(AuthError::Invalid);
        };
        let ok = if loaded.password_hash.is_empty() {
            phial_core::password::verify_unknown(password).await?
        } else {
            phial_core::password::verify(password, &loaded.password_hash)
                .await
                .or_else(|e| match e {
                    phial_core::password::PasswordError::MalformedHash(m) => {
                        tracing::warn!(realm = %self.realm.name, "a user's password hash is not valid: {m}");
                        Ok(false)
                    }
                    other => Err(other),
                })?
        };
        if !ok || !loaded.active {
            return Err(AuthError::Invalid);
        }
        // The owner is back: their name from this address starts afresh,
        // and this attempt does not count against the address (others
        // behind it). The address's failures stay: an attacker with an
        // account of their own cannot wipe them between guesses.
        limiter.forget(&by_name).await;
        limiter.refund(&by_address).await;
        Self::typed(any)
    }

    fn attempt_keys(&self, name: &str) -> (String, String) {
        let addr = address_key(self.addr);
        let realm = &self.realm.name;
        (
            format!("auth:{realm}:n:{}|{addr}", name.to_lowercase()),
            format!("auth:{realm}:a:{addr}"),
        )
    }

    /// Signs `user` in on `session`: a new sign-in record (the session's
    /// cookie names a new, random one: whatever it named before is useless
    /// now), a new CSRF secret, and with [`Remember::Yes`] a remember-me
    /// token. The rest of the request sees the user signed in.
    pub async fn login(
        &self,
        session: &Session,
        user: &U,
        remember: Remember,
    ) -> Result<(), AuthError> {
        self.core
            .start(
                &self.app,
                session,
                &self.realm,
                Arc::new(user.clone()),
                remember,
                true,
            )
            .await
            .map(|_| ())
    }

    /// Ends the realm's sign-in on `session`, everywhere it is used: its
    /// record and token are deleted (a copy of the cookie signs in nobody)
    /// and its sockets are disconnected on every node. Other realms'
    /// sign-ins on the session stay.
    pub async fn logout(&self, session: &Session) -> Result<(), AuthError> {
        self.core.end(&self.app, session, &self.realm).await
    }

    /// Ends every sign-in of the user `id` (every browser, every node, their
    /// remember-me tokens) and disconnects their sockets.
    pub async fn logout_everywhere(&self, id: &str) -> Result<(), AuthError> {
        self.core.end_everywhere(&self.app, &self.realm, id).await
    }

    /// Says the user's rights changed (roles, grants): their sockets are
    /// disconnected and reconnect with the rights they have now. Their
    /// requests see the change at once (the user is loaded on each).
    pub fn user_changed(&self, id: &str) {
        self.app.sign_outs().publish(SignOut::User {
            realm: self.realm.name.to_string(),
            id: id.to_owned(),
        });
    }

    /// Loads the user `id`.
    pub async fn load(&self, id: &str) -> Result<Option<U>, AuthError> {
        match (self.realm.load)(self.app.clone(), id.to_owned())
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?
        {
            Some(any) => Self::typed(any).map(Some),
            None => Ok(None),
        }
    }
}

impl<S, U> FromRequestParts<S> for Accounts<U>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    U: Clone + Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let mut accounts = Accounts::of(&app)?;
        accounts.addr = ClientAddr::of(parts).0;
        Ok(accounts)
    }
}
