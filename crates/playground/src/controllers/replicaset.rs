//! The ReplicaSet controller's decisions: which pods to create or delete (unscheduled, pending and
//! unready pods go first, as in kube-controller-manager) and the ReplicaSet's status.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::deployment::controller_ref;
use super::{ControllerEvent, EventType};

/// `controller.IsPodActive`: not Succeeded, not Failed, not being deleted.
pub fn is_pod_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded") | Some("Failed")) && pod.metadata.deletion_timestamp.is_none()
}

/// `podutil.IsPodReady`: the Ready condition is True.
pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")
}

fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod).filter(|c| c.status == "True")?.last_transition_time.as_ref().map(|t| t.0)
}

/// `podutil.IsPodAvailable`: ready for at least `min_ready_seconds`.
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    ready_since(pod)
        .is_some_and(|since| since + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) < now)
}

/// What one sync of a ReplicaSet decided.
#[derive(Debug, Default)]
pub struct ReplicaSetSync {
    /// Pods to create (with `generateName`, the template, and a controller reference).
    pub create_pods: Vec<Pod>,
    /// Pods to delete, by name, in the order chosen.
    pub delete_pods: Vec<String>,
    /// The new status, when it changed.
    pub status: Option<ReplicaSetStatus>,
    /// Look again after this long (pods becoming available after minReadySeconds).
    pub requeue_after: Option<Duration>,
}

/// Events for the pods created and deleted, once the writes succeeded.
pub fn created_event(pod_name: &str) -> ControllerEvent {
    ControllerEvent {
        type_: EventType::Normal,
        reason: "SuccessfulCreate".into(),
        message: format!("Created pod: {pod_name}"),
    }
}

/// The event for a deleted pod.
pub fn deleted_event(pod_name: &str) -> ControllerEvent {
    ControllerEvent {
        type_: EventType::Normal,
        reason: "SuccessfulDelete".into(),
        message: format!("Deleted pod: {pod_name}"),
    }
}

/// Most pods created or deleted in one sync (`burstReplicas`).
const BURST_REPLICAS: usize = 500;

/// One sync of a ReplicaSet. `pods` are the pods it controls (any state); `related_pods_per_node`
/// counts active pods of the same owner (all ReplicaSets of its Deployment) per node.
pub fn sync_replica_set(
    rs: &ReplicaSet,
    pods: &[&Pod],
    related_pods_per_node: &HashMap<String, usize>,
    now: Timestamp,
) -> ReplicaSetSync {
    let mut result = ReplicaSetSync::default();
    let mut active: Vec<&Pod> = pods.iter().copied().filter(|p| is_pod_active(p)).collect();
    let spec = rs.spec.clone().unwrap_or_default();
    let desired = spec.replicas.unwrap_or(1).max(0) as usize;
    if rs.metadata.deletion_timestamp.is_none() {
        if active.len() < desired {
            let count = (desired - active.len()).min(BURST_REPLICAS);
            result.create_pods = (0..count).map(|_| pod_from_template(rs)).collect();
        } else if active.len() > desired {
            let count = (active.len() - desired).min(BURST_REPLICAS);
            if count < active.len() {
                rank_for_deletion(&mut active, related_pods_per_node, now);
            }
            result.delete_pods = active[..count].iter().filter_map(|p| p.metadata.name.clone()).collect();
        }
    }
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let template_labels = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            template_labels.iter().all(|(k, v)| p.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
        })
        .count() as i32;
    let ready = active.iter().filter(|p| is_pod_ready(p)).count() as i32;
    let available = active.iter().filter(|p| is_pod_available(p, min_ready, now)).count() as i32;
    let old = rs.status.clone().unwrap_or_default();
    let non_zero = |n: i32| (n != 0).then_some(n);
    let status = ReplicaSetStatus {
        replicas: active.len() as i32,
        fully_labeled_replicas: non_zero(fully_labeled),
        ready_replicas: non_zero(ready),
        available_replicas: non_zero(available),
        observed_generation: rs.metadata.generation,
        // Pod creation never fails here, so there is never a ReplicaFailure condition to keep.
        conditions: old
            .conditions
            .map(|mut c| {
                c.retain(|c| c.type_ != "ReplicaFailure");
                c
            })
            .filter(|c| !c.is_empty()),
        terminating_replicas: None,
    };
    if min_ready > 0 && ready == desired as i32 && available != desired as i32 {
        result.requeue_after = Some(Duration::from_secs(min_ready as u64));
    } else if min_ready > 0 && ready > available {
        // Look again when the next ready pod crosses minReadySeconds.
        let next = active
            .iter()
            .filter(|p| is_pod_ready(p) && !is_pod_available(p, min_ready, now))
            .filter_map(|p| ready_since(p))
            .min()
            .map(|since| {
                since
                    + jiff::SignedDuration::from_secs(i64::from(min_ready))
                    + jiff::SignedDuration::from_millis(1)
            });
        if let Some(due) = next {
            result.requeue_after = Some(
                Duration::try_from(now.duration_until(due)).unwrap_or_default() + Duration::from_millis(10),
            );
        }
    }
    if rs.status.as_ref() != Some(&status) {
        result.status = Some(status);
    }
    result
}

