//! The Deployment controller's decisions, ported from kube-controller-manager: rolling-update
//! arithmetic, Recreate, paused, proportional scaling, revisions, cleanup, status and conditions.
//!
//! [`sync_deployment`] is pure: it takes a Deployment and the ReplicaSets it owns and returns the
//! writes the real controller would make in one sync, in order, plus when to look again.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{ControllerEvent, EventType};

/// Annotation on ReplicaSets (and copied to the Deployment) with the rollout sequence number.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet held before a rollback made it current again.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas + maxSurge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// Label the controller adds to ReplicaSets, their selectors and their pods.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

const MAX_REV_HISTORY_LENGTH_IN_CHARS: usize = 2000;

/// Deployment annotations that are never copied to ReplicaSets.
const SKIP_COPY_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
];

// Condition reasons, as in k8s.io/kubernetes/pkg/controller/deployment/util.
const NEW_RS_NEW_REPLICAS_REASON: &str = "NewReplicaSetCreated";
const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
const REPLICA_SET_UPDATED_REASON: &str = "ReplicaSetUpdated";
const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
const PAUSED_DEPLOY_REASON: &str = "DeploymentPaused";
const RESUMED_DEPLOY_REASON: &str = "DeploymentResumed";
const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

mod progress;
mod recreate;
mod rolling;
mod sync;
mod util;

use util::*;
pub use util::{
    controller_ref, deployment_replicas, equal_ignore_hash, max_surge, max_unavailable, pod_template_hash,
    resolve_fenceposts, revision, scaled_value,
};

/// What one sync of a Deployment decided, in the order the writes must happen.
#[derive(Debug, Default)]
pub struct DeploymentSync {
    /// New ReplicaSets to create (at most one).
    pub create_replica_sets: Vec<ReplicaSet>,
    /// ReplicaSets to update (replicas, annotations, minReadySeconds), by name, final state.
    pub update_replica_sets: Vec<ReplicaSet>,
    /// ReplicaSets to delete (revisionHistoryLimit cleanup), by name.
    pub delete_replica_sets: Vec<String>,
    /// The Deployment with new annotations and/or status, when either changed.
    pub update_deployment: Option<Deployment>,
    /// Events on the Deployment.
    pub events: Vec<ControllerEvent>,
    /// Look at this Deployment again after this long (progress deadline checks).
    pub requeue_after: Option<Duration>,
}

/// What a sync needs to know besides the Deployment and its ReplicaSets.
#[derive(Debug, Clone, Default)]
pub struct PodCounts {
    /// Per ReplicaSet uid, the pods it owns that are neither Succeeded nor Failed.
    pub non_terminal_by_replica_set: HashMap<String, usize>,
}

/// One sync of a Deployment, as `DeploymentController.syncDeployment` does it.
pub fn sync_deployment(
    deployment: &Deployment,
    replica_sets: Vec<ReplicaSet>,
    pods: &PodCounts,
    now: Timestamp,
) -> DeploymentSync {
    let mut sync = Syncer::new(deployment.clone(), replica_sets, now);
    sync.run(pods);
    sync.finish(deployment)
}

struct Syncer {
    d: Deployment,
    rss: Vec<ReplicaSet>,
    original: Vec<ReplicaSet>,
    created: Option<String>,
    deleted: Vec<String>,
    events: Vec<ControllerEvent>,
    requeue_after: Option<Duration>,
    now: Timestamp,
}

impl Syncer {
    fn new(d: Deployment, rss: Vec<ReplicaSet>, now: Timestamp) -> Self {
        Syncer {
            d,
            original: rss.clone(),
            rss,
            created: None,
            deleted: Vec::new(),
            events: Vec::new(),
            requeue_after: None,
            now,
        }
    }

    /// Condition times are second-precision, as they are once they have been through the API.
    fn now_time(&self) -> Time {
        Time(Timestamp::from_second(self.now.as_second()).unwrap_or(self.now))
    }

    fn name(&self) -> String {
        self.d.metadata.name.clone().unwrap_or_default()
    }

    fn replicas(&self) -> i32 {
        deployment_replicas(&self.d)
    }

    fn status(&mut self) -> &mut DeploymentStatus {
        self.d.status.get_or_insert_with(Default::default)
    }

    fn event(&mut self, type_: EventType, reason: &str, message: String) {
        self.events.push(ControllerEvent { type_, reason: reason.to_string(), message });
    }

    fn run(&mut self, pods: &PodCounts) {
        if self.d.metadata.deletion_timestamp.is_some() {
            let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false);
            self.sync_deployment_status(new_rs, &old);
            return;
        }
        self.check_paused_conditions();
        if paused(&self.d) {
            self.sync_scale();
            return;
        }
        if self.is_scaling_event() {
            self.sync_scale();
            return;
        }
        if is_rolling_update(&self.d) {
            self.rollout_rolling();
        } else {
            self.rollout_recreate(pods);
        }
    }

    fn finish(mut self, original: &Deployment) -> DeploymentSync {
        let mut update_replica_sets = Vec::new();
        for rs in &self.rss {
            let name = rs.metadata.name.as_deref().unwrap_or("");
            if Some(name) == self.created.as_deref() || self.deleted.iter().any(|d| d == name) {
                continue;
            }
            let before = self.original.iter().find(|o| o.metadata.name.as_deref() == Some(name));
            if before != Some(rs) {
                update_replica_sets.push(rs.clone());
            }
        }
        let create_replica_sets = match &self.created {
            Some(name) => {
                self.rss.iter().filter(|rs| rs.metadata.name.as_deref() == Some(name)).cloned().collect()
            }
            None => Vec::new(),
        };
        let changed =
            self.d.metadata.annotations != original.metadata.annotations || self.d.status != original.status;
        DeploymentSync {
            create_replica_sets,
            update_replica_sets,
            delete_replica_sets: std::mem::take(&mut self.deleted),
            update_deployment: changed.then(|| self.d.clone()),
            events: std::mem::take(&mut self.events),
            requeue_after: self.requeue_after,
        }
    }
}

#[cfg(test)]
mod tests;
