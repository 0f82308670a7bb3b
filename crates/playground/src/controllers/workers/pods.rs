//! The scheduler's and the kubelet's reconciles: bind a pod to a node, then run it (admission,
//! container states and events, readiness, graceful termination).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use crate::clock::rfc3339;
use crate::controllers::cache::Key;
use crate::controllers::kubelet::{
    events_between, parse_go_duration, status_at, terminated_status, ContainerEvent, PodRun,
    READY_AFTER_ANNOTATION,
};
use crate::controllers::manager::{delay_until, to_value, Involved, KubeletPod, Manager, Work};
use crate::controllers::scheduler::{schedule, Placement};
use crate::controllers::{ControllerEvent, EventType};
use crate::resources::PODS;
use crate::store::DeleteOptions;

impl Manager {
    /// Place one pod. Returns whether it was bound.
    pub(in crate::controllers) fn schedule(&mut self, key: &Key) -> bool {
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

    pub(super) fn forget_unschedulable(&mut self, key: &Key) {
        self.cache.unschedulable.remove(key);
        self.unschedulable_shapes.remove(key);
    }

    /// Capacity freed or nodes changed: try the pods that did not fit, in order. A pod shaped
    /// like one that just failed again (same requests, selector, affinity, tolerations) is not
    /// tried in this pass; after one binds, the pass goes on once the cache has the new usage.
    pub(in crate::controllers) fn retry_unschedulable_pods(&mut self) {
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

    pub(super) fn release_pod(&mut self, key: &Key) {
        if let Some(state) = self.kubelet.remove(key) {
            if let Some(pool) = self.ip_pools.get_mut(&state.node) {
                pool.free.push(state.ip_index);
            }
        }
    }

    pub(super) fn admit(&mut self, key: &Key, pod: &Pod, node: &str) -> KubeletPod {
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

    pub(in crate::controllers) fn sync_kubelet(&mut self, key: &Key) {
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
        self.record_container_events(&mut involved, &node, events);
        if let Some(next) = view.next_change {
            self.enqueue_after(Work::Kubelet(key.clone()), delay_until(next) + Duration::from_millis(1));
        }
    }

    /// Each event on the container it is about (`involvedObject.fieldPath`).
    pub(super) fn record_container_events(
        &mut self,
        involved: &mut Involved,
        node: &str,
        events: Vec<ContainerEvent>,
    ) {
        for ContainerEvent { container, event } in events {
            involved.field_path = Some(format!("spec.containers{{{container}}}"));
            self.record(involved, "kubelet", Some(node), &event);
        }
    }

    pub(super) fn terminate(
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

    pub(super) fn confirm_deletion(&mut self, key: &Key, uid: &str) {
        let options = DeleteOptions {
            grace_period_seconds: Some(0),
            precondition_uid: Some(uid.to_string()),
            ..Default::default()
        };
        let _ = self.store.delete(&PODS, &key.0, &key.1, &options);
        self.release_pod(key);
    }
}

/// What decides where a pod fits: its requests, node selector, affinity and tolerations.
pub(super) fn pod_shape(spec: &k8s_openapi::api::core::v1::PodSpec) -> String {
    let requests = crate::controllers::scheduler::pod_requests(spec);
    format!(
        "{requests:?}|{}|{}|{}",
        to_value(&spec.node_selector),
        to_value(&spec.affinity),
        to_value(&spec.tolerations)
    )
}

/// Set a pod condition, keeping lastTransitionTime when the status did not change.
pub(super) fn set_pod_condition(pod: &mut Value, condition: Value) {
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
