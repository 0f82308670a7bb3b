//! Which reconciles a store event queues: the object's own controller, the owners that may adopt
//! an orphan, the Deployment or Knative Service above it, the EndpointSlices of a pod's
//! Services (only when what they show changed), and the garbage collector for dependents.

use serde_json::Value;

use crate::controllers::cache::{controller_uid, Key};
use crate::resources::ResourceRef;

use super::{Manager, Work};

impl Manager {
    pub(super) fn queue_work_for(
        &mut self,
        resource: &ResourceRef,
        key: &Key,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        match (resource.group.as_ref(), resource.resource.as_ref()) {
            ("", "pods") => self.queue_for_pod(key, old, new),
            ("apps", "replicasets") => {
                // At once, as kube-controller-manager's informers queue it: a ReplicaSet scaled
                // down deletes its pods, and its status follows, with no wait in between.
                if new.is_some() {
                    self.enqueue(Work::ReplicaSet(key.clone()));
                }
                if let Some(orphan) = new.filter(|n| controller_uid(n).is_none()) {
                    let owners = self.matching_owners(&key.0, orphan, true);
                    for owner in owners {
                        self.enqueue(Work::Deployment(owner));
                    }
                }
                if let Some(owner) = new.or(old).and_then(controller_uid) {
                    if let Some(d) = self.cache.deployment_by_uid.get(&owner).cloned() {
                        self.enqueue(Work::Deployment(d));
                    }
                }
            }
            ("apps", "deployments") => {
                if new.is_some() {
                    self.enqueue(Work::Deployment(key.clone()));
                }
                if let Some(service) = new.or(old).and_then(|o| {
                    o["metadata"]["labels"][crate::controllers::knative::SERVICE_LABEL].as_str()
                }) {
                    self.enqueue_coalesced(Work::Knative((key.0.clone(), service.to_string())));
                }
            }
            ("", "services") => self.enqueue(Work::Endpoints(key.clone())),
            ("discovery.k8s.io", "endpointslices") => {
                if let Some(service) = new.or(old).and_then(|o| {
                    o["metadata"]["labels"][crate::controllers::endpointslice::SERVICE_NAME_LABEL].as_str()
                }) {
                    self.enqueue_coalesced(Work::Endpoints((key.0.clone(), service.to_string())));
                }
            }
            ("", "nodes") => self.retry_unschedulable(),
            ("serving.knative.dev", "services") if new.is_some() => self.enqueue(Work::Knative(key.clone())),
            ("serving.knative.dev", "services") => {}
            ("serving.knative.dev", _) => {
                if let Some(service) = new.or(old).and_then(|o| {
                    o["metadata"]["labels"][crate::controllers::knative::SERVICE_LABEL].as_str()
                }) {
                    self.enqueue_coalesced(Work::Knative((key.0.clone(), service.to_string())));
                }
            }
            _ => {}
        }
    }

    /// Deployments (or ReplicaSets) in a namespace whose selector selects an orphan.
    pub(super) fn matching_owners(&self, namespace: &str, orphan: &Value, deployments: bool) -> Vec<Key> {
        let keys = if deployments {
            self.cache.deployments_by_namespace.get(namespace)
        } else {
            self.cache.replica_sets_by_namespace.get(namespace)
        };
        keys.into_iter()
            .flatten()
            .filter(|k| {
                let raw = if deployments {
                    self.cache.deployments.get(*k).map(|(_, r)| r)
                } else {
                    self.cache.replica_sets.get(*k).map(|(_, r)| r)
                };
                raw.and_then(|r| crate::selectors::LabelSelector::from_object(&r["spec"]["selector"]).ok())
                    .is_some_and(|s| !s.is_empty() && s.matches(&orphan["metadata"]["labels"]))
            })
            .cloned()
            .collect()
    }

