//! Integration tests: the canary lifecycle (canary, shift, promote, abort, list) on the four
//! routers, against a playground with the real CRDs, driving the real binary and asserting on
//! cluster state: weights, which pods each track selects, routes restored, nothing left behind.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde_json::{json, Value};

use crate::common;

pub(crate) const NS: &str = "default";
pub(crate) const TRACK: &str = "modelroll.io/track";

/// A playground with the real CRDs, a client on it, and the binary pointed at it.
pub(crate) struct Env {
    pub(crate) pg: common::Playground,
    pub(crate) client: kube::Client,
}

impl Env {
    pub(crate) async fn start(ready_after: Duration) -> Self {
        Self::start_with(common::Options { ready_after, ..common::Options::default() }).await
    }

    pub(crate) async fn start_with(options: common::Options) -> Self {
        let pg = common::Playground::start_with(common::Options { real_crds: true, ..options });
        let client = pg.client().await;
        Self { pg, client }
    }

    pub(crate) fn run(&self, args: &[&str]) -> common::Output {
        self.pg.modelroll(args)
    }

    pub(crate) fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.code, 0, "{args:?} failed:\nstdout: {}\nstderr: {}", out.stdout, out.stderr);
        out.stdout
    }

    /// Start the binary without waiting for it (to interrupt it).
    pub(crate) fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"))
            .arg("--kubeconfig")
            .arg(self.pg.kubeconfig())
            .args(args)
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl-modelroll starts")
    }

    fn ar(api_version: &str, kind: &str) -> ApiResource {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let plural = match kind {
            "VirtualService" => "virtualservices",
            "DestinationRule" => "destinationrules",
            "HTTPRoute" => "httproutes",
            "Deployment" => "deployments",
            "Service" if group.is_empty() => "services",
            "Service" => "services",
            "Revision" => "revisions",
            "EndpointSlice" => "endpointslices",
            other => panic!("no plural for {other}"),
        };
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        }
    }

    pub(crate) fn api(&self, api_version: &str, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), NS, &Self::ar(api_version, kind))
    }

    pub(crate) async fn create(&self, object: Value) {
        let api = self.api(object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap());
        let dynamic: DynamicObject = serde_json::from_value(object.clone()).unwrap();
        api.create(&PostParams::default(), &dynamic).await.unwrap_or_else(|e| panic!("create {object}: {e}"));
    }

    pub(crate) async fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.api(api_version, kind).get_opt(name).await.unwrap().map(|o| serde_json::to_value(o).unwrap())
    }

    pub(crate) async fn deployment(&self, name: &str) -> Option<Value> {
        self.get("apps/v1", "Deployment", name).await
    }

    /// Wait (watching, with a deadline) until Deployment `name` is rolled out and ready.
    pub(crate) async fn wait_rolled_out(&self, name: &str) {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), NS);
        let cond = |d: Option<&Deployment>| {
            d.is_some_and(|d| {
                let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let s = d.status.clone().unwrap_or_default();
                s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
                    && s.updated_replicas.unwrap_or(0) == want
                    && s.ready_replicas.unwrap_or(0) == want
                    && s.replicas.unwrap_or(0) == want
            })
        };
        tokio::time::timeout(Duration::from_secs(60), kube::runtime::wait::await_condition(api, name, cond))
            .await
            .unwrap_or_else(|_| panic!("deployment {name} did not roll out in 60s"))
            .unwrap();
    }

    pub(crate) async fn pods(&self, selector: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        api.list(&ListParams::default().labels(selector))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    /// Names of the live pods whose containers run `image`.
    pub(crate) async fn pods_running(&self, selector: &str, image: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .pods(selector)
            .await
            .into_iter()
            .filter(|p| {
                p.spec
                    .as_ref()
                    .is_some_and(|s| s.containers.iter().any(|c| c.image.as_deref() == Some(image)))
            })
            .filter_map(|p| p.metadata.name)
            .collect();
        names.sort();
        names
    }

    pub(crate) async fn pod_names(&self, selector: &str) -> Vec<String> {
        let mut names: Vec<String> =
            self.pods(selector).await.into_iter().filter_map(|p| p.metadata.name).collect();
        names.sort();
        names
    }

    pub(crate) async fn annotation(&self, name: &str) -> Option<String> {
        self.deployment(name).await.and_then(|d| {
            d.pointer("/metadata/annotations/modelroll.io~1rollout")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    }
}

pub(crate) fn deployment(name: &str, replicas: i32, image: &str, tracked: bool) -> Value {
    let mut labels = json!({"app": name});
    if tracked {
        labels[TRACK] = json!("stable");
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "model", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}]}
            }
        }
    })
}

pub(crate) fn service(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}
    })
}

pub(crate) fn virtual_service(name: &str, host: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "hosts": [format!("{name}.example.com")],
            "http": [
                {"name": "admin", "match": [{"uri": {"prefix": "/admin"}}], "route": [{"destination": {"host": "admin"}}]},
                {"name": "model", "route": [{"destination": {"host": host, "port": {"number": 80}}}]}
            ]
        }
    })
}

pub(crate) fn http_route(name: &str, backend: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}], "backendRefs": [{"name": "admin", "port": 80}]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": backend, "port": 80}]}
            ]
        }
    })
}

/// (subset, weight) of the VirtualService's model route.
pub(crate) fn vs_weights(vs: &Value) -> Vec<(String, u64)> {
    vs["spec"]["http"][1]["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (d["destination"]["subset"].as_str().unwrap_or("").to_string(), d["weight"].as_u64().unwrap_or(0))
        })
        .collect()
}

pub(crate) fn canary_weight_in_vs(vs: &Value) -> u64 {
    vs_weights(vs).iter().filter(|(s, _)| s == "canary").map(|(_, w)| *w).sum()
}

