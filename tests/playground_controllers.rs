//! Integration tests: playground_controllers. Real `kubectl` (and kube-rs) against an in-process
//! playground: scaling, rolling updates and rollbacks, cascading deletes, GPU scheduling,
//! progress deadlines, pod transitions seen by a watcher, EndpointSlices and Knative Services.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use modelroll::playground::resources::{DEPLOYMENTS, ENDPOINTSLICES, EVENTS, PODS, REPLICASETS};
use modelroll::playground::{Playground, PlaygroundConfig, ResourceRef, Store};
use serde_json::Value;

const KSERVICES: ResourceRef = ResourceRef::of("serving.knative.dev", "v1", "services");
const REVISIONS: ResourceRef = ResourceRef::of("serving.knative.dev", "v1", "revisions");

/// Long enough for a loaded CI machine; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn kubectl_path() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBECTL") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("kubectl")).find(|p| p.is_file()))
        .expect("these tests need a real kubectl: set $KUBECTL or put kubectl on PATH")
}

async fn start(config: PlaygroundConfig) -> Playground {
    Playground::start(PlaygroundConfig { ready_after: Duration::from_millis(300), ..config })
        .await
        .expect("the playground starts")
}

async fn kubectl(pg: &Playground, args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut command = tokio::process::Command::new(kubectl_path());
    command.arg("--kubeconfig").arg(&pg.kubeconfig_path).args(args);
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("kubectl runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.expect("write stdin");
    }
    drop(input);
    child.wait_with_output().await.expect("kubectl finishes")
}

/// `kubectl apply -f -` of a manifest, which must succeed.
async fn apply(pg: &Playground, manifest: &str) -> String {
    expect_success(&["apply", "-f", "-"], kubectl(pg, &["apply", "-f", "-"], Some(manifest)).await)
}

/// Run kubectl and require success; returns stdout.
async fn kubectl_ok(pg: &Playground, args: &[&str]) -> String {
    expect_success(args, kubectl(pg, args, None).await)
}

fn expect_success(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl {} failed: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wait, on the store's own events (no polling), until `check` returns something.
async fn wait_for<T>(store: &Store, what: &str, mut check: impl FnMut(&Store) -> Option<T>) -> T {
    let mut events = store.subscribe();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check(store) {
            return found;
        }
        if tokio::time::timeout_at(deadline, events.recv()).await.is_err() {
            panic!("gave up after {PATIENCE:?} waiting for {what}");
        }
    }
}

fn get(store: &Store, resource: &ResourceRef, name: &str) -> Option<Value> {
    store.get(resource, "default", name).ok()
}

fn labelled(store: &Store, resource: &ResourceRef, key: &str, value: &str) -> Vec<Value> {
    store
        .list_matching(resource, "default", |o| o["metadata"]["labels"][key].as_str() == Some(value))
        .map(|l| l.items.into_iter().map(|v| v.as_ref().clone()).collect())
        .unwrap_or_default()
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn deployment_yaml(name: &str, replicas: u32, image: &str, extra_spec: &str, resources: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    kubernetes.io/change-cause: first release
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
{extra_spec}  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: model
        image: {image}
        ports: [{{name: http, containerPort: 8080}}]
{resources}"
    )
}

