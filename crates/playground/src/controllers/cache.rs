//! The controllers' view of the store, kept current from its watch events, with the indexes
//! they need (pods by owner, namespace and node; ReplicaSets by owner; the ownership graph), so
//! that no reconcile scans every object.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::scheduler::{node_state, occupies_node, pod_requests, NodeState, Resources};
use crate::resources::ResourceRef;

/// Namespace and name.
pub type Key = (String, String);

/// What the garbage collector knows about any object.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub resource: ResourceRef,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Owner uids, and whether each reference blocks the owner's foreground deletion.
    pub owners: Vec<(String, bool)>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

/// A pod, typed, with what it counts for on its node.
#[derive(Debug, Clone)]
pub struct CachedPod {
    pub pod: Arc<Pod>,
    pub raw: Arc<Value>,
    pub owner_uid: Option<String>,
    /// Node and requests, while the pod occupies a node.
    pub accounted: Option<(String, Resources)>,
}

/// Everything the controllers read.
#[derive(Debug, Default)]
pub struct Cache {
    pub pods: HashMap<Key, CachedPod>,
    pub pods_by_owner: HashMap<String, BTreeSet<Key>>,
    pub pods_by_namespace: HashMap<String, BTreeSet<Key>>,
    /// Per owner uid, per node: how many of its pods occupy the node.
    pub owner_pods_per_node: HashMap<String, HashMap<String, usize>>,
    pub replica_sets: HashMap<Key, (Arc<ReplicaSet>, Arc<Value>)>,
    pub replica_sets_by_owner: HashMap<String, BTreeSet<Key>>,
    pub replica_set_by_uid: HashMap<String, Key>,
    pub deployments: HashMap<Key, (Arc<Deployment>, Arc<Value>)>,
    pub deployments_by_namespace: HashMap<String, BTreeSet<Key>>,
    pub replica_sets_by_namespace: HashMap<String, BTreeSet<Key>>,
    /// ReplicaSets and pods with no controller, by namespace (candidates for adoption).
    pub orphan_replica_sets: HashMap<String, BTreeSet<Key>>,
    pub orphan_pods: HashMap<String, BTreeSet<Key>>,
    pub deployment_by_uid: HashMap<String, Key>,
    pub services: HashMap<Key, Arc<Service>>,
    pub services_by_namespace: HashMap<String, BTreeSet<Key>>,
    pub slices: HashMap<Key, Arc<EndpointSlice>>,
    pub slices_by_service: HashMap<Key, BTreeSet<Key>>,
    pub nodes: BTreeMap<String, NodeState>,
    pub node_objects: BTreeMap<String, Arc<Node>>,
    /// Pods the scheduler could not place; retried when capacity frees.
    pub unschedulable: BTreeSet<Key>,
    /// Knative objects (serving.knative.dev), raw, by plural then key.
    pub knative: HashMap<String, HashMap<Key, Arc<Value>>>,
    /// The ownership graph, for the garbage collector.
    pub objects: HashMap<String, ObjectInfo>,
    pub dependents: HashMap<String, BTreeSet<String>>,
    uid_by_key: HashMap<(String, String, Key), String>,
    /// The resourceVersion last applied per object, so replays after a resync are ignored.
    versions: HashMap<(String, String, Key), u64>,
}

fn typed<T: DeserializeOwned>(value: &Value) -> Option<T> {
    serde_json::from_value(value.clone()).ok()
}

fn meta_str<'a>(value: &'a Value, field: &str) -> &'a str {
    value["metadata"][field].as_str().unwrap_or("")
}

/// The uid of an object's controller (the ownerReference with `controller: true`).
pub fn controller_uid(value: &Value) -> Option<String> {
    value["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"].as_bool() == Some(true))
        .and_then(|r| r["uid"].as_str())
        .map(str::to_string)
}

