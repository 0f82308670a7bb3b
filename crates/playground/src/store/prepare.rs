//! What a write does to its object before it is validated: identity and kind checked against
//! the request, server-set metadata dropped or carried over, the subresource's rule applied
//! (main keeps status, status keeps all else), and what generation compares.

use serde_json::{json, Value};

use super::{split_api_version, Subresource};
use crate::clock::random_suffix;
use crate::errors::ApiError;
use crate::resources::{ResourceRef, ResourceType};

/// Fill in apiVersion/kind, namespace and name (generateName) of a new object; refuse an object
/// of another kind.
pub(super) fn prepare_new(
    ty: &ResourceType,
    resource: &ResourceRef,
    namespace: &str,
    object: &mut Value,
) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(format!("the body of the request is not a {} object", ty.kind)));
    }
    check_kind(ty, resource, object)?;
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let meta = object["metadata"].as_object_mut().expect("just made metadata an object");
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
    ] {
        meta.remove(field);
    }
    if ty.namespaced {
        if namespace.is_empty() {
            meta.insert("namespace".into(), json!("default"));
        }
    } else {
        meta.remove("namespace");
    }
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        let generate = meta.get("generateName").and_then(Value::as_str).unwrap_or("");
        if !generate.is_empty() {
            meta.insert("name".into(), json!(format!("{generate}{}", random_suffix())));
        }
    }
    Ok(())
}

fn check_kind(ty: &ResourceType, resource: &ResourceRef, object: &mut Value) -> Result<(), ApiError> {
    let expected = ty.api_version(&resource.version);
    match object["apiVersion"].as_str() {
        None | Some("") => object["apiVersion"] = json!(expected),
        Some(v) if v == expected => {}
        Some(v) => {
            let (group, _) = split_api_version(v);
            if group != ty.group || !ty.serves(split_api_version(v).1) {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({expected})"
                )));
            }
            object["apiVersion"] = json!(expected);
        }
    }
    match object["kind"].as_str() {
        None | Some("") => object["kind"] = json!(ty.kind),
        Some(k) if k == ty.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                ty.kind
            )))
        }
    }
    Ok(())
}

/// The name and namespace in the body must be those of the request.
pub(super) fn check_identity(
    ty: &ResourceType,
    object: &Value,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    let body_name = object["metadata"]["name"].as_str().unwrap_or("");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if ty.namespaced {
        let body_ns = object["metadata"]["namespace"].as_str().unwrap_or("");
        if !body_ns.is_empty() && body_ns != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

/// Carry what an update cannot change from the stored object, and apply the subresource's rule
/// (main: status is kept; status: only status changes).
pub(super) fn prepare_update(
    ty: &ResourceType,
    resource: &ResourceRef,
    current: &Value,
    object: &mut Value,
    subresource: Subresource,
) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(format!("the body of the request is not a {} object", ty.kind)));
    }
    check_kind(ty, resource, object)?;
    if subresource == Subresource::Status {
        let status = object.get("status").cloned();
        let mut merged = current.clone();
        match status {
            Some(s) => merged["status"] = s,
            None => {
                if let Some(m) = merged.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        merged["apiVersion"] = object["apiVersion"].clone();
        *object = merged;
        return Ok(());
    }
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let old_meta = &current["metadata"];
    let meta = object["metadata"].as_object_mut().expect("just made metadata an object");
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
        "name",
    ] {
        match old_meta.get(field) {
            Some(v) => {
                meta.insert(field.into(), v.clone());
            }
            None => {
                meta.remove(field);
            }
        }
    }
    meta.insert("resourceVersion".into(), old_meta["resourceVersion"].clone());
    meta.remove("selfLink");
    // An update that omits managedFields keeps them; an explicit empty list resets them.
    match meta.get("managedFields") {
        None | Some(Value::Null) => {
            if let Some(m) = old_meta.get("managedFields").filter(|m| !m.is_null()) {
                meta.insert("managedFields".into(), m.clone());
            }
        }
        Some(Value::Array(a))
            if a.is_empty() || a.iter().all(|e| e.as_object().is_some_and(|o| o.is_empty())) =>
        {
            meta.remove("managedFields");
        }
        _ => {}
    }
    if meta.get("generateName").is_some_and(|g| g.as_str() == Some("")) {
        meta.remove("generateName");
    }
    if !old_meta["deletionTimestamp"].is_null() {
        let old: Vec<&Value> =
            old_meta["finalizers"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        let added: Vec<String> = meta
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter().filter(|f| !old.contains(f)).filter_map(|f| f.as_str().map(str::to_string)).collect()
            })
            .unwrap_or_default();
        if !added.is_empty() {
            let name = old_meta["name"].as_str().unwrap_or("");
            return Err(ApiError::invalid(
                &ty.group,
                &ty.kind,
                name,
                &[crate::errors::InvalidField::forbidden(
                    "metadata.finalizers",
                    &format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        added.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
                    ),
                )],
            ));
        }
    }
    if ty.group.is_empty() && ty.plural == "services" {
        keep_allocated_service_values(current, object);
    }
    if ty.status {
        match current.get("status") {
            Some(s) => object["status"] = s.clone(),
            None => {
                if let Some(m) = object.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    Ok(())
}

/// A Service update that leaves out what the API server allocated (cluster IPs, node ports)
/// keeps the allocated values, as kube-apiserver's `patchAllocatedValues` does.
fn keep_allocated_service_values(current: &Value, object: &mut Value) {
    let old = &current["spec"];
    if !object["spec"].is_object() {
        return;
    }
    let spec = &mut object["spec"];
    let same_type = spec["type"].is_null() || spec["type"] == old["type"];
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if (spec[field].is_null() || spec[field] == "") && !old[field].is_null() {
            spec[field] = old[field].clone();
        }
    }
    if same_type {
        let old_ports = old["ports"].as_array().cloned().unwrap_or_default();
        if let Some(ports) = spec["ports"].as_array_mut() {
            for port in ports {
                if port["nodePort"].is_null() {
                    let protocol = |p: &Value| p["protocol"].as_str().unwrap_or("TCP").to_string();
                    let same =
                        old_ports.iter().find(|p| p["port"] == port["port"] && protocol(p) == protocol(port));
                    if let Some(node_port) = same.map(|p| p["nodePort"].clone()).filter(|n| !n.is_null()) {
                        port["nodePort"] = node_port;
                    }
                }
            }
        }
    }
}

/// The object without metadata and status: what generation tracks.
pub(super) fn strip_meta_status(object: &Value) -> Value {
    let mut copy = serde_json::Map::new();
    if let Some(map) = object.as_object() {
        for (k, v) in map {
            if k != "metadata" && k != "status" && k != "apiVersion" && k != "kind" {
                copy.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(copy)
}

/// The object without metadata: what generation tracks on types without a status subresource.
pub(super) fn strip_meta(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("apiVersion");
        map.remove("kind");
    }
    copy
}