fn events_for(store: &Store, name: &str) -> Vec<Value> {
    store
        .list_matching(&EVENTS, "default", |e| e["involvedObject"]["name"].as_str() == Some(name))
        .map(|l| l.items.into_iter().map(|v| v.as_ref().clone()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_set_image_rollout_undo_history_and_cascade() {
    let pg = start(PlaygroundConfig::default()).await;
    let store = pg.store.clone();
    apply(&pg, &deployment_yaml("web", 2, "registry.local/model:v1", "", "")).await;
    kubectl_ok(&pg, &["wait", "--for=condition=Available", "deployment/web", "--timeout=60s"]).await;
    let d = get(&store, &DEPLOYMENTS, "web").unwrap();
    assert_eq!(d["status"]["readyReplicas"], 2);
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");

    // Pods are Running and Ready, with IPs, conditions and an owner.
    let pods = labelled(&store, &PODS, "app", "web");
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        assert_eq!(pod["status"]["phase"], "Running");
        assert!(pod["status"]["podIP"].as_str().unwrap().starts_with("10.244."));
        for type_ in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
            assert_eq!(condition(pod, type_).unwrap()["status"], "True", "{type_}");
        }
        let owner = &pod["metadata"]["ownerReferences"][0];
        assert_eq!((owner["kind"].as_str(), owner["controller"].as_bool()), (Some("ReplicaSet"), Some(true)));
        let hash = pod["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
        assert_eq!(owner["name"].as_str().unwrap(), format!("web-{hash}"));
    }

    // scale
    kubectl_ok(&pg, &["scale", "deployment/web", "--replicas=3"]).await;
    wait_for(&store, "3 ready replicas", |s| {
        (get(s, &DEPLOYMENTS, "web")?["status"]["readyReplicas"] == 3).then_some(())
    })
    .await;

    // set image + rollout status
    // As on a real cluster, the change cause goes on after the change: the controller copies
    // the Deployment's annotations to the current new ReplicaSet on every sync.
    kubectl_ok(&pg, &["set", "image", "deployment/web", "model=registry.local/model:v2"]).await;
    kubectl_ok(
        &pg,
        &["annotate", "deployment/web", "kubernetes.io/change-cause=second release", "--overwrite"],
    )
    .await;
    let status = kubectl_ok(&pg, &["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(status.contains("successfully rolled out"), "{status}");
    let d = get(&store, &DEPLOYMENTS, "web").unwrap();
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    let progressing = condition(&d, "Progressing").unwrap();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        (d["status"]["updatedReplicas"].as_i64(), d["status"]["availableReplicas"].as_i64()),
        (Some(3), Some(3))
    );
    let scaling: Vec<String> = events_for(&store, "web")
        .iter()
        .filter(|e| e["reason"] == "ScalingReplicaSet")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        scaling.iter().any(|m| m.starts_with("Scaled down replica set web-") && m.ends_with(" from 3 to 2")),
        "{scaling:?}"
    );

    // history and undo
    let history = kubectl_ok(&pg, &["rollout", "history", "deployment/web"]).await;
    assert!(
        history.contains("1         first release") && history.contains("2         second release"),
        "{history}"
    );
    kubectl_ok(&pg, &["rollout", "undo", "deployment/web"]).await;
    kubectl_ok(&pg, &["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let d = get(&store, &DEPLOYMENTS, "web").unwrap();
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "registry.local/model:v1");
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    let replica_sets = labelled(&store, &REPLICASETS, "app", "web");
    assert_eq!(replica_sets.len(), 2, "the rollback reused the first ReplicaSet");
    let v1 = replica_sets
        .iter()
        .find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/model:v1")
        .unwrap();
    assert_eq!(v1["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    assert_eq!(v1["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"], "1");
    let history = kubectl_ok(&pg, &["rollout", "history", "deployment/web"]).await;
    assert!(history.contains("\n2 ") && history.contains("\n3 ") && !history.contains("\n1 "), "{history}");

    // EndpointSlices follow the ready pods of a Service.
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n";
    apply(&pg, service).await;
    let slice = wait_for(&store, "an EndpointSlice with 3 ready endpoints", |s| {
        let slices = labelled(s, &ENDPOINTSLICES, "kubernetes.io/service-name", "web");
        let slice = slices.first()?.clone();
        let ready =
            slice["endpoints"].as_array()?.iter().filter(|e| e["conditions"]["ready"] == true).count();
        (ready == 3).then_some(slice)
    })
    .await;
    assert_eq!(slice["ports"][0]["port"], 8080);
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");

    // delete with the default (background) cascade removes the ReplicaSets and pods
    kubectl_ok(&pg, &["delete", "deployment/web"]).await;
    wait_for(&store, "no ReplicaSets or pods left", |s| {
        (labelled(s, &REPLICASETS, "app", "web").is_empty() && labelled(s, &PODS, "app", "web").is_empty())
            .then_some(())
    })
    .await;
    wait_for(&store, "an empty EndpointSlice", |s| {
        let slices = labelled(s, &ENDPOINTSLICES, "kubernetes.io/service-name", "web");
        slices.first()?["endpoints"].as_array().is_none_or(|e| e.is_empty()).then_some(())
    })
    .await;
    pg.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_and_orphan_cascades() {
    let pg = start(PlaygroundConfig::default()).await;
    let store = pg.store.clone();
    apply(&pg, &deployment_yaml("fg", 1, "model:v1", "", "")).await;
    apply(&pg, &deployment_yaml("orphaned", 1, "model:v1", "", "")).await;
    kubectl_ok(
        &pg,
        &["wait", "--for=condition=Available", "deployment/fg", "deployment/orphaned", "--timeout=60s"],
    )
    .await;
    kubectl_ok(&pg, &["delete", "deployment/fg", "--cascade=foreground", "--timeout=60s"]).await;
    assert!(get(&store, &DEPLOYMENTS, "fg").is_none(), "kubectl waits until the owner is gone");
    assert!(labelled(&store, &REPLICASETS, "app", "fg").is_empty(), "foreground: dependents first");
    kubectl_ok(&pg, &["delete", "deployment/orphaned", "--cascade=orphan"]).await;
    let rs = wait_for(&store, "an orphaned ReplicaSet", |s| {
        let rs = labelled(s, &REPLICASETS, "app", "orphaned").pop()?;
        (get(s, &DEPLOYMENTS, "orphaned").is_none()
            && rs["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty()))
        .then_some(rs)
    })
    .await;
    assert_eq!(rs["spec"]["replicas"], 1, "orphans keep running");
    pg.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_surge_pod_stays_unschedulable_with_the_real_message() {
    let pg = start(PlaygroundConfig { nodes: 3, gpus_per_node: 4, ..Default::default() }).await;
    let store = pg.store.clone();
    let strategy =
        "  strategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n";
    let resources = "        resources:\n          limits: {nvidia.com/gpu: 2}\n";
    apply(&pg, &deployment_yaml("llm", 6, "model:v1", strategy, resources)).await;
    kubectl_ok(&pg, &["wait", "--for=condition=Available", "deployment/llm", "--timeout=60s"]).await;
    wait_for(&store, "6 ready replicas", |s| {
        (get(s, &DEPLOYMENTS, "llm")?["status"]["readyReplicas"] == 6).then_some(())
    })
    .await;
    let nodes: BTreeSet<String> = labelled(&store, &PODS, "app", "llm")
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nodes.len(), 3, "two pods per node");

    kubectl_ok(&pg, &["set", "image", "deployment/llm", "model=model:v2"]).await;
    let message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    let surge = wait_for(&store, "an unschedulable surge pod", |s| {
        labelled(s, &PODS, "app", "llm")
            .into_iter()
            .find(|p| condition(p, "PodScheduled").is_some_and(|c| c["status"] == "False"))
    })
    .await;
    let scheduled = condition(&surge, "PodScheduled").unwrap();
    assert_eq!(
        (scheduled["reason"].as_str(), scheduled["message"].as_str()),
        (Some("Unschedulable"), Some(message))
    );
    assert_eq!(surge["status"]["phase"], "Pending");
    let name = surge["metadata"]["name"].as_str().unwrap();
    let events = wait_for(&store, "a FailedScheduling event", |s| {
        let events = events_for(s, name);
        events.iter().any(|e| e["reason"] == "FailedScheduling").then_some(events)
    })
    .await;
    let failed = events.iter().find(|e| e["reason"] == "FailedScheduling").unwrap();
    assert_eq!((failed["type"].as_str(), failed["message"].as_str()), (Some("Warning"), Some(message)));
    let described =
        kubectl_ok(&pg, &["get", "pod", name, "-o", "jsonpath={.status.conditions[0].reason}"]).await;
    assert_eq!(described, "Unschedulable");
    // maxUnavailable 0: no old pod goes while the surge pod cannot run.
    let d = get(&store, &DEPLOYMENTS, "llm").unwrap();
    assert_eq!(d["status"]["availableReplicas"], 6);
    assert_eq!(labelled(&store, &PODS, "app", "llm").len(), 7);
    // Capacity frees: scale down by one and the surge pod gets a node.
    kubectl_ok(&pg, &["scale", "deployment/llm", "--replicas=5"]).await;
    kubectl_ok(&pg, &["rollout", "status", "deployment/llm", "--timeout=60s"]).await;
    pg.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashloop_rollout_exceeds_its_progress_deadline() {
    let pg = start(PlaygroundConfig::default()).await;
    let store = pg.store.clone();
    let extra =
        "  progressDeadlineSeconds: 3\n  strategy:\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n";
    apply(&pg, &deployment_yaml("crashy", 2, "model:v1", extra, "")).await;
    kubectl_ok(&pg, &["rollout", "status", "deployment/crashy", "--timeout=60s"]).await;
    kubectl_ok(&pg, &["set", "image", "deployment/crashy", "model=model:v2-crashloop"]).await;
    let out = kubectl(&pg, &["rollout", "status", "deployment/crashy", "--timeout=60s"], None).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("deployment \"crashy\" exceeded its progress deadline"), "{stderr}");
    let d = get(&store, &DEPLOYMENTS, "crashy").unwrap();
    let progressing = condition(&d, "Progressing").unwrap();
    assert_eq!(
        (progressing["status"].as_str(), progressing["reason"].as_str()),
        (Some("False"), Some("ProgressDeadlineExceeded"))
    );
    let new_rs = labelled(&store, &REPLICASETS, "app", "crashy")
        .into_iter()
        .find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == "model:v2-crashloop")
        .unwrap();
    let new_rs_name = new_rs["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(
        progressing["message"].as_str().unwrap(),
        format!("ReplicaSet \"{new_rs_name}\" has timed out progressing.")
    );
    assert_eq!(d["status"]["availableReplicas"], 2, "the old pods keep serving");
    let crashing = wait_for(&store, "a crashlooping pod restarted twice", |s| {
        labelled(s, &PODS, "app", "crashy")
            .into_iter()
            .find(|p| p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2))
    })
    .await;
    assert_eq!(condition(&crashing, "Ready").unwrap()["status"], "False");
    assert_eq!(crashing["status"]["phase"], "Running");
    pg.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_every_pod_transition_of_a_rollout() {
    use futures::StreamExt;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::watcher;

    let pg = start(PlaygroundConfig::default()).await;
    let store = pg.store.clone();
    let extra = "  strategy:\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n";
    apply(&pg, &deployment_yaml("watched", 2, "model:v1", extra, "")).await;
    kubectl_ok(&pg, &["rollout", "status", "deployment/watched", "--timeout=60s"]).await;

    let kubeconfig = kube::config::Kubeconfig::read_from(&pg.kubeconfig_path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let old: BTreeSet<String> = labelled(&store, &PODS, "app", "watched")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();

    // Record, per pod, the distinct states the watcher reports.
    let stream = watcher(pods, watcher::Config::default().labels("app=watched"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<String, Vec<String>>::new()));
    let recorder = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                let (pods, deleted) = match event {
                    Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => (vec![p], false),
                    Ok(watcher::Event::Delete(p)) => (vec![p], true),
                    _ => continue,
                };
                for pod in pods {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    let status = pod.status.clone().unwrap_or_default();
                    let ready =
                        status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
                    let state = if deleted {
                        "Deleted".to_string()
                    } else if pod.metadata.deletion_timestamp.is_some() {
                        "Terminating".to_string()
                    } else {
                        format!(
                            "{}{}",
                            status.phase.unwrap_or_else(|| "-".into()),
                            if ready { "+Ready" } else { "" }
                        )
                    };
                    let mut seen = seen.lock().unwrap();
                    let states = seen.entry(name).or_default();
                    if states.last() != Some(&state) {
                        states.push(state);
                    }
                }
            }
        })
    };
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "model", "image": "model:v2"}]}}}});
    deployments.patch("watched", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    kubectl_ok(&pg, &["rollout", "status", "deployment/watched", "--timeout=60s"]).await;
    wait_for(&store, "the old pods gone", |s| {
        let now: BTreeSet<String> = labelled(s, &PODS, "app", "watched")
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        now.is_disjoint(&old).then_some(())
    })
    .await;
    // The watcher may trail the store a little: wait until it has seen the old pods deleted.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let done = old.iter().all(|name| {
            seen.lock().unwrap().get(name).is_some_and(|s| s.last().map(String::as_str) == Some("Deleted"))
        });
        if done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher never saw the old pods deleted: {:?}",
            seen.lock().unwrap()
        );
        let mut events = store.subscribe();
        let _ = tokio::time::timeout(Duration::from_millis(200), events.recv()).await;
    }
    recorder.abort();
    let seen = seen.lock().unwrap().clone();
    for name in &old {
        let states = &seen[name];
        let tail: Vec<&str> = states.iter().map(String::as_str).rev().take(2).collect();
        assert_eq!(tail, vec!["Deleted", "Terminating"], "{name}: {states:?}");
    }
    let new: Vec<(&String, &Vec<String>)> = seen.iter().filter(|(name, _)| !old.contains(*name)).collect();
    assert_eq!(new.len(), 2, "{seen:?}");
    for (name, states) in new {
        let position = |s: &str| {
            states.iter().position(|x| x == s).unwrap_or_else(|| panic!("{name} never {s}: {states:?}"))
        };
        assert!(position("Pending") < position("Running"), "{name}: {states:?}");
        assert!(position("Running") < position("Running+Ready"), "{name}: {states:?}");
    }
    pg.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knative_service_revisions_and_traffic_split() {
    let crds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/crds/knative-serving");
    let crd_dirs = if crds.is_dir() { vec![crds] } else { Vec::new() };
    let with = if crd_dirs.is_empty() { vec!["knative".to_string()] } else { Vec::new() };
    let pg = start(PlaygroundConfig { crd_dirs, with, ..Default::default() }).await;
    let store = pg.store.clone();
    let ksvc = |image: &str, traffic: &str| {
        format!(
            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {{name: model}}\nspec:\n  template:\n    spec:\n      containers: [{{image: {image}}}]\n{traffic}"
        )
    };
    apply(&pg, &ksvc("model:v1", "")).await;
    kubectl_ok(&pg, &["wait", "--for=condition=Ready", "ksvc/model", "--timeout=60s"]).await;
    let first = get(&store, &KSERVICES, "model").unwrap();
    assert_eq!(first["status"]["latestReadyRevisionName"], "model-00001");
    assert_eq!(first["status"]["url"], "http://model.default.example.com");
    assert_eq!(first["status"]["traffic"][0]["revisionName"], "model-00001");
    assert_eq!(first["status"]["traffic"][0]["percent"], 100);
    assert!(get(&store, &DEPLOYMENTS, "model-00001-deployment").is_some());

    let split = "  traffic:\n  - {revisionName: model-00001, percent: 80}\n  - {latestRevision: true, percent: 20, tag: canary}\n";
    apply(&pg, &ksvc("model:v2", split)).await;
    let status = wait_for(&store, "the split resolved to two ready revisions", |s| {
        let ksvc = get(s, &KSERVICES, "model")?;
        let ready = condition(&ksvc, "Ready")?["status"] == "True"
            && ksvc["status"]["latestReadyRevisionName"] == "model-00002";
        ready.then(|| ksvc["status"].clone())
    })
    .await;
    assert_eq!(status["latestCreatedRevisionName"], "model-00002");
    assert_eq!(status["observedGeneration"], 2);
    let traffic = status["traffic"].as_array().unwrap();
    assert_eq!(
        traffic[0],
        serde_json::json!({"revisionName": "model-00001", "latestRevision": false, "percent": 80})
    );
    assert_eq!(
        traffic[1],
        serde_json::json!({"revisionName": "model-00002", "latestRevision": true, "percent": 20, "tag": "canary", "url": "http://canary-model.default.example.com"})
    );
    let types: Vec<&str> =
        status["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["ConfigurationsReady", "Ready", "RoutesReady"]);
    assert_eq!(labelled(&store, &REVISIONS, "serving.knative.dev/service", "model").len(), 2);
    assert!(get(&store, &DEPLOYMENTS, "model-00002-deployment").is_some());

    // A split that does not add up is refused by the webhook, and nothing changes.
    let bad =
        "  traffic:\n  - {revisionName: model-00001, percent: 50}\n  - {latestRevision: true, percent: 40}\n";
    let out = kubectl(&pg, &["apply", "-f", "-"], Some(&ksvc("model:v2", bad))).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "admission webhook \"validation.webhook.serving.knative.dev\" denied the request: validation failed: Traffic targets sum to 90, want 100: spec.traffic"
        ),
        "{stderr}"
    );
    assert_eq!(get(&store, &KSERVICES, "model").unwrap()["metadata"]["generation"], 2);
    pg.stop();
}
