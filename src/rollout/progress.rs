//! Where a Deployment's rollout stands, from the Deployment, its ReplicaSets and its pods: done
//! (as `kubectl rollout status` defines it), still going (with one line per pod not ready yet and
//! an ETA), or failed fast with a reason and the pod named. Pure: the caller watches the objects.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use crate::rollout::pod::{ContainerSummary, PodStatusSummary, PodSummary};

/// Label the deployment controller adds to ReplicaSets and pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// Annotation carrying a ReplicaSet's (and the Deployment's) revision number.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Container restarts in CrashLoopBackOff after which the rollout fails fast.
pub const CRASHLOOP_RESTARTS: i32 = 3;

/// Container waiting reasons that mean the pod will not start without a change.
const FATAL_WAITING: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
];

/// Why a rollout failed, naming the pod when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// `ImagePullBackOff`, `CrashLoopBackOff`, `ProgressDeadlineExceeded`, `Unschedulable`, ...
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.pod {
            Some(pod) => write!(f, "pod {pod}: {}: {}", self.reason, self.message),
            None => write!(f, "{}: {}", self.reason, self.message),
        }
    }
}

/// What a pod that is not ready yet is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodPhase {
    /// Not scheduled; the scheduler's message when it gave one.
    Pending {
        reason: Option<String>,
        message: Option<String>,
    },
    PullingImage,
    /// Containers being created (image present) or init containers running.
    Starting {
        reason: String,
    },
    /// Running but not ready: the model is loading.
    Loading,
    CrashLoop {
        restarts: i32,
    },
    /// Another waiting reason (ImagePullBackOff, CreateContainerConfigError, ...).
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Terminating,
}

/// One pod of the new revision that is not ready yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProgress {
    pub name: String,
    pub phase: PodPhase,
    /// Since when the pod has been in this phase (for "loading model, 2m10s").
    pub since: Option<Timestamp>,
}

impl PodProgress {
    /// `loading model, 2m10s`, `Pending (Unschedulable: 0/3 nodes are available…), 15s`, …
    pub fn describe(&self, now: Timestamp) -> String {
        match self.since {
            Some(t) => format!("{}, {}", self.state(), short_duration(elapsed(t, now))),
            None => self.state(),
        }
    }

    /// What the pod is doing, without for how long: `loading model`, `CrashLoopBackOff (2 restarts)`.
    pub fn state(&self) -> String {
        match &self.phase {
            PodPhase::Pending { reason, message } => {
                let mut text = "Pending".to_string();
                if let Some(reason) = reason {
                    text.push_str(&format!(" ({reason}"));
                    if let Some(message) = message {
                        text.push_str(&format!(": {message}"));
                    }
                    text.push(')');
                }
                text
            }
            PodPhase::PullingImage => "pulling image".to_string(),
            PodPhase::Starting { reason } => reason.clone(),
            PodPhase::Loading => "loading model".to_string(),
            PodPhase::CrashLoop { restarts } => format!("CrashLoopBackOff ({restarts} restarts)"),
            PodPhase::Waiting { reason, message } => match message {
                Some(m) => format!("{reason}: {m}"),
                None => reason.clone(),
            },
            PodPhase::Terminating => "terminating".to_string(),
        }
    }
}

/// A rollout at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RolloutProgress {
    /// `spec.replicas`.
    pub desired: i32,
    /// Pods of the new revision (`status.updatedReplicas`).
    pub updated: i32,
    /// Ready pods of the new revision.
    pub ready: i32,
    /// Available pods of the new revision.
    pub available: i32,
    /// Pods of older revisions still running.
    pub old: i32,
    /// The new revision number, once its ReplicaSet exists.
    pub revision: Option<i64>,
    /// The controller has seen the latest spec.
    pub observed: bool,
    pub paused: bool,
    /// What `kubectl rollout status` would say while waiting, or `None` when done.
    pub waiting_for: Option<String>,
    pub failure: Option<Failure>,
    /// Pods of the new revision that are not ready, oldest first.
    pub pods: Vec<PodProgress>,
    pub eta: Option<Duration>,
}

