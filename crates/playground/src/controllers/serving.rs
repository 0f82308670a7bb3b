//! Knative Serving, simulated: a ksvc stamps a Revision per template change, each Revision runs
//! as a Deployment `REVISION-deployment` whose pods make it Ready, and the ksvc's status carries
//! the revisions and the resolved traffic. The Configuration and Route are folded into the ksvc
//! (their objects are not created); Revisions are owned by the ksvc.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::cache::Key;
use super::knative::{
    conditions_json, configurations_ready, default_service, resolve_traffic, revision_name,
    revision_name_taken, route_url, service_ready, validate_service, KnativeCondition, ResolvedRoute,
    RevisionState, CONFIGURATION_GENERATION_LABEL, CONFIGURATION_LABEL, DEFAULTING_WEBHOOK, REVISION_LABEL,
    REVISION_UID_LABEL, SERVICE_LABEL, VALIDATING_WEBHOOK,
};
use super::manager::{Manager, Work};
use crate::clock::rfc3339;
use crate::errors::ApiError;
use crate::resources::{ResourceRef, DEPLOYMENTS};
use crate::store::{AdmissionHook, MutatingHook, Operation, Store};

/// `services.serving.knative.dev`.
pub const KSERVICES: ResourceRef = ResourceRef::of("serving.knative.dev", "v1", "services");
/// `revisions.serving.knative.dev`.
pub const REVISIONS: ResourceRef = ResourceRef::of("serving.knative.dev", "v1", "revisions");

/// Register the Knative webhook's validation and defaulting as admission hooks (they only act on
/// ksvcs).
pub fn register_webhook(store: &Store) {
    let hook: AdmissionHook = Arc::new(|_store, request| {
        if request.resource.group != "serving.knative.dev" || request.resource.resource != "services" {
            return Ok(());
        }
        let old = if request.operation == Operation::Update { request.old_object } else { None };
        validate_service(request.object, old).map_err(|message| {
            ApiError::bad_request(format!(
                "admission webhook {VALIDATING_WEBHOOK:?} denied the request: {message}"
            ))
        })
    });
    store.add_admission_hook(VALIDATING_WEBHOOK, hook);
    let defaulting: MutatingHook = Arc::new(|resource, _operation, object| {
        if resource.group == "serving.knative.dev" && resource.resource == "services" {
            default_service(object);
        }
    });
    store.add_mutating_hook(DEFAULTING_WEBHOOK, defaulting);
}

fn labels(object: &Value) -> Map<String, Value> {
    object["metadata"]["labels"].as_object().cloned().unwrap_or_default()
}

fn generation_of(revision: &Value) -> i64 {
    revision["metadata"]["labels"][CONFIGURATION_GENERATION_LABEL]
        .as_str()
        .and_then(|g| g.parse().ok())
        .unwrap_or(0)
}

/// The revision name a template brings its own of ("bring your own name"), if any.
fn byo_name(template: &Value) -> Option<&str> {
    template["metadata"]["name"].as_str().filter(|n| !n.is_empty())
}

/// Whether a Revision was stamped from this template. With a name of its own, Knative's
/// `CheckNameAvailability` only compares the spec: the revision of that name serves the template
/// when its spec is the template's, whatever its labels and generation.
fn stamped_from(revision: &Value, template: &Value) -> bool {
    if let Some(name) = byo_name(template) {
        return revision["metadata"]["name"].as_str() == Some(name) && revision["spec"] == template["spec"];
    }
    let revision_labels = labels(revision);
    let labels_match = template["metadata"]["labels"]
        .as_object()
        .is_none_or(|l| l.iter().all(|(k, v)| revision_labels.get(k) == Some(v)));
    let annotations = |v: &Value| v.as_object().cloned().unwrap_or_default();
    labels_match
        && revision["spec"] == template["spec"]
        && annotations(&revision["metadata"]["annotations"])
            == annotations(&template["metadata"]["annotations"])
}

