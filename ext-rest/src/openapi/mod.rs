//! One OpenAPI 3.1 document for the app's API, built with utoipa's
//! builders: the generated resources (schemas for what is read, created
//! and patched; every parameter; every status an operation can answer,
//! with its problem shape) and the app's own handlers annotated with
//! `#[utoipa::path]`, merged in.

mod operations;
mod parameters;
mod schemas;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder};

use crate::resource::{Operation, Shared};

/// What the document needs of one mounted resource.
pub(crate) struct ResourceDoc {
    pub(crate) shared: std::sync::Arc<Shared>,
    pub(crate) ops: Vec<Operation>,
    /// `posts`: the tag, and the stem of schema names and operation ids.
    pub(crate) name: String,
    /// Whether a bearer token is one way in.
    pub(crate) bearer: bool,
}

/// The whole document: generated resources first, then the app's own
/// documents (their paths, schemas, security schemes and tags; ours win a
/// clash).
pub(crate) fn document(
    title: &str,
    version: &str,
    resources: &[ResourceDoc],
    extra: &[OpenApi],
) -> OpenApi {
    let mut paths = PathsBuilder::new();
    let mut components = ComponentsBuilder::new().schema("Problem", schemas::problem_schema());
    for r in resources {
        (paths, components) = operations::resource(r, paths, components);
    }
    if resources.iter().any(|r| r.bearer) {
        components = components.security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
    let tags = resources
        .iter()
        .map(|r| TagBuilder::new().name(r.name.clone()).build());
    let mut doc = OpenApiBuilder::new()
        .info(InfoBuilder::new().title(title).version(version).build())
        .paths(paths)
        .components(Some(components.build()))
        .tags(Some(tags))
        .build();
    for other in extra {
        doc.merge(other.clone());
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::schemas::schema_name;

    #[test]
    fn schema_names_are_pascal_case() {
        assert_eq!(schema_name("posts"), "Posts");
        assert_eq!(schema_name("blog_post-tags"), "BlogPostTags");
    }
}
