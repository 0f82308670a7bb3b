//! Routers: how traffic is split between the stable and the canary track. One file per router
//! behind the [`Router`] trait; routers change cluster objects and know no screen. This module
//! also picks the router (`--router auto` per CLI.md's table) and rebuilds it from the recorded
//! state.

pub mod gateway_api;
pub mod istio;
pub mod knative;
pub mod replicas;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::rollout::state::{GatewayApiRouting, IstioRouting, ReplicasRouting, Routing};
use crate::settings::RouterChoice;
use crate::write::{object_name, Writer};

/// How a canary ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The canary's version became stable.
    Promote,
    /// The canary was removed; stable keeps its version.
    Abort,
}

/// A destination of a route, by the pods it reaches.
#[derive(Debug, Clone)]
pub struct RouteDestination {
    /// `stable` or `canary`.
    pub track: String,
    /// What selects the pods, for messages (`subset stable of destinationrule fraud`).
    pub what: String,
    /// The label selector of the pods it reaches.
    pub selector: BTreeMap<String, String>,
}

/// One way of carrying the canary's weight.
pub trait Router: Send + Sync {
    /// What the router remembers (written into the rollout annotation).
    fn routing(&self) -> Routing;

    /// Whether the router selects pods by `modelroll.io/track` (so stable pods must carry it).
    fn needs_track_label(&self) -> bool {
        matches!(self.routing(), Routing::Istio(_) | Routing::GatewayApi(_))
    }

    /// Put in place what the route needs to tell the tracks apart (subsets, track Services),
    /// with all weight still on stable. Safe to run again.
    fn prepare<'a>(&'a self, w: &'a Writer) -> BoxFuture<'a, Result<()>>;

    /// Give the canary `canary_weight`% and stable the rest on the route objects.
    fn set_weight<'a>(&'a self, w: &'a Writer, canary_weight: u32) -> BoxFuture<'a, Result<()>>;

    /// The route's destinations as the live objects define them, each with the label selector of
    /// the pods it reaches; empty when the router has
    /// no route object (the replicas router's Service selects both tracks).
    fn destinations<'a>(&'a self, _w: &'a Writer) -> BoxFuture<'a, Result<Vec<RouteDestination>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Put the routes back in the shape they had before the canary and remove the router's
    /// own objects.
    fn restore<'a>(&'a self, w: &'a Writer, end: End) -> BoxFuture<'a, Result<()>>;
}

/// The API kinds the canary verbs use.
pub fn deployment_kind() -> ApiResource {
    ApiResource::erase::<Deployment>(&())
}

pub fn service_kind() -> ApiResource {
    ApiResource::erase::<Service>(&())
}

/// The served version of `kind` in API group `group`, or `None` when the cluster does not serve it.
///
/// # Errors
/// When discovery itself fails (unreachable, forbidden).
pub async fn discover_kind(w: &Writer, group: &str, kind: &str) -> Result<Option<ApiResource>> {
    match kube::discovery::oneshot::group(&w.cluster.client, group).await {
        Ok(api_group) => Ok(api_group.recommended_kind(kind).map(|(ar, _)| ar)),
        Err(kube::Error::Discovery(_)) => Ok(None),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(e) => Err(w.cluster.api_error(e, &format!("discover the {group} API"))),
    }
}

async fn require_kind(w: &Writer, group: &str, kind: &str) -> Result<ApiResource> {
    discover_kind(w, group, kind)
        .await?
        .ok_or_else(|| Error::usage(format!("the cluster serves no {group} {kind}")))
}

/// Whether a Service's selector picks pods with `labels` (an empty selector picks nothing here).
pub fn selects(service: &Value, labels: &BTreeMap<String, String>) -> bool {
    match service.pointer("/spec/selector").and_then(Value::as_object) {
        Some(selector) if !selector.is_empty() => selector
            .iter()
            .all(|(k, v)| v.as_str().is_some_and(|v| labels.get(k).map(String::as_str) == Some(v))),
        _ => false,
    }
}

/// The model's Services: those whose selector matches the stable pod template, modelroll's own
/// track Services left out; the one named like the Deployment first.
///
/// # Errors
/// When Services cannot be listed.
pub async fn model_services(
    w: &Writer,
    model: &str,
    template_labels: &BTreeMap<String, String>,
) -> Result<Vec<Value>> {
    let mut stable_labels = template_labels.clone();
    stable_labels.remove(crate::rollout::state::TRACK_LABEL);
    let mut services: Vec<Value> = w
        .list(&service_kind(), None)
        .await?
        .into_iter()
        .filter(|s| selects(s, &stable_labels))
        .filter(|s| {
            let name = object_name(s);
            name != format!("{model}-stable") && name != format!("{model}-canary")
        })
        .collect();
    services.sort_by_key(|s| (object_name(s) != model, object_name(s).to_string()));
    Ok(services)
}