impl RolloutProgress {
    pub fn done(&self) -> bool {
        self.waiting_for.is_none() && self.failure.is_none()
    }

    /// One line for logs: `updated 2/3, ready 1/3, available 1/3, old 1`. While scaling down
    /// there are more pods than desired, and "updated 8/4" would read as twice done: `scaling down
    /// to 4: 8 updated, 8 ready, 8 available, old 0`.
    pub fn summary(&self) -> String {
        let d = self.desired;
        if self.updated.max(self.ready).max(self.available) > d {
            return format!(
                "scaling down to {d}: {} updated, {} ready, {} available, old {}",
                self.updated, self.ready, self.available, self.old
            );
        }
        format!(
            "updated {}/{d}, ready {}/{d}, available {}/{d}, old {}",
            self.updated, self.ready, self.available, self.old
        )
    }
}

/// The ReplicaSet running the Deployment's current template, if the controller made it yet:
/// the one whose template equals the Deployment's, ignoring `pod-template-hash`.
pub fn new_replica_set<'a>(
    deployment: &Deployment,
    replica_sets: &'a [ReplicaSet],
) -> Option<&'a ReplicaSet> {
    let template = deployment.spec.as_ref().map(|s| template_without_hash(&s.template))?;
    replica_sets.iter().filter(|rs| owned_by(&rs.metadata, deployment.metadata.uid.as_deref())).find(|rs| {
        rs.spec.as_ref().and_then(|s| s.template.as_ref()).map(template_without_hash)
            == Some(template.clone())
    })
}

/// A pod template as JSON without the `pod-template-hash` label, for comparison and for undo.
pub fn template_without_hash(template: &k8s_openapi::api::core::v1::PodTemplateSpec) -> serde_json::Value {
    let mut value = serde_json::to_value(template).unwrap_or_default();
    strip_hash(&mut value);
    value
}

/// Remove `pod-template-hash` from a raw pod template's labels (dropping an emptied map).
pub fn strip_hash(template: &mut serde_json::Value) {
    if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(|l| l.as_object_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
        if labels.is_empty() {
            if let Some(meta) = template.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                meta.remove("labels");
            }
        }
    }
}

/// Whether `meta` has an owner reference to `uid` (true when the uid is unknown).
pub fn owned_by(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    uid: Option<&str>,
) -> bool {
    let Some(uid) = uid else { return true };
    meta.owner_references.iter().flatten().any(|o| o.uid == uid)
}

/// The revision number of a ReplicaSet (or Deployment) from its annotation.
pub fn revision_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<i64> {
    meta.annotations.as_ref()?.get(REVISION_ANNOTATION)?.parse().ok()
}

