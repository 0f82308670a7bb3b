//! The canary Deployment and what promotion writes into the stable one, computed from the stable
//! Deployment (as JSON) without IO: pod template with the new images and track labels, selectors,
//! and the GitOps tracking marks that make imperative changes short-lived.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::image::{apply_images, AssignmentError, ContainerChoice, ContainerError, ImageAssignment};
use super::state::{CANARY_OF_ANNOTATION, MODEL_VERSION_LABEL, TRACK_LABEL};

/// Why the canary's images cannot be set on a pod template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImagesError {
    /// A recorded image names a container the template no longer has.
    #[error("the pod template has no container {container:?}; containers are: {}", .containers.join(", "))]
    NoContainer { container: String, containers: Vec<String> },
    /// `--image` is no `[CONTAINER=]IMAGE`.
    #[error(transparent)]
    Assignment(#[from] AssignmentError),
    #[error("--container {container} and --image {named}=… name different containers; give one")]
    DifferentContainers { container: String, named: String },
    #[error("--container {container} and --image *=… disagree; give one")]
    ContainerAndStar { container: String },
    /// `--image` does not fit the pod: a bare image on several containers, or an unknown name.
    #[error(transparent)]
    Container(#[from] ContainerError),
}

/// Name of the canary Deployment of `model`.
pub fn canary_name(model: &str) -> String {
    format!("{model}-canary")
}

/// Labels and annotations by which Argo CD and Flux track the objects they sync.
const GITOPS_LABELS: [(&str, &str); 3] = [
    ("argocd.argoproj.io/instance", "Argo CD"),
    ("kustomize.toolkit.fluxcd.io/name", "Flux"),
    ("helm.toolkit.fluxcd.io/name", "Flux"),
];
const GITOPS_ANNOTATIONS: [(&str, &str); 2] =
    [("argocd.argoproj.io/tracking-id", "Argo CD"), ("kustomize.toolkit.fluxcd.io/checksum", "Flux")];

/// Which GitOps tool, if any, tracks an object (by its labels and annotations).
pub fn gitops_manager(object: &Value) -> Option<&'static str> {
    let labels = object.pointer("/metadata/labels").and_then(Value::as_object);
    let annotations = object.pointer("/metadata/annotations").and_then(Value::as_object);
    for (key, tool) in GITOPS_LABELS {
        if labels.is_some_and(|l| l.contains_key(key)) {
            return Some(tool);
        }
    }
    for (key, tool) in GITOPS_ANNOTATIONS {
        if annotations.is_some_and(|a| a.contains_key(key)) {
            return Some(tool);
        }
    }
    None
}

/// Names of the containers (and init containers) of a pod template.
pub fn container_names(template: &Value) -> Vec<String> {
    ["/spec/containers", "/spec/initContainers"]
        .iter()
        .filter_map(|p| template.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// Images of the containers of a pod template, container → image.
pub fn template_images(template: &Value) -> BTreeMap<String, String> {
    template
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?.to_string(), c["image"].as_str()?.to_string())))
        .collect()
}

/// Set `images` (container → image) in a pod template.
///
/// # Errors
/// [`ImagesError::NoContainer`]: a container the template does not have, with the ones it has.
pub fn set_images(template: &mut Value, images: &BTreeMap<String, String>) -> Result<(), ImagesError> {
    let names = container_names(template);
    for (container, image) in images {
        let mut found = false;
        for list in ["containers", "initContainers"] {
            if let Some(items) = template["spec"][list].as_array_mut() {
                for c in items.iter_mut().filter(|c| c["name"] == container.as_str()) {
                    c["image"] = json!(image);
                    found = true;
                }
            }
        }
        if !found {
            return Err(ImagesError::NoContainer { container: container.clone(), containers: names });
        }
    }
    Ok(())
}

fn set_label(template: &mut Value, key: &str, value: &str) {
    if !template["metadata"].is_object() {
        template["metadata"] = json!({});
    }
    if !template["metadata"]["labels"].is_object() {
        template["metadata"]["labels"] = json!({});
    }
    template["metadata"]["labels"][key] = json!(value);
}

/// Whether a pod template carries `modelroll.io/track: stable`.
pub fn has_stable_track(template: &Value) -> bool {
    template.pointer("/metadata/labels").and_then(|l| l.get(TRACK_LABEL)).and_then(Value::as_str)
        == Some("stable")
}

/// The stable pod template with `modelroll.io/track: stable` added (restarts the stable pods once).
pub fn with_stable_track(template: &Value) -> Value {
    let mut t = template.clone();
    set_label(&mut t, TRACK_LABEL, "stable");
    t
}