    pub(super) fn queue_for_pod(&mut self, key: &Key, old: Option<&Value>, new: Option<&Value>) {
        if let Some(orphan) =
            new.filter(|n| controller_uid(n).is_none() && n["metadata"]["deletionTimestamp"].is_null())
        {
            let owners = self.matching_owners(&key.0, orphan, false);
            for owner in owners {
                self.enqueue(Work::ReplicaSet(owner));
            }
        }
        // The owner's sync is queued at once (a pod turning Ready is in its ReplicaSet's status,
        // then its Deployment's, as soon as the real controllers would write them). A burst of
        // pod changes still costs one sync: the queue holds each work once, and every event
        // already published is applied before the next reconcile.
        if let Some(owner) = new.or(old).and_then(controller_uid) {
            if let Some(rs) = self.cache.replica_set_by_uid.get(&owner).cloned() {
                self.enqueue(Work::ReplicaSet(rs));
            }
        }
        let node_of = |v: Option<&Value>| {
            v.and_then(|p| p["spec"]["nodeName"].as_str()).filter(|n| !n.is_empty()).map(str::to_string)
        };
        let deleting = |v: Option<&Value>| v.is_some_and(|p| !p["metadata"]["deletionTimestamp"].is_null());
        match new {
            Some(_) if old.is_none() && node_of(new).is_none() => self.enqueue(Work::Schedule(key.clone())),
            Some(_)
                if node_of(new).is_some() && (node_of(old).is_none() || deleting(new) != deleting(old)) =>
            {
                self.enqueue(Work::Kubelet(key.clone()))
            }
            None if self.kubelet.contains_key(key) => self.enqueue(Work::Kubelet(key.clone())),
            _ => {}
        }
        // Capacity frees when a pod stops occupying a node.
        let occupying = |v: Option<&Value>| {
            node_of(v).is_some()
                && !matches!(v.and_then(|p| p["status"]["phase"].as_str()), Some("Succeeded" | "Failed"))
        };
        if occupying(old) && !occupying(new) {
            self.retry_unschedulable();
        }
        if endpoint_signature(old) != endpoint_signature(new) {
            let labels = |v: Option<&Value>| {
                v.and_then(|p| p["metadata"]["labels"].as_object().cloned()).unwrap_or_default()
            };
            let (old_labels, new_labels) = (labels(old), labels(new));
            let services: Vec<Key> = self
                .cache
                .services_by_namespace
                .get(&key.0)
                .into_iter()
                .flatten()
                .filter(|s| {
                    self.cache
                        .services
                        .get(*s)
                        .and_then(|svc| crate::controllers::endpointslice::service_selector(svc))
                        .is_some_and(|selector| {
                            [&old_labels, &new_labels].iter().any(|l| {
                                !l.is_empty()
                                    && selector
                                        .iter()
                                        .all(|(k, v)| l.get(k).and_then(Value::as_str) == Some(v.as_str()))
                            })
                        })
                })
                .cloned()
                .collect();
            for service in services {
                self.enqueue_coalesced(Work::Endpoints(service));
            }
        }
    }

    pub(super) fn queue_garbage_collection(
        &mut self,
        old: Option<&Value>,
        new: Option<&Value>,
        old_owners: &[(String, bool)],
    ) {
        match new {
            None => {
                let Some(old) = old else { return };
                let uid = old["metadata"]["uid"].as_str().unwrap_or("").to_string();
                let dependents: Vec<String> =
                    self.cache.dependents.get(&uid).map(|d| d.iter().cloned().collect()).unwrap_or_default();
                for dependent in dependents {
                    self.enqueue(Work::Gc(dependent));
                }
                // An owner waiting for its dependents may now be free to go.
                for (owner, _) in old_owners {
                    if self.cache.objects.get(owner).is_some_and(|o| o.deleting) {
                        self.enqueue(Work::Gc(owner.clone()));
                    }
                }
            }
            Some(object) => {
                let uid = object["metadata"]["uid"].as_str().unwrap_or("").to_string();
                let Some(info) = self.cache.objects.get(&uid).cloned() else { return };
                let finalizing = info.deleting
                    && info.finalizers.iter().any(|f| f == "orphan" || f == "foregroundDeletion");
                let owner_gone_or_going =
                    info.owners.iter().any(|(owner, _)| match self.cache.objects.get(owner) {
                        None => true,
                        Some(o) => o.deleting && o.finalizers.iter().any(|f| f == "foregroundDeletion"),
                    });
                if finalizing || owner_gone_or_going {
                    self.enqueue(Work::Gc(uid.clone()));
                }
                // A dependent that started or stopped existing/deleting may unblock its owner.
                if info.deleting {
                    let owners: Vec<String> = info.owners.iter().map(|(o, _)| o.clone()).collect();
                    for owner in owners {
                        if self.cache.objects.get(&owner).is_some_and(|o| o.deleting) {
                            self.enqueue(Work::Gc(owner));
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn owners_of(object: &Value) -> Vec<(String, bool)> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter_map(|r| {
                    Some((r["uid"].as_str()?.to_string(), r["blockOwnerDeletion"].as_bool().unwrap_or(false)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What an EndpointSlice cares about in a pod.
pub(super) fn endpoint_signature(pod: Option<&Value>) -> Option<(Value, Value, Value, Value, Value, Value)> {
    let pod = pod?;
    let ready = pod["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"].clone())
        .unwrap_or(Value::Null);
    Some((
        pod["metadata"]["labels"].clone(),
        pod["status"]["podIP"].clone(),
        ready,
        pod["metadata"]["deletionTimestamp"].clone(),
        pod["status"]["phase"].clone(),
        pod["spec"]["nodeName"].clone(),
    ))
}
