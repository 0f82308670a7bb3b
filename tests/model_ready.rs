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

// ---- the --model-ready gate of the plugin -----------------------------------------------------

const LOAD: &str = "3s";

/// A playground with the real CRDs and a client on it.
struct Gate {
    pg: Playground,
    client: kube::Client,
}

impl Gate {
    async fn start() -> Self {
        let pg = Playground::start_with(common::Options { real_crds: true, ..common::Options::default() });
        // No automatic retries: a 503 is the model server's "not yet", to be seen at once.
        let kubeconfig = kube::config::Kubeconfig::read_from(pg.kubeconfig()).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
        config.default_retry = false;
        let client = kube::Client::try_from(config).unwrap();
        Self { pg, client }
    }

    /// Model `name`: 2 pods of `registry.example/NAME:v1` loading for [`LOAD`] behind Service `name`.
    fn model(&self, name: &str, replicas: i32) {
        apply(&self.pg, &deployment(name, replicas, &format!("registry.example/{name}:v1"), LOAD));
        apply(
            &self.pg,
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
                    "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
        );
        self.pg.kubectl(&["rollout", "status", &format!("deployment/{name}"), "--timeout=60s"]).success();
    }

    /// Whether pod `pod`'s model `model` answers ready (asked as the plugin does, through the proxy).
    async fn model_ready(&self, pod: &str, model: &str) -> bool {
        let request = http::Request::get(proxy(pod, "8080", &format!("/v2/models/{model}/ready")))
            .body(kube::client::Body::empty())
            .unwrap();
        self.client.send(request).await.is_ok_and(|r| r.status() == 200)
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"))
            .arg("--kubeconfig")
            .arg(self.pg.kubeconfig())
            .args(args)
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl-modelroll starts")
    }

    fn object(&self, resource: &common::resources::ResourceRef, name: &str) -> Value {
        self.pg.store().get(resource, NS, name).unwrap_or(Value::Null)
    }