/// (backend, weight) of the HTTPRoute's model rule.
pub(crate) fn route_weights(route: &Value) -> Vec<(String, u64)> {
    route["spec"]["rules"][1]["backendRefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_string(), b["weight"].as_u64().unwrap_or(1)))
        .collect()
}

pub(crate) fn total(weights: &[(String, u64)]) -> u64 {
    weights.iter().map(|(_, w)| w).sum()
}

/// Set up model `name` with `replicas` pods of `image` behind Service `name`.
pub(crate) async fn model(env: &Env, name: &str, replicas: i32, image: &str, tracked: bool) {
    env.create(deployment(name, replicas, image, tracked)).await;
    env.create(service(name)).await;
    env.wait_rolled_out(name).await;
}

/// Pods picked by subset `track` of the istio router: the model Service's selector plus the
/// subset's labels, as Istio resolves them.
async fn subset_pods(env: &Env, dr: &Value, service: &str, subset: &str) -> Vec<String> {
    let svc = env.get("v1", "Service", service).await.unwrap();
    let mut selector: BTreeMap<String, String> =
        serde_json::from_value(svc["spec"]["selector"].clone()).unwrap();
    let subset = dr["spec"]["subsets"].as_array().unwrap().iter().find(|s| s["name"] == subset).unwrap();
    let labels: BTreeMap<String, String> = serde_json::from_value(subset["labels"].clone()).unwrap();
    selector.extend(labels);
    let text = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    env.pod_names(&text).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_canary_shift_promote_restores_the_routes() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m1", 2, "registry.example/m1:v1", false).await;
    env.create(virtual_service("m1", "m1")).await;
    let before = env.get("networking.istio.io/v1", "VirtualService", "m1").await.unwrap();

    // Without a terminal, adding the track label needs --yes; nothing changes without it.
    let out = env.run(&["canary", "m1", "--image", "registry.example/m1:v2"]);
    out.code(1);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert!(env.annotation("m1").await.is_none());
    assert!(env.deployment("m1-canary").await.is_none());

    let stdout =
        env.run_ok(&["canary", "m1", "--image", "registry.example/m1:v2", "--yes", "--timeout", "60s"]);
    assert!(stdout.contains("istio"), "{stdout}");
    let vs = env.get("networking.istio.io/v1", "VirtualService", "m1").await.unwrap();
    assert_eq!(vs_weights(&vs), vec![("stable".into(), 100), ("canary".into(), 0)]);
    assert_eq!(vs["spec"]["http"][0], before["spec"]["http"][0], "other routes untouched");
    let dr = env.get("networking.istio.io/v1", "DestinationRule", "m1").await.unwrap();
    let stable_pods = env.pods_running("app=m1", "registry.example/m1:v1").await;
    let canary_pods = env.pods_running("app=m1", "registry.example/m1:v2").await;
    assert_eq!(stable_pods.len(), 2);
    assert_eq!(canary_pods.len(), 1);
    assert_eq!(subset_pods(&env, &dr, "m1", "stable").await, stable_pods);
    assert_eq!(subset_pods(&env, &dr, "m1", "canary").await, canary_pods);

    // Same command again: a no-op that says so.
    let again = env.run_ok(&["canary", "m1", "--image", "registry.example/m1:v2"]);
    assert!(again.contains("nothing to do"), "{again}");

    env.run_ok(&["shift", "m1", "--steps", "25,50", "--interval", "1s", "--timeout", "60s"]);
    let vs = env.get("networking.istio.io/v1", "VirtualService", "m1").await.unwrap();
    assert_eq!(vs_weights(&vs), vec![("stable".into(), 50), ("canary".into(), 50)]);
    assert_eq!(total(&vs_weights(&vs)), 100);
    let canary = env.deployment("m1-canary").await.unwrap();
    assert_eq!(canary["spec"]["replicas"], 1, "50% of 2 needs one canary pod");
    let status = env.run_ok(&["status", "m1"]);
    for text in ["Canary", "TRACK", "canary", "stable", "virtualservice/m1, destinationrule/m1", "50%"] {
        assert!(status.contains(text), "{text:?} missing from:\n{status}");
    }
    let requests = || env.pg.requests().values().sum::<u64>();
    let requests_before = requests();
    let json: Value = serde_json::from_str(&env.run_ok(&["status", "m1", "-o", "json"])).unwrap();
    let made = requests() - requests_before;
    // The target, its ReplicaSets (the canary's among them, every pod ready: no pods read), and
    // the live VirtualService (for the live weight).
    assert!(made <= 3, "status made {made} API requests while a mesh canary runs");
    assert_eq!(json["phase"], "Canary");
    assert_eq!(json["canary"]["weight"], 50);
    assert_eq!(json["revisions"][0]["track"], "canary");
    assert_eq!(json["revisions"][0]["name"], "m1-canary");
    assert_eq!(json["revisions"][0]["images"][0]["image"], "registry.example/m1:v2");
    assert_eq!(
        (json["revisions"][0]["replicas"].as_i64(), json["revisions"][0]["ready"].as_i64()),
        (Some(1), Some(1))
    );

    let undo = env.run(&["undo", "m1"]);
    assert_eq!(undo.code, 2, "undo during a canary: {}", undo.stderr);
    assert!(undo.stderr.contains("a canary of deployment/m1 is in progress"), "{}", undo.stderr);

    env.run_ok(&["promote", "m1", "--timeout", "60s"]);
    let after = env.get("networking.istio.io/v1", "VirtualService", "m1").await.unwrap();
    assert_eq!(after["spec"], before["spec"], "routes as before the canary");
    assert!(env.get("networking.istio.io/v1", "DestinationRule", "m1").await.is_none());
    assert!(env.deployment("m1-canary").await.is_none());
    assert!(env.annotation("m1").await.is_none());
    let stable = env.deployment("m1").await.unwrap();
    assert_eq!(stable["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/m1:v2");
    assert_eq!(stable["spec"]["template"]["metadata"]["labels"][TRACK], "stable");
    assert_eq!(stable["spec"]["replicas"], 2);
    env.wait_rolled_out("m1").await;
    assert_eq!(env.pods_running("app=m1", "registry.example/m1:v2").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_abort_sends_traffic_back_and_removes_the_canary() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m2", 2, "registry.example/m2:v1", true).await;
    env.create(virtual_service("m2", "m2.default.svc.cluster.local")).await;
    // An existing DestinationRule for the host keeps its policy and subsets.
    env.create(json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "m2-policy", "namespace": NS},
        "spec": {
            "host": "m2",
            "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}},
            "subsets": [{"name": "legacy", "labels": {"version": "legacy"}}]
        }
    }))
    .await;
    let dr_before = env.get("networking.istio.io/v1", "DestinationRule", "m2-policy").await.unwrap();
    let before = env.get("networking.istio.io/v1", "VirtualService", "m2").await.unwrap();
    env.run_ok(&["canary", "m2", "--image", "registry.example/m2:v2", "--weight", "10", "--timeout", "60s"]);
    let vs = env.get("networking.istio.io/v1", "VirtualService", "m2").await.unwrap();
    assert_eq!(vs_weights(&vs), vec![("stable".into(), 90), ("canary".into(), 10)]);
    let dr = env.get("networking.istio.io/v1", "DestinationRule", "m2-policy").await.unwrap();
    assert_eq!(dr["spec"]["trafficPolicy"], dr_before["spec"]["trafficPolicy"]);
    let subsets: Vec<&str> =
        dr["spec"]["subsets"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(subsets, vec!["legacy", "stable", "canary"]);
    assert!(env.get("networking.istio.io/v1", "DestinationRule", "m2").await.is_none());

    // A second canary with another image is refused, nothing changed.
    let out = env.run(&["canary", "m2", "--image", "registry.example/m2:v3"]);
    out.code(2);
    assert!(out.stderr.contains("abort"), "{}", out.stderr);
    assert_eq!(
        env.deployment("m2-canary").await.unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/m2:v2"
    );

    // Dry runs of shift, promote and abort print what they would write and change nothing.
    let vs_before = env.get("networking.istio.io/v1", "VirtualService", "m2").await.unwrap();
    let out = env.run_ok(&["shift", "m2", "--weight", "60", "--dry-run=server", "-o", "json"]);
    assert!(out.contains("\"weight\": 40") && out.contains("\"weight\": 60"), "{out}");
    let out = env.run_ok(&["abort", "m2", "--dry-run=client", "-o", "yaml"]);
    assert!(out.contains("kind: VirtualService") && !out.contains("subset: canary"), "{out}");
    let out = env.run_ok(&["promote", "m2", "--dry-run=client"]);
    assert!(out.contains("deployment.apps/m2 configured (dry run)"), "{out}");
    let vs_after = env.get("networking.istio.io/v1", "VirtualService", "m2").await.unwrap();
    assert_eq!(vs_after["metadata"]["resourceVersion"], vs_before["metadata"]["resourceVersion"]);
    assert!(env.deployment("m2-canary").await.is_some());
    assert!(env.annotation("m2").await.unwrap().contains("\"weight\":10"));

    env.run_ok(&["abort", "m2", "--timeout", "60s"]);
    let after = env.get("networking.istio.io/v1", "VirtualService", "m2").await.unwrap();
    assert_eq!(after["spec"], before["spec"]);
    assert!(env.get("networking.istio.io/v1", "DestinationRule", "m2").await.is_none());
    let dr = env.get("networking.istio.io/v1", "DestinationRule", "m2-policy").await.unwrap();
    assert_eq!(dr["spec"], dr_before["spec"], "the DestinationRule as before the canary");
    assert!(env.deployment("m2-canary").await.is_none());
    assert!(env.annotation("m2").await.is_none());
    assert!(env.pods_running("app=m2", "registry.example/m2:v2").await.is_empty());
    assert_eq!(
        env.deployment("m2").await.unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/m2:v1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_canary_shift_promote_then_abort() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m3", 2, "registry.example/m3:v1", true).await;
    // The route is synced by Argo CD: the canary warns that a sync would undo its weights.
    let mut route = http_route("m3", "m3");
    route["metadata"]["annotations"] =
        json!({"argocd.argoproj.io/tracking-id": "models:gateway.networking.k8s.io/HTTPRoute:default/m3"});
    env.create(route).await;
    let before = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "m3").await.unwrap();

    let out =
        env.run(&["canary", "m3", "--image", "registry.example/m3:v2", "--weight", "20", "--timeout", "60s"]);
    out.success();
    assert!(out.stderr.contains("httproute m3 is managed by Argo CD"), "{}", out.stderr);
    let route = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "m3").await.unwrap();
    assert_eq!(route_weights(&route), vec![("m3-stable".into(), 80), ("m3-canary".into(), 20)]);
    assert_eq!(route["spec"]["rules"][0], before["spec"]["rules"][0]);
    for (track, image) in [("stable", "registry.example/m3:v1"), ("canary", "registry.example/m3:v2")] {
        let svc = env.get("v1", "Service", &format!("m3-{track}")).await.unwrap();
        let selector: BTreeMap<String, String> =
            serde_json::from_value(svc["spec"]["selector"].clone()).unwrap();
        let text = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        assert_eq!(env.pod_names(&text).await, env.pods_running("app=m3", image).await, "{track}");
        assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    }
    env.run_ok(&["shift", "m3", "--steps", "50,100", "--interval", "500ms", "--timeout", "60s"]);
    let route = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "m3").await.unwrap();
    assert_eq!(route_weights(&route), vec![("m3-stable".into(), 0), ("m3-canary".into(), 100)]);
    assert_eq!(
        env.deployment("m3-canary").await.unwrap()["spec"]["replicas"],
        2,
        "100% needs stable's capacity"
    );
    env.run_ok(&["promote", "deploy/m3", "--timeout", "60s"]);
    let after = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "m3").await.unwrap();
    assert_eq!(after["spec"], before["spec"]);
    for name in ["m3-stable", "m3-canary"] {
        assert!(env.get("v1", "Service", name).await.is_none(), "{name} left behind");
    }
    assert!(env.deployment("m3-canary").await.is_none());

    env.run_ok(&["canary", "m3", "--image", "registry.example/m3:v3", "--weight", "30", "--timeout", "60s"]);
    env.run_ok(&["abort", "m3", "--timeout", "60s"]);
    let after = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "m3").await.unwrap();
    assert_eq!(after["spec"], before["spec"]);
    assert!(env.get("v1", "Service", "m3-canary").await.is_none());
    assert!(env.deployment("m3-canary").await.is_none());
    assert!(env.annotation("m3").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_router_at_weight_zero_says_the_canary_has_no_pods_yet() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m12", 2, "registry.example/m12:v1", false).await;
    let out = env.run_ok(&[
        "canary",
        "m12",
        "--image",
        "registry.example/m12:v2-crashloop",
        "--router",
        "replicas",
    ]);
    assert!(out.contains("created with 0 replicas") && !out.contains("is ready"), "{out}");
    assert_eq!(env.deployment("m12-canary").await.unwrap()["spec"]["replicas"], 0);
    // Its first weight brings a pod up, which never gets ready: no weight, exit 1.
    let shift = env.run(&["shift", "m12", "--weight", "20", "--timeout", "60s"]);
    assert_eq!(shift.code, 1, "{}", shift.stderr);
    assert!(shift.stderr.contains("CrashLoopBackOff"), "{}", shift.stderr);
    let state: Value = serde_json::from_str(&env.annotation("m12").await.unwrap()).unwrap();
    assert_eq!(state["weight"], 0);
    assert_eq!(env.deployment("m12").await.unwrap()["spec"]["replicas"], 2, "stable kept its size");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_router_shifts_by_pod_ratio_without_losing_capacity() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m4", 4, "registry.example/m4:v1", false).await;
    env.run_ok(&["canary", "m4", "--image", "registry.example/m4:v2", "--weight", "25", "--timeout", "60s"]);
    assert_eq!(env.deployment("m4").await.unwrap()["spec"]["replicas"], 3);
    assert_eq!(env.deployment("m4-canary").await.unwrap()["spec"]["replicas"], 1);
    let state: Value = serde_json::from_str(&env.annotation("m4").await.unwrap()).unwrap();
    assert_eq!(state["router"], "replicas");
    assert_eq!(state["weight"], 25);

    // Watch ready pods of both tracks while shifting: never fewer than the 4 stable had.
    let api: Api<Pod> = Api::namespaced(env.client.clone(), NS);
    let lowest_seen = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(i32::MAX));
    let lowest_shared = lowest_seen.clone();
    let watch = tokio::spawn(async move {
        let mut ready: BTreeMap<String, bool> = BTreeMap::new();
        let mut lowest = i32::MAX;
        let mut stream =
            watcher::watcher(api, watcher::Config::default().labels("app=m4")).default_backoff().boxed();
        let mut listed = false;
        while let Some(Ok(event)) = stream.next().await {
            match event {
                Event::Apply(p) | Event::InitApply(p) => {
                    let is_ready = p.metadata.deletion_timestamp.is_none() && common::pod_ready(&p);
                    ready.insert(p.metadata.name.unwrap(), is_ready);
                }
                Event::Delete(p) => {
                    ready.remove(&p.metadata.name.unwrap());
                }
                Event::InitDone => listed = true,
                Event::Init => {}
            }
            if listed {
                lowest = lowest.min(ready.values().filter(|r| **r).count() as i32);
                lowest_shared.store(lowest, std::sync::atomic::Ordering::SeqCst);
            }
            if lowest == -1 {
                break;
            }
        }
        lowest
    });
    env.run_ok(&["shift", "m4", "--steps", "50,75", "--interval", "500ms", "--timeout", "60s"]);
    assert_eq!(env.deployment("m4").await.unwrap()["spec"]["replicas"], 1);
    assert_eq!(env.deployment("m4-canary").await.unwrap()["spec"]["replicas"], 3);
    env.wait_rolled_out("m4").await;
    let status = env.run_ok(&["status", "m4"]);
    assert!(status.contains("75% requested, 75% effective"), "{status}");
    let out = env.run_ok(&["list"]);
    assert!(out.contains("m4") && out.contains("replicas") && out.contains("Canary (75%)"), "{out}");
    let all = env.run_ok(&["list", "-A"]);
    assert!(all.starts_with("NAMESPACE") && all.contains("default"), "{all}");
    let json: Value = serde_json::from_str(&env.run_ok(&["list", "-o", "json"])).unwrap();
    assert_eq!((&json["apiVersion"], &json["kind"]), (&json!("v1"), &json!("List")));
    assert_eq!(json["items"][0]["name"], "deployment/m4");
    assert_eq!(json["items"][0]["weight"], 75);
    env.run_ok(&["promote", "m4", "--timeout", "60s"]);
    watch.abort();
    let lowest = lowest_seen.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (4..i32::MAX).contains(&lowest),
        "ready pods fell to {lowest} (of 4) while shifting and promoting"
    );
    assert!(env.deployment("m4-canary").await.is_none());
    assert_eq!(env.deployment("m4").await.unwrap()["spec"]["replicas"], 4);
    assert!(env.annotation("m4").await.is_none());

    // Abort puts stable's replicas back.
    env.run_ok(&["canary", "m4", "--image", "registry.example/m4:v3", "--weight", "50", "--timeout", "60s"]);
    assert_eq!(env.deployment("m4").await.unwrap()["spec"]["replicas"], 2);
    env.run_ok(&["abort", "m4", "--timeout", "60s"]);
    assert_eq!(env.deployment("m4").await.unwrap()["spec"]["replicas"], 4);
    assert!(env.deployment("m4-canary").await.is_none());
    assert_eq!(
        env.deployment("m4").await.unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/m4:v2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_changes_nothing() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m5", 1, "registry.example/m5:v1", true).await;
    for weight in ["-1", "101", "abc"] {
        let out = env.run(&["canary", "m5", "--image", "registry.example/m5:v2", "--weight", weight]);
        assert_eq!(out.code, 2, "weight {weight}: {}", out.stderr);
        let out = env.run(&["shift", "m5", "--weight", weight]);
        assert_eq!(out.code, 2, "shift weight {weight}: {}", out.stderr);
    }
    for steps in ["50,25", "10,10", "10,abc"] {
        let out = env.run(&["shift", "m5", "--steps", steps]);
        assert_eq!(out.code, 2, "steps {steps}: {}", out.stderr);
    }
    // --interval holds steps (or a weight that checks judge); with a bare --weight it would be
    // silently ignored.
    let out = env.run(&["shift", "m5", "--weight", "10", "--interval", "1s"]);
    assert_eq!(out.code, 2, "--weight with --interval: {}", out.stderr);
    for verb in [vec!["promote", "m5"], vec!["shift", "m5", "--weight", "10"], vec!["abort", "m5"]] {
        let out = env.run(&verb);
        assert_eq!(out.code, 2, "{verb:?}: {}", out.stderr);
        assert!(out.stderr.contains("no canary"), "{verb:?}: {}", out.stderr);
    }
    let out = env.run(&["canary", "m5", "--image", "registry.example/m5:v2", "--router", "istio"]);
    out.code(2);
    assert!(out.stderr.contains("VirtualService"), "{}", out.stderr);
    let out =
        env.run(&["canary", "m5", "--image", "registry.example/m5:v2", "--context", "playground-viewer"]);
    out.code(1);
    assert!(out.stderr.contains("forbidden"), "{}", out.stderr);
    env.run(&["canary", "nope", "--image", "registry.example/m5:v2"]).code(2);

    // Dry runs print the objects and write nothing.
    let out = env.run_ok(&[
        "canary",
        "m5",
        "--image",
        "registry.example/m5:v2",
        "--weight",
        "50",
        "--dry-run=client",
        "-o",
        "yaml",
    ]);
    assert!(out.contains("name: m5-canary") && out.contains("modelroll.io/rollout"), "{out}");
    let out =
        env.run_ok(&["canary", "m5", "--image", "registry.example/m5:v2", "--dry-run=server", "-o", "json"]);
    assert!(out.contains("\"m5-canary\""), "{out}");

    let stable = env.deployment("m5").await.unwrap();
    assert_eq!(stable["metadata"]["generation"], 1);
    assert!(env.annotation("m5").await.is_none());
    assert!(env.deployment("m5-canary").await.is_none());
}

