//! The model servers inside playground pods, as the API server's pod proxy reaches them.
//!
//! Every Ready playground pod runs one simulated model server on each port its containers
//! declare. It speaks the open inference protocol (KServe, Triton), the OpenAI one (vLLM, TGI,
//! llama.cpp server) and a bare `/health`, and it behaves like those servers do in a cluster:
//!
//! - **Ready first, model later.** The pod's readiness probe passes as soon as the server
//!   answers, which is before its model is loaded (vLLM's `/health` answers 200 while weights
//!   load). The load takes the annotation `playground.modelroll.io/model-load` (a Go duration,
//!   default `0`) counted from the moment the playground first sees the pod Ready; an image
//!   whose tag contains `noload` (e.g. `model:v2-noload`) never finishes loading. A pod that
//!   turns unready and Ready again loads again (its container restarted).
//! - **The model's name** is the annotation `playground.modelroll.io/model-name`, else the
//!   pod's label `serving.knative.dev/service` (a Knative Service's pods), else `app`, else
//!   `app.kubernetes.io/name`, else the Deployment owning it (its ReplicaSet's name without the pod-template-hash), else the
//!   pod's name. So a model Deployment `fraud` whose pods carry `app: fraud` serves model
//!   `fraud`, and so do the pods of its canary `fraud-canary` (same labels).
//! - **Cold start.** The n-th inference after the load (1-based, per pod) takes
//!   [`cold_start_latency`]`(n)` = 20 ms × (1 + 9 / 2ⁿ⁻¹): 200 ms, 110 ms, 65 ms, 42.5 ms, … down
//!   to 20 ms. Deterministic: it depends on nothing but n.
//!
//! While loading, the model's endpoints answer 503 (KServe's `ModelNotReady`, llama.cpp's
//! "Loading model"); an unknown model answers 404; an unknown path 404 and a wrong method 405
//! (FastAPI's bodies). Before the pod is Ready nothing listens, so the API server answers with
//! its own error (see [`super::proxy`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::controllers::kubelet::{image_tag, parse_go_duration};
use super::resources::PODS;
use super::store::{EventType, Store};

/// Annotation: how long the model takes to load once the pod is Ready (Go duration).
pub const MODEL_LOAD_ANNOTATION: &str = "playground.modelroll.io/model-load";
/// Annotation: the name of the model the pod serves (see the module doc for the default).
pub const MODEL_NAME_ANNOTATION: &str = "playground.modelroll.io/model-name";
/// Latency of a warm inference.
pub const WARM_LATENCY: Duration = Duration::from_millis(20);

/// How long the n-th inference after the model loaded takes (n counts from 1): ten times the
/// warm latency at first, the excess halving with each request.
pub fn cold_start_latency(n: u32) -> Duration {
    let halvings = n.saturating_sub(1).min(30);
    WARM_LATENCY + WARM_LATENCY * 9 / (1u32 << halvings)
}

/// Per pod (by uid): when the playground first saw it Ready, and how many inferences its
/// model has served since it loaded.
#[derive(Debug, Default)]
pub struct ModelServers {
    pods: Mutex<HashMap<String, ServerClock>>,
}

#[derive(Debug, Clone, Copy)]
struct ServerClock {
    ready_since: Timestamp,
    inferences: u32,
}

/// Whether a pod object says Ready=True.
pub fn pod_is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn uid(pod: &Value) -> String {
    pod["metadata"]["uid"].as_str().unwrap_or_default().to_string()
}

impl ModelServers {
    /// Note the pod as it is now: start its clock the first time it is seen Ready, stop it
    /// when it is not Ready any more. Returns when its server started answering (None: it
    /// does not answer).
    pub fn observe(&self, pod: &Value, now: Timestamp) -> Option<Timestamp> {
        let mut pods = self.pods.lock().unwrap_or_else(PoisonError::into_inner);
        let key = uid(pod);
        if !pod_is_ready(pod) || pod["metadata"]["deletionTimestamp"].is_string() {
            pods.remove(&key);
            return None;
        }
        Some(pods.entry(key).or_insert(ServerClock { ready_since: now, inferences: 0 }).ready_since)
    }

    /// Forget a deleted pod.
    pub fn forget(&self, pod: &Value) {
        self.pods.lock().unwrap_or_else(PoisonError::into_inner).remove(&uid(pod));
    }