    /// Ready pods (not terminating) running `image`.
    fn ready_pods_of(&self, image: &str) -> Vec<String> {
        let pods = self.pg.store().list(&common::resources::PODS, NS).expect("pods list");
        pods.items
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter(|p| p["spec"]["containers"][0]["image"] == image)
            .filter(|p| modelroll::playground::model_server::pod_is_ready(p))
            .map(|p| p["metadata"]["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Run `args` to its end while watching the route: whenever the canary has weight, every
    /// Ready pod of `image` has its model ready. Also asserts the wait was seen: a Ready pod of
    /// `image` whose model was loading, while the weight was 0.
    async fn run_watching_the_weight(
        &self,
        args: &[&str],
        image: &str,
        model: &str,
        weight: impl Fn(&Gate) -> u64,
    ) -> common::Output {
        let mut child = self.spawn(args);
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut held = false;
        loop {
            let exited = child.try_wait().unwrap().is_some();
            // The weight first, the models after: a model ready now was ready then too.
            let w = weight(self);
            let pods = self.ready_pods_of(image);
            let mut all_ready = !pods.is_empty();
            for pod in &pods {
                if !self.model_ready(pod, model).await {
                    all_ready = false;
                }
            }
            if w > 0 {
                assert!(all_ready, "the canary had weight {w} while a model of {pods:?} was not ready");
            } else if !pods.is_empty() && !all_ready {
                held = true;
            }
            if exited {
                break;
            }
            assert!(Instant::now() < deadline, "{args:?} did not finish in 90s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let out = child.wait_with_output().unwrap();
        let out = common::Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(held, "never saw a Ready canary pod with its model loading at weight 0:\n{}", out.stderr);
        out
    }
}

fn vs_canary_weight(gate: &Gate, name: &str) -> u64 {
    let vs = gate
        .object(&common::resources::ResourceRef::of("networking.istio.io", "v1", "virtualservices"), name);
    vs["spec"]["http"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|h| h["route"].as_array().cloned().unwrap_or_default())
        .filter(|d| d["destination"]["subset"] == "canary")
        .filter_map(|d| d["weight"].as_u64())
        .sum()
}

/// (first, last) warm-up latencies in ms printed for some pod.
fn warmup_ms(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("warm-up "))
        .unwrap_or_else(|| panic!("no warm-up line:\n{stderr}"));
    let number = |key: &str| -> u64 {
        let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
        rest.trim_end_matches(|c: char| !c.is_ascii_digit()).split("ms").next().unwrap().parse().unwrap()
    };
    (number("first "), number("last "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_v2_canary_gets_weight_only_once_its_model_is_ready_and_promote_waits_for_the_models() {
    let gate = Gate::start().await;
    gate.model("fraud", 2);
    apply(
        &gate.pg,
        &json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "fraud", "namespace": NS},
                "spec": {"hosts": ["fraud.example.com"], "http": [{"name": "model", "route": [{"destination": {"host": "fraud", "port": {"number": 80}}}]}]}}),
    );
    let v2 = "registry.example/fraud:v2";
    let out = gate
        .run_watching_the_weight(
            &[
                "canary",
                "fraud",
                "--image",
                v2,
                "--weight",
                "25",
                "--yes",
                "--model-ready",
                "v2",
                "--warmup",
                "3",
                "--timeout",
                "60s",
            ],
            v2,
            "fraud",
            |g| vs_canary_weight(g, "fraud"),
        )
        .await;
    out.success();
    assert_eq!(vs_canary_weight(&gate, "fraud"), 25);
    assert!(out.stderr.contains("pod ready, model loading"), "{}", out.stderr);
    assert!(out.stderr.contains("the model is ready on 1 pod"), "{}", out.stderr);
    // The cold start: 200ms for the first inference, 65ms for the third, through the proxy.
    assert!(out.stderr.contains("warm-up 3 requests"), "{}", out.stderr);
    let (first, last) = warmup_ms(&out.stderr);
    assert!(first >= 200 && last >= 65 && first > last, "first {first}ms, last {last}ms:\n{}", out.stderr);

    // shift asks again (the models are ready: no wait), then promote: the stable pods of the new
    // version load for 3s, and the traffic comes back to them only once they have.
    gate.pg
        .modelroll(&["shift", "fraud", "--weight", "50", "--model-ready", "v2", "--timeout", "60s"])
        .success();
    assert_eq!(vs_canary_weight(&gate, "fraud"), 50);
    let out = gate.pg.modelroll(&["promote", "fraud", "--model-ready", "v2", "--timeout", "60s"]);
    out.success();
    let stable = gate.ready_pods_of(v2);
    assert_eq!(stable.len(), 2, "{stable:?}");
    for pod in &stable {
        assert!(gate.model_ready(pod, "fraud").await, "promote returned before the model of {pod} was ready");
    }
    assert!(out.stderr.contains("stable deployment/fraud: the model is ready on 2 pods"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_openai_canary_gets_weight_only_once_its_model_is_ready() {
    let gate = Gate::start().await;
    gate.model("chat", 2);
    apply(
        &gate.pg,
        &json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "chat", "namespace": NS},
                "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{"backendRefs": [{"name": "chat", "port": 80}]}]}}),
    );
    let v2 = "registry.example/chat:v2";
    let route = common::resources::ResourceRef::of("gateway.networking.k8s.io", "v1", "httproutes");
    let canary_weight = |g: &Gate| -> u64 {
        let r = g.object(&route, "chat");
        r["spec"]["rules"][0]["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["name"] == "chat-canary")
            .filter_map(|b| b["weight"].as_u64())
            .sum()
    };
    let out = gate
        .run_watching_the_weight(
            &[
                "canary",
                "chat",
                "--image",
                v2,
                "--weight",
                "30",
                "--yes",
                "--model-ready",
                "openai",
                "--timeout",
                "60s",
            ],
            v2,
            "chat",
            canary_weight,
        )
        .await;
    out.success();
    assert_eq!(canary_weight(&gate), 30);
    assert!(
        out.stderr.contains("GET /v1/models answered 503: Loading model")
            || out.stderr.contains("model loading"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knative_http_path_canary_gets_weight_only_once_its_model_is_ready() {
    let gate = Gate::start().await;
    apply(
        &gate.pg,
        &json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "vision", "namespace": NS},
                "spec": {"template": {"metadata": {"annotations": {"playground.modelroll.io/model-load": LOAD}},
                                      "spec": {"containers": [{"image": "registry.example/vision:v1", "ports": [{"containerPort": 8080}]}]}}}}),
    );
    let ksvc = common::resources::ResourceRef::of("serving.knative.dev", "v1", "services");
    common::wait_for(Duration::from_secs(30), "the first revision", || {
        gate.object(&ksvc, "vision").pointer("/status/latestReadyRevisionName").is_some()
    });
    let v2 = "registry.example/vision:v2";
    let canary_percent = |g: &Gate| -> u64 {
        g.object(&ksvc, "vision")["spec"]["traffic"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["tag"] == "canary")
            .filter_map(|t| t["percent"].as_u64())
            .sum()
    };
    // http:PATH on a path that is 200 only once the model is loaded (/health would pass at once).
    let out = gate
        .run_watching_the_weight(
            &[
                "canary",
                "ksvc/vision",
                "--image",
                v2,
                "--weight",
                "20",
                "--model-ready",
                "http:/v2/health/ready",
                "--timeout",
                "60s",
            ],
            v2,
            "vision",
            canary_percent,
        )
        .await;
    out.success();
    assert_eq!(canary_percent(&gate), 20);
    assert!(out.stderr.contains("GET /v2/health/ready answered 503"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_canary_records_no_weight_before_its_model_is_ready_and_reports_the_traffic_it_already_gets()
{
    let gate = Gate::start().await;
    gate.model("rank", 4);
    let v2 = "registry.example/rank:v2";
    let deployments = common::resources::ResourceRef::of("apps", "v1", "deployments");
    // The replicas router's weight is the pod ratio; the weight it has given is in the state.
    let recorded = |g: &Gate| -> u64 {
        g.object(&deployments, "rank")
            .pointer("/metadata/annotations/modelroll.io~1rollout")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .and_then(|s| s["weight"].as_u64())
            .unwrap_or(0)
    };
    let out = gate
        .run_watching_the_weight(
            &[
                "canary",
                "rank",
                "--image",
                v2,
                "--weight",
                "25",
                "--router",
                "replicas",
                "--model-ready",
                "v2",
                "--timeout",
                "60s",
            ],
            v2,
            "rank",
            recorded,
        )
        .await;
    out.success();
    assert_eq!(recorded(&gate), 25);
    let canary = gate.ready_pods_of(v2);
    assert_eq!(canary.len(), 1);
    assert!(
        out.stderr.contains(&format!(
            "warning: pod {} is Ready but its model is still loading, and the Service already sends it traffic",
            canary[0]
        )) && out.stderr.contains("a readinessProbe on GET /v2/models/rank/ready port 8080"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_is_done_only_once_every_new_model_is_ready() {
    let gate = Gate::start().await;
    gate.model("fraud", 2);
    let v2 = "registry.example/fraud:v2";
    let out = gate.pg.modelroll(&["set-image", "fraud", v2, "--model-ready", "openai", "--timeout", "60s"]);
    out.success();
    // Right after it returns, every new pod's model answers: it did not return before (each
    // model loads for 3s after its pod is Ready).
    let pods = gate.ready_pods_of(v2);
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        let request =
            http::Request::get(proxy(pod, "8080", "/v1/models")).body(kube::client::Body::empty()).unwrap();
        let response = gate.client.send(request).await.unwrap();
        assert_eq!(response.status(), 200, "set-image returned before the model of {pod} was ready");
    }
    assert!(out.stdout.contains("deployment/fraud rolled out"), "{}", out.stdout);
    assert!(
        out.stderr.contains("pod ready, model loading")
            && out.stderr.contains("the model is ready on 2 pods"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_never_loads_fails_with_the_reason_and_rolls_back() {
    let gate = Gate::start().await;
    gate.model("fraud", 1);
    let broken = "registry.example/fraud:v2-noload";
    let out = gate.pg.modelroll(&[
        "set-image",
        "fraud",
        broken,
        "--model-ready",
        "v2",
        "--model-ready-timeout",
        "2s",
        "--rollback-on-failure",
        "--timeout",
        "60s",
    ]);
    out.code(1);
    for text in [
        "deployment/fraud is not model-ready: pod fraud-",
        "its model is not ready after 2s (--model-ready-timeout); last answer: GET /v2/models/fraud/ready answered 503: Model with name fraud is not ready.",
        "rolled back to revision 1",
    ] {
        assert!(out.stderr.contains(text), "{text:?} missing from:\n{}", out.stderr);
    }
    let d = gate.object(&common::resources::ResourceRef::of("apps", "v1", "deployments"), "fraud");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/fraud:v1");

    // A canary that never loads gets no weight.
    apply(
        &gate.pg,
        &json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "fraud", "namespace": NS},
                "spec": {"hosts": ["fraud.example.com"], "http": [{"name": "model", "route": [{"destination": {"host": "fraud", "port": {"number": 80}}}]}]}}),
    );
    let out = gate.pg.modelroll(&[
        "canary",
        "fraud",
        "--image",
        broken,
        "--weight",
        "30",
        "--yes",
        "--model-ready",
        "v2",
        "--model-ready-timeout",
        "2s",
        "--timeout",
        "60s",
    ]);
    out.code(1);
    assert!(
        out.stderr.contains("canary deployment/fraud-canary is not model-ready: pod fraud-canary-"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("the canary has no traffic"), "{}", out.stderr);
    assert_eq!(vs_canary_weight(&gate, "fraud"), 0);
}

#[test]
fn model_readiness_flags_are_checked_before_anything_changes() {
    for (args, says) in [
        (
            vec!["canary", "m", "--image", "x:v2", "--model-ready", "grpc"],
            "is not a protocol: use v2, openai or http:PATH",
        ),
        (
            vec!["set-image", "m", "x:v2", "--model-ready", "http:/h", "--warmup", "2"],
            "has no inference path",
        ),
        (vec!["promote", "m", "--model-name", "x"], "--model-ready"),
        (
            vec!["shift", "m", "--weight", "5", "--model-ready", "v2", "--model-name", "a/b"],
            "invalid --model-name",
        ),
    ] {
        let out = common::run_binary(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(says), "{args:?}: {says:?} missing from {}", out.stderr);
    }
}

#[test]
fn a_user_without_pods_proxy_is_refused_in_one_sentence_and_the_opt_in_role_admits_them() {
    let user = modelroll::playground::rbac::StaticUser::new("alice", &[]);
    let pg =
        Playground::start_with(common::Options { users: vec![user.clone()], ..common::Options::default() });
    let rbac = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac.yaml");
    pg.kubectl(&["apply", "-n", NS, "-f", rbac.to_str().unwrap()]).success();
    pg.kubectl(&["create", "rolebinding", "modelroll-alice", "-n", NS, "--role=modelroll", "--user=alice"])
        .success();
    let alice = pg.user_kubeconfig(&user, NS);
    apply(&pg, &deployment("fraud", 2, "registry.example/fraud:v1", "1s"));
    apply(
        &pg,
        &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fraud", "namespace": NS},
                "spec": {"selector": {"app": "fraud"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
    );
    pg.kubectl(&["rollout", "status", "deployment/fraud", "--timeout=60s"]).success();
    let canary = [
        "canary",
        "fraud",
        "--image",
        "registry.example/fraud:v2",
        "--weight",
        "50",
        "--router",
        "replicas",
        "--model-ready",
        "v2",
        "--timeout",
        "60s",
    ];
    let out = pg.modelroll_with(&alice, &canary);
    out.code(1);
    assert!(
        out.stderr.contains(r#"--model-ready asks each new pod's model server through the API server's pod proxy, which needs "get" on "pods/proxy" in namespace default (the API server said: pods "fraud-canary-"#)
            && out.stderr.contains(r#"is forbidden: User "alice" cannot get resource "pods/proxy" in API group "" in the namespace "default")"#)
            && out.stderr.contains("add the opt-in pods/proxy rule of deploy/rbac.yaml"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "{}", out.stderr);
    // The opt-in Role of deploy/rbac.yaml is enough, warm-up (POST) included.
    pg.kubectl(&[
        "create",
        "rolebinding",
        "modelroll-model-ready-alice",
        "-n",
        NS,
        "--role=modelroll-model-ready",
        "--user=alice",
    ])
    .success();
    let mut with_warmup = canary.to_vec();
    with_warmup.extend(["--warmup", "1"]);
    let out = pg.modelroll_with(&alice, &with_warmup);
    out.success();
    assert!(out.stderr.contains("warm-up 1 request, first"), "{}", out.stderr);
}
