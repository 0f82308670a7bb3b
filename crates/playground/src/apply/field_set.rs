//! FieldsV1 field sets: the paths an object sets (`f:name`, `k:{...}` for map-list items,
//! `v:` for set items), the values at such paths, and the structural merge of an applied
//! configuration into the live object, list by list as their `x-kubernetes-list-type` says.

use serde_json::{json, Map, Value};

use crate::resources::ResourceType;

/// How a list is merged: atomically (replaced), as a map keyed by some fields, or as a set.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ListType {
    Atomic,
    Map(Vec<String>),
    Set,
}

/// Where we are in the object while walking it: the field names so far and, for custom
/// resources, the schema of this point.
#[derive(Clone)]
pub(super) struct Ctx<'a> {
    path: Vec<String>,
    schema: Option<&'a Value>,
    is_service: bool,
    custom: bool,
}

impl<'a> Ctx<'a> {
    pub(super) fn child(&self, field: &str) -> Ctx<'a> {
        let mut path = self.path.clone();
        path.push(field.to_string());
        let schema = self.schema.and_then(|s| {
            s["properties"].get(field).or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
        });
        Ctx { path, schema, is_service: self.is_service, custom: self.custom }
    }

    pub(super) fn item(&self) -> Ctx<'a> {
        Ctx {
            path: self.path.clone(),
            schema: self.schema.and_then(|s| s.get("items")),
            is_service: self.is_service,
            custom: self.custom,
        }
    }

    pub(super) fn list_type(&self) -> ListType {
        if self.custom {
            return match self.schema.and_then(|s| s["x-kubernetes-list-type"].as_str()) {
                Some("map") => ListType::Map(
                    self.schema
                        .and_then(|s| s["x-kubernetes-list-map-keys"].as_array())
                        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
                        .unwrap_or_default(),
                ),
                Some("set") => ListType::Set,
                _ => ListType::Atomic,
            };
        }
        if self.path.last().is_some_and(|f| f == "finalizers") {
            return ListType::Set;
        }
        match crate::patch::merge_key(&self.path, self.is_service) {
            Some(key) => ListType::Map(vec![key.to_string()]),
            None => ListType::Atomic,
        }
    }
}

pub(super) fn item_key(item: &Value, keys: &[String]) -> String {
    let mut map = Map::new();
    for k in keys {
        map.insert(k.clone(), item.get(k).cloned().unwrap_or(Value::Null));
    }
    format!("k:{}", Value::Object(map))
}

/// The FieldsV1 set of the fields `value` sets.
pub(super) fn field_set(value: &Value, ctx: &Ctx<'_>) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if ctx.path.is_empty() && (k == "apiVersion" || k == "kind") {
                    continue;
                }
                if ctx.path.is_empty() && k == "metadata" {
                    let meta = field_set_meta(v);
                    if meta.as_object().is_some_and(|m| !m.is_empty()) {
                        out.insert("f:metadata".into(), meta);
                    }
                    continue;
                }
                out.insert(format!("f:{k}"), field_set(v, &ctx.child(k)));
            }
            Value::Object(out)
        }
        Value::Array(items) => match ctx.list_type() {
            ListType::Map(keys) => {
                let mut out = Map::new();
                for item in items {
                    let mut inner = field_set(item, &ctx.item());
                    if let Some(m) = inner.as_object_mut() {
                        m.insert(".".into(), json!({}));
                    }
                    out.insert(item_key(item, &keys), inner);
                }
                Value::Object(out)
            }
            ListType::Set => {
                let mut out = Map::new();
                for item in items {
                    out.insert(format!("v:{item}"), json!({}));
                }
                Value::Object(out)
            }
            ListType::Atomic => json!({}),
        },
        _ => json!({}),
    }
}

fn field_set_meta(meta: &Value) -> Value {
    let mut out = Map::new();
    for field in ["labels", "annotations"] {
        if let Some(m) = meta[field].as_object() {
            let inner: Map<String, Value> = m.keys().map(|k| (format!("f:{k}"), json!({}))).collect();
            out.insert(format!("f:{field}"), Value::Object(inner));
        }
    }
    if let Some(f) = meta["finalizers"].as_array() {
        let inner: Map<String, Value> = f.iter().map(|v| (format!("v:{v}"), json!({}))).collect();
        out.insert("f:finalizers".into(), Value::Object(inner));
    }
    if let Some(owners) = meta["ownerReferences"].as_array() {
        let inner: Map<String, Value> =
            owners.iter().map(|o| (item_key(o, &["uid".to_string()]), json!({".": {}}))).collect();
        out.insert("f:ownerReferences".into(), Value::Object(inner));
    }
    Value::Object(out)
}

