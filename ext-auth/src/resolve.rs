//! Who a request's session belongs to, once per request (the core's
//! `identity::Resolver`): for each realm the session names, its record and
//! the user's epoch in one read, then the user from the database — so a
//! sign-out, a new epoch ("sign out everywhere"), a deactivated account or
//! a changed password (the fingerprint) ends the sign-in at its very next
//! request, on any node. A realm without a live record is restored from its
//! remember-me token when the session has one. The store or the database
//! failing is an error (a 503), never "anonymous".

use std::time::Duration;

use futures_util::future::BoxFuture;
use phial_core::identity::{Identity, IdentityError, Resolver, SignedIn};
use phial_core::session::DynSessionStore;
use phial_core::{AppState, Session};
use subtle::ConstantTimeEq;

use crate::realm::Realm;
use crate::record::{self, Record, Remembered, UserKeys, now_secs, random_text, user_id};
use crate::signin::{AUTH_KEY, AuthCore, REMEMBER_KEY, entries, set_entry, signed_in};

fn unavailable(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Unavailable(e.to_string())
}

impl Resolver for AuthCore {
    fn alive<'a>(
        &'a self,
        app: &'a AppState,
        users: &'a [SignedIn],
    ) -> BoxFuture<'a, Result<Vec<bool>, IdentityError>> {
        Box::pin(async move {
            let store = crate::signin::store(app).map_err(unavailable)?;
            let mut out = Vec::with_capacity(users.len());
            for u in users {
                let (Some(realm), Some(rec)) = (
                    self.realms.by_name(u.realm()),
                    u.get::<crate::signin::RecordOf>(),
                ) else {
                    out.push(false);
                    continue;
                };
                out.push(self.still(app, &*store, realm, &rec.0).await?);
            }
            Ok(out)
        })
    }

    fn refers(&self, session: &Session) -> bool {
        // Quietly: an anonymous visitor's page stays shareable.
        session.peek_contains(AUTH_KEY) || session.peek_contains(REMEMBER_KEY)
    }

    fn resolve<'a>(
        &'a self,
        app: &'a AppState,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Identity, IdentityError>> {
        Box::pin(async move {
            let store = crate::signin::store(app).map_err(unavailable)?;
            let live = entries(session, AUTH_KEY);
            let tokens = entries(session, REMEMBER_KEY);
            let mut users = Vec::new();
            for realm in &self.realms.0 {
                let mut found = None;
                if let Some(entry) = live.get(&*realm.name) {
                    found = self.check(app, &*store, session, realm, entry).await?;
                    if found.is_none() {
                        set_entry(session, AUTH_KEY, &realm.name, None);
                    }
                }
                if found.is_none()
                    && let Some(token) = tokens.get(&*realm.name)
                {
                    found = self.restore(app, &*store, session, realm, token).await?;
                    if found.is_none() {
                        set_entry(session, REMEMBER_KEY, &realm.name, None);
                    }
                }
                users.extend(found);
            }
            Ok(Identity::new(users))
        })
    }
}

impl AuthCore {
    /// A live sign-in's user, or `None` when it ended.
    async fn check(
        &self,
        app: &AppState,
        store: &dyn DynSessionStore,
        session: &Session,
        realm: &Realm,
        entry: &str,
    ) -> Result<Option<SignedIn>, IdentityError> {
        let Some((kid, sid)) = entry.split_once('.') else {
            return Ok(None);
        };
        let keys = UserKeys::new(&realm.name, kid);
        let Some(rec) = self.record(store, &keys, sid).await? else {
            let _ = store.delete(&[keys.record(sid)]).await;
            return Ok(None);
        };
        let now = now_secs();
        let Some(user) = self.user(app, realm, kid, &rec.fp).await? else {
            let _ = store.delete(&[keys.record(sid)]).await;
            return Ok(None);
        };
        let (loaded, any) = user;
        let touch_every = Duration::from_secs(60).min(self.idle(realm) / 4);
        if !session.is_background() && now.saturating_sub(rec.seen) >= touch_every.as_secs() {
            let touched = Record {
                seen: now,
                ..rec.clone()
            };
            if let Ok(bytes) = serde_json::to_vec(&touched)
                && let Err(e) = store.set(&keys.record(sid), bytes, self.idle(realm)).await
            {
                tracing::warn!("could not renew a sign-in's idle timer: {e}");
            }
        }
        Ok(Some(signed_in(realm, &loaded, sid, rec.fresh, any)))
    }

