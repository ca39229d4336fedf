//! One OpenAPI 3.1 document for the app's API: the generated resources
//! (schemas for what is read, created and patched; every parameter; every
//! status an operation can answer, with its problem shape) and the app's
//! own handlers annotated with `#[utoipa::path]`, merged in.
//!
//! One file: one document's builder: its schemas, parameters and responses
//! refer to each other by name.

use phial_orm::meta::{FieldKind, FieldMeta, ModelMeta};
use serde_json::{Map, Value as Json, json};

use crate::resource::{Operation, Shared};
use phial_orm::query::{MAX_PAGE, Op, RESERVED};

/// What the document needs of one mounted resource.
pub(crate) struct ResourceDoc {
    pub(crate) shared: std::sync::Arc<Shared>,
    pub(crate) ops: Vec<Operation>,
    /// `posts`: the tag, and the stem of schema names and operation ids.
    pub(crate) name: String,
    /// Whether a bearer token is one way in.
    pub(crate) bearer: bool,
}

/// `post_tag` -> `PostTag`.
fn schema_name(name: &str) -> String {
    name.split(['_', '-', '/'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn reference(name: &str) -> Json {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A field's value as a JSON Schema.
fn field_schema(f: &FieldMeta) -> Json {
    let (ty, extra): (&str, Json) = match f.kind {
        FieldKind::Integer => {
            let (lo, hi) = f.int_range.unwrap_or((i64::MIN.into(), i64::MAX.into()));
            let format = if lo >= i32::MIN.into() && hi <= i32::MAX.into() {
                "int32"
            } else {
                "int64"
            };
            let clamp = |v: i128| v.clamp(i64::MIN.into(), i64::MAX.into()) as i64;
            (
                "integer",
                json!({"format": format, "minimum": clamp(lo), "maximum": clamp(hi)}),
            )
        }
        FieldKind::Number => ("number", json!({"format": "double"})),
        FieldKind::Boolean => ("boolean", json!({})),
        FieldKind::String | FieldKind::Text => match f.max_length {
            Some(n) => ("string", json!({"maxLength": n})),
            None => ("string", json!({})),
        },
        FieldKind::Enum => (
            "string",
            json!({"enum": f.enum_values.clone().unwrap_or_default()}),
        ),
        FieldKind::Date => ("string", json!({"format": "date"})),
        FieldKind::Time => ("string", json!({"pattern": r"^\d{2}:\d{2}:\d{2}(\.\d+)?$"})),
        // No zone: RFC 3339's `date-time` would require one.
        FieldKind::DateTime => (
            "string",
            json!({"pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$"}),
        ),
        FieldKind::DateTimeTz => ("string", json!({"format": "date-time"})),
        FieldKind::Uuid => ("string", json!({"format": "uuid"})),
        FieldKind::Binary => ("string", json!({"contentEncoding": "base64"})),
        FieldKind::Json | FieldKind::Other => return json!({}),
    };
    let mut schema = json!({ "type": if f.nullable { json!([ty, "null"]) } else { json!(ty) } });
    if let (Some(s), Some(e)) = (schema.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    if f.kind == FieldKind::Enum
        && f.nullable
        && let Some(values) = schema["enum"].as_array_mut()
    {
        values.push(Json::Null);
    }
    schema
}

/// The schema of what is read: every visible field, always present.
fn read_schema(meta: &ModelMeta) -> Json {
    let mut props = Map::new();
    for f in meta.visible() {
        let mut s = field_schema(f);
        if !f.writable() {
            s["readOnly"] = json!(true);
        }
        props.insert(f.name.clone(), s);
    }
    let required: Vec<&str> = meta.visible().map(|f| f.name.as_str()).collect();
    json!({"type": "object", "properties": props, "required": required})
}

/// The schema of what is written: the writable fields, no others.
fn write_schema(meta: &ModelMeta, with_required: bool) -> Json {
    let mut props = Map::new();
    for f in meta.writable() {
        props.insert(f.name.clone(), field_schema(f));
    }
    let mut schema = json!({"type": "object", "properties": props, "additionalProperties": false});
    if with_required {
        let required: Vec<&str> = meta
            .writable()
            .filter(|f| f.required())
            .map(|f| f.name.as_str())
            .collect();
        schema["required"] = json!(required);
    }
    schema
}

fn problem_schema() -> Json {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer", "description": "the row of a bulk create"},
                        "field": {"type": "string"},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                    "required": ["field", "code", "message"],
                },
            },
        },
        "required": ["type", "title", "status", "detail"],
    })
}

