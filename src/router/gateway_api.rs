//! The `gateway-api` router: in the HTTPRoute that has the model's Service as a backend, that
//! backendRef becomes two weighted ones, to Services `NAME-stable` and `NAME-canary` (the model
//! Service's ports, selectors narrowed by `modelroll.io/track`).

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::FutureExt;
use kube::discovery::ApiResource;
use serde_json::{json, Map, Value};

use super::{End, RouteDestination, Router};
use crate::error::{Error, Result};
use crate::rollout::state::{GatewayApiRouting, Routing, CANARY_OF_ANNOTATION, TRACK_LABEL};
use crate::rollout::weights::Split;
use crate::write::Writer;

pub const GROUP: &str = "gateway.networking.k8s.io";

/// Whether a backendRef points at Service `service` in the route's own namespace.
pub fn backend_is(backend: &Value, service: &str, namespace: &str) -> bool {
    backend["name"] == service
        && backend.get("group").and_then(Value::as_str).is_none_or(str::is_empty)
        && backend.get("kind").and_then(Value::as_str).is_none_or(|k| k == "Service")
        && backend.get("namespace").and_then(Value::as_str).is_none_or(|n| n == namespace)
}

fn rule_targets(rule: &Value, service: &str, namespace: &str) -> bool {
    rule["backendRefs"].as_array().is_some_and(|refs| refs.iter().any(|b| backend_is(b, service, namespace)))
}

/// Whether any rule of the HTTPRoute has the Service as a backend.
pub fn routes_to(http_route: &Value, service: &str, namespace: &str) -> bool {
    let namespace = http_route.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(namespace);
    http_route
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|r| rule_targets(r, service, namespace)))
}

/// The names of the two track Services of model `model`.
pub fn track_service_name(model: &str, track: &str) -> String {
    format!("{model}-{track}")
}

fn split_backends(refs: &Value, service: &str, namespace: &str, model: &str, split: Split) -> Value {
    let refs = refs.as_array().cloned().unwrap_or_default();
    let alone = refs.len() == 1;
    let mut out = Vec::new();
    for backend in refs {
        if !backend_is(&backend, service, namespace) {
            let mut other = backend.clone();
            // Gateway API weights are proportional: scale the others so the model's share stays.
            let weight = backend.get("weight").and_then(Value::as_u64).unwrap_or(1);
            other["weight"] = json!(weight * 100);
            out.push(other);
            continue;
        }
        let weight = backend.get("weight").and_then(Value::as_u64).unwrap_or(1);
        let (stable, canary) = if alone {
            (split.stable as u64, split.canary as u64)
        } else {
            (weight * split.stable as u64, weight * split.canary as u64)
        };
        for (track, w) in [("stable", stable), ("canary", canary)] {
            let mut b = backend.clone();
            b["name"] = json!(track_service_name(model, track));
            if let Some(m) = b.as_object_mut() {
                m.remove("namespace");
            }
            b["weight"] = json!(w);
            out.push(b);
        }
    }
    Value::Array(out)
}

/// `spec.rules` with every backendRef to the model's Service (in `original_rules`, the shape
/// before the canary) split `split` between the track Services; other rules as they are now.
pub fn weighted_rules(
    current_rules: &Value,
    original_rules: &Value,
    service: &str,
    namespace: &str,
    model: &str,
    split: Split,
) -> Value {
    let mut rules = current_rules.as_array().cloned().unwrap_or_default();
    let original = original_rules.as_array().cloned().unwrap_or_default();
    for (i, rule) in rules.iter_mut().enumerate() {
        let Some(before) = original.get(i) else { continue };
        if rule_targets(before, service, namespace) {
            rule["backendRefs"] = split_backends(&before["backendRefs"], service, namespace, model, split);
        }
    }
    Value::Array(rules)
}

/// `spec.rules` with the backendRefs modelroll changed put back as they were.
pub fn restored_rules(
    current_rules: &Value,
    original_rules: &Value,
    service: &str,
    namespace: &str,
) -> Value {
    let mut rules = current_rules.as_array().cloned().unwrap_or_default();
    let original = original_rules.as_array().cloned().unwrap_or_default();
    for (i, rule) in rules.iter_mut().enumerate() {
        let Some(before) = original.get(i) else { continue };
        if rule_targets(before, service, namespace) {
            rule["backendRefs"] = before["backendRefs"].clone();
        }
    }
    Value::Array(rules)
}

/// Service `NAME-TRACK`: the model Service's ports, its selector plus `modelroll.io/track`.
pub fn track_service(model_service: &Value, model: &str, namespace: &str, track: &str) -> Value {
    let mut selector: Map<String, Value> =
        model_service.pointer("/spec/selector").and_then(Value::as_object).cloned().unwrap_or_default();
    selector.insert(TRACK_LABEL.to_string(), json!(track));
    let ports: Vec<Value> = model_service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let mut port = Map::new();
            for field in ["name", "port", "targetPort", "protocol", "appProtocol"] {
                if let Some(v) = p.get(field) {
                    port.insert(field.to_string(), v.clone());
                }
            }
            Value::Object(port)
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": track_service_name(model, track),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubectl-modelroll", TRACK_LABEL: track},
            "annotations": {CANARY_OF_ANNOTATION: model},
        },
        "spec": {"type": "ClusterIP", "selector": selector, "ports": ports},
    })
}

/// The gateway-api router.
pub struct GatewayApi {
    pub routing: GatewayApiRouting,
    pub http_route_kind: ApiResource,
    pub service_kind: ApiResource,
    pub model: String,
}

impl GatewayApi {
    fn parts(&self) -> (&str, &str, &Value) {
        (&self.routing.http_route, &self.routing.service, &self.routing.original_rules)
    }
}