/// Classify the rollout. `unschedulable_timeout`: how long a new pod may stay Unschedulable.
// Stays long on purpose (clippy::too_many_lines): it is kubectl's `rollout status` decision
// table plus the fail-fast rules, read top to bottom in the order they apply; split, the order
// that decides which failure is reported would be spread over several functions.
pub fn classify(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[PodSummary],
    now: Timestamp,
    unschedulable_timeout: Duration,
) -> RolloutProgress {
    let spec = deployment.spec.clone().unwrap_or_default();
    let status = deployment.status.clone().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0) >= generation;
    let desired = spec.replicas.unwrap_or(1);
    let new_rs = new_replica_set(deployment, replica_sets);
    let new_status = new_rs.and_then(|rs| rs.status.clone()).unwrap_or_default();
    let old: i32 = replica_sets
        .iter()
        .filter(|rs| owned_by(&rs.metadata, deployment.metadata.uid.as_deref()))
        .filter(|rs| new_rs.is_none_or(|n| n.metadata.uid != rs.metadata.uid))
        .map(|rs| rs.status.as_ref().map_or(0, |s| s.replicas))
        .sum();
    let mut progress = RolloutProgress {
        desired,
        updated: status.updated_replicas.unwrap_or(0),
        ready: new_status.ready_replicas.unwrap_or(0),
        available: new_status.available_replicas.unwrap_or(0),
        old,
        revision: new_rs.and_then(|rs| revision_of(&rs.metadata)),
        observed,
        paused: spec.paused.unwrap_or(false),
        ..Default::default()
    };

    // kubectl's DeploymentStatusViewer, word for word in meaning.
    progress.waiting_for = if !observed {
        Some("waiting for the deployment spec update to be observed".to_string())
    } else if status.updated_replicas.unwrap_or(0) < desired {
        Some(format!(
            "{} out of {desired} new replicas have been updated",
            status.updated_replicas.unwrap_or(0)
        ))
    } else if status.replicas.unwrap_or(0) > status.updated_replicas.unwrap_or(0) {
        Some(format!(
            "{} old replicas are pending termination",
            status.replicas.unwrap_or(0) - status.updated_replicas.unwrap_or(0)
        ))
    } else if status.available_replicas.unwrap_or(0) < status.updated_replicas.unwrap_or(0) {
        Some(format!(
            "{} of {} updated replicas are available",
            status.available_replicas.unwrap_or(0),
            status.updated_replicas.unwrap_or(0)
        ))
    } else {
        None
    };

    if observed {
        let deadline =
            status.conditions.iter().flatten().find(|c| {
                c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
            });
        if let Some(c) = deadline {
            progress.failure = Some(Failure {
                reason: "ProgressDeadlineExceeded".into(),
                pod: None,
                message: c
                    .message
                    .clone()
                    .unwrap_or_else(|| "the deployment exceeded its progress deadline".into()),
            });
        }
    }
    if progress.waiting_for.is_some() && progress.paused && progress.failure.is_none() {
        progress.failure = Some(Failure {
            reason: "Paused".into(),
            pod: None,
            message: "the deployment is paused, so the rollout does not progress; resume it with `kubectl rollout resume`".into(),
        });
    }

    // Pods of the new revision.
    let mut new_pods: Vec<&PodSummary> = match new_rs {
        Some(rs) => pods.iter().filter(|p| owned_by(&p.metadata, rs.metadata.uid.as_deref())).collect(),
        None => Vec::new(),
    };
    new_pods.sort_by_key(|p| (p.metadata.creation_timestamp.as_ref().map(|t| t.0), p.metadata.name.clone()));
    let mut ready_durations = Vec::new();
    for pod in &new_pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        if pod.ready() {
            if let (Some(created), Some(ready_at)) = (
                pod.metadata.creation_timestamp.as_ref(),
                pod.ready_condition().and_then(|c| c.last_transition_time.as_ref()),
            ) {
                ready_durations.push(elapsed(created.0, ready_at.0));
            }
            continue;
        }
        let (phase, since) = pod_phase(pod);
        if progress.failure.is_none() {
            progress.failure = pod_failure(&name, &phase, since, now, unschedulable_timeout);
        }
        progress.pods.push(PodProgress { name, phase, since });
    }

    if progress.waiting_for.is_some() && !ready_durations.is_empty() {
        let average =
            ready_durations.iter().sum::<Duration>() / u32::try_from(ready_durations.len()).unwrap_or(1);
        let remaining = (desired - progress.ready).max(0);
        let in_flight = i32::try_from(progress.pods.len()).unwrap_or(1).max(1);
        let waves = u32::try_from((remaining + in_flight - 1) / in_flight).unwrap_or(0);
        let oldest_in_flight = new_pods
            .iter()
            .filter(|p| !p.ready())
            .filter_map(|p| p.metadata.creation_timestamp.as_ref())
            .map(|t| elapsed(t.0, now))
            .max()
            .unwrap_or_default();
        progress.eta = Some((average * waves).saturating_sub(oldest_in_flight.min(average)));
    }
    progress
}

