//! `list`: every model under modelroll's care in the namespace (or all, `-A`): those with a
//! canary, and those with a modelroll history (a change cause written by modelroll, or modelroll
//! labels on their pods).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{ListArgs, ReadOutput};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::rollout::canary::template_images;
use crate::rollout::state::{
    RolloutState, CANARY_OF_ANNOTATION, MODEL_VERSION_LABEL, ROLLOUT_ANNOTATION, TRACK_LABEL,
};
use crate::rollout::weights::effective_weight;
use crate::router::knative;

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
    pub ready: String,
    /// RFC 3339: when the canary started, else when the object was created.
    pub since: Option<String>,
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

/// Rows for the Deployments of one listing (pure: from the objects as read).
pub fn deployment_rows(deployments: &[Value]) -> Vec<ModelRow> {
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
        if d.pointer("/metadata/annotations").and_then(|a| a.get(CANARY_OF_ANNOTATION)).is_some() {
            continue;
        }
        let state = state_of(d);
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
            None if stable_ready >= stable_desired => "Stable".to_string(),
            None => "Progressing".to_string(),
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
                routing: crate::rollout::state::Routing::Knative { original_template, .. },
                ..
            }) => images_text(&template_images(original_template)),
            _ => images_text(&template_images(&s["spec"]["template"])),
        };
        rows.push(ModelRow {
            namespace: ns,
            name: format!("ksvc/{name}"),
            router: state.as_ref().map(|s| s.routing.name().to_string()),
            phase: state.as_ref().map(|s| s.phase_text()).unwrap_or_else(|| "Stable".to_string()),
            stable,
            canary: state.as_ref().map(|s| s.images_text()),
            weight: state.as_ref().map(|s| s.weight),
            effective_weight: None,
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
            let weight = match (row.weight, row.effective_weight) {
                (Some(w), Some(e)) if e != w => format!("{w}% (eff. {e}%)"),
                (Some(w), _) => format!("{w}%"),
                (None, _) => "-".to_string(),
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
    crate::ui::table::render(&headers, &cells)
}

/// Run `list`.
///
/// # Errors
/// Exit 1 when Deployments cannot be listed.
pub async fn run(ctx: &Context, args: ListArgs) -> Result<()> {
    let cluster = ctx.cluster().await?;
    let client = cluster.client.clone();
    let deployments: Api<Deployment> = if args.all_namespaces {
        Api::all(client.clone())
    } else {
        Api::namespaced(client.clone(), &cluster.namespace)
    };
    let list = deployments
        .list(&ListParams::default())
        .await
        .map_err(|e| cluster.api_error(e, "list deployments"))?;
    let values: Vec<Value> = list.items.iter().map(|d| serde_json::to_value(d).unwrap_or_default()).collect();
    let mut rows = deployment_rows(&values);
    if let Ok(group) = kube::discovery::oneshot::group(&client, knative::GROUP).await {
        if let Some((ar, _)) = group.recommended_kind("Service") {
            let api: Api<DynamicObject> = if args.all_namespaces {
                Api::all_with(client.clone(), &ar)
            } else {
                Api::namespaced_with(client.clone(), &cluster.namespace, &ar)
            };
            match api.list(&ListParams::default()).await {
                Ok(services) => {
                    let values: Vec<Value> =
                        services.items.iter().map(|s| serde_json::to_value(s).unwrap_or_default()).collect();
                    rows.extend(ksvc_rows(&values));
                }
                // Allowed to see Deployments but not Knative Services: list what can be seen.
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    let denied = cluster.api_error(kube::Error::Api(status), "list ksvc");
                    eprintln!("warning: Knative Services are not listed: {}", denied.message);
                }
                Err(e) => return Err(cluster.api_error(e, "list ksvc")),
            }
        }
    }
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let text = match args.output {
        ReadOutput::Table | ReadOutput::Wide => {
            if rows.is_empty() {
                let place = if args.all_namespaces {
                    "any namespace".to_string()
                } else {
                    format!("namespace {}", cluster.namespace)
                };
                eprintln!("No models under modelroll's care in {place}.");
                String::new()
            } else {
                table(&rows, args.all_namespaces, jiff::Timestamp::now())
            }
        }
        ReadOutput::Json => {
            serde_json::to_string_pretty(&rows).map(|s| s + "\n").map_err(|e| Error::failed(e.to_string()))?
        }
        ReadOutput::Yaml => serde_yaml::to_string(&rows).map_err(|e| Error::failed(e.to_string()))?,
    };
    crate::ui::print_stdout(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(name: &str, image: &str, annotations: Value) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "ml", "annotations": annotations, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "model", "image": image}]}}},
            "status": {"readyReplicas": 3}
        })
    }

    #[test]
    fn lists_canaries_and_history_only() {
        let state = json!({"router": "replicas", "canary": "fraud-canary", "weight": 25, "images": {"model": "r/fraud:v2"},
            "startTime": "2026-01-01T00:00:00Z", "phase": "Canary", "stableReplicas": 4});
        let mut canary = deployment("fraud-canary", "r/fraud:v2", json!({CANARY_OF_ANNOTATION: "fraud"}));
        canary["spec"]["replicas"] = json!(1);
        canary["status"]["readyReplicas"] = json!(1);
        let objects = vec![
            deployment("fraud", "r/fraud:v1", json!({ROLLOUT_ANNOTATION: state.to_string()})),
            canary,
            deployment("plain", "nginx", json!({})),
            deployment("rolled", "r/x:v3", json!({"kubernetes.io/change-cause": "set-image model=r/x:v3"})),
        ];
        let rows = deployment_rows(&objects);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["deployment/fraud", "deployment/rolled"]);
        assert_eq!(rows[0].phase, "Canary (25%)");
        assert_eq!(rows[0].canary.as_deref(), Some("model=r/fraud:v2"));
        assert_eq!(rows[0].ready, "3/3 + 1/1");
        assert_eq!(rows[0].effective_weight, Some(25));
        assert_eq!(rows[1].phase, "Stable");
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let text = table(&rows, false, now);
        let header = text.lines().next().unwrap();
        assert!(header.starts_with("NAME"), "{text}");
        for column in ["ROUTER", "PHASE", "STABLE", "CANARY", "WEIGHT", "READY", "AGE"] {
            assert!(header.contains(column), "{header}");
        }
        assert!(text.contains("10m"), "{text}");
        assert!(table(&rows, true, now).starts_with("NAMESPACE"));
    }
}
