//! Custom resources against their CRD's structural OpenAPI v3 schema, as kube-apiserver treats
//! them: defaulting, pruning of unknown fields, then validation (types, required, enum,
//! minimum/maximum, lengths, patterns, item counts) with the real error texts and field paths.
//!
//! CEL rules (`x-kubernetes-validations`) are not evaluated.

use regex::Regex;
use serde_json::{Map, Value};

use super::errors::InvalidField;

/// Apply the schema's `default`s to fields that are absent (or null with a default), recursively
/// inside objects and arrays that are present.
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema["properties"].as_object() {
                for (name, prop) in properties {
                    if let Some(default) = prop.get("default") {
                        if map.get(name).is_none_or(|v| v.is_null() && prop["nullable"] != true) {
                            map.insert(name.clone(), default.clone());
                        }
                    }
                    if let Some(child) = map.get_mut(name) {
                        apply_defaults(prop, child);
                    }
                }
            } else if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for child in map.values_mut() {
                    apply_defaults(additional, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for item in items {
                    apply_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

/// The fields of ObjectMeta the API server keeps on a custom resource's metadata.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Drop every field the schema does not know (unless `x-kubernetes-preserve-unknown-fields`),
/// as the API server prunes custom resources. Returns the paths of what was dropped.
pub fn prune(schema: &Value, value: &mut Value) -> Vec<String> {
    let mut dropped = Vec::new();
    if let Value::Object(map) = value {
        // apiVersion, kind and metadata are always kept at the root.
        for (name, child) in map.iter_mut() {
            if name == "metadata" {
                if let Value::Object(meta) = child {
                    let unknown: Vec<String> =
                        meta.keys().filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str())).cloned().collect();
                    for k in unknown {
                        meta.remove(&k);
                        dropped.push(format!("metadata.{k}"));
                    }
                }
            }
        }
        prune_object(schema, map, "", true, &mut dropped);
    }
    dropped
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn prune_object(
    schema: &Value,
    map: &mut Map<String, Value>,
    path: &str,
    root: bool,
    dropped: &mut Vec<String>,
) {
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
    let embedded = schema["x-kubernetes-embedded-resource"] == true;
    let properties = schema["properties"].as_object();
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    let names: Vec<String> = map.keys().cloned().collect();
    for name in names {
        if (root || embedded) && (name == "apiVersion" || name == "kind" || name == "metadata") {
            if let Some(prop) = properties.and_then(|p| p.get(&name)) {
                if name != "metadata" {
                    if let Some(child) = map.get_mut(&name) {
                        prune_value(prop, child, &join(path, &name), dropped);
                    }
                }
            }
            continue;
        }
        let prop = properties.and_then(|p| p.get(&name)).or(additional);
        match prop {
            Some(prop) => {
                if let Some(child) = map.get_mut(&name) {
                    prune_value(prop, child, &join(path, &name), dropped);
                }
            }
            None if preserve || schema.get("additionalProperties") == Some(&Value::Bool(true)) => {}
            None => {
                map.remove(&name);
                dropped.push(join(path, &name));
            }
        }
    }
}

fn prune_value(schema: &Value, value: &mut Value, path: &str, dropped: &mut Vec<String>) {
    match value {
        Value::Object(map)
            if schema["properties"].is_object()
                || schema.get("additionalProperties").is_some_and(Value::is_object)
                || schema["type"] == "object" =>
        {
            prune_object(schema, map, path, false, dropped);
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_value(item_schema, item, &format!("{path}[{i}]"), dropped);
                }
            }
        }
        _ => {}
    }
}

