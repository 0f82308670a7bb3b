//! Integration tests: playground_controllers. Real `kubectl` (and kube-rs) against an in-process
//! playground: scaling, rolling updates and rollbacks, cascading deletes, GPU scheduling,
//! progress deadlines, pod transitions seen by a watcher, EndpointSlices and Knative Services.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::common::resources::{DEPLOYMENTS, ENDPOINTSLICES, EVENTS, PODS, REPLICASETS};
use crate::common::{wait_for, Options, Playground, Store};
use modelroll::playground::ResourceRef;

const KSERVICES: ResourceRef = ResourceRef::of("serving.knative.dev", "v1", "services");
const REVISIONS: ResourceRef = ResourceRef::of("serving.knative.dev", "v1", "revisions");

/// Long enough for a loaded CI machine; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// `kubectl apply -f -` of a manifest, which must succeed.
fn apply(pg: &Playground, manifest: &str) {
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(manifest)).success();
}

/// Run kubectl and require success; returns stdout.
fn kubectl_ok(pg: &Playground, args: &[&str]) -> String {
    pg.kubectl(args).success().stdout.clone()
}

/// Wait until `check` finds something, and return it.
#[track_caller]
fn wait_until<T>(store: &Store, what: &str, mut check: impl FnMut(&Store) -> Option<T>) -> T {
    let mut found = None;
    wait_for(PATIENCE, what, || {
        found = check(store);
        found.is_some()
    });
    found.expect("wait_for returned once found")
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

#[test]
fn kubectl_scale_set_image_rollout_undo_history_and_cascade() {
    let pg = Playground::start();
    let store = pg.store().clone();
    apply(&pg, &deployment_yaml("web", 2, "registry.local/model:v1", "", ""));
    kubectl_ok(&pg, &["wait", "--for=condition=Available", "deployment/web", "--timeout=60s"]);
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
    kubectl_ok(&pg, &["scale", "deployment/web", "--replicas=3"]);
    wait_until(&store, "3 ready replicas", |s| {
        (get(s, &DEPLOYMENTS, "web")?["status"]["readyReplicas"] == 3).then_some(())
    });

    // set image + rollout status
    // As on a real cluster, the change cause goes on after the change: the controller copies
    // the Deployment's annotations to the current new ReplicaSet on every sync.
    kubectl_ok(&pg, &["set", "image", "deployment/web", "model=registry.local/model:v2"]);
    kubectl_ok(
        &pg,
        &["annotate", "deployment/web", "kubernetes.io/change-cause=second release", "--overwrite"],
    );
    let status = kubectl_ok(&pg, &["rollout", "status", "deployment/web", "--timeout=60s"]);
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
    let history = kubectl_ok(&pg, &["rollout", "history", "deployment/web"]);
    assert!(
        history.contains("1         first release") && history.contains("2         second release"),
        "{history}"
    );
    kubectl_ok(&pg, &["rollout", "undo", "deployment/web"]);
    kubectl_ok(&pg, &["rollout", "status", "deployment/web", "--timeout=60s"]);
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
    let history = kubectl_ok(&pg, &["rollout", "history", "deployment/web"]);
    assert!(history.contains("\n2 ") && history.contains("\n3 ") && !history.contains("\n1 "), "{history}");

    // EndpointSlices follow the ready pods of a Service.
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n";
    apply(&pg, service);
    let slice = wait_until(&store, "an EndpointSlice with 3 ready endpoints", |s| {
        let slices = labelled(s, &ENDPOINTSLICES, "kubernetes.io/service-name", "web");
        let slice = slices.first()?.clone();
        let ready =
            slice["endpoints"].as_array()?.iter().filter(|e| e["conditions"]["ready"] == true).count();
        (ready == 3).then_some(slice)
    });
    assert_eq!(slice["ports"][0]["port"], 8080);
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");

    // delete with the default (background) cascade removes the ReplicaSets and pods
    kubectl_ok(&pg, &["delete", "deployment/web"]);
    wait_until(&store, "no ReplicaSets or pods left", |s| {
        (labelled(s, &REPLICASETS, "app", "web").is_empty() && labelled(s, &PODS, "app", "web").is_empty())
            .then_some(())
    });
    wait_until(&store, "an empty EndpointSlice", |s| {
        let slices = labelled(s, &ENDPOINTSLICES, "kubernetes.io/service-name", "web");
        slices.first()?["endpoints"].as_array().is_none_or(|e| e.is_empty()).then_some(())
    });
}

#[test]
fn foreground_and_orphan_cascades() {
    let pg = Playground::start();
    let store = pg.store().clone();
    apply(&pg, &deployment_yaml("fg", 1, "model:v1", "", ""));
    apply(&pg, &deployment_yaml("orphaned", 1, "model:v1", "", ""));
    kubectl_ok(
        &pg,
        &["wait", "--for=condition=Available", "deployment/fg", "deployment/orphaned", "--timeout=60s"],
    );
    kubectl_ok(&pg, &["delete", "deployment/fg", "--cascade=foreground", "--timeout=60s"]);
    assert!(get(&store, &DEPLOYMENTS, "fg").is_none(), "kubectl waits until the owner is gone");
    assert!(labelled(&store, &REPLICASETS, "app", "fg").is_empty(), "foreground: dependents first");
    kubectl_ok(&pg, &["delete", "deployment/orphaned", "--cascade=orphan"]);
    let rs = wait_until(&store, "an orphaned ReplicaSet", |s| {
        let rs = labelled(s, &REPLICASETS, "app", "orphaned").pop()?;
        (get(s, &DEPLOYMENTS, "orphaned").is_none()
            && rs["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty()))
        .then_some(rs)
    });
    assert_eq!(rs["spec"]["replicas"], 1, "orphans keep running");
    let pod = labelled(&store, &PODS, "app", "orphaned").pop().unwrap();

    // Re-created, the Deployment adopts its old ReplicaSet (same template) and the pod stays.
    apply(&pg, &deployment_yaml("orphaned", 1, "model:v1", "", ""));
    kubectl_ok(&pg, &["rollout", "status", "deployment/orphaned", "--timeout=60s"]);
    let d = get(&store, &DEPLOYMENTS, "orphaned").unwrap();
    let replica_sets = labelled(&store, &REPLICASETS, "app", "orphaned");
    assert_eq!(replica_sets.len(), 1, "adopted, not duplicated");
    assert_eq!(replica_sets[0]["metadata"]["ownerReferences"][0]["uid"], d["metadata"]["uid"]);
    let pods = labelled(&store, &PODS, "app", "orphaned");
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["metadata"]["uid"], pod["metadata"]["uid"], "the same pod keeps running");

    // A pod relabelled out of its ReplicaSet is released and replaced.
    let name = pods[0]["metadata"]["name"].as_str().unwrap().to_string();
    kubectl_ok(&pg, &["label", "pod", &name, "app=quarantined", "--overwrite"]);
    let replacement = wait_until(&store, "a replacement pod", |s| {
        labelled(s, &PODS, "app", "orphaned")
            .into_iter()
            .find(|p| p["metadata"]["name"].as_str() != Some(name.as_str()))
    });
    assert!(replacement["metadata"]["name"]
        .as_str()
        .unwrap()
        .starts_with(replica_sets[0]["metadata"]["name"].as_str().unwrap()));
    let released = get(&store, &PODS, &name).unwrap();
    assert!(
        released["metadata"]["ownerReferences"].as_array().is_none_or(|r| r.is_empty()),
        "released: {released}"
    );
}

#[test]
fn gpu_surge_pod_stays_unschedulable_with_the_real_message() {
    let pg = Playground::start_with(Options { nodes: 3, gpus_per_node: 4, ..Default::default() });
    let store = pg.store().clone();
    let strategy =
        "  strategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n";
    let resources = "        resources:\n          limits: {nvidia.com/gpu: 2}\n";
    apply(&pg, &deployment_yaml("llm", 6, "model:v1", strategy, resources));
    kubectl_ok(&pg, &["wait", "--for=condition=Available", "deployment/llm", "--timeout=60s"]);
    wait_until(&store, "6 ready replicas", |s| {
        (get(s, &DEPLOYMENTS, "llm")?["status"]["readyReplicas"] == 6).then_some(())
    });
    let nodes: BTreeSet<String> = labelled(&store, &PODS, "app", "llm")
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nodes.len(), 3, "two pods per node");

    kubectl_ok(&pg, &["set", "image", "deployment/llm", "model=model:v2"]);
    let message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    let surge = wait_until(&store, "an unschedulable surge pod", |s| {
        labelled(s, &PODS, "app", "llm")
            .into_iter()
            .find(|p| condition(p, "PodScheduled").is_some_and(|c| c["status"] == "False"))
    });
    let scheduled = condition(&surge, "PodScheduled").unwrap();
    assert_eq!(
        (scheduled["reason"].as_str(), scheduled["message"].as_str()),
        (Some("Unschedulable"), Some(message))
    );
    assert_eq!(surge["status"]["phase"], "Pending");
    let name = surge["metadata"]["name"].as_str().unwrap();
    let events = wait_until(&store, "a FailedScheduling event", |s| {
        let events = events_for(s, name);
        events.iter().any(|e| e["reason"] == "FailedScheduling").then_some(events)
    });
    let failed = events.iter().find(|e| e["reason"] == "FailedScheduling").unwrap();
    assert_eq!((failed["type"].as_str(), failed["message"].as_str()), (Some("Warning"), Some(message)));
    let described = kubectl_ok(&pg, &["get", "pod", name, "-o", "jsonpath={.status.conditions[0].reason}"]);
    assert_eq!(described, "Unschedulable");
    // maxUnavailable 0: no old pod goes while the surge pod cannot run.
    let d = get(&store, &DEPLOYMENTS, "llm").unwrap();
    assert_eq!(d["status"]["availableReplicas"], 6);
    assert_eq!(labelled(&store, &PODS, "app", "llm").len(), 7);
    // Capacity frees: scale down by one and the surge pod gets a node.
    kubectl_ok(&pg, &["scale", "deployment/llm", "--replicas=5"]);
    kubectl_ok(&pg, &["rollout", "status", "deployment/llm", "--timeout=60s"]);
}

#[test]
fn crashloop_rollout_exceeds_its_progress_deadline() {
    let pg = Playground::start();
    let store = pg.store().clone();
    let extra =
        "  progressDeadlineSeconds: 3\n  strategy:\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n";
    apply(&pg, &deployment_yaml("crashy", 2, "model:v1", extra, ""));
    kubectl_ok(&pg, &["rollout", "status", "deployment/crashy", "--timeout=60s"]);
    kubectl_ok(&pg, &["set", "image", "deployment/crashy", "model=model:v2-crashloop"]);
    let out = pg.kubectl(&["rollout", "status", "deployment/crashy", "--timeout=60s"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    let stderr = &out.stderr;
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
    let crashing = wait_until(&store, "a crashlooping pod restarted twice", |s| {
        labelled(s, &PODS, "app", "crashy")
            .into_iter()
            .find(|p| p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2))
    });
    assert_eq!(condition(&crashing, "Ready").unwrap()["status"], "False");
    assert_eq!(crashing["status"]["phase"], "Running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_every_pod_transition_of_a_rollout() {
    use futures::StreamExt;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::watcher;

    let pg = Playground::start();
    let store = pg.store().clone();
    let extra = "  strategy:\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n";
    tokio::task::block_in_place(|| {
        apply(&pg, &deployment_yaml("watched", 2, "model:v1", extra, ""));
        kubectl_ok(&pg, &["rollout", "status", "deployment/watched", "--timeout=60s"]);
    });
    let client = pg.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let names = |s: &Store| -> BTreeSet<String> {
        labelled(s, &PODS, "app", "watched")
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let old = names(&store);

    // Record, per pod, the distinct states the watcher reports, until the old pods are deleted.
    let mut stream = std::pin::pin!(watcher(pods, watcher::Config::default().labels("app=watched")));
    let mut seen = BTreeMap::<String, Vec<String>>::new();
    let observe = |event: watcher::Event<Pod>, seen: &mut BTreeMap<String, Vec<String>>| {
        let (pod, deleted) = match event {
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) => (p, false),
            watcher::Event::Delete(p) => (p, true),
            _ => return,
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
        let state = if deleted {
            "Deleted".to_string()
        } else if pod.metadata.deletion_timestamp.is_some() {
            "Terminating".to_string()
        } else {
            format!("{}{}", status.phase.unwrap_or_else(|| "-".into()), if ready { "+Ready" } else { "" })
        };
        let states = seen.entry(name).or_default();
        if states.last() != Some(&state) {
            states.push(state);
        }
    };
    // The initial list: the old pods, ready.
    while !old.iter().all(|n| seen.contains_key(n)) {
        let event = tokio::time::timeout(PATIENCE, stream.next())
            .await
            .expect("watch events")
            .expect("watch open")
            .unwrap();
        observe(event, &mut seen);
    }
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "model", "image": "model:v2"}]}}}});
    deployments.patch("watched", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    let all_old_deleted = |seen: &BTreeMap<String, Vec<String>>| {
        old.iter().all(|n| seen.get(n).and_then(|s| s.last()).map(String::as_str) == Some("Deleted"))
    };
    let new_ready = |seen: &BTreeMap<String, Vec<String>>| {
        seen.iter()
            .filter(|(n, s)| !old.contains(*n) && s.last().map(String::as_str) == Some("Running+Ready"))
            .count()
    };
    while !(all_old_deleted(&seen) && new_ready(&seen) == 2) {
        let event = tokio::time::timeout(PATIENCE, stream.next())
            .await
            .unwrap_or_else(|_| panic!("the rollout stalled: {seen:?}"));
        observe(event.expect("watch open").unwrap(), &mut seen);
    }
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
}

