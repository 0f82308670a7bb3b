//! Model readiness (`--model-ready v2|openai|http:PATH`): which port and path of a pod to ask,
//! what an answer means, how long to wait before asking again, and the warm-up requests. No
//! IO: `crate::watch::model` asks the pods through the API server's pod proxy; this decides.
//!
//! A pod counts once its model server says the model is ready:
//! - `v2`: `GET /v2/models/MODEL/ready` answers 200 (KServe, Triton);
//! - `openai`: `GET /v1/models` answers 200 and lists MODEL (vLLM, TGI, llama.cpp server);
//! - `http:PATH`: `GET PATH` answers 2xx.
//!
//! A 503 from the pod means "not yet" (KServe's ModelNotReady, llama.cpp's "Loading model",
//! a health endpoint that is not healthy yet): ask again. Any other 4xx or 5xx from the pod is
//! an answer that will not change by waiting (unknown model, server error): the pod fails, as a
//! crashing one does. When nothing listens on the port the API server answers for the pod
//! (503 `error trying to reach service`); a Ready pod that keeps not answering for
//! [`UNREACHABLE_GRACE`] fails too.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

/// How long a Ready pod's port may refuse connections before the pod fails.
pub const UNREACHABLE_GRACE: Duration = Duration::from_secs(10);

/// How many pods are asked at once.
pub const PODS_ASKED_AT_ONCE: usize = 8;

/// How a model server says its model is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// The open inference protocol (KServe, Triton).
    V2,
    /// The OpenAI API (vLLM, TGI, llama.cpp server).
    OpenAi,
    /// Any server: `GET PATH` answers 2xx.
    Http(String),
}

/// A `--model-ready` value that is no protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("the path of http:PATH must start with / and have no spaces (got {path:?}), e.g. http:/healthz")]
    HttpPath { path: String },
    #[error("{text:?} is not a protocol: use v2, openai or http:PATH")]
    Unknown { text: String },
}

/// Model-readiness flags that do not go together (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("invalid --model-name {model:?}: a model name has no spaces and none of / ? # %")]
    ModelName { model: String },
    #[error(
        "--warmup sends inference requests, and --model-ready {protocol} has no inference path: use --model-ready v2 or openai"
    )]
    WarmupWithoutInference { protocol: Protocol },
    #[error("--warmup-body is not JSON ({source}); the warm-up requests are POSTed as application/json")]
    WarmupBody { source: serde_json::Error },
}

/// A pod whose model server cannot be asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "pod {pod} declares no container port, so its model server cannot be asked; name the server's port `http`"
)]
pub struct NoPort {
    pub pod: String,
}

impl Protocol {
    /// Parse `v2`, `openai` or `http:PATH` (PATH absolute).
    ///
    /// # Errors
    /// A [`ProtocolError`] naming the text and the accepted forms.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        match text {
            "v2" => Ok(Self::V2),
            "openai" => Ok(Self::OpenAi),
            _ => match text.strip_prefix("http:") {
                Some(path) if path.starts_with('/') && !path.chars().any(char::is_whitespace) => {
                    Ok(Self::Http(path.to_string()))
                }
                Some(path) => Err(ProtocolError::HttpPath { path: path.to_string() }),
                None => Err(ProtocolError::Unknown { text: text.to_string() }),
            },
        }
    }

    /// The path that says whether `model` is ready.
    pub fn ready_path(&self, model: &str) -> String {
        match self {
            Self::V2 => format!("/v2/models/{model}/ready"),
            Self::OpenAi => "/v1/models".to_string(),
            Self::Http(path) => path.clone(),
        }
    }

    /// The inference path warm-up requests are POSTed to (none for `http:PATH`).
    pub fn inference_path(&self, model: &str) -> Option<String> {
        match self {
            Self::V2 => Some(format!("/v2/models/{model}/infer")),
            Self::OpenAi => Some("/v1/completions".to_string()),
            Self::Http(_) => None,
        }
    }

    /// A minimal inference request for `model`: one FP32 row of four for v2, a one-token
    /// completion for OpenAI.
    pub fn default_warmup_body(&self, model: &str) -> Option<String> {
        match self {
            Self::V2 => Some(
                serde_json::json!({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [0.0, 0.0, 0.0, 0.0]}]})
                    .to_string(),
            ),
            Self::OpenAi => {
                Some(serde_json::json!({"model": model, "prompt": "Hello", "max_tokens": 1}).to_string())
            }
            Self::Http(_) => None,
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V2 => f.write_str("v2"),
            Self::OpenAi => f.write_str("openai"),
            Self::Http(path) => write!(f, "http:{path}"),
        }
    }
}