/// `controller.GetPodFromTemplate`: labels, annotations, finalizers and spec from the template,
/// `generateName` from the ReplicaSet's name, and a controller reference.
pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let template = rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.metadata.name.as_deref().unwrap_or(""))),
            namespace: rs.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![controller_ref("apps/v1", "ReplicaSet", &rs.metadata)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn node_name(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("")
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
}

/// Order pods so that the ones to delete first come first (`ActivePodsWithRanks.Less`, with
/// LogarithmicScaleDown as on by default). The Go comparison is not a total order (a uid
/// tie-break inside a bucket, time equality elsewhere); this sorts by an equivalent key so
/// that the order is total: unassigned, phase, not ready, deletion cost, doubled-up, ready
/// recently (log buckets), restarts, created recently (log buckets), uid.
pub fn rank_for_deletion(pods: &mut [&Pod], related_pods_per_node: &HashMap<String, usize>, now: Timestamp) {
    pods.sort_by_cached_key(|p| {
        let rank = related_pods_per_node.get(node_name(p)).copied().unwrap_or(0);
        let ready = is_pod_ready(p);
        let ready_bucket = if ready { log_rank(ready_since(p), now) } else { 0 };
        let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        (
            !node_name(p).is_empty(),
            phase_ordinal(p),
            ready,
            deletion_cost(p),
            std::cmp::Reverse(rank),
            ready_bucket,
            std::cmp::Reverse(max_restarts(p)),
            log_rank(created, now),
            p.metadata.uid.clone(),
        )
    });
}

fn log_rank(t: Option<Timestamp>, now: Timestamp) -> i64 {
    match t {
        Some(t) => {
            let nanos = now.duration_since(t).as_nanos();
            if nanos > 0 {
                (nanos as f64).log2() as i64
            } else {
                -1
            }
        }
        None => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodSpec, PodStatus, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-abc".into()),
                namespace: Some("ns".into()),
                uid: Some("rs-uid".into()),
                generation: Some(2),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(min_ready),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_string(), "web".to_string())].into()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec::default()),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn pod(name: &str, node: &str, phase: &str, ready_at: Option<i64>, created: i64) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                labels: Some([("app".to_string(), "web".to_string())].into()),
                creation_timestamp: Some(Time(t(created))),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.to_string()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready_at.is_some() { "True" } else { "False" }.into(),
                    last_transition_time: Some(Time(t(ready_at.unwrap_or(created)))),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn creates_the_missing_pods_from_the_template() {
        let result = sync_replica_set(&rs(3, 0), &[], &HashMap::new(), t(0));
        assert_eq!(result.create_pods.len(), 3);
        let pod = &result.create_pods[0];
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(pod.metadata.labels.as_ref().unwrap()["app"], "web");
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("ReplicaSet", "web-abc", Some(true))
        );
        let status = result.status.unwrap();
        assert_eq!((status.replicas, status.observed_generation), (0, Some(2)));
    }

    #[test]
    fn deletes_unscheduled_then_pending_then_unready_then_newest() {
        let pods = [
            pod("ready-old", "n1", "Running", Some(10), 0),
            pod("ready-new", "n2", "Running", Some(1000), 900),
            pod("unready", "n1", "Running", None, 5),
            pod("pending", "n3", "Pending", None, 3),
            pod("unscheduled", "", "Pending", None, 1),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let now = t(100_000);
        let mut expected = vec!["unscheduled", "pending", "unready", "ready-new"];
        for n in (1..=4).rev() {
            let result = sync_replica_set(&rs(5 - n, 0), &refs, &HashMap::new(), now);
            assert_eq!(result.delete_pods, expected, "scale down by {n}");
            expected.pop();
        }
    }

    #[test]
    fn terminating_pods_are_not_counted() {
        let mut gone = pod("gone", "n1", "Running", Some(1), 0);
        gone.metadata.deletion_timestamp = Some(Time(t(2)));
        let kept = pod("kept", "n1", "Running", Some(1), 0);
        let result = sync_replica_set(&rs(2, 0), &[&gone, &kept], &HashMap::new(), t(5));
        assert_eq!(result.create_pods.len(), 1);
        let status = result.status.unwrap();
        assert_eq!(
            (status.replicas, status.ready_replicas, status.available_replicas),
            (1, Some(1), Some(1))
        );
    }

    #[test]
    fn restarts_break_ties_and_doubled_up_nodes_go_first() {
        let mut crashing = pod("crashing", "n1", "Running", None, 0);
        crashing.status.as_mut().unwrap().container_statuses =
            Some(vec![ContainerStatus { restart_count: 4, ..Default::default() }]);
        let calm = pod("calm", "n2", "Running", None, 0);
        let result = sync_replica_set(&rs(1, 0), &[&calm, &crashing], &HashMap::new(), t(50));
        assert_eq!(result.delete_pods, vec!["crashing"]);
        let crowded: HashMap<String, usize> = [("n2".to_string(), 3), ("n1".to_string(), 1)].into();
        let a = pod("a", "n1", "Running", None, 0);
        let b = pod("b", "n2", "Running", None, 0);
        let result = sync_replica_set(&rs(1, 0), &[&a, &b], &crowded, t(50));
        assert_eq!(result.delete_pods, vec!["b"]);
    }

    #[test]
    fn ranking_many_mixed_pods_is_a_total_order() {
        // Rust's sort panics on a comparison that is not a total order; a mix of states must not.
        let pods: Vec<Pod> = (0..2000)
            .map(|i| {
                let ready = (i % 3 != 0).then_some(i % 17);
                let mut p = pod(
                    &format!("p{i}"),
                    if i % 11 == 0 { "" } else { "n1" },
                    if i % 7 == 0 { "Pending" } else { "Running" },
                    ready,
                    i % 13,
                );
                p.status.as_mut().unwrap().container_statuses =
                    Some(vec![ContainerStatus { restart_count: (i % 5) as i32, ..Default::default() }]);
                p
            })
            .collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let result = sync_replica_set(&rs(500, 0), &refs, &HashMap::new(), t(100));
        assert_eq!(result.delete_pods.len(), 500, "at most burstReplicas per sync");
        assert!(
            result
                .delete_pods
                .iter()
                .take(182)
                .all(|n| n.trim_start_matches('p').parse::<usize>().unwrap() % 11 == 0),
            "unassigned first"
        );
    }

    #[test]
    fn available_needs_min_ready_seconds() {
        let a = pod("a", "n1", "Running", Some(10), 0);
        let result = sync_replica_set(&rs(1, 5), &[&a], &HashMap::new(), t(12));
        let status = result.status.unwrap();
        assert_eq!((status.ready_replicas, status.available_replicas), (Some(1), None));
        assert_eq!(result.requeue_after, Some(Duration::from_secs(5)));
        let result = sync_replica_set(&rs(1, 5), &[&a], &HashMap::new(), t(16));
        assert_eq!(result.status.unwrap().available_replicas, Some(1));
    }
}
