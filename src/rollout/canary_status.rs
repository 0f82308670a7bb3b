//! What a canary adds to `status`: the phase (Canary (W%), Promoting, Aborting), the track of
//! each revision, the canary Deployment as a row, the requested and (replicas router) effective
//! weight, and the router's objects by name. Pure: works on the status and objects already read.
//! The canary Deployment's row comes from its ReplicaSets, which the stable's selector lists
//! too (the canary's selector is the stable's plus the track label), so `status` needs no extra
//! read for it.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};

use super::revision::template_images;
use super::state::{KnativeRouting, Phase as CanaryPhase, RolloutState, Routing, MODEL_VERSION_LABEL};
use super::status::{images, ContainerImage, ModelStatus, Phase, RevisionStatus, Track};
use super::weights::effective_weight;

/// The canary Deployment as its `status` row shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryTrack {
    name: String,
    images: Vec<ContainerImage>,
    model_version: Option<String>,
    replicas: i32,
    ready: i32,
    created: Option<jiff::Timestamp>,
}

impl CanaryTrack {
    /// The track as the canary Deployment itself reports it.
    pub fn from_deployment(d: &Deployment) -> Self {
        let template = d.spec.as_ref().map(|s| &s.template);
        let status = d.status.clone().unwrap_or_default();
        Self {
            name: d.metadata.name.clone().unwrap_or_default(),
            images: images(template_images(template)),
            model_version: model_version(template.and_then(|t| t.metadata.as_ref())),
            replicas: status.replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            created: d.metadata.creation_timestamp.as_ref().map(|t| t.0),
        }
    }

    /// The track pieced together from the ReplicaSets that Deployment `name` owns among
    /// `replica_sets`: the newest revision's template, the replicas of all of them (as the
    /// Deployment's status counts them). `None` when it owns none (not listed, or not created yet).
    pub fn from_replica_sets(name: &str, replica_sets: &[ReplicaSet]) -> Option<Self> {
        let owned: Vec<&ReplicaSet> = replica_sets
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .filter(|rs| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.kind == "Deployment" && o.name == name && o.controller == Some(true))
            })
            .collect();
        let newest = owned.iter().copied().max_by_key(|rs| super::progress::revision_of(&rs.metadata))?;
        let template = newest.spec.as_ref().and_then(|s| s.template.as_ref());
        let counts = |f: fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> Option<i32>| {
            owned.iter().filter_map(|rs| rs.status.as_ref()).map(|s| f(s).unwrap_or(0)).sum()
        };
        Some(Self {
            name: name.to_string(),
            images: images(template_images(template)),
            model_version: model_version(template.and_then(|t| t.metadata.as_ref())),
            replicas: counts(|s| Some(s.replicas)),
            ready: counts(|s| s.ready_replicas),
            created: owned.iter().filter_map(|rs| rs.metadata.creation_timestamp.as_ref().map(|t| t.0)).min(),
        })
    }
}

fn model_version(metadata: Option<&ObjectMeta>) -> Option<String> {
    metadata.and_then(|m| m.labels.as_ref()).and_then(|l| l.get(MODEL_VERSION_LABEL)).cloned()
}