    /// Count one inference served by the loaded model of `pod`; returns its number (from 1).
    fn count_inference(&self, pod: &Value) -> u32 {
        let mut pods = self.pods.lock().unwrap_or_else(PoisonError::into_inner);
        match pods.get_mut(&uid(pod)) {
            Some(clock) => {
                clock.inferences += 1;
                clock.inferences
            }
            None => 1,
        }
    }
}

/// Start every pod's clock the moment it turns Ready (the proxy also starts it when it gets
/// there first): runs until the store closes or the task is aborted.
pub async fn record_readiness(store: Store, servers: std::sync::Arc<ModelServers>) {
    let mut events = store.subscribe();
    loop {
        match events.recv().await {
            Ok(event) if event.is_for(&PODS) => match event.event_type {
                EventType::Deleted => servers.forget(&event.object),
                _ => {
                    servers.observe(&event.object, Timestamp::now());
                }
            },
            Ok(_) => {}
            // Missed events: a late start of a clock only makes a model load later, never sooner.
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// The name of the model a pod serves.
pub fn model_name(pod: &Value) -> String {
    let meta = &pod["metadata"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(name) = text(&meta["annotations"][MODEL_NAME_ANNOTATION]) {
        return name;
    }
    // A Knative pod's `app` label names its revision; the model is the ksvc's.
    for label in ["serving.knative.dev/service", "app", "app.kubernetes.io/name"] {
        if let Some(name) = text(&meta["labels"][label]) {
            return name;
        }
    }
    let hash = text(&meta["labels"]["pod-template-hash"]);
    let owner = meta["ownerReferences"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["kind"] == "ReplicaSet"))
        .and_then(|o| text(&o["name"]));
    if let (Some(owner), Some(hash)) = (owner, hash) {
        if let Some(deployment) = owner.strip_suffix(&format!("-{hash}")) {
            return deployment.to_string();
        }
    }
    text(&meta["name"]).unwrap_or_default()
}

/// Where a pod's model is at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelState {
    /// Loading; `left` is None when it never finishes (`noload` image).
    Loading {
        left: Option<Duration>,
    },
    Loaded,
}

/// The model's state at `now`, its server having answered since `ready_since`.
pub fn model_state(pod: &Value, ready_since: Timestamp, now: Timestamp) -> ModelState {
    let never = pod["spec"]["containers"].as_array().is_some_and(|containers| {
        containers
            .iter()
            .any(|c| c["image"].as_str().and_then(image_tag).is_some_and(|tag| tag.contains("noload")))
    });
    if never {
        return ModelState::Loading { left: None };
    }
    let load = pod["metadata"]["annotations"][MODEL_LOAD_ANNOTATION]
        .as_str()
        .and_then(|d| parse_go_duration(d).ok())
        .unwrap_or(Duration::ZERO);
    let loaded_at = ready_since + SignedDuration::try_from(load).unwrap_or(SignedDuration::MAX);
    if now >= loaded_at {
        ModelState::Loaded
    } else {
        ModelState::Loading { left: Some(now.duration_until(loaded_at).unsigned_abs()) }
    }
}

/// A model server's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// JSON, or empty (`/health`).
    pub body: Option<Value>,
    /// How long the server takes to answer (inference only).
    pub latency: Duration,
}

impl Answer {
    fn json(status: u16, body: Value) -> Self {
        Self { status, body: Some(body), latency: Duration::ZERO }
    }
}

/// Answer one request to a pod's model server: `path` is the cleaned path after `/proxy`.
pub fn answer(
    servers: &ModelServers,
    pod: &Value,
    state: ModelState,
    method: &str,
    path: &str,
    body: &[u8],
) -> Answer {
    let served = model_name(pod);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let loaded = state == ModelState::Loaded;
    let not_found = || Answer::json(404, json!({"detail": "Not Found"}));
    let wrong_method = || Answer::json(405, json!({"detail": "Method Not Allowed"}));
    let only = |wanted: &str, answer: &dyn Fn() -> Answer| {
        if method == wanted || (wanted == "GET" && method == "HEAD") {
            answer()
        } else {
            wrong_method()
        }
    };
    // The open inference protocol's answers about model `name`, when not loaded or unknown.
    let v2_unavailable = |name: &str| -> Option<Answer> {
        if name != served {
            Some(Answer::json(404, json!({"error": format!("Model with name {name} does not exist.")})))
        } else if !loaded {
            Some(Answer::json(503, json!({"error": format!("Model with name {name} is not ready.")})))
        } else {
            None
        }
    };
    let llama_loading = || {
        Answer::json(
            503,
            json!({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}),
        )
    };
    match segments.as_slice() {
        ["health"] => only("GET", &|| Answer { status: 200, body: None, latency: Duration::ZERO }),
        ["v2", "health", "live"] => only("GET", &|| Answer::json(200, json!({"live": true}))),
        ["v2", "health", "ready"] => {
            only("GET", &|| Answer::json(if loaded { 200 } else { 503 }, json!({"ready": loaded})))
        }
        ["v2", "models", name, "ready"] | ["v2", "models", name, "versions", _, "ready"] => {
            only("GET", &|| {
                v2_unavailable(name)
                    .unwrap_or_else(|| Answer::json(200, json!({"name": name, "ready": true})))
            })
        }
        ["v2", "models", name] | ["v2", "models", name, "versions", _] => only("GET", &|| {
            v2_unavailable(name).unwrap_or_else(|| {
                Answer::json(
                    200,
                    json!({
                        "name": name, "versions": ["1"], "platform": "playground",
                        "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}],
                        "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [-1, 1]}],
                    }),
                )
            })
        }),
        ["v2", "models", name, "infer"] | ["v2", "models", name, "versions", _, "infer"] => {
            only("POST", &|| {
                if let Some(answer) = v2_unavailable(name) {
                    return answer;
                }
                v2_infer(servers, pod, name, body)
            })
        }
        ["v1", "models"] => only("GET", &|| {
            if !loaded {
                return llama_loading();
            }
            Answer::json(
                200,
                json!({"object": "list", "data": [{"id": served, "object": "model", "created": 1_767_225_600, "owned_by": "playground"}]}),
            )
        }),
        ["v1", "completions"] => only("POST", &|| {
            if !loaded {
                return llama_loading();
            }
            v1_completion(servers, pod, &served, body)
        }),
        _ => not_found(),
    }
}

/// `POST /v2/models/NAME/infer` of the open inference protocol, the model loaded: one output
/// row per input row, after the cold-start latency of the pod's first requests.
fn v2_infer(servers: &ModelServers, pod: &Value, name: &str, body: &[u8]) -> Answer {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Answer::json(400, json!({"error": format!("Unrecognized request format: {e}")})),
    };
    let Some(inputs) = request["inputs"].as_array().filter(|i| !i.is_empty()) else {
        return Answer::json(
            400,
            json!({"error": "Unrecognized request format: the request has no \"inputs\""}),
        );
    };
    let rows = inputs[0]["shape"].as_array().and_then(|s| s.first()).and_then(Value::as_u64).unwrap_or(1);
    let n = servers.count_inference(pod);
    let mut answer = Answer::json(
        200,
        json!({
            "model_name": name, "model_version": "1", "id": request["id"].as_str().unwrap_or(""),
            "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [rows, 1], "data": vec![0.5; rows as usize]}],
        }),
    );
    answer.latency = cold_start_latency(n);
    answer
}

