//! The `istio` router: VirtualService http route weights to the DestinationRule subsets `stable`
//! and `canary`, selected by `modelroll.io/track`. Other routes, matches and subsets are left alone.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::FutureExt;
use kube::discovery::ApiResource;
use serde_json::{json, Value};

use super::{End, RouteDestination, Router};
use crate::error::{Error, Result};
use crate::rollout::state::{IstioRouting, Routing, TRACK_LABEL};
use crate::rollout::weights::{split_route_weight, Split};
use crate::write::Writer;

pub const GROUP: &str = "networking.istio.io";

/// Whether a destination host names `service` in `namespace` (short, `svc.ns`, or FQDN forms).
pub fn host_matches(host: &str, service: &str, namespace: &str) -> bool {
    host == service
        || host == format!("{service}.{namespace}")
        || host == format!("{service}.{namespace}.svc")
        || host == format!("{service}.{namespace}.svc.cluster.local")
}

fn route_targets(route: &Value, service: &str, namespace: &str) -> bool {
    route.as_array().is_some_and(|destinations| {
        destinations.iter().any(|d| {
            d.pointer("/destination/host")
                .and_then(Value::as_str)
                .is_some_and(|h| host_matches(h, service, namespace))
        })
    })
}

/// The destination host by which `http` (a VirtualService's `spec.http`) names `service`.
pub fn route_host(http: &Value, service: &str, namespace: &str) -> Option<String> {
    http.as_array()?
        .iter()
        .flat_map(|h| h["route"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d.pointer("/destination/host").and_then(Value::as_str).map(str::to_string))
        .find(|h| host_matches(h, service, namespace))
}

/// Whether any http route of the VirtualService sends traffic to `service`.
pub fn routes_to(virtual_service: &Value, service: &str, namespace: &str) -> bool {
    virtual_service
        .pointer("/spec/http")
        .and_then(Value::as_array)
        .is_some_and(|http| http.iter().any(|h| route_targets(&h["route"], service, namespace)))
}

/// Split one http route's destinations: those to the model's host become a `stable` and a
/// `canary` subset destination carrying the host's share; the others keep theirs.
fn split_destinations(route: &Value, service: &str, namespace: &str, split: Split) -> Value {
    let destinations = route.as_array().cloned().unwrap_or_default();
    let single = destinations.len() == 1;
    let mut host_weight = 0u32;
    let mut first: Option<(usize, Value)> = None;
    let mut others = Vec::new();
    for (i, d) in destinations.iter().enumerate() {
        let is_host = d
            .pointer("/destination/host")
            .and_then(Value::as_str)
            .is_some_and(|h| host_matches(h, service, namespace));
        if is_host {
            let weight = d.get("weight").and_then(Value::as_u64).map(|w| w as u32);
            host_weight += weight.unwrap_or(if single { 100 } else { 0 });
            if first.is_none() {
                first = Some((i, d.clone()));
            }
        } else {
            others.push((i, d.clone()));
        }
    }
    let Some((at, template)) = first else {
        return route.clone();
    };
    if single && host_weight == 0 {
        host_weight = 100;
    }
    let (stable_weight, canary_weight) = split_route_weight(host_weight, split);
    let track = |subset: &str, weight: u32| {
        let mut d = template.clone();
        d["destination"]["subset"] = json!(subset);
        d["weight"] = json!(weight);
        d
    };
    let mut out = Vec::new();
    for (i, d) in others.iter() {
        if *i < at {
            out.push(d.clone());
        }
    }
    out.push(track("stable", stable_weight));
    out.push(track("canary", canary_weight));
    for (i, d) in others.iter() {
        if *i > at {
            out.push(d.clone());
        }
    }
    Value::Array(out)
}

/// `spec.http` with every route that went to the model's host (in `original_http`, the shape
/// before the canary) weighted `split` between the subsets; other routes are taken as they are now.
pub fn weighted_http(
    current_http: &Value,
    original_http: &Value,
    service: &str,
    namespace: &str,
    split: Split,
) -> Value {
    let mut http = current_http.as_array().cloned().unwrap_or_default();
    let original = original_http.as_array().cloned().unwrap_or_default();
    for (i, entry) in http.iter_mut().enumerate() {
        let Some(before) = original.get(i) else { continue };
        if route_targets(&before["route"], service, namespace) {
            entry["route"] = split_destinations(&before["route"], service, namespace, split);
        }
    }
    Value::Array(http)
}

/// `spec.http` with the routes modelroll changed put back as they were in `original_http`.
pub fn restored_http(current_http: &Value, original_http: &Value, service: &str, namespace: &str) -> Value {
    let mut http = current_http.as_array().cloned().unwrap_or_default();
    let original = original_http.as_array().cloned().unwrap_or_default();
    for (i, entry) in http.iter_mut().enumerate() {
        let Some(before) = original.get(i) else { continue };
        if route_targets(&before["route"], service, namespace) {
            entry["route"] = before["route"].clone();
        }
    }
    Value::Array(http)
}

fn track_subset(track: &str) -> Value {
    json!({"name": track, "labels": {TRACK_LABEL: track}})
}

/// A new DestinationRule `name` for the model's host with the two track subsets.
pub fn new_destination_rule(name: &str, namespace: &str, host: &str, model: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubectl-modelroll"},
            "annotations": {"modelroll.io/canary-of": model},
        },
        "spec": {"host": host, "subsets": [track_subset("stable"), track_subset("canary")]},
    })
}