/// The checked `--model-ready` settings of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelGate {
    pub protocol: Protocol,
    /// `--model-name`, else the target's name.
    pub model: String,
    /// `--warmup N`: inference requests per new pod once its model is ready.
    pub warmup: u32,
    /// The warm-up request body (`--warmup-body FILE`, else the protocol's minimal one).
    pub warmup_body: Option<String>,
    /// `--model-ready-timeout`.
    pub timeout: Duration,
}

impl ModelGate {
    /// Check the model-readiness flags together: `None` without `--model-ready`.
    ///
    /// # Errors
    /// A sentence for exit 2: a model name that cannot be a URL path segment, `--warmup` with
    /// `http:PATH` (no inference path), a warm-up body that is not JSON.
    pub fn new(
        protocol: Option<Protocol>,
        model_name: Option<&str>,
        target_name: &str,
        warmup: Option<u32>,
        warmup_body: Option<String>,
        timeout: Duration,
    ) -> Result<Option<Self>, GateError> {
        let Some(protocol) = protocol else {
            return Ok(None);
        };
        let model = model_name.unwrap_or(target_name).to_string();
        if model.is_empty() || model.chars().any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '%'))
        {
            return Err(GateError::ModelName { model });
        }
        let warmup = warmup.unwrap_or(0);
        if warmup > 0 && protocol.inference_path(&model).is_none() {
            return Err(GateError::WarmupWithoutInference { protocol });
        }
        if let Some(body) = &warmup_body {
            serde_json::from_str::<Value>(body).map_err(|source| GateError::WarmupBody { source })?;
        }
        let warmup_body = warmup_body.or_else(|| protocol.default_warmup_body(&model));
        Ok(Some(Self { protocol, model, warmup, warmup_body, timeout }))
    }

    /// The path asked for readiness.
    pub fn ready_path(&self) -> String {
        self.protocol.ready_path(&self.model)
    }
}

/// The port to ask: the container port named `http`, else the first port declared.
///
/// # Errors
/// [`NoPort`], naming the pod, when it declares no port.
pub fn pick_port(pod: &Pod) -> Result<i32, NoPort> {
    let ports: Vec<_> =
        pod.spec.iter().flat_map(|s| s.containers.iter()).flat_map(|c| c.ports.iter().flatten()).collect();
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some("http"))
        .or_else(|| ports.first())
        .map(|p| p.container_port)
        .ok_or_else(|| NoPort { pod: pod.metadata.name.clone().unwrap_or_default() })
}

/// What one answer to a readiness request means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ready,
    /// Not yet; what the server said.
    Loading(String),
    /// An answer that waiting will not change.
    Failed(String),
    /// Nothing answered on the port (the API server said so).
    Unreachable(String),
    /// The API server refused the proxy request (RBAC); its sentence.
    Forbidden(String),
    /// The pod is gone.
    PodGone,
}

/// The message in an answer's body: a JSON `error` (string or `.message`), `detail` or
/// `message`, else the text itself, shortened.
pub fn said(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        [&v["error"]["message"], &v["error"], &v["detail"], &v["message"]]
            .into_iter()
            .find_map(|m| m.as_str().map(str::to_string))
    });
    let message = from_json.unwrap_or_else(|| text.trim().to_string());
    if message.is_empty() {
        return "no body".to_string();
    }
    let mut short: String = message.chars().take(160).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    short
}

/// Whether a body is the API server's own `Status` (not the pod's answer).
fn api_status(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body).ok().filter(|v| v["kind"] == "Status" && v["apiVersion"] == "v1")
}