/// Add the canary recorded in `state` to `status`. `canary` is the canary Deployment's track when
/// the target is a Deployment and it was found (`None` when it is gone).
pub fn add_canary(status: &mut ModelStatus, state: &RolloutState, canary: Option<&CanaryTrack>) {
    let model = status.target.name.clone();
    let is_replicas = matches!(state.routing, Routing::Replicas(_));
    let stable_ready = status.replicas.ready;
    let canary_ready = canary.map_or(0, |c| c.ready);
    let effective = is_replicas.then(|| effective_weight(stable_ready, canary_ready));
    status.phase = match state.phase {
        CanaryPhase::Starting | CanaryPhase::Canary => Phase::Canary,
        CanaryPhase::Promoting => Phase::Promoting,
        CanaryPhase::Aborting => Phase::Aborting,
    };
    let weight_text = match effective {
        Some(e) => format!("{}% requested, {e}% effective", state.weight),
        None => format!("{}%", state.weight),
    };
    let objects = state.routing.objects(&model);
    status.reason = Some(match state.phase {
        CanaryPhase::Starting => format!("canary {} is starting (no traffic yet)", state.canary),
        CanaryPhase::Canary => {
            format!("canary {} takes {weight_text} via the {} router", state.canary, state.routing.name())
        }
        CanaryPhase::Promoting => format!("stable is taking the canary's version ({})", state.images_text()),
        CanaryPhase::Aborting => format!("canary {} is being removed", state.canary),
    });
    let stable_share = |current: bool| -> Option<i64> {
        if !current {
            return None;
        }
        Some(match effective {
            Some(e) => 100 - i64::from(e),
            None => 100 - i64::from(state.weight),
        })
    };
    match &state.routing {
        Routing::Knative(KnativeRouting { stable_revision, .. }) => {
            for row in &mut status.revisions {
                if &row.name == stable_revision {
                    row.track = Some(Track::Stable);
                } else if row.name == state.canary {
                    row.track = Some(Track::Canary);
                }
            }
        }
        _ => {
            for row in &mut status.revisions {
                row.track = Some(Track::Stable);
                if row.traffic_percent.is_none() {
                    row.traffic_percent = stable_share(row.current);
                }
            }
            if let Some(d) = canary {
                status.revisions.insert(0, canary_row(d, state, effective));
            }
        }
    }
    status.canary = Some(json!({
        "router": state.routing.name(),
        "canary": state.canary,
        "phase": format!("{:?}", state.phase),
        "weight": state.weight,
        "effectiveWeight": effective,
        "images": state.images,
        "modelVersion": state.model_version,
        "startTime": state.start_time,
        "objects": objects,
    }));
}

fn canary_row(c: &CanaryTrack, state: &RolloutState, effective: Option<u32>) -> RevisionStatus {
    RevisionStatus {
        revision: None,
        name: c.name.clone(),
        track: Some(Track::Canary),
        images: c.images.clone(),
        model_version: c.model_version.clone(),
        replicas: c.replicas,
        ready: c.ready,
        traffic_percent: Some(i64::from(effective.unwrap_or(state.weight))),
        change_cause: None,
        created: c.created,
        current: false,
    }
}

/// Show the weight the route carries now (`live`, read from the route object) beside the one
/// recorded: the phase text, the tracks' traffic and `.canary.liveWeight` follow the live route,
/// and `.canary.drift` says when the two differ.
pub fn add_live_weight(status: &mut ModelStatus, live: u32) {
    let Some(canary) = status.canary.as_mut() else { return };
    let recorded = canary["weight"].as_u64().unwrap_or(0) as u32;
    canary["liveWeight"] = json!(live);
    let Some(drift) = super::live::weight_drift(recorded, live) else { return };
    canary["drift"] = json!(drift);
    let canary_name = canary["canary"].as_str().unwrap_or_default().to_string();
    for row in &mut status.revisions {
        if row.traffic_percent.is_some() {
            row.traffic_percent = Some(match row.track {
                Some(Track::Canary) => i64::from(live),
                _ if row.name == canary_name => i64::from(live),
                _ => 100 - i64::from(live),
            });
        }
    }
    if let Some(reason) = status.reason.as_mut() {
        reason.push_str(&format!("; {drift}"));
    }
}

/// The name of the canary recorded in `annotations` (the target's), if a canary runs.
pub fn recorded_canary(annotations: Option<&std::collections::BTreeMap<String, String>>) -> Option<String> {
    RolloutState::from_annotations(annotations).ok().flatten().map(|state| state.canary)
}

/// `status` with the canary recorded in `annotations` (the target's) added, if there is one.
pub fn with_recorded_canary(
    mut status: ModelStatus,
    annotations: Option<&std::collections::BTreeMap<String, String>>,
    canary: Option<&CanaryTrack>,
) -> ModelStatus {
    if let Ok(Some(state)) = RolloutState::from_annotations(annotations) {
        add_canary(&mut status, &state, canary);
    }
    status.analysis = crate::rollout::state::analysis_from_annotations(annotations);
    status
}

