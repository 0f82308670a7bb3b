//! Asks Prometheus for the value of a check's query, through its HTTP API (`GET /api/v1/query`):
//! directly (`http(s)://HOST:PORT[/PATH]`, bearer token from `$MODELROLL_PROMETHEUS_TOKEN`) or
//! through the API server's service proxy (`NAMESPACE/SERVICE:PORT`, the kubeconfig's
//! credentials). Both go through a `kube::Client`, which carries TLS, timeouts and `-vv` logs.

use std::time::Duration;

use http::{Request, StatusCode};
use serde::Deserialize;

use crate::rollout::check::Value;

/// Environment variable naming Prometheus when `--prometheus` is not given.
pub const ADDRESS_ENV: &str = "MODELROLL_PROMETHEUS";
/// Environment variable with a bearer token for a Prometheus reached by URL.
pub const TOKEN_ENV: &str = "MODELROLL_PROMETHEUS_TOKEN";
/// How long one query may take when `--request-timeout` does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where Prometheus is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `http(s)://HOST:PORT[/PATH]`.
    Url(http::Uri),
    /// `NAMESPACE/SERVICE:PORT`, reached through the API server's service proxy.
    Service { namespace: String, service: String, port: String },
}

/// Why `--prometheus` is refused (a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --prometheus {text:?}: {reason}; give http(s)://HOST:PORT[/PATH] or NAMESPACE/SERVICE:PORT")]
pub struct AddressError {
    pub text: String,
    pub reason: String,
}

fn dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

impl Address {
    /// Parse `--prometheus` (or `$MODELROLL_PROMETHEUS`).
    ///
    /// # Errors
    /// [`AddressError`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let bad = |reason: &str| AddressError { text: text.to_string(), reason: reason.to_string() };
        let trimmed = text.trim();
        if trimmed.contains("://") {
            let uri: http::Uri = trimmed.parse().map_err(|_| bad("it is not a URL"))?;
            match uri.scheme_str() {
                Some("http" | "https") => {}
                _ => return Err(bad("the scheme must be http or https")),
            }
            if uri.host().is_none_or(str::is_empty) {
                return Err(bad("the URL has no host"));
            }
            if uri.query().is_some() {
                return Err(bad("the URL may not have a query"));
            }
            return Ok(Self::Url(uri));
        }
        let (namespace, rest) =
            trimmed.split_once('/').ok_or_else(|| bad("it is neither a URL nor NAMESPACE/SERVICE:PORT"))?;
        let (service, port) = rest.split_once(':').ok_or_else(|| bad("the service has no :PORT"))?;
        if !dns_label(namespace) {
            return Err(bad(&format!("{namespace:?} is not a namespace name")));
        }
        if !dns_label(service) {
            return Err(bad(&format!("{service:?} is not a service name")));
        }
        // A port is a number from 1 to 65535, or a name (which has a letter, as IANA names do).
        let valid = if port.bytes().all(|b| b.is_ascii_digit()) {
            port.parse::<u16>().is_ok_and(|p| p > 0)
        } else {
            dns_label(port) && port.len() <= 15
        };
        if !valid {
            return Err(bad(&format!("{port:?} is neither a port number nor a port name")));
        }
        Ok(Self::Service { namespace: namespace.into(), service: service.into(), port: port.into() })
    }

    /// The path of a query of `promql`: below the URL's path, or through the service proxy.
    pub fn query_path(&self, promql: &str) -> String {
        let base = match self {
            Self::Url(uri) => uri.path().trim_end_matches('/').to_string(),
            Self::Service { namespace, service, port } => {
                format!("/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy")
            }
        };
        format!("{base}/api/v1/query?query={}", encode_query_value(promql))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(uri) => write!(f, "{uri}"),
            Self::Service { namespace, service, port } => write!(f, "{namespace}/{service}:{port}"),
        }
    }
}

/// Percent-encode a query-string value (everything but RFC 3986's unreserved characters).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a query got no value. Each stops the command with exit 1, weights left as they are.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("cannot reach Prometheus at {address}: {source}")]
    Unreachable {
        address: String,
        #[source]
        source: kube::Error,
    },
    #[error("Prometheus at {address} did not answer within {}", humantime::format_duration(*timeout))]
    TimedOut { address: String, timeout: Duration },
    #[error("Prometheus at {address} answered HTTP {status}: {body}")]
    Http { address: String, status: StatusCode, body: String },
    #[error("Prometheus refused the query {query}: {error_type}: {error}")]
    PromQl { query: String, error_type: String, error: String },
    #[error("the query {query} {reason}; a check's query must return one number (a scalar or a one-element vector)")]
    NotOneNumber { query: String, reason: String },
    #[error("cannot set up a client for Prometheus at {address}: {source}")]
    Client {
        address: String,
        #[source]
        source: kube::Error,
    },
}

