//! `list`: every model under modelroll's care in the namespace (or all, `-A`): those with a
//! canary, and those with a modelroll history (a change cause written by modelroll, or modelroll
//! labels on their pods).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{ListArgs, ReadOutput};
use crate::cmd::objects::route_object;
use crate::cmd::Context;
use crate::error::Result;
use crate::rollout::canary::template_images;
use crate::rollout::live::route_weight;
use crate::rollout::pod::PodSummary;
use crate::rollout::progress::owned_by;
use crate::rollout::state::{
    Phase, RolloutState, CANARY_OF_ANNOTATION, MODEL_VERSION_LABEL, ROLLOUT_ANNOTATION, TRACK_LABEL,
};
use crate::rollout::status::deployment_status;
use crate::rollout::weights::effective_weight;
use crate::ui::table::Cells;

/// One row of `list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRow {
    pub namespace: String,
    /// `deployment/NAME` or `ksvc/NAME`.
    pub name: String,
    pub router: Option<String>,
    pub phase: String,
    pub stable: String,
    pub canary: Option<String>,
    /// Requested canary weight.
    pub weight: Option<u32>,
    /// Effective weight (replicas router: the share of ready pods).
    pub effective_weight: Option<u32>,
    /// The canary's weight on the live route (VirtualService, HTTPRoute, ksvc traffic), when read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_weight: Option<u32>,
    pub ready: String,
    /// RFC 3339: when the canary started, else when the object was created.
    pub since: Option<String>,
}

/// `list -o json|yaml`: `{apiVersion: v1, kind: List, items: [...]}` as kubectl's lists.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelList {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub items: Vec<ModelRow>,
}

impl ModelList {
    pub fn of(items: Vec<ModelRow>) -> Self {
        Self { api_version: "v1", kind: "List", items }
    }
}

const MODELROLL_CAUSES: [&str; 4] = ["set-image", "promote", "undo", "canary"];

fn images_text(images: &BTreeMap<String, String>) -> String {
    if images.len() == 1 {
        images.values().next().cloned().unwrap_or_default()
    } else {
        images.iter().map(|(c, i)| format!("{c}={i}")).collect::<Vec<_>>().join(",")
    }
}

fn has_history(object: &Value) -> bool {
    let cause = object.pointer("/metadata/annotations/kubernetes.io~1change-cause").and_then(Value::as_str);
    let labels = object.pointer("/spec/template/metadata/labels").and_then(Value::as_object);
    cause.is_some_and(|c| MODELROLL_CAUSES.iter().any(|v| c.starts_with(v)))
        || labels.is_some_and(|l| l.contains_key(MODEL_VERSION_LABEL) || l.contains_key(TRACK_LABEL))
}

fn state_of(object: &Value) -> Option<RolloutState> {
    let text = object.pointer("/metadata/annotations").and_then(|a| a.get(ROLLOUT_ANNOTATION))?.as_str()?;
    serde_json::from_str(text).ok()
}

fn ready_of(d: &Value) -> (i64, i64) {
    let desired = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let ready = d.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0);
    (ready, desired)
}

/// Whether a Deployment is another controller's machinery, not a model: Knative makes one per
/// Revision (owned by it).
fn owned_by_a_revision(d: &Value) -> bool {
    d.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| owners.iter().any(|o| o["kind"] == "Revision"))
}

/// The phase `status` gives Deployment `d` without a canary (Healthy, Progressing, Degraded,
/// Paused), from its own ReplicaSets and their pods among those listed: the same function.
fn status_phase(d: &Value, replica_sets: &[ReplicaSet], pods: &[PodSummary], now: jiff::Timestamp) -> String {
    let Ok(deployment) = serde_json::from_value::<Deployment>(d.clone()) else {
        return "Unknown".to_string();
    };
    let uid = deployment.metadata.uid.clone();
    let own: Vec<ReplicaSet> =
        replica_sets.iter().filter(|rs| owned_by(&rs.metadata, uid.as_deref())).cloned().collect();
    let own_pods: Vec<PodSummary> = pods
        .iter()
        .filter(|p| own.iter().any(|rs| owned_by(&p.metadata, rs.metadata.uid.as_deref())))
        .cloned()
        .collect();
    let namespace = deployment.metadata.namespace.clone().unwrap_or_default();
    deployment_status(&namespace, &deployment, &own, &own_pods, now).phase.to_string()
}