    /// The record `sid` of the user `keys` name, when it is live: there,
    /// with the user's current epoch, within its lifetime (one read of the
    /// record and the epoch).
    async fn record(
        &self,
        store: &dyn DynSessionStore,
        keys: &UserKeys,
        sid: &str,
    ) -> Result<Option<Record>, IdentityError> {
        let got = store
            .get(&[keys.record(sid), keys.epoch()])
            .await
            .map_err(unavailable)?;
        let (Some(rec), Some(epoch)) = (&got[0], &got[1]) else {
            return Ok(None);
        };
        let Ok(rec) = serde_json::from_slice::<Record>(rec) else {
            return Ok(None);
        };
        let expired = now_secs().saturating_sub(rec.created) > self.cfg.lifetime().as_secs();
        Ok((rec.epoch.as_bytes() == epoch.as_slice() && !expired).then_some(rec))
    }

    /// Whether the record an `_auth` entry names is still live (the same
    /// checks as [`check`](Self::check), nothing renewed).
    async fn still(
        &self,
        app: &AppState,
        store: &dyn DynSessionStore,
        realm: &Realm,
        entry: &str,
    ) -> Result<bool, IdentityError> {
        let Some((kid, sid)) = entry.split_once('.') else {
            return Ok(false);
        };
        let keys = UserKeys::new(&realm.name, kid);
        let Some(rec) = self.record(store, &keys, sid).await? else {
            return Ok(false);
        };
        Ok(self.user(app, realm, kid, &rec.fp).await?.is_some())
    }

    /// The user behind a key id, when still active and with the same
    /// credentials as `fp`.
    async fn user(
        &self,
        app: &AppState,
        realm: &Realm,
        kid: &str,
        fp: &str,
    ) -> Result<Option<(crate::realm::Loaded, crate::realm::AnyUser)>, IdentityError> {
        let Some(id) = user_id(kid) else {
            return Ok(None);
        };
        let Some(any) = (realm.load)(app.clone(), id).await.map_err(unavailable)? else {
            return Ok(None);
        };
        let Some(loaded) = (realm.view)(&any) else {
            return Ok(None);
        };
        if !loaded.active || self.fingerprint(app, realm, &loaded) != fp {
            return Ok(None);
        }
        Ok(Some((loaded, any)))
    }

    /// A new (not fresh) sign-in from a remember-me token, or `None` when
    /// the token is gone, revoked or does not match.
    async fn restore(
        &self,
        app: &AppState,
        store: &dyn DynSessionStore,
        session: &Session,
        realm: &Realm,
        token: &str,
    ) -> Result<Option<SignedIn>, IdentityError> {
        let mut parts = token.splitn(3, '.');
        let (Some(kid), Some(selector), Some(validator)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let keys = UserKeys::new(&realm.name, kid);
        let got = store
            .get(&[keys.remember(selector), keys.epoch()])
            .await
            .map_err(unavailable)?;
        let (Some(saved), Some(epoch)) = (&got[0], &got[1]) else {
            return Ok(None);
        };
        let Ok(saved) = serde_json::from_slice::<Remembered>(saved) else {
            return Ok(None);
        };
        let matches: bool = record::validator_hash(validator)
            .as_bytes()
            .ct_eq(saved.hash.as_bytes())
            .into();
        let user = if matches && saved.epoch.as_bytes() == epoch.as_slice() {
            self.user(app, realm, kid, &saved.fp).await?
        } else {
            None
        };
        let Some((loaded, any)) = user else {
            let _ = store.delete(&[keys.remember(selector)]).await;
            return Ok(None);
        };
        let now = now_secs();
        let sid = random_text(32);
        let rec = Record {
            epoch: saved.epoch.clone(),
            created: now,
            fresh: 0,
            seen: now,
            fp: saved.fp.clone(),
        };
        let bytes = serde_json::to_vec(&rec).map_err(unavailable)?;
        store
            .set(&keys.record(&sid), bytes, self.idle(realm))
            .await
            .map_err(unavailable)?;
        set_entry(session, AUTH_KEY, &realm.name, Some(format!("{kid}.{sid}")));
        Ok(Some(signed_in(realm, &loaded, &sid, 0, any)))
    }
}
