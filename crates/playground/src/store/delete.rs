//! Deletes: preconditions, finalizers (and those a propagation policy adds), the graceful
//! deletion of scheduled pods, and the cascade of a namespace or a CRD.

use std::sync::Arc;

use serde_json::{json, Value};

use super::commit::{commit, delete_namespace_contents, remove, unregister_crd};
use super::{present, DeleteOptions, Deleted, EventType, Propagation, Store};
use crate::clock::rfc3339;
use crate::errors::ApiError;
use crate::resources::{ResourceRef, ResourceType};

impl Store {
    /// Delete an object. Objects with finalizers (and, with `Foreground`/`Orphan`
    /// propagation, the finalizer that policy adds) get `deletionTimestamp` and stay until their
    /// finalizers are removed; a scheduled pod with a grace period stays until the kubelet
    /// deletes it with grace period 0. Deleting a namespace deletes everything in it.
    ///
    /// Garbage collection of dependents (ownerReferences) is the controllers' job: they act on
    /// the `foregroundDeletion` / `orphan` finalizers and on owners that are gone.
    ///
    /// # Errors
    /// 404, 409 on a failed precondition.
    pub fn delete(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        {
            let ty = self.resource_type(resource)?;
            let namespace = if ty.namespaced { namespace } else { "" };
            let key = (namespace.to_string(), name.to_string());
            let mut state = self.lock();
            let Some(current) = state
                .objects
                .get(&(ty.group.clone(), ty.plural.clone()))
                .and_then(|o| o.get(&key))
                .map(|o| o.object())
            else {
                return Err(ApiError::not_found(&ty.group, &ty.plural, name));
            };
            check_preconditions(&ty.group, &ty.plural, name, &current["metadata"], options)?;
            let mut object = (*current).clone();
            let finalizers = finalizers_after_delete(&object, options.propagation);
            let grace = grace_period(&ty, &object, options.grace_period_seconds);
            if finalizers.is_empty() && grace == 0 {
                if options.dry_run {
                    return Ok(Deleted::Now(Arc::unwrap_or_clone(present(&current, &ty, &resource.version))));
                }
                if ty.group.is_empty() && ty.plural == "namespaces" {
                    delete_namespace_contents(&self.shared, &mut state, name);
                }
                if ty.group == "apiextensions.k8s.io" && ty.plural == "customresourcedefinitions" {
                    unregister_crd(&self.shared, &mut state, &current);
                }
                let removed = remove(&self.shared, &mut state, &ty, &key, None);
                return Ok(Deleted::Now(Arc::unwrap_or_clone(present(&removed, &ty, &resource.version))));
            }
            let meta = object["metadata"].as_object_mut().expect("stored objects have metadata");
            if meta.get("deletionTimestamp").is_none_or(Value::is_null) {
                let at = if grace > 0 {
                    jiff::Timestamp::now()
                        .checked_add(jiff::SignedDuration::from_secs(grace))
                        .unwrap_or_else(|_| jiff::Timestamp::now())
                } else {
                    jiff::Timestamp::now()
                };
                meta.insert("deletionTimestamp".into(), json!(rfc3339(at)));
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            } else if grace > 0 {
                // A second delete may shorten the grace period, never lengthen it.
                let old = meta.get("deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(grace);
                if grace < old {
                    meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
                }
            }
            if finalizers.is_empty() {
                meta.remove("finalizers");
            } else {
                meta.insert("finalizers".into(), json!(finalizers));
            }
            if ty.group.is_empty() && ty.plural == "namespaces" {
                object["status"]["phase"] = json!("Terminating");
            }
            if object == *current {
                return Ok(Deleted::Pending(Arc::unwrap_or_clone(present(&current, &ty, &resource.version))));
            }
            if options.dry_run {
                return Ok(Deleted::Pending(Arc::unwrap_or_clone(present(
                    &Arc::new(object),
                    &ty,
                    &resource.version,
                ))));
            }
            let stored = commit(&self.shared, &mut state, &ty, key, Some(object), EventType::Modified);
            Ok(Deleted::Pending(Arc::unwrap_or_clone(present(&stored, &ty, &resource.version))))
        }
    }
}

/// 409 unless the object's uid and resourceVersion are those the DeleteOptions' preconditions name.
fn check_preconditions(
    group: &str,
    plural: &str,
    name: &str,
    meta: &Value,
    options: &DeleteOptions,
) -> Result<(), ApiError> {
    if let Some(uid) = &options.precondition_uid {
        if meta["uid"].as_str() != Some(uid) {
            return Err(ApiError::conflict_because(
                group,
                plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta["uid"].as_str().unwrap_or("")
                ),
            ));
        }
    }
    if let Some(rv) = &options.precondition_resource_version {
        if meta["resourceVersion"].as_str() != Some(rv) {
            return Err(ApiError::conflict_because(
                group,
                plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta["resourceVersion"].as_str().unwrap_or("")
                ),
            ));
        }
    }
    Ok(())
}

/// The object's finalizers once a delete with `propagation` has marked it: Foreground and
/// Orphan add theirs, Background removes both.
fn finalizers_after_delete(object: &Value, propagation: Option<Propagation>) -> Vec<String> {
    let mut finalizers: Vec<String> = object["metadata"]["finalizers"]
        .as_array()
        .map(|f| f.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let policy_finalizer = match propagation {
        Some(Propagation::Foreground) => Some("foregroundDeletion"),
        Some(Propagation::Orphan) => Some("orphan"),
        _ => None,
    };
    if let Some(f) = policy_finalizer {
        // Foreground only matters when something could depend on the object; the real
        // API server adds it regardless and lets the GC remove it.
        if !finalizers.iter().any(|x| x == f) {
            finalizers.push(f.to_string());
        }
    }
    if propagation == Some(Propagation::Background) {
        finalizers.retain(|f| f != "foregroundDeletion" && f != "orphan");
    }
    finalizers
}

/// The grace period of a delete: a scheduled, running pod's (the request's, else its spec's,
/// 30 s by default); 0 for everything else.
fn grace_period(ty: &ResourceType, object: &Value, requested: Option<i64>) -> i64 {
    if ty.group.is_empty() && ty.plural == "pods" {
        let spec_grace = object["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
        let scheduled = object["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
        let terminal = matches!(object["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
        if scheduled && !terminal {
            requested.unwrap_or(spec_grace).max(0)
        } else {
            0
        }
    } else {
        0
    }
}