/// The canary Deployment of `stable` (a Deployment as JSON): its pod template with the new
/// images and `modelroll.io/track: canary`, a selector narrowed by the track, `replicas` pods.
///
/// # Errors
/// When an image names a container the template does not have.
pub fn canary_deployment(
    stable: &Value,
    images: &BTreeMap<String, String>,
    model_version: Option<&str>,
    replicas: i32,
) -> Result<Value, ImagesError> {
    let model = stable.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let namespace = stable.pointer("/metadata/namespace").cloned().unwrap_or(Value::Null);
    let mut template = stable["spec"]["template"].clone();
    set_images(&mut template, images)?;
    set_label(&mut template, TRACK_LABEL, "canary");
    match model_version {
        Some(version) => set_label(&mut template, MODEL_VERSION_LABEL, version),
        // The stable template's version is not the canary's: no label rather than a stale one.
        None => {
            if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
                labels.remove(MODEL_VERSION_LABEL);
            }
        }
    }
    let mut selector = stable["spec"]["selector"].clone();
    if !selector["matchLabels"].is_object() {
        selector["matchLabels"] = json!({});
    }
    selector["matchLabels"][TRACK_LABEL] = json!("canary");
    let mut labels: Map<String, Value> =
        stable.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
    labels.retain(|k, _| !GITOPS_LABELS.iter().any(|(g, _)| g == k) && k != "app.kubernetes.io/instance");
    labels.insert(TRACK_LABEL.to_string(), json!("canary"));
    let mut spec = json!({
        "replicas": replicas,
        "selector": selector,
        "template": template,
    });
    for field in ["strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit"] {
        if let Some(v) = stable["spec"].get(field) {
            spec[field] = v.clone();
        }
    }
    Ok(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": canary_name(model),
            "namespace": namespace,
            "labels": labels,
            "annotations": {CANARY_OF_ANNOTATION: model},
        },
        "spec": spec,
    }))
}

/// The stable pod template after promotion: the canary's template, with the track label the
/// stable template had (or none, if it had none).
pub fn promoted_template(stable_template: &Value, canary_template: &Value) -> Value {
    let mut t = canary_template.clone();
    let stable_track = stable_template.pointer("/metadata/labels").and_then(|l| l.get(TRACK_LABEL)).cloned();
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        match stable_track {
            Some(track) => {
                labels.insert(TRACK_LABEL.to_string(), track);
            }
            None => {
                labels.remove(TRACK_LABEL);
            }
        }
    }
    t
}

/// `kubernetes.io/change-cause` of a canary's verb (`canary`, `promote`):
/// `promote model=registry/fraud:v2 (model v2)`.
pub fn canary_change_cause(
    verb: &str,
    images: &BTreeMap<String, String>,
    model_version: Option<&str>,
) -> String {
    let images: Vec<String> =
        images.iter().map(|(c, i)| if c.is_empty() { i.clone() } else { format!("{c}={i}") }).collect();
    match model_version {
        Some(v) => format!("{verb} {} (model {v})", images.join(" ")),
        None => format!("{verb} {}", images.join(" ")),
    }
}