/// Rows for the Deployments of one listing (pure: from the objects as read, with the
/// ReplicaSets and pods of the same namespaces for the phase).
pub fn deployment_rows(
    deployments: &[Value],
    replica_sets: &[ReplicaSet],
    pods: &[PodSummary],
    now: jiff::Timestamp,
) -> Vec<ModelRow> {
    let by_key: BTreeMap<(String, String), &Value> = deployments
        .iter()
        .map(|d| {
            let ns = d.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
            let name = d.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
            ((ns, name), d)
        })
        .collect();
    let mut rows = Vec::new();
    for ((ns, name), d) in &by_key {
        if d.pointer("/metadata/annotations").and_then(|a| a.get(CANARY_OF_ANNOTATION)).is_some()
            || owned_by_a_revision(d)
        {
            continue;
        }
        // A stale copy of the record (brought back by a rollback) names a canary that is gone.
        let state = state_of(d).filter(|s| {
            let live = by_key.get(&(ns.clone(), s.canary.clone()));
            s.phase == Phase::Aborting
                || !s.is_stale(live.and_then(|c| c.pointer("/metadata/uid")).and_then(Value::as_str))
        });
        let canary = by_key.get(&(ns.clone(), format!("{name}-canary"))).filter(|c| {
            c.pointer("/metadata/annotations")
                .and_then(|a| a.get(CANARY_OF_ANNOTATION))
                .and_then(Value::as_str)
                == Some(name.as_str())
        });
        if state.is_none() && canary.is_none() && !has_history(d) {
            continue;
        }
        let (stable_ready, stable_desired) = ready_of(d);
        let stable = images_text(&template_images(&d["spec"]["template"]));
        let mut ready = format!("{stable_ready}/{stable_desired}");
        let mut canary_images = None;
        let mut canary_ready = 0;
        if let Some(c) = canary {
            let (r, desired) = ready_of(c);
            canary_ready = r;
            ready = format!("{ready} + {r}/{desired}");
            canary_images = Some(images_text(&template_images(&c["spec"]["template"])));
        }
        let phase = match &state {
            Some(s) => s.phase_text(),
            None if canary.is_some() => "Canary (no state)".to_string(),
            None => status_phase(d, replica_sets, pods, now),
        };
        let effective = state
            .as_ref()
            .filter(|s| s.routing.name() == "replicas")
            .map(|_| effective_weight(stable_ready as i32, canary_ready as i32));
        rows.push(ModelRow {
            namespace: ns.clone(),
            name: format!("deployment/{name}"),
            router: state.as_ref().map(|s| s.routing.name().to_string()),
            phase,
            stable,
            canary: state.as_ref().map(|s| s.images_text()).or(canary_images),
            weight: state.as_ref().map(|s| s.weight),
            effective_weight: effective,
            live_weight: None,
            ready,
            since: state.as_ref().map(|s| s.start_time.clone()).or_else(|| {
                d.pointer("/metadata/creationTimestamp").and_then(Value::as_str).map(str::to_string)
            }),
        });
    }
    rows
}

/// Rows for Knative Services with a canary or modelroll history.
pub fn ksvc_rows(services: &[Value]) -> Vec<ModelRow> {
    let mut rows = Vec::new();
    for s in services {
        let state = state_of(s);
        if state.is_none() && !has_history(s) {
            continue;
        }
        let ns = s.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
        let name = s.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let ready = s
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["status"].as_str())
            .map(|r| if r == "True" { "Ready" } else { "NotReady" })
            .unwrap_or("Unknown");
        let stable = match &state {
            Some(RolloutState {
                routing:
                    crate::rollout::state::Routing::Knative(crate::rollout::state::KnativeRouting {
                        original_template,
                        ..
                    }),
                ..
            }) => images_text(&template_images(original_template)),
            _ => images_text(&template_images(&s["spec"]["template"])),
        };
        rows.push(ModelRow {
            namespace: ns,
            name: format!("ksvc/{name}"),
            router: state.as_ref().map(|s| s.routing.name().to_string()),
            phase: state.as_ref().map(|s| s.phase_text()).unwrap_or_else(|| "Healthy".to_string()),
            stable,
            canary: state.as_ref().map(|s| s.images_text()),
            weight: state.as_ref().map(|s| s.weight),
            effective_weight: None,
            live_weight: state.as_ref().and_then(|st| route_weight(&st.routing, name, &st.canary, s)),
            ready: ready.to_string(),
            since: state.as_ref().map(|s| s.start_time.clone()).or_else(|| {
                s.pointer("/metadata/creationTimestamp").and_then(Value::as_str).map(str::to_string)
            }),
        });
    }
    rows
}

