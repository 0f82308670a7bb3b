//! The `knative` router: the canary is a new Revision of the ksvc (named from the model version or
//! a short hash), and `spec.traffic` splits between the stable revision by name and the canary
//! revision tagged `canary`.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::FutureExt;
use kube::discovery::ApiResource;
use serde_json::{json, Value};

use super::{End, Router};
use crate::error::{Error, Result};
use crate::rollout::revision::CHANGE_CAUSE;
use crate::rollout::state::{KnativeRouting, Routing, MODEL_VERSION_LABEL};
use crate::rollout::weights::Split;
use crate::watch::Served;
use crate::write::Writer;

pub const GROUP: &str = "serving.knative.dev";
/// Label Knative puts on a revision's pods.
pub const REVISION_LABEL: &str = "serving.knative.dev/revision";

/// The revision that serves the ksvc today: the one revision holding all traffic by name, else
/// the latest ready revision.
pub fn stable_revision(ksvc: &Value) -> Option<String> {
    let pinned = ksvc.pointer("/spec/traffic").and_then(Value::as_array).and_then(|traffic| {
        let full: Vec<&Value> = traffic.iter().filter(|t| t["percent"].as_u64() == Some(100)).collect();
        match full.as_slice() {
            [only] => only["revisionName"].as_str().map(str::to_string),
            _ => None,
        }
    });
    pinned.or_else(|| {
        ksvc.pointer("/status/latestReadyRevisionName").and_then(Value::as_str).map(str::to_string)
    })
}

/// The ksvc template for the canary: the stable template with the new images, named `revision`.
pub fn canary_template(
    template: &Value,
    revision: &str,
    images: &BTreeMap<String, String>,
    model_version: Option<&str>,
) -> Result<Value> {
    let mut template = template.clone();
    template["metadata"]["name"] = json!(revision);
    // The revision is made from the template's metadata: its change-cause is what `history` shows
    // for it (the stable's would be a stale one). The same revision is later promoted as it is.
    if !template["metadata"]["annotations"].is_object() {
        template["metadata"]["annotations"] = json!({});
    }
    template["metadata"]["annotations"][CHANGE_CAUSE] =
        json!(crate::rollout::canary::canary_change_cause("canary", images, model_version));
    match model_version {
        Some(version) => template["metadata"]["labels"][MODEL_VERSION_LABEL] = json!(version),
        // The stable template's version is not the canary's: no label rather than a stale one.
        None => {
            if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
                labels.remove(MODEL_VERSION_LABEL);
            }
        }
    }
    let containers = template
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::usage("the ksvc template has no containers"))?;
    let single = containers.len() == 1;
    for (name, image) in images {
        let found = containers.iter_mut().find(|c| {
            c["name"].as_str() == Some(name) || (single && (name.is_empty() || c.get("name").is_none()))
        });
        match found {
            Some(container) => container["image"] = json!(image),
            None => return Err(Error::usage(format!("the ksvc template has no container {name:?}"))),
        }
    }
    Ok(template)
}

/// `spec.traffic` during the canary: stable by name, the canary tagged `canary`.
pub fn canary_traffic(stable: &str, canary: &str, split: Split) -> Value {
    json!([
        {"revisionName": stable, "percent": split.stable},
        {"revisionName": canary, "percent": split.canary, "tag": "canary"}
    ])
}

/// `spec.traffic` after promotion: the shape before the canary with the stable revision's
/// entries moved to the canary revision (null stays null: all traffic to the latest revision,
/// which is now the canary's).
pub fn promoted_traffic(original: &Value, stable: &str, canary: &str) -> Value {
    match original.as_array() {
        None => Value::Null,
        Some(entries) => Value::Array(
            entries
                .iter()
                .map(|t| {
                    let mut t = t.clone();
                    if t["revisionName"] == stable {
                        t["revisionName"] = json!(canary);
                    }
                    t
                })
                .collect(),
        ),
    }
}

