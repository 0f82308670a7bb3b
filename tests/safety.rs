//! Integration tests: modelroll trusts the live cluster over its own records and never makes
//! capacity or routing worse than it found it (issue 11): slow pods, hand-scaled and autoscaled
//! Deployments, rollbacks that copy annotations back, changes during a canary.

use std::time::Duration;

use kube::api::{Api, ListParams};
use serde_json::{json, Value};

use crate::canary::{
    http_route, knative_model, ksvc_traffic, model, route_weights, virtual_service, vs_weights, Env, NS,
    TRACK,
};
use crate::common::{self, ReadyPods};

fn replicas(deployment: &Value) -> i64 {
    deployment["spec"]["replicas"].as_i64().unwrap()
}

fn image(deployment: &Value) -> &str {
    deployment["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap()
}

async fn state(env: &Env, name: &str) -> Value {
    serde_json::from_str(&env.annotation(name).await.expect("a canary state")).unwrap()
}

/// Run `args` while `pods` counts, and fail when ready pods ever fell below what they were when
/// it started.
async fn run_keeping_capacity(env: &Env, pods: &ReadyPods, args: &[&str]) -> String {
    let start = pods.restart();
    let stdout = env.run_ok(args);
    assert!(
        pods.lowest() >= start,
        "{args:?}: ready pods fell from {start} to {} (now {})",
        pods.lowest(),
        pods.now()
    );
    stdout
}

/// Issue 11, case 1: abort on the replicas router brought stable back and removed the canary's
/// pods at once, so a model at 100% canary had no ready pod until stable's came up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_abort_never_drops_ready_capacity() {
    let env = Env::start(Duration::from_millis(1500)).await;
    model(&env, "s1", 2, "registry.example/s1:v1", false).await;
    let v2 = ["canary", "s1", "--image", "registry.example/s1:v2", "--router", "replicas"];
    env.run_ok(&[&v2[..], &["--weight", "100", "--timeout", "60s"]].concat());
    assert_eq!(replicas(&env.deployment("s1").await.unwrap()), 0);
    assert_eq!(replicas(&env.deployment("s1-canary").await.unwrap()), 2);
    let pods = ReadyPods::start(env.client.clone(), NS, "app=s1").await;
    pods.wait_ready(2).await;
    run_keeping_capacity(&env, &pods, &["abort", "s1", "--timeout", "60s"]).await;
    assert_eq!(replicas(&env.deployment("s1").await.unwrap()), 2);
    assert!(env.deployment("s1-canary").await.is_none());
    assert!(env.annotation("s1").await.is_none());
    assert_eq!(pods.now(), 2);
}

/// Capacity on every path: abort and promote, on the replicas and istio routers, with pods that
/// take 1.5s to get ready: ready pods never fewer than when the command started (for istio, the
/// stable subset's, which takes back all traffic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_and_promote_keep_capacity_on_replicas_and_istio() {
    let env = Env::start(Duration::from_millis(1500)).await;
    model(&env, "s6", 4, "registry.example/s6:v1", false).await;
    let pods = ReadyPods::start(env.client.clone(), NS, "app=s6").await;
    for (image, end) in [("registry.example/s6:v2", "abort"), ("registry.example/s6:v3", "promote")] {
        env.run_ok(&[
            "canary",
            "s6",
            "--image",
            image,
            "--router",
            "replicas",
            "--weight",
            "50",
            "--timeout",
            "60s",
        ]);
        pods.wait_ready(4).await;
        run_keeping_capacity(&env, &pods, &[end, "s6", "--timeout", "60s"]).await;
        assert_eq!(replicas(&env.deployment("s6").await.unwrap()), 4, "after {end}");
        assert!(env.deployment("s6-canary").await.is_none());
    }
    assert_eq!(image(&env.deployment("s6").await.unwrap()), "registry.example/s6:v3");

    model(&env, "s7", 2, "registry.example/s7:v1", true).await;
    env.create(virtual_service("s7", "s7")).await;
    let stable = ReadyPods::start(env.client.clone(), NS, &format!("app=s7,{TRACK}=stable")).await;
    for (image, end) in [("registry.example/s7:v2", "abort"), ("registry.example/s7:v3", "promote")] {
        env.run_ok(&["canary", "s7", "--image", image, "--weight", "50", "--timeout", "60s"]);
        stable.wait_ready(2).await;
        run_keeping_capacity(&env, &stable, &[end, "s7", "--timeout", "60s"]).await;
        assert_eq!(replicas(&env.deployment("s7").await.unwrap()), 2, "after {end}");
    }
}