/// Whether a not-ready pod's state fails the rollout now (the rules of [`classify`]).
pub fn pod_failure_of(pod: &PodProgress, now: Timestamp, unschedulable_timeout: Duration) -> Option<Failure> {
    pod_failure(&pod.name, &pod.phase, pod.since, now, unschedulable_timeout)
}

fn pod_failure(
    name: &str,
    phase: &PodPhase,
    since: Option<Timestamp>,
    now: Timestamp,
    unschedulable_timeout: Duration,
) -> Option<Failure> {
    let failure = |reason: &str, message: String| {
        Some(Failure { reason: reason.into(), pod: Some(name.into()), message })
    };
    match phase {
        PodPhase::Waiting { reason, message } if FATAL_WAITING.contains(&reason.as_str()) => {
            failure(reason, message.clone().unwrap_or_else(|| "the container cannot start".into()))
        }
        PodPhase::CrashLoop { restarts } if *restarts >= CRASHLOOP_RESTARTS => failure(
            "CrashLoopBackOff",
            format!(
                "the container keeps crashing ({restarts} restarts); see `kubectl logs {name} --previous`"
            ),
        ),
        PodPhase::Pending { reason: Some(reason), message } if reason == "Unschedulable" => {
            let waited = since.map(|t| elapsed(t, now)).unwrap_or_default();
            (waited >= unschedulable_timeout).then(|| Failure {
                reason: "Unschedulable".into(),
                pod: Some(name.into()),
                message: format!(
                    "unschedulable for {}: {}",
                    short_duration(waited),
                    message.clone().unwrap_or_else(|| "no node can take it".into())
                ),
            })
        }
        _ => None,
    }
}

/// What a not-ready pod is doing, and since when.
pub fn pod_phase(pod: &PodSummary) -> (PodPhase, Option<Timestamp>) {
    let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if let Some(deleted) = &pod.metadata.deletion_timestamp {
        return (PodPhase::Terminating, Some(deleted.0));
    }
    let unknown = PodStatusSummary::default();
    let status = pod.status.as_ref().unwrap_or(&unknown);
    let scheduled = status.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled");
    let bound = pod.node_name.is_some();
    if !bound && scheduled.is_none_or(|c| c.status != "True") {
        let since = scheduled.and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0).or(created);
        return (
            PodPhase::Pending {
                reason: scheduled.and_then(|c| c.reason.clone()),
                message: scheduled.and_then(|c| c.message.clone()),
            },
            since,
        );
    }
    // Init containers first, then the main containers: the first that is not running tells.
    let statuses: Vec<&ContainerSummary> = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .collect();
    for cs in &statuses {
        let Some(state) = &cs.state else { continue };
        if let Some(waiting) = &state.waiting {
            let reason = waiting.reason.clone().unwrap_or_else(|| "Waiting".into());
            let since = cs
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .and_then(|t| t.finished_at.as_ref())
                .map(|t| t.0)
                .or(created);
            return match reason.as_str() {
                "CrashLoopBackOff" => (PodPhase::CrashLoop { restarts: cs.restart_count }, since),
                "ContainerCreating" if cs.image_id.is_empty() => (PodPhase::PullingImage, created),
                "ContainerCreating" | "PodInitializing" => {
                    (PodPhase::Starting { reason: reason.clone() }, created)
                }
                _ => (PodPhase::Waiting { reason, message: waiting.message.clone() }, since),
            };
        }
    }
    if status.container_statuses.as_ref().is_none_or(Vec::is_empty) {
        return (PodPhase::PullingImage, created);
    }
    let started = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|cs| cs.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .map(|t| t.0)
        .max();
    (PodPhase::Loading, started.or(created))
}