/// What a Deployment target's router is picked from.
pub struct Selection<'a> {
    pub model: &'a str,
    pub choice: RouterChoice,
    pub route: Option<&'a str>,
    pub template_labels: &'a BTreeMap<String, String>,
}

/// Pick the router of a Deployment target as CLI.md's table says, and record the routes' shape
/// before the canary. An explicit router that cannot work here is exit 2 with the reason.
///
/// # Errors
/// Exit 2 naming what is missing (API, Service, route); exit 1 when the cluster cannot be read.
pub async fn select(w: &Writer, selection: &Selection<'_>) -> Result<Box<dyn Router>> {
    let ns = w.namespace().to_string();
    let model = selection.model;
    let services = model_services(w, model, selection.template_labels).await?;
    let service_names: Vec<String> = services.iter().map(|s| object_name(s).to_string()).collect();
    let no_service = |router: &str| {
        Error::usage(format!(
            "no Service in namespace {ns} selects the pods of deployment {model}; the {router} router routes through the model's Service"
        ))
    };
    match selection.choice {
        RouterChoice::Knative => Err(Error::usage(format!(
            "the knative router works on Knative Services: use ksvc/NAME, not deployment {model}"
        ))),
        RouterChoice::Replicas => Ok(Box::new(replicas::Replicas {
            routing: ReplicasRouting { service: service_names.first().cloned() },
        })),
        RouterChoice::Istio => {
            let vs_kind = require_kind(w, istio::GROUP, "VirtualService").await?;
            if service_names.is_empty() {
                return Err(no_service("istio"));
            }
            match find_virtual_service(w, &vs_kind, &service_names, selection.route).await? {
                Some((vs, service)) => istio_router(w, model, vs_kind, &vs, &service).await,
                None => Err(Error::usage(match selection.route {
                    Some(route) => format!(
                        "virtualservice {route} does not route to service {} in namespace {ns}",
                        service_names[0]
                    ),
                    None => {
                        format!("no VirtualService routes to service {} in namespace {ns}", service_names[0])
                    }
                })),
            }
        }
        RouterChoice::GatewayApi => {
            let route_kind = require_kind(w, gateway_api::GROUP, "HTTPRoute").await?;
            if service_names.is_empty() {
                return Err(no_service("gateway-api"));
            }
            match find_http_route(w, &route_kind, &service_names, selection.route).await? {
                Some((route, service)) => Ok(gateway_router(model, route_kind, &route, &service)),
                None => Err(Error::usage(match selection.route {
                    Some(route) => format!(
                        "httproute {route} has no backendRef to service {} in namespace {ns}",
                        service_names[0]
                    ),
                    None => format!(
                        "no HTTPRoute has service {} in namespace {ns} as a backend",
                        service_names[0]
                    ),
                })),
            }
        }
        RouterChoice::Auto => {
            if !service_names.is_empty() {
                if let Some(vs_kind) = discover_kind(w, istio::GROUP, "VirtualService").await? {
                    if let Some((vs, service)) =
                        find_virtual_service(w, &vs_kind, &service_names, selection.route).await?
                    {
                        return istio_router(w, model, vs_kind, &vs, &service).await;
                    }
                }
                if let Some(route_kind) = discover_kind(w, gateway_api::GROUP, "HTTPRoute").await? {
                    if let Some((route, service)) =
                        find_http_route(w, &route_kind, &service_names, selection.route).await?
                    {
                        return Ok(gateway_router(model, route_kind, &route, &service));
                    }
                }
            }
            if let Some(route) = selection.route {
                return Err(Error::usage(format!(
                    "--route {route}: no VirtualService or HTTPRoute of that name routes to the pods of deployment {model} in namespace {ns}"
                )));
            }
            Ok(Box::new(replicas::Replicas {
                routing: ReplicasRouting { service: service_names.first().cloned() },
            }))
        }
    }
}

async fn find_virtual_service(
    w: &Writer,
    kind: &ApiResource,
    services: &[String],
    route: Option<&str>,
) -> Result<Option<(Value, String)>> {
    find_route(w, kind, "virtualservice", services, route, istio::routes_to).await
}

async fn find_http_route(
    w: &Writer,
    kind: &ApiResource,
    services: &[String],
    route: Option<&str>,
) -> Result<Option<(Value, String)>> {
    find_route(w, kind, "httproute", services, route, gateway_api::routes_to).await
}