/// Issue 11, case 2: `kubectl scale` of stable during a canary, then `shift`: the recorded count
/// won, stable went to 2 and ready capacity fell from 7 to 4; promote then restored the stale 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_scaled_stable_wins_over_the_recorded_count() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "s2", 4, "registry.example/s2:v1", false).await;
    env.run_ok(&[
        "canary",
        "s2",
        "--image",
        "registry.example/s2:v2",
        "--router",
        "replicas",
        "--weight",
        "25",
        "--timeout",
        "60s",
    ]);
    assert_eq!(replicas(&env.deployment("s2").await.unwrap()), 3);
    env.pg.kubectl(&["scale", "deployment/s2", "--replicas=6"]).success();
    env.wait_rolled_out("s2").await;
    let pods = ReadyPods::start(env.client.clone(), NS, "app=s2").await;
    pods.wait_ready(7).await;

    run_keeping_capacity(&env, &pods, &["shift", "s2", "--weight", "50", "--timeout", "60s"]).await;
    // The model has 7 pods now: 50% of them is 4 canary pods beside 3 stable ones.
    assert_eq!(replicas(&env.deployment("s2").await.unwrap()), 3);
    assert_eq!(replicas(&env.deployment("s2-canary").await.unwrap()), 4);
    assert_eq!(state(&env, "s2").await["stableReplicas"], 7);
    // Stable's surplus pods go after the shift; promote starts from the 7.
    pods.wait_ready(7).await;

    run_keeping_capacity(&env, &pods, &["promote", "s2", "--timeout", "60s"]).await;
    let stable = env.deployment("s2").await.unwrap();
    assert_eq!(replicas(&stable), 7, "promote gives stable the live total, not the recorded 4");
    assert_eq!(image(&stable), "registry.example/s2:v2");
}

/// Issue 11, case 3: the deployment controller copies the canary state onto the ReplicaSets, and
/// a rollback copies it back: after canary → promote → `kubectl rollout undo`, status showed a
/// canary that no longer exists, and canary and undo were refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_does_not_bring_back_a_finished_canary() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "s3", 2, "registry.example/s3:v1", false).await;
    env.run_ok(&[
        "canary",
        "s3",
        "--image",
        "registry.example/s3:v2",
        "--router",
        "replicas",
        "--weight",
        "50",
        "--timeout",
        "60s",
    ]);
    let replica_sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::namespaced(env.client.clone(), NS);
    let copies = || async {
        replica_sets
            .list(&ListParams::default().labels("app=s3"))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|rs| {
                rs.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("modelroll.io/rollout"))
            })
            .filter_map(|rs| rs.metadata.name)
            .collect::<Vec<_>>()
    };
    // The controller does copy it while the canary runs (what makes this case real).
    common::wait_for_async(Duration::from_secs(30), "the state copied onto a ReplicaSet", || async {
        !copies().await.is_empty()
    })
    .await;
    env.run_ok(&["promote", "s3", "--timeout", "60s"]);
    assert_eq!(copies().await, Vec::<String>::new(), "the canary state is left on ReplicaSets");

    env.pg.kubectl(&["rollout", "undo", "deployment/s3"]).success();
    env.wait_rolled_out("s3").await;
    let stable = env.deployment("s3").await.unwrap();
    assert_eq!(image(&stable), "registry.example/s3:v1");
    assert!(env.annotation("s3").await.is_none(), "the rollback brought the canary state back");
    let status: Value = serde_json::from_str(&env.run_ok(&["status", "s3", "-o", "json"])).unwrap();
    assert_eq!(status["phase"], "Healthy", "{status:#}");
    assert!(status.get("canary").is_none(), "{status:#}");
    env.run_ok(&["undo", "s3", "--timeout", "60s"]);
    assert_eq!(image(&env.deployment("s3").await.unwrap()), "registry.example/s3:v2");
    assert!(env.annotation("s3").await.is_none());
    env.run_ok(&[
        "canary",
        "s3",
        "--image",
        "registry.example/s3:v3",
        "--router",
        "replicas",
        "--weight",
        "50",
        "--timeout",
        "60s",
    ]);
    assert!(env.deployment("s3-canary").await.is_some());
}

/// Issue 11, case 4: set-image was accepted during a canary (and promote then replaced the new
/// stable image with the canary's). Now set-image and undo are refused with what to do; on
/// Knative, promote refuses when traffic that follows the latest revision would miss the canary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_and_undo_are_refused_during_a_canary() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "s4", 2, "registry.example/s4:v1", false).await;
    env.run_ok(&[
        "canary",
        "s4",
        "--image",
        "registry.example/s4:v2",
        "--router",
        "replicas",
        "--weight",
        "50",
        "--timeout",
        "60s",
    ]);
    let before = env.deployment("s4").await.unwrap();
    for args in [&["set-image", "s4", "registry.example/s4:v3"][..], &["undo", "deploy/s4"][..]] {
        let out = env.run(args);
        out.code(2);
        let verb = args[0];
        assert_eq!(
            out.stderr.trim(),
            format!("error: a canary of deployment/s4 is in progress; finish it with `kubectl modelroll promote deployment/s4` or `kubectl modelroll abort deployment/s4` before {verb}"),
        );
        let after = env.deployment("s4").await.unwrap();
        assert_eq!(after["spec"], before["spec"], "{verb} changed the stable");
    }

    knative_model(&env, "k4", json!([{"latestRevision": true, "percent": 100}])).await;
    env.run_ok(&[
        "canary",
        "ksvc/k4",
        "--image",
        "registry.example/k4:v2",
        "--model-version",
        "v2",
        "--weight",
        "20",
        "--timeout",
        "60s",
    ]);
    let out = env.run(&["set-image", "ksvc/k4", "registry.example/k4:v3"]);
    out.code(2);
    assert!(out.stderr.contains("a canary of ksvc/k4 is in progress"), "{}", out.stderr);
    // Someone changes the template by hand: promote must not send the latest-revision traffic
    // there while saying the canary serves it all.
    env.pg
        .kubectl(&[
            "patch",
            "ksvc/k4",
            "--type=merge",
            "-p",
            r#"{"spec":{"template":{"metadata":{"name":"k4-v3"},"spec":{"containers":[{"image":"registry.example/k4:v3"}]}}}}"#,
        ])
        .success();
    let before = env.get("serving.knative.dev/v1", "Service", "k4").await.unwrap();
    let out = env.run(&["promote", "ksvc/k4", "--timeout", "60s"]);
    out.code(1);
    assert!(out.stderr.contains("k4-v3") && out.stderr.contains("k4-v2"), "{}", out.stderr);
    assert!(!out.stdout.contains("now serves all traffic"), "{}", out.stdout);
    let after = env.get("serving.knative.dev/v1", "Service", "k4").await.unwrap();
    assert_eq!(ksvc_traffic(&after), ksvc_traffic(&before), "promote moved traffic");
}

