//! Revisions of a Deployment (its ReplicaSets): what each runs, which one `undo` goes back to,
//! the change-cause recorded for a change, and the merge patch that turns one object into another.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Map, Value};

use crate::rollout::image::ImageChange;
use crate::rollout::progress::{new_replica_set, owned_by, revision_of};

pub use crate::rollout::keys::{
    check_label_value, LabelValueError, CHANGE_CAUSE, FIELD_MANAGER, MODEL_VERSION_LABEL, TRACK_LABEL,
};

/// `set-image model=registry.example/fraud:v2 (model v2)`.
pub fn change_cause(verb: &str, changes: &[ImageChange], model_version: Option<&str>) -> String {
    let mut text = verb.to_string();
    for c in changes {
        match c.container.as_str() {
            "" => text.push_str(&format!(" {}", c.to)),
            name => text.push_str(&format!(" {name}={}", c.to)),
        }
    }
    if let Some(v) = model_version {
        text.push_str(&format!(" (model {v})"));
    }
    text
}

/// `kubernetes.io/change-cause` of an undo to a revision that had none:
/// `undo to revision 1 (model=registry.example/fraud:v1)`.
pub fn undo_change_cause(revision: i64, images: &[(String, String)]) -> String {
    let images: Vec<String> = images.iter().map(|(c, i)| format!("{c}={i}")).collect();
    format!("undo to revision {revision} ({})", images.join(" "))
}

/// `(container, image)` of a pod template's containers, then its init containers marked `init:`.
pub fn template_images(template: Option<&PodTemplateSpec>) -> Vec<(String, String)> {
    let Some(spec) = template.and_then(|t| t.spec.as_ref()) else { return Vec::new() };
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| (format!("init:{}", c.name), c.image.clone().unwrap_or_default()));
    let main = spec.containers.iter().map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()));
    main.chain(init).collect()
}

/// `model=fraud:v2, proxy=envoy:1`, or just `fraud:v2` for a single container.
pub fn images_text(images: &[(String, String)]) -> String {
    match images {
        [(_, image)] => image.clone(),
        _ => images.iter().map(|(c, i)| format!("{c}={i}")).collect::<Vec<_>>().join(", "),
    }
}

/// The model-version label of a pod template.
pub fn template_model_version(template: Option<&PodTemplateSpec>) -> Option<String> {
    template?.metadata.as_ref()?.labels.as_ref()?.get(MODEL_VERSION_LABEL).cloned()
}

/// One revision of a Deployment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub revision: i64,
    /// The ReplicaSet holding it.
    pub replica_set: String,
    /// `(container, image)`; init containers as `init:NAME`.
    pub images: Vec<(String, String)>,
    pub model_version: Option<String>,
    pub change_cause: Option<String>,
    pub created: Option<Timestamp>,
    /// Pods it runs (`status.replicas` of its ReplicaSet), and how many are ready.
    pub replicas: i32,
    pub ready: i32,
    /// The Deployment's current template.
    pub current: bool,
}

/// The revisions of `deployment` from its ReplicaSets, oldest first.
pub fn revisions(deployment: &Deployment, replica_sets: &[ReplicaSet]) -> Vec<Revision> {
    let current_uid = new_replica_set(deployment, replica_sets).and_then(|rs| rs.metadata.uid.clone());
    let mut out: Vec<Revision> = replica_sets
        .iter()
        .filter(|rs| owned_by(&rs.metadata, deployment.metadata.uid.as_deref()))
        .filter_map(|rs| {
            let revision = revision_of(&rs.metadata)?;
            let template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
            let status = rs.status.clone().unwrap_or_default();
            Some(Revision {
                revision,
                replica_set: rs.metadata.name.clone().unwrap_or_default(),
                images: template_images(template),
                model_version: template_model_version(template),
                change_cause: rs.metadata.annotations.as_ref().and_then(|a| a.get(CHANGE_CAUSE)).cloned(),
                created: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
                replicas: status.replicas,
                ready: status.ready_replicas.unwrap_or(0),
                current: current_uid.is_some() && rs.metadata.uid == current_uid,
            })
        })
        .collect();
    out.sort_by_key(|r| r.revision);
    out
}