/// The CHECKS block of `status`: the verdict, then each check's last value against its
/// threshold (from [`ModelStatus::analysis`]).
pub fn checks_lines(analysis: &crate::rollout::check::Analysis) -> String {
    let verdict = analysis.verdict.clone().unwrap_or_else(|| "running".into());
    let mut out = format!(
        "CHECKS:    {verdict} ({} failed evaluations, {} tolerated)\n",
        analysis.failed_evaluations, analysis.failure_limit
    );
    let Some(last) = analysis.evaluations.last() else { return out };
    let at = last.weight.map(|w| format!(" at {w}%")).unwrap_or_default();
    out.push_str(&format!("  last evaluation {}{at}:\n", last.time));
    for check in &last.checks {
        out.push_str(&format!(
            "  {} {}: {} {} {}\n",
            if check.passed { "ok  " } else { "FAIL" },
            check.name,
            check.value,
            check.op,
            crate::rollout::check::Value::Number(check.threshold).text()
        ));
    }
    out
}

/// The annotations of a raw object, as a map.
pub fn raw_annotations(object: &Value) -> Option<std::collections::BTreeMap<String, String>> {
    object.pointer("/metadata/annotations").and_then(|a| serde_json::from_value(a.clone()).ok())
}

/// The lines `status` prints about a canary (from [`ModelStatus::canary`]).
pub fn canary_lines(canary: &Value) -> String {
    let weight = match (canary["effectiveWeight"].as_u64(), canary["liveWeight"].as_u64()) {
        (Some(e), _) => format!("{}% requested, {e}% effective", canary["weight"]),
        (None, Some(live)) if Some(live) != canary["weight"].as_u64() => {
            format!("{}% set, {live}% live on the route", canary["weight"])
        }
        _ => format!("{}%", canary["weight"]),
    };
    let objects: Vec<&str> =
        canary["objects"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut out = format!(
        "Canary:    {} ({}), weight {weight}\n",
        canary["canary"].as_str().unwrap_or_default(),
        canary["images"]
            .as_object()
            .map(|m| m
                .iter()
                .map(|(c, i)| format!("{c}={}", i.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    if let Some(drift) = canary["drift"].as_str() {
        out.push_str(&format!("Drift:     {drift}\n"));
    }
    out.push_str(&format!("Router:    {}", canary["router"].as_str().unwrap_or_default()));
    if !objects.is_empty() {
        out.push_str(&format!(" ({})", objects.join(", ")));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::state::{IstioRouting, ReplicasRouting};
    use std::collections::BTreeMap;

    fn status() -> ModelStatus {
        let revision = RevisionStatus {
            revision: Some(1),
            name: "fraud-abc".into(),
            track: None,
            images: vec![],
            model_version: None,
            replicas: 3,
            ready: 3,
            traffic_percent: None,
            change_cause: None,
            created: None,
            current: true,
        };
        crate::rollout::status::model_status(Phase::Healthy, vec![revision])
    }

    fn state(routing: Routing) -> RolloutState {
        RolloutState {
            routing,
            canary: "fraud-canary".into(),
            weight: 25,
            images: BTreeMap::from([("model".into(), "r/fraud:v2".into())]),
            model_version: Some("v2".into()),
            start_time: "2026-01-01T00:00:00Z".into(),
            phase: CanaryPhase::Canary,
            stable_replicas: 4,
            analysis: None,
            canary_uid: None,
        }
    }

    fn canary_deployment() -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "fraud-canary"},
            "spec": {"selector": {}, "template": {"metadata": {"labels": {MODEL_VERSION_LABEL: "v2"}},
                "spec": {"containers": [{"name": "model", "image": "r/fraud:v2"}]}}},
            "status": {"replicas": 1, "readyReplicas": 1}
        }))
        .unwrap()
    }

    #[test]
    fn replicas_router_shows_requested_and_effective_weight() {
        let mut s = status();
        add_canary(
            &mut s,
            &state(Routing::Replicas(ReplicasRouting { service: Some("fraud".into()) })),
            Some(&CanaryTrack::from_deployment(&canary_deployment())),
        );
        assert_eq!(s.phase, Phase::Canary);
        assert_eq!(s.revisions.len(), 2);
        assert_eq!(s.revisions[0].track, Some(Track::Canary));
        assert_eq!(s.revisions[0].traffic_percent, Some(25));
        assert_eq!(s.revisions[0].model_version.as_deref(), Some("v2"));
        assert_eq!(s.revisions[1].track, Some(Track::Stable));
        assert_eq!(s.revisions[1].traffic_percent, Some(75));
        assert_eq!(s.canary.as_ref().unwrap()["effectiveWeight"], 25);
        assert!(s.reason.as_deref().unwrap().contains("25% requested, 25% effective"));
        let lines = canary_lines(s.canary.as_ref().unwrap());
        assert!(lines.contains("Router:    replicas (service/fraud)"), "{lines}");
    }

    fn replica_set(owner: &str, revision: &str, image: &str, replicas: i32, ready: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{owner}-{revision}"), "creationTimestamp": format!("2026-01-01T00:0{revision}:00Z"),
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner, "uid": "u", "controller": true}]},
            "spec": {"selector": {}, "template": {"metadata": {"labels": {MODEL_VERSION_LABEL: format!("v{revision}")}},
                "spec": {"containers": [{"name": "model", "image": image}]}}},
            "status": {"replicas": replicas, "readyReplicas": ready}
        }))
        .unwrap()
    }

    #[test]
    fn canary_track_from_its_replica_sets_matches_its_deployment() {
        let listed = [
            replica_set("fraud", "1", "r/fraud:v1", 3, 3),
            replica_set("fraud-canary", "2", "r/fraud:v3", 1, 0),
            replica_set("fraud-canary", "1", "r/fraud:v2", 1, 1),
        ];
        let track = CanaryTrack::from_replica_sets("fraud-canary", &listed).unwrap();
        assert_eq!(track.name, "fraud-canary");
        assert_eq!(
            track.images,
            vec![ContainerImage { container: "model".into(), image: "r/fraud:v3".into() }]
        );
        assert_eq!(track.model_version.as_deref(), Some("v2"), "the newest revision's template");
        assert_eq!((track.replicas, track.ready), (2, 1), "summed over its ReplicaSets");
        assert_eq!(track.created, Some("2026-01-01T00:01:00Z".parse().unwrap()), "the oldest");
        assert_eq!(CanaryTrack::from_replica_sets("other-canary", &listed), None);
        let from_deployment = CanaryTrack::from_deployment(&canary_deployment());
        assert_eq!(
            from_deployment.images,
            vec![ContainerImage { container: "model".into(), image: "r/fraud:v2".into() }]
        );
        assert_eq!((from_deployment.replicas, from_deployment.ready), (1, 1));
    }

    #[test]
    fn mesh_router_names_its_objects() {
        let mut s = status();
        let routing = Routing::Istio(IstioRouting {
            virtual_service: "fraud".into(),
            service: "fraud".into(),
            original_http: json!([]),
            destination_rule: "fraud".into(),
            destination_rule_created: true,
            original_subsets: Value::Null,
        });
        let mut st = state(routing);
        st.phase = CanaryPhase::Promoting;
        add_canary(&mut s, &st, None);
        assert_eq!(s.phase, Phase::Promoting);
        assert_eq!(s.revisions[0].traffic_percent, Some(75));
        let lines = canary_lines(s.canary.as_ref().unwrap());
        assert!(lines.contains("virtualservice/fraud, destinationrule/fraud"), "{lines}");
        assert!(lines.contains("weight 25%"), "{lines}");
    }
}
