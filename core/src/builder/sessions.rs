//! Server-side session stores: offered by extensions (the cache, the
//! database), needed by others (`phial::auth`), chosen by `session.store`
//! once the providers have run (see `crate::session::SessionStores`).

use std::sync::Arc;

use super::AppBuilder;
use crate::error::{BoxError, BuildError};
use crate::session::{DynSessionStore, MemorySessionStore, Offer, SessionStores, StoreKind};

impl AppBuilder {
    /// Offers a session store for `session.store = kind` (`cache`,
    /// `database`); `make` runs after the providers, only if the
    /// configuration picks it, and sees what they provided.
    ///
    /// ```
    /// # fn doc(app: &mut phial_core::AppBuilder) {
    /// use std::sync::Arc;
    /// use phial_core::session::{MemorySessionStore, StoreKind};
    /// app.offer_session_store(StoreKind::Cache, |_provided| {
    ///     Ok(Arc::new(MemorySessionStore::default()) as _)
    /// });
    /// # }
    /// ```
    pub fn offer_session_store<F>(&mut self, kind: StoreKind, make: F) -> &mut Self
    where
        F: FnOnce(&crate::Provided) -> Result<Arc<dyn DynSessionStore>, BoxError> + Send + 'static,
    {
        self.session_offers.push(Offer {
            source: self.current.clone(),
            kind,
            make: Box::new(make),
        });
        self
    }

    /// Declares that the running extension keeps records in the session
    /// store: `session.store = "auto"` then picks one, and `cookie` is a
    /// build error naming the extension.
    pub fn require_session_store(&mut self) -> &mut Self {
        if self.session_store_needed_by.is_none() {
            self.session_store_needed_by = Some(self.current.clone());
        }
        self
    }
}

/// Picks the store `session.store` names among the offers (after the
/// providers) and puts [`SessionStores`] in the state.
pub(crate) fn resolve(b: &mut AppBuilder, provided: &crate::Provided) {
    let configured = b.core.session.store;
    let offers = std::mem::take(&mut b.session_offers);
    let needed_by = b.session_store_needed_by.clone();
    let kind = match configured {
        StoreKind::Auto if needed_by.is_none() => StoreKind::Cookie,
        StoreKind::Auto => [StoreKind::Cache, StoreKind::Database]
            .into_iter()
            .find(|k| offers.iter().any(|o| o.kind == *k))
            .unwrap_or(StoreKind::Memory),
        k => k,
    };
    let store: Option<Arc<dyn DynSessionStore>> = match kind {
        StoreKind::Cookie | StoreKind::Auto => {
            if let Some(who) = needed_by {
                b.errors.push(BuildError::Config {
                    extension: who.clone(),
                    key: "session.store".into(),
                    message: format!(
                        "is `cookie`, but `{who}` keeps sign-ins on the server so that they \
                         can be ended: set it to `cache`, `database` or `memory` (one node), \
                         or leave it out (`auto`)"
                    ),
                });
            }
            None
        }
        StoreKind::Memory => Some(Arc::new(MemorySessionStore::default())),
        wanted => match offers.into_iter().find(|o| o.kind == wanted) {
            Some(offer) => match (offer.make)(provided) {
                Ok(store) => Some(store),
                Err(source) => {
                    b.errors.push(BuildError::Extension {
                        extension: offer.source,
                        phase: "session store",
                        source,
                    });
                    None
                }
            },
            None => {
                b.errors.push(BuildError::Config {
                    extension: "core".into(),
                    key: "session.store".into(),
                    message: format!(
                        "is `{}`, which no registered extension provides: {}",
                        wanted.name(),
                        match wanted {
                            StoreKind::Cache => "register the cache (`Caching::new()`)",
                            _ => "register `phial::auth` with the ORM and migrations",
                        }
                    ),
                });
                None
            }
        },
    };
    b.values.insert(SessionStores::new(store));
}
