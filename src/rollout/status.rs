//! The one-screen status of a model (a Deployment or a Knative Service): phase, strategy,
//! revisions with their pods, problem pods. Built purely from objects the caller read; rendered by
//! `ui::status`; printed as-is by `status -o json|yaml`.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use serde::Serialize;
use serde_json::Value;

use crate::rollout::pod::PodSummary;
use crate::rollout::progress::{classify, owned_by, pod_phase, PodPhase, PodProgress};
use crate::rollout::revision::{revisions, Revision, CHANGE_CAUSE, MODEL_VERSION_LABEL};
use crate::rollout::strategy::RollingUpdate;

/// `apiVersion` of the `-o json|yaml` document.
pub const STATUS_API_VERSION: &str = "modelroll.io/v1alpha1";

/// The status of a model, as `status -o json|yaml` prints it. A stable structure:
///
/// ```yaml
/// apiVersion: modelroll.io/v1alpha1
/// kind: ModelStatus
/// target: {kind: Deployment|KnativeService, name: fraud, namespace: ml}
/// phase: Healthy|Progressing|Degraded|Paused|Canary|Promoting|Aborting
/// reason: "..."                 # why Progressing/Degraded/Paused (absent when Healthy)
/// strategy:                     # Deployments only
///   type: RollingUpdate|Recreate
///   maxSurge: 1                 # as written (number or "25%"); absent for Recreate
///   maxUnavailable: "25%"
/// replicas: {desired: 3, updated: 3, ready: 3, available: 3}
/// revisions:                    # revisions that have pods (or take traffic), newest first
///   - revision: 2               # Deployment revision number; Knative: configuration generation
///     name: fraud-6d5f9c        # the ReplicaSet or Knative Revision
///     track: stable|canary      # absent when there is no canary
///     images: [{container: model, image: registry.example/fraud:v2}]
///     modelVersion: v2          # pod label modelroll.io/model-version, when set
///     replicas: 3               # pods it runs
///     ready: 3
///     trafficPercent: 100       # Knative / canary routers: share of traffic, when known
///     created: 2026-01-01T00:00:00Z
///     current: true             # the target's current template / latest ready revision
/// problems:                     # pods not ready, any revision
///   - {pod: fraud-6d5f9c-x2x, revision: 2, state: "CrashLoopBackOff (4 restarts), 1m2s", since: ...}
/// ```
/// Fields are only ever added; optional ones are omitted when unknown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    pub api_version: String,
    pub kind: String,
    pub target: TargetRef,
    pub phase: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategyStatus>,
    pub replicas: ReplicaCounts,
    pub revisions: Vec<RevisionStatus>,
    pub problems: Vec<PodProblem>,
    /// Canary state, filled by the canary commands (annotation `modelroll.io/rollout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<Value>,
    /// The last evaluations of the metric checks, kept in the annotation `modelroll.io/rollout`
    /// (of a canary in progress, or of the change a check stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<crate::rollout::check::Analysis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetRef {
    /// `Deployment` or `KnativeService`.
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// The phase of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// Everything is rolled out and available.
    Healthy,
    /// A rollout is under way.
    Progressing,
    /// Something is wrong: see `reason` and `problems`.
    Degraded,
    /// The Deployment is paused.
    Paused,
    /// A canary takes part of the traffic.
    Canary,
    Promoting,
    Aborting,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Self::Healthy => "Healthy",
            Self::Progressing => "Progressing",
            Self::Degraded => "Degraded",
            Self::Paused => "Paused",
            Self::Canary => "Canary",
            Self::Promoting => "Promoting",
            Self::Aborting => "Aborting",
        };
        f.write_str(text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyStatus {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Value>,
}

impl std::fmt::Display for StrategyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "-".into(),
        };
        if self.type_ == "RollingUpdate" {
            write!(
                f,
                "RollingUpdate (maxSurge {}, maxUnavailable {})",
                show(&self.max_surge),
                show(&self.max_unavailable)
            )
        } else {
            f.write_str(&self.type_)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ReplicaCounts {
    pub desired: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
}

/// Which track a revision serves in a canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    Stable,
    Canary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerImage {
    pub container: String,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionStatus {
    pub revision: Option<i64>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<Track>,
    pub images: Vec<ContainerImage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    pub replicas: i32,
    pub ready: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_percent: Option<i64>,
    /// `kubernetes.io/change-cause` of the revision (shown by `history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodProblem {
    pub pod: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// What the pod is doing, e.g. `CrashLoopBackOff (4 restarts), 1m2s`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

impl RevisionStatus {
    /// A Deployment revision as a row.
    pub fn from_revision(r: &Revision) -> Self {
        Self {
            revision: Some(r.revision),
            name: r.replica_set.clone(),
            track: None,
            images: images(r.images.clone()),
            model_version: r.model_version.clone(),
            replicas: r.replicas,
            ready: r.ready,
            traffic_percent: None,
            change_cause: r.change_cause.clone(),
            created: r.created,
            current: r.current,
        }
    }
}

/// `(container, image)` pairs as `status` shows them.
pub fn images(list: Vec<(String, String)>) -> Vec<ContainerImage> {
    list.into_iter().map(|(container, image)| ContainerImage { container, image }).collect()
}

/// The status of a Deployment from itself, its ReplicaSets and its pods.
pub fn deployment_status(
    namespace: &str,
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[PodSummary],
    now: Timestamp,
) -> ModelStatus {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let spec = deployment.spec.clone().unwrap_or_default();
    let progress = classify(deployment, replica_sets, pods, now, std::time::Duration::from_secs(120));
    let (phase, reason) = if spec.paused.unwrap_or(false) {
        (Phase::Paused, Some("the deployment is paused (kubectl rollout resume)".to_string()))
    } else if let Some(failure) = &progress.failure {
        (Phase::Degraded, Some(failure.to_string()))
    } else if let Some(waiting) = &progress.waiting_for {
        (Phase::Progressing, Some(waiting.clone()))
    } else {
        let unavailable = deployment
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Available" && c.status == "False"));
        match unavailable {
            Some(c) => (Phase::Degraded, Some(c.message.clone().or(c.reason.clone()).unwrap_or_default())),
            None => (Phase::Healthy, None),
        }
    };
    let strategy = spec.strategy.as_ref().map_or(
        StrategyStatus {
            type_: "RollingUpdate".into(),
            max_surge: Some(Value::String("25%".into())),
            max_unavailable: Some(Value::String("25%".into())),
        },
        |s| {
            let rolling = RollingUpdate::of_deployment(Some(s)).ok().flatten();
            StrategyStatus {
                type_: s.type_.clone().unwrap_or_else(|| "RollingUpdate".into()),
                max_surge: rolling.map(|r| r.max_surge.to_json()),
                max_unavailable: rolling.map(|r| r.max_unavailable.to_json()),
            }
        },
    );
    let status = deployment.status.clone().unwrap_or_default();
    let all = revisions(deployment, replica_sets);
    let mut revision_rows: Vec<RevisionStatus> =
        all.iter().filter(|r| r.replicas > 0 || r.current).map(RevisionStatus::from_revision).collect();
    revision_rows.reverse();
    // Only this Deployment's pods (a selector may match others', e.g. a canary's), with the
    // revision of their ReplicaSet.
    let owned: Vec<&ReplicaSet> =
        replica_sets.iter().filter(|rs| owned_by(&rs.metadata, deployment.metadata.uid.as_deref())).collect();
    let owner_rs = |pod: &PodSummary| -> Option<&ReplicaSet> {
        let refs = pod.metadata.owner_references.as_ref()?;
        owned
            .iter()
            .copied()
            .find(|rs| refs.iter().any(|o| Some(o.uid.as_str()) == rs.metadata.uid.as_deref()))
    };
    let own_pods = pods.iter().filter(|p| owner_rs(p).is_some());
    let rs_revision =
        |pod: &PodSummary| owner_rs(pod).and_then(|rs| crate::rollout::progress::revision_of(&rs.metadata));
    let problems = problem_pods(own_pods, rs_revision, now);
    ModelStatus {
        api_version: STATUS_API_VERSION.into(),
        kind: "ModelStatus".into(),
        target: TargetRef { kind: "Deployment".into(), name, namespace: namespace.into() },
        phase,
        reason,
        strategy: Some(strategy),
        replicas: ReplicaCounts {
            desired: spec.replicas.unwrap_or(1),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
        },
        revisions: revision_rows,
        problems,
        canary: None,
        analysis: None,
    }
}

/// Whether the status of `deployment` needs its pods, given its ReplicaSets: only to show pods
/// that are not ready (and a rollout's progress). When the Deployment is rolled out and every
/// ReplicaSet it owns counts all its pods ready, none terminating (where the API server counts
/// them), and as many as it wants, there is no such pod to show, and one read is saved.
pub fn needs_pods(deployment: &Deployment, replica_sets: &[ReplicaSet]) -> bool {
    let progress = classify(deployment, replica_sets, &[], Timestamp::UNIX_EPOCH, std::time::Duration::MAX);
    if !progress.done() {
        return true;
    }
    replica_sets.iter().filter(|rs| owned_by(&rs.metadata, deployment.metadata.uid.as_deref())).any(|rs| {
        let wanted = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        match &rs.status {
            None => wanted > 0,
            Some(s) => {
                s.replicas != wanted
                    || s.ready_replicas.unwrap_or(0) < s.replicas
                    || s.terminating_replicas.unwrap_or(0) > 0
                    || s.observed_generation.unwrap_or(0) < rs.metadata.generation.unwrap_or(0)
            }
        }
    })
}

/// Pods that are not ready, oldest first, with what they are doing.
pub fn problem_pods<'a>(
    pods: impl IntoIterator<Item = &'a PodSummary>,
    revision: impl Fn(&PodSummary) -> Option<i64>,
    now: Timestamp,
) -> Vec<PodProblem> {
    let mut out: Vec<(Option<Timestamp>, PodProblem)> = pods
        .into_iter()
        .filter(|p| !p.ready())
        .filter(|p| !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded")))
        .map(|p| {
            let (phase, since) = pod_phase(p);
            let name = p.metadata.name.clone().unwrap_or_default();
            let state = PodProgress { name: name.clone(), phase, since }.describe(now);
            let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            (created, PodProblem { pod: name, revision: revision(p), state, since })
        })
        .collect();
    out.sort_by_key(|(created, p)| (*created, p.pod.clone()));
    out.into_iter().map(|(_, p)| p).collect()
}

/// Whether a pod phase is a problem worth flagging in red (as opposed to normal start-up).
pub fn is_trouble(phase: &PodPhase) -> bool {
    matches!(phase, PodPhase::CrashLoop { .. } | PodPhase::Waiting { .. })
        || matches!(phase, PodPhase::Pending { reason: Some(r), .. } if r == "Unschedulable")
}

/// The Knative API group/version of Services and Revisions.
pub const KNATIVE_SERVING: &str = "serving.knative.dev/v1";

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == type_)
}

/// `(status, reason, message)` of a condition of a raw object.
pub fn condition_of(object: &Value, type_: &str) -> Option<(String, Option<String>, Option<String>)> {
    let c = condition(object, type_)?;
    Some((
        c["status"].as_str().unwrap_or("Unknown").to_string(),
        c["reason"].as_str().map(str::to_string),
        c["message"].as_str().map(str::to_string),
    ))
}

/// `(container, image)` of a raw pod spec.
pub fn raw_images(pod_spec: &Value) -> Vec<(String, String)> {
    pod_spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let name = c["name"].as_str().map_or_else(|| format!("container-{i}"), str::to_string);
            (name, c["image"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// Traffic percent per revision name from a ksvc's `status.traffic` (latestRevision entries
/// resolved to `status.latestReadyRevisionName`).
pub fn knative_traffic(ksvc: &Value) -> Vec<(String, i64, Option<String>)> {
    let latest_ready = ksvc.pointer("/status/latestReadyRevisionName").and_then(Value::as_str);
    let traffic = ksvc.pointer("/status/traffic").or_else(|| ksvc.pointer("/spec/traffic"));
    let mut out: Vec<(String, i64, Option<String>)> = Vec::new();
    for t in traffic.and_then(Value::as_array).into_iter().flatten() {
        let name =
            t["revisionName"].as_str().or(if t["latestRevision"] == true { latest_ready } else { None });
        let Some(name) = name else { continue };
        let percent = t["percent"].as_i64().unwrap_or(0);
        let tag = t["tag"].as_str().map(str::to_string);
        match out.iter_mut().find(|(n, _, _)| n == name) {
            Some(entry) => {
                entry.1 += percent;
                if entry.2.is_none() {
                    entry.2 = tag;
                }
            }
            None => out.push((name.to_string(), percent, tag)),
        }
    }
    out
}

/// Every Revision of a Knative Service as a row, newest first, with its pods and traffic.
pub fn knative_revision_rows(ksvc: &Value, revisions: &[Value], pods: &[PodSummary]) -> Vec<RevisionStatus> {
    let traffic = knative_traffic(ksvc);
    let latest_ready = ksvc.pointer("/status/latestReadyRevisionName").and_then(Value::as_str);
    // Terminating pods serve nothing: a revision's ready count leaves them out.
    let pods_of = |rev: &str| -> Vec<&PodSummary> {
        pods.iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.label("serving.knative.dev/revision") == Some(rev))
            .collect()
    };
    let mut rows: Vec<RevisionStatus> = revisions
        .iter()
        .map(|r| {
            let rev_name =
                r.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
            let labels = r.pointer("/metadata/labels");
            let generation = labels
                .and_then(|l| l.get("serving.knative.dev/configurationGeneration"))
                .and_then(Value::as_str)
                .and_then(|g| g.parse().ok());
            let model_version = r
                .pointer("/metadata/labels")
                .and_then(|l| l.get(MODEL_VERSION_LABEL))
                .and_then(Value::as_str)
                .map(str::to_string);
            let replicas = pods_of(&rev_name).len();
            let ready_pods = pods_of(&rev_name).into_iter().filter(|p| p.ready()).count();
            RevisionStatus {
                revision: generation,
                name: rev_name.clone(),
                track: None,
                images: images(raw_images(r.pointer("/spec").unwrap_or(&Value::Null))),
                model_version,
                replicas: i32::try_from(replicas).unwrap_or(i32::MAX),
                ready: i32::try_from(ready_pods).unwrap_or(i32::MAX),
                traffic_percent: traffic.iter().find(|(n, _, _)| *n == rev_name).map(|(_, p, _)| *p),
                change_cause: r
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(CHANGE_CAUSE))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                created: r
                    .pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse().ok()),
                current: Some(rev_name.as_str()) == latest_ready,
            }
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse((r.revision, r.created)));
    rows
}

/// The status of a Knative Service from itself, its Revisions and their pods.
pub fn knative_status(
    namespace: &str,
    ksvc: &Value,
    revisions: &[Value],
    pods: &[PodSummary],
    now: Timestamp,
) -> ModelStatus {
    let name = ksvc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let generation = ksvc.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let observed = ksvc.pointer("/status/observedGeneration").and_then(Value::as_i64).unwrap_or(0);
    let ready = condition_of(ksvc, "Ready");
    let (phase, reason) = match &ready {
        _ if observed < generation => {
            (Phase::Progressing, Some("waiting for the new spec to be observed".to_string()))
        }
        Some((s, _, _)) if s == "True" => (Phase::Healthy, None),
        Some((s, reason, message)) if s == "False" => (
            Phase::Degraded,
            Some(format!("{}: {}", reason.clone().unwrap_or_default(), message.clone().unwrap_or_default())),
        ),
        Some((_, reason, message)) => (
            Phase::Progressing,
            message.clone().or(reason.clone()).or(Some("the service is not ready yet".into())),
        ),
        None => (Phase::Progressing, Some("the service has no status yet".to_string())),
    };
    let mut rows: Vec<RevisionStatus> = knative_revision_rows(ksvc, revisions, pods)
        .into_iter()
        .filter(|r| r.replicas > 0 || r.traffic_percent.is_some_and(|p| p > 0) || r.current)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse((r.revision, r.created)));
    let revision_of_pod = |p: &PodSummary| {
        let rev = p.label("serving.knative.dev/revision")?;
        rows.iter().find(|r| r.name == rev)?.revision
    };
    let problems = problem_pods(pods, revision_of_pod, now);
    // Knative calls a revision scaled to zero Ready, and keeps calling it so while it scales up
    // again (a rollback to it): traffic on a revision without a ready pod is not healthy.
    let (phase, reason) = match (phase, unserved_traffic(&rows, revisions)) {
        (Phase::Healthy, Some(why)) => (Phase::Progressing, Some(why)),
        (phase, _) => (phase, reason),
    };
    let desired = rows.iter().map(|r| r.replicas).sum();
    let ready_total = rows.iter().map(|r| r.ready).sum();
    ModelStatus {
        api_version: STATUS_API_VERSION.into(),
        kind: "ModelStatus".into(),
        target: TargetRef { kind: "KnativeService".into(), name, namespace: namespace.into() },
        phase,
        reason,
        strategy: None,
        replicas: ReplicaCounts { desired, updated: desired, ready: ready_total, available: ready_total },
        revisions: rows,
        problems,
        canary: None,
        analysis: None,
    }
}

/// A Knative revision's `autoscaling.knative.dev/min-scale` (or `minScale`): the pods it keeps
/// while it is routed to, 0 when unset.
pub fn knative_min_scale(annotations: Option<&std::collections::BTreeMap<String, String>>) -> i64 {
    let annotations = annotations.into_iter().flatten();
    annotations
        .filter(|(k, _)| {
            *k == "autoscaling.knative.dev/min-scale" || *k == "autoscaling.knative.dev/minScale"
        })
        .find_map(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// A revision that takes traffic while it has pods, or wants some (`status.desiredReplicas`, its
/// min-scale), and none is ready: why the model is not healthy.
fn unserved_traffic(rows: &[RevisionStatus], revisions: &[Value]) -> Option<String> {
    rows.iter().find_map(|row| {
        let percent = row.traffic_percent.filter(|p| *p > 0)?;
        let revision = revisions
            .iter()
            .find(|r| r.pointer("/metadata/name").and_then(Value::as_str) == Some(row.name.as_str()));
        let desired = revision.and_then(|r| r.pointer("/status/desiredReplicas")).and_then(Value::as_i64);
        let annotations = revision
            .and_then(|r| r.pointer("/metadata/annotations"))
            .and_then(|a| serde_json::from_value(a.clone()).ok());
        let min_scale = knative_min_scale(annotations.as_ref());
        let wanted = i64::from(row.replicas).max(desired.unwrap_or(0)).max(min_scale);
        (row.ready == 0 && wanted > 0).then(|| {
            format!("revision {} takes {percent}% of the traffic and has 0/{wanted} ready pods", row.name)
        })
    })
}

/// A `ModelStatus` for tests: Deployment `ml/fraud`, 3 replicas all ready, with `revisions`.
#[cfg(test)]
pub(crate) fn model_status(phase: Phase, revisions: Vec<RevisionStatus>) -> ModelStatus {
    ModelStatus {
        api_version: STATUS_API_VERSION.into(),
        kind: "ModelStatus".into(),
        target: TargetRef { kind: "Deployment".into(), name: "fraud".into(), namespace: "ml".into() },
        phase,
        reason: None,
        strategy: None,
        replicas: ReplicaCounts { desired: 3, updated: 3, ready: 3, available: 3 },
        revisions,
        problems: Vec::new(),
        canary: None,
        analysis: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::progress::fixtures::*;
    use k8s_openapi::api::apps::v1::DeploymentStatus;
    use serde_json::json;

    #[test]
    fn deployment_status_document() {
        let rss = vec![replica_set("fraud:v1", 1, 1, 1, 1), replica_set("fraud:v2", 2, 2, 1, 1)];
        let d = deployment(
            "fraud:v2",
            2,
            2,
            DeploymentStatus {
                observed_generation: Some(2),
                replicas: Some(3),
                updated_replicas: Some(2),
                ready_replicas: Some(2),
                available_replicas: Some(2),
                ..Default::default()
            },
        );
        let pods = vec![
            ready(pod("fraud-a", "rs2", 100), 150),
            waiting(pod("fraud-b", "rs2", 120), "CrashLoopBackOff", 1),
            ready(pod("fraud-old", "rs1", 0), 10),
            // A pod the selector matches but another Deployment owns (a canary's): not ours.
            waiting(pod("fraud-canary-x", "rs-canary", 130), "CrashLoopBackOff", 5),
        ];
        let s = deployment_status("ml", &d, &rss, &pods, at(200));
        assert_eq!(s.phase, Phase::Progressing);
        assert_eq!(s.revisions.len(), 2);
        assert_eq!(s.revisions[0].revision, Some(2));
        assert!(s.revisions[0].current);
        assert_eq!(s.problems.len(), 1);
        assert_eq!(s.problems[0].pod, "fraud-b");
        assert_eq!(s.problems[0].revision, Some(2));
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["apiVersion"], STATUS_API_VERSION);
        assert_eq!(v["kind"], "ModelStatus");
        assert_eq!(v["target"], json!({"kind": "Deployment", "name": "fraud", "namespace": "ml"}));
        assert_eq!(v["phase"], "Progressing");
        assert_eq!(
            v["strategy"],
            json!({"type": "RollingUpdate", "maxSurge": "25%", "maxUnavailable": "25%"})
        );
        assert_eq!(v["replicas"], json!({"desired": 2, "updated": 2, "ready": 2, "available": 2}));
        assert_eq!(v["revisions"][0]["images"], json!([{"container": "model", "image": "fraud:v2"}]));
        assert!(v.get("canary").is_none());
    }

    #[test]
    fn knative_revisions_carry_traffic() {
        let ksvc = json!({
            "metadata": {"name": "fraud", "generation": 2},
            "status": {
                "observedGeneration": 2,
                "latestReadyRevisionName": "fraud-00002",
                "conditions": [{"type": "Ready", "status": "True"}],
                "traffic": [{"revisionName": "fraud-00001", "percent": 10}, {"latestRevision": true, "percent": 90}]
            }
        });
        let rev = |n: &str, g: &str, image: &str| {
            json!({"metadata": {"name": n, "labels": {"serving.knative.dev/configurationGeneration": g}},
                   "spec": {"containers": [{"image": image}]}})
        };
        let revisions = vec![rev("fraud-00001", "1", "fraud:v1"), rev("fraud-00002", "2", "fraud:v2")];
        let s = knative_status("ml", &ksvc, &revisions, &[], at(0));
        assert_eq!(s.phase, Phase::Healthy);
        assert_eq!(s.revisions[0].name, "fraud-00002");
        assert_eq!(s.revisions[0].traffic_percent, Some(90));
        assert_eq!(s.revisions[1].traffic_percent, Some(10));
        assert_eq!(s.revisions[0].images[0].image, "fraud:v2");
        // Right after a rollback to a revision scaled to zero: Knative says Ready, but the
        // revision with the traffic wants 2 pods and has none ready.
        let mut waking = revisions.clone();
        waking[1]["status"] = json!({"desiredReplicas": 2, "actualReplicas": 0});
        let s = knative_status("ml", &ksvc, &waking, &[], at(0));
        assert_eq!(s.phase, Phase::Progressing);
        assert_eq!(
            s.reason.as_deref(),
            Some("revision fraud-00002 takes 90% of the traffic and has 0/2 ready pods")
        );
    }
}
