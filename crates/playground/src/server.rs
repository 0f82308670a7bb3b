//! The HTTP face of the playground: kube-apiserver's REST paths (discovery, CRUD, watch,
//! patches, subresources) over the [`Store`], with bearer-token auth and RBAC for the viewer,
//! fault injection, and a per-client request counter.
//!
//! This file routes a request and holds what every verb shares ([`Call`]: the query, the body,
//! dry run, field managers); each concern has its own module: `url` (decoding), `auth`
//! (authentication, authorization), `discovery`, `read` (get, list), `continue_token`, `write`
//! (create, update, patch), `delete`, `scale` and `watch`. They import from here, never from
//! each other (but `read` its continue tokens).

mod auth;
mod continue_token;
mod delete;
mod discovery;
mod read;
mod scale;
mod url;
mod watch;
mod write;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use self::auth::authenticate;
use self::url::{decode_path_segment, parse_query};
use super::errors::ApiError;
use super::faults::Faults;
use super::resources::ResourceRef;
use super::resources::ResourceType;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{Store, Subresource, WriteOptions};

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

/// Requests served, per client (User-Agent), and writes per method and path.
#[derive(Debug, Default)]
pub struct RequestCounter {
    counts: Mutex<BTreeMap<String, u64>>,
    /// Writes (every method but GET), by `METHOD path`: e.g. how often one Lease was renewed.
    writes: Mutex<BTreeMap<String, u64>>,
    /// Faults injected so far, by kind (`429`, `500`, `watch-cut`, `restart`...).
    injected: Mutex<BTreeMap<String, u64>>,
    /// Numbers the resource requests, for the `1/N` faults.
    sequence: super::faults::Sequence,
}

impl RequestCounter {
    fn add(&self, agent: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(agent.to_string()).or_default() += 1;
    }

    fn add_write(&self, method: &Method, path: &str) {
        if method != Method::GET {
            let mut writes = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
            *writes.entry(format!("{method} {path}")).or_default() += 1;
        }
    }

    /// Writes so far, by `METHOD path` (`PUT /apis/coordination.k8s.io/v1/namespaces/ml/leases/x`).
    pub fn writes(&self) -> BTreeMap<String, u64> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner).clone()
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
        self.writes.lock().unwrap_or_else(PoisonError::into_inner).clear();
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
    server.requests.add_write(request.method(), &path);
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
    if let Some(response) = discovery::serve(&server, &segments, &request_accept) {
        return response;
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
    let fault = faults.request_fault(
        &server.requests.sequence,
        &method,
        &target.group,
        &target.resource,
        target.name.as_deref().unwrap_or(""),
    );
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

    fn selectors(&self, ty: &ResourceType) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels = LabelSelector::parse(self.param("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = FieldSelector::parse(self.param("fieldSelector").unwrap_or(""), &ty.group, &ty.plural)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok((labels, fields))
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

#[cfg(test)]
mod hostile_requests;

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
    fn writes_are_counted_by_method_and_path_and_reads_are_not() {
        let counter = RequestCounter::default();
        let lease = "/apis/coordination.k8s.io/v1/namespaces/ml/leases/x";
        counter.add_write(&Method::GET, lease);
        counter.add_write(&Method::POST, "/apis/coordination.k8s.io/v1/namespaces/ml/leases");
        counter.add_write(&Method::PUT, lease);
        counter.add_write(&Method::PUT, lease);
        let writes = counter.writes();
        assert_eq!(writes.get(&format!("PUT {lease}")), Some(&2));
        assert_eq!(writes.len(), 2, "{writes:?}");
        counter.reset();
        assert!(counter.writes().is_empty());
    }
}