#[test]
fn knative_service_revisions_and_traffic_split_with_the_real_crds() {
    knative_service_revisions_and_traffic_split(Playground::start_with(Options {
        real_crds: true,
        ..Default::default()
    }));
}

#[test]
fn knative_service_revisions_and_traffic_split_with_the_compact_crds() {
    knative_service_revisions_and_traffic_split(Playground::start_with(Options {
        with: vec!["knative"],
        ..Default::default()
    }));
}

// Stays long on purpose (clippy::too_many_lines): one Knative scenario (revisions, traffic, tags)
// read as a story, each step depending on the state the previous one left.
fn knative_service_revisions_and_traffic_split(pg: Playground) {
    let store = pg.store().clone();
    let ksvc = |image: &str, traffic: &str| {
        format!(
            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {{name: model}}\nspec:\n  template:\n    spec:\n      containers: [{{image: {image}}}]\n{traffic}"
        )
    };
    apply(&pg, &ksvc("model:v1", ""));
    kubectl_ok(&pg, &["wait", "--for=condition=Ready", "ksvc/model", "--timeout=60s"]);
    let first = get(&store, &KSERVICES, "model").unwrap();
    // Knative's defaulting webhook, as stored.
    assert_eq!(first["spec"]["traffic"], serde_json::json!([{"latestRevision": true, "percent": 100}]));
    let template = &first["spec"]["template"]["spec"];
    assert_eq!(template["containers"][0]["name"], "user-container");
    assert_eq!(
        template["containers"][0]["readinessProbe"],
        serde_json::json!({"successThreshold": 1, "tcpSocket": {"port": 0}})
    );
    assert_eq!(
        (template["timeoutSeconds"].as_i64(), template["containerConcurrency"].as_i64()),
        (Some(300), Some(0))
    );
    assert_eq!(first["status"]["latestReadyRevisionName"], "model-00001");
    assert_eq!(first["status"]["url"], "http://model.default.example.com");
    assert_eq!(first["status"]["traffic"][0]["revisionName"], "model-00001");
    assert_eq!(first["status"]["traffic"][0]["percent"], 100);
    assert!(get(&store, &DEPLOYMENTS, "model-00001-deployment").is_some());

    let split = "  traffic:\n  - {revisionName: model-00001, percent: 80}\n  - {latestRevision: true, percent: 20, tag: canary}\n";
    apply(&pg, &ksvc("model:v2", split));
    let status = wait_until(&store, "the split resolved to two ready revisions", |s| {
        let ksvc = get(s, &KSERVICES, "model")?;
        let ready = condition(&ksvc, "Ready")?["status"] == "True"
            && ksvc["status"]["latestReadyRevisionName"] == "model-00002";
        ready.then(|| ksvc["status"].clone())
    });
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
    let out = pg.kubectl_with_input(&["apply", "-f", "-"], Some(&ksvc("model:v2", bad)));
    assert_ne!(out.code, 0, "{}", out.stdout);
    let stderr = &out.stderr;
    assert!(
        stderr.contains(
            "admission webhook \"validation.webhook.serving.knative.dev\" denied the request: validation failed: Traffic targets sum to 90, want 100: spec.traffic"
        ),
        "{stderr}"
    );
    assert_eq!(get(&store, &KSERVICES, "model").unwrap()["metadata"]["generation"], 2);

    // As in Knative, naming a revision that does not exist is accepted by the webhook and
    // reported by the Route: RoutesReady=False, RevisionMissing.
    let missing = "  traffic:\n  - {revisionName: model-00009, percent: 100}\n";
    apply(&pg, &ksvc("model:v2", missing));
    let routes = wait_until(&store, "RoutesReady=False", |s| {
        let ksvc = get(s, &KSERVICES, "model")?;
        condition(&ksvc, "RoutesReady").filter(|c| c["status"] == "False").cloned()
    });
    assert_eq!(routes["reason"], "RevisionMissing");
    assert_eq!(routes["message"], "Revision \"model-00009\" referenced in traffic not found.");
    let ksvc_now = get(&store, &KSERVICES, "model").unwrap();
    assert_eq!(condition(&ksvc_now, "Ready").unwrap()["status"], "False");
    // Back to a valid split: Ready again, and the unrouted first revision scales to zero.
    apply(&pg, &ksvc("model:v2", "  traffic:\n  - {latestRevision: true, percent: 100}\n"));
    wait_until(&store, "Ready again with the first revision scaled to zero", |s| {
        let ksvc = get(s, &KSERVICES, "model")?;
        let ready = condition(&ksvc, "Ready")?["status"] == "True";
        let scaled = get(s, &DEPLOYMENTS, "model-00001-deployment")?["spec"]["replicas"] == 0;
        (ready && scaled).then_some(())
    });

    // A template that names an existing revision with that revision's spec brings it back as
    // latest created and ready (Knative's CheckNameAvailability), stamping nothing new, although a
    // newer ready revision exists.
    let named = |name: &str, image: &str| {
        format!(
            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {{name: model}}\nspec:\n  template:\n    metadata: {{name: {name}}}\n    spec:\n      containers: [{{image: {image}}}]\n  traffic:\n  - {{latestRevision: true, percent: 100}}\n"
        )
    };
    apply(&pg, &named("model-00001", "model:v1"));
    let status = wait_until(&store, "the first revision served again", |s| {
        let ksvc = get(s, &KSERVICES, "model")?;
        let observed = ksvc["status"]["observedGeneration"] == ksvc["metadata"]["generation"];
        let ready = condition(&ksvc, "Ready")?["status"] == "True";
        (observed && ready && ksvc["status"]["latestReadyRevisionName"] == "model-00001")
            .then(|| ksvc["status"].clone())
    });
    assert_eq!(status["latestCreatedRevisionName"], "model-00001");
    assert_eq!(status["traffic"][0]["revisionName"], "model-00001");
    assert_eq!(labelled(&store, &REVISIONS, "serving.knative.dev/service", "model").len(), 2);
    // Naming it with another spec cannot be done: ConfigurationsReady=False, nothing stamped.
    apply(&pg, &named("model-00002", "model:v3"));
    let configurations = wait_until(&store, "ConfigurationsReady=False", |s| {
        let ksvc = get(s, &KSERVICES, "model")?;
        condition(&ksvc, "ConfigurationsReady").filter(|c| c["status"] == "False").cloned()
    });
    assert_eq!(configurations["reason"], "RevisionFailed");
    assert_eq!(
        configurations["message"],
        "Revision creation failed with message: revisions.serving.knative.dev \"model-00002\" already exists."
    );
    assert_eq!(labelled(&store, &REVISIONS, "serving.knative.dev/service", "model").len(), 2);
}