/// Autoscalers: with an HPA on the stable, modelroll never writes its replicas; the replicas
/// router runs the canary beside it, promote and abort leave the count to the autoscaler, and the
/// output says so. The HPA is created with real kubectl, which the playground validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_autoscaled_stable_keeps_its_replicas() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "s5", 2, "registry.example/s5:v1", false).await;
    let bad = r#"{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "bad"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "name": "s5"}, "minReplicas": 3, "maxReplicas": 0,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}}}]}}"#;
    let out = env.pg.kubectl_with_input(&["create", "-f", "-"], Some(bad));
    out.code(1);
    for cause in [
        "spec.scaleTargetRef.kind: Required value",
        "spec.maxReplicas: Invalid value: 0: must be greater than 0",
        "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
        "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
    ] {
        assert!(out.stderr.contains(cause), "{cause:?} missing from:\n{}", out.stderr);
    }
    let hpa = r#"{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "s5"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "s5"}, "minReplicas": 2, "maxReplicas": 6,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}}"#;
    env.pg.kubectl_with_input(&["create", "-f", "-"], Some(hpa)).success();
    let listed = env.pg.kubectl(&["get", "hpa", "-o", "name"]);
    assert_eq!(listed.success().stdout.trim(), "horizontalpodautoscaler.autoscaling/s5");

    let out = env.run(&[
        "canary",
        "s5",
        "--image",
        "registry.example/s5:v2",
        "--router",
        "replicas",
        "--weight",
        "25",
        "--timeout",
        "60s",
    ]);
    out.success();
    assert!(out.stderr.contains("replicas belong to horizontalpodautoscaler/s5"), "{}", out.stderr);
    assert_eq!(replicas(&env.deployment("s5").await.unwrap()), 2, "stable shrunk under its HPA");
    assert_eq!(replicas(&env.deployment("s5-canary").await.unwrap()), 1);
    // The HPA scales stable up meanwhile (as it would under load): the canary's share follows.
    env.pg.kubectl(&["scale", "deployment/s5", "--replicas=4"]).success();
    env.wait_rolled_out("s5").await;
    env.run_ok(&["shift", "s5", "--weight", "50", "--timeout", "60s"]);
    assert_eq!(replicas(&env.deployment("s5").await.unwrap()), 4);
    assert_eq!(replicas(&env.deployment("s5-canary").await.unwrap()), 4);
    let stdout = env.run_ok(&["promote", "s5", "--timeout", "60s"]);
    assert!(stdout.contains("its replicas stay with horizontalpodautoscaler/s5"), "{stdout}");
    let stable = env.deployment("s5").await.unwrap();
    assert_eq!((replicas(&stable), image(&stable)), (4, "registry.example/s5:v2"));

    env.run_ok(&[
        "canary",
        "s5",
        "--image",
        "registry.example/s5:v3",
        "--router",
        "replicas",
        "--weight",
        "50",
        "--timeout",
        "60s",
    ]);
    env.run_ok(&["abort", "s5", "--timeout", "60s"]);
    assert_eq!(replicas(&env.deployment("s5").await.unwrap()), 4);
    assert!(env.deployment("s5-canary").await.is_none());
}

