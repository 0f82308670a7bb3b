//! The HTTP face of the playground: kube-apiserver's REST paths (discovery, CRUD, watch,
//! patches, subresources) over the [`Store`], with bearer-token auth and RBAC for the viewer,
//! fault injection, and a per-client request counter.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::errors::{ApiError, InvalidField};
use super::faults::Faults;
use super::patch::{self, PatchType};
use super::resources::{ResourceRef, ResourceType};
use super::selectors::{selector_string, FieldSelector, LabelSelector};
use super::store::{
    DeleteOptions, Deleted, EventType, Propagation, Store, Subresource, WatchEvent, WriteOptions,
};
use super::tables;

/// A user the playground knows by bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// May create, update, patch and delete (else get/list/watch only).
    pub can_write: bool,
    /// Groups, `system:authenticated` included.
    pub groups: Vec<String>,
    /// Authorized by the RBAC objects in the store (see [`super::rbac`]) instead of `can_write`.
    pub rbac: bool,
}

/// Requests served, per client (User-Agent).
#[derive(Debug, Default)]
pub struct RequestCounter {
    counts: Mutex<BTreeMap<String, u64>>,
    /// Faults injected so far, by kind (`429`, `500`, `watch-cut`, `restart`...).
    injected: Mutex<BTreeMap<String, u64>>,
}

impl RequestCounter {
    fn add(&self, agent: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(agent.to_string()).or_default() += 1;
    }

    /// Requests so far, by User-Agent.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Count one injected fault of `kind`.
    pub fn add_fault(&self, kind: &str) {
        let mut injected = self.injected.lock().unwrap_or_else(PoisonError::into_inner);
        *injected.entry(kind.to_string()).or_default() += 1;
    }

    /// Faults injected so far, by kind: how a reliability test proves its faults happened.
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.injected.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Forget all counts.
    pub fn reset(&self) {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// Everything a request handler needs.
pub struct ApiServer {
    pub store: Store,
    pub tokens: BTreeMap<String, User>,
    /// The faults to inject, changeable while serving ([`super::Playground::set_faults`]).
    pub faults: tokio::sync::watch::Sender<Faults>,
    pub requests: Arc<RequestCounter>,
    /// `host:port`, for `/api`'s serverAddressByClientCIDRs.
    pub address: String,
    /// The model servers of the pods, behind the pods `proxy` subresource.
    pub model_servers: Arc<super::model_server::ModelServers>,
}

/// The axum router serving the API.
///
/// A handler that panics answers 500 instead of taking the connection (or, unwinding across
/// the runtime, the server) down. This is defence in depth only: handlers must not panic, and
/// with the release profile's `panic = "abort"` nothing can be caught.
pub fn router(server: Arc<ApiServer>) -> axum::Router {
    axum::Router::new()
        .fallback(handle)
        .with_state(server)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    status_response(&ApiError::internal("the playground failed while serving this request"))
}

fn status_response(err: &ApiError) -> Response {
    let mut response = (
        StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        err.to_status().to_string(),
    )
        .into_response();
    if let Some(seconds) = err.retry_after {
        if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn handle(State(server): State<Arc<ApiServer>>, request: Request) -> Response {
    let agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_string();
    server.requests.add(&agent);
    let path = request.uri().path().to_string();
    if path == "/playground/requests" {
        return json_response(StatusCode::OK, &json!(server.requests.snapshot()));
    }
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return (StatusCode::OK, "ok").into_response();
    }
    let user = match authenticate(&server, request.headers()) {
        Ok(user) => user,
        Err(err) => return status_response(&err),
    };
    let method = request.method().clone();
    let request_accept =
        request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let raw_query = request.uri().query().map(str::to_string);
    let query = parse_query(raw_query.as_deref().unwrap_or(""));
    let headers = request.headers().clone();
    let body = match axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => {
            return status_response(&ApiError::bad_request(format!("cannot read the request body: {e}")))
        }
    };
    let segments: Vec<String> =
        match path.split('/').filter(|s| !s.is_empty()).map(decode_path_segment).collect() {
            Ok(segments) => segments,
            Err(err) => return status_response(&err),
        };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["version"] => return json_response(StatusCode::OK, &version()),
        ["api"] | ["apis"] if wants_aggregated_discovery(&request_accept) => {
            return aggregated_discovery(&server.store, segments[0] == "api");
        }
        ["api"] => return json_response(StatusCode::OK, &api_versions(&server.address)),
        ["apis"] => return json_response(StatusCode::OK, &api_group_list(&server.store)),
        ["api", "v1"] => return resource_list_response(&server.store, "", "v1"),
        ["apis", group] => return api_group(&server.store, group),
        ["apis", group, version] => return resource_list_response(&server.store, group, version),
        ["openapi", "v3"] => return json_response(StatusCode::OK, &super::openapi::root(&server.store)),
        ["openapi", "v3", "api", version] | ["openapi", "v3", "apis", "", version] => {
            return match super::openapi::document(&server.store, "", version) {
                Some(doc) => json_response(StatusCode::OK, &doc),
                None => status_response(&ApiError::no_route()),
            }
        }
        ["openapi", "v3", "apis", group, version] => {
            return match super::openapi::document(&server.store, group, version) {
                Some(doc) => json_response(StatusCode::OK, &doc),
                None => status_response(&ApiError::no_route()),
            }
        }
        ["openapi", ..] => return status_response(&ApiError::no_route()),
        _ => {}
    }
    let faults = server.faults.borrow().clone();
    if let Some(delay) = faults.latency {
        tokio::time::sleep(delay).await;
    }
    if let Some(proxied) = super::proxy::ProxyPath::parse(&path) {
        let target = Target {
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
            namespace: proxied.namespace.clone(),
            name: Some(proxied.id.clone()),
            subresource: Some("proxy".into()),
        };
        let call = Call { server: &server, user: &user, method, query, headers, body, target, agent };
        if let Err(err) = call.authorize() {
            return status_response(&err);
        }
        let served = super::proxy::serve(
            &server.store,
            &server.model_servers,
            &call.method,
            &proxied,
            &path,
            raw_query.as_deref(),
            &call.body,
        )
        .await;
        return served.unwrap_or_else(|err| status_response(&err));
    }
    let target = match parse_target(&segments) {
        Some(t) => t,
        None => return status_response(&ApiError::no_route()),
    };
    let fault =
        faults.request_fault(&method, &target.group, &target.resource, target.name.as_deref().unwrap_or(""));
    if let Some(err) = fault {
        server.requests.add_fault(&err.code.to_string());
        return status_response(&err);
    }
    let call = Call { server: &server, user: &user, method, query, headers, body, target, agent };
    match call.serve().await {
        Ok(response) => response,
        Err(err) => status_response(&err),
    }
}

/// A path segment as the API server sees it, decoded by the `percent-encoding` crate. Go's
/// `url.ParseRequestURI` refuses a `%` not followed by two hex digits (kube-apiserver then
/// answers 400 before routing), so that is refused here too; any other byte passes, and bytes
/// that are not UTF-8 become U+FFFD, which no object name accepts.
fn decode_path_segment(segment: &str) -> Result<String, ApiError> {
    if !escapes_are_valid(segment) {
        return Err(ApiError::bad_request(format!("invalid URL escape in path segment {segment:?}")));
    }
    Ok(percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned())
}

/// Whether every `%` in `text` starts an escape of two hex digits (what Go's unescape demands).
fn escapes_are_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().filter(|(_, b)| **b == b'%').all(|(i, _)| {
        bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    })
}

