//! The Deployment and ReplicaSet controllers' reconciles, and the ControllerRefManager's
//! adoption and release of the ReplicaSets and pods a selector matches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use crate::controllers::cache::{controller_uid, Key};
use crate::controllers::deployment::{sync_deployment, PodCounts};
use crate::controllers::manager::{to_value, Involved, Manager, Work};
use crate::controllers::replicaset::{created_event, deleted_event, sync_replica_set};
use crate::controllers::{ControllerEvent, EventType};
use crate::resources::{ResourceRef, DEPLOYMENTS, PODS, REPLICASETS};
use crate::selectors::LabelSelector;
use crate::store::DeleteOptions;

use super::{is_conflict, with_annotations};

impl Manager {
    /// Claim objects for an owner as kube-controller-manager does: orphans (no controller) whose
    /// labels match `selector` are adopted (unless the owner is being deleted), owned objects
    /// whose labels no longer match are released. Returns whether anything changed.
    pub(super) fn claim(
        &mut self,
        resource: &ResourceRef,
        owner: &Value,
        owner_ref: Value,
        owned: Vec<Key>,
        orphans: Vec<Key>,
    ) -> bool {
        let Ok(selector) = LabelSelector::from_object(&owner["spec"]["selector"]) else { return false };
        if selector.is_empty() {
            return false;
        }
        let owner_uid = owner["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let owner_deleting = !owner["metadata"]["deletionTimestamp"].is_null();
        let raw_of = |cache: &crate::controllers::cache::Cache, key: &Key| -> Option<Arc<Value>> {
            match resource.resource.as_ref() {
                "pods" => cache.pods.get(key).map(|p| p.raw.clone()),
                _ => cache.replica_sets.get(key).map(|(_, raw)| raw.clone()),
            }
        };
        let mut changed = false;
        for key in owned {
            let Some(raw) = raw_of(&self.cache, &key) else { continue };
            if selector.matches(&raw["metadata"]["labels"]) || !raw["metadata"]["deletionTimestamp"].is_null()
            {
                continue;
            }
            changed |= self
                .store
                .modify(resource, &key.0, &key.1, |v| {
                    if let Some(refs) = v["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"].as_str() != Some(owner_uid.as_str()));
                    }
                })
                .is_ok();
        }
        if owner_deleting {
            return changed;
        }
        for key in orphans {
            let Some(raw) = raw_of(&self.cache, &key) else { continue };
            let active = raw["metadata"]["deletionTimestamp"].is_null()
                && !matches!(raw["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
            if !active || !selector.matches(&raw["metadata"]["labels"]) {
                continue;
            }
            changed |= self
                .store
                .modify(resource, &key.0, &key.1, |v| {
                    if controller_uid(v).is_none() {
                        let mut refs =
                            v["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default();
                        refs.push(owner_ref.clone());
                        v["metadata"]["ownerReferences"] = Value::Array(refs);
                    }
                })
                .is_ok();
        }
        changed
    }

    pub(in crate::controllers) fn sync_deployment(&mut self, key: &Key) {
        let Some((d, raw)) = self.cache.deployments.get(key).cloned() else { return };
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let owned: Vec<Key> = self
            .cache
            .replica_sets_by_owner
            .get(&uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let orphans: Vec<Key> = self
            .cache
            .orphan_replica_sets
            .get(&key.0)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let owner_ref =
            to_value(&crate::controllers::deployment::controller_ref("apps/v1", "Deployment", &d.metadata));
        if self.claim(&REPLICASETS, &raw, owner_ref, owned, orphans) {
            self.enqueue(Work::Deployment(key.clone()));
            return;
        }
        let (replica_sets, raw_replica_sets, counts) = self.owned_replica_sets(&uid);
        let result = sync_deployment(&d, replica_sets, &counts, Timestamp::now());
        let requeue = Work::Deployment(key.clone());
        for rs in &result.create_replica_sets {
            match self.store.create(&REPLICASETS, to_value(rs)) {
                Ok(_) => {}
                Err(err) if err.reason == "AlreadyExists" => {
                    // A ReplicaSet of that name we do not own: a hash collision. Bump
                    // collisionCount and try again with a new hash, as the real controller does.
                    let _ = self.store.modify_status(&DEPLOYMENTS, &key.0, &key.1, |v| {
                        let count = v["status"]["collisionCount"].as_i64().unwrap_or(0);
                        v["status"]["collisionCount"] = json!(count + 1);
                    });
                    self.enqueue(requeue);
                    return;
                }
                Err(err) => {
                    tracing::debug!(
                        "deployment {}/{}: cannot create replica set: {}",
                        key.0,
                        key.1,
                        err.message
                    );
                    self.enqueue_after(requeue, Duration::from_secs(1));
                    return;
                }
            }
        }
        for rs in &result.update_replica_sets {
            let name = rs.metadata.name.clone().unwrap_or_default();
            let Some(rs_raw) = raw_replica_sets.get(&name) else { continue };
            let object = replica_set_update(rs_raw, rs);
            if let Err(err) = self.store.update(&REPLICASETS, object) {
                if !is_conflict(&err) {
                    tracing::debug!(
                        "deployment {}/{}: cannot update replica set {name}: {}",
                        key.0,
                        key.1,
                        err.message
                    );
                }
                self.enqueue(requeue);
                return;
            }
        }
        for name in &result.delete_replica_sets {
            let uid =
                raw_replica_sets.get(name).and_then(|r| r["metadata"]["uid"].as_str()).map(str::to_string);
            let options = DeleteOptions { precondition_uid: uid, ..Default::default() };
            let _ = self.store.delete(&REPLICASETS, &key.0, name, &options);
        }
        if let Some(updated) = &result.update_deployment {
            let mut current = raw.as_ref().clone();
            if updated.metadata.annotations != d.metadata.annotations {
                match self
                    .store
                    .update(&DEPLOYMENTS, with_annotations(&current, &updated.metadata.annotations))
                {
                    Ok(stored) => current = stored,
                    Err(_) => {
                        self.enqueue(requeue);
                        return;
                    }
                }
            }
            if updated.status != d.status {
                current["status"] = to_value(&updated.status);
                if self.store.update_status(&DEPLOYMENTS, current).is_err() {
                    self.enqueue(requeue);
                    return;
                }
            }
        }
        let involved = Involved::of("apps/v1", "Deployment", &d.metadata);
        for event in &result.events {
            self.record(&involved, "deployment-controller", None, event);
        }
        if let Some(after) = result.requeue_after {
            self.enqueue_after(requeue, after);
        }
    }

    /// The ReplicaSets a Deployment (uid `uid`) owns, typed and as stored (by name), and the
    /// pods each owns that are neither Succeeded nor Failed.
    pub(super) fn owned_replica_sets(
        &self,
        uid: &str,
    ) -> (Vec<ReplicaSet>, HashMap<String, Arc<Value>>, PodCounts) {
        let rs_keys: Vec<Key> = self
            .cache
            .replica_sets_by_owner
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let mut replica_sets = Vec::new();
        let mut raw_replica_sets = HashMap::new();
        let mut counts = PodCounts::default();
        for rs_key in rs_keys {
            let Some((rs, rs_raw)) = self.cache.replica_sets.get(&rs_key) else { continue };
            let rs_uid = rs.metadata.uid.clone().unwrap_or_default();
            let non_terminal = self
                .cache
                .pods_by_owner
                .get(&rs_uid)
                .into_iter()
                .flatten()
                .filter_map(|p| self.cache.pods.get(p))
                .filter(|p| {
                    !matches!(
                        p.pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                        Some("Succeeded" | "Failed")
                    )
                })
                .count();
            counts.non_terminal_by_replica_set.insert(rs_uid, non_terminal);
            raw_replica_sets.insert(rs_key.1.clone(), rs_raw.clone());
            replica_sets.push(rs.as_ref().clone());
        }
        (replica_sets, raw_replica_sets, counts)
    }

    pub(in crate::controllers) fn sync_replica_set(&mut self, key: &Key) {
        let Some((rs, raw)) = self.cache.replica_sets.get(key).cloned() else { return };
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let owned: Vec<Key> =
            self.cache.pods_by_owner.get(&uid).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        let orphans: Vec<Key> =
            self.cache.orphan_pods.get(&key.0).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        let owner_ref =
            to_value(&crate::controllers::deployment::controller_ref("apps/v1", "ReplicaSet", &rs.metadata));
        if self.claim(&PODS, &raw, owner_ref, owned, orphans) {
            self.enqueue(Work::ReplicaSet(key.clone()));
            return;
        }
        let pods: Vec<Arc<Pod>> = self
            .cache
            .pods_by_owner
            .get(&uid)
            .into_iter()
            .flatten()
            .filter_map(|k| self.cache.pods.get(k).map(|p| p.pod.clone()))
            .collect();
        let refs: Vec<&Pod> = pods.iter().map(Arc::as_ref).collect();
        let owner = controller_uid(&raw);
        let related = self.cache.related_pods_per_node(owner.as_deref(), key);
        let result = sync_replica_set(&rs, &refs, &related, Timestamp::now());
        let involved = Involved::of("apps/v1", "ReplicaSet", &rs.metadata);
        for pod in &result.create_pods {
            match self.store.create(&PODS, to_value(pod)) {
                Ok(created) => {
                    let name = created["metadata"]["name"].as_str().unwrap_or("").to_string();
                    self.record(&involved, "replicaset-controller", None, &created_event(&name));
                }
                Err(err) => {
                    let event = ControllerEvent {
                        type_: EventType::Warning,
                        reason: "FailedCreate".into(),
                        message: format!("Error creating: {}", err.message),
                    };
                    self.record(&involved, "replicaset-controller", None, &event);
                    self.enqueue_after(Work::ReplicaSet(key.clone()), Duration::from_secs(1));
                    break;
                }
            }
        }
        for name in &result.delete_pods {
            if self.store.delete(&PODS, &key.0, name, &DeleteOptions::default()).is_ok() {
                self.record(&involved, "replicaset-controller", None, &deleted_event(name));
            }
        }
        if let Some(status) = &result.status {
            let mut object = raw.as_ref().clone();
            object["status"] = to_value(status);
            if self.store.update_status(&REPLICASETS, object).is_err() {
                self.enqueue(Work::ReplicaSet(key.clone()));
                return;
            }
        }
        if let Some(after) = result.requeue_after {
            self.enqueue_after(Work::ReplicaSet(key.clone()), after);
        }
    }
}

/// The stored ReplicaSet `raw` with the annotations, replicas and minReadySeconds the
/// Deployment controller decided for it (`rs`).
pub(super) fn replica_set_update(raw: &Value, rs: &ReplicaSet) -> Value {
    let mut object = with_annotations(raw, &rs.metadata.annotations);
    let spec = rs.spec.clone().unwrap_or_default();
    object["spec"]["replicas"] = json!(spec.replicas.unwrap_or(1));
    match spec.min_ready_seconds {
        Some(seconds) => object["spec"]["minReadySeconds"] = json!(seconds),
        None => {
            if let Some(s) = object["spec"].as_object_mut() {
                s.remove("minReadySeconds");
            }
        }
    }
    object
}