/// The revision that traffic following the latest revision would reach, when it is not the
/// canary: someone changed the ksvc's template during the canary, so `traffic` (after
/// promotion) would send that share to another revision. `None` when nothing follows the latest
/// revision or the latest is the canary.
pub fn latest_elsewhere(ksvc: &Value, traffic: &Value, canary: &str) -> Option<String> {
    let follows_latest =
        traffic.as_array().is_none_or(|entries| entries.iter().any(|t| t["latestRevision"] == true));
    if !follows_latest {
        return None;
    }
    let template = ksvc.pointer("/spec/template/metadata/name").and_then(Value::as_str);
    let created = ksvc.pointer("/status/latestCreatedRevisionName").and_then(Value::as_str);
    match template.or(created) {
        Some(latest) if latest == canary => None,
        Some(latest) => Some(latest.to_string()),
        None => Some("a revision of an unnamed template".to_string()),
    }
}

/// `spec.traffic` while aborting: everything to the stable revision by name, so that no revision
/// made from a later template takes traffic.
pub fn aborted_traffic(stable: &str) -> Value {
    json!([{"revisionName": stable, "percent": 100}])
}

fn set_traffic(ksvc: &mut Value, traffic: Value) {
    if traffic.is_null() {
        if let Some(spec) = ksvc["spec"].as_object_mut() {
            spec.remove("traffic");
        }
    } else {
        ksvc["spec"]["traffic"] = traffic;
    }
}

/// The knative router.
pub struct Knative {
    pub routing: KnativeRouting,
    pub service_kind: ApiResource,
    pub revision_kind: ApiResource,
    pub model: String,
    pub canary_revision: String,
}

impl Knative {
    fn parts(&self) -> (&str, &Value, &Value) {
        (&self.routing.stable_revision, &self.routing.original_traffic, &self.routing.original_template)
    }

    /// Bring up the canary revision: the new template, and all traffic pinned to the stable
    /// revision by name, in one update, so the new revision never takes traffic by being the
    /// latest (and no traffic entry names a revision that does not exist yet).
    ///
    /// # Errors
    /// When the ksvc is gone or the write is refused.
    pub async fn start(&self, w: &Writer, template: &Value) -> Result<()> {
        let (stable, _, _) = self.parts();
        w.update(&self.service_kind, &self.model, |ksvc| {
            ksvc["spec"]["template"] = template.clone();
            // Keep a weight already given (a re-run) rather than resetting it.
            let has_canary = ksvc.pointer("/spec/traffic").and_then(Value::as_array).is_some_and(|t| {
                t.iter().any(|e| e["revisionName"] == self.canary_revision.as_str() && e["tag"] == "canary")
            });
            if !has_canary {
                ksvc["spec"]["traffic"] = aborted_traffic(stable);
            }
            Ok(())
        })
        .await?
        .ok_or_else(|| Error::usage(format!("ksvc {} not found", self.model)))?;
        Ok(())
    }
}

