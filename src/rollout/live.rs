//! The live cluster wins: what the objects say now (replica counts a person or an autoscaler may
//! have changed, the autoscaler that owns the stable's count) against what the
//! `modelroll.io/rollout` annotation recorded, and the replica counts each canary step needs from
//! it. Pure: the verbs read the objects once and decide here.

use std::collections::BTreeMap;

use serde_json::Value;

pub use super::state::Carrier;
use super::state::{IstioRouting, Routing};
use super::weights::{canary_capacity, replica_split};

/// The replica counts of a model's two Deployments as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveReplicas {
    /// `spec.replicas` of the stable Deployment.
    pub stable: i32,
    /// `spec.replicas` of the canary Deployment (0 when it does not exist).
    pub canary: i32,
    /// The autoscaler that owns the stable's replicas (`horizontalpodautoscaler/NAME` or
    /// `scaledobject/NAME`): modelroll never writes them then.
    pub autoscaler: Option<String>,
}

/// The replicas a step needs: `stable` is `None` when it is left as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackReplicas {
    pub stable: Option<i32>,
    pub canary: i32,
    /// The model's pods to record (`stableReplicas` of the state): the replicas router's total,
    /// else the stable's count.
    pub total: i32,
}

/// The replicas router's total pods as the live cluster says. modelroll wrote the stable's count
/// as the split of `recorded_total` at the recorded weight, or at the weight it is moving to (an
/// interrupted move leaves either); any other count was set by someone else (`kubectl scale`,
/// an edit), and their change to the stable is added to the total instead of being undone.
pub fn model_total(recorded_total: i32, recorded_weight: u32, moving_to: u32, live_stable: i32) -> i32 {
    let ours = |weight| replica_split(recorded_total, weight).0;
    if live_stable == ours(recorded_weight) || live_stable == ours(moving_to) {
        recorded_total
    } else {
        (recorded_total + live_stable - ours(recorded_weight)).max(live_stable).max(0)
    }
}

/// Canary pods for `weight`% beside `stable` pods that modelroll may not resize (an autoscaler
/// owns them): round(stable × weight / (100 − weight)), at least one while the weight is above 0,
/// and never more than `stable` (so the canary's share of the pods tops out at half: a larger
/// share needs a mesh or gateway router, which moves weight without resizing stable).
pub fn canary_beside(stable: i32, weight: u32) -> i32 {
    let stable = stable.max(0);
    if weight == 0 {
        return 0;
    }
    if weight >= 100 {
        return stable.max(1);
    }
    let weight = i64::from(weight);
    let rest = 100 - weight;
    let wanted = (i64::from(stable) * weight + rest / 2) / rest;
    (wanted.clamp(1, i64::from(stable.max(1)))) as i32
}

/// The replicas of both tracks for `weight`%, from the recorded total and weight and the live
/// counts: the one place a step's replicas are decided.
pub fn plan(
    carrier: Carrier,
    recorded_total: i32,
    recorded_weight: u32,
    live: &LiveReplicas,
    weight: u32,
) -> TrackReplicas {
    match (carrier, &live.autoscaler) {
        (Carrier::PodRatio, None) => {
            let total = model_total(recorded_total, recorded_weight, weight, live.stable);
            let (stable, canary) = replica_split(total, weight);
            TrackReplicas { stable: Some(stable), canary, total }
        }
        (Carrier::PodRatio, Some(_)) => {
            TrackReplicas { stable: None, canary: canary_beside(live.stable, weight), total: live.stable }
        }
        (Carrier::Route, _) => {
            TrackReplicas { stable: None, canary: canary_capacity(live.stable, weight), total: live.stable }
        }
    }
}