fn problem_response(description: &str) -> Json {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": reference("Problem")}},
    })
}

fn json_response(description: &str, schema: Json) -> Json {
    json!({
        "description": description,
        "headers": {"ETag": {"description": "a strong entity tag", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": schema}},
    })
}

/// The problems every operation of a resource may answer, by status.
fn problems(codes: &[u16]) -> Map<String, Json> {
    codes
        .iter()
        .map(|code| {
            let description = match code {
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
            };
            (code.to_string(), problem_response(description))
        })
        .collect()
}

fn param(name: &str, location: &str, schema: Json, description: &str) -> Json {
    json!({
        "name": name,
        "in": location,
        "required": location == "path",
        "schema": schema,
        "description": description,
    })
}

fn list_parameters(s: &Shared) -> Vec<Json> {
    let rules = &s.rules;
    let names = |list: &[String]| list.join("|");
    let mut params = vec![
        param(
            "page",
            "query",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
            "page number, from 1",
        ),
        param(
            "per_page",
            "query",
            json!({"type": "integer", "minimum": 1, "maximum": rules.max_per_page}),
            &format!("rows per page (default {})", rules.per_page),
        ),
        param(
            "cursor",
            "query",
            json!({"type": "string"}),
            "`next_cursor` of the previous page (empty: the first page); not with `page`",
        ),
        param(
            "sort",
            "query",
            json!({"type": "string", "pattern": format!("^(-?({0})(,-?({0}))*)?$", names(&rules.sortable))}),
            &format!(
                "comma-separated fields, `-` for descending: {}",
                rules.sortable.join(", ")
            ),
        ),
    ];
    if !rules.searchable.is_empty() {
        params.push(param(
            "q",
            "query",
            json!({"type": "string"}),
            &format!(
                "text in any of: {} (ignoring case)",
                rules.searchable.join(", ")
            ),
        ));
    }
    for name in &rules.filterable {
        let Some(field) = s.meta.field(name) else {
            continue;
        };
        // A filter compares; it stores nothing: no length or null limits.
        let mut loose = field.clone();
        loose.nullable = false;
        loose.max_length = None;
        let value = field_schema(&loose);
        let text = matches!(
            field.kind,
            FieldKind::String | FieldKind::Text | FieldKind::Enum
        );
        params.push(param(
            name,
            "query",
            value.clone(),
            &format!("`{name}` equals"),
        ));
        for (op, _) in Op::ALL {
            let schema = match op {
                "contains" if !text => continue,
                "contains" => json!({"type": "string"}),
                "in" if text => json!({"type": "string"}),
                "in" => match in_pattern(field.kind) {
                    Some(pattern) => json!({"type": "string", "pattern": pattern}),
                    None => continue,
                },
                "is_null" => json!({"type": "boolean"}),
                _ => value.clone(),
            };
            params.push(param(
                &format!("{name}__{op}"),
                "query",
                schema,
                &format!("`{name}` {op}"),
            ));
        }
    }
    debug_assert!(
        RESERVED
            .iter()
            .all(|r| params.iter().any(|p| p["name"] == *r) || *r == "q")
    );
    params
}

/// What a comma-separated `__in` list of numbers or booleans looks like;
/// other kinds (dates, UUIDs) have no `__in` filter.
fn in_pattern(kind: FieldKind) -> Option<&'static str> {
    Some(match kind {
        FieldKind::Integer => r"^-?\d{1,18}(,-?\d{1,18})*$",
        FieldKind::Boolean => "^(true|false)(,(true|false))*$",
        _ => return None,
    })
}

/// Links from a created row to the operations on it (by its key), so
/// clients and stateful testers can follow them.
fn created_links(mut response: Json, doc: &ResourceDoc, op_id: &dyn Fn(&str) -> String) -> Json {
    let [key] = doc.shared.meta.primary_key.as_slice() else {
        return response;
    };
    let mut links = Map::new();
    for (op, verb) in [
        (Operation::Get, "get"),
        (Operation::Update, "update"),
        (Operation::Replace, "replace"),
        (Operation::Delete, "delete"),
    ] {
        if doc.ops.contains(&op) {
            links.insert(
                format!("{}{}", &verb[..1].to_uppercase(), &verb[1..]),
                json!({"operationId": op_id(verb), "parameters": {"id": format!("$response.body#/{key}")}}),
            );
        }
    }
    response["links"] = Json::Object(links);
    response
}

fn security(bearer: bool, writes: bool) -> Option<Json> {
    // Reads let anyone through (as anonymous); writes take a session
    // cookie or the token.
    (bearer && writes).then(|| json!([{"bearer": []}, {}]))
}

/// The paths and schemas of one resource.
fn resource_doc(doc: &ResourceDoc, paths: &mut Map<String, Json>, schemas: &mut Map<String, Json>) {
    let s = &doc.shared;
    let stem = schema_name(&doc.name);
    let tag = doc.name.clone();
    schemas.insert(stem.clone(), read_schema(&s.meta));
    schemas.insert(format!("{stem}Create"), write_schema(&s.meta, true));
    schemas.insert(format!("{stem}Patch"), write_schema(&s.meta, false));
    schemas.insert(
        format!("{stem}Page"),
        json!({
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": reference(&stem)},
                "total": {"type": "integer", "minimum": 0, "description": "rows counted, up to `rest.count_limit`; past it the database's estimate or the limit"},
                "total_estimated": {"type": "boolean", "description": "whether `total` is an estimate (a large table is never counted in full)"},
                "per_page": {"type": "integer"},
                "page": {"type": "integer", "description": "absent on cursor pages"},
                "pages": {"type": "integer", "description": "absent on cursor pages"},
                "next_cursor": {"type": ["string", "null"]},
                "links": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["items", "total", "total_estimated", "per_page", "next_cursor", "links"],
        }),
    );
    let has = |op| doc.ops.contains(&op);
    let op_id = |verb: &str| format!("{verb}_{}", doc.name.replace(['/', '-'], "_"));
    let body = |schema: &str| json!({"required": true, "content": {"application/json": {"schema": reference(schema)}}});
    let with = |mut op: Json, codes: &[u16], writes: bool| {
        let responses = op["responses"].as_object_mut().expect("responses");
        responses.extend(problems(codes));
        if let Some(sec) = security(doc.bearer, writes) {
            op["security"] = sec;
        }
        op
    };
    let key_param = param(
        "id",
        "path",
        json!({"type": "string"}),
        &format!("the primary key ({})", s.meta.primary_key.join(", ")),
    );
    let etag_header =
        |name: &str, what: &str| param(name, "header", json!({"type": "string"}), what);

    let mut collection = Map::new();
    if has(Operation::List) {
        let mut params = list_parameters(s);
        params.push(etag_header(
            "If-None-Match",
            "a 304 when the list is unchanged",
        ));
        collection.insert(
            "get".into(),
            with(
                json!({
                    "operationId": op_id("list"), "tags": [tag], "summary": format!("List {}", doc.name),
                    "parameters": params,
                    "responses": {
                        "200": json_response("a page of rows", reference(&format!("{stem}Page"))),
                        "304": {"description": "not modified (If-None-Match)"},
                    },
                }),
                &[400, 401, 403, 503],
                false,
            ),
        );
    }
    if has(Operation::Create) {
        collection.insert(
            "post".into(),
            with(
                json!({
                    "operationId": op_id("create"), "tags": [tag], "summary": format!("Create one of {}", doc.name),
                    "requestBody": body(&format!("{stem}Create")),
                    "responses": {"201": created_links(json_response("created", reference(&stem)), doc, &op_id)},
                }),
                &[400, 401, 403, 409, 413, 415, 422, 503],
                true,
            ),
        );
    }
    if !collection.is_empty() {
        paths.insert(s.collection.clone(), Json::Object(collection));
    }

    let mut item = Map::new();
    if has(Operation::Get) {
        item.insert(
            "get".into(),
            with(
                json!({
                    "operationId": op_id("get"), "tags": [tag], "summary": format!("One of {}", doc.name),
                    "parameters": [key_param.clone(), etag_header("If-None-Match", "a 304 when the row is unchanged")],
                    "responses": {
                        "200": json_response("the row", reference(&stem)),
                        "304": {"description": "not modified (If-None-Match)"},
                    },
                }),
                &[401, 403, 404, 503],
                false,
            ),
        );
    }
    for (op, verb, schema) in [
        (Operation::Replace, "put", format!("{stem}Create")),
        (Operation::Update, "patch", format!("{stem}Patch")),
    ] {
        if has(op) {
            item.insert(
                verb.into(),
                with(
                    json!({
                        "operationId": op_id(if verb == "put" { "replace" } else { "update" }),
                        "tags": [tag],
                        "summary": if verb == "put" { format!("Replace one of {}", doc.name) } else { format!("Change fields of one of {}", doc.name) },
                        "parameters": [key_param.clone(), etag_header("If-Match", "a 412 unless the row still has this ETag")],
                        "requestBody": body(&schema),
                        "responses": {"200": json_response("the row as saved", reference(&stem))},
                    }),
                    &[400, 401, 403, 404, 409, 412, 413, 415, 422, 503],
                    true,
                ),
            );
        }
    }
    if has(Operation::Delete) {
        item.insert(
            "delete".into(),
            with(
                json!({
                    "operationId": op_id("delete"), "tags": [tag], "summary": format!("Delete one of {}", doc.name),
                    "parameters": [key_param.clone(), etag_header("If-Match", "a 412 unless the row still has this ETag")],
                    "responses": {"204": {"description": "deleted"}},
                }),
                &[401, 403, 404, 409, 412, 503],
                true,
            ),
        );
    }
    if !item.is_empty() {
        paths.insert(format!("{}/{{id}}", s.collection), Json::Object(item));
    }
    if has(Operation::BulkCreate) {
        paths.insert(
            format!("{}/bulk", s.collection),
            json!({"post": with(
                json!({
                    "operationId": op_id("bulk_create"), "tags": [tag],
                    "summary": format!("Create many of {} at once (all or nothing)", doc.name),
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "array", "maxItems": s.bulk_limit, "items": reference(&format!("{stem}Create")),
                    }}}},
                    "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"created": {"type": "integer"}}, "required": ["created"],
                    }}}}},
                }),
                &[400, 401, 403, 409, 413, 415, 422, 503],
                true,
            )}),
        );
    }
}

