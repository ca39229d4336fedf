//! The REST extension: the resources an app serves, the guard they share
//! and the app's own OpenAPI documents, mounted under `rest.prefix`.

use std::sync::Mutex;

use phial_core::{AppBuilder, BoxError, Extension};
use phial_orm::Orm;

#[cfg(feature = "cache")]
use crate::cached;
use crate::config::{RestConfig, SECTION};
use crate::error::RestError;
use crate::guard::Guard;
use crate::resource::{self, Resource, RestEntity};
use crate::{docs, openapi};

/// The REST extension (see the crate docs).
#[derive(Default)]
pub struct Rest {
    resources: Mutex<Vec<Box<dyn resource::Mount>>>,
    guard: Option<Guard>,
    documents: Vec<utoipa::openapi::OpenApi>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables: Vec<String> = self
            .resources
            .lock()
            .map(|r| r.iter().map(|m| m.table().to_owned()).collect())
            .unwrap_or_default();
        f.debug_struct("Rest")
            .field("resources", &tables)
            .field("guard", &self.guard)
            .finish()
    }
}

impl Rest {
    /// No resources yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves an entity.
    pub fn resource<E: RestEntity>(self, resource: Resource<E>) -> Self {
        self.resources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(resource));
        self
    }

    /// Adds the app's own endpoints to the API's document: handlers
    /// annotated with `#[utoipa::path]`, gathered by `#[derive(OpenApi)]`.
    ///
    /// ```
    /// use phial_rest::Rest;
    /// use phial_rest::utoipa::{self, OpenApi};
    ///
    /// /// How many posts there are.
    /// #[utoipa::path(get, path = "/api/stats", responses((status = 200, description = "counts", body = u64)))]
    /// async fn stats() -> String { "0".into() }
    ///
    /// #[derive(OpenApi)]
    /// #[openapi(paths(stats))]
    /// struct ApiDoc;
    ///
    /// let rest = Rest::new().document(ApiDoc::openapi());
    /// # let _ = rest;
    /// ```
    pub fn document(mut self, doc: utoipa::openapi::OpenApi) -> Self {
        self.documents.push(doc);
        self
    }

    /// How callers are recognised on every resource that does not set its
    /// own guards: writes need it to pass; reads let anyone else through as
    /// anonymous (the policy decides what they see).
    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }
}

impl Extension for Rest {
    fn name(&self) -> &str {
        "rest"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        app.require::<Orm>();
        let cfg: RestConfig = app.section(SECTION)?;
        if !cfg.prefix.starts_with('/') {
            return Err(RestError::Prefix(cfg.prefix.clone()).into());
        }
        // Writes drop the cached reads of the rows they touched.
        #[cfg(feature = "cache")]
        app.on_change("rest", cached::on_change)
            .before_change("rest", cached::before_change);
        let resources =
            std::mem::take(&mut *self.resources.lock().unwrap_or_else(|p| p.into_inner()));
        let mut problems = Vec::new();
        let mut docs = Vec::new();
        for resource in resources {
            match resource.mount(app, &cfg, self.guard.as_ref()) {
                Ok(doc) => docs.push(doc),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(RestError::Resources(problems).into());
        }
        if cfg.docs {
            let title = cfg
                .title
                .clone()
                .unwrap_or_else(|| format!("{} API", app.core_config().app_name()));
            let document = openapi::document(&title, &cfg.version, &docs, &self.documents);
            let bytes = serde_json::to_vec(&document)?;
            docs::mount(app, &cfg.prefix, bytes.into());
        }
        Ok(())
    }
}
