//! What the rollout code keeps of a pod: [`PodSummary`], the fields that progress, status and
//! the waits read, and nothing else. A rollout of thousands of pods holds one summary per pod
//! for as long as it runs: a k8s-openapi `Pod` is 2,176 bytes inline (most of it its spec, even
//! empty) before anything it points to, a summary 480, and about 1–1.5 KB with what it points to
//! (one container).

use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A pod as the rollout code reads it: its metadata without annotations, managedFields,
/// finalizers or resourceVersion (names, labels, owners, creation and deletion times), the node
/// it is bound to, and its status cut to the phase, the `Ready` and `PodScheduled` conditions,
/// and the state of each container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodSummary {
    pub metadata: ObjectMeta,
    /// `spec.nodeName`: set once the scheduler has bound the pod.
    pub node_name: Option<String>,
    pub status: Option<PodStatusSummary>,
}

/// The part of a pod's status the rollout code reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodStatusSummary {
    pub phase: Option<String>,
    /// Only `Ready` and `PodScheduled`: the others are never read.
    pub conditions: Option<Vec<PodCondition>>,
    pub container_statuses: Option<Vec<ContainerSummary>>,
    pub init_container_statuses: Option<Vec<ContainerSummary>>,
}

/// The part of a container's status the rollout code reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerSummary {
    pub name: String,
    pub ready: bool,
    pub restart_count: i32,
    /// Empty until the image has been pulled.
    pub image_id: String,
    pub state: Option<ContainerState>,
    pub last_state: Option<ContainerState>,
}

/// The conditions a summary keeps.
const KEPT_CONDITIONS: [&str; 2] = ["Ready", "PodScheduled"];

impl From<Pod> for PodSummary {
    fn from(pod: Pod) -> Self {
        let Pod { mut metadata, spec, status } = pod;
        metadata.annotations = None;
        metadata.managed_fields = None;
        metadata.finalizers = None;
        metadata.generate_name = None;
        metadata.resource_version = None;
        metadata.self_link = None;
        metadata.owner_references.iter_mut().for_each(Vec::shrink_to_fit);
        Self {
            metadata,
            node_name: spec.and_then(|s| s.node_name),
            status: status.map(PodStatusSummary::from),
        }
    }
}

impl From<PodStatus> for PodStatusSummary {
    fn from(status: PodStatus) -> Self {
        // Shrunk, so that no summary carries room it will never fill.
        let containers = |statuses: Option<Vec<ContainerStatus>>| {
            statuses.map(|s| {
                let mut kept: Vec<ContainerSummary> = s.into_iter().map(ContainerSummary::from).collect();
                kept.shrink_to_fit();
                kept
            })
        };
        Self {
            phase: status.phase,
            conditions: status.conditions.map(|c| {
                let mut kept: Vec<PodCondition> =
                    c.into_iter().filter(|c| KEPT_CONDITIONS.contains(&c.type_.as_str())).collect();
                kept.shrink_to_fit();
                kept
            }),
            container_statuses: containers(status.container_statuses),
            init_container_statuses: containers(status.init_container_statuses),
        }
    }
}

impl From<ContainerStatus> for ContainerSummary {
    fn from(status: ContainerStatus) -> Self {
        Self {
            name: status.name,
            ready: status.ready,
            restart_count: status.restart_count,
            image_id: status.image_id,
            state: status.state,
            last_state: status.last_state,
        }
    }
}

impl PodSummary {
    /// The pod's `Ready` condition, if it has one.
    pub fn ready_condition(&self) -> Option<&PodCondition> {
        self.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")
    }

    /// Whether the pod's `Ready` condition is True.
    pub fn ready(&self) -> bool {
        self.ready_condition().is_some_and(|c| c.status == "True")
    }

    /// The pod's name (empty if it has none).
    pub fn name(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(key).map(String::as_str)
    }

    /// Container restarts, summed over the main containers.
    pub fn restarts(&self) -> i32 {
        self.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |c| c.iter().map(|c| c.restart_count).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        // Read from bytes, as a list or a watch reads it (no length known ahead).
        let value = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "fraud-1", "namespace": "ml", "uid": "u1", "resourceVersion": "7",
                         "generateName": "fraud-", "labels": {"app": "fraud"},
                         "annotations": {"big": "x".repeat(1000)},
                         "managedFields": [{"manager": "kubelet", "operation": "Update"}],
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "fraud-h1", "uid": "rs1"}]},
            "spec": {"nodeName": "gpu-1", "containers": [{"name": "model", "image": "fraud:v2",
                     "ports": [{"containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "qosClass": "Guaranteed",
                       "conditions": [
                           {"type": "PodReadyToStartContainers", "status": "True"},
                           {"type": "Initialized", "status": "True"},
                           {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:10Z"},
                           {"type": "ContainersReady", "status": "True"},
                           {"type": "PodScheduled", "status": "True"}],
                       "containerStatuses": [{"name": "model", "image": "fraud:v2", "imageID": "sha256:1",
                           "containerID": "containerd://1", "ready": true, "restartCount": 2,
                           "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}},
                           "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:00:04Z"}}}]}
        });
        serde_json::from_slice(&serde_json::to_vec(&value).unwrap()).unwrap()
    }

    #[test]
    fn a_summary_keeps_what_the_rollout_reads_and_drops_the_rest() {
        let summary = PodSummary::from(pod());
        let meta = &summary.metadata;
        assert_eq!((meta.name.as_deref(), meta.uid.as_deref()), (Some("fraud-1"), Some("u1")));
        assert_eq!(summary.label("app"), Some("fraud"));
        assert_eq!(meta.owner_references.as_ref().unwrap()[0].uid, "rs1");
        assert!(meta.annotations.is_none() && meta.managed_fields.is_none());
        assert!(meta.resource_version.is_none() && meta.generate_name.is_none());
        assert_eq!(summary.node_name.as_deref(), Some("gpu-1"));
        assert!(summary.ready());
        assert_eq!(summary.restarts(), 2);
        let status = summary.status.as_ref().unwrap();
        let kept: Vec<&str> = status.conditions.iter().flatten().map(|c| c.type_.as_str()).collect();
        assert_eq!(kept, ["Ready", "PodScheduled"]);
        let container = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!((container.name.as_str(), container.image_id.as_str()), ("model", "sha256:1"));
        let finished = container.last_state.as_ref().and_then(|s| s.terminated.as_ref()).unwrap();
        assert!(finished.finished_at.is_some());
    }

    #[test]
    fn a_summary_keeps_no_spare_room_and_is_much_smaller_than_a_pod() {
        let summary = PodSummary::from(pod());
        let status = summary.status.as_ref().unwrap();
        let containers = status.container_statuses.as_ref().unwrap();
        let conditions = status.conditions.as_ref().unwrap();
        assert_eq!((containers.len(), containers.capacity()), (1, 1));
        assert_eq!((conditions.len(), conditions.capacity()), (2, 2));
        let owners = summary.metadata.owner_references.as_ref().unwrap();
        assert_eq!((owners.len(), owners.capacity()), (1, 1));
        // What a rollout's vector of pods holds per pod, inline.
        assert!(
            std::mem::size_of::<PodSummary>() * 4 < std::mem::size_of::<Pod>(),
            "{} vs {}",
            std::mem::size_of::<PodSummary>(),
            std::mem::size_of::<Pod>()
        );
    }
}