/// `POST /v1/completions` as llama.cpp's server answers it, the model loaded.
fn v1_completion(servers: &ModelServers, pod: &Value, served: &str, body: &[u8]) -> Answer {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Answer::json(
                400,
                json!({"error": {"message": format!("invalid JSON body: {e}"), "type": "BadRequestError", "code": 400}}),
            )
        }
    };
    let model = request["model"].as_str().unwrap_or_default();
    if model != served {
        return Answer::json(
            404,
            json!({"error": {"message": format!("The model `{model}` does not exist."), "type": "NotFoundError", "code": 404}}),
        );
    }
    if request["prompt"].is_null() {
        return Answer::json(
            400,
            json!({"error": {"message": "prompt is required", "type": "BadRequestError", "code": 400}}),
        );
    }
    let n = servers.count_inference(pod);
    let mut answer = Answer::json(
        200,
        json!({
            "id": format!("cmpl-{n}"), "object": "text_completion", "created": 1_767_225_600, "model": served,
            "choices": [{"index": 0, "text": " ok", "finish_reason": "length", "logprobs": null}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }),
    );
    answer.latency = cold_start_latency(n);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(image: &str, annotations: Value) -> Value {
        json!({
            "metadata": {
                "name": "fraud-7d9c-abcde", "uid": "u1", "annotations": annotations,
                "labels": {"pod-template-hash": "7d9c"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "fraud-7d9c"}],
            },
            "spec": {"containers": [{"name": "model", "image": image, "ports": [{"containerPort": 8080}]}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        })
    }

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn cold_start_curve_halves_the_excess() {
        let ms = |n| cold_start_latency(n).as_micros();
        assert_eq!([ms(1), ms(2), ms(3), ms(4)], [200_000, 110_000, 65_000, 42_500]);
        assert_eq!(cold_start_latency(40), WARM_LATENCY, "warm after a few dozen requests");
        assert_eq!(cold_start_latency(u32::MAX), WARM_LATENCY);
    }

    #[test]
    fn models_load_after_ready_and_noload_never() {
        let p = pod("model:v2", json!({MODEL_LOAD_ANNOTATION: "40s"}));
        assert_eq!(model_state(&p, t(0), t(39)), ModelState::Loading { left: Some(Duration::from_secs(1)) });
        assert_eq!(model_state(&p, t(0), t(40)), ModelState::Loaded);
        let instant = pod("model:v2", json!({}));
        assert_eq!(model_state(&instant, t(0), t(0)), ModelState::Loaded);
        let never = pod("model:v2-noload", json!({}));
        assert_eq!(model_state(&never, t(0), t(100_000)), ModelState::Loading { left: None });
    }

    #[test]
    fn model_names_default_to_labels_then_owner() {
        let mut p = pod("model:v2", json!({}));
        assert_eq!(model_name(&p), "fraud");
        p["metadata"]["labels"]["app"] = json!("fraud-app");
        assert_eq!(model_name(&p), "fraud-app");
        p["metadata"]["annotations"][MODEL_NAME_ANNOTATION] = json!("llama");
        assert_eq!(model_name(&p), "llama");
    }

    #[test]
    fn the_clock_starts_at_the_first_ready_sighting_and_stops_when_unready() {
        let servers = ModelServers::default();
        let mut p = pod("model:v2", json!({}));
        assert_eq!(servers.observe(&p, t(5)), Some(t(5)));
        assert_eq!(servers.observe(&p, t(9)), Some(t(5)), "later sightings keep the first");
        p["status"]["conditions"][0]["status"] = json!("False");
        assert_eq!(servers.observe(&p, t(10)), None);
        p["status"]["conditions"][0]["status"] = json!("True");
        assert_eq!(servers.observe(&p, t(12)), Some(t(12)), "a restart loads again");
    }

    #[test]
    fn endpoints_answer_as_real_servers() {
        let servers = ModelServers::default();
        let p = pod("model:v2", json!({}));
        servers.observe(&p, t(0));
        let loading = ModelState::Loading { left: Some(Duration::from_secs(3)) };
        let status = |state, method, path: &str, body: &str| {
            answer(&servers, &p, state, method, path, body.as_bytes()).status
        };
        assert_eq!(status(loading, "GET", "/health", ""), 200, "vLLM's /health passes while loading");
        assert_eq!(status(loading, "GET", "/v2/models/fraud/ready", ""), 503);
        assert_eq!(status(ModelState::Loaded, "GET", "/v2/models/fraud/ready", ""), 200);
        assert_eq!(status(ModelState::Loaded, "GET", "/v2/models/other/ready", ""), 404);
        assert_eq!(status(ModelState::Loaded, "POST", "/v2/models/fraud/ready", ""), 405);
        assert_eq!(status(loading, "GET", "/v1/models", ""), 503);
        assert_eq!(status(ModelState::Loaded, "GET", "/nope", ""), 404);
        assert_eq!(status(ModelState::Loaded, "POST", "/v2/models/fraud/infer", "{}"), 400);
        let listed = answer(&servers, &p, ModelState::Loaded, "GET", "/v1/models", b"");
        assert_eq!(listed.body.unwrap()["data"][0]["id"], "fraud");
        let infer =
            r#"{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}"#;
        let first =
            answer(&servers, &p, ModelState::Loaded, "POST", "/v2/models/fraud/infer", infer.as_bytes());
        let second =
            answer(&servers, &p, ModelState::Loaded, "POST", "/v2/models/fraud/infer", infer.as_bytes());
        assert_eq!(
            (first.status, first.latency, second.latency),
            (200, cold_start_latency(1), cold_start_latency(2))
        );
        let completion = answer(
            &servers,
            &p,
            ModelState::Loaded,
            "POST",
            "/v1/completions",
            br#"{"model": "fraud", "prompt": "hi"}"#,
        );
        assert_eq!((completion.status, completion.latency), (200, cold_start_latency(3)));
        let wrong = answer(
            &servers,
            &p,
            ModelState::Loaded,
            "POST",
            "/v1/completions",
            br#"{"model": "x", "prompt": "hi"}"#,
        );
        assert_eq!(wrong.status, 404);
    }
}