/// The stable's replicas once the canary is gone (promote or abort): the replicas router gives
/// the stable the model's whole total back (a re-run finds it given already: the split at 0%);
/// `None` leaves them as they are (other routers never shrank it; an autoscaler owns them).
pub fn replicas_after(
    carrier: Carrier,
    recorded_total: i32,
    recorded_weight: u32,
    live: &LiveReplicas,
) -> Option<i32> {
    match (carrier, &live.autoscaler) {
        (Carrier::PodRatio, None) => Some(model_total(recorded_total, recorded_weight, 0, live.stable)),
        _ => None,
    }
}

/// The autoscaler among `horizontal_pod_autoscalers` (autoscaling/v2) and `scaled_objects`
/// (keda.sh) whose scale target is Deployment `deployment`, as `kind/name`.
pub fn autoscaler_of(
    deployment: &str,
    horizontal_pod_autoscalers: &[Value],
    scaled_objects: &[Value],
) -> Option<String> {
    // An HPA names its target's kind and apiVersion; KEDA defaults them to an apps/v1 Deployment.
    let targets = |object: &Value, kind_required: bool| {
        let target = &object["spec"]["scaleTargetRef"];
        let kind = target["kind"].as_str().or((!kind_required).then_some("Deployment"));
        let group =
            target["apiVersion"].as_str().map_or("apps", |v| v.split_once('/').map_or("", |(g, _)| g));
        kind == Some("Deployment") && group == "apps" && target["name"].as_str() == Some(deployment)
    };
    let name = |object: &Value| {
        object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string()
    };
    horizontal_pod_autoscalers
        .iter()
        .find(|h| targets(h, true))
        .map(|h| format!("horizontalpodautoscaler/{}", name(h)))
        .or_else(|| {
            scaled_objects.iter().find(|s| targets(s, false)).map(|s| format!("scaledobject/{}", name(s)))
        })
}

/// The canary's share of the traffic as the route object says now: the VirtualService (istio),
/// HTTPRoute (gateway-api) or ksvc (knative) of `routing`, read live. The share of the weight
/// that goes to the two tracks, rounded; `None` for the replicas router (its weight is the ready
/// pods) and when the object no longer sends anything to either track.
pub fn route_weight(routing: &Routing, model: &str, canary: &str, object: &Value) -> Option<u32> {
    let entries = |pointer: &str, inner: &str| -> Vec<Value> {
        object
            .pointer(pointer)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|entry| {
                if inner.is_empty() {
                    vec![entry.clone()]
                } else {
                    entry[inner].as_array().cloned().unwrap_or_default()
                }
            })
            .collect()
    };
    // (canary, stable) weight of each destination that is one of the tracks.
    let tracks: Vec<(u64, u64)> = match routing {
        Routing::Replicas(_) => return None,
        Routing::Istio(IstioRouting { service, .. }) => {
            let destinations = entries("/spec/http", "route");
            let single = destinations.len() == 1;
            destinations
                .iter()
                .filter(|d| {
                    let host = d.pointer("/destination/host").and_then(Value::as_str).unwrap_or_default();
                    host == service || host.starts_with(&format!("{service}."))
                })
                .filter_map(|d| {
                    let weight = d["weight"].as_u64().unwrap_or(if single { 100 } else { 0 });
                    match d.pointer("/destination/subset").and_then(Value::as_str) {
                        Some("canary") => Some((weight, 0)),
                        Some("stable") => Some((0, weight)),
                        _ => None,
                    }
                })
                .collect()
        }
        Routing::GatewayApi(_) => entries("/spec/rules", "backendRefs")
            .iter()
            .filter_map(|b| {
                // A backendRef's weight defaults to 1.
                let weight = b["weight"].as_u64().unwrap_or(1);
                let name = b["name"].as_str().unwrap_or_default();
                if name == format!("{model}-canary") {
                    Some((weight, 0))
                } else if name == format!("{model}-stable") {
                    Some((0, weight))
                } else {
                    None
                }
            })
            .collect(),
        Routing::Knative(_) => entries("/spec/traffic", "")
            .iter()
            .map(|t| {
                let percent = t["percent"].as_u64().unwrap_or(0);
                if t["revisionName"] == canary {
                    (percent, 0)
                } else {
                    (0, percent)
                }
            })
            .collect(),
    };
    let canary_total: u64 = tracks.iter().map(|t| t.0).sum();
    let all: u64 = tracks.iter().map(|t| t.0 + t.1).sum();
    (all > 0).then(|| ((canary_total * 100 + all / 2) / all) as u32)
}