impl Knative {
    /// Abort: the weight back on the stable revision first, at once (pinned by name); then the
    /// template from before the canary, named after the revision Knative stamped from it, so that
    /// Knative serves that revision again rather than stamping a copy that would need new pods
    /// (its `CheckNameAvailability` reuses a revision whose spec is the template's); once Knative
    /// has taken it, the canary revision goes and the traffic block gets back its shape from
    /// before the canary. Each step is a no-op when already done, so a re-run carries on.
    async fn abort(&self, w: &Writer) -> Result<()> {
        let (stable, original_traffic, original_template) = self.parts();
        let Some(stable_revision) = w.get(&self.revision_kind, stable).await? else {
            return Err(Error::failed(format!(
                "cannot abort the canary of ksvc {}: its stable revision {stable} no longer exists; send spec.traffic to a revision that does and remove the canary revision {} by hand",
                self.model, self.canary_revision
            )));
        };
        w.update(&self.service_kind, &self.model, |ksvc| {
            let routes_canary = ksvc["spec"]["traffic"]
                .as_array()
                .is_some_and(|t| t.iter().any(|e| e["revisionName"] == self.canary_revision.as_str()));
            if routes_canary {
                set_traffic(ksvc, aborted_traffic(stable));
            }
            Ok(())
        })
        .await?;
        let unnamed = unnamed_template(original_template);
        let current = w.get(&self.service_kind, &self.model).await?.unwrap_or_default();
        let mut taken = if current["spec"]["template"] == unnamed {
            // A run before this one fell back to the unnamed template: wait for that copy.
            self.write_template(w, unnamed.clone()).await?
        } else {
            // The revision stamped from the template from before the canary, if it is ready;
            // else the stable revision, with its own spec.
            let selector = format!("serving.knative.dev/service={}", self.model);
            let revisions = w.list(&self.revision_kind, Some(&selector)).await?;
            let reused = stamped_from(&revisions, original_template, &self.canary_revision).filter(|name| {
                revisions
                    .iter()
                    .any(|r| r["metadata"]["name"] == name.as_str() && revision_ready(r) == Some(Ok(())))
            });
            let template = match reused {
                Some(name) => named_template(original_template, &name),
                None => {
                    let mut template = named_template(original_template, stable);
                    template["spec"] = stable_revision["spec"].clone();
                    template
                }
            };
            self.write_template(w, template).await?
        };
        if let Served::NameTaken(why) = &taken {
            // Knative's defaults changed since that revision was made: let it stamp a copy.
            tracing::debug!("ksvc {}: {why}; restoring the template without a name", self.model);
            taken = self.write_template(w, unnamed).await?;
        }
        if let Served::NameTaken(why) = taken {
            return Err(Error::failed(format!(
                "Knative cannot serve the template of ksvc {} from before the canary: {why}; all traffic stays pinned to {stable}",
                self.model
            )));
        }
        w.delete(&self.revision_kind, &self.canary_revision).await?;
        w.update(&self.service_kind, &self.model, |ksvc| {
            set_traffic(ksvc, original_traffic.clone());
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Write `template` as the ksvc template and wait until Knative serves it (the revision it
    /// names, when it names one).
    async fn write_template(&self, w: &Writer, template: Value) -> Result<Served> {
        let written = w
            .update(&self.service_kind, &self.model, |ksvc| {
                ksvc["spec"]["template"] = template.clone();
                Ok(())
            })
            .await?
            .ok_or_else(|| Error::failed(format!("ksvc {} is gone", self.model)))?;
        if w.is_dry_run() {
            return Ok(Served::Yes);
        }
        let generation = written.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
        let name = template.pointer("/metadata/name").and_then(Value::as_str);
        crate::watch::wait_knative_serving(
            &w.cluster,
            &self.model,
            generation,
            name,
            &self.canary_revision,
            w.deadline(),
        )
        .await
    }
}

/// A Revision whose Ready condition is False: its reason and message, as Knative wrote them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct RevisionFailed {
    /// `NotReady` when the condition has none.
    pub reason: String,
    pub message: String,
}

/// `Some(Ok)` when a Revision is Ready, `Some(Err(failed))` when it failed, `None` while pending.
pub fn revision_ready(revision: &Value) -> Option<std::result::Result<(), RevisionFailed>> {
    let conditions = revision.pointer("/status/conditions")?.as_array()?;
    let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
    match ready["status"].as_str() {
        Some("True") => Some(Ok(())),
        Some("False") => Some(Err(RevisionFailed {
            reason: ready["reason"].as_str().unwrap_or("NotReady").to_string(),
            message: ready["message"].as_str().unwrap_or("").to_string(),
        })),
        _ => None,
    }
}

/// `template` without a revision name of its own.
fn unnamed_template(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(meta) = template.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("name");
    }
    template
}

/// The newest revision (other than the canary's) that Knative stamped from `template`: the one
/// its own name names, else one with its spec.
fn stamped_from(revisions: &[Value], template: &Value, canary: &str) -> Option<String> {
    let spec = &template["spec"];
    let name_of = |r: &Value| r.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string);
    let candidates: Vec<&Value> =
        revisions.iter().filter(|r| name_of(r).as_deref() != Some(canary) && &r["spec"] == spec).collect();
    let own = template.pointer("/metadata/name").and_then(Value::as_str);
    if let Some(own) = own.filter(|o| candidates.iter().any(|r| name_of(r).as_deref() == Some(*o))) {
        return Some(own.to_string());
    }
    candidates
        .into_iter()
        .max_by_key(|r| crate::rollout::revision::knative_revision_number(r).unwrap_or(0))
        .and_then(name_of)
}

/// The ksvc template that serves Knative Revision `revision` again: its name (so that Knative
/// reuses it rather than building a copy), its spec, and its labels and annotations without
/// the ones Knative sets itself.
pub fn revision_template(revision: &Value) -> Value {
    let own = |key: &str| !key.starts_with("serving.knative.dev/");
    let mut metadata = serde_json::Map::new();
    for (key, pointer) in [("labels", "/metadata/labels"), ("annotations", "/metadata/annotations")] {
        let values: serde_json::Map<String, Value> = revision
            .pointer(pointer)
            .and_then(Value::as_object)
            .map(|m| m.iter().filter(|(k, _)| own(k)).map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if !values.is_empty() {
            metadata.insert(key.into(), Value::Object(values));
        }
    }
    let template = json!({"metadata": metadata, "spec": revision.get("spec").cloned().unwrap_or_default()});
    named_template(&template, revision.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default())
}

/// A ksvc template naming revision `name`, with the labels, annotations and spec of `template`.
pub fn named_template(template: &Value, name: &str) -> Value {
    let mut template = template.clone();
    if !template["metadata"].is_object() {
        template["metadata"] = json!({});
    }
    template["metadata"]["name"] = json!(name);
    template
}

impl Router for Knative {
    fn routing(&self) -> Routing {
        Routing::Knative(self.routing.clone())
    }

    fn prepare<'a>(&'a self, _w: &'a Writer) -> BoxFuture<'a, Result<()>> {
        // Everything happens in `start`, in the same update as the new template.
        async { Ok(()) }.boxed()
    }

    fn set_weight<'a>(&'a self, w: &'a Writer, canary_weight: u32) -> BoxFuture<'a, Result<()>> {
        async move {
            let (stable, _, _) = self.parts();
            let traffic = canary_traffic(stable, &self.canary_revision, Split::with_canary(canary_weight));
            w.update(&self.service_kind, &self.model, |ksvc| {
                ksvc["spec"]["traffic"] = traffic.clone();
                Ok(())
            })
            .await?
            .ok_or_else(|| Error::failed(format!("ksvc {} is gone", self.model)))?;
            Ok(())
        }
        .boxed()
    }

    fn restore<'a>(&'a self, w: &'a Writer, end: End) -> BoxFuture<'a, Result<()>> {
        async move {
            let (stable, original_traffic, _) = self.parts();
            match end {
                End::Promote => {
                    let traffic = promoted_traffic(original_traffic, stable, &self.canary_revision);
                    w.update(&self.service_kind, &self.model, |ksvc| {
                        if let Some(latest) = latest_elsewhere(ksvc, &traffic, &self.canary_revision) {
                            return Err(Error::failed(format!(
                                "cannot promote the canary of ksvc {}: its template was changed during the canary, so traffic that follows the latest revision would go to {latest}, not to the canary revision {}; set the template back to the canary's or run `kubectl modelroll abort ksvc/{}`",
                                self.model, self.canary_revision, self.model
                            )));
                        }
                        set_traffic(ksvc, traffic.clone());
                        Ok(())
                    })
                    .await?;
                }
                End::Abort => self.abort(w).await?,
            }
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ksvc() -> Value {
        json!({
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "fraud", "namespace": "ml"},
            "spec": {
                "template": {"metadata": {"labels": {"app": "fraud"}},
                             "spec": {"containers": [{"image": "r/fraud:v1"}]}},
                "traffic": [{"latestRevision": true, "percent": 100}]
            },
            "status": {"latestReadyRevisionName": "fraud-00001"}
        })
    }

    #[test]
    fn promotion_refuses_latest_traffic_that_would_miss_the_canary() {
        let mut ksvc = ksvc();
        ksvc["spec"]["template"]["metadata"]["name"] = json!("fraud-v2");
        let latest = json!([{"latestRevision": true, "percent": 100}]);
        assert_eq!(latest_elsewhere(&ksvc, &latest, "fraud-v2"), None);
        assert_eq!(latest_elsewhere(&ksvc, &Value::Null, "fraud-v2"), None);
        ksvc["spec"]["template"]["metadata"]["name"] = json!("fraud-v3");
        assert_eq!(latest_elsewhere(&ksvc, &latest, "fraud-v2").as_deref(), Some("fraud-v3"));
        // Traffic pinned by name does not follow the template.
        let pinned = json!([{"revisionName": "fraud-v2", "percent": 100}]);
        assert_eq!(latest_elsewhere(&ksvc, &pinned, "fraud-v2"), None);
        // An unnamed template: the latest created revision says where it goes.
        ksvc["spec"]["template"]["metadata"] = json!({});
        ksvc["status"]["latestCreatedRevisionName"] = json!("fraud-00007");
        assert_eq!(latest_elsewhere(&ksvc, &latest, "fraud-v2").as_deref(), Some("fraud-00007"));
    }

    #[test]
    fn stable_revision_is_the_pinned_or_latest_ready_one() {
        assert_eq!(stable_revision(&ksvc()).as_deref(), Some("fraud-00001"));
        let mut pinned = ksvc();
        pinned["spec"]["traffic"] = json!([{"revisionName": "fraud-v1", "percent": 100}]);
        assert_eq!(stable_revision(&pinned).as_deref(), Some("fraud-v1"));
    }

    #[test]
    fn canary_template_is_named_and_has_the_new_image() {
        let images = BTreeMap::from([(String::new(), "r/fraud:v2".to_string())]);
        let t = canary_template(&ksvc()["spec"]["template"], "fraud-v2", &images, Some("v2")).unwrap();
        assert_eq!(t["metadata"]["name"], "fraud-v2");
        assert_eq!(t["metadata"]["labels"][MODEL_VERSION_LABEL], "v2");
        assert_eq!(t["spec"]["containers"][0]["image"], "r/fraud:v2");
        // The revision's own change-cause, not the stable's (history shows it).
        assert_eq!(t["metadata"]["annotations"][CHANGE_CAUSE], "canary r/fraud:v2 (model v2)");
        let missing = BTreeMap::from([("sidecar".to_string(), "x:1".to_string())]);
        let mut two = ksvc()["spec"]["template"].clone();
        two["spec"]["containers"] = json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]);
        assert!(canary_template(&two, "fraud-v2", &missing, None).is_err());
    }

    #[test]
    fn the_revision_stamped_from_a_template_is_its_named_one_else_the_newest_with_its_spec() {
        let revision = |name: &str, generation: i64, image: &str| {
            json!({"metadata": {"name": name, "labels": {"serving.knative.dev/configurationGeneration": generation.to_string()}},
                   "spec": {"containers": [{"image": image}]}})
        };
        let revisions = [
            revision("m-00001", 1, "m:1"),
            revision("m-00002", 2, "m:2"),
            revision("m-00003", 3, "m:1"),
            revision("m-canary", 4, "m:1"),
        ];
        let template = |name: Option<&str>, image: &str| {
            let mut t = json!({"metadata": {}, "spec": {"containers": [{"image": image}]}});
            if let Some(name) = name {
                t["metadata"]["name"] = json!(name);
            }
            t
        };
        assert_eq!(stamped_from(&revisions, &template(None, "m:1"), "m-canary").as_deref(), Some("m-00003"));
        assert_eq!(
            stamped_from(&revisions, &template(Some("m-00001"), "m:1"), "m-canary").as_deref(),
            Some("m-00001")
        );
        assert_eq!(stamped_from(&revisions, &template(None, "m:2"), "m-canary").as_deref(), Some("m-00002"));
        assert_eq!(stamped_from(&revisions, &template(None, "m:9"), "m-canary"), None);
        assert_eq!(named_template(&template(None, "m:2"), "m-00002")["metadata"]["name"], "m-00002");
    }

    #[test]
    fn the_template_names_the_revision_and_drops_what_knative_sets() {
        let template = revision_template(&json!({
            "metadata": {"name": "m-v2",
                "labels": {"serving.knative.dev/configurationGeneration": "2", "serving.knative.dev/service": "m", MODEL_VERSION_LABEL: "v1"},
                "annotations": {"serving.knative.dev/creator": "admin", CHANGE_CAUSE: "set-image m:v1", "autoscaling.knative.dev/min-scale": "1"}},
            "spec": {"containers": [{"image": "m:2"}]}
        }));
        assert_eq!(
            template,
            json!({"metadata": {"name": "m-v2", "labels": {MODEL_VERSION_LABEL: "v1"},
                "annotations": {CHANGE_CAUSE: "set-image m:v1", "autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"containers": [{"image": "m:2"}]}})
        );
    }

    #[test]
    fn traffic_shapes() {
        let t = canary_traffic("fraud-00001", "fraud-v2", Split::with_canary(20));
        assert_eq!(t[0]["percent"].as_u64().unwrap() + t[1]["percent"].as_u64().unwrap(), 100);
        assert_eq!(t[1]["tag"], "canary");
        assert_eq!(t[0].get("tag"), None);
        let original = ksvc()["spec"]["traffic"].clone();
        assert_eq!(promoted_traffic(&original, "fraud-00001", "fraud-v2"), original);
        let pinned = json!([{"revisionName": "fraud-00001", "percent": 100}]);
        assert_eq!(
            promoted_traffic(&pinned, "fraud-00001", "fraud-v2"),
            json!([{"revisionName": "fraud-v2", "percent": 100}])
        );
        assert_eq!(promoted_traffic(&Value::Null, "a", "b"), Value::Null);
        assert_eq!(aborted_traffic("fraud-00001"), pinned);
    }

    #[test]
    fn a_failed_revision_keeps_knatives_reason_and_message() {
        let revision = |status: Value| json!({"metadata": {"name": "fraud-v2"}, "status": status});
        let failed = revision(json!({"conditions": [{"type": "Ready", "status": "False",
            "reason": "ContainerMissing", "message": "Unable to fetch image \"r/fraud:v9\""}]}));
        let err = revision_ready(&failed).unwrap().unwrap_err();
        assert_eq!(err.reason, "ContainerMissing");
        assert_eq!(err.to_string(), "ContainerMissing: Unable to fetch image \"r/fraud:v9\"");
        let bare = revision(json!({"conditions": [{"type": "Ready", "status": "False"}]}));
        assert_eq!(revision_ready(&bare).unwrap().unwrap_err().to_string(), "NotReady: ");
        let ready = revision(json!({"conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(revision_ready(&ready), Some(Ok(())));
        let pending = revision(json!({"conditions": [{"type": "Ready", "status": "Unknown"}]}));
        assert_eq!(revision_ready(&pending), None);
        assert_eq!(revision_ready(&revision(json!({}))), None);
    }
}
