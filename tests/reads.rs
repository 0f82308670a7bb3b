//! What reads cost: `list -A` and `status` make a fixed number of API requests however many
//! models and pods there are, and read the ReplicaSets and pods only when what they show depends
//! on them (request counts are deterministic; speed and memory are the bench's).

use std::time::Duration;

use modelroll::playground::resources::ResourceRef;
use serde_json::{json, Value};

use crate::common::{self, Options, Playground};

const DEPLOYMENTS: ResourceRef = ResourceRef::of("apps", "v1", "deployments");
const NAMESPACES: ResourceRef = ResourceRef::of("", "v1", "namespaces");

/// A model: a Deployment of `replicas` pods of `image`, with a modelroll change cause (so `list`
/// shows it).
fn model(namespace: &str, name: &str, replicas: i32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace,
            "annotations": {"kubernetes.io/change-cause": format!("set-image model={image}")}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "model", "image": image}]}
            }
        }
    })
}

fn rolled_out(d: &Value) -> bool {
    let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &d["status"];
    status["observedGeneration"].as_i64() >= d["metadata"]["generation"].as_i64()
        && status["updatedReplicas"].as_i64().unwrap_or(0) == want
        && status["availableReplicas"].as_i64().unwrap_or(0) == want
        && status["replicas"].as_i64().unwrap_or(0) == want
}

fn all_rolled_out(pg: &Playground, count: usize) -> bool {
    pg.store()
        .list(&DEPLOYMENTS, "")
        .is_ok_and(|l| l.items.len() == count && l.items.iter().all(|d| rolled_out(d)))
}

/// Requests `action` made, all agents together.
fn requests_of(pg: &Playground, action: impl FnOnce() -> common::Output) -> (u64, common::Output) {
    let total = |pg: &Playground| pg.requests().values().sum::<u64>();
    let before = total(pg);
    let out = action();
    (total(pg) - before, out)
}

/// Wait until a pod in `namespace` cannot pull its image.
fn wait_image_pull_failing(pg: &Playground, namespace: &str) {
    common::wait_for(Duration::from_secs(60), "a pod failing to pull its image", || {
        let pods = pg.store().list(&ResourceRef::of("", "v1", "pods"), namespace).unwrap();
        pods.items.iter().any(|p| {
            let reason = &p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"];
            reason == "ErrImagePull" || reason == "ImagePullBackOff"
        })
    });
}

fn phases(list: &Value) -> Vec<(String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_string(), i["phase"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn list_all_namespaces_reads_a_thousand_settled_models_in_two_requests() {
    const MODELS: usize = 1000;
    let pg = Playground::start_with(Options {
        nodes: 3,
        ready_after: Duration::from_millis(50),
        ..Options::default()
    });
    for ns in 0..10 {
        pg.store()
            .create(
                &NAMESPACES,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("team-{ns}")}}),
            )
            .unwrap();
    }
    // Most models scaled to zero (a thousand Deployments without ten thousand pods), some running.
    for i in 0..MODELS {
        let replicas = if i % 100 == 0 { 2 } else { 0 };
        let object =
            model(&format!("team-{}", i % 10), &format!("model-{i}"), replicas, "registry.example/m:v1");
        pg.store().create(&DEPLOYMENTS, object).unwrap();
    }
    common::wait_for(Duration::from_secs(120), "every model rolled out", || all_rolled_out(&pg, MODELS));

    let (made, out) = requests_of(&pg, || pg.modelroll(&["list", "-A", "-o", "json"]));
    out.success();
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let phases = phases(&list);
    assert_eq!(phases.len(), MODELS, "every model listed");
    assert!(phases.iter().all(|(_, p)| p == "Healthy"), "{phases:?}");
    // The Deployments and the Knative Services (none: Knative is not installed); settled models
    // take their phase from their own status.
    assert!(made <= 3, "list -A made {made} requests over {MODELS} models");
    assert_eq!(made, 2, "list -A over settled models: the Deployments and the Knative Services");
}