/// The rows as a kubectl-style table, with NAMESPACE first for `-A`.
pub fn table(rows: &[ModelRow], all_namespaces: bool, now: jiff::Timestamp) -> String {
    cells(rows, all_namespaces, now).render()
}

/// The cells of [`table`].
pub fn cells(rows: &[ModelRow], all_namespaces: bool, now: jiff::Timestamp) -> Cells {
    let mut headers = vec![];
    if all_namespaces {
        headers.push("NAMESPACE");
    }
    headers.extend(["NAME", "ROUTER", "PHASE", "STABLE", "CANARY", "WEIGHT", "READY", "AGE"]);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut cells = vec![];
            if all_namespaces {
                cells.push(row.namespace.clone());
            }
            let weight = match (row.weight, row.effective_weight, row.live_weight) {
                (Some(w), Some(e), _) if e != w => format!("{w}% (eff. {e}%)"),
                (Some(w), _, Some(live)) if live != w => format!("{w}% (live {live}%)"),
                (Some(w), _, _) => format!("{w}%"),
                (None, _, _) => "-".to_string(),
            };
            cells.extend([
                row.name.clone(),
                row.router.clone().unwrap_or_else(|| "-".to_string()),
                row.phase.clone(),
                row.stable.clone(),
                row.canary.clone().unwrap_or_else(|| "-".to_string()),
                weight,
                row.ready.clone(),
                crate::ui::table::age(row.since.as_deref().and_then(|s| s.parse().ok()), now),
            ]);
            cells
        })
        .collect();
    Cells { headers, rows: cells }
}

/// Whether Deployment `d` is a model whose phase `list` must take from its ReplicaSets and pods:
/// one without a canary whose own status leaves it Progressing (rolled out, paused or failed
/// Deployments have the same phase from themselves alone: all their pods are available).
fn needs_replica_sets(d: &Value, now: jiff::Timestamp) -> bool {
    let canary = d.pointer("/metadata/annotations").and_then(|a| a.get(CANARY_OF_ANNOTATION)).is_some();
    if canary || state_of(d).is_some() || !has_history(d) || owned_by_a_revision(d) {
        return false;
    }
    status_phase(d, &[], &[], now) == crate::rollout::status::Phase::Progressing.to_string()
}

/// What `list` found in one cluster: the models, where it looked, and what it was not allowed
/// to see (the rows are then read from less).
#[derive(Debug)]
pub struct Listing {
    pub rows: Vec<ModelRow>,
    /// `namespace ml`, or `any namespace` with `-A`.
    pub place: String,
    /// What could not be read, one sentence each (shown as `warning: …`).
    pub warnings: Vec<String>,
}

impl Listing {
    /// What `list` says when it found no model.
    pub fn nothing_found(&self) -> String {
        format!("No models under modelroll's care in {}.", self.place)
    }
}

/// The ReplicaSets and pods of a listing, for the phases. Refused: the phases are read from the
/// Deployments alone, and `warnings` says so.
///
/// # Errors
/// Any other failure of the lists.
async fn phase_objects(
    cluster: &crate::cluster::Cluster,
    namespace: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<(Vec<ReplicaSet>, Vec<PodSummary>)> {
    let replica_sets: Api<ReplicaSet> = match namespace {
        Some(namespace) => Api::namespaced(cluster.client.clone(), namespace),
        None => Api::all(cluster.client.clone()),
    };
    let replica_sets = match replica_sets.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            let denied = cluster.api_error(kube::Error::Api(status), "list replicasets");
            warnings.push(format!("phases are read from the Deployments alone: {}", denied.message));
            Vec::new()
        }
        Err(e) => return Err(cluster.api_error(e, "list replicasets")),
    };
    let pods = match crate::watch::list_summaries(&cluster.client, namespace, None).await {
        Ok(pods) => pods,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            let denied = cluster.api_error(kube::Error::Api(status), "list pods");
            warnings.push(format!("phases do not see the pods: {}", denied.message));
            Vec::new()
        }
        Err(e) => return Err(cluster.api_error(e, "list pods")),
    };
    Ok((replica_sets, pods))
}