/// How Go prints a value in `Invalid value: ...`.
pub fn go_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "\"null\"".to_string(),
        Value::Object(_) => "\"object\"".to_string(),
        Value::Array(_) => "\"array\"".to_string(),
        other => other.to_string(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Validate `value` against `schema`, appending causes with their field paths.
pub fn validate(schema: &Value, value: &Value, path: &str, causes: &mut Vec<InvalidField>) {
    let shown = if path.is_empty() { "<root>".to_string() } else { path.to_string() };
    if value.is_null() {
        if schema["nullable"] == true || schema.get("type").is_none() {
            return;
        }
        if schema["x-kubernetes-int-or-string"] == true
            || schema["x-kubernetes-preserve-unknown-fields"] == true
        {
            return;
        }
    }
    if !type_matches(schema, value, path, &shown, causes) {
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            let allowed: Vec<String> = allowed.iter().map(go_value).collect();
            causes.push(InvalidField::not_supported(path, go_value(value), &allowed));
        }
    }
    match value {
        Value::Number(n) => number_bounds(schema, n, path, &shown, causes),
        Value::String(s) => string_bounds(schema, value, s, path, &shown, causes),
        Value::Array(items) => array_rules(schema, items, path, &shown, causes),
        Value::Object(map) => object_rules(schema, map, path, &shown, causes),
        _ => {}
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema[key].as_array() {
            let matching = alternatives.iter().filter(|alt| shape_matches(alt, value)).count();
            let ok = if key == "oneOf" { matching == 1 } else { matching >= 1 };
            if !ok {
                let detail = if key == "oneOf" {
                    format!("{shown} in body must match exactly one schema in oneOf")
                } else {
                    format!("{shown} in body must match at least one schema in anyOf")
                };
                causes.push(InvalidField::invalid(path, go_value(value), &detail));
            }
        }
    }
    if let Some(not) = schema.get("not").filter(|n| n.is_object()) {
        if shape_matches(not, value) {
            causes.push(InvalidField::invalid(
                path,
                go_value(value),
                &format!("{shown} in body should not match schema"),
            ));
        }
    }
}

/// The schema's `type` (or `x-kubernetes-int-or-string`); false, with the cause, when `value`
/// is of another type and nothing else is worth checking.
fn type_matches(
    schema: &Value,
    value: &Value,
    path: &str,
    shown: &str,
    causes: &mut Vec<InvalidField>,
) -> bool {
    let actual = type_name(value);
    if schema["x-kubernetes-int-or-string"] == true {
        if actual != "integer" && actual != "string" {
            causes.push(InvalidField::type_invalid(
                path,
                format!("{actual:?}"),
                &format!("{shown} in body must be of type integer,string: {actual:?}"),
            ));
            return false;
        }
    } else if let Some(expected) = schema["type"].as_str() {
        let ok = match expected {
            "number" => actual == "integer" || actual == "number",
            other => other == actual,
        };
        if !ok {
            causes.push(InvalidField::type_invalid(
                path,
                format!("{actual:?}"),
                &format!("{shown} in body must be of type {expected}: {actual:?}"),
            ));
            return false;
        }
    }
    true
}

/// `minimum` and `maximum`, exclusive or not.
fn number_bounds(
    schema: &Value,
    n: &serde_json::Number,
    path: &str,
    shown: &str,
    causes: &mut Vec<InvalidField>,
) {
    let x = n.as_f64().unwrap_or(0.0);
    if let Some(min) = schema["minimum"].as_f64() {
        let exclusive = schema["exclusiveMinimum"] == true;
        if x < min || (exclusive && x == min) {
            let op = if exclusive { "greater than" } else { "greater than or equal to" };
            causes.push(InvalidField::invalid(
                path,
                n,
                &format!("{shown} in body should be {op} {}", number(&schema["minimum"])),
            ));
        }
    }
    if let Some(max) = schema["maximum"].as_f64() {
        let exclusive = schema["exclusiveMaximum"] == true;
        if x > max || (exclusive && x == max) {
            let op = if exclusive { "less than" } else { "less than or equal to" };
            causes.push(InvalidField::invalid(
                path,
                n,
                &format!("{shown} in body should be {op} {}", number(&schema["maximum"])),
            ));
        }
    }
}

/// `maxLength`, `minLength` (in characters) and `pattern`.
fn string_bounds(
    schema: &Value,
    value: &Value,
    s: &str,
    path: &str,
    shown: &str,
    causes: &mut Vec<InvalidField>,
) {
    let len = s.chars().count() as u64;
    if let Some(max) = schema["maxLength"].as_u64() {
        if len > max {
            causes.push(InvalidField::too_long(path, max as usize));
        }
    }
    if let Some(min) = schema["minLength"].as_u64() {
        if len < min {
            causes.push(InvalidField::invalid(
                path,
                go_value(value),
                &format!("{shown} in body should be at least {min} chars long"),
            ));
        }
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        if let Ok(re) = Regex::new(pattern) {
            if !re.is_match(s) {
                causes.push(InvalidField::invalid(
                    path,
                    go_value(value),
                    &format!("{shown} in body should match '{pattern}'"),
                ));
            }
        }
    }
}