/// `abort` without a recorded canary removes a canary Deployment left behind (marked
/// `modelroll.io/canary-of`, its state removed by hand); a Deployment of that name without the
/// mark is not ours: exit 2, "no canary", and it stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_removes_a_leftover_canary_and_nothing_else() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "stray", 1, "registry.example/stray:v1", true).await;
    env.create(deployment("stray-canary", 1, "registry.example/stray:v2", false)).await;
    let out = env.run(&["abort", "stray"]);
    out.code(2);
    assert_eq!(
        out.stderr.trim_end(),
        "error: deployment/stray has no canary to abort; start one with `kubectl modelroll canary deployment/stray --image IMAGE`"
    );
    assert!(env.deployment("stray-canary").await.is_some());

    model(&env, "left", 1, "registry.example/left:v1", true).await;
    let mut leftover = deployment("left-canary", 1, "registry.example/left:v2", false);
    leftover["metadata"]["annotations"] = json!({"modelroll.io/canary-of": "left"});
    env.create(leftover).await;
    let out = env.run(&["abort", "left", "--dry-run=client"]);
    out.success();
    assert!(
        out.stderr.contains("(dry run) would delete") && out.stderr.contains("left-canary"),
        "{}",
        out.stderr
    );
    assert!(env.deployment("left-canary").await.is_some(), "a dry run deletes nothing");
    let said = env.run_ok(&["abort", "left"]);
    assert_eq!(said, "deployment/left: removed the leftover canary deployment left-canary\n");
    assert!(env.deployment("left-canary").await.is_none());
    assert!(env.deployment("left").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashloop_canary_gets_no_weight() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m6", 2, "registry.example/m6:v1", true).await;
    env.create(virtual_service("m6", "m6")).await;
    let out = env.run(&[
        "canary",
        "m6",
        "--image",
        "registry.example/m6:crashloop",
        "--weight",
        "20",
        "--timeout",
        "60s",
    ]);
    out.code(1);
    assert!(out.stderr.contains("no traffic"), "{}", out.stderr);
    let vs = env.get("networking.istio.io/v1", "VirtualService", "m6").await.unwrap();
    assert_eq!(canary_weight_in_vs(&vs), 0);
    let state: Value = serde_json::from_str(&env.annotation("m6").await.unwrap()).unwrap();
    assert_eq!(state["weight"], 0);
    env.run_ok(&["abort", "m6", "--timeout", "60s"]);
    assert!(env.deployment("m6-canary").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_weight_before_the_canary_is_ready() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m7", 1, "registry.example/m7:v1", true).await;
    env.create(virtual_service("m7", "m7")).await;
    // Record the first route change that gives the canary weight, and whether the canary's
    // pods were ready right then (they take 3s).
    let api = env.api("networking.istio.io/v1", "VirtualService");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), NS);
    let watch = tokio::spawn(async move {
        let mut stream = watcher::watcher(api, watcher::Config::default().fields("metadata.name=m7"))
            .default_backoff()
            .boxed();
        while let Some(Ok(event)) = stream.next().await {
            if let Event::Apply(vs) | Event::InitApply(vs) = event {
                let vs = serde_json::to_value(vs).unwrap();
                if canary_weight_in_vs(&vs) > 0 {
                    let canary = pods
                        .list(&ListParams::default().labels(&format!("app=m7,{TRACK}=canary")))
                        .await
                        .unwrap();
                    return canary.items.iter().all(|p| common::pod_ready(p)) && !canary.items.is_empty();
                }
            }
        }
        false
    });
    // The playground's per-pod annotation makes the canary slow to get ready.
    let mut stable = env.deployment("m7").await.unwrap();
    stable["spec"]["template"]["metadata"]["annotations"] =
        json!({"playground.modelroll.io/ready-after": "3s"});
    let api = env.api("apps/v1", "Deployment");
    api.replace("m7", &PostParams::default(), &serde_json::from_value(stable).unwrap()).await.unwrap();
    env.wait_rolled_out("m7").await;
    env.run_ok(&["canary", "m7", "--image", "registry.example/m7:v2", "--weight", "40", "--timeout", "60s"]);
    let ready_when_weighted = tokio::time::timeout(Duration::from_secs(30), watch).await.unwrap().unwrap();
    assert!(ready_when_weighted, "the route gave weight to a canary that was not ready");
}