/// An existing DestinationRule's subsets with `stable` and `canary` (by track label) set; its
/// traffic policy and other subsets are kept.
pub fn with_track_subsets(subsets: &Value) -> Value {
    let mut out: Vec<Value> = subsets
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !matches!(s["name"].as_str(), Some("stable" | "canary")))
        .collect();
    for track in ["stable", "canary"] {
        let mut subset = track_subset(track);
        if let Some(before) = subsets.as_array().and_then(|a| a.iter().find(|s| s["name"] == track)) {
            // Keep a per-subset traffic policy the user had.
            if let Some(policy) = before.get("trafficPolicy") {
                subset["trafficPolicy"] = policy.clone();
            }
        }
        out.push(subset);
    }
    Value::Array(out)
}

/// The istio router; everything it needs to remember is in its [`IstioRouting`].
pub struct Istio {
    pub routing: IstioRouting,
    pub virtual_service_kind: ApiResource,
    pub destination_rule_kind: ApiResource,
    pub model: String,
}

impl Istio {
    fn parts(&self) -> (&str, &str, &Value, &str, bool, &Value) {
        let r = &self.routing;
        (
            &r.virtual_service,
            &r.service,
            &r.original_http,
            &r.destination_rule,
            r.destination_rule_created,
            &r.original_subsets,
        )
    }
}

impl Router for Istio {
    fn routing(&self) -> Routing {
        Routing::Istio(self.routing.clone())
    }

    fn prepare<'a>(&'a self, w: &'a Writer) -> BoxFuture<'a, Result<()>> {
        async move {
            let (_, service, original, rule, created, _) = self.parts();
            let ns = w.namespace().to_string();
            // The host as the VirtualService names it (no assumption about the cluster domain).
            let host = route_host(original, service, &ns).unwrap_or_else(|| format!("{service}.{ns}"));
            if created {
                if w.get(&self.destination_rule_kind, rule).await?.is_none() {
                    w.create(
                        &self.destination_rule_kind,
                        new_destination_rule(rule, &ns, &host, &self.model),
                    )
                    .await?;
                }
                return Ok(());
            }
            w.update(&self.destination_rule_kind, rule, |dr| {
                dr["spec"]["subsets"] = with_track_subsets(&dr["spec"]["subsets"]);
                Ok(())
            })
            .await?
            .ok_or_else(|| {
                Error::failed(format!("destinationrule {rule} disappeared; run the command again"))
            })?;
            Ok(())
        }
        .boxed()
    }

    fn destinations<'a>(&'a self, w: &'a Writer) -> BoxFuture<'a, Result<Vec<RouteDestination>>> {
        async move {
            let (_, service, _, rule, _, _) = self.parts();
            // Istio sends a subset's share to the Service's pods that also carry its labels.
            let selector: BTreeMap<String, String> = match w.get(&super::service_kind(), service).await? {
                Some(svc) => serde_json::from_value(svc["spec"]["selector"].clone()).unwrap_or_default(),
                None => BTreeMap::new(),
            };
            let subsets = match w.get(&self.destination_rule_kind, rule).await? {
                Some(dr) => dr["spec"]["subsets"].as_array().cloned().unwrap_or_default(),
                None => Vec::new(),
            };
            let mut out = Vec::new();
            for track in ["stable", "canary"] {
                let mut labels = selector.clone();
                if let Some(subset) = subsets.iter().find(|s| s["name"] == track) {
                    let subset: BTreeMap<String, String> =
                        serde_json::from_value(subset["labels"].clone()).unwrap_or_default();
                    labels.extend(subset);
                }
                out.push(RouteDestination {
                    track: track.to_string(),
                    what: format!("subset {track} of destinationrule {rule}"),
                    selector: labels,
                });
            }
            Ok(out)
        }
        .boxed()
    }

    fn set_weight<'a>(&'a self, w: &'a Writer, canary_weight: u32) -> BoxFuture<'a, Result<()>> {
        async move {
            let (vs, service, original, _, _, _) = self.parts();
            let ns = w.namespace().to_string();
            let split = Split::with_canary(canary_weight);
            w.update(&self.virtual_service_kind, vs, |object| {
                object["spec"]["http"] =
                    weighted_http(&object["spec"]["http"], original, service, &ns, split);
                Ok(())
            })
            .await?
            .ok_or_else(|| Error::failed(format!("virtualservice {vs} is gone; run `abort` to clean up")))?;
            Ok(())
        }
        .boxed()
    }