fn remove_from<K: std::hash::Hash + Eq, V: Ord>(index: &mut HashMap<K, BTreeSet<V>>, key: &K, value: &V) {
    if let Some(set) = index.get_mut(key) {
        set.remove(value);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

/// What changed, for deciding which work to queue.
#[derive(Debug)]
pub struct Change {
    pub resource: ResourceRef,
    pub key: Key,
    pub old: Option<Arc<Value>>,
    pub new: Option<Arc<Value>>,
}

impl Cache {
    /// Apply one object's new state (`None`: deleted). Returns false when it is older than what
    /// the cache has (a replay).
    pub fn apply(
        &mut self,
        resource: &ResourceRef,
        key: &Key,
        resource_version: u64,
        object: Option<Arc<Value>>,
    ) -> bool {
        let version_key = (resource.group.to_string(), resource.resource.to_string(), key.clone());
        if let Some(seen) = self.versions.get(&version_key) {
            if resource_version <= *seen {
                return false;
            }
        }
        match &object {
            Some(_) => {
                self.versions.insert(version_key, resource_version);
            }
            None => {
                self.versions.remove(&version_key);
            }
        }
        self.apply_graph(resource, key, object.as_deref());
        match (resource.group.as_ref(), resource.resource.as_ref()) {
            ("", "pods") => self.apply_pod(key, object),
            ("apps", "replicasets") => self.apply_replica_set(key, object),
            ("apps", "deployments") => self.apply_deployment(key, object),
            ("", "services") => self.apply_service(key, object),
            ("discovery.k8s.io", "endpointslices") => self.apply_slice(key, object),
            ("", "nodes") => self.apply_node(&key.1, object),
            ("serving.knative.dev", plural) => {
                let objects = self.knative.entry(plural.to_string()).or_default();
                match object {
                    Some(v) => objects.insert(key.clone(), v),
                    None => objects.remove(key),
                };
            }
            _ => {}
        }
        true
    }

    fn apply_graph(&mut self, resource: &ResourceRef, key: &Key, object: Option<&Value>) {
        let slot = (resource.group.to_string(), resource.resource.to_string(), key.clone());
        if let Some(old_uid) = self.uid_by_key.remove(&slot) {
            if let Some(previous) = self.objects.remove(&old_uid) {
                for (owner, _) in &previous.owners {
                    remove_from(&mut self.dependents, owner, &previous.uid);
                }
            }
        }
        let Some(object) = object else { return };
        let uid = meta_str(object, "uid").to_string();
        if uid.is_empty() {
            return;
        }
        let owners: Vec<(String, bool)> = object["metadata"]["ownerReferences"]
            .as_array()
            .map(|refs| {
                refs.iter()
                    .filter_map(|r| {
                        Some((
                            r["uid"].as_str()?.to_string(),
                            r["blockOwnerDeletion"].as_bool().unwrap_or(false),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (owner, _) in &owners {
            self.dependents.entry(owner.clone()).or_default().insert(uid.clone());
        }
        let info = ObjectInfo {
            resource: resource.clone(),
            namespace: key.0.clone(),
            name: key.1.clone(),
            uid: uid.clone(),
            owners,
            deleting: !object["metadata"]["deletionTimestamp"].is_null(),
            finalizers: object["metadata"]["finalizers"]
                .as_array()
                .map(|f| f.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        };
        self.uid_by_key.insert(slot, uid.clone());
        self.objects.insert(uid, info);
    }

    fn apply_pod(&mut self, key: &Key, object: Option<Arc<Value>>) {
        if let Some(old) = self.pods.remove(key) {
            match &old.owner_uid {
                Some(owner) => remove_from(&mut self.pods_by_owner, owner, key),
                None => remove_from(&mut self.orphan_pods, &key.0, key),
            }
            remove_from(&mut self.pods_by_namespace, &key.0, key);
            if let Some((node, requests)) = &old.accounted {
                if let Some(state) = self.nodes.get_mut(node) {
                    state.remove_pod(requests);
                }
                if let Some(owner) = &old.owner_uid {
                    if let Some(counts) = self.owner_pods_per_node.get_mut(owner) {
                        if let Some(n) = counts.get_mut(node) {
                            *n = n.saturating_sub(1);
                        }
                    }
                }
            }
        }
        let Some(raw) = object else {
            self.unschedulable.remove(key);
            return;
        };
        let Some(pod) = typed::<Pod>(&raw) else { return };
        let owner_uid = controller_uid(&raw);
        let accounted = occupies_node(&pod)
            .map(|node| (node.to_string(), pod.spec.as_ref().map(pod_requests).unwrap_or_default()));
        if let Some((node, requests)) = &accounted {
            self.nodes
                .entry(node.clone())
                .or_insert_with(|| NodeState { name: node.clone(), ..Default::default() })
                .add_pod(requests);
            if let Some(owner) = &owner_uid {
                *self
                    .owner_pods_per_node
                    .entry(owner.clone())
                    .or_default()
                    .entry(node.clone())
                    .or_insert(0) += 1;
            }
            self.unschedulable.remove(key);
        }
        match &owner_uid {
            Some(owner) => self.pods_by_owner.entry(owner.clone()).or_default().insert(key.clone()),
            None => self.orphan_pods.entry(key.0.clone()).or_default().insert(key.clone()),
        };
        self.pods_by_namespace.entry(key.0.clone()).or_default().insert(key.clone());
        self.pods.insert(key.clone(), CachedPod { pod: Arc::new(pod), raw, owner_uid, accounted });
    }

    fn apply_replica_set(&mut self, key: &Key, object: Option<Arc<Value>>) {
        if let Some((old, _)) = self.replica_sets.remove(key) {
            match old.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true)) {
                Some(owner) => remove_from(&mut self.replica_sets_by_owner, &owner.uid, key),
                None => remove_from(&mut self.orphan_replica_sets, &key.0, key),
            }
            remove_from(&mut self.replica_sets_by_namespace, &key.0, key);
            if let Some(uid) = &old.metadata.uid {
                self.replica_set_by_uid.remove(uid);
            }
        }
        let Some(raw) = object else { return };
        let Some(rs) = typed::<ReplicaSet>(&raw) else { return };
        match controller_uid(&raw) {
            Some(owner) => self.replica_sets_by_owner.entry(owner).or_default().insert(key.clone()),
            None => self.orphan_replica_sets.entry(key.0.clone()).or_default().insert(key.clone()),
        };
        self.replica_sets_by_namespace.entry(key.0.clone()).or_default().insert(key.clone());
        if let Some(uid) = &rs.metadata.uid {
            self.replica_set_by_uid.insert(uid.clone(), key.clone());
        }
        self.replica_sets.insert(key.clone(), (Arc::new(rs), raw));
    }

    fn apply_deployment(&mut self, key: &Key, object: Option<Arc<Value>>) {
        if let Some((old, _)) = self.deployments.remove(key) {
            if let Some(uid) = &old.metadata.uid {
                self.deployment_by_uid.remove(uid);
            }
            remove_from(&mut self.deployments_by_namespace, &key.0, key);
        }
        let Some(raw) = object else { return };
        let Some(d) = typed::<Deployment>(&raw) else { return };
        if let Some(uid) = &d.metadata.uid {
            self.deployment_by_uid.insert(uid.clone(), key.clone());
        }
        self.deployments_by_namespace.entry(key.0.clone()).or_default().insert(key.clone());
        self.deployments.insert(key.clone(), (Arc::new(d), raw));
    }

    fn apply_service(&mut self, key: &Key, object: Option<Arc<Value>>) {
        self.services.remove(key);
        remove_from(&mut self.services_by_namespace, &key.0, key);
        let Some(raw) = object else { return };
        let Some(service) = typed::<Service>(&raw) else { return };
        self.services_by_namespace.entry(key.0.clone()).or_default().insert(key.clone());
        self.services.insert(key.clone(), Arc::new(service));
    }

    fn apply_slice(&mut self, key: &Key, object: Option<Arc<Value>>) {
        if let Some(old) = self.slices.remove(key) {
            if let Some(service) =
                old.metadata.labels.as_ref().and_then(|l| l.get(super::endpointslice::SERVICE_NAME_LABEL))
            {
                remove_from(&mut self.slices_by_service, &(key.0.clone(), service.clone()), key);
            }
        }
        let Some(raw) = object else { return };
        let Some(slice) = typed::<EndpointSlice>(&raw) else { return };
        let labels = slice.metadata.labels.clone().unwrap_or_default();
        let managed = labels.get(super::endpointslice::MANAGED_BY_LABEL).map(String::as_str)
            == Some(super::endpointslice::CONTROLLER_NAME);
        if let (Some(service), true) = (labels.get(super::endpointslice::SERVICE_NAME_LABEL), managed) {
            self.slices_by_service.entry((key.0.clone(), service.clone())).or_default().insert(key.clone());
        }
        self.slices.insert(key.clone(), Arc::new(slice));
    }

    fn apply_node(&mut self, name: &str, object: Option<Arc<Value>>) {
        let Some(raw) = object else {
            self.nodes.remove(name);
            self.node_objects.remove(name);
            return;
        };
        let Some(node) = typed::<Node>(&raw) else { return };
        let mut state = node_state(&node);
        if let Some(old) = self.nodes.get(name) {
            state.requested = old.requested.clone();
            state.pod_count = old.pod_count;
        }
        self.nodes.insert(name.to_string(), state);
        self.node_objects.insert(name.to_string(), Arc::new(node));
    }

    /// Active pods of all ReplicaSets owned by `owner_uid`, per node (for deletion ranking).
    pub fn related_pods_per_node(&self, owner_uid: Option<&str>, rs_key: &Key) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        let rs_keys: Vec<Key> = match owner_uid {
            Some(owner) => {
                self.replica_sets_by_owner.get(owner).map(|s| s.iter().cloned().collect()).unwrap_or_default()
            }
            None => vec![rs_key.clone()],
        };
        for key in rs_keys {
            let Some((rs, _)) = self.replica_sets.get(&key) else { continue };
            let Some(uid) = &rs.metadata.uid else { continue };
            for pod_key in self.pods_by_owner.get(uid).into_iter().flatten() {
                let Some(cached) = self.pods.get(pod_key) else { continue };
                if super::replicaset::is_pod_active(&cached.pod) {
                    if let Some(node) = cached.pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
                        *counts.entry(node).or_insert(0) += 1;
                    }
                }
            }
        }
        counts
    }
}
