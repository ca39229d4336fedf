//! Typed state: values inserted now, and providers (async setup such as
//! connecting a pool) whose values join the state when the app is built.

use std::any::{Any, TypeId, type_name};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::AppBuilder;
use crate::config::{Config, CoreConfig};
use crate::error::BoxError;
use crate::state::TypeMap;

type ProviderFn = Box<
    dyn FnOnce(Provided) -> BoxFuture<'static, Result<Arc<dyn Any + Send + Sync>, BoxError>> + Send,
>;

pub(crate) struct Provider {
    pub(crate) source: String,
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    pub(crate) run: ProviderFn,
}

/// Read access to the values provided so far, handed to a provider.
#[derive(Clone)]
pub struct Provided {
    pub(crate) config: Config,
    pub(crate) core: Arc<CoreConfig>,
    pub(crate) values: TypeMap,
    pub(crate) instance_path: PathBuf,
}

impl Provided {
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Phial's own keys.
    pub fn core(&self) -> &CoreConfig {
        &self.core
    }

    /// A value provided earlier (by an extension registered before).
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values.get::<T>()
    }

    /// The instance folder, created before providers run.
    pub fn instance_path(&self) -> &std::path::Path {
        &self.instance_path
    }
}

impl AppBuilder {
    /// Adds a value to the typed state now (no I/O needed).
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.values.insert(value);
        self
    }

    /// Adds a value that is already shared (an `Arc` the caller keeps).
    pub fn insert_arc<T: Send + Sync + 'static>(&mut self, value: Arc<T>) -> &mut Self {
        self.values
            .insert_any(TypeId::of::<T>(), type_name::<T>(), value);
        self
    }

    /// A value inserted into the state so far (not one a provider will
    /// make at build time): an extension adding to a shared registry.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values.get::<T>()
    }

    /// Whether a value of type `T` is in the state or will be provided.
    pub fn provides<T: Send + Sync + 'static>(&self) -> bool {
        self.values.get::<T>().is_some()
            || self
                .providers
                .iter()
                .any(|p| p.type_id == TypeId::of::<T>())
    }

    /// Hands async work to the builder: `f` runs when the app is built, after
    /// the providers registered before it, and its value joins the typed
    /// state. Failures are collected with the extension's name.
    ///
    /// ```
    /// # use phial_core::{App, Config};
    /// # async fn doc() {
    /// struct Pool(u32);
    /// let app = App::builder(Config::testing())
    ///     .provide(|_p| async { Ok(Pool(5)) })
    ///     .build().await.unwrap();
    /// assert_eq!(app.state().get::<Pool>().unwrap().0, 5);
    /// # }
    /// ```
    pub fn provide<T, F, Fut>(&mut self, f: F) -> &mut Self
    where
        T: Send + Sync + 'static,
        F: FnOnce(Provided) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, BoxError>> + Send + 'static,
    {
        let run: ProviderFn = Box::new(move |p| {
            Box::pin(async move {
                f(p).await
                    .map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>)
            })
        });
        self.providers.push(Provider {
            source: self.current.clone(),
            type_id: TypeId::of::<T>(),
            type_name: type_name::<T>(),
            run,
        });
        self
    }
}