/// A Prometheus to query.
#[derive(Clone)]
pub struct Prometheus {
    client: kube::Client,
    address: Address,
    token: Option<String>,
    timeout: Duration,
}

impl Prometheus {
    /// A client for `address`: the cluster's client for the service proxy, a client of its own
    /// for a URL (with `token` as bearer token when given).
    ///
    /// # Errors
    /// [`QueryError::Client`] when the client cannot be built.
    pub fn new(
        address: Address,
        cluster_client: &kube::Client,
        token: Option<String>,
        timeout: Duration,
    ) -> Result<Self, QueryError> {
        let client = match &address {
            Address::Service { .. } => cluster_client.clone(),
            Address::Url(uri) => {
                let origin = format!(
                    "{}://{}",
                    uri.scheme_str().unwrap_or("http"),
                    uri.authority().map(|a| a.as_str()).unwrap_or_default()
                );
                let origin: http::Uri = origin.parse().expect("scheme and authority of a parsed URI");
                let mut config = kube::Config::new(origin);
                config.connect_timeout = Some(timeout);
                config.read_timeout = Some(timeout);
                kube::Client::try_from(config)
                    .map_err(|source| QueryError::Client { address: address.to_string(), source })?
            }
        };
        let token = token.filter(|_| matches!(address, Address::Url(_)));
        Ok(Self { client, address, token, timeout })
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The value of `promql` now.
    ///
    /// # Errors
    /// A [`QueryError`]: unreachable, timed out, HTTP error, PromQL error, not one number.
    pub async fn query(&self, promql: &str) -> Result<Value, QueryError> {
        let address = self.address.to_string();
        let mut request = Request::get(self.address.query_path(promql)).header("Accept", "application/json");
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let request = request.body(kube::client::Body::empty()).expect("a valid request");
        let exchange = async {
            let response = self
                .client
                .send(request)
                .await
                .map_err(|source| QueryError::Unreachable { address: address.clone(), source })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect_bytes()
                .await
                .map_err(|source| QueryError::Unreachable { address: address.clone(), source })?;
            Ok::<_, QueryError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| QueryError::TimedOut { address: address.clone(), timeout: self.timeout })??;
        parse_answer(&address, promql, status, &body)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<AnswerData>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerData {
    result_type: String,
    result: serde_json::Value,
}

/// Read Prometheus's answer to `query`: `status: error` (PromQL errors come with HTTP 400 or
/// 422), a scalar, a vector of at most one element, or anything else (an error).
///
/// # Errors
/// [`QueryError::PromQl`], [`QueryError::Http`] or [`QueryError::NotOneNumber`].
pub fn parse_answer(
    address: &str,
    query: &str,
    status: StatusCode,
    body: &[u8],
) -> Result<Value, QueryError> {
    let answer: Answer = match serde_json::from_slice(body) {
        Ok(answer) => answer,
        Err(_) => {
            let mut text = String::from_utf8_lossy(body).trim().to_string();
            text.truncate(200);
            let status = if status.is_success() { StatusCode::BAD_GATEWAY } else { status };
            return Err(QueryError::Http { address: address.into(), status, body: text });
        }
    };
    if answer.status != "success" {
        return Err(QueryError::PromQl {
            query: query.into(),
            error_type: answer.error_type.unwrap_or_else(|| "error".into()),
            error: answer.error.unwrap_or_else(|| format!("HTTP {status}")),
        });
    }
    let not_one = |reason: String| QueryError::NotOneNumber { query: query.into(), reason };
    let data = answer.data.ok_or_else(|| not_one("returned no data field".into()))?;
    let sample = match data.result_type.as_str() {
        "scalar" => data.result,
        "vector" => {
            let series = data.result.as_array().cloned().unwrap_or_default();
            match series.len() {
                0 => return Ok(Value::NoData),
                1 => series[0]["value"].clone(),
                n => return Err(not_one(format!("returned {n} series (wrap it in sum(…) or pick one)"))),
            }
        }
        other => return Err(not_one(format!("returned a {other}"))),
    };
    let text = sample
        .get(1)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| not_one("returned no value".into()))?;
    // Prometheus writes special values as "NaN", "+Inf" and "-Inf"; Rust reads them all.
    let value: f64 = text.parse().map_err(|_| not_one(format!("returned {text:?}")))?;
    Ok(Value::Number(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Result<Value, QueryError> {
        parse_answer("p", "q", StatusCode::OK, body.as_bytes())
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(
            Address::parse("monitoring/prometheus-k8s:9090").unwrap(),
            Address::Service {
                namespace: "monitoring".into(),
                service: "prometheus-k8s".into(),
                port: "9090".into()
            }
        );
        assert!(matches!(Address::parse("monitoring/prometheus:web").unwrap(), Address::Service { .. }));
        assert!(matches!(Address::parse("http://127.0.0.1:9090").unwrap(), Address::Url(_)));
        assert!(matches!(Address::parse("https://prom.example/prometheus/").unwrap(), Address::Url(_)));
        for bad in [
            "prometheus",
            "monitoring/prometheus",
            "Monitoring/prometheus:9090",
            "monitoring/prom_etheus:9090",
            "monitoring/prometheus:0",
            "monitoring/prometheus:",
            "ftp://prom:21",
            "http://",
            "http://p:9090/?x=1",
            "",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let err = Address::parse("prometheus").unwrap_err().to_string();
        assert!(err.contains("NAMESPACE/SERVICE:PORT"), "{err}");
    }

    #[test]
    fn queries_go_below_the_path_or_through_the_service_proxy() {
        let direct = Address::parse("https://prom.example/prometheus/").unwrap();
        assert_eq!(direct.query_path("up == 1"), "/prometheus/api/v1/query?query=up%20%3D%3D%201");
        let proxied = Address::parse("monitoring/prometheus:9090").unwrap();
        assert_eq!(
            proxied.query_path(r#"x{a="b"}"#),
            "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query?query=x%7Ba%3D%22b%22%7D"
        );
    }

    #[test]
    fn answers_are_read() {
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"99.5"]}}"#;
        assert_eq!(answer(scalar).unwrap(), Value::Number(99.5));
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.0,"0.25"]}]}}"#;
        assert_eq!(answer(vector).unwrap(), Value::Number(0.25));
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(answer(empty).unwrap(), Value::NoData);
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.0,"NaN"]}]}}"#;
        assert!(matches!(answer(nan).unwrap(), Value::Number(v) if v.is_nan()));
        let inf = r#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"+Inf"]}}"#;
        assert_eq!(answer(inf).unwrap(), Value::Number(f64::INFINITY));
        let minus_inf = r#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"-Inf"]}}"#;
        assert_eq!(answer(minus_inf).unwrap(), Value::Number(f64::NEG_INFINITY));
    }

    /// Request-level: through the service proxy, the query goes to the API server's proxy path
    /// with the cluster's client (no token of ours added), and its answer is read.
    #[tokio::test]
    async fn the_service_proxy_path_is_asked() {
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<http::Request<Body>, http::Response<Body>>();
        let client = kube::Client::new(service, "ml");
        let address = Address::parse("monitoring/prometheus:9090").unwrap();
        let prometheus =
            Prometheus::new(address, &client, Some("secret".into()), Duration::from_secs(5)).unwrap();
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.expect("one request");
            assert_eq!(request.method(), http::Method::GET);
            assert_eq!(
                request.uri().to_string(),
                "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query?query=up"
            );
            assert!(request.headers().get("authorization").is_none(), "the token is for URLs only");
            let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.0,"1"]}]}}"#;
            send.send_response(
                http::Response::builder().status(200).body(Body::from(body.as_bytes().to_vec())).unwrap(),
            );
        });
        assert_eq!(prometheus.query("up").await.unwrap(), Value::Number(1.0));
        server.await.unwrap();
    }

    /// A Prometheus that accepts the connection but never answers fails within the timeout.
    #[tokio::test]
    async fn a_silent_prometheus_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = Address::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let client =
            kube::Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
        let prometheus = Prometheus::new(address, &client, None, Duration::from_millis(300)).unwrap();
        // kube's read timeout or ours, whichever fires first: either way well before 2s.
        let err = tokio::time::timeout(Duration::from_secs(2), prometheus.query("up"))
            .await
            .expect("the query gave up within its timeout")
            .unwrap_err();
        assert!(matches!(err, QueryError::TimedOut { .. } | QueryError::Unreachable { .. }), "{err}");
        drop(listener);
    }

    #[test]
    fn errors_are_told_apart() {
        let promql = r#"{"status":"error","errorType":"bad_data","error":"parse error: unexpected \")\""}"#;
        let err = parse_answer("p", "sum(", StatusCode::BAD_REQUEST, promql.as_bytes()).unwrap_err();
        assert!(matches!(&err, QueryError::PromQl { error_type, .. } if error_type == "bad_data"), "{err}");
        let two = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1.0,"1"]},{"metric":{"a":"2"},"value":[1.0,"2"]}]}}"#;
        let err = answer(two).unwrap_err();
        assert!(err.to_string().contains("2 series"), "{err}");
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(matches!(answer(matrix), Err(QueryError::NotOneNumber { .. })));
        let html = parse_answer("p", "q", StatusCode::SERVICE_UNAVAILABLE, b"<html>no</html>").unwrap_err();
        assert!(matches!(html, QueryError::Http { status, .. } if status == StatusCode::SERVICE_UNAVAILABLE));
    }
}
