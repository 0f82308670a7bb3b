//! Server-side apply: merge an applied configuration into the live object, track which manager
//! owns which fields (`metadata.managedFields`, FieldsV1 format), refuse to take fields another
//! manager set to a different value unless forced, and remove fields a manager stops applying.

use serde_json::{json, Map, Value};

use super::clock::now_rfc3339;
use super::errors::ApiError;
use super::resources::ResourceType;

/// How a list is merged: atomically (replaced), as a map keyed by some fields, or as a set.
#[derive(Debug, Clone, PartialEq)]
enum ListType {
    Atomic,
    Map(Vec<String>),
    Set,
}

/// Where we are in the object while walking it: the field names so far and, for custom
/// resources, the schema of this point.
#[derive(Clone)]
struct Ctx<'a> {
    path: Vec<String>,
    schema: Option<&'a Value>,
    is_service: bool,
    custom: bool,
}

impl<'a> Ctx<'a> {
    fn child(&self, field: &str) -> Ctx<'a> {
        let mut path = self.path.clone();
        path.push(field.to_string());
        let schema = self.schema.and_then(|s| {
            s["properties"].get(field).or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
        });
        Ctx { path, schema, is_service: self.is_service, custom: self.custom }
    }

    fn item(&self) -> Ctx<'a> {
        Ctx {
            path: self.path.clone(),
            schema: self.schema.and_then(|s| s.get("items")),
            is_service: self.is_service,
            custom: self.custom,
        }
    }

    fn list_type(&self) -> ListType {
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
        match super::patch::merge_key(&self.path, self.is_service) {
            Some(key) => ListType::Map(vec![key.to_string()]),
            None => ListType::Atomic,
        }
    }
}

fn item_key(item: &Value, keys: &[String]) -> String {
    let mut map = Map::new();
    for k in keys {
        map.insert(k.clone(), item.get(k).cloned().unwrap_or(Value::Null));
    }
    format!("k:{}", Value::Object(map))
}

/// The FieldsV1 set of the fields `value` sets.
fn field_set(value: &Value, ctx: &Ctx<'_>) -> Value {
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
fn leaves(set: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
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
fn nodes(set: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(map) = set.as_object() else { return };
    for (k, v) in map.iter().filter(|(k, _)| k.as_str() != ".") {
        prefix.push(k.clone());
        out.push(prefix.clone());
        nodes(v, prefix, out);
        prefix.pop();
    }
}

fn set_contains(set: &Value, path: &[String]) -> bool {
    let mut node = set;
    for p in path {
        match node.get(p) {
            Some(n) => node = n,
            None => return false,
        }
    }
    true
}

fn set_remove(set: &mut Value, path: &[String]) {
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
fn value_at<'v>(object: &'v Value, path: &[String]) -> Option<&'v Value> {
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

fn remove_at(object: &mut Value, path: &[String]) {
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
fn display_path(path: &[String]) -> String {
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

fn merge(live: &mut Value, applied: &Value, ctx: &Ctx<'_>) {
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

fn root_ctx<'a>(ty: &'a ResourceType, applied: &Value) -> Ctx<'a> {
    let version = applied["apiVersion"].as_str().and_then(|v| v.rsplit('/').next()).unwrap_or("");
    let schema = ty.schemas.as_ref().and_then(|s| s.get(version).or_else(|| s.values().next()));
    Ctx {
        path: Vec::new(),
        schema,
        is_service: ty.kind == "Service" && ty.group.is_empty(),
        custom: ty.is_custom(),
    }
}

fn entries(object: &Value) -> Vec<Value> {
    object["metadata"]["managedFields"].as_array().cloned().unwrap_or_default()
}

/// An apply configuration names apiVersion and kind, and the kind is the type's.
fn check_applied(ty: &ResourceType, applied: &Value) -> Result<(), ApiError> {
    if !applied.is_object() {
        return Err(ApiError::bad_request("the applied configuration is not an object"));
    }
    for field in ["apiVersion", "kind"] {
        if applied[field].as_str().unwrap_or("").is_empty() {
            return Err(ApiError::bad_request(format!(
                "invalid object type: {field} must be set in an apply configuration"
            )));
        }
    }
    if applied["kind"] != json!(ty.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({}) does not match the expected kind ({})",
            applied["kind"].as_str().unwrap_or(""),
            ty.kind
        )));
    }
    Ok(())
}

/// The conflicts of an apply: each field it now sets to a value other than the live one that
/// another manager owns, as (manager, its apiVersion, field path).
fn conflicts(
    current: &Value,
    applied: &Value,
    managed: &[Value],
    new_leaves: &[Vec<String>],
    manager: &str,
) -> Vec<(String, String, Vec<String>)> {
    let mut conflicts = Vec::new();
    for leaf in new_leaves {
        let live = value_at(current, leaf);
        let wanted = value_at(applied, leaf);
        let differs = match (live, wanted) {
            (Some(l), Some(w)) => !(l.is_object() && w.is_object()) && l != w,
            _ => false,
        };
        if !differs {
            continue;
        }
        for e in managed {
            let other = e["manager"].as_str().unwrap_or("");
            let same = other == manager && e["operation"] == "Apply";
            if !same && set_contains(&e["fieldsV1"], leaf) {
                conflicts.push((
                    other.to_string(),
                    e["apiVersion"].as_str().unwrap_or("").to_string(),
                    leaf.clone(),
                ));
            }
        }
    }
    conflicts
}