/// Judge the answer (`status`, `body`) to the readiness request of `gate` for one pod.
pub fn judge(gate: &ModelGate, status: u16, body: &[u8]) -> Answer {
    let path = gate.ready_path();
    if let Some(s) = api_status(body) {
        let message = s["message"].as_str().unwrap_or_default().to_string();
        match status {
            403 => return Answer::Forbidden(message),
            404 if s["details"]["kind"] == "pods" => return Answer::PodGone,
            503 if message.starts_with("error trying to reach service") => {
                return Answer::Unreachable(message)
            }
            400 if message == "address not allowed" => {
                return Answer::Unreachable("the pod has no IP address".to_string())
            }
            _ => {}
        }
    }
    let answered = |what: &str| format!("GET {path} answered {status}: {what}");
    match status {
        200..=299 => match &gate.protocol {
            Protocol::OpenAi => {
                let listed: Vec<String> = serde_json::from_slice::<Value>(body)
                    .ok()
                    .and_then(|v| v["data"].as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_string))
                    .collect();
                if listed.contains(&gate.model) {
                    Answer::Ready
                } else {
                    Answer::Failed(format!(
                        "GET {path} lists {}, not {:?}: set --model-name to the model the server serves",
                        if listed.is_empty() { "no model".to_string() } else { listed.join(", ") },
                        gate.model
                    ))
                }
            }
            Protocol::V2 if serde_json::from_slice::<Value>(body).is_ok_and(|v| v["ready"] == false) => {
                Answer::Loading(answered("ready: false"))
            }
            _ => Answer::Ready,
        },
        503 => Answer::Loading(answered(&said(body))),
        _ => Answer::Failed(answered(&said(body))),
    }
}

/// The pause before asking a pod again after `attempt` answers that were not yet: 250 ms,
/// doubling, at most 2 s (so a model is seen ready at most 2 s late).
pub fn backoff(attempt: u32) -> Duration {
    let max = Duration::from_secs(2);
    Duration::from_millis(250).checked_mul(1 << attempt.min(8)).unwrap_or(max).min(max)
}

/// The sentence for a pod proxy refused by RBAC.
pub fn forbidden_sentence(verb: &str, namespace: &str, api_said: &str) -> String {
    format!(
        "--model-ready asks each new pod's model server through the API server's pod proxy, which needs \"{verb}\" on \"pods/proxy\" in namespace {namespace} (the API server said: {api_said}); add the opt-in pods/proxy rule of deploy/rbac.yaml to your Role, or run without --model-ready"
    )
}

/// The warning for a canary pod of the replicas router that takes traffic before its model is
/// ready: the Service already routes to every Ready pod.
pub fn capacity_warning(pod: &str, gate: &ModelGate, port: i32) -> String {
    format!(
        "warning: pod {pod} is Ready but its model is still loading, and the Service already sends it traffic (the replicas router splits traffic by pod count): its share of requests fails or waits meanwhile; a readinessProbe on GET {} port {port} would keep it out of the Service until the model is loaded",
        gate.ready_path()
    )
}

/// Where one pod's model is, for the progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelPhase {
    /// Asked, no answer yet.
    Asking,
    /// Pod Ready, model not yet; the server's last word.
    Loading {
        said: String,
    },
    /// Model ready, warm-up requests under way.
    WarmingUp {
        done: u32,
        of: u32,
    },
    /// Counts: model ready (and warmed up).
    Ready,
    Failed(String),
}

/// One pod being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodModel {
    pub pod: String,
    pub phase: ModelPhase,
    /// When the pod turned Ready (for "model loading 40s").
    pub ready_since: Option<jiff::Timestamp>,
}

impl PodModel {
    /// `pod ready, model loading 40s`, `model ready, warming up 2/5`, `model ready`, …
    pub fn describe(&self, now: jiff::Timestamp) -> String {
        let waited = self
            .ready_since
            .map(|t| {
                format!(" {}", crate::rollout::progress::short_duration(now.duration_since(t).unsigned_abs()))
            })
            .unwrap_or_default();
        match &self.phase {
            ModelPhase::Asking => "pod ready, asking its model server".to_string(),
            ModelPhase::Loading { .. } => format!("pod ready, model loading{waited}"),
            ModelPhase::WarmingUp { done, of } => format!("model ready, warming up {done}/{of}"),
            ModelPhase::Ready => "model ready".to_string(),
            ModelPhase::Failed(why) => format!("failed: {why}"),
        }
    }

    /// The line printed off a terminal, once per change: the description, and while loading
    /// what the server said.
    pub fn plain_line(&self, now: jiff::Timestamp) -> String {
        match &self.phase {
            ModelPhase::Loading { said } => format!("{} ({said})", self.describe(now)),
            _ => self.describe(now),
        }
    }