/// What `status` and `list` say when the live route disagrees with the weight modelroll recorded.
pub fn weight_drift(recorded: u32, live: u32) -> Option<String> {
    (recorded != live).then(|| {
        format!("the route sends {live}% to the canary, not the {recorded}% modelroll set: it was changed by hand or by another tool")
    })
}

/// A destination of a route as the live objects define it: the track it serves, what selects its
/// pods (for messages), and how many ready pods that selects now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `stable` or `canary`.
    pub track: String,
    /// E.g. `subset stable of destinationrule fraud (app=fraud, modelroll.io/track=stable)`.
    pub selects: String,
    pub ready: usize,
}

/// The first destination that gets weight at `canary_weight`% and selects no ready pod, with the
/// weight it gets.
fn empty_destination(destinations: &[Destination], canary_weight: u32) -> Option<(&Destination, u32)> {
    destinations.iter().find_map(|d| {
        let weight = if d.track == "canary" { canary_weight } else { 100 - canary_weight.min(100) };
        (weight > 0 && d.ready == 0).then_some((d, weight))
    })
}

/// Why giving the canary `canary_weight`% would send traffic nowhere: a destination that would
/// get weight selects no ready pod (a label removed from a template, a selector edited).
pub fn route_to_nothing(destinations: &[Destination], canary_weight: u32) -> Option<String> {
    empty_destination(destinations, canary_weight).map(|(d, weight)| {
        format!("{} selects no ready pod, and would get {weight}% of the traffic", d.selects)
    })
}

/// Why a step held at `canary_weight`% now sends traffic nowhere: a destination with weight no
/// longer selects a ready pod (its pods lost a label, were scaled away, a selector was edited).
pub fn held_route_to_nothing(destinations: &[Destination], canary_weight: u32) -> Option<String> {
    empty_destination(destinations, canary_weight).map(|(d, weight)| {
        format!("{} no longer selects a ready pod, and gets {weight}% of the traffic", d.selects)
    })
}