/// Issue 11, case 6: status and list showed the weight modelroll last wrote, not the live route:
/// after a hand edit of the VirtualService to 0/100 they still said 10%.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_list_show_the_live_route_weight() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "s8", 2, "registry.example/s8:v1", true).await;
    env.create(virtual_service("s8", "s8")).await;
    env.run_ok(&["canary", "s8", "--image", "registry.example/s8:v2", "--weight", "10", "--timeout", "60s"]);
    let status: Value = serde_json::from_str(&env.run_ok(&["status", "s8", "-o", "json"])).unwrap();
    assert_eq!(
        (status["canary"]["weight"].as_u64(), status["canary"]["liveWeight"].as_u64()),
        (Some(10), Some(10))
    );
    assert!(status["canary"].get("drift").is_none(), "{status:#}");

    env.pg
        .kubectl(&[
            "patch",
            "virtualservice/s8",
            "--type=json",
            "-p",
            r#"[{"op": "replace", "path": "/spec/http/1/route/0/weight", "value": 0},
                {"op": "replace", "path": "/spec/http/1/route/1/weight", "value": 100}]"#,
        ])
        .success();
    let status: Value = serde_json::from_str(&env.run_ok(&["status", "s8", "-o", "json"])).unwrap();
    assert_eq!(status["canary"]["weight"], 10, "the recorded weight is kept");
    assert_eq!(status["canary"]["liveWeight"], 100);
    let drift = status["canary"]["drift"].as_str().unwrap_or_default();
    assert!(drift.contains("the route sends 100% to the canary, not the 10% modelroll set"), "{status:#}");
    let tracks: Vec<(String, i64)> = status["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| Some((r["track"].as_str()?.to_string(), r["trafficPercent"].as_i64()?)))
        .collect();
    assert_eq!(tracks, vec![("canary".to_string(), 100), ("stable".to_string(), 0)], "{status:#}");
    let screen = env.run_ok(&["status", "s8"]);
    assert!(screen.contains("10% set, 100% live on the route") && screen.contains("Drift:"), "{screen}");

    // `list -o json` is a kubectl List (issue 17).
    let list: Value = serde_json::from_str(&env.run_ok(&["list", "-o", "json"])).unwrap();
    let rows = &list["items"];
    assert_eq!(
        (rows[0]["weight"].as_u64(), rows[0]["liveWeight"].as_u64()),
        (Some(10), Some(100)),
        "{rows:#}"
    );
    let table = env.run_ok(&["list"]);
    assert!(table.contains("10% (live 100%)"), "{table}");
}

/// Issue 11, case 8: list showed Knative's revision Deployments as models and called a
/// crash-looping Deployment `Stable` where status said `Degraded`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_models_only_with_the_phase_status_gives() {
    let env = Env::start(Duration::from_millis(300)).await;
    knative_model(&env, "k8", json!([{"latestRevision": true, "percent": 100}])).await;
    env.run_ok(&[
        "canary",
        "ksvc/k8",
        "--image",
        "registry.example/k8:v2",
        "--model-version",
        "v2",
        "--weight",
        "20",
        "--timeout",
        "60s",
    ]);
    model(&env, "s9", 1, "registry.example/s9:v1", false).await;
    let out = env.run(&["set-image", "s9", "registry.example/s9:v2-crashloop", "--timeout", "60s"]);
    out.code(1);
    let status: Value = serde_json::from_str(&env.run_ok(&["status", "s9", "-o", "json"])).unwrap();
    assert_eq!(status["phase"], "Degraded", "{status:#}");

    let list: Value = serde_json::from_str(&env.run_ok(&["list", "-o", "json"])).unwrap();
    let rows = &list["items"];
    let names: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["deployment/s9", "ksvc/k8"], "{rows:#}");
    assert_eq!(rows[0]["phase"], status["phase"], "list and status disagree on the phase");
}