impl Router for GatewayApi {
    fn routing(&self) -> Routing {
        Routing::GatewayApi(self.routing.clone())
    }

    fn prepare<'a>(&'a self, w: &'a Writer) -> BoxFuture<'a, Result<()>> {
        async move {
            let (_, service, _) = self.parts();
            let model_service = w.get(&self.service_kind, service).await?.ok_or_else(|| {
                Error::usage(format!("service {service} (the HTTPRoute's backend) no longer exists"))
            })?;
            for track in ["stable", "canary"] {
                let name = track_service_name(&self.model, track);
                let wanted = track_service(&model_service, &self.model, w.namespace(), track);
                if w.get(&self.service_kind, &name).await?.is_none() {
                    w.create(&self.service_kind, wanted).await?;
                } else {
                    w.update(&self.service_kind, &name, |svc| {
                        svc["spec"]["selector"] = wanted["spec"]["selector"].clone();
                        Ok(())
                    })
                    .await?;
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn destinations<'a>(&'a self, w: &'a Writer) -> BoxFuture<'a, Result<Vec<RouteDestination>>> {
        async move {
            let mut out = Vec::new();
            for track in ["stable", "canary"] {
                let name = track_service_name(&self.model, track);
                let selector: BTreeMap<String, String> = match w.get(&self.service_kind, &name).await? {
                    Some(svc) => serde_json::from_value(svc["spec"]["selector"].clone()).unwrap_or_default(),
                    None => BTreeMap::new(),
                };
                out.push(RouteDestination {
                    track: track.to_string(),
                    what: format!("service {name}"),
                    selector,
                });
            }
            Ok(out)
        }
        .boxed()
    }

    fn set_weight<'a>(&'a self, w: &'a Writer, canary_weight: u32) -> BoxFuture<'a, Result<()>> {
        async move {
            let (route, service, original) = self.parts();
            let ns = w.namespace().to_string();
            let split = Split::with_canary(canary_weight);
            w.update(&self.http_route_kind, route, |object| {
                object["spec"]["rules"] =
                    weighted_rules(&object["spec"]["rules"], original, service, &ns, &self.model, split);
                Ok(())
            })
            .await?
            .ok_or_else(|| Error::failed(format!("httproute {route} is gone; run `abort` to clean up")))?;
            Ok(())
        }
        .boxed()
    }

    fn restore<'a>(&'a self, w: &'a Writer, _end: End) -> BoxFuture<'a, Result<()>> {
        async move {
            let (route, service, original) = self.parts();
            let ns = w.namespace().to_string();
            w.update(&self.http_route_kind, route, |object| {
                object["spec"]["rules"] = restored_rules(&object["spec"]["rules"], original, service, &ns);
                Ok(())
            })
            .await?;
            for track in ["stable", "canary"] {
                w.delete(&self.service_kind, &track_service_name(&self.model, track)).await?;
            }
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Value {
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "fraud", "namespace": "ml"},
            "spec": {
                "parentRefs": [{"name": "gw"}],
                "rules": [
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                     "backendRefs": [{"group": "", "kind": "Service", "name": "fraud-svc", "port": 8080, "weight": 1}]},
                    {"backendRefs": [{"name": "other", "port": 80}]},
                    {"backendRefs": [{"name": "fraud-svc", "port": 8080, "weight": 3}, {"name": "legacy", "port": 80, "weight": 1}]}
                ]
            }
        })
    }

    #[test]
    fn finds_the_backend() {
        assert!(routes_to(&route(), "fraud-svc", "ml"));
        assert!(!routes_to(&route(), "nothing", "ml"));
        assert!(!backend_is(&json!({"name": "fraud-svc", "kind": "ServiceImport"}), "fraud-svc", "ml"));
        assert!(!backend_is(&json!({"name": "fraud-svc", "namespace": "x"}), "fraud-svc", "ml"));
    }

    #[test]
    fn backend_splits_into_track_services() {
        let rules = &route()["spec"]["rules"];
        let out = weighted_rules(rules, rules, "fraud-svc", "ml", "fraud", Split::with_canary(30));
        assert_eq!(
            out[0]["backendRefs"],
            json!([
                {"group": "", "kind": "Service", "name": "fraud-stable", "port": 8080, "weight": 70},
                {"group": "", "kind": "Service", "name": "fraud-canary", "port": 8080, "weight": 30}
            ])
        );
        assert_eq!(out[0]["matches"], rules[0]["matches"]);
        assert_eq!(out[1], rules[1]);
        // Shared rule: the model keeps 3/4 of the traffic, split 70/30.
        let weights: Vec<u64> =
            out[2]["backendRefs"].as_array().unwrap().iter().map(|b| b["weight"].as_u64().unwrap()).collect();
        assert_eq!(weights, vec![210, 90, 100]);
        let again = weighted_rules(&out, rules, "fraud-svc", "ml", "fraud", Split::with_canary(50));
        assert_eq!(again[0]["backendRefs"][1]["weight"], 50);
        assert_eq!(&restored_rules(&again, rules, "fraud-svc", "ml"), rules);
    }

    #[test]
    fn track_services_narrow_the_selector() {
        let model = json!({"spec": {"selector": {"app": "fraud"}, "clusterIP": "10.0.0.1",
            "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP", "nodePort": 30001}]}});
        let svc = track_service(&model, "fraud", "ml", "canary");
        assert_eq!(svc["metadata"]["name"], "fraud-canary");
        assert_eq!(svc["spec"]["selector"], json!({"app": "fraud", TRACK_LABEL: "canary"}));
        assert_eq!(
            svc["spec"]["ports"],
            json!([{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}])
        );
    }
}