fn owner_ref(api_version: &str, kind: &str, object: &Value) -> Value {
    json!({
        "apiVersion": api_version, "kind": kind,
        "name": object["metadata"]["name"], "uid": object["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true,
    })
}

/// The latest ready revision as Knative's Configuration reconciler finds it: among the revisions
/// from the previous latest ready one's generation on (all of them when that one is gone), the
/// template's own named revision first, then newest generation first, the first that is ready.
fn latest_ready_revision(
    revisions: &[Arc<Value>],
    states: &[RevisionState],
    latest_ready_before: Option<&str>,
    byo: Option<&str>,
) -> Option<String> {
    let from_generation = latest_ready_before
        .and_then(|n| revisions.iter().find(|r| r["metadata"]["name"].as_str() == Some(n)))
        .map(|r| generation_of(r));
    let mut candidates: Vec<(bool, i64, &RevisionState)> = revisions
        .iter()
        .zip(states)
        .map(|(r, state)| (byo == Some(state.name.as_str()), generation_of(r), state))
        .filter(|(own, generation, _)| *own || from_generation.is_none_or(|g| *generation >= g))
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    candidates.into_iter().find(|(_, _, s)| s.ready == Some(true)).map(|(_, _, s)| s.name.clone())
}

impl Manager {
    pub(super) fn sync_knative(&mut self, key: &Key) {
        let Some(ksvc) = self.cache.knative.get("services").and_then(|m| m.get(key)).cloned() else { return };
        if self.store.resource_type(&REVISIONS).is_err() {
            return;
        }
        let (namespace, name) = (key.0.clone(), key.1.clone());
        let uid = ksvc["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let mut ksvc_defaulted = ksvc.as_ref().clone();
        default_service(&mut ksvc_defaulted);
        let template = ksvc_defaulted["spec"]["template"].clone();
        let mut revisions = self.owned_revisions(&namespace, &name, &uid);
        revisions.sort_by_key(|r| generation_of(r));

        // Configuration: a new Revision when the template changed.
        let latest_matches = revisions.last().is_some_and(|r| stamped_from(r, &template));
        if !latest_matches {
            let generation = revisions.last().map_or(0, |r| generation_of(r)) + 1;
            let revision_name = revision_name(&name, &template, generation);
            if !revisions.iter().any(|r| r["metadata"]["name"].as_str() == Some(revision_name.as_str())) {
                let revision = new_revision(&ksvc, &template, &revision_name, generation);
                if let Err(err) = self.store.create(&REVISIONS, revision) {
                    tracing::debug!(
                        "ksvc {namespace}/{name}: cannot create revision {revision_name}: {}",
                        err.message
                    );
                    self.enqueue_after(Work::Knative(key.clone()), std::time::Duration::from_secs(1));
                    return;
                }
                // Continue once the new Revision is in the cache.
                self.enqueue(Work::Knative(key.clone()));
                return;
            }
        }

        // Revisions: each runs as a Deployment; readiness follows it.
        // A name of its own that an existing revision with another spec holds: Knative cannot create
        // it, says so in ConfigurationsReady, and keeps its latest created revision.
        let name_taken = byo_name(&template).filter(|byo| {
            revisions
                .iter()
                .any(|r| r["metadata"]["name"].as_str() == Some(byo) && !stamped_from(r, &template))
        });
        let latest_created = match name_taken {
            Some(_) => ksvc["status"]["latestCreatedRevisionName"]
                .as_str()
                .and_then(|n| revisions.iter().find(|r| r["metadata"]["name"].as_str() == Some(n)))
                .cloned(),
            None => revisions.iter().rev().find(|r| stamped_from(r, &template)).or(revisions.last()).cloned(),
        };
        let spec_traffic: Vec<Value> =
            ksvc_defaulted["spec"]["traffic"].as_array().cloned().unwrap_or_default();
        let routed: Vec<String> =
            spec_traffic.iter().filter_map(|t| t["revisionName"].as_str().map(str::to_string)).collect();
        let routes_latest = spec_traffic.iter().any(|t| t["revisionName"].as_str().is_none_or(str::is_empty));
        let mut states = Vec::new();
        let now = rfc3339(Timestamp::now());
        let mut created_any = false;
        let latest_ready_before = ksvc["status"]["latestReadyRevisionName"].as_str().map(str::to_string);
        for revision in &revisions {
            let revision_name = revision["metadata"]["name"].as_str().unwrap_or("").to_string();
            let is_latest = latest_created
                .as_ref()
                .is_some_and(|l| l["metadata"]["name"] == revision["metadata"]["name"]);
            let wanted = is_latest
                || routed.contains(&revision_name)
                || (routes_latest && latest_ready_before.as_deref() == Some(revision_name.as_str()));
            let (state, created) = self.sync_revision(&namespace, &name, revision, wanted, &now);
            created_any |= created;
            states.push(state);
        }
        if created_any {
            return;
        }

        // Route and status.
        let latest_ready = latest_ready_revision(
            &revisions,
            &states,
            latest_ready_before.as_deref(),
            byo_name(&template).filter(|_| name_taken.is_none()),
        );
        let latest_created_state = latest_created
            .as_ref()
            .and_then(|l| states.iter().find(|s| Some(s.name.as_str()) == l["metadata"]["name"].as_str()));
        let route = resolve_traffic(&name, &namespace, &spec_traffic, &states, latest_ready.as_deref());
        let configurations = match name_taken {
            Some(byo) => revision_name_taken(byo),
            None => configurations_ready(latest_created_state, latest_ready.as_deref()),
        };
        let ready = service_ready(&configurations, &route.condition);
        let status = service_status(
            &ksvc,
            latest_created.as_deref(),
            latest_ready.as_deref(),
            route,
            [configurations, ready],
            &now,
        );
        if ksvc["status"] != status {
            let mut object = ksvc.as_ref().clone();
            object["status"] = status;
            if self.store.update_status(&KSERVICES, object).is_err() {
                self.enqueue(Work::Knative(key.clone()));
            }
        }
    }

    /// The Revisions of the Knative Service `namespace/name` (uid `uid`): labelled with it and
    /// owned by it.
    fn owned_revisions(&self, namespace: &str, name: &str, uid: &str) -> Vec<Arc<Value>> {
        self.cache
            .knative
            .get("revisions")
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|((ns, _), r)| {
                ns == namespace
                    && r["metadata"]["labels"][SERVICE_LABEL].as_str() == Some(name)
                    && r["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|o| o.iter().any(|o| o["uid"].as_str() == Some(uid)))
            })
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Make a Revision's Deployment match it (`wanted`: it should run) and report its state.
    /// Returns whether something was created (the caller looks again once it is cached).
    fn sync_revision(
        &mut self,
        namespace: &str,
        service: &str,
        revision: &Value,
        wanted: bool,
        now: &str,
    ) -> (RevisionState, bool) {
        let revision_name = revision["metadata"]["name"].as_str().unwrap_or("").to_string();
        let deployment_name = format!("{revision_name}-deployment");
        let annotations = revision["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
        let min_scale: i64 = ["autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/minScale"]
            .iter()
            .find_map(|k| annotations.get(*k).and_then(Value::as_str).and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let replicas = if wanted { min_scale.max(1) } else { 0 };
        let deployment =
            self.cache.deployments.get(&(namespace.to_string(), deployment_name.clone())).cloned();
        let was_ready = revision["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        let Some((d, raw)) = deployment else {
            let object = revision_deployment(revision, namespace, &deployment_name, replicas, &annotations);
            let created = match self.store.create(&DEPLOYMENTS, object) {
                Ok(_) => true,
                Err(err) => {
                    tracing::debug!(
                        "ksvc {namespace}/{service}: cannot create deployment {deployment_name}: {}",
                        err.message
                    );
                    false
                }
            };
            let state = RevisionState {
                name: revision_name,
                ready: was_ready.then_some(true),
                message: String::new(),
            };
            return (state, created);
        };
        if d.spec.as_ref().and_then(|s| s.replicas) != Some(replicas as i32) {
            let mut object = raw.as_ref().clone();
            object["spec"]["replicas"] = json!(replicas);
            let _ = self.store.update(&DEPLOYMENTS, object);
        }
        let status = d.status.clone().unwrap_or_default();
        let condition = |type_: &str| status.conditions.iter().flatten().find(|c| c.type_ == type_).cloned();
        let available = status.available_replicas.unwrap_or(0);
        let failed =
            condition("Progressing").is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
        let ready = if was_ready || (available >= 1 && available >= min_scale as i32) {
            Some(true)
        } else if failed {
            Some(false)
        } else {
            None
        };
        let conditions = revision_conditions(ready, replicas);
        let message = conditions[0].message.clone();
        let mut revision_status = Map::new();
        revision_status.insert("observedGeneration".into(), revision["metadata"]["generation"].clone());
        revision_status.insert("serviceName".into(), json!(revision_name));
        revision_status.insert("actualReplicas".into(), json!(status.ready_replicas.unwrap_or(0)));
        revision_status.insert("desiredReplicas".into(), json!(replicas));
        revision_status.insert(
            "conditions".into(),
            conditions_json(&conditions, revision["status"].get("conditions"), now),
        );
        let revision_status = Value::Object(revision_status);
        if revision["status"] != revision_status {
            let mut object = revision.clone();
            object["status"] = revision_status;
            let _ = self.store.update_status(&REVISIONS, object);
        }
        let _ = service;
        (RevisionState { name: revision_name, ready, message }, false)
    }
}

/// The Deployment a Revision runs as: its pod spec without Knative's fields and with container
/// names filled in, its labels, the revision's annotations, and a progress deadline from
/// `serving.knative.dev/progress-deadline` (600 s by default).
fn revision_deployment(
    revision: &Value,
    namespace: &str,
    deployment_name: &str,
    replicas: i64,
    annotations: &Map<String, Value>,
) -> Value {
    let revision_name = revision["metadata"]["name"].as_str().unwrap_or("").to_string();
    let revision_uid = revision["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let mut pod_spec = revision["spec"].as_object().cloned().unwrap_or_default();
    for knative_only in
        ["containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"]
    {
        pod_spec.remove(knative_only);
    }
    if let Some(containers) = pod_spec.get_mut("containers").and_then(Value::as_array_mut) {
        for (i, c) in containers.iter_mut().enumerate() {
            if c["name"].as_str().is_none_or(str::is_empty) {
                c["name"] =
                    json!(if i == 0 { "user-container".to_string() } else { format!("user-container-{i}") });
            }
        }
    }
    let mut pod_labels = labels(revision);
    pod_labels.insert("app".into(), json!(revision_name));
    pod_labels.insert(REVISION_LABEL.into(), json!(revision_name));
    pod_labels.insert(REVISION_UID_LABEL.into(), json!(revision_uid));
    let progress_deadline = annotations
        .get("serving.knative.dev/progress-deadline")
        .and_then(Value::as_str)
        .and_then(|d| super::kubelet::parse_go_duration(d).ok())
        .map_or(600, |d| d.as_secs().max(1));
    let mut template_meta = json!({"labels": pod_labels});
    if !annotations.is_empty() {
        template_meta["annotations"] = json!(annotations);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": deployment_name, "namespace": namespace, "labels": pod_labels,
            "ownerReferences": [owner_ref("serving.knative.dev/v1", "Revision", revision)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {REVISION_UID_LABEL: revision_uid}},
            "progressDeadlineSeconds": progress_deadline,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {"metadata": template_meta, "spec": pod_spec},
        },
    })
}

/// A Revision's conditions: Ready, ResourcesAvailable and ContainerHealthy follow its
/// Deployment (`ready`: true, failed, or unknown yet); Active says whether it should run.
fn revision_conditions(ready: Option<bool>, replicas: i64) -> Vec<KnativeCondition> {
    let (status_word, reason, message) = match ready {
        Some(true) => ("True", "", String::new()),
        Some(false) => ("False", "ProgressDeadlineExceeded", "Initial scale was never achieved".to_string()),
        None => ("Unknown", "Deploying", String::new()),
    };
    let active = if replicas > 0 {
        ("True", "", String::new())
    } else {
        ("False", "NoTraffic", "The target is not receiving traffic.".to_string())
    };
    vec![
        KnativeCondition {
            type_: "Ready".into(),
            status: status_word.into(),
            reason: reason.into(),
            message: message.clone(),
        },
        KnativeCondition {
            type_: "ResourcesAvailable".into(),
            status: status_word.into(),
            reason: reason.into(),
            message: message.clone(),
        },
        KnativeCondition {
            type_: "ContainerHealthy".into(),
            status: status_word.into(),
            reason: reason.into(),
            message: message.clone(),
        },
        KnativeCondition {
            type_: "Active".into(),
            status: active.0.into(),
            reason: active.1.into(),
            message: active.2,
        },
    ]
}

/// The Revision a Knative Service stamps from `template` as its configuration's `generation`,
/// labelled and owned as Knative's configuration controller does.
fn new_revision(ksvc: &Value, template: &Value, revision_name: &str, generation: i64) -> Value {
    let name = ksvc["metadata"]["name"].as_str().unwrap_or("");
    let namespace = ksvc["metadata"]["namespace"].as_str().unwrap_or("");
    let uid = ksvc["metadata"]["uid"].as_str().unwrap_or("");
    let mut revision_labels = template["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    revision_labels.insert(CONFIGURATION_LABEL.into(), json!(name));
    revision_labels.insert(CONFIGURATION_GENERATION_LABEL.into(), json!(generation.to_string()));
    revision_labels.insert(SERVICE_LABEL.into(), json!(name));
    revision_labels.insert("serving.knative.dev/serviceUID".into(), json!(uid));
    let mut metadata = json!({
        "name": revision_name, "namespace": namespace, "labels": revision_labels,
        "ownerReferences": [owner_ref("serving.knative.dev/v1", "Service", ksvc)],
    });
    if let Some(annotations) = template["metadata"]["annotations"].as_object().filter(|a| !a.is_empty()) {
        metadata["annotations"] = json!(annotations);
    }
    json!({"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "metadata": metadata, "spec": template["spec"]})
}

/// A Knative Service's status: its revisions, URL and address, the route's traffic, and the
/// ConfigurationsReady, Ready and RoutesReady conditions.
fn service_status(
    ksvc: &Value,
    latest_created: Option<&Value>,
    latest_ready: Option<&str>,
    route: ResolvedRoute,
    conditions: [KnativeCondition; 2],
    now: &str,
) -> Value {
    let name = ksvc["metadata"]["name"].as_str().unwrap_or("");
    let namespace = ksvc["metadata"]["namespace"].as_str().unwrap_or("");
    let mut status = Map::new();
    status.insert("observedGeneration".into(), ksvc["metadata"]["generation"].clone());
    if let Some(created) = latest_created {
        status.insert("latestCreatedRevisionName".into(), created["metadata"]["name"].clone());
    }
    if let Some(ready) = latest_ready {
        status.insert("latestReadyRevisionName".into(), json!(ready));
    }
    status.insert("url".into(), json!(route_url(name, namespace, None)));
    status.insert("address".into(), json!({"url": format!("http://{name}.{namespace}.svc.cluster.local")}));
    if !route.traffic.is_empty() {
        status.insert("traffic".into(), json!(route.traffic));
    }
    let [configurations, ready] = conditions;
    let conditions: Vec<KnativeCondition> = vec![configurations, ready, route.condition];
    status.insert("conditions".into(), conditions_json(&conditions, ksvc["status"].get("conditions"), now));
    Value::Object(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(name: &str, generation: i64) -> Arc<Value> {
        Arc::new(
            json!({"metadata": {"name": name, "labels": {CONFIGURATION_GENERATION_LABEL: generation.to_string()}}}),
        )
    }

    fn state(name: &str, ready: Option<bool>) -> RevisionState {
        RevisionState { name: name.into(), ready, message: String::new() }
    }

    #[test]
    fn latest_ready_is_the_named_revision_first_then_the_newest_ready() {
        let revisions = [revision("m-00001", 1), revision("m-v2", 2), revision("m-00003", 3)];
        let states = [state("m-00001", Some(true)), state("m-v2", Some(true)), state("m-00003", None)];
        let latest = |before, byo| latest_ready_revision(&revisions, &states, before, byo);
        assert_eq!(latest(Some("m-v2"), None).as_deref(), Some("m-v2"), "the newest ready one");
        assert_eq!(latest(Some("m-v2"), Some("m-00001")).as_deref(), Some("m-00001"), "named, though older");
        assert_eq!(latest(None, None).as_deref(), Some("m-v2"));
        let failed =
            [state("m-00001", Some(true)), state("m-v2", Some(false)), state("m-00003", Some(false))];
        assert_eq!(
            latest_ready_revision(&revisions, &failed, Some("m-00001"), None).as_deref(),
            Some("m-00001")
        );
        // Only from the previous latest ready one's generation on (unless it is gone).
        assert_eq!(latest_ready_revision(&revisions, &failed, Some("m-00003"), None), None);
        assert_eq!(
            latest_ready_revision(&revisions, &failed, Some("gone"), None).as_deref(),
            Some("m-00001")
        );
    }
}