/// The route object (`--route NAME`, else the first by name) that sends traffic to one of
/// `services`, with that service.
async fn find_route(
    w: &Writer,
    kind: &ApiResource,
    kind_name: &str,
    services: &[String],
    route: Option<&str>,
    routes_to: fn(&Value, &str, &str) -> bool,
) -> Result<Option<(Value, String)>> {
    let ns = w.namespace().to_string();
    let candidates = match route {
        Some(name) => match w.get(kind, name).await? {
            Some(found) => vec![found],
            None => return Err(Error::usage(format!("{kind_name} {name} not found in namespace {ns}"))),
        },
        None => {
            let mut all = w.list(kind, None).await?;
            all.sort_by_key(|v| object_name(v).to_string());
            all
        }
    };
    for candidate in candidates {
        if let Some(service) = services.iter().find(|s| routes_to(&candidate, s, &ns)) {
            let service = service.clone();
            return Ok(Some((candidate, service)));
        }
    }
    Ok(None)
}

async fn istio_router(
    w: &Writer,
    model: &str,
    vs_kind: ApiResource,
    vs: &Value,
    service: &str,
) -> Result<Box<dyn Router>> {
    let ns = w.namespace().to_string();
    let dr_kind = require_kind(w, istio::GROUP, "DestinationRule").await?;
    let rules = w.list(&dr_kind, None).await?;
    let existing = rules.iter().find(|dr| {
        dr.pointer("/spec/host").and_then(Value::as_str).is_some_and(|h| istio::host_matches(h, service, &ns))
    });
    let (destination_rule, destination_rule_created, original_subsets) = match existing {
        Some(dr) => (object_name(dr).to_string(), false, dr["spec"]["subsets"].clone()),
        None => {
            if rules.iter().any(|dr| object_name(dr) == model) {
                return Err(Error::usage(format!(
                    "destinationrule {model} exists for another host; rename it or give service {service} its own DestinationRule"
                )));
            }
            (model.to_string(), true, Value::Null)
        }
    };
    Ok(Box::new(istio::Istio {
        routing: IstioRouting {
            virtual_service: object_name(vs).to_string(),
            service: service.to_string(),
            original_http: vs["spec"]["http"].clone(),
            destination_rule,
            destination_rule_created,
            original_subsets,
        },
        virtual_service_kind: vs_kind,
        destination_rule_kind: dr_kind,
        model: model.to_string(),
    }))
}

fn gateway_router(model: &str, route_kind: ApiResource, route: &Value, service: &str) -> Box<dyn Router> {
    Box::new(gateway_api::GatewayApi {
        routing: GatewayApiRouting {
            http_route: object_name(route).to_string(),
            service: service.to_string(),
            original_rules: route["spec"]["rules"].clone(),
        },
        http_route_kind: route_kind,
        service_kind: service_kind(),
        model: model.to_string(),
    })
}

/// The Knative kinds (Service and Revision of serving.knative.dev).
///
/// # Errors
/// Exit 2 when the cluster does not serve Knative.
pub async fn knative_kinds(w: &Writer) -> Result<(ApiResource, ApiResource)> {
    let service = require_kind(w, knative::GROUP, "Service").await?;
    let revision = require_kind(w, knative::GROUP, "Revision").await?;
    Ok((service, revision))
}

/// Rebuild the router of a canary in progress from its recorded routing.
///
/// # Errors
/// Exit 2 when the cluster no longer serves the router's API.
pub async fn from_routing(
    w: &Writer,
    model: &str,
    routing: &Routing,
    canary: &str,
) -> Result<Box<dyn Router>> {
    Ok(match routing {
        Routing::Replicas(routing) => Box::new(replicas::Replicas { routing: routing.clone() }),
        Routing::Istio(routing) => Box::new(istio::Istio {
            routing: routing.clone(),
            virtual_service_kind: require_kind(w, istio::GROUP, "VirtualService").await?,
            destination_rule_kind: require_kind(w, istio::GROUP, "DestinationRule").await?,
            model: model.to_string(),
        }),
        Routing::GatewayApi(routing) => Box::new(gateway_api::GatewayApi {
            routing: routing.clone(),
            http_route_kind: require_kind(w, gateway_api::GROUP, "HTTPRoute").await?,
            service_kind: service_kind(),
            model: model.to_string(),
        }),
        Routing::Knative(routing) => {
            let (service_kind, revision_kind) = knative_kinds(w).await?;
            Box::new(knative::Knative {
                routing: routing.clone(),
                service_kind,
                revision_kind,
                model: model.to_string(),
                canary_revision: canary.to_string(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_selection_needs_every_selector_label() {
        let labels =
            BTreeMap::from([("app".to_string(), "m".to_string()), ("tier".to_string(), "ml".to_string())]);
        assert!(selects(&json!({"spec": {"selector": {"app": "m"}}}), &labels));
        assert!(!selects(&json!({"spec": {"selector": {"app": "m", "x": "y"}}}), &labels));
        assert!(!selects(&json!({"spec": {}}), &labels));
        assert!(!selects(&json!({"spec": {"selector": {}}}), &labels));
    }
}