/// `maxItems`, `minItems`, each item against `items`, and the uniqueness of a set.
fn array_rules(schema: &Value, items: &[Value], path: &str, shown: &str, causes: &mut Vec<InvalidField>) {
    if let Some(max) = schema["maxItems"].as_u64() {
        if items.len() as u64 > max {
            causes.push(InvalidField {
                reason: "FieldValueTooMany",
                field: path.to_string(),
                message: format!("Too many: {}: must have at most {max} items", items.len()),
            });
        }
    }
    if let Some(min) = schema["minItems"].as_u64() {
        if (items.len() as u64) < min {
            causes.push(InvalidField::invalid(
                path,
                items.len(),
                &format!("{shown} in body should have at least {min} items"),
            ));
        }
    }
    if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
        for (i, item) in items.iter().enumerate() {
            validate(item_schema, item, &format!("{path}[{i}]"), causes);
        }
    }
    if schema["x-kubernetes-list-type"] == "set" {
        for (i, item) in items.iter().enumerate() {
            if items[..i].contains(item) {
                causes.push(InvalidField::duplicate(format!("{path}[{i}]"), go_value(item)));
            }
        }
    }
}

/// `required`, `maxProperties`, `minProperties`, and each property against its schema (or
/// `additionalProperties`); the root's metadata, apiVersion and kind are the API server's.
fn object_rules(
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    path: &str,
    shown: &str,
    causes: &mut Vec<InvalidField>,
) {
    if let Some(required) = schema["required"].as_array() {
        for name in required.iter().filter_map(Value::as_str) {
            if map.get(name).is_none_or(|v| v.is_null() && schema["properties"][name]["nullable"] != true) {
                causes.push(InvalidField::required(join(path, name), ""));
            }
        }
    }
    if let Some(max) = schema["maxProperties"].as_u64() {
        if map.len() as u64 > max {
            causes.push(InvalidField {
                reason: "FieldValueTooMany",
                field: path.to_string(),
                message: format!("Too many: {}: must have at most {max} items", map.len()),
            });
        }
    }
    if let Some(min) = schema["minProperties"].as_u64() {
        if (map.len() as u64) < min {
            causes.push(InvalidField::invalid(
                path,
                map.len(),
                &format!("{shown} in body should have at least {min} properties"),
            ));
        }
    }
    let properties = schema["properties"].as_object();
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (name, child) in map {
        if path.is_empty() && (name == "metadata" || name == "apiVersion" || name == "kind") {
            continue;
        }
        if let Some(prop) = properties.and_then(|p| p.get(name)).or(additional) {
            validate(prop, child, &join(path, name), causes);
        }
    }
}

/// Whether `value` satisfies a oneOf/anyOf/not alternative (structural schemas only use these
/// for `required` combinations and value constraints).
fn shape_matches(schema: &Value, value: &Value) -> bool {
    let mut causes = Vec::new();
    validate(schema, value, "", &mut causes);
    causes.is_empty()
}

fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 => format!("{}", f as i64),
        Some(f) => f.to_string(),
        None => v.to_string(),
    }
}

/// Validate a custom resource's metadata.name and its body against the schema of its version.
pub fn validate_custom(schema: &Value, object: &Value) -> Vec<InvalidField> {
    let mut causes = Vec::new();
    validate(schema, object, "", &mut causes);
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["hosts"],
                    "properties": {
                        "hosts": {"type": "array", "items": {"type": "string"}},
                        "weight": {"type": "integer", "minimum": 0, "maximum": 100},
                        "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }
            }
        })
    }

    #[test]
    fn prunes_defaults_and_validates() {
        let mut cr = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "junk": 1},
            "spec": {"hosts": ["h"], "weight": 101, "extra": true, "free": {"any": {"thing": 1}}}, "top": 1});
        let dropped = prune(&schema(), &mut cr);
        assert_eq!(dropped, vec!["metadata.junk", "spec.extra", "top"]);
        assert_eq!(cr["spec"]["free"]["any"]["thing"], 1);
        apply_defaults(&schema(), &mut cr);
        assert_eq!(cr["spec"]["mode"], "A");
        let causes = validate_custom(&schema(), &cr);
        assert_eq!(causes.len(), 1);
        assert_eq!(
            causes[0].line(),
            "spec.weight: Invalid value: 101: spec.weight in body should be less than or equal to 100"
        );
        let bad = json!({"spec": {"weight": "x", "mode": "C"}});
        let lines: Vec<String> = validate_custom(&schema(), &bad).iter().map(InvalidField::line).collect();
        assert_eq!(
            lines,
            vec![
                "spec.hosts: Required value",
                "spec.mode: Unsupported value: \"C\": supported values: \"A\", \"B\"",
                "spec.weight: Invalid value: \"string\": spec.weight in body must be of type integer: \"string\"",
            ]
        );
    }
}