/// Issue 11, case 9: right after a Knative rollback, status said Healthy with 100% of the traffic
/// on a revision with no ready pod. (That `undo ksvc/…` itself waits for those pods is
/// `undo_of_a_ksvc_is_done_only_once_its_revision_has_ready_pods`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_knative_rollback_is_done_and_healthy_only_once_its_revision_serves() {
    let env = Env::start(Duration::from_secs(3)).await;
    knative_model(&env, "k9", json!([{"latestRevision": true, "percent": 100}])).await;
    env.run_ok(&["set-image", "ksvc/k9", "registry.example/k9:v2", "--timeout", "60s"]);
    common::wait_for_async(Duration::from_secs(30), "k9-00001 scaled to zero", || async {
        revision_pods(&env, "k9-00001").await.0 == 0
    })
    .await;

    env.run_ok(&["undo", "ksvc/k9", "--no-wait"]);
    let ksvcs = env.api("serving.knative.dev/v1", "Service");
    common::wait_for_async(Duration::from_secs(30), "Knative to call the rollback Ready", || async {
        let k = serde_json::to_value(ksvcs.get("k9").await.unwrap()).unwrap();
        k["status"]["observedGeneration"] == k["metadata"]["generation"]
            && k["status"]["latestReadyRevisionName"] == "k9-00001"
            && k["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
    .await;
    let status: Value = serde_json::from_str(&env.run_ok(&["status", "ksvc/k9", "-o", "json"])).unwrap();
    assert_eq!(
        revision_pods(&env, "k9-00001").await.1,
        0,
        "the pods came up before status looked: the test proves nothing"
    );
    assert_eq!(status["phase"], "Progressing", "{status:#}");
    let reason = status["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("revision k9-00001 takes 100% of the traffic and has 0/"), "{status:#}");

    // Once its pods are up, the same rollback is Healthy.
    common::wait_for_async(Duration::from_secs(30), "k9-00001's pods ready", || async {
        revision_pods(&env, "k9-00001").await.1 >= 1
    })
    .await;
    let status: Value = serde_json::from_str(&env.run_ok(&["status", "ksvc/k9", "-o", "json"])).unwrap();
    assert_eq!(status["phase"], "Healthy", "{status:#}");
}

/// Issue 11, case 7: with `modelroll.io/track` removed from the stable template mid-canary, the
/// `stable` subset matched no pod and still got the traffic of the next shift. Now the shift
/// stops with exit 1 and the weights stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_weight_goes_to_a_destination_without_ready_pods() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "s10", 2, "registry.example/s10:v1", true).await;
    env.create(virtual_service("s10", "s10")).await;
    env.run_ok(&[
        "canary",
        "s10",
        "--image",
        "registry.example/s10:v2",
        "--weight",
        "10",
        "--timeout",
        "60s",
    ]);
    env.pg
        .kubectl(&[
            "patch",
            "deployment/s10",
            "--type=json",
            "-p",
            r#"[{"op": "remove", "path": "/spec/template/metadata/labels/modelroll.io~1track"}]"#,
        ])
        .success();
    env.wait_rolled_out("s10").await;
    assert!(
        env.pods(&format!("app=s10,{TRACK}=stable")).await.is_empty(),
        "stable pods still carry the label"
    );

    let out = env.run(&["shift", "s10", "--weight", "60", "--timeout", "60s"]);
    out.code(1);
    assert!(
        out.stderr.contains("subset stable of destinationrule s10")
            && out.stderr.contains("selects no ready pod, and would get 40% of the traffic"),
        "{}",
        out.stderr
    );
    let vs = env.get("networking.istio.io/v1", "VirtualService", "s10").await.unwrap();
    assert_eq!(vs_weights(&vs), vec![("stable".into(), 90), ("canary".into(), 10)], "the weights moved");
    assert_eq!(state(&env, "s10").await["weight"], 10);
    // Abort sends everything back to the model's Service, which still selects stable's pods.
    env.run_ok(&["abort", "s10", "--timeout", "60s"]);
}

/// Run `args` in the background, wait until `held` says its step is on the route, then `break_it`,
/// and return how the command ended and how long after the break it took.
async fn break_a_held_step<H>(
    env: &Env,
    args: &[&str],
    held: impl Fn() -> H,
    break_it: impl FnOnce(),
) -> (common::Output, Duration)
where
    H: std::future::Future<Output = bool>,
{
    let mut child = env.spawn(args);
    common::wait_for_async(Duration::from_secs(60), "the step to be held", &held).await;
    let broken = std::time::Instant::now();
    break_it();
    let stderr = child.stderr.take().unwrap();
    let (code, stderr) = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut text).unwrap();
        (child.wait().unwrap().code().unwrap_or(-1), text)
    })
    .await
    .unwrap();
    (common::Output { code, stdout: String::new(), stderr }, broken.elapsed())
}