/// Apply `applied` for `manager` onto `current` (None: the object does not exist yet).
///
/// # Errors
/// 400 when the applied configuration lacks apiVersion/kind/name or names another kind; 409
/// with the real conflict message when another manager owns a field set to a different value
/// and `force` is false.
pub fn apply(
    ty: &ResourceType,
    current: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, ApiError> {
    check_applied(ty, applied)?;
    let ctx = root_ctx(ty, applied);
    let mut applied = applied.clone();
    if let Some(m) = applied["metadata"].as_object_mut() {
        for f in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"] {
            m.remove(f);
        }
    }
    let new_set = field_set(&applied, &ctx);
    let api_version = applied["apiVersion"].clone();
    let entry = |set: Value| {
        json!({"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now_rfc3339(),
               "fieldsType": "FieldsV1", "fieldsV1": set})
    };
    let Some(current) = current else {
        let mut object = applied.clone();
        object["metadata"]["managedFields"] = json!([entry(new_set)]);
        return Ok(object);
    };
    let mut managed = entries(current);
    let mut new_leaves = Vec::new();
    leaves(&new_set, &mut Vec::new(), &mut new_leaves);
    let conflicts = conflicts(current, &applied, &managed, &new_leaves, manager);
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(ty, current, &conflicts));
    }
    for (other, _, leaf) in &conflicts {
        for e in managed.iter_mut().filter(|e| e["manager"] == json!(other)) {
            set_remove(&mut e["fieldsV1"], leaf);
        }
    }
    let mut object = current.clone();
    let live_meta = object["metadata"].clone();
    merge(&mut object, &applied, &ctx);
    // Fields this manager applied before and no longer applies, owned by no one else, go.
    let old_set = managed
        .iter()
        .find(|e| e["manager"] == json!(manager) && e["operation"] == "Apply")
        .map(|e| e["fieldsV1"].clone());
    if let Some(old_set) = old_set {
        let mut old_nodes = Vec::new();
        nodes(&old_set, &mut Vec::new(), &mut old_nodes);
        old_nodes.sort_by_key(Vec::len);
        for node in old_nodes {
            let metadata_container = node.first().is_some_and(|f| f == "f:metadata") && node.len() <= 2;
            if set_contains(&new_set, &node) || metadata_container {
                continue;
            }
            // A node another manager owns (or owns something under) stays.
            let owned_elsewhere = managed.iter().any(|e| {
                !(e["manager"] == json!(manager) && e["operation"] == "Apply")
                    && set_contains(&e["fieldsV1"], &node)
            });
            if !owned_elsewhere {
                remove_at(&mut object, &node);
            }
        }
    }
    managed.retain(|e| !(e["manager"] == json!(manager) && e["operation"] == "Apply"));
    managed.retain(|e| e["fieldsV1"].as_object().is_some_and(|m| !m.is_empty()));
    managed.push(entry(new_set));
    object["metadata"]["managedFields"] = json!(managed);
    for keep in ["uid", "resourceVersion", "creationTimestamp", "generation", "namespace", "name"] {
        if !live_meta[keep].is_null() {
            object["metadata"][keep] = live_meta[keep].clone();
        }
    }
    Ok(object)
}

fn conflict_error(
    ty: &ResourceType,
    current: &Value,
    conflicts: &[(String, String, Vec<String>)],
) -> ApiError {
    let n = conflicts.len();
    let mut by_manager: Vec<(String, String, Vec<String>)> = Vec::new();
    for (m, v, p) in conflicts {
        match by_manager.iter_mut().find(|(bm, _, _)| bm == m) {
            Some((_, _, paths)) => paths.push(display_path(p)),
            None => by_manager.push((m.clone(), v.clone(), vec![display_path(p)])),
        }
    }
    let text = if n == 1 {
        let (m, v, paths) = &by_manager[0];
        format!("Apply failed with 1 conflict: conflict with \"{m}\" using {v}: {}", paths[0])
    } else {
        let parts: Vec<String> = by_manager
            .iter()
            .map(|(m, v, paths)| {
                let list: Vec<String> = paths.iter().map(|p| format!("- {p}")).collect();
                format!("conflicts with \"{m}\" using {v}:\n{}", list.join("\n"))
            })
            .collect();
        format!("Apply failed with {n} conflicts: {}", parts.join("\n"))
    };
    let name = current["metadata"]["name"].as_str().unwrap_or("");
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, _, p)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\""), "field": display_path(p)}))
        .collect();
    let mut details = json!({"name": name, "kind": ty.plural, "causes": causes});
    if !ty.group.is_empty() {
        details["group"] = json!(ty.group);
    }
    ApiError { code: 409, reason: "Conflict", message: text, details: Some(details), retry_after: None }
}

