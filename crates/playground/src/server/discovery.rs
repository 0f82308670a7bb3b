//! Discovery: `/version`, `/api`, `/apis` (classic and aggregated `apidiscovery.k8s.io/v2`),
//! one group, and the resource lists of a group version, in kube-apiserver's order and shape.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{json_response, status_response, ApiServer};
use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::store::Store;

/// The response to a discovery path (`/version`, `/api`, `/apis`, a group, a group version,
/// `/openapi/v3`), or `None` when the path names no discovery document.
pub(super) fn serve(server: &ApiServer, segments: &[&str], accept: &str) -> Option<Response> {
    let response = match segments {
        ["version"] => json_response(StatusCode::OK, &version()),
        ["api"] | ["apis"] if wants_aggregated_discovery(accept) => {
            aggregated_discovery(&server.store, segments[0] == "api")
        }
        ["api"] => json_response(StatusCode::OK, &api_versions(&server.address)),
        ["apis"] => json_response(StatusCode::OK, &api_group_list(&server.store)),
        ["api", "v1"] => resource_list_response(&server.store, "", "v1"),
        ["apis", group] => api_group(&server.store, group),
        ["apis", group, version] => resource_list_response(&server.store, group, version),
        ["openapi", "v3"] => json_response(StatusCode::OK, &crate::openapi::root(&server.store)),
        ["openapi", "v3", "api", version] | ["openapi", "v3", "apis", "", version] => {
            match crate::openapi::document(&server.store, "", version) {
                Some(doc) => json_response(StatusCode::OK, &doc),
                None => status_response(&ApiError::no_route()),
            }
        }
        ["openapi", "v3", "apis", group, version] => {
            match crate::openapi::document(&server.store, group, version) {
                Some(doc) => json_response(StatusCode::OK, &doc),
                None => status_response(&ApiError::no_route()),
            }
        }
        ["openapi", ..] => status_response(&ApiError::no_route()),
        _ => return None,
    };
    Some(response)
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "gitVersion": "v1.33.0-playground",
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn api_versions(address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    })
}

/// Groups and their versions, in the order kube-apiserver lists them (built-ins first).
fn groups(store: &Store) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut types = store.types();
    // Built-in groups keep their fixed order; CRD groups follow, by name.
    let rank = |t: &ResourceType| if t.is_custom() { 1 } else { 0 };
    types.sort_by(|a, b| {
        rank(a).cmp(&rank(b)).then_with(|| {
            if rank(a) == 1 {
                a.group.cmp(&b.group)
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    for ty in types {
        if ty.group.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == ty.group) {
            Some((_, versions)) => {
                for v in &ty.versions {
                    if !versions.contains(v) {
                        versions.push(v.clone());
                    }
                }
            }
            None => out.push((ty.group.clone(), ty.versions.clone())),
        }
    }
    for (_, versions) in &mut out {
        versions.sort_by_key(|v| crate::resources::version_priority(v));
    }
    out
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
}

fn api_group_list(store: &Store) -> Value {
    let groups: Vec<Value> = groups(store).iter().map(|(g, vs)| group_json(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn api_group(store: &Store, group: &str) -> Response {
    match groups(store).into_iter().find(|(g, _)| g == group) {
        Some((g, vs)) => {
            let mut body = group_json(&g, &vs);
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            json_response(StatusCode::OK, &body)
        }
        None => status_response(&ApiError::no_route()),
    }
}

/// Whether the client asks for aggregated discovery (`apidiscovery.k8s.io/v2`), as kubectl 1.30+
/// does; clients that do not get the classic documents.
fn wants_aggregated_discovery(accept: &str) -> bool {
    accept
        .split(',')
        .any(|t| t.contains("as=APIGroupDiscoveryList") && t.contains("v=v2") && !t.contains("v=v2beta1"))
}

/// `/api` or `/apis` as one `APIGroupDiscoveryList`: every group, version and resource (with
/// subresources) in a single response.
fn aggregated_discovery(store: &Store, core: bool) -> Response {
    let types = store.types();
    let group_names: Vec<(String, Vec<String>)> =
        if core { vec![(String::new(), vec!["v1".to_string()])] } else { groups(store) };
    let items: Vec<Value> = group_names
        .iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = types
                        .iter()
                        .filter(|t| t.group == *group && t.serves(version))
                        .map(|ty| {
                            let kind = |g: &str, v: &str, k: &str| json!({"group": g, "version": v, "kind": k});
                            let mut subresources = Vec::new();
                            if ty.status {
                                subresources.push(json!({"subresource": "status", "responseKind": kind(group, version, &ty.kind), "verbs": ["get", "patch", "update"]}));
                            }
                            if ty.scale.is_some() {
                                subresources.push(json!({"subresource": "scale", "responseKind": kind("autoscaling", "v1", "Scale"), "verbs": ["get", "patch", "update"]}));
                            }
                            let mut entry = json!({
                                "resource": ty.plural,
                                "responseKind": kind(group, version, &ty.kind),
                                "scope": if ty.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": ty.singular,
                                "verbs": ty.verbs(),
                            });
                            if !ty.short_names.is_empty() {
                                entry["shortNames"] = json!(ty.short_names);
                            }
                            if !ty.categories.is_empty() {
                                entry["categories"] = json!(ty.categories);
                            }
                            if !subresources.is_empty() {
                                entry["subresources"] = json!(subresources);
                            }
                            entry
                        })
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    let body = json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items});
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")],
        body.to_string(),
    )
        .into_response()
}

fn resource_list_response(store: &Store, group: &str, version: &str) -> Response {
    let types: Vec<Arc<ResourceType>> =
        store.types().into_iter().filter(|t| t.group == group && t.serves(version)).collect();
    if types.is_empty() {
        return status_response(&ApiError::no_route());
    }
    let mut resources = Vec::new();
    for ty in &types {
        let mut entry = json!({
            "name": ty.plural,
            "singularName": ty.singular,
            "namespaced": ty.namespaced,
            "kind": ty.kind,
            "verbs": ty.verbs(),
        });
        if !ty.short_names.is_empty() {
            entry["shortNames"] = json!(ty.short_names);
        }
        if !ty.categories.is_empty() {
            entry["categories"] = json!(ty.categories);
        }
        resources.push(entry);
        if ty.status {
            resources.push(json!({"name": format!("{}/status", ty.plural), "singularName": "", "namespaced": ty.namespaced, "kind": ty.kind, "verbs": ["get", "patch", "update"]}));
        }
        if ty.scale.is_some() {
            resources.push(json!({"name": format!("{}/scale", ty.plural), "singularName": "", "namespaced": ty.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_discovery_is_served_to_clients_that_ask() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated_discovery(kubectl));
        assert!(!wants_aggregated_discovery("application/json, */*"));
        let store = Store::new();
        let response = aggregated_discovery(&store, false);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
    }
}