/// Issue 11, "never route to nothing … while holding a step": a held step watches every
/// destination that has weight. The stable pods lose `modelroll.io/track` during the hold
/// (istio), or the canary is scaled to 0 by hand (gateway-api): the command stops with exit 1
/// within the hold, names the destination and what it selects, and leaves the weights as they
/// were (the next step never comes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_step_stops_when_a_destination_loses_its_ready_pods() {
    const HOLD: Duration = Duration::from_secs(60);
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "s11", 2, "registry.example/s11:v1", true).await;
    env.create(virtual_service("s11", "s11")).await;
    env.run_ok(&[
        "canary",
        "s11",
        "--image",
        "registry.example/s11:v2",
        "--weight",
        "10",
        "--timeout",
        "60s",
    ]);
    let vs =
        || async { vs_weights(&env.get("networking.istio.io/v1", "VirtualService", "s11").await.unwrap()) };
    let held = || async { vs().await == vec![("stable".to_string(), 80), ("canary".to_string(), 20)] };
    let (out, took) = break_a_held_step(
        &env,
        &["shift", "s11", "--steps", "20,60", "--interval", "60s", "--timeout", "120s"],
        held,
        || {
            env.pg
                .kubectl(&[
                    "patch",
                    "deployment/s11",
                    "--type=json",
                    "-p",
                    r#"[{"op": "remove", "path": "/spec/template/metadata/labels/modelroll.io~1track"}]"#,
                ])
                .success();
        },
    )
    .await;
    out.code(1);
    assert!(took < HOLD, "the command ran out the hold ({took:?}) instead of stopping");
    assert!(
        out.stderr.contains(&format!(
            "subset stable of destinationrule s11 (app=s11,{TRACK}=stable) no longer selects a ready pod, and gets 80% of the traffic, while deployment/s11 held 20% for the canary"
        )) && out.stderr.contains("left the weights as they are (80% stable, 20% canary)"),
        "{}",
        out.stderr
    );
    assert!(
        env.pods(&format!("app=s11,{TRACK}=stable")).await.is_empty(),
        "stable pods still carry the label"
    );
    assert_eq!(vs().await, vec![("stable".into(), 80), ("canary".into(), 20)], "the weights moved");
    assert_eq!(state(&env, "s11").await["weight"], 20);

    model(&env, "s12", 2, "registry.example/s12:v1", true).await;
    env.create(http_route("s12", "s12")).await;
    env.run_ok(&[
        "canary",
        "s12",
        "--image",
        "registry.example/s12:v2",
        "--weight",
        "10",
        "--timeout",
        "60s",
    ]);
    let route = || async {
        route_weights(&env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "s12").await.unwrap())
    };
    let held =
        || async { route().await == vec![("s12-stable".to_string(), 70), ("s12-canary".to_string(), 30)] };
    let (out, took) = break_a_held_step(
        &env,
        &["shift", "s12", "--steps", "30,60", "--interval", "60s", "--timeout", "120s"],
        held,
        || {
            env.pg.kubectl(&["scale", "deployment/s12-canary", "--replicas=0"]).success();
        },
    )
    .await;
    out.code(1);
    assert!(took < HOLD, "the command ran out the hold ({took:?}) instead of stopping");
    assert!(
        out.stderr.contains(&format!(
            "service s12-canary (app=s12,{TRACK}=canary) no longer selects a ready pod, and gets 30% of the traffic"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        route().await,
        vec![("s12-stable".into(), 70), ("s12-canary".into(), 30)],
        "the weights moved"
    );
    assert_eq!(state(&env, "s12").await["weight"], 30);
}

/// Run `args` while `pods` counts, and fail when ready pods ever fell below `floor`.
async fn run_keeping_at_least(env: &Env, pods: &ReadyPods, floor: i32, args: &[&str]) -> String {
    pods.restart();
    let stdout = env.run_ok(args);
    assert!(pods.lowest() >= floor, "{args:?}: ready pods fell to {} (below {floor})", pods.lowest());
    stdout
}

/// Capacity on every path: `shift` (held steps up and down, replicas router) and `undo`, with
/// pods that take 1.5s to get ready: the model's ready pods never fewer than when each command
/// started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_and_undo_keep_capacity_with_slow_pods() {
    let env = Env::start(Duration::from_millis(1500)).await;
    model(&env, "s13", 4, "registry.example/s13:v1", false).await;
    let pods = ReadyPods::start(env.client.clone(), NS, "app=s13").await;
    pods.wait_ready(4).await;
    let canary = ["canary", "s13", "--image", "registry.example/s13:v2", "--router", "replicas"];
    env.run_ok(&[&canary[..], &["--weight", "25", "--timeout", "60s"]].concat());
    pods.wait_ready(4).await;
    let steps = ["shift", "s13", "--steps", "50,75", "--interval", "500ms", "--timeout", "90s"];
    run_keeping_capacity(&env, &pods, &steps).await;
    assert_eq!(replicas(&env.deployment("s13").await.unwrap()), 1);
    assert_eq!(replicas(&env.deployment("s13-canary").await.unwrap()), 3);
    pods.wait_ready(4).await;
    // Down: stable grows back before the canary shrinks.
    run_keeping_capacity(&env, &pods, &["shift", "s13", "--weight", "25", "--timeout", "60s"]).await;
    assert_eq!(replicas(&env.deployment("s13").await.unwrap()), 3);
    assert_eq!(replicas(&env.deployment("s13-canary").await.unwrap()), 1);
    pods.wait_ready(4).await;
    env.run_ok(&["abort", "s13", "--timeout", "60s"]);
    pods.wait_ready(4).await;

    env.run_ok(&["set-image", "s13", "registry.example/s13:v3", "--timeout", "60s"]);
    pods.wait_ready(4).await;
    run_keeping_capacity(&env, &pods, &["undo", "s13", "--timeout", "60s"]).await;
    assert_eq!(image(&env.deployment("s13").await.unwrap()), "registry.example/s13:v1");
    assert_eq!(pods.now(), 4);
}

/// Capacity on every path, gateway-api router, pods that take 1.5s to get ready: `shift` never
/// lowers the model's ready pods, and `abort` and `promote` never lower the stable track's (it
/// takes back all traffic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_shift_abort_and_promote_keep_capacity() {
    let env = Env::start(Duration::from_millis(1500)).await;
    model(&env, "s14", 2, "registry.example/s14:v1", true).await;
    env.create(http_route("s14", "s14")).await;
    let all = ReadyPods::start(env.client.clone(), NS, "app=s14").await;
    let stable = ReadyPods::start(env.client.clone(), NS, &format!("app=s14,{TRACK}=stable")).await;
    for (image_v, end) in [("registry.example/s14:v2", "abort"), ("registry.example/s14:v3", "promote")] {
        stable.wait_ready(2).await;
        env.run_ok(&["canary", "s14", "--image", image_v, "--weight", "20", "--timeout", "60s"]);
        let steps = ["shift", "s14", "--steps", "50,100", "--interval", "500ms", "--timeout", "60s"];
        run_keeping_capacity(&env, &all, &steps).await;
        let route = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "s14").await.unwrap();
        assert_eq!(route_weights(&route), vec![("s14-stable".into(), 0), ("s14-canary".into(), 100)]);
        stable.wait_ready(2).await;
        run_keeping_capacity(&env, &stable, &[end, "s14", "--timeout", "60s"]).await;
        assert_eq!(replicas(&env.deployment("s14").await.unwrap()), 2, "after {end}");
        assert_eq!(
            image(&env.deployment("s14").await.unwrap()),
            if end == "abort" { "registry.example/s14:v1" } else { image_v }
        );
        assert!(env.deployment("s14-canary").await.is_none());
    }
}

