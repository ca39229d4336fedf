//! The operations of one resource: its collection (list, create), its rows
//! (get, replace, update, delete) and its bulk create, each with every
//! status it can answer and the problem shape of its errors.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterIn, PathItemBuilder};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ComponentsBuilder, PathsBuilder, Ref, RefOr, Required};

use super::ResourceDoc;
use super::parameters::{etag_header, list_parameters, param};
use super::schemas::{page_schema, read_schema, reference, schema_name, typed, write_schema};
use crate::resource::Operation;

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn json_response(description: &str, schema: impl Into<RefOr<Schema>>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .header(
            "ETag",
            HeaderBuilder::new()
                .description(Some("a strong entity tag"))
                .schema(Some(typed(Type::String)))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
}

fn not_modified() -> Response {
    ResponseBuilder::new()
        .description("not modified (If-None-Match)")
        .build()
}

/// What each error status means, as the problem's description.
fn problem_description(code: u16) -> &'static str {
    match code {
        400 => "a malformed request: the detail names the parameter",
        401 => "not signed in, or no valid bearer token",
        403 => "the policy does not allow it",
        404 => "no such row (or not one the caller may see)",
        409 => "a unique value is already taken",
        412 => "the row changed since the ETag in If-Match",
        413 => "the body is larger than the app's `body_limit`",
        415 => "the body is not JSON",
        422 => "invalid fields: `errors` lists every one",
        503 => "the database is unavailable; retry",
        _ => "an error",
    }
}