/// Deployments in the command's namespace, or in all namespaces with `-A`.
fn deployments_api(cluster: &crate::cluster::Cluster, all_namespaces: bool) -> Api<Deployment> {
    if all_namespaces {
        Api::all(cluster.client.clone())
    } else {
        Api::namespaced(cluster.client.clone(), &cluster.namespace)
    }
}

/// Run `list`.
///
/// # Errors
/// Exit 1 when Deployments cannot be listed.
pub async fn run(ctx: &Context, args: ListArgs) -> Result<()> {
    let listing = read(ctx, args.all_namespaces).await?;
    for warning in &listing.warnings {
        crate::ui::print_stderr_line(&format!("warning: {warning}"));
    }
    let text = match args.output {
        ReadOutput::Table | ReadOutput::Wide if listing.rows.is_empty() => {
            crate::ui::print_stderr_line(&listing.nothing_found());
            String::new()
        }
        ReadOutput::Table | ReadOutput::Wide => {
            table(&listing.rows, args.all_namespaces, jiff::Timestamp::now())
        }
        // A `List` as `kubectl get -o json` prints one, so the same tools read both.
        ReadOutput::Json => crate::ui::output::json(&ModelList::of(listing.rows))?,
        ReadOutput::Yaml => crate::ui::output::yaml(&ModelList::of(listing.rows))?,
    };
    crate::ui::print_stdout(&text);
    Ok(())
}