/// Capacity on every path, knative router: a ksvc whose revisions keep 2 pods
/// (`autoscaling.knative.dev/min-scale`), pods that take 1.5s to get ready. Through `abort` the
/// stable revision keeps its ready pods; through `promote` the model never has fewer ready pods
/// than its stable revision had, and the canary revision ends with all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knative_abort_and_promote_keep_capacity() {
    let env = Env::start(Duration::from_millis(1500)).await;
    env.create(json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "k10", "namespace": NS},
        "spec": {"template": {
            "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "2"}},
            "spec": {"containers": [{"image": "registry.example/k10:v1"}]}
        }}
    }))
    .await;
    let all = ReadyPods::start(env.client.clone(), NS, "serving.knative.dev/service=k10").await;
    let first = ReadyPods::start(env.client.clone(), NS, "serving.knative.dev/revision=k10-00001").await;
    first.wait_ready(2).await;
    let ksvcs = env.api("serving.knative.dev/v1", "Service");
    common::wait_for_async(Duration::from_secs(30), "k10's first revision ready", || async {
        ksvcs.get_opt("k10").await.unwrap().is_some_and(|k| {
            k.data.pointer("/status/latestReadyRevisionName").and_then(Value::as_str) == Some("k10-00001")
        })
    })
    .await;

    env.run_ok(&[
        "canary",
        "ksvc/k10",
        "--image",
        "registry.example/k10:v2",
        "--weight",
        "50",
        "--timeout",
        "60s",
    ]);
    all.wait_ready(4).await;
    run_keeping_at_least(&env, &first, 2, &["abort", "ksvc/k10", "--timeout", "60s"]).await;
    assert_eq!(first.now(), 2);

    env.run_ok(&[
        "canary",
        "ksvc/k10",
        "--image",
        "registry.example/k10:v3",
        "--weight",
        "50",
        "--timeout",
        "60s",
    ]);
    let ksvc = env.get("serving.knative.dev/v1", "Service", "k10").await.unwrap();
    let recorded = ksvc.pointer("/metadata/annotations/modelroll.io~1rollout").and_then(Value::as_str);
    let recorded: Value = serde_json::from_str(recorded.expect("a canary state")).unwrap();
    let canary = recorded["canary"].as_str().expect("the canary revision").to_string();
    let canary_pods =
        ReadyPods::start(env.client.clone(), NS, &format!("serving.knative.dev/revision={canary}")).await;
    canary_pods.wait_ready(2).await;
    first.wait_ready(2).await;
    run_keeping_at_least(&env, &all, 2, &["promote", "ksvc/k10", "--timeout", "60s"]).await;
    let ksvc = env.get("serving.knative.dev/v1", "Service", "k10").await.unwrap();
    assert_eq!(ksvc_traffic(&ksvc).iter().map(|t| t.1).sum::<u64>(), 100, "{ksvc:#}");
    assert_eq!(canary_pods.now(), 2, "the promoted revision serves with all its pods");
}

/// (pods, ready pods) of Knative revision `revision`.
async fn revision_pods(env: &Env, revision: &str) -> (usize, usize) {
    let selector = format!("serving.knative.dev/revision={revision}");
    let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(env.client.clone(), NS);
    let pods = api.list(&ListParams::default().labels(&selector)).await.unwrap().items;
    let live: Vec<_> = pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
    let ready = live.iter().filter(|p| common::pod_ready(p)).count();
    (pods.len(), ready)
}