/// Why `undo` has no revision to go back to. `what` names the object (`deployment "fraud"`,
/// `ksvc "sentiment"`); `revisions` are the numbers it has, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    /// `--to-revision` names a revision that does not exist.
    #[error("{what} has no revision {wanted}; its revisions are: {}", listing(.revisions))]
    NoSuchRevision { what: String, wanted: i64, revisions: Vec<i64> },
    #[error("{what} has no earlier revision to roll back to (revisions: {})", listing(.revisions))]
    NoEarlier { what: String, revisions: Vec<i64> },
    /// A ksvc whose status names no latest created revision.
    #[error(
        "{what} has no latest revision to roll back from (revisions: {}); pick one with --to-revision",
        listing(.revisions)
    )]
    NoLatest { what: String, revisions: Vec<i64> },
    #[error(
        "{what} has no revision older than its latest ({latest}) to roll back to (revisions: {}); pick one with --to-revision",
        listing(.revisions)
    )]
    NoOlder { what: String, latest: String, revisions: Vec<i64> },
}

/// `1, 2, 3`, or `none`.
fn listing(revisions: &[i64]) -> String {
    match revisions.is_empty() {
        true => "none".to_string(),
        false => revisions.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
    }
}

/// The ReplicaSet `undo` rolls back to: revision `to` or, as kubectl does, the highest revision
/// below the highest one.
///
/// # Errors
/// The revision does not exist ([`UndoError::NoSuchRevision`], with the ones that do), or there
/// is no earlier one ([`UndoError::NoEarlier`]).
pub fn undo_target<'a>(
    name: &str,
    replica_sets: &'a [ReplicaSet],
    deployment_uid: Option<&str>,
    to: Option<i64>,
) -> Result<&'a ReplicaSet, UndoError> {
    let owned = Numbered::new(
        replica_sets
            .iter()
            .filter(|rs| owned_by(&rs.metadata, deployment_uid))
            .filter_map(|rs| revision_of(&rs.metadata).map(|r| (r, rs)))
            .collect(),
    );
    let what = format!("deployment {name:?}");
    match to {
        Some(n) => owned.find(&what, n),
        None => {
            if owned.0.len() < 2 {
                return Err(UndoError::NoEarlier { what, revisions: owned.numbers() });
            }
            Ok(owned.0[owned.0.len() - 2].1)
        }
    }
}

/// Revisions by number, oldest first, for the lookups `undo` makes.
struct Numbered<'a, T>(Vec<(i64, &'a T)>);

impl<'a, T> Numbered<'a, T> {
    fn new(mut numbered: Vec<(i64, &'a T)>) -> Self {
        numbered.sort_by_key(|(n, _)| *n);
        Self(numbered)
    }

    /// The revision numbers, oldest first.
    fn numbers(&self) -> Vec<i64> {
        self.0.iter().map(|(n, _)| *n).collect()
    }

    /// Revision `n` of `what` (`deployment "fraud"`).
    fn find(&self, what: &str, n: i64) -> Result<&'a T, UndoError> {
        self.0.iter().find(|(r, _)| *r == n).map(|(_, t)| *t).ok_or_else(|| UndoError::NoSuchRevision {
            what: what.to_string(),
            wanted: n,
            revisions: self.numbers(),
        })
    }
}

/// The Knative Revision `undo ksvc/NAME` goes back to: revision `to` (its configuration
/// generation, as `history` numbers it); else, when the latest created revision is not the one
/// serving (it failed or is not ready yet), the one serving; else the newest one older than the
/// latest created.
///
/// # Errors
/// The revision does not exist ([`UndoError::NoSuchRevision`]), the ksvc names no latest
/// revision ([`UndoError::NoLatest`]), or there is no older one ([`UndoError::NoOlder`]).
pub fn knative_undo_target<'a>(
    name: &str,
    revisions: &'a [Value],
    latest_created: Option<&str>,
    latest_ready: Option<&str>,
    to: Option<i64>,
) -> Result<&'a Value, UndoError> {
    let numbered =
        Numbered::new(revisions.iter().filter_map(|r| knative_revision_number(r).map(|n| (n, r))).collect());
    let what = format!("ksvc {name:?}");
    let named = |n: &str| {
        numbered
            .0
            .iter()
            .find(|(_, r)| r.pointer("/metadata/name").and_then(Value::as_str) == Some(n))
            .copied()
    };
    if let Some(n) = to {
        return numbered.find(&what, n);
    }
    if let (Some(created), Some(ready)) = (latest_created, latest_ready) {
        if created != ready {
            if let Some((_, serving)) = named(ready) {
                return Ok(serving);
            }
        }
    }
    let Some((current, _)) = latest_created.and_then(named) else {
        return Err(UndoError::NoLatest { what, revisions: numbered.numbers() });
    };
    numbered.0.iter().rev().find(|(n, _)| *n < current).map(|(_, r)| *r).ok_or_else(|| UndoError::NoOlder {
        what,
        latest: latest_created.unwrap_or("none").to_string(),
        revisions: numbered.numbers(),
    })
}

