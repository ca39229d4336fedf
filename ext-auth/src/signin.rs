//! Starting and ending sign-ins in the store (see `record` for what is
//! kept where). [`AuthCore`] is in the app's state; the resolver,
//! [`Accounts`](crate::Accounts) and the CLI go through it.

use std::collections::BTreeMap;
use std::sync::Arc;

use phial_core::identity::{self, Identity, SignOut, SignedIn};
use phial_core::session::{DynSessionStore, SessionStores};
use phial_core::{AppState, Session};

use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::realm::{AnyUser, Loaded, Realm, Realms};
use crate::record::{self, Record, Remembered, UserKeys, key_id, now_secs, random_text};

/// Session key: realm → `user.sid` of each live sign-in.
pub(crate) const AUTH_KEY: &str = "_auth";
/// Session key: realm → `user.selector.validator` of each remember-me token.
pub(crate) const REMEMBER_KEY: &str = "_remember";

/// The loaded user a [`SignedIn`] carries, for `CurrentUser<U>`.
#[derive(Clone)]
pub(crate) struct UserBox(pub(crate) AnyUser);

/// A loaded user as the app's type `U`, when it is one.
pub(crate) fn typed<U: Clone + 'static>(any: &AnyUser) -> Option<U> {
    any.downcast_ref::<U>().cloned()
}

/// Which record a [`SignedIn`] came from (`user.sid` of `_auth`), for
/// re-checks of long-lived connections.
#[derive(Clone)]
pub(crate) struct RecordOf(pub(crate) String);

/// What every realm shares: the settings and the realms.
pub(crate) struct AuthCore {
    pub(crate) cfg: AuthConfig,
    pub(crate) realms: Realms,
}

/// Whether to keep a remember-me token with the sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remember {
    /// A token that signs the browser in again for `auth.remember_days`.
    Yes,
    /// The sign-in ends when idle or at its lifetime.
    No,
}

pub(crate) fn store(app: &AppState) -> Result<Arc<dyn DynSessionStore>, AuthError> {
    app.get::<SessionStores>()
        .and_then(|s| s.store().cloned())
        .ok_or_else(|| {
            AuthError::Unavailable(
                "no session store: set session.store to cache, database or memory".into(),
            )
        })
}

fn unavailable(e: impl std::fmt::Display) -> AuthError {
    AuthError::Unavailable(e.to_string())
}

/// A session's map under `key` (realm → entry).
pub(crate) fn entries(session: &Session, key: &str) -> BTreeMap<String, String> {
    session.get(key).unwrap_or_default()
}

pub(crate) fn set_entry(session: &Session, key: &str, realm: &str, value: Option<String>) {
    let mut map = entries(session, key);
    let changed = match value {
        Some(v) => map.insert(realm.to_owned(), v.clone()).as_ref() != Some(&v),
        None => map.remove(realm).is_some(),
    };
    if !changed {
        return;
    }
    if map.is_empty() {
        session.remove(key);
    } else {
        let _ = session.insert(key, map);
    }
}

impl AuthCore {
    pub(crate) fn idle(&self, realm: &Realm) -> std::time::Duration {
        realm.idle.unwrap_or_else(|| self.cfg.idle())
    }

    pub(crate) fn fingerprint(&self, app: &AppState, realm: &Realm, user: &Loaded) -> String {
        record::fingerprint(
            app.core().effective_secret_key(),
            &realm.name,
            &user.id,
            &user.password_hash,
        )
    }

    /// The user's epoch, made if there is none (the first writer's wins).
    async fn epoch(
        &self,
        store: &dyn DynSessionStore,
        keys: &UserKeys,
    ) -> Result<String, AuthError> {
        let made = random_text(16).into_bytes();
        let now = store
            .set_if_absent(&keys.epoch(), made, self.cfg.epoch_ttl())
            .await
            .map_err(unavailable)?;
        String::from_utf8(now).map_err(|_| unavailable("the user's epoch is not text"))
    }