/// The canary's images from `--image [CONTAINER=]IMAGE` and `--container`, checked as set-image
/// checks its arguments: a bare image needs a pod with one container (an unnamed one, as Knative
/// allows, is keyed ""). `owner` names the object in messages.
///
/// # Errors
/// A bad image reference, the containers to choose from, or the two flags naming different
/// containers.
pub fn canary_images(
    template: &Value,
    image: &str,
    container: Option<&str>,
    owner: &str,
) -> Result<BTreeMap<String, String>, ImagesError> {
    let mut assignment = ImageAssignment::parse(image)?;
    if let Some(name) = container {
        match &assignment.container {
            ContainerChoice::Named(named) if named != name => {
                return Err(ImagesError::DifferentContainers {
                    container: name.to_string(),
                    named: named.clone(),
                });
            }
            ContainerChoice::All => {
                return Err(ImagesError::ContainerAndStar { container: name.to_string() });
            }
            _ => assignment.container = ContainerChoice::Named(name.to_string()),
        }
    }
    let mut pod_spec = template["spec"].clone();
    let changes = apply_images(&mut pod_spec, &[assignment], owner)?;
    Ok(changes.into_iter().map(|c| (c.container, c.to)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "fraud", "namespace": "ml", "labels": {"app": "fraud", "argocd.argoproj.io/instance": "prod"},
                         "resourceVersion": "7", "uid": "u"},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": "fraud"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": {"app": "fraud", TRACK_LABEL: "stable"}},
                    "spec": {"containers": [{"name": "model", "image": "r/fraud:v1"}, {"name": "proxy", "image": "envoy:1"}]}
                }
            },
            "status": {"readyReplicas": 4}
        })
    }

    #[test]
    fn canary_has_new_image_track_and_narrow_selector() {
        let images = BTreeMap::from([("model".to_string(), "r/fraud:v2".to_string())]);
        let canary = canary_deployment(&stable(), &images, Some("v2"), 1).unwrap();
        assert_eq!(canary["metadata"]["name"], "fraud-canary");
        assert_eq!(canary["metadata"]["namespace"], "ml");
        assert_eq!(canary["metadata"].get("resourceVersion"), None);
        assert_eq!(canary["metadata"]["labels"].get("argocd.argoproj.io/instance"), None);
        assert_eq!(canary["spec"]["replicas"], 1);
        assert_eq!(canary["spec"]["selector"]["matchLabels"], json!({"app": "fraud", TRACK_LABEL: "canary"}));
        let t = &canary["spec"]["template"];
        assert_eq!(t["metadata"]["labels"][TRACK_LABEL], "canary");
        assert_eq!(t["metadata"]["labels"][MODEL_VERSION_LABEL], "v2");
        assert_eq!(t["spec"]["containers"][0]["image"], "r/fraud:v2");
        assert_eq!(t["spec"]["containers"][1]["image"], "envoy:1");
        assert_eq!(canary["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 1);
        assert_eq!(canary.get("status"), None);
    }

    #[test]
    fn unknown_container_lists_the_ones_there_are() {
        let images = BTreeMap::from([("server".to_string(), "x:1".to_string())]);
        let err = canary_deployment(&stable(), &images, None, 1).unwrap_err();
        assert_eq!(
            err,
            ImagesError::NoContainer {
                container: "server".into(),
                containers: vec!["model".into(), "proxy".into()]
            }
        );
        assert_eq!(
            err.to_string(),
            "the pod template has no container \"server\"; containers are: model, proxy"
        );
    }

    #[test]
    fn promotion_keeps_stable_track() {
        let images = BTreeMap::from([("model".to_string(), "r/fraud:v2".to_string())]);
        let canary = canary_deployment(&stable(), &images, Some("v2"), 1).unwrap();
        let promoted = promoted_template(&stable()["spec"]["template"], &canary["spec"]["template"]);
        assert_eq!(promoted["metadata"]["labels"][TRACK_LABEL], "stable");
        assert_eq!(promoted["spec"]["containers"][0]["image"], "r/fraud:v2");
        let mut untracked = stable()["spec"]["template"].clone();
        untracked["metadata"]["labels"].as_object_mut().unwrap().remove(TRACK_LABEL);
        assert!(!has_stable_track(&untracked));
        assert!(has_stable_track(&with_stable_track(&untracked)));
        let promoted = promoted_template(&untracked, &canary["spec"]["template"]);
        assert_eq!(promoted["metadata"]["labels"].get(TRACK_LABEL), None);
        assert_eq!(
            canary_change_cause("promote", &images, Some("v2")),
            "promote model=r/fraud:v2 (model v2)"
        );
    }

    #[test]
    fn canary_images_pick_the_container() {
        let t = &stable()["spec"]["template"];
        let owner = "deployment \"fraud\"";
        assert_eq!(
            canary_images(t, "model=r/m:v2", None, owner).unwrap(),
            BTreeMap::from([("model".into(), "r/m:v2".into())])
        );
        assert_eq!(canary_images(t, "r/m:v2", Some("proxy"), owner).unwrap()["proxy"], "r/m:v2");
        let refused =
            |image: &str, container: Option<&str>| canary_images(t, image, container, owner).unwrap_err();
        let bare = refused("r/m:v2", None);
        assert!(matches!(bare, ImagesError::Container(ContainerError::NameNeeded { .. })));
        assert!(bare.to_string().ends_with("containers are: model, proxy"), "{bare}");
        assert!(matches!(
            refused("nope=r/m:v2", None),
            ImagesError::Container(ContainerError::NoSuchContainer { name, .. }) if name == "nope"
        ));
        assert_eq!(
            refused("model=r/m:v2", Some("proxy")),
            ImagesError::DifferentContainers { container: "proxy".into(), named: "model".into() }
        );
        assert_eq!(
            refused("model=r/m:v2", Some("proxy")).to_string(),
            "--container proxy and --image model=… name different containers; give one"
        );
        assert_eq!(
            refused("*=r/m:v2", Some("proxy")).to_string(),
            "--container proxy and --image *=… disagree; give one"
        );
        assert!(matches!(
            refused("model=", None),
            ImagesError::Assignment(AssignmentError::Reference {
                source: crate::rollout::image::ReferenceError::Empty,
                ..
            })
        ));
        assert!(matches!(
            refused("model=R/M:v2", None),
            ImagesError::Assignment(AssignmentError::Reference { .. })
        ));
        let single = json!({"spec": {"containers": [{"image": "a:1"}]}});
        assert_eq!(
            canary_images(&single, "a:2", None, owner).unwrap(),
            BTreeMap::from([(String::new(), "a:2".into())])
        );
    }

    #[test]
    fn gitops_tracking_is_recognised() {
        assert_eq!(gitops_manager(&stable()), Some("Argo CD"));
        assert_eq!(
            gitops_manager(&json!({"metadata": {"labels": {"kustomize.toolkit.fluxcd.io/name": "apps"}}})),
            Some("Flux")
        );
        assert_eq!(
            gitops_manager(&json!({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "x"}}})),
            Some("Argo CD")
        );
        assert_eq!(gitops_manager(&json!({"metadata": {}})), None);
    }
}
