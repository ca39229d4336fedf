//! The document's schemas: a field's value, what a resource reads, creates
//! and patches, a page of it, and the problem every error answers with.

use phial_orm::meta::{FieldKind, FieldMeta, ModelMeta};
use serde_json::Value as Json;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

/// `post_tag` -> `PostTag`.
pub(super) fn schema_name(name: &str) -> String {
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

/// A reference to the schema `name` under `components/schemas`.
pub(super) fn reference(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

/// A schema of one type and nothing else.
pub(super) fn typed(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

fn format(f: KnownFormat) -> Option<SchemaFormat> {
    Some(SchemaFormat::KnownFormat(f))
}

/// A field's value as a JSON Schema.
pub(super) fn field_schema(f: &FieldMeta) -> RefOr<Schema> {
    let (ty, schema) = match f.kind {
        FieldKind::Integer => {
            let (lo, hi) = f.int_range.unwrap_or((i64::MIN.into(), i64::MAX.into()));
            let width = if lo >= i32::MIN.into() && hi <= i32::MAX.into() {
                KnownFormat::Int32
            } else {
                KnownFormat::Int64
            };
            let clamp = |v: i128| v.clamp(i64::MIN.into(), i64::MAX.into()) as i64;
            (
                Type::Integer,
                ObjectBuilder::new()
                    .format(format(width))
                    .minimum(Some(clamp(lo)))
                    .maximum(Some(clamp(hi))),
            )
        }
        FieldKind::Number => (
            Type::Number,
            ObjectBuilder::new().format(format(KnownFormat::Double)),
        ),
        FieldKind::Boolean => (Type::Boolean, ObjectBuilder::new()),
        FieldKind::String | FieldKind::Text => (
            Type::String,
            ObjectBuilder::new().max_length(f.max_length.map(|n| n as usize)),
        ),
        FieldKind::Enum => {
            let mut values: Vec<Json> = f
                .enum_values
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(Json::from)
                .collect();
            if f.nullable {
                values.push(Json::Null);
            }
            (Type::String, ObjectBuilder::new().enum_values(Some(values)))
        }
        FieldKind::Date => (
            Type::String,
            ObjectBuilder::new().format(format(KnownFormat::Date)),
        ),
        FieldKind::Time => (
            Type::String,
            ObjectBuilder::new().pattern(Some(r"^\d{2}:\d{2}:\d{2}(\.\d+)?$")),
        ),
        // No zone: RFC 3339's `date-time` would require one.
        FieldKind::DateTime => (
            Type::String,
            ObjectBuilder::new().pattern(Some(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")),
        ),
        FieldKind::DateTimeTz => (
            Type::String,
            ObjectBuilder::new().format(format(KnownFormat::DateTime)),
        ),
        FieldKind::Uuid => (
            Type::String,
            // utoipa knows `uuid` only with its `uuid` feature.
            ObjectBuilder::new().format(Some(SchemaFormat::Custom("uuid".into()))),
        ),
        FieldKind::Binary => (
            Type::String,
            ObjectBuilder::new().content_encoding("base64"),
        ),
        FieldKind::Json | FieldKind::Other => {
            return ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .into();
        }
    };
    let ty = if f.nullable {
        SchemaType::from_iter([ty, Type::Null])
    } else {
        SchemaType::new(ty)
    };
    schema.schema_type(ty).into()
}

/// The schema of what is read: every visible field, always present.
pub(super) fn read_schema(meta: &ModelMeta) -> RefOr<Schema> {
    let mut object = typed(Type::Object);
    for f in meta.visible() {
        let mut schema = field_schema(f);
        if !f.writable()
            && let RefOr::T(Schema::Object(o)) = &mut schema
        {
            o.read_only = Some(true);
        }
        object = object.property(&f.name, schema).required(&f.name);
    }
    object.into()
}

/// The schema of what is written: the writable fields, no others.
pub(super) fn write_schema(meta: &ModelMeta, with_required: bool) -> RefOr<Schema> {
    let mut object = typed(Type::Object)
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
    for f in meta.writable() {
        object = object.property(&f.name, field_schema(f));
        if with_required && f.required() {
            object = object.required(&f.name);
        }
    }
    object.into()
}

/// A page of a list: its rows, the (bounded) total and the links.
pub(super) fn page_schema(stem: &str) -> RefOr<Schema> {
    let described = |ty: Type, what: &str| typed(ty).description(Some(what));
    typed(Type::Object)
        .property(
            "items",
            ArrayBuilder::new().items(Ref::from_schema_name(stem)).build(),
        )
        .property(
            "total",
            described(
                Type::Integer,
                "rows counted, up to `rest.count_limit` (a filtered list up to 1,000); past it the database's estimate or the limit",
            )
            .minimum(Some(0)),
        )
        .property(
            "total_estimated",
            described(
                Type::Boolean,
                "whether `total` is an estimate (a large table is never counted in full)",
            ),
        )
        .property("per_page", typed(Type::Integer))
        .property("page", described(Type::Integer, "absent on cursor pages"))
        .property("pages", described(Type::Integer, "absent on cursor pages"))
        .property(
            "next_cursor",
            typed(Type::String).schema_type(SchemaType::from_iter([Type::String, Type::Null])),
        )
        .property(
            "links",
            typed(Type::Object).additional_properties(Some(typed(Type::String))),
        )
        .required("items")
        .required("total")
        .required("total_estimated")
        .required("per_page")
        .required("next_cursor")
        .required("links")
        .into()
}

/// RFC 9457 problem details, with the fields at fault.
pub(super) fn problem_schema() -> RefOr<Schema> {
    let error = typed(Type::Object)
        .property(
            "index",
            typed(Type::Integer).description(Some("the row of a bulk create")),
        )
        .property("field", typed(Type::String))
        .property("code", typed(Type::String))
        .property("message", typed(Type::String))
        .required("field")
        .required("code")
        .required("message");
    typed(Type::Object)
        .description(Some("RFC 9457 problem details"))
        .property("type", typed(Type::String))
        .property("title", typed(Type::String))
        .property("status", typed(Type::Integer))
        .property("detail", typed(Type::String))
        .property("errors", ArrayBuilder::new().items(error).build())
        .required("type")
        .required("title")
        .required("status")
        .required("detail")
        .into()
}
