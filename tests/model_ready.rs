//! Integration tests: the playground's simulated model servers behind the pods `proxy`
//! subresource (reached with real kubectl), and the `--model-ready` gate of the plugin.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, Playground};

const NS: &str = "default";

/// Deployment `name` (`app: name`, one container `model` with port `http` 8080) whose pods load
/// their model for `load` after they are Ready.
fn deployment(name: &str, replicas: i32, image: &str, load: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"playground.modelroll.io/model-load": load}},
                "spec": {"containers": [{"name": "model", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}]}
            }
        }
    })
}

fn apply(pg: &Playground, object: &Value) {
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&object.to_string())).success();
}

/// Names of the Ready pods labelled `app=name`.
fn ready_pods(pg: &Playground, name: &str) -> Vec<String> {
    let pods = pg.store().list(&common::resources::PODS, NS).expect("pods list");
    let mut names: Vec<String> = pods
        .items
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == name && p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| modelroll::playground::model_server::pod_is_ready(p))
        .map(|p| p["metadata"]["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

fn proxy(pod: &str, port: &str, path: &str) -> String {
    format!("/api/v1/namespaces/{NS}/pods/{pod}:{port}/proxy{path}")
}

#[test]
fn kubectl_get_raw_reaches_model_servers_that_load_after_ready() {
    let pg = Playground::start();
    apply(&pg, &deployment("fraud", 1, "registry.example/fraud:v1", "2s"));
    let mut pod = Vec::new();
    common::wait_for(Duration::from_secs(20), "the fraud pod Ready", || {
        pod = ready_pods(&pg, "fraud");
        !pod.is_empty()
    });
    let seen_ready = Instant::now();
    let pod = pod[0].clone();
    let ready = proxy(&pod, "8080", "/v2/models/fraud/ready");

    // Ready, model loading: the pod answers (its /health passes) but the model is not ready.
    pg.kubectl(&["get", "--raw", &proxy(&pod, "8080", "/health")]).success();
    let loading = pg.kubectl(&["get", "--raw", &ready]);
    assert_ne!(loading.code, 0, "the model cannot be ready right after the pod: {loading:?}");
    assert!(loading.stderr.contains("ServiceUnavailable"), "{}", loading.stderr);
    let models = pg.kubectl(&["get", "--raw", &proxy(&pod, "8080", "/v1/models")]);
    assert_ne!(models.code, 0, "{models:?}");

    let mut answer = String::new();
    common::wait_for(Duration::from_secs(10), "the model to load", || {
        let out = pg.kubectl(&["get", "--raw", &ready]);
        answer = out.stdout;
        out.code == 0
    });
    let load_seen = seen_ready.elapsed();
    assert!(load_seen >= Duration::from_millis(1900), "loaded {load_seen:?} after Ready, not 2s");
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap(), json!({"name": "fraud", "ready": true}));
    let listed: Value = serde_json::from_str(
        &pg.kubectl(&["get", "--raw", &proxy(&pod, "8080", "/v1/models")]).success().stdout,
    )
    .unwrap();
    assert_eq!(listed["data"][0]["id"], "fraud");
    let metadata: Value = serde_json::from_str(
        &pg.kubectl(&["get", "--raw", &proxy(&pod, "8080", "/v2/models/fraud")]).success().stdout,
    )
    .unwrap();
    assert_eq!(metadata["name"], "fraud");
    // POST through the proxy (kubectl create --raw): inference, with the cold start.
    let body = std::env::temp_dir().join(format!("modelroll-infer-{}.json", std::process::id()));
    std::fs::write(
        &body,
        r#"{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}"#,
    )
    .unwrap();
    let infer = proxy(&pod, "8080", "/v2/models/fraud/infer");
    let out = pg.kubectl(&["create", "--raw", &infer, "-f", body.to_str().unwrap()]);
    let _ = std::fs::remove_file(&body);
    let inferred: Value = serde_json::from_str(&out.success().stdout).unwrap();
    assert_eq!(inferred["outputs"][0]["shape"], json!([1, 1]));
    // An unknown model of a running server: the server's own 404.
    let other = pg.kubectl(&["get", "--raw", &proxy(&pod, "8080", "/v2/models/other/ready")]);
    assert!(other.stderr.contains("NotFound"), "{other:?}");

    // The API server's own errors, as kube-apiserver words them.
    let missing = pg.kubectl(&["get", "--raw", &proxy("nope", "8080", "/health")]);
    assert!(missing.stderr.contains(r#"Error from server (NotFound): pods "nope" not found"#), "{missing:?}");
    let closed = pg.kubectl(&["get", "--raw", &proxy(&pod, "9000", "/health")]);
    assert!(
        closed.stderr.contains(
            "Error from server (ServiceUnavailable): error trying to reach service: dial tcp 10.244."
        ) && closed.stderr.contains(":9000: connect: connection refused"),
        "{closed:?}"
    );
    // A pod that cannot be scheduled has no IP.
    let pending = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "namespace": NS},
        "spec": {"containers": [{"name": "model", "image": "registry.example/big:v1", "ports": [{"containerPort": 8080}],
                 "resources": {"limits": {"nvidia.com/gpu": "64"}}}]}
    });
    apply(&pg, &pending);
    let no_ip = pg.kubectl(&["get", "--raw", &proxy("big", "8080", "/health")]);
    assert!(no_ip.stderr.contains("Error from server (BadRequest): address not allowed"), "{no_ip:?}");
    // The viewer (read-only, like the `view` ClusterRole) may not proxy to pods.
    let viewer = pg.kubectl(&["--context", "playground-viewer", "get", "--raw", &ready]);
    assert!(
        viewer.stderr.contains(&format!(
            r#"pods "{pod}:8080" is forbidden: User "viewer" cannot get resource "pods/proxy" in API group "" in the namespace "default""#
        )),
        "{viewer:?}"
    );
}

#[test]
fn noload_images_never_load_and_openai_servers_list_their_model() {
    let pg = Playground::start();
    apply(&pg, &deployment("chat", 1, "registry.example/chat:v1-noload", "0"));
    let mut pods = Vec::new();
    common::wait_for(Duration::from_secs(20), "the chat pod Ready", || {
        pods = ready_pods(&pg, "chat");
        !pods.is_empty()
    });
    let out = pg.kubectl(&["get", "--raw", &proxy(&pods[0], "8080", "/v1/models")]);
    assert!(out.stderr.contains("ServiceUnavailable"), "a noload model is loading forever: {out:?}");
    apply(&pg, &deployment("llm", 1, "registry.example/llm:v1", "0"));
    common::wait_for(Duration::from_secs(20), "the llm pod Ready", || {
        pods = ready_pods(&pg, "llm");
        !pods.is_empty()
    });
    let listed: Value = serde_json::from_str(
        &pg.kubectl(&["get", "--raw", &proxy(&pods[0], "8080", "/v1/models")]).success().stdout,
    )
    .unwrap();
    assert_eq!(listed["data"][0]["id"], "llm", "load 0: the model is there as soon as the pod is Ready");
}