/// The models under modelroll's care in the cluster of `ctx`, in its namespace or in all (what
/// `list` prints, and each context's rows of `list --contexts`), sorted by namespace and name.
///
/// # Errors
/// Exit 1 when Deployments cannot be listed.
pub async fn read(ctx: &Context, all_namespaces: bool) -> Result<Listing> {
    let cluster = ctx.cluster().await?;
    let client = cluster.client.clone();
    let mut warnings = Vec::new();
    let list = deployments_api(&cluster, all_namespaces)
        .list(&ListParams::default())
        .await
        .map_err(|e| cluster.api_error(e, "list deployments"))?;
    let values: Vec<Value> = list.items.iter().map(|d| serde_json::to_value(d).unwrap_or_default()).collect();
    drop(list);
    let now = jiff::Timestamp::now();
    // The phase is status's. A Deployment whose own status says it is rolled out (or paused, or
    // failed) has it from itself; only one still rolling needs its ReplicaSets and pods, to tell
    // Progressing from Degraded. So a settled fleet costs no more reads, however many models.
    let rolling: std::collections::BTreeSet<&str> = values
        .iter()
        .filter(|d| needs_replica_sets(d, now))
        .filter_map(|d| d.pointer("/metadata/namespace").and_then(Value::as_str))
        .collect();
    let (replica_sets, pods) = match rolling.len() {
        0 => (Vec::new(), Vec::new()),
        // All in one namespace: that namespace's lists, not the cluster's.
        1 => phase_objects(&cluster, rolling.iter().next().copied(), &mut warnings).await?,
        _ if all_namespaces => phase_objects(&cluster, None, &mut warnings).await?,
        _ => phase_objects(&cluster, Some(&cluster.namespace), &mut warnings).await?,
    };
    let mut rows = deployment_rows(&values, &replica_sets, &pods, now);
    // The weight on the live route, for canaries whose router carries it on one (few: one read each).
    // Each row finds its Deployment by key: searching the list for each row took 40% of the
    // CPU of `list -A` over 1,000 models.
    let by_key: std::collections::HashMap<(&str, &str), &Value> = values
        .iter()
        .map(|d| {
            let field = |pointer| d.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
            ((field("/metadata/namespace"), field("/metadata/name")), d)
        })
        .collect();
    for row in &mut rows {
        let Some(name) = row.name.strip_prefix("deployment/") else { continue };
        let Some(d) = by_key.get(&(row.namespace.as_str(), name)).copied() else { continue };
        let Some(state) = state_of(d) else { continue };
        let model = d.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        if let Some(route) = route_object(&cluster, &row.namespace, &state.routing).await? {
            row.live_weight = route_weight(&state.routing, model, &state.canary, &route);
        }
    }
    // Knative Services, listed straight away: a 404 says Knative is not installed (one request,
    // where asking discovery first took two).
    let ksvc = crate::watch::knative_service_resource();
    let api: Api<DynamicObject> = if all_namespaces {
        Api::all_with(client.clone(), &ksvc)
    } else {
        Api::namespaced_with(client.clone(), &cluster.namespace, &ksvc)
    };
    match api.list(&ListParams::default()).await {
        Ok(services) => {
            let values: Vec<Value> =
                services.items.iter().map(|s| serde_json::to_value(s).unwrap_or_default()).collect();
            rows.extend(ksvc_rows(&values));
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        // Allowed to see Deployments but not Knative Services: list what can be seen.
        Err(kube::Error::Api(status)) if status.code == 403 => {
            let denied = cluster.api_error(kube::Error::Api(status), "list ksvc");
            warnings.push(format!("Knative Services are not listed: {}", denied.message));
        }
        Err(e) => return Err(cluster.api_error(e, "list ksvc")),
    }
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let place =
        if all_namespaces { "any namespace".to_string() } else { format!("namespace {}", cluster.namespace) };
    Ok(Listing { rows, place, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(name: &str, image: &str, annotations: Value) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "ml", "annotations": annotations, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "model", "image": image}]}}},
            "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}
        })
    }

    #[test]
    fn lists_canaries_and_history_only() {
        let state = json!({"router": "replicas", "canary": "fraud-canary", "weight": 25, "images": {"model": "r/fraud:v2"},
            "startTime": "2026-01-01T00:00:00Z", "phase": "Canary", "stableReplicas": 4});
        let mut canary = deployment("fraud-canary", "r/fraud:v2", json!({CANARY_OF_ANNOTATION: "fraud"}));
        canary["spec"]["replicas"] = json!(1);
        canary["status"]["readyReplicas"] = json!(1);
        // Knative's Deployment of a Revision is not a model, whatever labels its pods carry.
        let mut revision = deployment("sentiment-v2-deployment", "r/s:v2", json!({}));
        revision["metadata"]["ownerReferences"] = json!([{"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "name": "sentiment-v2", "uid": "r1"}]);
        revision["spec"]["template"]["metadata"]["labels"][MODEL_VERSION_LABEL] = json!("v2");
        let objects = vec![
            deployment("fraud", "r/fraud:v1", json!({ROLLOUT_ANNOTATION: state.to_string()})),
            canary,
            deployment("plain", "nginx", json!({})),
            deployment("rolled", "r/x:v3", json!({"kubernetes.io/change-cause": "set-image model=r/x:v3"})),
            revision,
        ];
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let rows = deployment_rows(&objects, &[], &[], now);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["deployment/fraud", "deployment/rolled"]);
        assert_eq!(rows[0].phase, "Canary (25%)");
        assert_eq!(rows[0].canary.as_deref(), Some("model=r/fraud:v2"));
        assert_eq!(rows[0].ready, "3/3 + 1/1");
        assert_eq!(rows[0].effective_weight, Some(25));
        // The phase `status` gives it.
        assert_eq!(rows[1].phase, "Healthy");
        let text = table(&rows, false, now);
        let header = text.lines().next().unwrap();
        assert!(header.starts_with("NAME"), "{text}");
        for column in ["ROUTER", "PHASE", "STABLE", "CANARY", "WEIGHT", "READY", "AGE"] {
            assert!(header.contains(column), "{header}");
        }
        assert!(text.contains("10m"), "{text}");
        assert!(table(&rows, true, now).starts_with("NAMESPACE"));

        // The same record naming its canary by uid: live while that canary stands, a stale copy
        // once it is gone.
        let mut state = state;
        state["canaryUid"] = json!("c1");
        let mut objects = objects;
        objects[0] = deployment("fraud", "r/fraud:v1", json!({ROLLOUT_ANNOTATION: state.to_string()}));
        objects[1]["metadata"]["uid"] = json!("c1");
        assert_eq!(deployment_rows(&objects, &[], &[], now)[0].phase, "Canary (25%)");
        objects.remove(1);
        let rows = deployment_rows(&objects, &[], &[], now);
        assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec!["deployment/rolled"]);
    }
}