    fn restore<'a>(&'a self, w: &'a Writer, _end: End) -> BoxFuture<'a, Result<()>> {
        async move {
            let (vs, service, original, rule, created, original_subsets) = self.parts();
            let ns = w.namespace().to_string();
            w.update(&self.virtual_service_kind, vs, |object| {
                object["spec"]["http"] = restored_http(&object["spec"]["http"], original, service, &ns);
                Ok(())
            })
            .await?;
            if created {
                w.delete(&self.destination_rule_kind, rule).await?;
            } else {
                w.update(&self.destination_rule_kind, rule, |dr| {
                    match original_subsets {
                        Value::Null => {
                            if let Some(spec) = dr["spec"].as_object_mut() {
                                spec.remove("subsets");
                            }
                        }
                        subsets => dr["spec"]["subsets"] = subsets.clone(),
                    }
                    Ok(())
                })
                .await?;
            }
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn virtual_service() -> Value {
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "fraud", "namespace": "ml"},
            "spec": {
                "hosts": ["fraud.example.com"],
                "http": [
                    {"match": [{"uri": {"prefix": "/admin"}}], "route": [{"destination": {"host": "admin"}}]},
                    {"name": "model", "route": [{"destination": {"host": "fraud", "port": {"number": 8080}}}]},
                    {"route": [
                        {"destination": {"host": "fraud.ml.svc.cluster.local"}, "weight": 80},
                        {"destination": {"host": "legacy"}, "weight": 20}
                    ]}
                ]
            }
        })
    }

    #[test]
    fn finds_routes_to_the_service_in_every_host_form() {
        let vs = virtual_service();
        assert!(routes_to(&vs, "fraud", "ml"));
        assert!(!host_matches("fraud.ml.svc.cluster.local", "fraud", "other"));
        assert!(routes_to(&vs, "legacy", "ml"));
        assert!(!routes_to(&vs, "nothing", "ml"));
        assert!(host_matches("fraud.ml.svc", "fraud", "ml"));
        assert_eq!(route_host(&vs["spec"]["http"], "fraud", "ml").as_deref(), Some("fraud"));
        assert_eq!(route_host(&vs["spec"]["http"], "nothing", "ml"), None);
    }

    #[test]
    fn weights_go_to_subsets_and_add_up() {
        let vs = virtual_service();
        let http = &vs["spec"]["http"];
        let out = weighted_http(http, http, "fraud", "ml", Split::with_canary(25));
        // Other routes untouched.
        assert_eq!(out[0], http[0]);
        assert_eq!(out[1]["name"], "model");
        assert_eq!(
            out[1]["route"],
            json!([
                {"destination": {"host": "fraud", "port": {"number": 8080}, "subset": "stable"}, "weight": 75},
                {"destination": {"host": "fraud", "port": {"number": 8080}, "subset": "canary"}, "weight": 25}
            ])
        );
        // A shared route keeps the other backend's share; the model's 80 is split.
        let weights: Vec<u64> =
            out[2]["route"].as_array().unwrap().iter().map(|d| d["weight"].as_u64().unwrap()).collect();
        assert_eq!(weights, vec![60, 20, 20]);
        assert_eq!(out[2]["route"][2]["destination"]["host"], "legacy");
        for entry in out.as_array().unwrap().iter().skip(1) {
            let total: u64 =
                entry["route"].as_array().unwrap().iter().map(|d| d["weight"].as_u64().unwrap()).sum();
            assert_eq!(total, 100);
        }
    }

    #[test]
    fn shifting_again_starts_from_the_original_shape() {
        let vs = virtual_service();
        let http = &vs["spec"]["http"];
        let once = weighted_http(http, http, "fraud", "ml", Split::with_canary(25));
        let twice = weighted_http(&once, http, "fraud", "ml", Split::with_canary(50));
        assert_eq!(twice[1]["route"][0]["weight"], 50);
        assert_eq!(twice[1]["route"].as_array().unwrap().len(), 2);
        let full = weighted_http(&twice, http, "fraud", "ml", Split::with_canary(100));
        assert_eq!(full[1]["route"][0]["weight"], 0);
        assert_eq!(full[1]["route"][1]["weight"], 100);
    }

    #[test]
    fn restore_gives_back_the_routes_before_the_canary() {
        let vs = virtual_service();
        let http = &vs["spec"]["http"];
        let shifted = weighted_http(http, http, "fraud", "ml", Split::with_canary(40));
        assert_ne!(&shifted, http);
        assert_eq!(&restored_http(&shifted, http, "fraud", "ml"), http);
    }

    #[test]
    fn existing_destination_rules_keep_policy_and_other_subsets() {
        let subsets = json!([
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "stable", "labels": {"old": "x"}, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}
        ]);
        let out = with_track_subsets(&subsets);
        assert_eq!(out[0]["name"], "v1");
        assert_eq!(
            out[1],
            json!({"name": "stable", "labels": {TRACK_LABEL: "stable"}, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}})
        );
        assert_eq!(out[2], json!({"name": "canary", "labels": {TRACK_LABEL: "canary"}}));
        let dr = new_destination_rule("fraud", "ml", "fraud.ml.svc.cluster.local", "fraud");
        assert_eq!(dr["spec"]["subsets"].as_array().unwrap().len(), 2);
        assert_eq!(dr["spec"]["host"], "fraud.ml.svc.cluster.local");
    }
}
