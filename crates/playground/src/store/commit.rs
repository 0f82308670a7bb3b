//! The changes made under the store's lock: commit or remove an object with the next
//! resourceVersion, log and broadcast its event, register or drop a CRD's type, and empty a
//! deleted namespace.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{is_event, kept_serialized, EventType, Shared, State, Stored, WatchEvent};
use crate::errors::ApiError;
use crate::resources::{self, ResourceType};

/// Store `object` under `key` with the next resourceVersion and log the event.
pub(super) fn commit(
    shared: &Shared,
    state: &mut State,
    ty: &ResourceType,
    key: (String, String),
    object: Option<Value>,
    event_type: EventType,
) -> Arc<Value> {
    state.resource_version += 1;
    let rv = state.resource_version;
    let mut object = object.expect("commit needs an object");
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    let object = Arc::new(object);
    // A serialized object's JSON is also what watches send: made once, for both.
    let json = std::sync::OnceLock::new();
    let stored = if kept_serialized(ty) {
        let bytes = bytes::Bytes::from(serde_json::to_vec(&*object).expect("a JSON value serializes"));
        let _ = json.set(bytes.clone());
        Stored::Serialized(bytes)
    } else {
        Stored::Parsed(object.clone())
    };
    let objects = state.objects.entry((ty.group.clone(), ty.plural.clone())).or_default();
    let previous = objects.insert(key.clone(), stored).map(|p| p.object());
    if is_event(ty) {
        let expires = std::time::Instant::now() + state.event_ttl;
        state.event_expires.insert(key.clone(), expires);
        state.event_expiry.push_back((expires, key.clone()));
    }
    log_event(
        shared,
        state,
        WatchEvent {
            event_type,
            group: ty.group.clone(),
            resource: ty.plural.clone(),
            namespace: key.0,
            name: key.1,
            resource_version: rv,
            object: object.clone(),
            previous,
            json,
        },
    );
    object
}

/// Remove the object under `key` (its last state: `last` or the stored one) and log DELETED.
pub(super) fn remove(
    shared: &Shared,
    state: &mut State,
    ty: &ResourceType,
    key: &(String, String),
    last: Option<Value>,
) -> Arc<Value> {
    state.resource_version += 1;
    let rv = state.resource_version;
    let objects = state.objects.entry((ty.group.clone(), ty.plural.clone())).or_default();
    let previous = objects.remove(key).map(|p| p.object());
    if is_event(ty) {
        state.event_expires.remove(key);
    }
    let mut object = match (last, &previous) {
        (Some(v), _) => v,
        (None, Some(p)) => (**p).clone(),
        (None, None) => Value::Null,
    };
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    let object = Arc::new(object);
    log_event(
        shared,
        state,
        WatchEvent {
            event_type: EventType::Deleted,
            group: ty.group.clone(),
            resource: ty.plural.clone(),
            namespace: key.0.clone(),
            name: key.1.clone(),
            resource_version: rv,
            object: object.clone(),
            previous,
            json: std::sync::OnceLock::new(),
        },
    );
    object
}

fn log_event(shared: &Shared, state: &mut State, event: WatchEvent) {
    let event = Arc::new(event);
    if state.log.len() >= state.log_capacity {
        if let Some(old) = state.log.pop_front() {
            state.compacted = old.resource_version;
        }
    }
    state.log.push_back(event.clone());
    let _ = shared.live.send(event);
}

pub(super) fn register_crd(state: &mut State, crd: &Value) -> Result<(), ApiError> {
    let ty = resources::type_from_crd(crd).map_err(|e| {
        ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            crd["metadata"]["name"].as_str().unwrap_or(""),
            &[crate::errors::InvalidField::invalid("spec", "", &e.to_string())],
        )
    })?;
    state.types.insert((ty.group.clone(), ty.plural.clone()), Arc::new(ty));
    Ok(())
}

pub(super) fn unregister_crd(shared: &Shared, state: &mut State, crd: &Value) {
    let group = crd["spec"]["group"].as_str().unwrap_or("").to_string();
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or("").to_string();
    let Some(ty) = state.types.get(&(group.clone(), plural.clone())).cloned() else { return };
    if !ty.is_custom() {
        return;
    }
    let keys: Vec<(String, String)> = state
        .objects
        .get(&(group.clone(), plural.clone()))
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for key in keys {
        remove(shared, state, &ty, &key, None);
    }
    state.objects.remove(&(group.clone(), plural.clone()));
    state.types.remove(&(group, plural));
}

pub(super) fn delete_namespace_contents(shared: &Shared, state: &mut State, namespace: &str) {
    let types: Vec<Arc<ResourceType>> = state.types.values().filter(|t| t.namespaced).cloned().collect();
    for ty in types {
        let keys: Vec<(String, String)> = state
            .objects
            .get(&(ty.group.clone(), ty.plural.clone()))
            .map(|o| o.keys().filter(|(ns, _)| ns == namespace).cloned().collect())
            .unwrap_or_default();
        for key in keys {
            remove(shared, state, &ty, &key, None);
        }
    }
}
