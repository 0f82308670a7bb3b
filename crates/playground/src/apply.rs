//! Server-side apply: merge an applied configuration into the live object, track which manager
//! owns which fields (`metadata.managedFields`, FieldsV1 format), refuse to take fields another
//! manager set to a different value unless forced, and remove fields a manager stops applying.
//! The field sets themselves (paths, values at them, the structural merge) are `field_set`.

mod field_set;

use serde_json::{json, Value};

use self::field_set::{
    display_path, field_set, leaves, merge, nodes, remove_at, root_ctx, set_contains, set_remove, value_at,
};
use super::clock::now_rfc3339;
use super::errors::ApiError;
use super::resources::ResourceType;

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