    /// What about the pod is worth a new plain line (not its clock).
    pub fn change_key(&self) -> String {
        match &self.phase {
            ModelPhase::Loading { said } => format!("loading {said}"),
            other => format!("{other:?}"),
        }
    }
}

/// The warm-up line of a pod: first and last latency (the cold-start cost).
pub fn warmup_line(pod: &str, latencies: &[Duration]) -> Option<String> {
    let ms = |d: &Duration| format!("{:.0}ms", d.as_secs_f64() * 1000.0);
    let (first, last) = (latencies.first()?, latencies.last()?);
    Some(format!(
        "pod {pod}: warm-up {} {}, first {}, last {}",
        latencies.len(),
        if latencies.len() == 1 { "request" } else { "requests" },
        ms(first),
        ms(last)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec};

    fn gate(protocol: Protocol) -> ModelGate {
        ModelGate::new(Some(protocol), None, "fraud", None, None, Duration::from_secs(600)).unwrap().unwrap()
    }

    #[test]
    fn protocols_parse_and_name_their_paths() {
        assert_eq!(Protocol::parse("v2"), Ok(Protocol::V2));
        assert_eq!(Protocol::parse("openai"), Ok(Protocol::OpenAi));
        assert_eq!(Protocol::parse("http:/healthz"), Ok(Protocol::Http("/healthz".into())));
        assert_eq!(Protocol::parse("http:healthz"), Err(ProtocolError::HttpPath { path: "healthz".into() }));
        assert_eq!(
            Protocol::parse("http:healthz").unwrap_err().to_string(),
            "the path of http:PATH must start with / and have no spaces (got \"healthz\"), e.g. http:/healthz"
        );
        assert_eq!(Protocol::parse("grpc"), Err(ProtocolError::Unknown { text: "grpc".into() }));
        assert_eq!(
            Protocol::parse("grpc").unwrap_err().to_string(),
            "\"grpc\" is not a protocol: use v2, openai or http:PATH"
        );
        assert_eq!(Protocol::V2.ready_path("m"), "/v2/models/m/ready");
        assert_eq!(Protocol::OpenAi.ready_path("m"), "/v1/models");
        assert_eq!(Protocol::V2.inference_path("m").as_deref(), Some("/v2/models/m/infer"));
        assert_eq!(Protocol::Http("/x".into()).inference_path("m"), None);
        assert_eq!(Protocol::Http("/x".into()).to_string(), "http:/x");
    }

    #[test]
    fn settings_are_checked_together() {
        let none = ModelGate::new(None, Some("x"), "fraud", Some(3), None, Duration::ZERO).unwrap();
        assert_eq!(none, None);
        let g = gate(Protocol::OpenAi);
        assert_eq!(g.model, "fraud", "the target's name by default");
        assert!(g.warmup_body.unwrap().contains("\"model\":\"fraud\""));
        let http =
            ModelGate::new(Some(Protocol::Http("/h".into())), None, "f", Some(2), None, Duration::ZERO);
        let http = http.unwrap_err();
        assert!(
            matches!(&http, GateError::WarmupWithoutInference { protocol: Protocol::Http(p) } if p == "/h")
        );
        assert_eq!(
            http.to_string(),
            "--warmup sends inference requests, and --model-ready http:/h has no inference path: use --model-ready v2 or openai"
        );
        let bad =
            ModelGate::new(Some(Protocol::V2), Some("a/b"), "f", None, None, Duration::ZERO).unwrap_err();
        assert!(matches!(&bad, GateError::ModelName { model } if model == "a/b"));
        assert_eq!(
            bad.to_string(),
            "invalid --model-name \"a/b\": a model name has no spaces and none of / ? # %"
        );
        let body =
            ModelGate::new(Some(Protocol::V2), None, "f", Some(1), Some("{oops".into()), Duration::ZERO);
        let body = body.unwrap_err();
        assert!(matches!(body, GateError::WarmupBody { .. }));
        assert!(
            body.to_string()
                .starts_with("--warmup-body is not JSON (key must be a string at line 1 column 2); "),
            "{body}"
        );
    }

    fn pod(ports: &[(&str, i32)]) -> Pod {
        Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("p".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![
                    Container { name: "sidecar".into(), ..Default::default() },
                    Container {
                        name: "model".into(),
                        ports: Some(
                            ports
                                .iter()
                                .map(|(n, p)| ContainerPort {
                                    name: (!n.is_empty()).then(|| n.to_string()),
                                    container_port: *p,
                                    ..Default::default()
                                })
                                .collect(),
                        ),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn the_port_named_http_else_the_first() {
        assert_eq!(pick_port(&pod(&[("metrics", 9090), ("http", 8080)])), Ok(8080));
        assert_eq!(pick_port(&pod(&[("grpc", 9000), ("", 8000)])), Ok(9000));
        let err = pick_port(&pod(&[])).unwrap_err();
        assert_eq!(err, NoPort { pod: "p".into() });
        assert_eq!(
            err.to_string(),
            "pod p declares no container port, so its model server cannot be asked; name the server's port `http`"
        );
    }

    #[test]
    fn answers_are_judged() {
        let v2 = gate(Protocol::V2);
        assert_eq!(judge(&v2, 200, br#"{"name":"fraud","ready":true}"#), Answer::Ready);
        assert_eq!(
            judge(&v2, 503, br#"{"error":"Model with name fraud is not ready."}"#),
            Answer::Loading(
                "GET /v2/models/fraud/ready answered 503: Model with name fraud is not ready.".into()
            )
        );
        assert!(matches!(judge(&v2, 200, br#"{"ready":false}"#), Answer::Loading(_)));
        assert_eq!(
            judge(&v2, 404, br#"{"error":"Model with name fraud does not exist."}"#),
            Answer::Failed(
                "GET /v2/models/fraud/ready answered 404: Model with name fraud does not exist.".into()
            )
        );
        assert!(matches!(judge(&v2, 500, b"boom"), Answer::Failed(m) if m.ends_with("500: boom")));
        let refused = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"error trying to reach service: dial tcp 10.0.0.1:8080: connect: connection refused","reason":"ServiceUnavailable","code":503}"#;
        assert!(
            matches!(judge(&v2, 503, refused), Answer::Unreachable(m) if m.contains("connection refused"))
        );
        let forbidden = br#"{"kind":"Status","apiVersion":"v1","message":"pods \"p:8080\" is forbidden","reason":"Forbidden","code":403,"details":{"name":"p:8080","kind":"pods"}}"#;
        assert_eq!(judge(&v2, 403, forbidden), Answer::Forbidden("pods \"p:8080\" is forbidden".into()));
        let gone = br#"{"kind":"Status","apiVersion":"v1","message":"pods \"p\" not found","reason":"NotFound","code":404,"details":{"name":"p","kind":"pods"}}"#;
        assert_eq!(judge(&v2, 404, gone), Answer::PodGone);
        let openai = gate(Protocol::OpenAi);
        assert_eq!(judge(&openai, 200, br#"{"data":[{"id":"fraud"}]}"#), Answer::Ready);
        assert!(
            matches!(judge(&openai, 200, br#"{"data":[{"id":"llama"}]}"#), Answer::Failed(m) if m.contains("lists llama, not \"fraud\""))
        );
        assert!(
            matches!(judge(&openai, 503, br#"{"error":{"message":"Loading model"}}"#), Answer::Loading(m) if m.ends_with("Loading model"))
        );
        let http = gate(Protocol::Http("/healthz".into()));
        assert_eq!(judge(&http, 204, b""), Answer::Ready);
        assert_eq!(judge(&http, 503, b""), Answer::Loading("GET /healthz answered 503: no body".into()));
    }

    #[test]
    fn backoff_doubles_to_two_seconds() {
        let ms: Vec<u128> = (0..6).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(ms, vec![250, 500, 1000, 2000, 2000, 2000]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn phases_read_as_the_user_expects() {
        let t0 = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let mut p = PodModel {
            pod: "p".into(),
            phase: ModelPhase::Loading { said: "x".into() },
            ready_since: Some(t0),
        };
        assert_eq!(p.describe(t0 + jiff::SignedDuration::from_secs(40)), "pod ready, model loading 40s");
        assert_eq!(p.plain_line(t0), "pod ready, model loading 0s (x)");
        p.phase = ModelPhase::WarmingUp { done: 2, of: 5 };
        assert_eq!(p.describe(t0), "model ready, warming up 2/5");
        let lat = [Duration::from_millis(203), Duration::from_millis(22)];
        assert_eq!(warmup_line("p", &lat).unwrap(), "pod p: warm-up 2 requests, first 203ms, last 22ms");
        assert_eq!(warmup_line("p", &[]), None);
    }
}
