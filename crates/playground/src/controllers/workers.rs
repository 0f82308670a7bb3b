//! The reconciles that act on the store: Deployment and ReplicaSet controllers, scheduler,
//! kubelet and EndpointSlice controller. Each reads the [`Cache`](super::cache::Cache), asks the
//! pure module what to do, and writes with resourceVersion preconditions (a conflict requeues).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use super::cache::{controller_uid, Key};
use super::deployment::{sync_deployment, PodCounts};
use super::endpointslice::{desired_endpoints, new_slice, plan_slices, selects, service_selector};
use super::kubelet::{
    events_between, parse_go_duration, status_at, terminated_status, PodRun, READY_AFTER_ANNOTATION,
};
use super::manager::{delay_until, to_value, Involved, KubeletPod, Manager, Work};
use super::replicaset::{created_event, deleted_event, sync_replica_set};
use super::scheduler::{schedule, Placement};
use super::{ControllerEvent, EventType};
use crate::clock::rfc3339;
use crate::errors::ApiError;
use crate::resources::{ResourceRef, DEPLOYMENTS, ENDPOINTSLICES, PODS, REPLICASETS};
use crate::selectors::LabelSelector;
use crate::store::DeleteOptions;

fn is_conflict(err: &ApiError) -> bool {
    err.code == 409
}

fn with_annotations(raw: &Value, annotations: &Option<std::collections::BTreeMap<String, String>>) -> Value {
    let mut object = raw.clone();
    match annotations {
        Some(a) if !a.is_empty() => object["metadata"]["annotations"] = json!(a),
        _ => {
            if let Some(meta) = object["metadata"].as_object_mut() {
                meta.remove("annotations");
            }
        }
    }
    object
}