/// The labels every one of `selectors` requires: a watch on them sees every pod any of them
/// picks (empty: every pod).
pub fn common_labels(selectors: &[BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let Some((first, rest)) = selectors.split_first() else { return BTreeMap::new() };
    first
        .iter()
        .filter(|(k, v)| rest.iter().all(|s| s.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::state::{GatewayApiRouting, KnativeRouting, ReplicasRouting};
    use serde_json::json;

    fn live(stable: i32, canary: i32) -> LiveReplicas {
        LiveReplicas { stable, canary, autoscaler: None }
    }

    #[test]
    fn a_stable_count_modelroll_wrote_keeps_the_recorded_total() {
        // 4 pods at 25%: stable 3; at 50%: stable 2 (an interrupted move may leave either).
        assert_eq!(model_total(4, 25, 50, 3), 4);
        assert_eq!(model_total(4, 25, 50, 2), 4);
    }

    #[test]
    fn a_stable_scaled_by_hand_adds_to_the_total() {
        // `kubectl scale --replicas 6` at 25% of 4 (stable 3, canary 1): the model has 7 now.
        assert_eq!(model_total(4, 25, 50, 6), 7);
        let step = plan(Carrier::PodRatio, 4, 25, &live(6, 1), 50);
        assert_eq!(step, TrackReplicas { stable: Some(3), canary: 4, total: 7 });
        // Scaled down by hand: the total shrinks, never below the stable's own count.
        assert_eq!(model_total(4, 25, 50, 1), 2);
        assert_eq!(model_total(4, 50, 75, 0), 2);
    }

    #[test]
    fn abort_and_promote_give_the_replicas_router_its_whole_total_back() {
        assert_eq!(replicas_after(Carrier::PodRatio, 4, 50, &live(2, 2)), Some(4));
        assert_eq!(replicas_after(Carrier::PodRatio, 4, 25, &live(6, 1)), Some(7));
        assert_eq!(replicas_after(Carrier::Route, 4, 50, &live(5, 3)), None);
        let scaled = LiveReplicas { autoscaler: Some("horizontalpodautoscaler/m".into()), ..live(5, 3) };
        assert_eq!(replicas_after(Carrier::PodRatio, 4, 50, &scaled), None);
    }

    #[test]
    fn routes_keep_the_live_stable_and_size_the_canary_from_it() {
        // Recorded 2, but someone scaled stable to 5: the canary's capacity follows the 5.
        let step = plan(Carrier::Route, 2, 10, &live(5, 1), 50);
        assert_eq!(step, TrackReplicas { stable: None, canary: 3, total: 5 });
    }

    #[test]
    fn an_autoscaled_stable_is_never_resized() {
        let scaled =
            LiveReplicas { stable: 4, canary: 0, autoscaler: Some("horizontalpodautoscaler/m".into()) };
        for weight in [0, 10, 25, 50, 75, 100] {
            assert_eq!(plan(Carrier::PodRatio, 4, 0, &scaled, weight).stable, None, "{weight}");
        }
        assert_eq!(plan(Carrier::PodRatio, 4, 0, &scaled, 25).canary, 1);
        assert_eq!(plan(Carrier::PodRatio, 4, 0, &scaled, 50).canary, 4);
    }

    #[test]
    fn canary_beside_a_fixed_stable() {
        assert_eq!(canary_beside(4, 0), 0);
        assert_eq!(canary_beside(4, 10), 1);
        // 3 of 4 + 3 = 43%, the nearest to 40% with whole pods beside 4.
        assert_eq!(canary_beside(4, 40), 3);
        assert_eq!(canary_beside(6, 25), 2);
        assert_eq!(canary_beside(4, 50), 4);
        assert_eq!(canary_beside(4, 90), 4, "never more pods than stable");
        assert_eq!(canary_beside(4, 100), 4);
        assert_eq!(canary_beside(0, 30), 1);
    }

    #[test]
    fn live_weights_are_read_from_each_route() {
        let istio = Routing::Istio(IstioRouting {
            virtual_service: "m".into(),
            service: "m".into(),
            original_http: Value::Null,
            destination_rule: "m".into(),
            destination_rule_created: true,
            original_subsets: Value::Null,
        });
        let vs = |canary: u64, stable: u64| {
            json!({"spec": {"http": [
                {"route": [{"destination": {"host": "admin"}, "weight": 100}]},
                {"route": [{"destination": {"host": "m", "subset": "stable"}, "weight": stable},
                           {"destination": {"host": "m.ml.svc.cluster.local", "subset": "canary"}, "weight": canary}]}]}})
        };
        assert_eq!(route_weight(&istio, "m", "m-canary", &vs(10, 90)), Some(10));
        assert_eq!(route_weight(&istio, "m", "m-canary", &vs(100, 0)), Some(100));
        // Edited by hand back to the Service alone: nothing goes to a track.
        let plain = json!({"spec": {"http": [{"route": [{"destination": {"host": "m"}}]}]}});
        assert_eq!(route_weight(&istio, "m", "m-canary", &plain), None);

        let gateway = Routing::GatewayApi(GatewayApiRouting {
            http_route: "r".into(),
            service: "m".into(),
            original_rules: Value::Null,
        });
        let route = json!({"spec": {"rules": [{"backendRefs": [{"name": "m-stable", "weight": 3}, {"name": "m-canary", "weight": 1}]}]}});
        assert_eq!(route_weight(&gateway, "m", "m-canary", &route), Some(25));

        let knative = Routing::Knative(KnativeRouting {
            stable_revision: "m-1".into(),
            original_traffic: Value::Null,
            original_template: Value::Null,
        });
        let ksvc = json!({"spec": {"traffic": [{"revisionName": "m-1", "percent": 40}, {"revisionName": "m-v2", "percent": 60, "tag": "canary"}]}});
        assert_eq!(route_weight(&knative, "m", "m-v2", &ksvc), Some(60));
        assert_eq!(
            route_weight(&Routing::Replicas(ReplicasRouting { service: None }), "m", "m-canary", &ksvc),
            None
        );

        assert_eq!(weight_drift(10, 10), None);
        assert!(weight_drift(10, 0).unwrap().contains("sends 0% to the canary, not the 10%"));
    }

    #[test]
    fn no_weight_goes_to_a_destination_without_ready_pods() {
        let destination = |track: &str, ready| Destination {
            track: track.into(),
            selects: format!("subset {track} of destinationrule m"),
            ready,
        };
        let both = [destination("stable", 2), destination("canary", 1)];
        assert_eq!(route_to_nothing(&both, 60), None);
        let no_stable = [destination("stable", 0), destination("canary", 1)];
        assert_eq!(
            route_to_nothing(&no_stable, 60).as_deref(),
            Some("subset stable of destinationrule m selects no ready pod, and would get 40% of the traffic")
        );
        // All weight on the canary: an empty stable gets nothing, so nothing is lost.
        assert_eq!(route_to_nothing(&no_stable, 100), None);
        let no_canary = [destination("stable", 2), destination("canary", 0)];
        assert!(route_to_nothing(&no_canary, 10).is_some());
        assert_eq!(route_to_nothing(&no_canary, 0), None);
        assert_eq!(route_to_nothing(&[], 50), None);
        // Held: the same destinations, said of traffic that flows now.
        assert_eq!(
            held_route_to_nothing(&no_stable, 20).as_deref(),
            Some("subset stable of destinationrule m no longer selects a ready pod, and gets 80% of the traffic")
        );
        assert_eq!(held_route_to_nothing(&both, 20), None);
        assert_eq!(held_route_to_nothing(&no_canary, 0), None);
    }

    #[test]
    fn a_watch_on_the_common_labels_sees_the_pods_of_every_destination() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let stable = map(&[("app", "m"), ("modelroll.io/track", "stable")]);
        let canary = map(&[("app", "m"), ("modelroll.io/track", "canary")]);
        assert_eq!(common_labels(&[stable.clone(), canary]), map(&[("app", "m")]));
        assert_eq!(common_labels(std::slice::from_ref(&stable)), stable);
        assert_eq!(common_labels(&[stable, map(&[("other", "x")])]), BTreeMap::new());
        assert_eq!(common_labels(&[]), BTreeMap::new());
    }

    #[test]
    fn autoscalers_are_found_by_their_scale_target() {
        let hpa = |name: &str, kind: &str, target: &str| json!({"metadata": {"name": name}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target}}});
        let hpas = vec![
            hpa("other", "Deployment", "other"),
            hpa("rs", "ReplicaSet", "fraud"),
            hpa("fraud-hpa", "Deployment", "fraud"),
        ];
        assert_eq!(autoscaler_of("fraud", &hpas, &[]).as_deref(), Some("horizontalpodautoscaler/fraud-hpa"));
        assert_eq!(autoscaler_of("nobody", &hpas, &[]), None);
        // KEDA's scaleTargetRef defaults to an apps/v1 Deployment.
        let keda =
            vec![json!({"metadata": {"name": "fraud-keda"}, "spec": {"scaleTargetRef": {"name": "fraud"}}})];
        assert_eq!(autoscaler_of("fraud", &[], &keda).as_deref(), Some("scaledobject/fraud-keda"));
        let argo = vec![
            json!({"metadata": {"name": "x"}, "spec": {"scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Deployment", "name": "fraud"}}}),
        ];
        assert_eq!(autoscaler_of("fraud", &[], &argo), None);
    }
}
