//! The pods `proxy` subresource: `/api/v1/namespaces/NS/pods/NAME[:PORT]/proxy/PATH`, served
//! as kube-apiserver serves it (`ResourceLocation` and `ProxyREST` of pkg/registry/core/pod,
//! the proxy `Transport` of apimachinery), in front of the simulated [`super::model_server`]s.
//!
//! What the API server answers itself, before any model server is reached:
//! - a pod id that is not `NAME`, `NAME:PORT` or `SCHEME:NAME:PORT` → 400 `invalid pod request "ID"`;
//! - no such pod → 404 `pods "NAME" not found`;
//! - a pod without an IP (not started yet) → 400 `address not allowed`;
//! - nothing listening on the port (the pod is not Ready, or no container declares the port, or
//!   no port was given and the pod declares none, so port 80 is dialled) → 503
//!   ServiceUnavailable `error trying to reach service: dial tcp IP:PORT: connect: connection refused`;
//! - an empty path with GET or HEAD → 301 to the same path with a `/` added.
//!
//! Authorization (`get` on `pods/proxy` for GET and HEAD, `create` for POST, …, with the name
//! `NAME:PORT` as written) happens before any of this, in the server.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::errors::ApiError;
use super::model_server::{answer, model_state, ModelServers};
use super::resources::PODS;
use super::store::Store;

/// The methods kube-apiserver proxies to pods.
const PROXY_METHODS: [Method; 7] =
    [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::HEAD, Method::OPTIONS];

/// A request for a pod's proxy, as named by its URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPath {
    pub namespace: String,
    /// `NAME`, `NAME:PORT` or `SCHEME:NAME:PORT`, as written (RBAC checks this name).
    pub id: String,
    /// What follows `/proxy` (empty, or starting with `/`).
    pub path: String,
}

impl ProxyPath {
    /// Recognize `/api/v1/namespaces/NS/pods/ID/proxy[/PATH]`.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix("/api/v1/namespaces/")?;
        let (namespace, rest) = rest.split_once('/')?;
        let rest = rest.strip_prefix("pods/")?;
        let (id, rest) = rest.split_once('/')?;
        let path = rest.strip_prefix("proxy")?;
        if !(path.is_empty() || path.starts_with('/')) || namespace.is_empty() || id.is_empty() {
            return None;
        }
        Some(Self { namespace: decode(namespace), id: decode(id), path: path.to_string() })
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `SplitSchemeNamePort` of apimachinery: (scheme, name, port), None when invalid.
pub fn split_scheme_name_port(id: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    (!name.is_empty() && matches!(scheme, "" | "http" | "https")).then_some((scheme, name, port))
}

/// Go's `path.Join` of the proxied path, keeping a trailing slash as the proxy does.
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut cleaned = format!("/{}", parts.join("/"));
    if path.ends_with('/') && !cleaned.ends_with('/') {
        cleaned.push('/');
    }
    cleaned
}

fn unreachable(address: &str) -> ApiError {
    ApiError::service_unavailable(format!(
        "error trying to reach service: dial tcp {address}: connect: connection refused"
    ))
}

/// Serve one proxied request (already authorized).
///
/// # Errors
/// The API server's own refusals, as listed in the module doc.
pub async fn serve(
    store: &Store,
    servers: &ModelServers,
    method: &Method,
    proxy: &ProxyPath,
    request_path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, ApiError> {
    if !PROXY_METHODS.contains(method) {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let (scheme, name, port) = split_scheme_name_port(&proxy.id)
        .ok_or_else(|| ApiError::bad_request(format!("invalid pod request {:?}", proxy.id)))?;
    let pod = store.get(&PODS, &proxy.namespace, name)?;
    let declared: Vec<i64> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .filter_map(|p| p["containerPort"].as_i64())
        .collect();
    let port = if port.is_empty() {
        declared.first().map(i64::to_string).unwrap_or_default()
    } else {
        port.to_string()
    };
    let ip = pod["status"]["podIPs"][0]["ip"].as_str().unwrap_or_default();
    let routable = ip
        .parse::<std::net::Ipv4Addr>()
        .is_ok_and(|a| !a.is_unspecified() && !a.is_loopback() && !a.is_broadcast() && !a.is_multicast());
    if !routable {
        return Err(ApiError::bad_request("address not allowed"));
    }
    if proxy.path.is_empty() && matches!(*method, Method::GET | Method::HEAD) {
        let location = match query {
            Some(q) if !q.is_empty() => format!("{request_path}/?{q}"),
            _ => format!("{request_path}/"),
        };
        let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(response);
    }
    let number: Option<i64> = if port.is_empty() { Some(80) } else { port.parse().ok() };
    let Some(number) = number else {
        return Err(ApiError::service_unavailable(format!(
            "error trying to reach service: dial tcp: lookup tcp/{port}: unknown port"
        )));
    };
    let address = format!("{ip}:{number}");
    let Some(ready_since) = servers.observe(&pod, Timestamp::now()) else {
        return Err(unreachable(&address));
    };
    if !declared.contains(&number) {
        return Err(unreachable(&address));
    }
    if scheme == "https" {
        return Err(ApiError::service_unavailable(
            "error trying to reach service: http: server gave HTTP response to HTTPS client",
        ));
    }
    let state = model_state(&pod, ready_since, Timestamp::now());
    let answer = answer(servers, &pod, state, method.as_str(), &clean_path(&proxy.path), body);
    if !answer.latency.is_zero() {
        tokio::time::sleep(answer.latency).await;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match (&answer.body, method) {
        (_, &Method::HEAD) | (None, _) => status.into_response(),
        (Some(json), _) => {
            (status, [(header::CONTENT_TYPE, "application/json")], json.to_string()).into_response()
        }
    };
    if answer.body.is_none() {
        *response.body_mut() = Body::empty();
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths() {
        let p =
            ProxyPath::parse("/api/v1/namespaces/ml/pods/fraud-1:8080/proxy/v2/models/fraud/ready").unwrap();
        assert_eq!(
            (p.namespace.as_str(), p.id.as_str(), p.path.as_str()),
            ("ml", "fraud-1:8080", "/v2/models/fraud/ready")
        );
        assert_eq!(ProxyPath::parse("/api/v1/namespaces/ml/pods/p/proxy").unwrap().path, "");
        assert_eq!(ProxyPath::parse("/api/v1/namespaces/ml/pods/p%3A80/proxy/").unwrap().id, "p:80");
        assert!(ProxyPath::parse("/api/v1/namespaces/ml/pods/p/proxyx").is_none());
        assert!(ProxyPath::parse("/api/v1/namespaces/ml/pods/p/status").is_none());
        assert!(ProxyPath::parse("/api/v1/namespaces/ml/services/s/proxy/").is_none());
    }

    #[test]
    fn ids_split_as_apimachinery_does() {
        assert_eq!(split_scheme_name_port("p"), Some(("", "p", "")));
        assert_eq!(split_scheme_name_port("p:8080"), Some(("", "p", "8080")));
        assert_eq!(split_scheme_name_port("https:p:8443"), Some(("https", "p", "8443")));
        assert_eq!(split_scheme_name_port("ftp:p:21"), None);
        assert_eq!(split_scheme_name_port(":80"), None);
        assert_eq!(split_scheme_name_port("a:b:c:d"), None);
    }

    #[test]
    fn paths_are_cleaned_like_path_join() {
        assert_eq!(clean_path("/v2//models/./m/../m/ready"), "/v2/models/m/ready");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("/v1/models/"), "/v1/models/");
        assert_eq!(clean_path("/../../etc"), "/etc");
    }
}
