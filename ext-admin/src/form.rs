//! Forms from the metadata: a widget per field chosen from its column
//! type, and the posted text turned back into typed JSON — every field's
//! error kept beside it, and what the user typed kept for the page that
//! shows the errors.

use std::collections::HashMap;

use phial_orm::meta::json::FieldError;
use phial_orm::meta::{FieldKind, FieldMeta};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::view::ViewSpec;

/// A choice in a select.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
}

/// What a form knows of a foreign key's related model.
#[derive(Debug, Clone)]
pub(crate) struct Foreign {
    /// The related model's slug.
    pub(crate) slug: String,
    /// Every choice, when the related table is small; else a search.
    pub(crate) choices: Option<Vec<Choice>>,
    /// The current value's label.
    pub(crate) current: Option<String>,
}

/// One field as a form shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FormField {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) help: Option<String>,
    /// text, textarea, number, checkbox, date, datetime, time, select,
    /// json, fk_search, readonly
    pub(crate) widget: &'static str,
    pub(crate) value: String,
    pub(crate) checked: bool,
    pub(crate) required: bool,
    pub(crate) step: &'static str,
    pub(crate) maxlength: Option<u32>,
    pub(crate) choices: Vec<Choice>,
    pub(crate) error: Option<String>,
    /// The related model's slug, for a foreign-key search.
    pub(crate) related: Option<String>,
    /// The current choice's label, for a foreign-key search.
    pub(crate) related_label: Option<String>,
    pub(crate) note: Option<&'static str>,
}