/// A create by `manager` (not an apply): it owns every field it set, as an `Update` entry.
pub fn record_create(ty: &ResourceType, object: &mut Value, manager: &str) {
    if object["metadata"]["managedFields"].as_array().is_some_and(|m| !m.is_empty()) {
        return;
    }
    // Defaulted fields belong to the creator too, as in the API server.
    let mut defaulted = object.clone();
    super::defaults::apply(ty, &mut defaulted);
    let ctx = root_ctx(ty, &defaulted);
    let mut set = field_set(&defaulted, &ctx);
    if let Some(m) = set.as_object_mut() {
        m.remove("f:status");
    }
    let entry = json!({"manager": manager, "operation": "Update", "apiVersion": object["apiVersion"], "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": set});
    object["metadata"]["managedFields"] = json!([entry]);
}

/// After a non-apply write by `manager`, move ownership of the fields it changed to it (as an
/// `Update` entry), so a later apply by another manager conflicts on them. Only objects that
/// already carry managedFields are tracked.
pub fn record_update(ty: &ResourceType, old: &Value, new: &mut Value, manager: &str) {
    let mut managed = entries(old);
    if managed.is_empty() {
        if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        return;
    }
    let ctx = root_ctx(ty, new);
    let before = field_set(old, &ctx);
    let after = field_set(new, &ctx);
    let mut after_leaves = Vec::new();
    leaves(&after, &mut Vec::new(), &mut after_leaves);
    let changed: Vec<Vec<String>> = after_leaves
        .into_iter()
        .filter(|leaf| {
            leaf.first().is_none_or(|f| f != "f:status")
                && (!set_contains(&before, leaf) || value_at(old, leaf) != value_at(new, leaf))
        })
        .collect();
    if changed.is_empty() {
        new["metadata"]["managedFields"] = json!(managed);
        return;
    }
    for e in managed.iter_mut() {
        if e["manager"] != json!(manager) || e["operation"] != "Update" {
            for leaf in &changed {
                set_remove(&mut e["fieldsV1"], leaf);
            }
        }
    }
    let idx = managed.iter().position(|e| e["manager"] == json!(manager) && e["operation"] == "Update");
    let mut set = idx.map(|i| managed[i]["fieldsV1"].clone()).unwrap_or_else(|| json!({}));
    for leaf in &changed {
        let mut node = &mut set;
        for p in leaf {
            if node.get(p).is_none() {
                node[p] = json!({});
            }
            node = node.get_mut(p).expect("just inserted");
        }
    }
    let entry = json!({"manager": manager, "operation": "Update", "apiVersion": new["apiVersion"], "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": set});
    match idx {
        Some(i) => managed[i] = entry,
        None => managed.push(entry),
    }
    managed.retain(|e| e["fieldsV1"].as_object().is_some_and(|m| !m.is_empty()));
    new["metadata"]["managedFields"] = json!(managed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::builtin_types;

    fn deployments() -> ResourceType {
        builtin_types().into_iter().find(|t| t.plural == "deployments").unwrap()
    }

    fn config(image: &str, replicas: Option<i64>, env: bool) -> Value {
        let mut c = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fraud"},
            "spec": {"template": {"spec": {"containers": [{"name": "model", "image": image}]}}}});
        if let Some(r) = replicas {
            c["spec"]["replicas"] = json!(r);
        }
        if env {
            c["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "1"}]);
        }
        c
    }

    #[test]
    fn apply_creates_merges_removes_and_conflicts() {
        let ty = deployments();
        let created = apply(&ty, None, &config("m:1", Some(2), true), "a", false).unwrap();
        assert_eq!(created["metadata"]["managedFields"][0]["manager"], "a");
        let mut live = created.clone();
        live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "proxy", "image": "p:1"}));
        // Same manager drops env and replicas: both go; the other container stays.
        let next = apply(&ty, Some(&live), &config("m:2", None, false), "a", false).unwrap();
        let cs = next["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0]["image"], "m:2");
        assert!(cs[0].get("env").is_none());
        assert!(next["spec"].get("replicas").is_none());
        // Another manager changing the image conflicts unless forced.
        let err = apply(&ty, Some(&next), &config("m:3", None, false), "b", false).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"a\" using apps/v1: .spec.template.spec.containers[name=\"model\"].image"
        );
        let forced = apply(&ty, Some(&next), &config("m:3", None, false), "b", true).unwrap();
        assert_eq!(forced["spec"]["template"]["spec"]["containers"][0]["image"], "m:3");
        // The same value is shared, not a conflict.
        assert!(apply(&ty, Some(&forced), &config("m:3", None, false), "c", false).is_ok());
    }

    #[test]
    fn updates_take_ownership() {
        let ty = deployments();
        let created = apply(&ty, None, &config("m:1", Some(2), false), "a", false).unwrap();
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(&ty, &created, &mut scaled, "kubectl");
        let err = apply(&ty, Some(&scaled), &config("m:1", Some(3), false), "a", false).unwrap_err();
        assert!(err.message.contains("conflict with \"kubectl\""), "{}", err.message);
    }
}