/// Paths to every leaf of a field set.
pub(super) fn leaves(set: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(map) = set.as_object() else { return };
    let children: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| k.as_str() != ".").collect();
    if (children.is_empty() || map.contains_key(".")) && !prefix.is_empty() {
        out.push(prefix.clone());
    }
    for (k, v) in children {
        prefix.push(k.clone());
        leaves(v, prefix, out);
        prefix.pop();
    }
}

/// Paths to every node of a field set.
pub(super) fn nodes(set: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(map) = set.as_object() else { return };
    for (k, v) in map.iter().filter(|(k, _)| k.as_str() != ".") {
        prefix.push(k.clone());
        out.push(prefix.clone());
        nodes(v, prefix, out);
        prefix.pop();
    }
}

pub(super) fn set_contains(set: &Value, path: &[String]) -> bool {
    let mut node = set;
    for p in path {
        match node.get(p) {
            Some(n) => node = n,
            None => return false,
        }
    }
    true
}

pub(super) fn set_remove(set: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = set;
    for p in parents {
        match node.get_mut(p) {
            Some(n) => node = n,
            None => return,
        }
    }
    if let Some(m) = node.as_object_mut() {
        m.remove(last);
    }
}

/// The value at a FieldsV1 path in an object, if present.
pub(super) fn value_at<'v>(object: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut v = object;
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            v = v.get(f)?;
        } else if let Some(k) = p.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(k).ok()?;
            v = v
                .as_array()?
                .iter()
                .find(|item| key.iter().all(|(kk, kv)| item.get(kk).unwrap_or(&Value::Null) == kv))?;
        } else if let Some(s) = p.strip_prefix("v:") {
            let want: Value = serde_json::from_str(s).ok()?;
            v = v.as_array()?.iter().find(|item| **item == want)?;
        } else {
            return None;
        }
    }
    Some(v)
}

pub(super) fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut v = object;
    for p in parents {
        let next = if let Some(f) = p.strip_prefix("f:") {
            v.get_mut(f)
        } else if let Some(k) = p.strip_prefix("k:") {
            let Ok(key) = serde_json::from_str::<Map<String, Value>>(k) else { return };
            v.as_array_mut().and_then(|a| {
                a.iter_mut()
                    .find(|item| key.iter().all(|(kk, kv)| item.get(kk).unwrap_or(&Value::Null) == kv))
            })
        } else {
            None
        };
        match next {
            Some(n) => v = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = v.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(k) = last.strip_prefix("k:") {
        if let (Ok(key), Some(a)) = (serde_json::from_str::<Map<String, Value>>(k), v.as_array_mut()) {
            a.retain(|item| !key.iter().all(|(kk, kv)| item.get(kk).unwrap_or(&Value::Null) == kv));
        }
    } else if let Some(s) = last.strip_prefix("v:") {
        if let (Ok(want), Some(a)) = (serde_json::from_str::<Value>(s), v.as_array_mut()) {
            a.retain(|item| *item != want);
        }
    }
}

/// A path as the conflict message prints it: `.spec.template.spec.containers[name="model"].image`.
pub(super) fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = p.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(kk, kv)| format!("{kk}={kv}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = p.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        }
    }
    out
}

pub(super) fn merge(live: &mut Value, applied: &Value, ctx: &Ctx<'_>) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                let child = ctx.child(k);
                match l.get_mut(k) {
                    Some(existing) => merge(existing, v, &child),
                    None => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => match ctx.list_type() {
            ListType::Map(keys) => {
                for item in a {
                    let id = item_key(item, &keys);
                    match l.iter_mut().find(|x| item_key(x, &keys) == id) {
                        Some(existing) => merge(existing, item, &ctx.item()),
                        None => l.push(item.clone()),
                    }
                }
            }
            ListType::Set => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            ListType::Atomic => *l = a.clone(),
        },
        (live, applied) => *live = applied.clone(),
    }
}

pub(super) fn root_ctx<'a>(ty: &'a ResourceType, applied: &Value) -> Ctx<'a> {
    let version = applied["apiVersion"].as_str().and_then(|v| v.rsplit('/').next()).unwrap_or("");
    let schema = ty.schemas.as_ref().and_then(|s| s.get(version).or_else(|| s.values().next()));
    Ctx {
        path: Vec::new(),
        schema,
        is_service: ty.kind == "Service" && ty.group.is_empty(),
        custom: ty.is_custom(),
    }
}