/// A Knative Revision's number: its configuration generation.
pub fn knative_revision_number(revision: &Value) -> Option<i64> {
    revision
        .pointer("/metadata/labels/serving.knative.dev~1configurationGeneration")
        .and_then(Value::as_str)
        .and_then(|g| g.parse().ok())
}

/// Annotations `kubectl rollout undo` does not copy from the ReplicaSet back to the Deployment.
pub const UNDO_SKIPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// The annotations undo gives the Deployment: its own skipped ones kept, the rest from the
/// ReplicaSet (as kubectl's `setDeploymentAnnotationsTo`), except the canary state: the
/// deployment controller copied it onto the ReplicaSet while a canary ran, and brought back it
/// would show a canary that no longer exists.
pub fn undo_annotations(
    deployment: &BTreeMap<String, String>,
    replica_set: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = deployment
        .iter()
        .filter(|(k, _)| UNDO_SKIPPED_ANNOTATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in replica_set {
        if !UNDO_SKIPPED_ANNOTATIONS.contains(&k.as_str()) && k != super::keys::ROLLOUT_ANNOTATION {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// The JSON merge patch (RFC 7386) that turns `from` into `to`: changed keys with their new value,
/// removed keys as `null`. Arrays are replaced whole.
pub fn merge_patch(from: &Value, to: &Value) -> Option<Value> {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut patch = Map::new();
            for (k, va) in a {
                match b.get(k) {
                    None => {
                        patch.insert(k.clone(), Value::Null);
                    }
                    Some(vb) => {
                        if let Some(p) = merge_patch(va, vb) {
                            patch.insert(k.clone(), p);
                        }
                    }
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    patch.insert(k.clone(), vb.clone());
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (a, b) if a == b => None,
        (_, b) => Some(b.clone()),
    }
}

#[cfg(test)]
mod knative_tests {
    use super::*;
    use serde_json::json;

    fn revision(name: &str, generation: i64) -> Value {
        json!({
            "metadata": {"name": name,
                "labels": {"serving.knative.dev/configurationGeneration": generation.to_string(),
                           "serving.knative.dev/service": "m", MODEL_VERSION_LABEL: "v1"},
                "annotations": {"serving.knative.dev/creator": "admin", CHANGE_CAUSE: "set-image m:v1",
                                "autoscaling.knative.dev/min-scale": "1"}},
            "spec": {"containers": [{"image": format!("m:{generation}")}]}
        })
    }

    #[test]
    fn undo_goes_to_the_revision_before_the_one_serving_or_the_one_asked_for() {
        let revisions = [revision("m-00003", 3), revision("m-00001", 1), revision("m-v2", 2)];
        let name =
            |r: Result<&Value, UndoError>| r.unwrap()["metadata"]["name"].as_str().unwrap().to_string();
        let latest = |n: &'static str| (Some(n), Some(n));
        let target = |(created, ready): (Option<&'static str>, Option<&'static str>), to| {
            knative_undo_target("m", &revisions, created, ready, to)
        };
        assert_eq!(name(target(latest("m-00003"), None)), "m-v2");
        assert_eq!(name(target(latest("m-v2"), None)), "m-00001");
        assert_eq!(name(target(latest("m-v2"), Some(3))), "m-00003");
        // The latest failed: back to the one still serving.
        assert_eq!(name(target((Some("m-00003"), Some("m-v2")), None)), "m-v2");
        let what = || "ksvc \"m\"".to_string();
        let err = target(latest("m-00001"), None).unwrap_err();
        assert_eq!(
            err,
            UndoError::NoOlder { what: what(), latest: "m-00001".into(), revisions: vec![1, 2, 3] }
        );
        assert_eq!(
            err.to_string(),
            "ksvc \"m\" has no revision older than its latest (m-00001) to roll back to (revisions: 1, 2, 3); pick one with --to-revision"
        );
        let err = target((None, None), None).unwrap_err();
        assert_eq!(err, UndoError::NoLatest { what: what(), revisions: vec![1, 2, 3] });
        assert_eq!(
            err.to_string(),
            "ksvc \"m\" has no latest revision to roll back from (revisions: 1, 2, 3); pick one with --to-revision"
        );
        let err = target((None, None), Some(7)).unwrap_err();
        assert_eq!(err, UndoError::NoSuchRevision { what: what(), wanted: 7, revisions: vec![1, 2, 3] });
        assert_eq!(err.to_string(), "ksvc \"m\" has no revision 7; its revisions are: 1, 2, 3");
        // Revisions without numbers are listed as none.
        let err = knative_undo_target("m", &[], None, None, Some(1)).unwrap_err();
        assert_eq!(err.to_string(), "ksvc \"m\" has no revision 1; its revisions are: none");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::progress::fixtures::{deployment, replica_set};
    use serde_json::json;

    #[test]
    fn label_values() {
        for ok in ["v2", "2024-06-01", "fraud.v2_rc1", "A"] {
            check_label_value(ok).unwrap();
        }
        for bad in ["-v2", "v2-", "v 2", "v2/x"] {
            assert_eq!(check_label_value(bad), Err(LabelValueError::Characters), "{bad}");
        }
        assert_eq!(check_label_value(""), Err(LabelValueError::Empty));
        let long = check_label_value(&"a".repeat(64)).unwrap_err();
        assert_eq!(long, LabelValueError::TooLong { length: 64 });
        assert_eq!(long.to_string(), "it is 64 characters long; a label value holds at most 63");
    }

    #[test]
    fn an_undo_without_a_cause_says_what_it_brought_back() {
        let images = vec![
            ("model".to_string(), "r/fraud:v1".to_string()),
            ("init:fetch".to_string(), "r/f:1".to_string()),
        ];
        assert_eq!(undo_change_cause(1, &images), "undo to revision 1 (model=r/fraud:v1 init:fetch=r/f:1)");
    }

    #[test]
    fn change_cause_reads_like_the_command() {
        let changes = vec![ImageChange {
            container: "model".into(),
            init: false,
            from: "registry.example/fraud:v1".into(),
            to: "registry.example/fraud:v2".into(),
        }];
        assert_eq!(
            change_cause("set-image", &changes, Some("v2")),
            "set-image model=registry.example/fraud:v2 (model v2)"
        );
    }

    #[test]
    fn revisions_and_undo_targets() {
        let rss = vec![
            replica_set("fraud:v1", 1, 0, 0, 0),
            replica_set("fraud:v3", 3, 2, 2, 2),
            replica_set("fraud:v2", 2, 0, 0, 0),
        ];
        let d = deployment("fraud:v3", 2, 3, Default::default());
        let revs = revisions(&d, &rss);
        assert_eq!(revs.iter().map(|r| r.revision).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(revs[2].current && !revs[0].current);
        assert_eq!(images_text(&revs[1].images), "fraud:v2");
        let target = undo_target("fraud", &rss, Some("d-uid"), None).unwrap();
        assert_eq!(revision_of(&target.metadata), Some(2));
        let target = undo_target("fraud", &rss, Some("d-uid"), Some(1)).unwrap();
        assert_eq!(revision_of(&target.metadata), Some(1));
        assert_eq!(
            undo_target("fraud", &rss, Some("d-uid"), Some(7)).unwrap_err().to_string(),
            "deployment \"fraud\" has no revision 7; its revisions are: 1, 2, 3"
        );
        let err = undo_target("fraud", &rss[..1], Some("d-uid"), None).unwrap_err();
        assert_eq!(err, UndoError::NoEarlier { what: "deployment \"fraud\"".into(), revisions: vec![1] });
        assert_eq!(
            err.to_string(),
            "deployment \"fraud\" has no earlier revision to roll back to (revisions: 1)"
        );
    }

    #[test]
    fn undo_copies_annotations_as_kubectl() {
        let d: BTreeMap<String, String> = [
            ("deployment.kubernetes.io/revision".into(), "3".into()),
            (CHANGE_CAUSE.into(), "set-image v3".into()),
            ("team".into(), "ml".into()),
        ]
        .into();
        let rs: BTreeMap<String, String> = [
            ("deployment.kubernetes.io/revision".into(), "2".into()),
            (CHANGE_CAUSE.into(), "set-image v2".into()),
            (super::super::keys::ROLLOUT_ANNOTATION.into(), r#"{"router":"replicas"}"#.into()),
        ]
        .into();
        let out = undo_annotations(&d, &rs);
        assert_eq!(out["deployment.kubernetes.io/revision"], "3");
        assert_eq!(out[CHANGE_CAUSE], "set-image v2");
        assert!(!out.contains_key("team"));
        assert!(
            !out.contains_key(super::super::keys::ROLLOUT_ANNOTATION),
            "a copied canary state stays behind"
        );
    }

    #[test]
    fn merge_patches() {
        let from = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]});
        let to = json!({"a": 1, "b": {"c": 5}, "e": [1], "f": "x"});
        let patch = merge_patch(&from, &to).unwrap();
        assert_eq!(patch, json!({"b": {"c": 5, "d": null}, "e": [1], "f": "x"}));
        let mut applied = from.clone();
        json_patch::merge(&mut applied, &patch);
        assert_eq!(applied, to);
        assert_eq!(merge_patch(&from, &from), None);
    }
}
