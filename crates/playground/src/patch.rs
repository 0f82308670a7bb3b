//! The four patch types of the API server: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
//! strategic merge patch for built-in types (lists merged by their patch merge keys, `$patch`
//! directives), and the merge step of server-side apply.

use serde_json::{Map, Value};

use super::errors::ApiError;

/// A patch body and how to apply it, from the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    /// The patch type of a Content-Type header.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let base = content_type.split(';').next().unwrap_or("").trim();
        match base {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Apply a JSON patch.
///
/// # Errors
/// 422 like the API server when an operation fails (e.g. a test op or a missing path), 400 when
/// the body is not a JSON patch.
pub fn json_patch(object: &Value, body: &Value) -> Result<Value, ApiError> {
    let ops: json_patch::Patch = serde_json::from_value(body.clone()).map_err(|e| {
        ApiError::bad_request(format!("the server rejected our request due to an error in our request: {e}"))
    })?;
    let mut doc = object.clone();
    json_patch::patch(&mut doc, &ops).map_err(|e| {
        let mut err = ApiError::bad_request(format!(
            "the server rejected our request due to an error in our request: {e}"
        ));
        err.code = 422;
        err.reason = "Invalid";
        err
    })?;
    Ok(doc)
}

/// Apply a JSON merge patch.
///
/// # Errors
/// 400 when the patch is not a JSON object.
pub fn merge_patch(object: &Value, body: &Value) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "json: cannot unmarshal into Go value of type map[string]interface {}",
        ));
    }
    let mut doc = object.clone();
    json_patch::merge(&mut doc, body);
    Ok(doc)
}

/// The patch merge key of a list field of a built-in type, from its path of field names (list
/// indexes left out); `None` means the list is replaced (or merged as a set, for the primitive
/// lists marked so).
pub fn merge_key(path: &[String], is_service: bool) -> Option<&'static str> {
    let field = path.last()?.as_str();
    match field {
        "ports" if is_service && path.len() == 2 && path[0] == "spec" => Some("port"),
        "ports" => Some("containerPort"),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

/// Primitive lists a strategic merge patch merges as sets.
fn merges_as_set(path: &[String]) -> bool {
    path.last().is_some_and(|f| f == "finalizers")
}

/// Apply a strategic merge patch to a built-in object.
///
/// # Errors
/// 400 when the patch is not an object or a directive is unknown.
pub fn strategic_merge(object: &Value, patch: &Value) -> Result<Value, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "json: cannot unmarshal into Go value of type map[string]interface {}",
        ));
    }
    let is_service = object["kind"] == "Service";
    let mut doc = object.clone();
    merge_map(&mut doc, patch, &mut Vec::new(), is_service)?;
    Ok(doc)
}

fn merge_map(
    target: &mut Value,
    patch: &Value,
    path: &mut Vec<String>,
    is_service: bool,
) -> Result<(), ApiError> {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return Ok(());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = patch_map.clone();
            replaced.remove("$patch");
            *target = Value::Object(replaced);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => return Err(ApiError::bad_request(format!("Unknown patch type: {other}"))),
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let retain: Option<Vec<String>> = patch_map
        .get("$retainKeys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect());
    for (key, value) in patch_map {
        if key.starts_with("$setElementOrder/") || key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(list), Some(remove)) =
                (target.get_mut(field).and_then(Value::as_array_mut), value.as_array())
            {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        let map = target.as_object_mut().expect("made an object above");
        if value.is_null() {
            map.remove(key);
            continue;
        }
        path.push(key.clone());
        let result = match (map.get_mut(key), value) {
            (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                merge_map(existing, value, path, is_service)?;
                if existing.is_null() {
                    map.remove(key);
                }
                Ok(())
            }
            (Some(Value::Array(existing)), Value::Array(items)) => {
                let merge_on = merge_key(path, is_service);
                merge_list(existing, items, merge_on, merges_as_set(path), path, is_service)
            }
            _ => {
                let mut clean = value.clone();
                strip_directives(&mut clean);
                map.insert(key.clone(), clean);
                Ok(())
            }
        };
        path.pop();
        result?;
    }
    if let Some(retain) = retain {
        if let Some(map) = target.as_object_mut() {
            map.retain(|k, _| retain.contains(k));
        }
    }
    Ok(())
}

fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('$'));
            for v in map.values_mut() {
                strip_directives(v);
            }
        }
        Value::Array(items) => {
            items.retain(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"));
            for i in items {
                strip_directives(i);
            }
        }
        _ => {}
    }
}

fn merge_list(
    existing: &mut Vec<Value>,
    items: &[Value],
    merge_on: Option<&str>,
    as_set: bool,
    path: &mut Vec<String>,
    is_service: bool,
) -> Result<(), ApiError> {
    if let Some(key) = merge_on {
        if items.iter().all(Value::is_object) {
            for item in items {
                if item.get("$patch").and_then(Value::as_str) == Some("replace") {
                    let mut replaced: Vec<Value> =
                        items.iter().filter(|i| i.get("$patch").is_none()).cloned().collect();
                    replaced.iter_mut().for_each(strip_directives);
                    *existing = replaced;
                    return Ok(());
                }
            }
            for item in items {
                let id = &item[key];
                let position = existing.iter().position(|e| &e[key] == id && !id.is_null());
                let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                match (position, delete) {
                    (Some(i), true) => {
                        existing.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => merge_map(&mut existing[i], item, path, is_service)?,
                    (None, false) => {
                        let mut clean = item.clone();
                        strip_directives(&mut clean);
                        existing.push(clean);
                    }
                }
            }
            return Ok(());
        }
    }
    if as_set {
        for item in items {
            if !existing.contains(item) {
                existing.push(item.clone());
            }
        }
        return Ok(());
    }
    *existing = items.to_vec();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
            {"name": "model", "image": "m:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "proxy", "image": "p:1"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "model", "image": "m:2", "env": [{"name": "B", "value": "2"}]}]}}}});
        let out = strategic_merge(&d, &patch).unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "m:2");
        assert_eq!(cs[0]["env"].as_array().unwrap().len(), 2);
        assert_eq!(cs[1]["image"], "p:1");
        let delete =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}});
        let out = strategic_merge(&out, &delete).unwrap();
        assert_eq!(out["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn service_ports_merge_on_port() {
        let s = json!({"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
        let out = strategic_merge(&s, &json!({"spec": {"ports": [{"port": 443}]}})).unwrap();
        assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn merge_and_json_patches() {
        let o = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let out = merge_patch(&o, &json!({"metadata": {"labels": {"a": null, "c": "3"}}})).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        let out =
            json_patch(&o, &json!([{"op": "replace", "path": "/metadata/labels/a", "value": "9"}])).unwrap();
        assert_eq!(out["metadata"]["labels"]["a"], "9");
        let err =
            json_patch(&o, &json!([{"op": "test", "path": "/metadata/labels/a", "value": "9"}])).unwrap_err();
        assert_eq!(err.code, 422);
    }
}