/// The stored ReplicaSet `raw` with the annotations, replicas and minReadySeconds the
/// Deployment controller decided for it (`rs`).
fn replica_set_update(raw: &Value, rs: &ReplicaSet) -> Value {
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

impl Manager {
    // ---- ControllerRefManager: adopt matching orphans, release what no longer matches ----

    /// Claim objects for an owner as kube-controller-manager does: orphans (no controller) whose
    /// labels match `selector` are adopted (unless the owner is being deleted), owned objects
    /// whose labels no longer match are released. Returns whether anything changed.
    fn claim(
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
        let raw_of = |cache: &super::cache::Cache, key: &Key| -> Option<Arc<Value>> {
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

    // ---- Deployment controller ----

    pub(super) fn sync_deployment(&mut self, key: &Key) {
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
        let owner_ref = to_value(&super::deployment::controller_ref("apps/v1", "Deployment", &d.metadata));
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
    fn owned_replica_sets(&self, uid: &str) -> (Vec<ReplicaSet>, HashMap<String, Arc<Value>>, PodCounts) {
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

    // ---- ReplicaSet controller ----

    pub(super) fn sync_replica_set(&mut self, key: &Key) {
        let Some((rs, raw)) = self.cache.replica_sets.get(key).cloned() else { return };
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let owned: Vec<Key> =
            self.cache.pods_by_owner.get(&uid).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        let orphans: Vec<Key> =
            self.cache.orphan_pods.get(&key.0).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        let owner_ref = to_value(&super::deployment::controller_ref("apps/v1", "ReplicaSet", &rs.metadata));
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

    // ---- scheduler ----

    /// Place one pod. Returns whether it was bound.
    pub(super) fn schedule(&mut self, key: &Key) -> bool {
        let Some(cached) = self.cache.pods.get(key).cloned() else {
            self.forget_unschedulable(key);
            return false;
        };
        let pod = &cached.pod;
        let spec = pod.spec.clone().unwrap_or_default();
        let bound = spec.node_name.as_deref().is_some_and(|n| !n.is_empty());
        if bound || pod.metadata.deletion_timestamp.is_some() {
            self.forget_unschedulable(key);
            return false;
        }
        if spec.scheduler_name.as_deref().is_some_and(|s| s != "default-scheduler") {
            return false;
        }
        let nodes: Vec<_> = self.cache.nodes.values().cloned().collect();
        let owner_counts = cached
            .owner_uid
            .as_ref()
            .and_then(|o| self.cache.owner_pods_per_node.get(o).cloned())
            .unwrap_or_default();
        let involved = Involved::of("v1", "Pod", &pod.metadata);
        let uid = pod.metadata.uid.clone();
        match schedule(&spec, &nodes, &owner_counts) {
            Placement::Node(node) => {
                // The binding sets nodeName; the kubelet's first status, written next in this
                // same loop, carries PodScheduled=True from this moment.
                let bound = self.store.modify(&PODS, &key.0, &key.1, |v| {
                    if v["metadata"]["uid"].as_str() == uid.as_deref()
                        && v["spec"]["nodeName"].as_str().is_none_or(str::is_empty)
                    {
                        v["spec"]["nodeName"] = json!(node);
                    }
                });
                if !bound.as_ref().is_ok_and(|v| v["spec"]["nodeName"].as_str() == Some(node.as_str())) {
                    return false;
                }
                self.forget_unschedulable(key);
                let message = format!("Successfully assigned {}/{} to {node}", key.0, key.1);
                let event = ControllerEvent { type_: EventType::Normal, reason: "Scheduled".into(), message };
                self.record(&involved, "default-scheduler", None, &event);
                true
            }
            Placement::Unschedulable(message) => {
                self.cache.unschedulable.insert(key.clone());
                self.unschedulable_shapes.insert(key.clone(), pod_shape(&spec));
                let now = rfc3339(Timestamp::now());
                let _ = self.store.modify_status(&PODS, &key.0, &key.1, |v| {
                    if v["status"]["phase"].is_null() {
                        v["status"]["phase"] = json!("Pending");
                    }
                    set_pod_condition(
                        v,
                        json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": now,
                               "reason": "Unschedulable", "message": message}),
                    );
                });
                let event =
                    ControllerEvent { type_: EventType::Warning, reason: "FailedScheduling".into(), message };
                self.record(&involved, "default-scheduler", None, &event);
                false
            }
        }
    }

    fn forget_unschedulable(&mut self, key: &Key) {
        self.cache.unschedulable.remove(key);
        self.unschedulable_shapes.remove(key);
    }

    /// Capacity freed or nodes changed: try the pods that did not fit, in order. A pod shaped
    /// like one that just failed again (same requests, selector, affinity, tolerations) is not
    /// tried in this pass; after one binds, the pass goes on once the cache has the new usage.
    pub(super) fn retry_unschedulable_pods(&mut self) {
        let pending: Vec<Key> = self.cache.unschedulable.iter().cloned().collect();
        let mut failed_shapes = std::collections::HashSet::new();
        for key in pending {
            let shape = self.unschedulable_shapes.get(&key).cloned();
            if shape.as_ref().is_some_and(|s| failed_shapes.contains(s)) {
                continue;
            }
            if self.schedule(&key) {
                self.enqueue(Work::RetryUnschedulable);
                return;
            }
            if let Some(shape) = shape {
                failed_shapes.insert(shape);
            }
        }
    }

    // ---- kubelet ----

    fn release_pod(&mut self, key: &Key) {
        if let Some(state) = self.kubelet.remove(key) {
            if let Some(pool) = self.ip_pools.get_mut(&state.node) {
                pool.free.push(state.ip_index);
            }
        }
    }

    fn admit(&mut self, key: &Key, pod: &Pod, node: &str) -> KubeletPod {
        let node_object = self.cache.node_objects.get(node).cloned();
        let prefix = node_object
            .as_ref()
            .and_then(|n| n.spec.as_ref()?.pod_cidr.clone())
            .and_then(|cidr| cidr.rsplit_once('.').map(|(net, _)| net.to_string()))
            .unwrap_or_else(|| "10.244.0".to_string());
        let host_ip = node_object
            .as_ref()
            .and_then(|n| {
                n.status
                    .as_ref()?
                    .addresses
                    .as_ref()?
                    .iter()
                    .find(|a| a.type_ == "InternalIP")
                    .map(|a| a.address.clone())
            })
            .unwrap_or_else(|| "172.18.0.2".to_string());
        let pool = self.ip_pools.entry(node.to_string()).or_default();
        let ip_index = pool.free.pop().unwrap_or_else(|| {
            pool.next += 1;
            1 + pool.next
        });
        let ready_after = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(READY_AFTER_ANNOTATION))
            .and_then(|d| parse_go_duration(d).ok())
            .unwrap_or(self.timing.ready_after);
        let now = Timestamp::now();
        let scheduled = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled" && c.status == "True"))
            .and_then(|c| c.last_transition_time.as_ref())
            .map_or(now, |t| t.0);
        let state = KubeletPod {
            run: PodRun {
                admitted: now,
                scheduled,
                pod_ip: format!("{prefix}.{ip_index}"),
                host_ip,
                ready_after,
            },
            node: node.to_string(),
            ip_index,
            events_until: None,
            terminating_since: None,
        };
        self.kubelet.insert(key.clone(), state.clone());
        state
    }

    pub(super) fn sync_kubelet(&mut self, key: &Key) {
        let Some(cached) = self.cache.pods.get(key).cloned() else {
            self.release_pod(key);
            return;
        };
        let pod = cached.pod.clone();
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()) else {
            return;
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let now = Timestamp::now();
        let mut involved = Involved::of("v1", "Pod", &pod.metadata);
        if pod.metadata.deletion_timestamp.is_some() {
            self.terminate(key, &pod, &node, &uid, &mut involved, now);
            return;
        }
        let state = match self.kubelet.get(key) {
            Some(state) if state.node == node => state.clone(),
            _ => {
                self.release_pod(key);
                self.admit(key, &pod, &node)
            }
        };
        let view = status_at(&pod, &state.run, &self.timing, now);
        let status = to_value(&view.status);
        if cached.raw["status"] != status {
            let written = self.store.modify_status(&PODS, &key.0, &key.1, |v| {
                if v["metadata"]["uid"].as_str() == Some(uid.as_str())
                    && v["metadata"]["deletionTimestamp"].is_null()
                {
                    v["status"] = status.clone();
                }
            });
            if written.is_err() {
                return;
            }
        }
        let events = events_between(&pod, &state.run, &self.timing, state.events_until, now);
        if let Some(state) = self.kubelet.get_mut(key) {
            state.events_until = Some(now);
        }
        self.record_container_events(&mut involved, &pod, &node, events);
        if let Some(next) = view.next_change {
            self.enqueue_after(Work::Kubelet(key.clone()), delay_until(next) + Duration::from_millis(1));
        }
    }

    fn record_container_events(
        &mut self,
        involved: &mut Involved,
        pod: &Pod,
        node: &str,
        events: Vec<ControllerEvent>,
    ) {
        let container =
            pod.spec.as_ref().and_then(|s| s.containers.first()).map(|c| c.name.clone()).unwrap_or_default();
        for event in events {
            let name = pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .find(|c| {
                    event.message.contains(&format!("container {}", c.name))
                        || event.message.contains(&format!("container={}", c.name))
                })
                .map(|c| c.name.clone())
                .unwrap_or_else(|| container.clone());
            involved.field_path = Some(format!("spec.containers{{{name}}}"));
            self.record(involved, "kubelet", Some(node), &event);
        }
    }

    fn terminate(
        &mut self,
        key: &Key,
        pod: &Pod,
        node: &str,
        uid: &str,
        involved: &mut Involved,
        now: Timestamp,
    ) {
        let grace =
            Duration::from_secs(pod.metadata.deletion_grace_period_seconds.unwrap_or(30).max(0) as u64)
                .min(self.timing.termination);
        let since = self.kubelet.get(key).and_then(|s| s.terminating_since);
        match since {
            None => {
                if let Some(state) = self.kubelet.get_mut(key) {
                    state.terminating_since = Some(now);
                } else {
                    // Deleted before the kubelet admitted it: nothing runs; confirm at once.
                    self.confirm_deletion(key, uid);
                    return;
                }
                let running: Vec<String> = pod
                    .status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
                    .filter(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
                    .map(|c| c.name.clone())
                    .collect();
                for name in running {
                    involved.field_path = Some(format!("spec.containers{{{name}}}"));
                    let event = ControllerEvent {
                        type_: EventType::Normal,
                        reason: "Killing".into(),
                        message: format!("Stopping container {name}"),
                    };
                    self.record(involved, "kubelet", Some(node), &event);
                }
                self.enqueue_after(Work::Kubelet(key.clone()), grace);
            }
            Some(since) => {
                let done = since + jiff::SignedDuration::try_from(grace).unwrap_or_default();
                if now < done {
                    self.enqueue_after(
                        Work::Kubelet(key.clone()),
                        delay_until(done) + Duration::from_millis(1),
                    );
                    return;
                }
                let status = to_value(&terminated_status(pod, now));
                let _ = self.store.modify_status(&PODS, &key.0, &key.1, |v| {
                    if v["metadata"]["uid"].as_str() == Some(uid) {
                        v["status"] = status.clone();
                    }
                });
                self.confirm_deletion(key, uid);
            }
        }
    }

    fn confirm_deletion(&mut self, key: &Key, uid: &str) {
        let options = DeleteOptions {
            grace_period_seconds: Some(0),
            precondition_uid: Some(uid.to_string()),
            ..Default::default()
        };
        let _ = self.store.delete(&PODS, &key.0, &key.1, &options);
        self.release_pod(key);
    }

    // ---- EndpointSlice controller ----

    pub(super) fn sync_endpoints(&mut self, key: &Key) {
        let existing: Vec<Key> =
            self.cache.slices_by_service.get(key).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        let Some(service) = self.cache.services.get(key).cloned() else { return };
        let Some(selector) = service_selector(&service).cloned() else {
            for slice in existing {
                let _ = self.store.delete(&ENDPOINTSLICES, &slice.0, &slice.1, &DeleteOptions::default());
            }
            return;
        };
        let pods: Vec<Arc<Pod>> = self
            .cache
            .pods_by_namespace
            .get(&key.0)
            .into_iter()
            .flatten()
            .filter_map(|k| self.cache.pods.get(k))
            .filter(|p| selects(&selector, &p.pod))
            .map(|p| p.pod.clone())
            .collect();
        let refs: Vec<&Pod> = pods.iter().map(Arc::as_ref).collect();
        let (endpoints, ports) = desired_endpoints(&service, &refs);
        let slices: Vec<(Key, Arc<k8s_openapi::api::discovery::v1::EndpointSlice>)> = existing
            .iter()
            .filter_map(|k| self.cache.slices.get(k).map(|s| (k.clone(), s.clone())))
            .collect();
        let current: Vec<(Key, &k8s_openapi::api::discovery::v1::EndpointSlice)> =
            slices.iter().map(|(k, s)| (k.clone(), s.as_ref())).collect();
        let plan = plan_slices(&current, endpoints, &ports);
        let ports_value = Some(to_value(&ports)).filter(|_| !ports.is_empty());
        for (slice_key, endpoints) in plan.update {
            let endpoints = to_value(&endpoints);
            let _ = self.store.modify(&ENDPOINTSLICES, &slice_key.0, &slice_key.1, |v| {
                v["endpoints"] = endpoints.clone();
                match &ports_value {
                    Some(p) => v["ports"] = p.clone(),
                    None => {
                        if let Some(o) = v.as_object_mut() {
                            o.remove("ports");
                        }
                    }
                }
            });
        }
        for endpoints in plan.create {
            if let Err(err) =
                self.store.create(&ENDPOINTSLICES, to_value(&new_slice(&service, endpoints, ports.clone())))
            {
                tracing::debug!("service {}/{}: cannot create endpoint slice: {}", key.0, key.1, err.message);
            }
        }
        for slice_key in plan.delete {
            let _ = self.store.delete(&ENDPOINTSLICES, &slice_key.0, &slice_key.1, &DeleteOptions::default());
        }
    }
}

/// What decides where a pod fits: its requests, node selector, affinity and tolerations.
fn pod_shape(spec: &k8s_openapi::api::core::v1::PodSpec) -> String {
    let requests = super::scheduler::pod_requests(spec);
    format!(
        "{requests:?}|{}|{}|{}",
        to_value(&spec.node_selector),
        to_value(&spec.affinity),
        to_value(&spec.tolerations)
    )
}

/// Set a pod condition, keeping lastTransitionTime when the status did not change.
fn set_pod_condition(pod: &mut Value, condition: Value) {
    let conditions = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    let mut replaced = false;
    for existing in conditions {
        if existing["type"] == condition["type"] {
            let mut new = condition.clone();
            if existing["status"] == condition["status"] {
                new["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            out.push(new);
            replaced = true;
        } else {
            out.push(existing);
        }
    }
    if !replaced {
        out.push(condition);
    }
    pod["status"]["conditions"] = Value::Array(out);
}