/// One key or value of a query string: `+` is a space, then percent-decoded.
fn decode_query_component(component: &str) -> String {
    percent_encoding::percent_decode_str(&component.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// The query string as Go's `url.ParseQuery` reads it for kube-apiserver: pairs split on `&`,
/// the first value of a key wins, and a pair with a bad escape is skipped (Go drops it and the
/// apiserver ignores the error).
fn parse_query(query: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !escapes_are_valid(k) || !escapes_are_valid(v) {
            continue;
        }
        out.entry(decode_query_component(k)).or_insert_with(|| decode_query_component(v));
    }
    out
}

fn authenticate(server: &ApiServer, headers: &HeaderMap) -> Result<User, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    token.and_then(|t| server.tokens.get(t)).cloned().ok_or_else(ApiError::unauthorized)
}

/// What the request path names.
#[derive(Debug)]
struct Target {
    group: String,
    version: String,
    resource: String,
    namespace: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(segments: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let make = |namespace: &str, resource: &str, name: Option<&str>, sub: Option<&str>| Target {
        group: group.to_string(),
        version: version.to_string(),
        resource: resource.to_string(),
        namespace: namespace.to_string(),
        name: name.map(str::to_string),
        subresource: sub.map(str::to_string),
    };
    Some(match rest {
        [resource] => make("", resource, None, None),
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => {
            make("", "namespaces", Some(ns), Some(sub))
        }
        ["namespaces", ns, resource] => make(ns, resource, None, None),
        ["namespaces", ns, resource, name] => make(ns, resource, Some(name), None),
        ["namespaces", ns, resource, name, sub] => make(ns, resource, Some(name), Some(sub)),
        [resource, name] => make("", resource, Some(name), None),
        [resource, name, sub] => make("", resource, Some(name), Some(sub)),
        _ => return None,
    })
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
        versions.sort_by_key(|v| super::resources::version_priority(v));
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

/// One resource request being served.
struct Call<'a> {
    server: &'a ApiServer,
    user: &'a User,
    method: Method,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
    target: Target,
    agent: String,
}

impl Call<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.param(key), Some("true" | "1"))
    }

    fn verb(&self) -> &'static str {
        let named = self.target.name.is_some();
        match self.method {
            Method::GET | Method::HEAD if self.flag("watch") => "watch",
            Method::GET | Method::HEAD if named => "get",
            Method::GET | Method::HEAD => "list",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if named => "delete",
            Method::DELETE => "deletecollection",
            _ => "unknown",
        }
    }

    /// Authorize the request as kube-apiserver does, before it looks the resource up (so an
    /// unknown resource is forbidden, not missing, to a user who may not use it).
    fn authorize(&self) -> Result<(), ApiError> {
        let verb = self.verb();
        let target = &self.target;
        let subresource = target.subresource.as_deref().unwrap_or("");
        let mut name = target.name.as_deref().unwrap_or("");
        // A list or watch of one object by field selector is authorized for that name.
        if name.is_empty() && matches!(verb, "list" | "watch") {
            if let Some(selected) = self.param("fieldSelector").and_then(|f| {
                f.strip_prefix("metadata.name=")
                    .filter(|n| !n.contains(','))
                    .map(|n| n.trim_start_matches('='))
            }) {
                name = selected;
            }
        }
        // A request for a namespace object is in that namespace.
        let namespace = if target.group.is_empty() && target.resource == "namespaces" && !name.is_empty() {
            name
        } else {
            &target.namespace
        };
        let allowed = if self.user.rbac {
            super::authz::authorize(
                &self.server.store,
                &super::authz::Attributes {
                    user: &self.user.name,
                    groups: &self.user.groups,
                    verb,
                    api_group: &target.group,
                    resource: &target.resource,
                    subresource,
                    name,
                    namespace,
                },
            )
        } else {
            // Like the `view` ClusterRole, the viewer may not reach into pods (proxy, exec, …).
            let connect = matches!(subresource, "proxy" | "exec" | "attach" | "portforward");
            self.user.can_write || (matches!(verb, "get" | "list" | "watch") && !connect)
        };
        if allowed {
            return Ok(());
        }
        Err(ApiError::forbidden_rbac(
            &self.user.name,
            verb,
            &target.group,
            &target.resource,
            subresource,
            namespace,
            target.name.as_deref().unwrap_or(""),
        ))
    }

    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        match self.param("dryRun") {
            None => Ok(WriteOptions { dry_run: false }),
            Some("All") => Ok(WriteOptions { dry_run: true }),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dry run value: {other}: supported values: \"All\""
            ))),
        }
    }

    fn body_json(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::bad_request("the body of the request is empty"));
        }
        let content_type = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if content_type.contains("protobuf") {
            return super::protobuf::decode(&self.body);
        }
        if content_type.contains("cbor") {
            return Err(ApiError::unsupported_body(content_type));
        }
        let value: Value = if content_type.contains("yaml") {
            serde_yaml::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?
        } else {
            serde_json::from_slice(&self.body).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
            })?
        };
        // An object body must be a JSON object; the API server's decoder refuses anything else
        // while reading apiVersion and kind.
        if !value.is_object() {
            return Err(ApiError::bad_request(format!(
                "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
                json_type_name(&value)
            )));
        }
        // ObjectMeta is typed in every kind: a metadata that is not an object is refused by the
        // decoder before any handler (which may then rely on it being one) runs.
        let metadata = &value["metadata"];
        if !metadata.is_null() && !metadata.is_object() {
            let kind = value["kind"].as_str().unwrap_or("Object");
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: json: cannot unmarshal {} into Go struct field {kind}.metadata of type v1.ObjectMeta",
                self.target.version,
                json_type_name(metadata)
            )));
        }
        Ok(value)
    }

    async fn serve(self) -> Result<Response, ApiError> {
        self.authorize()?;
        let resource = ResourceRef::new(&self.target.group, &self.target.version, &self.target.resource);
        let ty = self.server.store.resource_type(&resource)?;
        if !ty.namespaced && !self.target.namespace.is_empty() {
            return Err(ApiError::no_route());
        }
        let sub = self.target.subresource.clone();
        match (sub.as_deref(), self.target.name.is_some()) {
            (None, _) => {}
            (Some("status"), true) if ty.status => {}
            (Some("scale"), true) if ty.scale.is_some() => return self.scale(&resource, &ty),
            _ => return Err(ApiError::no_route()),
        }
        let subresource = if sub.is_some() { Subresource::Status } else { Subresource::Main };
        match (self.verb(), subresource) {
            ("get", _) => self.get(&resource),
            ("list", Subresource::Main) => self.list(&resource, &ty),
            ("watch", Subresource::Main) => self.watch(resource, ty),
            ("create", Subresource::Main) => self.create(&resource, &ty),
            ("update", _) => self.update(&resource, &ty, subresource),
            ("patch", _) => self.patch(&resource, &ty, subresource),
            ("delete", Subresource::Main) => self.delete(&resource, &ty),
            ("deletecollection", Subresource::Main) => self.delete_collection(&resource, &ty),
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            )),
        }
    }

    /// The field manager of a write: `fieldManager`, else the client's name (User-Agent up to
    /// the first `/`), as the API server derives it.
    fn manager(&self) -> String {
        self.param("fieldManager")
            .map(str::to_string)
            .unwrap_or_else(|| self.agent.split('/').next().unwrap_or("unknown").to_string())
    }

    fn wants_table(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.split(',').next().is_some_and(|first| first.contains("as=Table")))
    }

    fn get(&self, resource: &ResourceRef) -> Result<Response, ApiError> {
        let name = self.target.name.as_deref().unwrap_or("");
        let object = self.server.store.get_shared(resource, &self.target.namespace, name)?;
        if self.wants_table() {
            let ty = self.server.store.resource_type(resource)?;
            let table = tables::table(&ty, &[object], None, &self.query);
            return Ok(json_response(StatusCode::OK, &table));
        }
        Ok(json_response(StatusCode::OK, &object))
    }

    fn selectors(&self, ty: &ResourceType) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels = LabelSelector::parse(self.param("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = FieldSelector::parse(self.param("fieldSelector").unwrap_or(""), &ty.group, &ty.plural)
            .map_err(ApiError::bad_request)?;
        Ok((labels, fields))
    }

    fn list(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        let (labels, fields) = self.selectors(ty)?;
        let limit: usize = self.param("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
        let cont = self.param("continue").map(decode_continue).transpose()?;
        let list = self.server.store.list_matching(resource, &self.target.namespace, |o| {
            labels.matches(&o["metadata"]["labels"]) && fields.matches(o)
        })?;
        let mut items = list.items;
        if let Some((_, after)) = &cont {
            items.retain(|o| object_key(o) > *after);
        }
        let mut metadata = json!({"resourceVersion": list.resource_version.to_string()});
        if let Some((rv, _)) = &cont {
            metadata["resourceVersion"] = json!(rv.to_string());
        }
        if limit > 0 && items.len() > limit {
            let remaining = items.len() - limit;
            items.truncate(limit);
            let last = object_key(items.last().expect("limit > 0 keeps an item"));
            let rv = cont.as_ref().map_or(list.resource_version, |(rv, _)| *rv);
            metadata["continue"] = json!(encode_continue(rv, &last));
            metadata["remainingItemCount"] = json!(remaining);
        }
        if self.wants_table() {
            let table = tables::table(ty, &items, Some(metadata), &self.query);
            return Ok(json_response(StatusCode::OK, &table));
        }
        let mut out = Vec::with_capacity(256 + items.len() * 1024);
        out.extend_from_slice(
            format!(
                "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
                json!(ty.list_kind),
                json!(ty.api_version(&resource.version)),
                metadata
            )
            .as_bytes(),
        );
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, &**item).map_err(|e| ApiError::internal(e.to_string()))?;
        }
        out.extend_from_slice(b"]}");
        Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], out).into_response())
    }

    fn create(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        let options = self.write_options()?;
        let mut object = self.body_json()?;
        if ty.namespaced {
            let ns = object["metadata"]["namespace"].as_str().unwrap_or("");
            if !ns.is_empty() && ns != self.target.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            if !object["metadata"].is_object() {
                object["metadata"] = json!({});
            }
            object["metadata"]["namespace"] = json!(self.target.namespace);
        }
        let warnings = self.field_validation(ty, resource, &mut object, None)?;
        super::apply::record_create(ty, &mut object, &self.manager());
        let created = self.server.store.create_with(resource, object, &options)?;
        let mut response = json_response(StatusCode::CREATED, &created);
        add_warnings(&mut response, &warnings);
        Ok(response)
    }

    /// `fieldValidation`: Strict refuses unknown fields, Warn (the default) reports them.
    fn field_validation(
        &self,
        ty: &ResourceType,
        resource: &ResourceRef,
        object: &mut Value,
        _old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        let mode = self.param("fieldValidation").unwrap_or("Warn");
        if mode == "Ignore" {
            return Ok(Vec::new());
        }
        let mut copy = object.clone();
        let unknown = super::validation::unknown_fields_of(ty, &resource.version, &mut copy);
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        if mode == "Strict" {
            let list: Vec<String> = unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect();
            return Err(ApiError::bad_request(format!("strict decoding error: {}", list.join(", "))));
        }
        Ok(unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect())
    }

    fn update(
        &self,
        resource: &ResourceRef,
        ty: &ResourceType,
        sub: Subresource,
    ) -> Result<Response, ApiError> {
        let options = self.write_options()?;
        let mut object = self.body_json()?;
        let name = self.target.name.clone().unwrap_or_default();
        let body_name = object["metadata"]["name"].as_str().unwrap_or("");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if !object["metadata"].is_object() {
            object["metadata"] = json!({});
        }
        object["metadata"]["name"] = json!(name);
        if ty.namespaced {
            let ns = object["metadata"]["namespace"].as_str().unwrap_or("");
            if !ns.is_empty() && ns != self.target.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            object["metadata"]["namespace"] = json!(self.target.namespace);
        }
        let warnings = if sub == Subresource::Main {
            self.field_validation(ty, resource, &mut object, None)?
        } else {
            Vec::new()
        };
        let precondition =
            object["metadata"]["resourceVersion"].as_str().filter(|rv| !rv.is_empty()).map(str::to_string);
        if ty.is_custom() && precondition.is_none() {
            return Err(ApiError::invalid(
                &ty.group,
                &ty.kind,
                &name,
                &[InvalidField::invalid(
                    "metadata.resourceVersion",
                    "0x0",
                    "must be specified for an update",
                )],
            ));
        }
        let manager = self.manager();
        let mut compute = |current: Option<&Value>| -> Result<Value, ApiError> {
            let mut new = object.clone();
            if let (Some(current), Subresource::Main) = (current, sub) {
                super::apply::record_update(ty, current, &mut new, &manager);
            }
            Ok(new)
        };
        let namespace = self.target.namespace.clone();
        let updated = self.server.store.guaranteed_update(
            resource,
            &namespace,
            &name,
            sub,
            &options,
            precondition.as_deref(),
            false,
            &mut compute,
        )?;
        let mut response = json_response(StatusCode::OK, &updated);
        add_warnings(&mut response, &warnings);
        Ok(response)
    }

    fn patch(
        &self,
        resource: &ResourceRef,
        ty: &ResourceType,
        sub: Subresource,
    ) -> Result<Response, ApiError> {
        let options = self.write_options()?;
        let content_type = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let patch_type = PatchType::from_content_type(content_type)
            .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
        if patch_type == PatchType::Strategic && ty.is_custom() {
            return Err(ApiError::unsupported_media_type(content_type));
        }
        let body: Value = if patch_type == PatchType::Apply {
            serde_yaml::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
        } else {
            serde_json::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
        };
        let name = self.target.name.clone().unwrap_or_default();
        let namespace = self.target.namespace.clone();
        let manager = self.manager();
        let strict = self.param("fieldValidation") == Some("Strict");
        if patch_type == PatchType::Apply && self.param("fieldManager").is_none() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let force = self.flag("force");
        let mut created = false;
        if patch_type == PatchType::Apply && strict && sub == Subresource::Main {
            let mut copy = body.clone();
            let unknown = super::validation::unknown_fields_of(ty, &resource.version, &mut copy);
            if !unknown.is_empty() {
                let list: Vec<String> =
                    unknown.iter().map(|u| format!(".{u}: field not declared in schema")).collect();
                return Err(ApiError::bad_request(list.join(", ")));
            }
        }
        let mut compute = |current: Option<&Value>| -> Result<Value, ApiError> {
            let mut new = match (patch_type, current) {
                (PatchType::Json, Some(c)) => patch::json_patch(c, &body)?,
                (PatchType::Merge, Some(c)) => patch::merge_patch(c, &body)?,
                (PatchType::Strategic, Some(c)) => patch::strategic_merge(c, &body)?,
                (PatchType::Apply, current) => {
                    created = current.is_none();
                    return super::apply::apply(ty, current, &body, &manager, force);
                }
                (_, None) => return Err(ApiError::not_found(&ty.group, &ty.plural, &name)),
            };
            if strict && sub == Subresource::Main {
                let mut copy = new.clone();
                let unknown = super::validation::unknown_fields_of(ty, &resource.version, &mut copy);
                if !unknown.is_empty() {
                    let list: Vec<String> =
                        unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect();
                    return Err(ApiError::bad_request(format!("strict decoding error: {}", list.join(", "))));
                }
            }
            if let (Some(current), Subresource::Main) = (current, sub) {
                super::apply::record_update(ty, current, &mut new, &manager);
            }
            Ok(new)
        };
        let create_if_missing = patch_type == PatchType::Apply && sub == Subresource::Main;
        let patched = self.server.store.guaranteed_update(
            resource,
            &namespace,
            &name,
            sub,
            &options,
            None,
            create_if_missing,
            &mut compute,
        )?;
        let code = if created { StatusCode::CREATED } else { StatusCode::OK };
        Ok(json_response(code, &patched))
    }

    fn delete_options(&self) -> Result<DeleteOptions, ApiError> {
        let body: Value = if self.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("cannot decode DeleteOptions: {e}")))?
        };
        let mut options = DeleteOptions { dry_run: self.write_options()?.dry_run, ..Default::default() };
        if body["dryRun"].as_array().is_some_and(|d| d.iter().any(|v| v == "All")) {
            options.dry_run = true;
        }
        options.grace_period_seconds = self
            .param("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| body["gracePeriodSeconds"].as_i64());
        let policy = self
            .param("propagationPolicy")
            .map(str::to_string)
            .or_else(|| body["propagationPolicy"].as_str().map(str::to_string));
        options.propagation = match policy.as_deref() {
            None => None,
            Some("Background") => Some(Propagation::Background),
            Some("Foreground") => Some(Propagation::Foreground),
            Some("Orphan") => Some(Propagation::Orphan),
            Some(other) => {
                return Err(ApiError::invalid(
                    "meta.k8s.io",
                    "DeleteOptions",
                    "",
                    &[InvalidField::not_supported(
                        "propagationPolicy",
                        format!("{other:?}"),
                        &["\"Background\"".into(), "\"Foreground\"".into(), "\"Orphan\"".into()],
                    )],
                ))
            }
        };
        let orphan = self
            .param("orphanDependents")
            .map(|o| o == "true")
            .or_else(|| body["orphanDependents"].as_bool());
        if orphan == Some(true) && options.propagation.is_none() {
            options.propagation = Some(Propagation::Orphan);
        }
        options.precondition_uid = body["preconditions"]["uid"].as_str().map(str::to_string);
        options.precondition_resource_version =
            body["preconditions"]["resourceVersion"].as_str().map(str::to_string);
        Ok(options)
    }

    fn delete(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        let options = self.delete_options()?;
        let name = self.target.name.clone().unwrap_or_default();
        match self.server.store.delete(resource, &self.target.namespace, &name, &options)? {
            Deleted::Now(object) => {
                if ty.group.is_empty() && ty.plural == "pods" || ty.is_custom() {
                    return Ok(json_response(StatusCode::OK, &object));
                }
                let mut details = json!({"name": name, "kind": ty.plural, "uid": object["metadata"]["uid"]});
                if !ty.group.is_empty() {
                    details["group"] = json!(ty.group);
                }
                Ok(json_response(
                    StatusCode::OK,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
                ))
            }
            Deleted::Pending(object) => Ok(json_response(StatusCode::ACCEPTED, &object)),
        }
    }

    fn delete_collection(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        if !ty.verbs().contains(&"deletecollection") {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        let options = self.delete_options()?;
        let (labels, fields) = self.selectors(ty)?;
        let list = self.server.store.list_matching(resource, &self.target.namespace, |o| {
            labels.matches(&o["metadata"]["labels"]) && fields.matches(o)
        })?;
        let mut deleted = Vec::new();
        for item in &list.items {
            let ns = item["metadata"]["namespace"].as_str().unwrap_or("");
            let name = item["metadata"]["name"].as_str().unwrap_or("");
            match self.server.store.delete(resource, ns, name, &options) {
                Ok(d) => deleted.push(d.object().clone()),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({"kind": ty.list_kind, "apiVersion": ty.api_version(&resource.version),
                    "metadata": {"resourceVersion": self.server.store.resource_version().to_string()},
                    "items": deleted}),
        ))
    }

    fn scale(&self, resource: &ResourceRef, ty: &ResourceType) -> Result<Response, ApiError> {
        let paths = ty.scale.clone().expect("scale() is called for types with a scale subresource");
        let name = self.target.name.clone().unwrap_or_default();
        let namespace = self.target.namespace.clone();
        let store = &self.server.store;
        match self.verb() {
            "get" => {
                let object = store.get(resource, &namespace, &name)?;
                Ok(json_response(StatusCode::OK, &scale_of(&object, &paths)))
            }
            "update" | "patch" => {
                let options = self.write_options()?;
                let body = if self.verb() == "update" { Some(self.body_json()?) } else { None };
                let content_type = self
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let patch_body: Option<Value> = if self.verb() == "patch" {
                    Some(
                        serde_json::from_slice(&self.body)
                            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
                    )
                } else {
                    None
                };
                let precondition = body
                    .as_ref()
                    .and_then(|b| b["metadata"]["resourceVersion"].as_str())
                    .filter(|rv| !rv.is_empty())
                    .map(str::to_string);
                let mut compute = |current: Option<&Value>| -> Result<Value, ApiError> {
                    let current = current.ok_or_else(|| ApiError::not_found(&ty.group, &ty.plural, &name))?;
                    let scale = scale_of(current, &paths);
                    let wanted = match (&body, &patch_body) {
                        (Some(b), _) => b.clone(),
                        (None, Some(p)) => match PatchType::from_content_type(&content_type) {
                            Some(PatchType::Json) => patch::json_patch(&scale, p)?,
                            Some(PatchType::Merge | PatchType::Strategic) => patch::merge_patch(&scale, p)?,
                            _ => return Err(ApiError::unsupported_media_type(&content_type)),
                        },
                        (None, None) => scale.clone(),
                    };
                    let replicas = wanted["spec"]["replicas"].as_i64().unwrap_or(0);
                    if replicas < 0 {
                        return Err(ApiError::invalid(
                            "autoscaling",
                            "Scale",
                            &name,
                            &[InvalidField::invalid(
                                "spec.replicas",
                                replicas,
                                "must be greater than or equal to 0",
                            )],
                        ));
                    }
                    let mut object = current.clone();
                    set_path(&mut object, &paths.spec_replicas, json!(replicas));
                    Ok(object)
                };
                let updated = store.guaranteed_update(
                    resource,
                    &namespace,
                    &name,
                    Subresource::Main,
                    &options,
                    precondition.as_deref(),
                    false,
                    &mut compute,
                )?;
                Ok(json_response(StatusCode::OK, &scale_of(&updated, &paths)))
            }
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            )),
        }
    }

    fn watch(&self, resource: ResourceRef, ty: Arc<ResourceType>) -> Result<Response, ApiError> {
        let (labels, fields) = self.selectors(&ty)?;
        let store = self.server.store.clone();
        let namespace = self.target.namespace.clone();
        let bookmarks = self.flag("allowWatchBookmarks");
        let send_initial = self.flag("sendInitialEvents");
        let rv_param = self.param("resourceVersion").map(str::to_string);
        let timeout =
            self.param("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
        let faults = self.server.faults.borrow().clone();
        let close_after = faults.watch_close;
        let cut_after = faults.watch_cut_after();
        let limit = match (timeout, close_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let table = self.wants_table().then(|| self.query.clone());
        let start: Option<u64> = match rv_param.as_deref() {
            None | Some("0") | Some("") => None,
            Some(rv) => Some(
                rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?,
            ),
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
        let mut live = store.subscribe();
        let filter = WatchFilter { resource: resource.clone(), namespace, labels, fields };
        let wanted_api_version = ty.api_version(&resource.version);
        // Objects are serialized straight from the shared copy; only a version change or a
        // Table copies them.
        let render = move |event_type: &str, object: &Arc<Value>, event: Option<&WatchEvent>| -> Bytes {
            if let Some(event) = event.filter(|_| table.is_none()) {
                if object["apiVersion"].as_str() == Some(wanted_api_version.as_str()) {
                    let json = event.object_json();
                    let mut line = Vec::with_capacity(json.len() + 40);
                    line.extend_from_slice(b"{\"type\":\"");
                    line.extend_from_slice(event_type.as_bytes());
                    line.extend_from_slice(b"\",\"object\":");
                    line.extend_from_slice(&json);
                    line.extend_from_slice(b"}\n");
                    return Bytes::from(line);
                }
            }
            let mut line = match &table {
                Some(query) => {
                    let table = tables::table(&ty, std::slice::from_ref(object), None, query);
                    serde_json::to_vec(&WatchLine { event_type, object: &table })
                }
                None if object["apiVersion"].as_str() == Some(wanted_api_version.as_str()) => {
                    serde_json::to_vec(&WatchLine { event_type, object })
                }
                None => {
                    let mut o = (**object).clone();
                    o["apiVersion"] = json!(wanted_api_version);
                    serde_json::to_vec(&WatchLine { event_type, object: &o })
                }
            }
            .unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        };
        let api_version = ResourceRef::api_version(&filter.resource);
        let kind = store.resource_type(&filter.resource).map(|t| t.kind.clone()).unwrap_or_default();
        tokio::spawn(async move {
            let deadline = limit.map(|l| tokio::time::Instant::now() + l);
            let mut last_rv: u64;
            // Initial state: synthetic ADDED events (no resourceVersion given, or "0"), or the
            // logged events after the given resourceVersion.
            match start {
                None => {
                    let Ok(list) =
                        store.list_matching(&filter.resource, &filter.namespace, |o| filter.selects(o))
                    else {
                        return;
                    };
                    last_rv = list.resource_version;
                    for item in &list.items {
                        if tx.send(render("ADDED", item, None)).await.is_err() {
                            return;
                        }
                    }
                    if send_initial && bookmarks {
                        let bookmark = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": last_rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
                        if tx.send(line("BOOKMARK", &bookmark)).await.is_err() {
                            return;
                        }
                    }
                }
                Some(rv) => {
                    last_rv = rv;
                    match store.events_since(rv) {
                        Ok(events) => {
                            for event in events {
                                last_rv = event.resource_version;
                                if let Some(t) = filter.translate(&event) {
                                    if tx.send(render(t, &event.object, Some(&event))).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        Err(err) => {
                            let _ = tx.send(line("ERROR", &err.to_status())).await;
                            return;
                        }
                    }
                }
            }
            let mut tick = tokio::time::interval(Duration::from_secs(if bookmarks { 2 } else { 3600 }));
            tick.tick().await;
            loop {
                let sleep_until = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = sleep_until => return,
                    _ = tx.closed() => return,
                    _ = tick.tick() => {
                        if bookmarks {
                            let bookmark = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": last_rv.to_string()}});
                            if tx.send(line("BOOKMARK", &bookmark)).await.is_err() {
                                return;
                            }
                        }
                    }
                    received = live.recv() => {
                        let events: Vec<Arc<WatchEvent>> = match received {
                            Ok(event) => vec![event],
                            Err(RecvError::Lagged(_)) => match store.events_since(last_rv) {
                                Ok(events) => events,
                                Err(err) => {
                                    let _ = tx.send(line("ERROR", &err.to_status())).await;
                                    return;
                                }
                            },
                            Err(RecvError::Closed) => return,
                        };
                        for event in events {
                            if event.resource_version <= last_rv {
                                continue;
                            }
                            last_rv = event.resource_version;
                            if let Some(t) = filter.translate(&event) {
                                if tx.send(render(t, &event.object, Some(&event))).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
            }
        });
        // A cut watch ends with an error, so the connection drops mid-stream as when a load
        // balancer or a restarting API server cuts it: the client sees no clean end.
        let cut_at = cut_after.map(|after| tokio::time::Instant::now() + after);
        let requests = self.server.requests.clone();
        let stream = futures::stream::unfold((rx, cut_at), move |(mut rx, cut_at)| {
            let requests = requests.clone();
            async move {
                let cut = async {
                    match cut_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    bytes = rx.recv() => bytes.map(|bytes| (Ok::<Bytes, std::io::Error>(bytes), (rx, cut_at))),
                    () = cut, if cut_at.is_some() => {
                        requests.add_fault("watch-cut");
                        Some((Err(std::io::Error::other("watch cut by playground faults")), (rx, None)))
                    }
                }
            }
        });
        let mut response = Response::new(Body::from_stream(stream));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
        Ok(response)
    }
}

/// How Go's encoding/json names the JSON type of `value` in an unmarshal error.
fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One line of a watch stream.
#[derive(serde::Serialize)]
struct WatchLine<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    object: &'a Value,
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn add_warnings(response: &mut Response, warnings: &[String]) {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - {}", json!(w))) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
}

/// Which events a watch passes on.
struct WatchFilter {
    resource: ResourceRef,
    namespace: String,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl WatchFilter {
    fn selects(&self, object: &Value) -> bool {
        self.labels.matches(&object["metadata"]["labels"]) && self.fields.matches(object)
    }

    /// The event as this watch reports it: objects entering the selection are ADDED, leaving
    /// it DELETED, as the API server's watch cache reports them.
    fn translate(&self, event: &WatchEvent) -> Option<&'static str> {
        if !event.is_for(&self.resource) {
            return None;
        }
        if !self.namespace.is_empty() && event.namespace != self.namespace {
            return None;
        }
        let now = self.selects(&event.object);
        let before = event.previous.as_ref().is_some_and(|p| self.selects(p));
        let kind = match event.event_type {
            EventType::Added if now => "ADDED",
            EventType::Modified if now && before => "MODIFIED",
            EventType::Modified if now => "ADDED",
            EventType::Modified if before => "DELETED",
            EventType::Deleted if before || now => "DELETED",
            _ => return None,
        };
        Some(kind)
    }
}

fn object_key(object: &Value) -> String {
    format!(
        "{}/{}",
        object["metadata"]["namespace"].as_str().unwrap_or(""),
        object["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn encode_continue(rv: u64, after: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": after}).to_string())
}

fn decode_continue(token: &str) -> Result<(u64, String), ApiError> {
    use base64::Engine;
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((value["rv"].as_u64().ok_or_else(bad)?, value["start"].as_str().ok_or_else(bad)?.to_string()))
}

fn get_path<'a>(object: &'a Value, path: &str) -> &'a Value {
    let mut v = object;
    for part in path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()) {
        v = &v[part];
    }
    v
}

fn set_path(object: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else { return };
    let mut v = object;
    for part in parents {
        if !v[*part].is_object() {
            v[*part] = json!({});
        }
        v = &mut v[*part];
    }
    v[*last] = value;
}

/// The `autoscaling/v1` Scale of an object.
fn scale_of(object: &Value, paths: &super::resources::ScalePaths) -> Value {
    let meta = &object["metadata"];
    let selector = match &paths.label_selector {
        Some(p)
            if p == ".status.selector"
                && object["kind"] != "Deployment"
                && object["kind"] != "ReplicaSet" =>
        {
            get_path(object, p).as_str().unwrap_or("").to_string()
        }
        Some(p) if get_path(object, p).is_string() => get_path(object, p).as_str().unwrap_or("").to_string(),
        _ => selector_string(&object["spec"]["selector"]),
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": get_path(object, &paths.spec_replicas).as_i64().unwrap_or(0)},
        "status": {"replicas": get_path(object, &paths.status_replicas).as_i64().unwrap_or(0), "selector": selector},
    })
}

/// No request can panic the server: generated paths, query strings, bodies and patch documents
/// sent through the whole router (auth, routing, decoding, storage) always get a status code.
#[cfg(test)]
mod hostile_requests {
    use super::*;
    use crate::resources::{CONFIGMAPS, DEPLOYMENTS};
    use proptest::prelude::*;
    use tower::ServiceExt;

    const TOKEN: &str = "admin-token";

    fn api_server() -> Arc<ApiServer> {
        let store = Store::new();
        store.create(&DEPLOYMENTS, crate::store::tests::deployment("fraud")).unwrap();
        store
            .create(
                &CONFIGMAPS,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}, "data": {"a": "b"}}),
            )
            .unwrap();
        let admin = User {
            name: "admin".into(),
            can_write: true,
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            rbac: false,
        };
        Arc::new(ApiServer {
            store,
            tokens: BTreeMap::from([(TOKEN.to_string(), admin)]),
            faults: tokio::sync::watch::Sender::new(Faults::default()),
            requests: Arc::default(),
            model_servers: Arc::default(),
            address: "127.0.0.1:6443".into(),
        })
    }

    /// Send one request through the router; `None` when `http` itself refuses the URI (hyper
    /// answers 400 before any handler runs, so the router never sees it).
    fn send(
        runtime: &tokio::runtime::Runtime,
        app: &axum::Router,
        method: Method,
        uri: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Option<StatusCode> {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .ok()?;
        let response = runtime.block_on(app.clone().oneshot(request)).unwrap_or_else(|e| match e {});
        Some(response.status())
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    /// Path segments: API words, names, percent escapes (valid, cut short, of multi-byte
    /// characters), raw non-ASCII and anything else.
    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "api",
                "apis",
                "v1",
                "apps",
                "namespaces",
                "default",
                "deployments",
                "fraud",
                "configmaps",
                "cm",
                "status",
                "scale",
                "pods",
                "nodes",
                "openapi",
                "v3",
                "version",
            ])
            .prop_map(str::to_string),
            "%[0-9a-fA-F]{0,2}",
            "%[a-z]é",
            "[%a-zé\\PC]{0,6}",
            any::<String>(),
        ]
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec(segment(), 0..8).prop_map(|segments| format!("/{}", segments.join("/")))
    }

    fn query() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "watch",
            "labelSelector",
            "fieldSelector",
            "limit",
            "continue",
            "resourceVersion",
            "timeoutSeconds",
            "dryRun",
            "fieldManager",
            "force",
            "allowWatchBookmarks",
            "sendInitialEvents",
            "resourceVersionMatch",
            "propagationPolicy",
            "%zz",
            "",
        ]);
        let value = prop_oneof!["[=!,()a-z0-9%+é ]{0,12}", any::<String>(), Just("true".to_string())];
        prop::collection::vec((key, value), 0..5)
            .prop_map(|pairs| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
    }

    /// JSON documents of any shape, small enough to be many.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            "[a-z/~0-9.-]{0,10}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "op",
                        "path",
                        "value",
                        "from",
                        "metadata",
                        "spec",
                        "replicas",
                        "name",
                        "apiVersion",
                        "kind",
                        "labels",
                        "template",
                        "containers",
                        "$patch",
                        "$retainKeys",
                        "$setElementOrder/containers",
                        "data",
                        "status",
                    ])
                    .prop_map(str::to_string),
                    inner,
                    0..5,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const CONTENT_TYPES: &[&str] = &[
        "application/json",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
        "application/cbor",
        "",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn any_request_gets_a_status(
            method in prop::sample::select(vec![Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE]),
            path in path(),
            query in query(),
            content_type in prop::sample::select(CONTENT_TYPES),
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let runtime = runtime();
            let app = router(api_server());
            let uri = if query.is_empty() { path } else { format!("{path}?{query}") };
            if let Some(status) = send(&runtime, &app, method, &uri, content_type, body) {
                prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{uri} answered {status}");
            }
        }

        #[test]
        fn any_body_or_patch_of_an_object_gets_a_status(
            method in prop::sample::select(vec![Method::POST, Method::PUT, Method::PATCH]),
            target in prop::sample::select(vec![
                "/apis/apps/v1/namespaces/default/deployments",
                "/apis/apps/v1/namespaces/default/deployments/fraud",
                "/apis/apps/v1/namespaces/default/deployments/fraud/status",
                "/apis/apps/v1/namespaces/default/deployments/fraud/scale",
                "/api/v1/namespaces/default/configmaps/cm",
                "/api/v1/namespaces",
            ]),
            content_type in prop::sample::select(CONTENT_TYPES),
            document in json_value(),
            as_yaml in any::<bool>(),
        ) {
            let runtime = runtime();
            let app = router(api_server());
            let body = if as_yaml {
                serde_yaml::to_string(&document).unwrap_or_default().into_bytes()
            } else {
                document.to_string().into_bytes()
            };
            let uri = format!("{target}?fieldManager=proptest");
            let status = send(&runtime, &app, method, &uri, content_type, body).expect("a valid URI");
            prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{target} answered {status} to {document}");
        }
    }

    #[test]
    fn a_cut_short_escape_of_a_multibyte_character_is_a_bad_request() {
        let runtime = runtime();
        let app = router(api_server());
        // `%aé` cannot be carried by an `http::Uri`; its escaped form reaches the decoder.
        for uri in ["/api/v1/namespaces/%a%C3%A9", "/api/v1/namespaces/%a", "/api/v1/namespaces/%"] {
            let status = send(&runtime, &app, Method::GET, uri, "", Vec::new());
            assert_eq!(status, Some(StatusCode::BAD_REQUEST), "{uri}");
        }
        let status = send(&runtime, &app, Method::GET, "/api/v1/namespaces/d%65fault", "", Vec::new());
        assert_eq!(status, Some(StatusCode::OK));
        assert_eq!(parse_query("a=%zz&b=x%20y+z&b=2"), BTreeMap::from([("b".into(), "x y z".into())]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_resources() {
        let t = parse_target(&["apis", "apps", "v1", "namespaces", "ml", "deployments", "fraud", "scale"])
            .unwrap();
        assert_eq!(
            (t.group.as_str(), t.resource.as_str(), t.namespace.as_str()),
            ("apps", "deployments", "ml")
        );
        assert_eq!(t.subresource.as_deref(), Some("scale"));
        let t = parse_target(&["api", "v1", "namespaces", "ml"]).unwrap();
        assert_eq!((t.resource.as_str(), t.name.as_deref()), ("namespaces", Some("ml")));
        let t = parse_target(&["api", "v1", "namespaces", "ml", "status"]).unwrap();
        assert_eq!((t.resource.as_str(), t.subresource.as_deref()), ("namespaces", Some("status")));
        let t = parse_target(&["api", "v1", "pods"]).unwrap();
        assert_eq!((t.resource.as_str(), t.namespace.as_str()), ("pods", ""));
    }

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

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(42, "ml/fraud");
        assert_eq!(decode_continue(&token).unwrap(), (42, "ml/fraud".to_string()));
        assert!(decode_continue("garbage!").is_err());
    }

    #[test]
    fn selectors_as_strings() {
        let s = json!({"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}]});
        assert_eq!(selector_string(&s), "app=x,t in (a,b)");
    }
}