/// Issue 11, case 9, end to end: `undo ksvc/…` reported done before the revision it routes to
/// had a ready pod. The first revision is scaled to zero by a set-image, and its pods take 3s to
/// get ready: at the moment undo exits, the revision it rolled back to has the pods it wants
/// ready (judged by the cluster then, not by timing): one by default, and with
/// `autoscaling.knative.dev/min-scale: 2` both (wanted from the start, before Knative's
/// autoscaler says so). Status then says Healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_of_a_ksvc_is_done_only_once_its_revision_has_ready_pods() {
    let env = Env::start(Duration::from_secs(3)).await;
    for (name, min_scale) in [("k11", None), ("k12", Some(2))] {
        let mut ksvc = json!({
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"template": {"spec": {"containers": [{"image": format!("registry.example/{name}:v1")}]}}}
        });
        if let Some(n) = min_scale {
            ksvc["spec"]["template"]["metadata"] =
                json!({"annotations": {"autoscaling.knative.dev/min-scale": n.to_string()}});
        }
        env.create(ksvc).await;
        let first = format!("{name}-00001");
        let wanted = min_scale.unwrap_or(1);
        common::wait_for_async(Duration::from_secs(30), &format!("{first}'s pods ready"), || async {
            revision_pods(&env, &first).await.1 == wanted
        })
        .await;
        let ksvcs = env.api("serving.knative.dev/v1", "Service");
        common::wait_for_async(Duration::from_secs(30), &format!("{first} ready"), || async {
            ksvcs.get_opt(name).await.unwrap().is_some_and(|k| {
                k.data.pointer("/status/latestReadyRevisionName").and_then(Value::as_str)
                    == Some(first.as_str())
            })
        })
        .await;
        let target = format!("ksvc/{name}");
        env.run_ok(&["set-image", &target, &format!("registry.example/{name}:v2"), "--timeout", "60s"]);
        common::wait_for_async(Duration::from_secs(30), &format!("{first} scaled to zero"), || async {
            revision_pods(&env, &first).await.0 == 0
        })
        .await;

        env.run_ok(&["undo", &target, "--timeout", "60s"]);
        let (_, ready) = revision_pods(&env, &first).await;
        assert_eq!(ready, wanted, "undo was done with {ready}/{wanted} pods of {first} ready");
        let ksvc = env.get("serving.knative.dev/v1", "Service", name).await.unwrap();
        assert_eq!(ksvc["status"]["latestReadyRevisionName"], first.as_str());
        let status: Value = serde_json::from_str(&env.run_ok(&["status", &target, "-o", "json"])).unwrap();
        assert_eq!(status["phase"], "Healthy", "{status:#}");
    }
}

/// Issue 11, case 3, the race the stripping leaves: a copy of the canary record that lands on a
/// ReplicaSet after promote stripped them (the deployment controller acting on an older read)
/// comes back with `kubectl rollout undo`. The record names its canary Deployment by uid, so the
/// copy is known stale once that canary is gone: status shows no canary, and undo and a new
/// canary are not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_copy_of_the_record_is_recognised_by_the_canary_uid() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "s15", 2, "registry.example/s15:v1", false).await;
    let canary = ["canary", "s15", "--router", "replicas", "--weight", "50", "--timeout", "60s"];
    env.run_ok(&[&canary[..], &["--image", "registry.example/s15:v2"]].concat());
    let record = env.annotation("s15").await.expect("a canary record");
    let uid = env.deployment("s15-canary").await.unwrap()["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(serde_json::from_str::<Value>(&record).unwrap()["canaryUid"], uid.as_str(), "{record}");
    env.run_ok(&["promote", "s15", "--timeout", "60s"]);
    assert!(env.deployment("s15-canary").await.is_none());

    // The late copy: the record as it was during the canary, on the ReplicaSet of v1.
    let replica_sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::namespaced(env.client.clone(), NS);
    let v1 = replica_sets
        .list(&ListParams::default().labels("app=s15"))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .and_then(|t| t.spec.as_ref())
                .is_some_and(|s| s.containers[0].image.as_deref() == Some("registry.example/s15:v1"))
        })
        .and_then(|rs| rs.metadata.name)
        .expect("the ReplicaSet of v1");
    env.pg
        .kubectl(&["annotate", &format!("replicaset/{v1}"), &format!("modelroll.io/rollout={record}")])
        .success();
    env.pg.kubectl(&["rollout", "undo", "deployment/s15"]).success();
    env.wait_rolled_out("s15").await;
    assert_eq!(image(&env.deployment("s15").await.unwrap()), "registry.example/s15:v1");
    assert_eq!(env.annotation("s15").await, Some(record), "the rollback did not copy the record back");

    let status: Value = serde_json::from_str(&env.run_ok(&["status", "s15", "-o", "json"])).unwrap();
    assert_eq!(status["phase"], "Healthy", "{status:#}");
    assert!(status.get("canary").is_none(), "{status:#}");
    let list: Value = serde_json::from_str(&env.run_ok(&["list", "-o", "json"])).unwrap();
    let row = list["items"].as_array().unwrap().iter().find(|r| r["name"] == "deployment/s15").cloned();
    // Listed as Healthy, or not at all (nothing marks it as modelroll's after the rollback):
    // never as a canary.
    assert!(row.is_none_or(|r| r["phase"] == "Healthy"), "{list:#}");
    env.run_ok(&["undo", "s15", "--timeout", "60s"]);
    assert_eq!(image(&env.deployment("s15").await.unwrap()), "registry.example/s15:v2");
    env.run_ok(&[&canary[..], &["--image", "registry.example/s15:v3"]].concat());
    let status: Value = serde_json::from_str(&env.run_ok(&["status", "s15", "-o", "json"])).unwrap();
    assert!(status.get("canary").is_some(), "the new canary is not shown: {status:#}");
    let record: Value = serde_json::from_str(&env.annotation("s15").await.unwrap()).unwrap();
    let uid = env.deployment("s15-canary").await.unwrap()["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(record["canaryUid"], uid.as_str());
    env.run_ok(&["abort", "s15", "--timeout", "60s"]);
}