    /// Starts a sign-in of `user` (given as its realm's type) on `session`:
    /// a new record (and token), a new CSRF secret, the request's identity
    /// updated. The sign-in this session had in the realm ends.
    pub(crate) async fn start(
        &self,
        app: &AppState,
        session: &Session,
        realm: &Realm,
        user: AnyUser,
        remember: Remember,
        fresh: bool,
    ) -> Result<SignedIn, AuthError> {
        let loaded = (realm.view)(&user).ok_or(AuthError::NoRealm(realm.user_type_name))?;
        let store = store(app)?;
        if let Some(old) = entries(session, AUTH_KEY).get(&*realm.name) {
            self.forget_record(app, &*store, realm, old).await;
        }
        let keys = UserKeys::new(&realm.name, &key_id(&loaded.id));
        let epoch = self.epoch(&*store, &keys).await?;
        let fp = self.fingerprint(app, realm, &loaded);
        let now = now_secs();
        let sid = random_text(32);
        let rec = Record {
            epoch: epoch.clone(),
            created: now,
            fresh: if fresh { now } else { 0 },
            seen: now,
            fp: fp.clone(),
        };
        let bytes = serde_json::to_vec(&rec).map_err(unavailable)?;
        store
            .set(&keys.record(&sid), bytes, self.idle(realm))
            .await
            .map_err(unavailable)?;
        let kid = key_id(&loaded.id);
        set_entry(session, AUTH_KEY, &realm.name, Some(format!("{kid}.{sid}")));
        if remember == Remember::Yes {
            let selector = random_text(12);
            let validator = random_text(32);
            let token = Remembered {
                epoch,
                hash: record::validator_hash(&validator),
                created: now,
                fp,
            };
            let bytes = serde_json::to_vec(&token).map_err(unavailable)?;
            store
                .set(&keys.remember(&selector), bytes, self.cfg.remember())
                .await
                .map_err(unavailable)?;
            set_entry(
                session,
                REMEMBER_KEY,
                &realm.name,
                Some(format!("{kid}.{selector}.{validator}")),
            );
        } else {
            self.drop_token(&*store, session, realm).await;
        }
        phial_core::csrf::rotate(session);
        let signed = signed_in(realm, &loaded, &sid, rec.fresh, user);
        self.replace_identity(session, Some(signed.clone()), &realm.name);
        Ok(signed)
    }

    /// Ends the realm's sign-in on `session` (its record and token, on
    /// every node; its sockets are disconnected).
    pub(crate) async fn end(
        &self,
        app: &AppState,
        session: &Session,
        realm: &Realm,
    ) -> Result<(), AuthError> {
        let store = store(app)?;
        if let Some(entry) = entries(session, AUTH_KEY).get(&*realm.name) {
            self.forget_record(app, &*store, realm, entry).await;
        }
        self.drop_token(&*store, session, realm).await;
        set_entry(session, AUTH_KEY, &realm.name, None);
        phial_core::csrf::rotate(session);
        self.replace_identity(session, None, &realm.name);
        Ok(())
    }

    /// Ends every sign-in of user `id` in `realm` on every node (a new
    /// epoch), and disconnects their sockets.
    pub(crate) async fn end_everywhere(
        &self,
        app: &AppState,
        realm: &Realm,
        id: &str,
    ) -> Result<(), AuthError> {
        let store = store(app)?;
        let keys = UserKeys::new(&realm.name, &key_id(id));
        store
            .set(
                &keys.epoch(),
                random_text(16).into_bytes(),
                self.cfg.epoch_ttl(),
            )
            .await
            .map_err(unavailable)?;
        app.sign_outs().publish(SignOut::User {
            realm: realm.name.to_string(),
            id: id.to_owned(),
        });
        Ok(())
    }

    /// Deletes the record an `_auth` entry names, and tells its sockets.
    async fn forget_record(
        &self,
        app: &AppState,
        store: &dyn DynSessionStore,
        realm: &Realm,
        entry: &str,
    ) {
        let Some((kid, sid)) = entry.split_once('.') else {
            return;
        };
        let keys = UserKeys::new(&realm.name, kid);
        if let Err(e) = store.delete(&[keys.record(sid)]).await {
            tracing::warn!("could not delete a sign-in record: {e}");
        }
        app.sign_outs().publish(SignOut::Session {
            realm: realm.name.to_string(),
            handle: record::handle(sid),
        });
    }

    /// Deletes the session's remember-me token of the realm, if any.
    async fn drop_token(&self, store: &dyn DynSessionStore, session: &Session, realm: &Realm) {
        if let Some(entry) = entries(session, REMEMBER_KEY).get(&*realm.name) {
            let mut parts = entry.splitn(3, '.');
            if let (Some(kid), Some(selector)) = (parts.next(), parts.next()) {
                let keys = UserKeys::new(&realm.name, kid);
                if let Err(e) = store.delete(&[keys.remember(selector)]).await {
                    tracing::warn!("could not delete a remember-me token: {e}");
                }
            }
        }
        set_entry(session, REMEMBER_KEY, &realm.name, None);
    }

    /// The request sees the new sign-in (or its end) from now on.
    fn replace_identity(&self, session: &Session, signed: Option<SignedIn>, realm: &str) {
        let mut users: Vec<SignedIn> = identity::resolved_for(session)
            .map(|i| i.users().to_vec())
            .unwrap_or_default();
        users.retain(|u| u.realm() != realm);
        users.extend(signed);
        let order = |u: &SignedIn| {
            self.realms
                .0
                .iter()
                .position(|r| &*r.name == u.realm())
                .unwrap_or(usize::MAX)
        };
        users.sort_by_key(order);
        identity::replace(session, Identity::new(users));
    }
}

/// The [`SignedIn`] of a loaded user.
pub(crate) fn signed_in(
    realm: &Realm,
    loaded: &Loaded,
    sid: &str,
    fresh: u64,
    user: AnyUser,
) -> SignedIn {
    SignedIn::new(
        realm.name.clone(),
        loaded.id.clone(),
        loaded.name.clone(),
        record::handle(sid),
        fresh,
    )
    .with(loaded.caller.clone())
    .with(UserBox(user))
    .with(RecordOf(format!("{}.{sid}", record::key_id(&loaded.id))))
}