/// Time from `from` to `to`, zero if negative.
pub fn elapsed(from: Timestamp, to: Timestamp) -> Duration {
    let nanos = to.as_nanosecond() - from.as_nanosecond();
    if nanos <= 0 {
        Duration::ZERO
    } else {
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// `2m10s`, `45s`, `1h5m`: whole seconds, as kubectl shows ages.
pub fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{}s", secs / 60, secs % 60),
        3600..=86399 => format!("{}h{}m", secs / 3600, (secs % 3600) / 60),
        _ => format!("{}d{}h", secs / 86400, (secs % 86400) / 3600),
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Small builders for Deployments, ReplicaSets and pods in unit tests.
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus, ReplicaSetSpec, ReplicaSetStatus};
    use k8s_openapi::api::core::v1::{
        Container, ContainerState, ContainerStateRunning, ContainerStateWaiting, PodCondition, PodSpec,
        PodTemplateSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time};

    pub fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    pub fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "fraud".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "model".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    pub fn deployment(image: &str, replicas: i32, generation: i64, status: DeploymentStatus) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("fraud".into()),
                uid: Some("d-uid".into()),
                generation: Some(generation),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some([("app".to_string(), "fraud".to_string())].into()),
                    ..Default::default()
                },
                template: template(image),
                ..Default::default()
            }),
            status: Some(status),
        }
    }

    pub fn owner(uid: &str) -> Option<Vec<OwnerReference>> {
        Some(vec![OwnerReference {
            uid: uid.into(),
            name: "x".into(),
            kind: "x".into(),
            api_version: "v1".into(),
            controller: Some(true),
            ..Default::default()
        }])
    }

    pub fn replica_set(image: &str, revision: i64, replicas: i32, ready: i32, available: i32) -> ReplicaSet {
        let mut t = template(image);
        t.metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(POD_TEMPLATE_HASH.into(), format!("h{revision}"));
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("fraud-h{revision}")),
                uid: Some(format!("rs{revision}")),
                annotations: Some([(REVISION_ANNOTATION.to_string(), revision.to_string())].into()),
                owner_references: owner("d-uid"),
                creation_timestamp: Some(Time(at(revision * 100))),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec { replicas: Some(replicas), template: Some(t), ..Default::default() }),
            status: Some(ReplicaSetStatus {
                replicas,
                ready_replicas: Some(ready),
                available_replicas: Some(available),
                ..Default::default()
            }),
        }
    }

    pub fn pod(name: &str, rs_uid: &str, created: i64) -> PodSummary {
        PodSummary {
            metadata: ObjectMeta {
                name: Some(name.into()),
                owner_references: owner(rs_uid),
                creation_timestamp: Some(Time(at(created))),
                ..Default::default()
            },
            node_name: Some("n1".into()),
            status: Some(PodStatusSummary {
                phase: Some("Pending".into()),
                conditions: Some(vec![PodCondition {
                    type_: "PodScheduled".into(),
                    status: "True".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    pub fn ready(mut p: PodSummary, at_secs: i64) -> PodSummary {
        let status = p.status.as_mut().unwrap();
        status.phase = Some("Running".into());
        status.conditions.as_mut().unwrap().push(PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(at(at_secs))),
            ..Default::default()
        });
        status.container_statuses = Some(vec![ContainerSummary {
            name: "model".into(),
            ready: true,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning { started_at: Some(Time(at(at_secs - 1))) }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        p
    }

    pub fn running(mut p: PodSummary, started: i64) -> PodSummary {
        let status = p.status.as_mut().unwrap();
        status.phase = Some("Running".into());
        status.container_statuses = Some(vec![ContainerSummary {
            name: "model".into(),
            image_id: "sha256:x".into(),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning { started_at: Some(Time(at(started))) }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        p
    }

    pub fn waiting(mut p: PodSummary, reason: &str, restarts: i32) -> PodSummary {
        let status = p.status.as_mut().unwrap();
        status.container_statuses = Some(vec![ContainerSummary {
            name: "model".into(),
            restart_count: restarts,
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.into()),
                    message: Some(format!("{reason} message")),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        p
    }

    pub fn unschedulable(mut p: PodSummary, since: i64) -> PodSummary {
        p.node_name = None;
        p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some("Unschedulable".into()),
            message: Some("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.".into()),
            last_transition_time: Some(Time(at(since))),
            ..Default::default()
        }]);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};

    const MINUTES_2: Duration = Duration::from_secs(120);

    fn status(observed: i64, replicas: i32, updated: i32, available: i32) -> DeploymentStatus {
        DeploymentStatus {
            observed_generation: Some(observed),
            replicas: Some(replicas),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
            ..Default::default()
        }
    }

    #[test]
    fn done_as_kubectl_rollout_status_says() {
        let rss = vec![replica_set("fraud:v1", 1, 0, 0, 0), replica_set("fraud:v2", 2, 3, 3, 3)];
        let d = deployment("fraud:v2", 3, 2, status(2, 3, 3, 3));
        let p = classify(&d, &rss, &[], at(1000), MINUTES_2);
        assert!(p.done(), "{p:?}");
        assert_eq!(p.revision, Some(2));
        assert_eq!(p.summary(), "updated 3/3, ready 3/3, available 3/3, old 0");
        let scaling_down = RolloutProgress { desired: 4, updated: 8, ready: 8, available: 8, ..p.clone() };
        assert_eq!(scaling_down.summary(), "scaling down to 4: 8 updated, 8 ready, 8 available, old 0");

        // Not observed yet.
        let d = deployment("fraud:v2", 3, 3, status(2, 3, 3, 3));
        assert_eq!(
            classify(&d, &rss, &[], at(1000), MINUTES_2).waiting_for.as_deref(),
            Some("waiting for the deployment spec update to be observed")
        );
        // Old replicas still there.
        let d = deployment("fraud:v2", 3, 2, status(2, 4, 3, 3));
        assert_eq!(
            classify(&d, &rss, &[], at(1000), MINUTES_2).waiting_for.as_deref(),
            Some("1 old replicas are pending termination")
        );
        let d = deployment("fraud:v2", 3, 2, status(2, 3, 1, 3));
        assert_eq!(
            classify(&d, &rss, &[], at(1000), MINUTES_2).waiting_for.as_deref(),
            Some("1 out of 3 new replicas have been updated")
        );
        let d = deployment("fraud:v2", 3, 2, status(2, 3, 3, 2));
        assert_eq!(
            classify(&d, &rss, &[], at(1000), MINUTES_2).waiting_for.as_deref(),
            Some("2 of 3 updated replicas are available")
        );
    }

    #[test]
    fn new_replica_set_ignores_the_hash_and_other_owners() {
        let rss = vec![replica_set("fraud:v1", 1, 2, 2, 2), replica_set("fraud:v2", 2, 1, 0, 0)];
        let d = deployment("fraud:v2", 3, 2, status(2, 3, 1, 2));
        assert_eq!(new_replica_set(&d, &rss).unwrap().metadata.uid.as_deref(), Some("rs2"));
        let p = classify(&d, &rss, &[], at(1000), MINUTES_2);
        assert_eq!(p.old, 2);
        let mut foreign = rss.clone();
        foreign[1].metadata.owner_references = owner("someone-else");
        assert!(new_replica_set(&d, &foreign).is_none());
    }

    #[test]
    fn pods_not_ready_are_described_and_eta_comes_from_earlier_pods() {
        let rss = vec![replica_set("fraud:v1", 1, 2, 2, 2), replica_set("fraud:v2", 2, 2, 1, 1)];
        let d = deployment("fraud:v2", 3, 2, status(2, 4, 2, 3));
        let pods = vec![
            ready(pod("fraud-a", "rs2", 100), 160),
            running(pod("fraud-b", "rs2", 160), 170),
            ready(pod("fraud-old", "rs1", 0), 10),
        ];
        let p = classify(&d, &rss, &pods, at(200), MINUTES_2);
        assert_eq!(p.pods.len(), 1);
        assert_eq!(p.pods[0].name, "fraud-b");
        assert_eq!(p.pods[0].describe(at(300)), "loading model, 2m10s");
        // One pod took 60s; 2 to go with 1 in flight (40s old): 2 waves × 60s − 40s.
        assert_eq!(p.eta, Some(Duration::from_secs(80)));
        assert!(p.failure.is_none());
    }

    #[test]
    fn fail_fast_reasons() {
        let rss = vec![replica_set("fraud:v1", 1, 3, 3, 3), replica_set("fraud:v2", 2, 1, 0, 0)];
        let d = deployment("fraud:v2", 3, 2, status(2, 4, 1, 3));
        for reason in ["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError"] {
            let pods = vec![waiting(pod("fraud-x", "rs2", 100), reason, 0)];
            let f = classify(&d, &rss, &pods, at(110), MINUTES_2).failure.expect(reason);
            assert_eq!(f.reason, reason);
            assert_eq!(f.pod.as_deref(), Some("fraud-x"));
        }
        // CrashLoopBackOff: not before 3 restarts.
        let pods = vec![waiting(pod("fraud-x", "rs2", 100), "CrashLoopBackOff", 2)];
        let p = classify(&d, &rss, &pods, at(110), MINUTES_2);
        assert!(p.failure.is_none());
        assert_eq!(p.pods[0].describe(at(110)), "CrashLoopBackOff (2 restarts), 10s");
        let pods = vec![waiting(pod("fraud-x", "rs2", 100), "CrashLoopBackOff", 3)];
        assert_eq!(classify(&d, &rss, &pods, at(110), MINUTES_2).failure.unwrap().reason, "CrashLoopBackOff");
        // Unschedulable: only past the timeout.
        let pods = vec![unschedulable(pod("fraud-x", "rs2", 100), 100)];
        let p = classify(&d, &rss, &pods, at(219), MINUTES_2);
        assert!(p.failure.is_none());
        assert!(
            p.pods[0].describe(at(219)).starts_with("Pending (Unschedulable: 0/3 nodes are available"),
            "{:?}",
            p.pods[0]
        );
        let f = classify(&d, &rss, &pods, at(220), MINUTES_2).failure.unwrap();
        assert_eq!(f.reason, "Unschedulable");
        assert!(f.message.contains("Insufficient nvidia.com/gpu"));
        // Old pods' troubles are not this rollout's.
        let pods = vec![waiting(pod("fraud-old", "rs1", 0), "ImagePullBackOff", 0)];
        assert!(classify(&d, &rss, &pods, at(110), MINUTES_2).failure.is_none());
        // Progress deadline.
        let mut s = status(2, 4, 1, 3);
        s.conditions = Some(vec![DeploymentCondition {
            type_: "Progressing".into(),
            status: "False".into(),
            reason: Some("ProgressDeadlineExceeded".into()),
            message: Some("ReplicaSet \"fraud-h2\" has timed out progressing.".into()),
            ..Default::default()
        }]);
        let d = deployment("fraud:v2", 3, 2, s);
        assert_eq!(
            classify(&d, &rss, &[], at(110), MINUTES_2).failure.unwrap().reason,
            "ProgressDeadlineExceeded"
        );
    }

    #[test]
    fn pulling_image_and_durations() {
        let mut p = waiting(pod("fraud-x", "rs2", 100), "ContainerCreating", 0);
        p.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0].image_id = String::new();
        assert_eq!(pod_phase(&p).0, PodPhase::PullingImage);
        assert_eq!(short_duration(Duration::from_secs(130)), "2m10s");
        assert_eq!(short_duration(Duration::from_secs(3700)), "1h1m");
        assert_eq!(elapsed(at(10), at(5)), Duration::ZERO);
    }
}