/// The whole document: generated resources first, then the app's own
/// documents (their paths and schemas; ours win a clash).
pub(crate) fn document(
    title: &str,
    version: &str,
    resources: &[ResourceDoc],
    extra: &[Json],
) -> Json {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert("Problem".into(), problem_schema());
    for r in resources {
        resource_doc(r, &mut paths, &mut schemas);
    }
    let mut security_schemes = Map::new();
    if resources.iter().any(|r| r.bearer) {
        security_schemes.insert("bearer".into(), json!({"type": "http", "scheme": "bearer"}));
    }
    for doc in extra {
        if let Some(p) = doc["paths"].as_object() {
            for (k, v) in p {
                paths.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        if let Some(c) = doc["components"]["schemas"].as_object() {
            for (k, v) in c {
                schemas.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        if let Some(c) = doc["components"]["securitySchemes"].as_object() {
            for (k, v) in c {
                security_schemes
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
        }
    }
    let mut tags: Vec<Json> = resources.iter().map(|r| json!({"name": r.name})).collect();
    for doc in extra {
        if let Some(t) = doc["tags"].as_array() {
            tags.extend(t.iter().cloned());
        }
    }
    let mut components = json!({"schemas": schemas});
    if !security_schemes.is_empty() {
        components["securitySchemes"] = Json::Object(security_schemes);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": components,
        "tags": tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_pascal_case() {
        assert_eq!(schema_name("posts"), "Posts");
        assert_eq!(schema_name("blog_post-tags"), "BlogPostTags");
    }
}