#[test]
fn list_reads_replica_sets_and_pods_for_a_rolling_model_and_sees_its_failure() {
    let pg = Playground::start_with(Options { ready_after: Duration::from_millis(50), ..Options::default() });
    for ns in ["team-a", "team-b"] {
        pg.store()
            .create(&NAMESPACES, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .unwrap();
    }
    for (ns, name) in [("team-a", "fraud"), ("team-a", "churn"), ("team-b", "ranker")] {
        pg.store().create(&DEPLOYMENTS, model(ns, name, 2, "registry.example/m:v1")).unwrap();
    }
    common::wait_for(Duration::from_secs(60), "every model rolled out", || all_rolled_out(&pg, 3));
    // fraud's new image cannot be pulled: its rollout never ends, and its phase is the pods' to tell.
    pg.modelroll(&[
        "-n",
        "team-a",
        "set-image",
        "fraud",
        "model=registry.example/m:v2-errimagepull",
        "--no-wait",
    ])
    .success();
    wait_image_pull_failing(&pg, "team-a");

    let (made, out) = requests_of(&pg, || pg.modelroll(&["list", "-A", "-o", "json"]));
    out.success();
    let phases = phases(&serde_json::from_str(&out.stdout).unwrap());
    assert_eq!(
        phases,
        vec![
            ("deployment/churn".to_string(), "Healthy".to_string()),
            ("deployment/fraud".to_string(), "Degraded".to_string()),
            ("deployment/ranker".to_string(), "Healthy".to_string()),
        ]
    );
    // The Deployments, the Knative Services, and team-a's ReplicaSets and pods.
    assert_eq!(made, 4, "list -A with one model rolling");
}

#[test]
fn status_reads_the_pods_only_when_one_is_not_ready() {
    let pg = Playground::start_with(Options { ready_after: Duration::from_millis(50), ..Options::default() });
    pg.store().create(&DEPLOYMENTS, model("default", "fraud", 2, "registry.example/m:v1")).unwrap();
    common::wait_for(Duration::from_secs(60), "fraud rolled out", || all_rolled_out(&pg, 1));

    let (made, out) = requests_of(&pg, || pg.modelroll(&["status", "fraud", "-o", "json"]));
    out.success();
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!((status["phase"].as_str(), &status["problems"]), (Some("Healthy"), &json!([])));
    assert_eq!(status["revisions"][0]["ready"], 2);
    assert_eq!(made, 2, "the Deployment and its ReplicaSets: every pod is ready");

    pg.modelroll(&["set-image", "fraud", "model=registry.example/m:v2-errimagepull", "--no-wait"]).success();
    wait_image_pull_failing(&pg, "default");
    let (made, out) = requests_of(&pg, || pg.modelroll(&["status", "fraud", "-o", "json"]));
    out.success();
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["phase"], "Degraded", "{status}");
    let problems = status["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["state"].as_str().unwrap_or_default().contains("ErrImagePull")
            || p["state"].as_str().unwrap_or_default().contains("ImagePullBackOff")),
        "{status}"
    );
    assert_eq!(made, 3, "the Deployment, its ReplicaSets and, a pod not being ready, its pods");
}

/// Waiting on a rollout of more pods than one list page (kube's watcher pages by 500): the pods
/// are listed in one request, whatever their number, and then watched from that list's
/// resourceVersion (not listed again, and not watched from "now": no change is missed).
#[test]
fn set_image_lists_the_pods_of_a_big_rollout_in_one_request_and_watches_from_it() {
    const REPLICAS: i32 = 520;
    // Room for the old and the new pods at once (110 pods a node).
    let pg = Playground::start_with(Options {
        nodes: 12,
        ready_after: Duration::from_millis(20),
        ..Options::default()
    });
    let mut fraud = model("default", "fraud", REPLICAS, "registry.example/m:v1");
    // All at once, so that the rollout of 520 pods takes seconds.
    fraud["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "100%"}});
    pg.store().create(&DEPLOYMENTS, fraud).unwrap();
    common::wait_for(Duration::from_secs(120), "fraud rolled out", || all_rolled_out(&pg, 1));

    let out = pg.modelroll(&["set-image", "fraud", "model=registry.example/m:v2", "-vv", "--timeout", "2m"]);
    out.success();
    let pods = "/api/v1/namespaces/default/pods?";
    let logged: Vec<&str> =
        out.stderr.lines().filter(|l| l.contains("modelroll::api") && l.contains(pods)).collect();
    let lists: Vec<&&str> = logged.iter().filter(|l| !l.contains("watch=true")).collect();
    assert_eq!(lists.len(), 1, "the pods of the rollout listed in one request: {lists:#?}");
    assert!(!lists[0].contains("limit="), "{}", lists[0]);
    let watches: Vec<&&str> = logged.iter().filter(|l| l.contains("watch=true")).collect();
    assert!(!watches.is_empty(), "{logged:#?}");
    // The first watch starts where the list ended: a resourceVersion, not 0 and not none.
    let from = regex::Regex::new(r"[?&]resourceVersion=([0-9]+)").unwrap();
    let version = from.captures(watches[0]).map(|c| c[1].to_string()).unwrap_or_default();
    assert!(!version.is_empty() && version != "0", "{}", watches[0]);
}