/// Kill `args` once `ready` holds, then run it again to the end.
async fn interrupt_then_rerun<F, Fut>(env: &Env, args: &[&str], ready: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut child = env.spawn(args);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        poll.tick().await;
        if let Some(status) = child.try_wait().unwrap() {
            // The interruption point comes long before the end (pods take 1s to get ready): a
            // command that finished first was never interrupted, and this test would prove nothing.
            panic!("{args:?} finished ({status}) before the interruption point");
        }
        if ready().await {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{args:?}: the interruption point never came");
    }
    let _ = child.kill();
    let _ = child.wait();
    env.run_ok(args);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_verbs_converge_when_run_again() {
    let env = Env::start(Duration::from_secs(1)).await;
    model(&env, "m8", 2, "registry.example/m8:v1", true).await;
    env.create(virtual_service("m8", "m8")).await;
    let before = env.get("networking.istio.io/v1", "VirtualService", "m8").await.unwrap();
    // canary: killed once its Deployment exists (waiting for ready).
    interrupt_then_rerun(
        &env,
        &["canary", "m8", "--image", "registry.example/m8:v2", "--weight", "10", "--timeout", "60s"],
        || async { env.deployment("m8-canary").await.is_some() },
    )
    .await;
    let vs = env.get("networking.istio.io/v1", "VirtualService", "m8").await.unwrap();
    assert_eq!(vs_weights(&vs), vec![("stable".into(), 90), ("canary".into(), 10)]);
    // shift: killed once the canary is being scaled up for 100%.
    interrupt_then_rerun(&env, &["shift", "m8", "--weight", "100", "--timeout", "60s"], || async {
        env.deployment("m8-canary").await.is_some_and(|d| d["spec"]["replicas"] == 2)
    })
    .await;
    let vs = env.get("networking.istio.io/v1", "VirtualService", "m8").await.unwrap();
    assert_eq!(vs_weights(&vs), vec![("stable".into(), 0), ("canary".into(), 100)]);
    // promote: killed while stable rolls out the canary's version.
    interrupt_then_rerun(&env, &["promote", "m8", "--timeout", "60s"], || async {
        env.deployment("m8").await.is_some_and(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/m8:v2"
        })
    })
    .await;
    let after = env.get("networking.istio.io/v1", "VirtualService", "m8").await.unwrap();
    assert_eq!(after["spec"], before["spec"]);
    assert!(env.deployment("m8-canary").await.is_none());
    assert!(env.annotation("m8").await.is_none());
    // abort: killed right after the weight went back.
    env.run_ok(&["canary", "m8", "--image", "registry.example/m8:v3", "--weight", "50", "--timeout", "60s"]);
    interrupt_then_rerun(&env, &["abort", "m8", "--timeout", "60s"], || async {
        env.annotation("m8").await.is_some_and(|a| a.contains("Aborting"))
    })
    .await;
    let after = env.get("networking.istio.io/v1", "VirtualService", "m8").await.unwrap();
    assert_eq!(after["spec"], before["spec"]);
    assert!(env.deployment("m8-canary").await.is_none());
    assert!(env.get("networking.istio.io/v1", "DestinationRule", "m8").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_that_crashes_during_an_interval_loses_its_weight() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "m9", 2, "registry.example/m9:v1", true).await;
    env.create(virtual_service("m9", "m9")).await;
    env.run_ok(&["canary", "m9", "--image", "registry.example/m9:v2", "--timeout", "60s"]);
    let mut shift = env.spawn(&["shift", "m9", "--steps", "20,60", "--interval", "30s", "--timeout", "60s"]);
    // Once the canary holds 20% and shift watches it, its container restarts (as the kubelet
    // would report it).
    let stderr = shift.stderr.take().unwrap();
    let (holding_tx, holding_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if line.contains("holding 20%") {
                let _ = holding_tx.send(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    tokio::task::spawn_blocking(move || holding_rx.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("shift never held 20%");
    let vs = env.get("networking.istio.io/v1", "VirtualService", "m9").await.unwrap();
    assert_eq!(canary_weight_in_vs(&vs), 20);
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), NS);
    let pod = pods
        .list(&ListParams::default().labels(&format!("app=m9,{TRACK}=canary")))
        .await
        .unwrap()
        .items
        .remove(0);
    let mut status = serde_json::to_value(&pod).unwrap();
    status["status"]["containerStatuses"][0]["restartCount"] = json!(1);
    let name = pod.metadata.name.clone().unwrap();
    let status: Pod = serde_json::from_value(status).unwrap();
    pods.replace_status(&name, &PostParams::default(), &status).await.unwrap();
    let code = tokio::task::spawn_blocking(move || shift.wait().unwrap().code()).await.unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("restarted") && stderr.contains("back on stable"), "{stderr}");
    let vs = env.get("networking.istio.io/v1", "VirtualService", "m9").await.unwrap();
    assert_eq!(canary_weight_in_vs(&vs), 0);
    assert_eq!(total(&vs_weights(&vs)), 100);
}

pub(crate) fn ksvc_traffic(ksvc: &Value) -> Vec<(String, u64, Option<String>)> {
    ksvc["spec"]["traffic"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["revisionName"].as_str().unwrap_or("").to_string(),
                t["percent"].as_u64().unwrap_or(0),
                t["tag"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knative_canary_shift_promote_then_abort() {
    let env = Env::start(Duration::from_millis(300)).await;
    env.create(json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "m10", "namespace": NS},
        "spec": {"template": {"metadata": {"labels": {"app": "m10"}},
                              "spec": {"containers": [{"image": "registry.example/m10:v1"}]}}}
    }))
    .await;
    let ready_revision = |env: &Env| {
        let env_client = env.api("serving.knative.dev/v1", "Service");
        async move {
            env_client.get_opt("m10").await.unwrap().and_then(|k| serde_json::to_value(k).ok()).and_then(
                |k| k.pointer("/status/latestReadyRevisionName").and_then(Value::as_str).map(str::to_string),
            )
        }
    };
    common::wait_for_async(Duration::from_secs(30), "the first revision", || async {
        ready_revision(&env).await.is_some()
    })
    .await;
    let stable_revision = ready_revision(&env).await.unwrap();
    let before = env.get("serving.knative.dev/v1", "Service", "m10").await.unwrap();

    env.run_ok(&[
        "canary",
        "ksvc/m10",
        "--image",
        "registry.example/m10:v2",
        "--model-version",
        "v2",
        "--weight",
        "10",
        "--timeout",
        "60s",
    ]);
    let ksvc = env.get("serving.knative.dev/v1", "Service", "m10").await.unwrap();
    assert_eq!(
        ksvc_traffic(&ksvc),
        vec![(stable_revision.clone(), 90, None), ("m10-v2".to_string(), 10, Some("canary".to_string()))]
    );
    let revision = env.get("serving.knative.dev/v1", "Revision", "m10-v2").await.unwrap();
    assert_eq!(revision["spec"]["containers"][0]["image"], "registry.example/m10:v2");

    env.run_ok(&["shift", "ksvc/m10", "--steps", "30,60", "--interval", "500ms", "--timeout", "60s"]);
    let ksvc = env.get("serving.knative.dev/v1", "Service", "m10").await.unwrap();
    let traffic = ksvc_traffic(&ksvc);
    assert_eq!(traffic.iter().map(|t| t.1).sum::<u64>(), 100);
    assert_eq!(traffic[1], ("m10-v2".to_string(), 60, Some("canary".to_string())));
    let status = env.run_ok(&["status", "ksvc/m10"]);
    assert!(status.contains("Canary") && status.contains("knative"), "{status}");

    env.run_ok(&["promote", "ksvc/m10", "--timeout", "60s"]);
    let ksvc = env.get("serving.knative.dev/v1", "Service", "m10").await.unwrap();
    assert_eq!(ksvc["spec"]["traffic"], before["spec"]["traffic"], "traffic as before the canary");
    assert_eq!(ksvc["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/m10:v2");
    assert!(ksvc.pointer("/metadata/annotations/modelroll.io~1rollout").is_none());
    common::wait_for_async(Duration::from_secs(30), "the canary revision to serve", || async {
        ready_revision(&env).await.as_deref() == Some("m10-v2")
    })
    .await;

    let before = env.get("serving.knative.dev/v1", "Service", "m10").await.unwrap();
    env.run_ok(&[
        "canary",
        "ksvc/m10",
        "--image",
        "registry.example/m10:v3",
        "--weight",
        "20",
        "--timeout",
        "60s",
    ]);
    let canary = serde_json::from_str::<Value>(
        env.get("serving.knative.dev/v1", "Service", "m10").await.unwrap()["metadata"]["annotations"]
            ["modelroll.io/rollout"]
            .as_str()
            .unwrap(),
    )
    .unwrap()["canary"]
        .as_str()
        .unwrap()
        .to_string();
    env.run_ok(&["abort", "ksvc/m10", "--timeout", "60s"]);
    assert_knative_aborted(&env, "m10", &before, "m10-v2", &canary).await;
}

/// After an abort: the traffic block as before the canary, a template naming the stable revision
/// (so that Knative serves it, not a copy), which is latest created and ready and takes all
/// traffic; the canary revision gone and no other revision stamped.
async fn assert_knative_aborted(env: &Env, name: &str, before: &Value, stable: &str, canary: &str) {
    let revisions = |env: &Env| {
        let api = env.api("serving.knative.dev/v1", "Revision");
        let selector = format!("serving.knative.dev/service={name}");
        async move {
            let list = api.list(&kube::api::ListParams::default().labels(&selector)).await.unwrap();
            let mut names: Vec<String> =
                list.items.iter().map(|r| r.metadata.name.clone().unwrap()).collect();
            names.sort();
            names
        }
    };
    let ksvc = env.get("serving.knative.dev/v1", "Service", name).await.unwrap();
    assert_eq!(ksvc["spec"]["traffic"], before["spec"]["traffic"], "traffic as before the canary");
    assert_eq!(ksvc["spec"]["template"]["metadata"]["name"], stable);
    assert_eq!(ksvc["spec"]["template"]["spec"], before["spec"]["template"]["spec"]);
    assert_eq!(ksvc["status"]["latestCreatedRevisionName"], stable);
    assert_eq!(ksvc["status"]["latestReadyRevisionName"], stable);
    assert!(ksvc.pointer("/metadata/annotations/modelroll.io~1rollout").is_none());
    let served: Vec<(String, u64)> = ksvc["status"]["traffic"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["revisionName"].as_str().unwrap_or("").to_string(), t["percent"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(served, vec![(stable.to_string(), 100)], "{:#}", ksvc["status"]);
    let left = revisions(env).await;
    assert!(!left.contains(&canary.to_string()), "{canary} left behind: {left:?}");
    assert!(left.iter().all(|r| r.as_str() <= stable || r.ends_with("-v2")), "no revision stamped: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knative_abort_of_a_first_canary_serves_the_first_revision_again() {
    let env = Env::start(Duration::from_millis(300)).await;
    knative_model(&env, "m11", json!([{"latestRevision": true, "percent": 100}])).await;
    let before = env.get("serving.knative.dev/v1", "Service", "m11").await.unwrap();
    env.run_ok(&[
        "canary",
        "ksvc/m11",
        "--image",
        "registry.example/m11:v2",
        "--weight",
        "30",
        "--timeout",
        "60s",
    ]);
    let ksvc = env.get("serving.knative.dev/v1", "Service", "m11").await.unwrap();
    let canary = ksvc["spec"]["template"]["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(ksvc_traffic(&ksvc)[1], (canary.clone(), 30, Some("canary".to_string())));
    // A dry run prints what abort would write and changes nothing.
    for mode in ["client", "server"] {
        let printed = env.run_ok(&["abort", "ksvc/m11", &format!("--dry-run={mode}"), "-o", "json"]);
        assert!(printed.contains("\"m11-00001\""), "{mode}: {printed}");
        let unchanged = env.get("serving.knative.dev/v1", "Service", "m11").await.unwrap();
        assert_eq!(unchanged["spec"], ksvc["spec"], "{mode} wrote");
        assert_eq!(unchanged["metadata"]["generation"], ksvc["metadata"]["generation"], "{mode} wrote");
        assert!(env.get("serving.knative.dev/v1", "Revision", &canary).await.is_some());
    }
    env.run_ok(&["abort", "ksvc/m11", "--timeout", "60s"]);
    assert_knative_aborted(&env, "m11", &before, "m11-00001", &canary).await;
    // Running it again changes nothing.
    let again = env.run(&["abort", "ksvc/m11"]);
    assert_eq!(again.code, 2, "no canary left to abort: {}", again.stderr);
    // The next rollout moves traffic as before the canary: to the latest revision.
    env.run_ok(&["set-image", "ksvc/m11", "registry.example/m11:v3", "--timeout", "60s"]);
    let ksvc = env.get("serving.knative.dev/v1", "Service", "m11").await.unwrap();
    let latest = ksvc["status"]["latestReadyRevisionName"].as_str().unwrap().to_string();
    assert_ne!(latest, "m11-00001");
    assert_eq!(ksvc["status"]["traffic"][0]["revisionName"], latest.as_str(), "{:#}", ksvc["status"]);
}

/// Create `object`, trying again while the playground answers 409.
async fn create_through_conflicts(env: &Env, object: Value) {
    let api = env.api(object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap());
    let dynamic: DynamicObject = serde_json::from_value(object).unwrap();
    for _ in 0..50 {
        match api.create(&PostParams::default(), &dynamic).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => panic!("create: {e}"),
        }
    }
    panic!("50 conflicts in a row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_conflicts() {
    // A third of all writes (ours, the controllers', the test's) answered 409 Conflict.
    let env =
        Env::start_with(common::Options { faults: Some("409=0.3"), ..common::Options::default() }).await;
    for object in
        [deployment("m11", 2, "registry.example/m11:v1", true), service("m11"), http_route("m11", "m11")]
    {
        create_through_conflicts(&env, object).await;
    }
    env.wait_rolled_out("m11").await;
    let before = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "m11").await.unwrap();
    env.run_ok(&[
        "canary",
        "m11",
        "--image",
        "registry.example/m11:v2",
        "--weight",
        "25",
        "--timeout",
        "60s",
    ]);
    env.run_ok(&["shift", "m11", "--weight", "50", "--timeout", "60s"]);
    let route = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "m11").await.unwrap();
    assert_eq!(route_weights(&route), vec![("m11-stable".into(), 50), ("m11-canary".into(), 50)]);
    env.run_ok(&["abort", "m11", "--timeout", "60s"]);
    let after = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "m11").await.unwrap();
    assert_eq!(after["spec"], before["spec"]);
    assert!(env.deployment("m11-canary").await.is_none());
    assert!(env.get("v1", "Service", "m11-canary").await.is_none());
    assert!(env.annotation("m11").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routers_that_cannot_work_here_are_refused() {
    // No Istio, Gateway API or Knative CRDs in this cluster.
    let pg = common::Playground::start();
    let client = pg.client().await;
    let api: Api<DynamicObject> = Api::namespaced_with(client, NS, &Env::ar("apps/v1", "Deployment"));
    api.create(
        &PostParams::default(),
        &serde_json::from_value(deployment("m12", 1, "registry.example/m12:v1", true)).unwrap(),
    )
    .await
    .unwrap();
    let out = pg.modelroll(&["canary", "m12", "--image", "registry.example/m12:v2", "--router", "istio"]);
    out.code(2);
    assert!(
        out.stderr.contains("the cluster serves no networking.istio.io VirtualService"),
        "{}",
        out.stderr
    );
    let out =
        pg.modelroll(&["canary", "m12", "--image", "registry.example/m12:v2", "--router", "gateway-api"]);
    out.code(2);
    assert!(out.stderr.contains("HTTPRoute"), "{}", out.stderr);
    let out = pg.modelroll(&["canary", "m12", "--image", "registry.example/m12:v2", "--router", "knative"]);
    out.code(2);
    assert!(out.stderr.contains("ksvc/NAME"), "{}", out.stderr);
    let out = pg.modelroll(&["canary", "ksvc/m12", "--image", "registry.example/m12:v2"]);
    out.code(2);
    let out = pg.modelroll(&["canary", "m12", "--image", "registry.example/m12:v2", "--route", "nope"]);
    out.code(2);
    assert!(out.stderr.contains("nope"), "{}", out.stderr);
    let api: Api<DynamicObject> =
        Api::namespaced_with(pg.client().await, NS, &Env::ar("apps/v1", "Deployment"));
    let stable = api.get("m12").await.unwrap();
    assert!(!stable.metadata.annotations.unwrap_or_default().contains_key("modelroll.io/rollout"));
    assert!(api.get_opt("m12-canary").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knative_abort_when_the_template_before_the_canary_was_failing_serves_stable() {
    let env = Env::start(Duration::from_millis(300)).await;
    knative_model(&env, "m13", Value::Null).await;
    let out = env.run(&["set-image", "ksvc/m13", "registry.example/m13:v2-crashloop", "--timeout", "60s"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    env.run_ok(&[
        "canary",
        "ksvc/m13",
        "--image",
        "registry.example/m13:v3",
        "--weight",
        "20",
        "--timeout",
        "60s",
    ]);
    env.run_ok(&["abort", "ksvc/m13", "--timeout", "60s"]);
    let ksvc = env.get("serving.knative.dev/v1", "Service", "m13").await.unwrap();
    assert_eq!(
        ksvc["spec"]["template"]["metadata"]["name"], "m13-00001",
        "the stable revision, served again"
    );
    assert_eq!(ksvc["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/m13:v1");
    assert_eq!(ksvc["status"]["latestReadyRevisionName"], "m13-00001");
    assert_eq!(ksvc["status"]["traffic"][0]["revisionName"], "m13-00001");
    assert_eq!(ksvc["status"]["traffic"][0]["percent"], 100);
    assert!(ksvc.pointer("/metadata/annotations/modelroll.io~1rollout").is_none());
}

/// A ksvc `name` serving `registry.example/NAME:v1` from its first revision (with `traffic` when
/// not null), once that revision is ready.
pub(crate) async fn knative_model(env: &Env, name: &str, traffic: Value) {
    let mut ksvc = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"template": {"spec": {"containers": [{"image": format!("registry.example/{name}:v1")}]}}}
    });
    if !traffic.is_null() {
        ksvc["spec"]["traffic"] = traffic;
    }
    env.create(ksvc).await;
    let ksvcs = env.api("serving.knative.dev/v1", "Service");
    let first = format!("{name}-00001");
    common::wait_for_async(Duration::from_secs(30), "the first revision", || async {
        ksvcs.get_opt(name).await.unwrap().is_some_and(|k| {
            k.data.pointer("/status/latestReadyRevisionName").and_then(Value::as_str) == Some(first.as_str())
        })
    })
    .await;
}