#[test]
fn a_pod_is_never_ready_before_its_ready_after() {
    let pg = Playground::start();
    let store = pg.store().clone();
    let manifest = deployment_yaml("slow", 1, "model:v1", "", "").replace(
        "      labels: {app: slow}\n",
        "      labels: {app: slow}\n      annotations: {playground.modelroll.io/ready-after: 2.5s}\n",
    );
    apply(&pg, &manifest);
    kubectl_ok(&pg, &["wait", "--for=condition=Available", "deployment/slow", "--timeout=60s"]);
    let pod = labelled(&store, &PODS, "app", "slow").pop().unwrap();
    let ready = condition(&pod, "Ready").unwrap()["lastTransitionTime"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    let started = pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    // Both stamps are whole seconds: 2.5s apart can show as 2 or 3, never less.
    assert!(ready.duration_since(started).as_secs() >= 2, "ready at {ready}, started at {started}");
}

/// The kubelet's events name the container they are about in `involvedObject.fieldPath`, also
/// when the message does not (`Error: ErrImagePull`), as a real kubelet does.
#[test]
fn kubelet_events_name_their_container() {
    let pg = Playground::start();
    let store = pg.store().clone();
    apply(
        &pg,
        "apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  containers:
  - {name: model, image: 'model:v1'}
  - {name: proxy, image: 'envoy:errimagepull'}
",
    );
    let events = wait_until(&store, "the pull failure and the start", |s| {
        let events = events_for(s, "two");
        let seen = |reason: &str, message: &str| {
            events.iter().any(|e| e["reason"] == reason && e["message"].as_str() == Some(message))
        };
        (seen("Failed", "Error: ErrImagePull") && seen("Started", "Started container model"))
            .then_some(events)
    });
    let field_path = |message: &str| {
        let event = events.iter().find(|e| e["message"].as_str() == Some(message)).unwrap();
        event["involvedObject"]["fieldPath"].as_str().unwrap().to_string()
    };
    assert_eq!(field_path("Error: ErrImagePull"), "spec.containers{proxy}");
    assert_eq!(field_path("Pulling image \"envoy:errimagepull\""), "spec.containers{proxy}");
    assert_eq!(field_path("Started container model"), "spec.containers{model}");
}