fn json_body(schema: impl Into<RefOr<Schema>>) -> RequestBody {
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

/// Adds a resource's paths and schemas to the document's.
pub(super) fn resource(
    doc: &ResourceDoc,
    mut paths: PathsBuilder,
    mut components: ComponentsBuilder,
) -> (PathsBuilder, ComponentsBuilder) {
    let s = &doc.shared;
    let stem = schema_name(&doc.name);
    components = components
        .schema(stem.clone(), read_schema(&s.meta))
        .schema(format!("{stem}Create"), write_schema(&s.meta, true))
        .schema(format!("{stem}Patch"), write_schema(&s.meta, false))
        .schema(format!("{stem}Page"), page_schema(&stem));
    let has = |op| doc.ops.contains(&op);
    let op_id = |verb: &str| format!("{verb}_{}", doc.name.replace(['/', '-'], "_"));
    // Every operation: its id, tag, summary, then its problems and who
    // may call it. Reads let anyone through (as anonymous); writes take a
    // session cookie or the token.
    let operation = |verb: &str, summary: String| {
        OperationBuilder::new()
            .operation_id(Some(op_id(verb)))
            .tag(doc.name.clone())
            .summary(Some(summary))
    };
    let finish = |mut op: OperationBuilder, codes: &[u16], writes: bool| {
        for &code in codes {
            op = op.response(
                code.to_string(),
                problem_response(problem_description(code)),
            );
        }
        if doc.bearer && writes {
            op = op
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::default());
        }
        op.build()
    };
    let key_param = || {
        param(
            "id",
            ParameterIn::Path,
            typed(Type::String),
            &format!("the primary key ({})", s.meta.primary_key.join(", ")),
        )
    };
    let if_match = || etag_header("If-Match", "a 412 unless the row still has this ETag");

    let mut collection = PathItemBuilder::new();
    let mut any = false;
    if has(Operation::List) {
        let mut params = list_parameters(s);
        params.push(etag_header(
            "If-None-Match",
            "a 304 when the list is unchanged",
        ));
        let op = operation("list", format!("List {}", doc.name))
            .parameters(Some(params))
            .response(
                "200",
                json_response("a page of rows", reference(&format!("{stem}Page"))).build(),
            )
            .response("304", not_modified());
        collection =
            collection.operation(HttpMethod::Get, finish(op, &[400, 401, 403, 503], false));
        any = true;
    }
    if has(Operation::Create) {
        let op = operation("create", format!("Create one of {}", doc.name))
            .request_body(Some(json_body(reference(&format!("{stem}Create")))))
            .response(
                "201",
                created_links(json_response("created", reference(&stem)), doc, &op_id),
            );
        collection = collection.operation(
            HttpMethod::Post,
            finish(op, &[400, 401, 403, 409, 413, 415, 422, 503], true),
        );
        any = true;
    }
    if any {
        paths = paths.path(s.collection.clone(), collection.build());
    }

    let mut item = PathItemBuilder::new();
    let mut any = false;
    if has(Operation::Get) {
        let op = operation("get", format!("One of {}", doc.name))
            .parameter(key_param())
            .parameter(etag_header(
                "If-None-Match",
                "a 304 when the row is unchanged",
            ))
            .response("200", json_response("the row", reference(&stem)).build())
            .response("304", not_modified());
        item = item.operation(HttpMethod::Get, finish(op, &[401, 403, 404, 503], false));
        any = true;
    }
    for (op, method, verb, summary, schema) in [
        (
            Operation::Replace,
            HttpMethod::Put,
            "replace",
            format!("Replace one of {}", doc.name),
            format!("{stem}Create"),
        ),
        (
            Operation::Update,
            HttpMethod::Patch,
            "update",
            format!("Change fields of one of {}", doc.name),
            format!("{stem}Patch"),
        ),
    ] {
        if has(op) {
            let op = operation(verb, summary)
                .parameter(key_param())
                .parameter(if_match())
                .request_body(Some(json_body(reference(&schema))))
                .response(
                    "200",
                    json_response("the row as saved", reference(&stem)).build(),
                );
            item = item.operation(
                method,
                finish(
                    op,
                    &[400, 401, 403, 404, 409, 412, 413, 415, 422, 503],
                    true,
                ),
            );
            any = true;
        }
    }
    if has(Operation::Delete) {
        let op = operation("delete", format!("Delete one of {}", doc.name))
            .parameter(key_param())
            .parameter(if_match())
            .response("204", ResponseBuilder::new().description("deleted").build());
        item = item.operation(
            HttpMethod::Delete,
            finish(op, &[401, 403, 404, 409, 412, 503], true),
        );
        any = true;
    }
    if any {
        paths = paths.path(format!("{}/{{id}}", s.collection), item.build());
    }
    if has(Operation::BulkCreate) {
        let rows = ArrayBuilder::new()
            .max_items(Some(s.bulk_limit))
            .items(Ref::from_schema_name(format!("{stem}Create")));
        let created = typed(Type::Object)
            .property("created", typed(Type::Integer))
            .required("created");
        let op = operation(
            "bulk_create",
            format!("Create many of {} at once (all or nothing)", doc.name),
        )
        .request_body(Some(json_body(rows.build())))
        .response(
            "201",
            ResponseBuilder::new()
                .description("created")
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(created)).build(),
                )
                .build(),
        );
        paths = paths.path(
            format!("{}/bulk", s.collection),
            PathItemBuilder::new()
                .operation(
                    HttpMethod::Post,
                    finish(op, &[400, 401, 403, 409, 413, 415, 422, 503], true),
                )
                .build(),
        );
    }
    (paths, components)
}

/// Links from a created row to the operations on it (by its key), so
/// clients and stateful testers can follow them.
fn created_links(
    mut response: ResponseBuilder,
    doc: &ResourceDoc,
    op_id: &dyn Fn(&str) -> String,
) -> Response {
    if let [key] = doc.shared.meta.primary_key.as_slice() {
        for (op, verb, name) in [
            (Operation::Get, "get", "Get"),
            (Operation::Update, "update", "Update"),
            (Operation::Replace, "replace", "Replace"),
            (Operation::Delete, "delete", "Delete"),
        ] {
            if doc.ops.contains(&op) {
                let link = LinkBuilder::new()
                    .operation_id(op_id(verb))
                    .parameter("id", format!("$response.body#/{key}"))
                    .build();
                response = response.link(name, link);
            }
        }
    }
    response.build()
}