/// A JSON value as a form input's text.
pub(crate) fn display(field: &FieldMeta, value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => match field.kind {
            // `datetime-local` takes no zone and no fraction: UTC, seconds.
            FieldKind::DateTime | FieldKind::DateTimeTz => {
                let t = s.trim_end_matches('Z');
                let t = t.split('+').next().unwrap_or(t);
                t.split('.').next().unwrap_or(t).chars().take(19).collect()
            }
            _ => s.clone(),
        },
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        other if field.kind == FieldKind::Json => {
            serde_json::to_string_pretty(other).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

/// The widget for a field.
pub(crate) fn widget(field: &FieldMeta, foreign: bool, small_related: bool) -> &'static str {
    if foreign {
        return if small_related { "select" } else { "fk_search" };
    }
    match field.kind {
        FieldKind::Integer | FieldKind::Number => "number",
        FieldKind::Boolean => "checkbox",
        FieldKind::Text => "textarea",
        FieldKind::Enum => "select",
        FieldKind::Date => "date",
        FieldKind::DateTime | FieldKind::DateTimeTz => "datetime",
        FieldKind::Time => "time",
        FieldKind::Json => "json",
        FieldKind::Binary | FieldKind::Other => "readonly",
        FieldKind::String | FieldKind::Uuid => "text",
    }
}

/// The form's fields, filled from `values` (a row or what was posted).
pub(crate) fn fields(
    spec: &ViewSpec,
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
    foreign: &HashMap<String, Foreign>,
    creating: bool,
) -> Vec<FormField> {
    spec.form_fields()
        .iter()
        .filter_map(|name| spec.meta.field(name))
        .map(|f| {
            let fk = foreign.get(&f.name);
            let mut widget = widget(f, fk.is_some(), fk.is_some_and(|r| r.choices.is_some()));
            if !spec.writable(&f.name) {
                widget = "readonly";
            }
            let value = values.get(&f.name).cloned().unwrap_or_default();
            let mut choices = match (fk.and_then(|r| r.choices.as_ref()), &f.enum_values) {
                (Some(c), _) => c.clone(),
                (None, Some(values)) => values
                    .iter()
                    .map(|v| Choice {
                        value: v.clone(),
                        label: v.clone(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if widget == "select" && (f.nullable || (creating && f.has_default)) {
                choices.insert(
                    0,
                    Choice {
                        value: String::new(),
                        label: "—".into(),
                    },
                );
            }
            FormField {
                label: spec.label_of(&f.name),
                help: spec.help.get(&f.name).cloned(),
                widget,
                checked: value == "true",
                required: f.required() && widget != "checkbox",
                step: if f.kind == FieldKind::Integer {
                    "1"
                } else {
                    "any"
                },
                maxlength: f.max_length,
                choices,
                error: errors.get(&f.name).cloned(),
                related: fk.map(|r| r.slug.clone()),
                related_label: fk.and_then(|r| r.current.clone()),
                note: match f.kind {
                    FieldKind::DateTimeTz => Some("UTC"),
                    FieldKind::Json => Some("JSON"),
                    _ => None,
                },
                name: f.name.clone(),
                value,
            }
        })
        .collect()
}

/// A row's values as form text.
pub(crate) fn row_values(spec: &ViewSpec, row: &Map<String, Json>) -> HashMap<String, String> {
    spec.meta
        .fields
        .iter()
        .filter_map(|f| Some((f.name.clone(), display(f, row.get(&f.name)?))))
        .collect()
}

/// What a form posted, parsed: the JSON object to write, the errors found
/// so far (the write adds its own), and the text as typed.
pub(crate) struct Posted {
    pub(crate) values: Json,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) raw: HashMap<String, String>,
}

/// Reads the posted pairs for the view's writable form fields.
pub(crate) fn parse(spec: &ViewSpec, pairs: &[(String, String)], creating: bool) -> Posted {
    let mut values = Map::new();
    let mut errors = Vec::new();
    let mut raw = HashMap::new();
    for name in spec.form_fields() {
        let Some(field) = spec.meta.field(&name) else {
            continue;
        };
        if !spec.writable(&name) {
            continue;
        }
        let sent: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        // A field the form did not send is left as it is (the admin's own
        // forms send every field, a checkbox's hidden `false` included).
        if sent.is_empty() {
            continue;
        }
        if field.kind == FieldKind::Boolean {
            let on = sent.iter().any(|v| *v == "true" || *v == "on");
            raw.insert(name.clone(), on.to_string());
            values.insert(name, Json::Bool(on));
            continue;
        }
        let text = sent.last().copied().unwrap_or("");
        raw.insert(name.clone(), text.to_owned());
        let blank = text.trim().is_empty()
            && !(matches!(field.kind, FieldKind::String | FieldKind::Text) && field.nullable);
        if blank || (text.is_empty() && field.nullable) {
            if field.nullable {
                values.insert(name, Json::Null);
            } else if creating && field.has_default {
                // The database fills it.
            } else if matches!(field.kind, FieldKind::String | FieldKind::Text) && !field.required()
            {
                values.insert(name, Json::String(String::new()));
            } else {
                errors.push(FieldError::new(
                    name.as_str(),
                    "required",
                    "This field is required.",
                ));
            }
            continue;
        }
        match typed(field, text) {
            Ok(v) => {
                values.insert(name, v);
            }
            Err(e) => errors.push(e),
        }
    }
    Posted {
        values: Json::Object(values),
        errors,
        raw,
    }
}

/// Form text as the JSON a field's kind takes.
fn typed(field: &FieldMeta, text: &str) -> Result<Json, FieldError> {
    let name = field.name.as_str();
    let bad = |m: &str| FieldError::new(name, "type", m);
    let t = text.trim();
    Ok(match field.kind {
        FieldKind::Integer => {
            Json::from(t.parse::<i64>().map_err(|_| bad("Enter a whole number."))?)
        }
        FieldKind::Number => {
            let f: f64 = t.parse().map_err(|_| bad("Enter a number."))?;
            serde_json::Number::from_f64(f)
                .map(Json::Number)
                .ok_or_else(|| bad("Enter a finite number."))?
        }
        FieldKind::DateTime | FieldKind::DateTimeTz => {
            // `datetime-local` may leave out the seconds.
            let mut s = t.replace(' ', "T");
            if s.len() == 16 {
                s.push_str(":00");
            }
            if field.kind == FieldKind::DateTimeTz
                && !s.ends_with('Z')
                && !s[10..].contains(['+', '-'])
            {
                s.push('Z');
            }
            Json::String(s)
        }
        FieldKind::Time if t.len() == 5 => Json::String(format!("{t}:00")),
        FieldKind::Json => serde_json::from_str(t)
            .map_err(|e| FieldError::new(name, "format", format!("Enter valid JSON: {e}.")))?,
        _ => Json::String(text.to_owned()),
    })
}

/// A write's field errors, by field, as sentences.
pub(crate) fn error_map(errors: &[FieldError]) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    for e in errors {
        let msg = sentence(&e.message);
        out.entry(e.field.clone())
            .and_modify(|m| {
                m.push(' ');
                m.push_str(&msg);
            })
            .or_insert(msg);
    }
    out
}

/// REST's "`title` must be at most 200 characters" as a form says it.
fn sentence(m: &str) -> String {
    let mut s = m.to_owned();
    if let Some(rest) = s.strip_prefix('`')
        && let Some(end) = rest.find('`')
    {
        let tail = rest[end + 1..].trim_start();
        s = format!("This field {tail}");
    }
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            sentence("`title` must be at most 5 characters"),
            "This field must be at most 5 characters."
        );
        assert_eq!(
            sentence("This field is required."),
            "This field is required."
        );
    }
}
