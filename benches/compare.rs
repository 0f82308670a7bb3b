//! Speed and memory of kubectl-modelroll side by side with kubectl, on the same playground in the
//! same run: process start, `status` vs `kubectl get`, done-detection latency, peak memory and
//! requests on large rollouts, `list -A` over many models, the playground's own footprint, and
//! the binary size. Medians over several runs; ratios, since these machines are noisy.
//!
//! Run: `cargo bench --bench compare` (prints a table; writes `target/bench/compare.json`).
//! `MODELROLL_BENCH_QUICK=1` uses smaller sizes and fewer runs (a smoke run). A filter argument
//! runs only the sections whose name contains it: `cargo bench --bench compare -- done`.

// A benchmark report printed to a terminal; a closed pipe may end it.
#![allow(clippy::disallowed_macros)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modelroll::playground::resources::ResourceRef;
use modelroll::playground::{Playground, PlaygroundConfig, Store};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-modelroll");
const DEPLOYMENTS: ResourceRef = ResourceRef::of("apps", "v1", "deployments");
const NAMESPACES: ResourceRef = ResourceRef::of("", "v1", "namespaces");

/// One line of the results table.
#[derive(Debug, Clone, serde::Serialize)]
struct Row {
    measure: String,
    modelroll: String,
    kubectl: String,
    ratio: String,
    goal: String,
    met: Option<bool>,
}

struct Sizes {
    runs: usize,
    /// Rollouts whose done-detection is timed.
    done_runs: usize,
    /// Pods in the namespace at each size; the rolled-out model has a tenth of them.
    namespace_pods: Vec<i32>,
    list_models: usize,
    pods_per_model: i32,
    /// Pods in the playground whose own footprint is measured.
    footprint_pods: i32,
    watches: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(MEASURE_CHILD) {
        measure_child(&args[2..]);
        return;
    }
    let quick = std::env::var_os("MODELROLL_BENCH_QUICK").is_some();
    // The 10,000-pod size takes minutes on two cores: `MODELROLL_BENCH_10K=1` adds it.
    let big = std::env::var_os("MODELROLL_BENCH_10K").is_some();
    let sizes = if quick {
        Sizes {
            runs: 3,
            done_runs: 5,
            namespace_pods: vec![60, 300],
            list_models: 50,
            pods_per_model: 1,
            footprint_pods: 300,
            watches: 10,
        }
    } else {
        Sizes {
            runs: 11,
            done_runs: 20,
            namespace_pods: if big { vec![300, 3_000, 10_000] } else { vec![300, 3_000] },
            list_models: 1_000,
            pods_per_model: 2,
            footprint_pods: if big { 10_000 } else { 3_000 },
            watches: 50,
        }
    };
    let kubectl = kubectl_path();
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let mut rows = Vec::new();

    // `cargo bench --bench compare -- done` runs only the sections whose name contains `done`.
    let filter = args.iter().skip(1).find(|a| !a.starts_with("--")).cloned().unwrap_or_default();
    let wanted = |section: &str| {
        let run = section.contains(filter.as_str());
        if run {
            eprintln!("bench: {section}");
        }
        run
    };
    if wanted("process start") {
        rows.extend(process_start(&kubectl, sizes.runs * 2));
    }
    if wanted("status vs kubectl get") {
        rows.extend(runtime.block_on(status_vs_get(&kubectl, sizes.runs)));
    }
    if wanted("status --contexts over 5 clusters") {
        rows.extend(runtime.block_on(status_across_contexts(sizes.runs)));
    }
    if wanted("done-detection latency") {
        rows.extend(runtime.block_on(done_detection(&kubectl, sizes.done_runs)));
    }
    for &pods in &sizes.namespace_pods {
        if wanted(&format!("{pods} pods in the namespace (set-image, status, shift)")) {
            rows.extend(runtime.block_on(at_size(&kubectl, pods, sizes.runs.min(5))));
        }
    }
    if wanted("list -A") {
        rows.extend(runtime.block_on(list_all(&kubectl, &sizes)));
    }
    if wanted("playground footprint") {
        rows.extend(runtime.block_on(playground_footprint(&sizes)));
    }
    rows.push(binary_size(&kubectl));

    let table = render(&rows);
    println!("{table}");
    let machine = machine();
    println!("machine: {machine}; total bench time {:.0}s", started.elapsed().as_secs_f64());
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench");
    let _ = std::fs::create_dir_all(&out);
    let report = json!({
        "machine": machine,
        "quick": quick,
        "seconds": started.elapsed().as_secs_f64(),
        "rows": rows,
    });
    let path = out.join("compare.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json")).expect("write the report");
    println!("written: {}", path.display());
}

// ---------------------------------------------------------------------------------------------
// The measures

fn process_start(kubectl: &Path, runs: usize) -> Vec<Row> {
    let help = median_time(runs, || run(Command::new(BIN).arg("--help")));
    let version = median_time(runs, || run(Command::new(BIN).arg("version")));
    let kubectl_version = median_time(runs, || run(Command::new(kubectl).args(["version", "--client"])));
    vec![
        timed_row("start: --help vs kubectl version --client", help, kubectl_version, 0.1),
        timed_row("start: version vs kubectl version --client", version, kubectl_version, 0.1),
    ]
}

async fn status_vs_get(kubectl: &Path, runs: usize) -> Vec<Row> {
    let pg = start(3, Duration::from_millis(100)).await;
    create_namespace(&pg.store, "bench");
    create_deployment(&pg.store, "bench", "fraud", 3, "registry.example/fraud:v1");
    wait_rolled_out(&pg.store, "bench", "fraud", Duration::from_secs(60)).await;
    let kube_env = KubeEnv::new(&pg);
    // Warm kubectl's discovery cache, as a user's would be.
    run(kube_env.kubectl(kubectl, &["get", "deployment", "fraud", "-o", "json"]));

    let ours = median_time(runs, || run(kube_env.modelroll(&["status", "fraud", "-o", "json"])));
    let theirs =
        median_time(runs, || run(kube_env.kubectl(kubectl, &["get", "deployment", "fraud", "-o", "json"])));
    let our_requests = count_requests(&pg, || run(kube_env.modelroll(&["status", "fraud", "-o", "json"])));
    let their_requests =
        count_requests(&pg, || run(kube_env.kubectl(kubectl, &["get", "deployment", "fraud", "-o", "json"])));
    // The same with a canary running (replicas router, so no CRDs are needed).
    let canary = run(kube_env.modelroll(&[
        "canary",
        "fraud",
        "--image",
        "model=registry.example/fraud:v2",
        "--router",
        "replicas",
        "--weight",
        "25",
        "--yes",
    ]));
    assert_eq!(canary.0, 0, "the canary starts: {}", canary.2);
    let mut canary_status = (0, String::new(), String::new());
    let canary_requests = count_requests(&pg, || {
        canary_status = run(kube_env.modelroll(&["status", "fraud", "-o", "json"]));
        canary_status.clone()
    });
    let shows_canary = serde_json::from_str::<Value>(&canary_status.1)
        .is_ok_and(|s| s["revisions"][0]["track"] == "canary" && s["canary"]["weight"] == 25);
    pg.stop();
    let (mesh_requests, mesh_time, shows_mesh_canary) = status_with_mesh_canary(runs).await;
    vec![
        timed_row("status -o json vs kubectl get deployment -o json", ours, theirs, 1.0),
        Row {
            measure: "status -o json: API requests".into(),
            modelroll: our_requests.to_string(),
            kubectl: their_requests.to_string(),
            ratio: ratio(our_requests as f64, their_requests as f64),
            goal: "≤ 3 requests".into(),
            met: Some(our_requests <= 3),
        },
        Row {
            measure: "status -o json during a canary: API requests".into(),
            modelroll: canary_requests.to_string(),
            kubectl: "-".into(),
            ratio: "-".into(),
            goal: "≤ 3 requests, canary shown".into(),
            met: Some(canary_requests <= 3 && shows_canary),
        },
        Row {
            measure: "status -o json during an istio canary (live route read): requests, wall".into(),
            modelroll: format!("{mesh_requests} req, {}", ms(mesh_time)),
            kubectl: "-".into(),
            ratio: "-".into(),
            goal: "≤ 3 requests, live weight shown".into(),
            met: Some(mesh_requests <= 3 && shows_mesh_canary),
        },
    ]
}

/// `status` of a model whose canary an istio VirtualService routes: requests, median wall time,
/// and whether it shows the canary with the route's live weight.
async fn status_with_mesh_canary(runs: usize) -> (u64, Duration, bool) {
    let config = PlaygroundConfig {
        nodes: 3,
        ready_after: Duration::from_millis(100),
        with: vec!["istio".to_string()],
        ..PlaygroundConfig::default()
    };
    let pg = Playground::start(config).await.expect("the playground starts");
    create_namespace(&pg.store, "bench");
    create_deployment(&pg.store, "bench", "ranker", 4, "registry.example/ranker:v1");
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ranker", "namespace": "bench"},
        "spec": {"selector": {"app": "ranker"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}});
    pg.store.create(&ResourceRef::of("", "v1", "services"), service).expect("the service is created");
    let vs = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "ranker", "namespace": "bench"},
        "spec": {"hosts": ["ranker.example.com"], "http": [{"name": "model", "route": [{"destination": {"host": "ranker", "port": {"number": 80}}}]}]}});
    pg.store
        .create(&ResourceRef::of("networking.istio.io", "v1", "virtualservices"), vs)
        .expect("the virtual service is created");
    wait_rolled_out(&pg.store, "bench", "ranker", Duration::from_secs(60)).await;
    let kube_env = KubeEnv::new(&pg);
    let canary = run(kube_env.modelroll(&[
        "canary",
        "ranker",
        "--image",
        "model=registry.example/ranker:v2",
        "--router",
        "istio",
        "--weight",
        "25",
        "--yes",
        "--timeout",
        "2m",
    ]));
    assert_eq!(canary.0, 0, "the istio canary starts: {}", canary.2);
    let time = median_time(runs, || run(kube_env.modelroll(&["status", "ranker", "-o", "json"])));
    let mut status = (0, String::new(), String::new());
    let requests = count_requests(&pg, || {
        status = run(kube_env.modelroll(&["status", "ranker", "-o", "json"]));
        status.clone()
    });
    let shown = serde_json::from_str::<Value>(&status.1)
        .is_ok_and(|s| s["phase"] == "Canary" && s["revisions"][0]["track"] == "canary");
    pg.stop();
    (requests, time, shown)
}

/// `status --contexts` over five clusters (five playgrounds, one kubeconfig) against `status` in
/// one of them: the contexts are asked at once, so the wall time should stay near one context's.
async fn status_across_contexts(runs: usize) -> Vec<Row> {
    const CONTEXTS: usize = 5;
    let mut playgrounds = Vec::new();
    let (mut clusters, mut users, mut contexts) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..CONTEXTS {
        let pg = start(1, Duration::from_millis(100)).await;
        create_namespace(&pg.store, "bench");
        create_deployment(&pg.store, "bench", "fraud", 2, "registry.example/fraud:v1");
        wait_rolled_out(&pg.store, "bench", "fraud", Duration::from_secs(60)).await;
        let text = std::fs::read_to_string(&pg.kubeconfig_path).expect("the playground's kubeconfig");
        let config: Value = serde_yaml::from_str(&text).expect("kubeconfig YAML");
        let name = format!("cluster-{n}");
        let mut cluster = config["clusters"][0].clone();
        cluster["name"] = json!(name);
        let mut user = config["users"][0].clone();
        user["name"] = json!(name);
        clusters.push(cluster);
        users.push(user);
        contexts
            .push(json!({"name": name, "context": {"cluster": name, "user": name, "namespace": "bench"}}));
        playgrounds.push(pg);
    }
    let kubeconfig = tempdir().join("contexts.kubeconfig");
    let merged = json!({"apiVersion": "v1", "kind": "Config", "clusters": clusters, "users": users,
        "contexts": contexts, "current-context": "cluster-0"});
    std::fs::write(&kubeconfig, serde_yaml::to_string(&merged).expect("yaml")).expect("write the kubeconfig");
    let status = |extra: &[&str]| {
        let mut command = Command::new(BIN);
        command.arg("--kubeconfig").arg(&kubeconfig).args(["status", "fraud", "-o", "json"]).args(extra);
        command.env_remove("KUBECONFIG");
        command
    };
    let one = median_time(runs, || run(status(&[])));
    let all = median_time(runs, || run(status(&["--contexts", "all"])));
    let listed = run(status(&["--contexts", "all"]));
    let items = serde_json::from_str::<Value>(&listed.1)
        .ok()
        .and_then(|v| v["items"].as_array().map(|i| i.iter().filter(|i| i["phase"] == "Healthy").count()))
        .unwrap_or(0);
    for pg in playgrounds {
        pg.stop();
    }
    let r = all.as_secs_f64() / one.as_secs_f64().max(1e-9);
    vec![Row {
        measure: format!("status --contexts over {CONTEXTS} clusters vs status in one"),
        modelroll: ms(all),
        kubectl: format!("{} (one context)", ms(one)),
        ratio: format!("{r:.2}×"),
        goal: format!("≤ 2× (not {CONTEXTS}×), every context shown"),
        met: Some(r <= 2.0 && items == CONTEXTS),
    }]
}

/// How long after the last pod of a rollout turns Ready on the server each waiter exits:
/// `set-image` (which waits) and `kubectl rollout status`, started on the same rollout, over
/// `runs` rollouts. The playground runs in this process, so the instants are read from its
/// store's events (the Ready transition of each pod, the ReplicaSet and Deployment status
/// writes that follow it), not from either client. The median of each stage is shown too, and
/// `MODELROLL_BENCH_TIMELINE=1` prints every round's events from the last Ready on.
async fn done_detection(kubectl: &Path, runs: usize) -> Vec<Row> {
    let pg = start(3, Duration::from_millis(400)).await;
    create_namespace(&pg.store, "bench");
    create_deployment(&pg.store, "bench", "fraud", 4, "registry.example/fraud:v0");
    wait_rolled_out(&pg.store, "bench", "fraud", Duration::from_secs(60)).await;
    let kube_env = KubeEnv::new(&pg);
    run(kube_env.kubectl(kubectl, &["get", "deployment", "fraud"]));
    let print_timeline = std::env::var_os("MODELROLL_BENCH_TIMELINE").is_some();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let (mut to_replica_set, mut to_complete) = (Vec::new(), Vec::new());
    for round in 1..=runs {
        let timeline = Timeline::follow(&pg.store, "bench");
        let image = format!("model=registry.example/fraud:v{round}");
        let mut set_image = kube_env.modelroll(&["set-image", "fraud", &image]);
        let mut stderr = Stdio::null();
        if print_timeline {
            // Its own account of each request, with wall-clock times to set beside the events'.
            let path =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench/set-image-{round}.log"));
            let _ = std::fs::create_dir_all(path.parent().expect("target/bench"));
            set_image.arg("-vv");
            stderr = std::fs::File::create(&path).expect("a log").into();
            eprintln!("set-image -vv of round {round}: {}", path.display());
        }
        let set_image = spawn_timed(&mut set_image, stderr);
        wait_generation_bumped(&pg.store, "bench", "fraud", Duration::from_secs(30)).await;
        let mut rollout_status = kube_env.kubectl(kubectl, &["rollout", "status", "deployment/fraud"]);
        let rollout_status = spawn_timed(&mut rollout_status, Stdio::null());
        let ours_exit = set_image.join().expect("set-image waiter");
        let theirs_exit = rollout_status.join().expect("rollout status waiter");
        let events = timeline.stop();
        let Some(stages) = Stages::of(&events) else { continue };
        if print_timeline {
            eprintln!("round {round} (last pod Ready at {}):", stages.ready_wall);
            for (at, _, what) in events.iter().filter(|(at, _, _)| *at >= stages.ready) {
                eprintln!("  +{:7.1} ms  {what}", ms_since(stages.ready, *at));
            }
            eprintln!("  +{:7.1} ms  set-image exits", ms_since(stages.ready, ours_exit));
            eprintln!("  +{:7.1} ms  kubectl rollout status exits", ms_since(stages.ready, theirs_exit));
        }
        to_replica_set.push(stages.replica_set.saturating_duration_since(stages.ready));
        to_complete.push(stages.complete.saturating_duration_since(stages.ready));
        ours.push(ours_exit.saturating_duration_since(stages.ready));
        theirs.push(theirs_exit.saturating_duration_since(stages.ready));
    }
    pg.stop();
    let worst = |times: &[Duration]| times.iter().max().copied().unwrap_or_default();
    let (our_worst, their_worst) = (worst(&ours), worst(&theirs));
    let n = ours.len();
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    let (to_replica_set, to_complete) = (median(&mut to_replica_set), median(&mut to_complete));
    vec![
        Row {
            measure: format!(
                "done-detection, last pod Ready → exit, median of {n}: set-image vs kubectl rollout status"
            ),
            modelroll: ms(ours),
            kubectl: ms(theirs),
            ratio: ratio(ours.as_secs_f64(), theirs.as_secs_f64()),
            goal: "≤ 50 ms".into(),
            met: Some(ours <= Duration::from_millis(50)),
        },
        Row {
            measure: format!("done-detection, last pod Ready → exit, worst of {n}"),
            modelroll: ms(our_worst),
            kubectl: ms(their_worst),
            ratio: ratio(our_worst.as_secs_f64(), their_worst.as_secs_f64()),
            goal: "≤ 200 ms".into(),
            met: Some(our_worst <= Duration::from_millis(200)),
        },
        Row {
            measure: format!(
                "done-detection stages on the server, median of {n}: last pod Ready → its ReplicaSet's \
                 status → Deployment status complete"
            ),
            modelroll: format!("{} → {}", ms(to_replica_set), ms(to_complete)),
            kubectl: "(same server)".into(),
            ratio: "-".into(),
            goal: "-".into(),
            met: None,
        },
    ]
}

/// The events of one namespace in the store, with the instant each was seen, until stopped.
struct Timeline {
    task: tokio::task::JoinHandle<()>,
    events: std::sync::Arc<std::sync::Mutex<Vec<(Instant, jiff::Timestamp, TimelineEvent)>>>,
}

/// What the done-detection stages are read from: one store event, summarized.
#[derive(Debug, Clone)]
enum TimelineEvent {
    /// A pod turned Ready.
    PodReady(String),
    /// A ReplicaSet was written (its status: replicas, ready, available).
    ReplicaSet(String, Value),
    /// The Deployment was written; whether its status says the rollout is complete.
    Deployment(String, bool),
    Other(String),
}

impl std::fmt::Display for TimelineEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimelineEvent::PodReady(name) => write!(f, "pod {name} Ready"),
            TimelineEvent::ReplicaSet(name, status) => write!(f, "replicaset {name} status {status}"),
            TimelineEvent::Deployment(name, complete) => {
                write!(f, "deployment {name}{}", if *complete { " complete" } else { "" })
            }
            TimelineEvent::Other(what) => f.write_str(what),
        }
    }
}

impl Timeline {
    fn follow(store: &Store, namespace: &str) -> Timeline {
        let mut live = store.subscribe();
        let namespace = namespace.to_string();
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = events.clone();
        let task = tokio::spawn(async move {
            loop {
                let event = match live.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let at = Instant::now();
                if event.namespace != namespace {
                    continue;
                }
                let name = event.name.clone();
                let summary = match event.resource.as_str() {
                    "pods"
                        if pod_is_ready(&event.object)
                            && !event.previous.as_deref().is_some_and(pod_is_ready) =>
                    {
                        TimelineEvent::PodReady(name)
                    }
                    "replicasets" => {
                        let s = &event.object["status"];
                        let status = json!([s["replicas"], s["readyReplicas"], s["availableReplicas"]]);
                        TimelineEvent::ReplicaSet(name, status)
                    }
                    "deployments" => TimelineEvent::Deployment(name, rolled_out(&event.object)),
                    resource => TimelineEvent::Other(format!("{resource} {name} {:?}", event.event_type)),
                };
                seen.lock().expect("the timeline lock").push((at, jiff::Timestamp::now(), summary));
            }
        });
        Timeline { task, events }
    }

    fn stop(self) -> Vec<(Instant, jiff::Timestamp, TimelineEvent)> {
        self.task.abort();
        std::mem::take(&mut *self.events.lock().expect("the timeline lock"))
    }
}

/// The instants of one rollout's last stages on the server.
struct Stages {
    /// The last pod turned Ready.
    ready: Instant,
    ready_wall: jiff::Timestamp,
    /// The first ReplicaSet write after it.
    replica_set: Instant,
    /// The Deployment's status first said the rollout is complete.
    complete: Instant,
}

impl Stages {
    fn of(events: &[(Instant, jiff::Timestamp, TimelineEvent)]) -> Option<Stages> {
        let complete = events.iter().position(|(_, _, e)| matches!(e, TimelineEvent::Deployment(_, true)))?;
        let ready =
            events[..complete].iter().rposition(|(_, _, e)| matches!(e, TimelineEvent::PodReady(_)))?;
        let replica_set = events[ready..complete]
            .iter()
            .find(|(_, _, e)| matches!(e, TimelineEvent::ReplicaSet(..)))
            .map_or(events[complete].0, |(at, _, _)| *at);
        Some(Stages {
            ready: events[ready].0,
            ready_wall: events[ready].1,
            replica_set,
            complete: events[complete].0,
        })
    }
}

fn ms_since(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

fn pod_is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// One size: a namespace of `pods` pods (a filler Deployment and the model, with a tenth of
/// them). `set-image` waiting on the model's rollout against `kubectl rollout status` (peak RSS,
/// requests, wall time); `status` against `kubectl get deployment -o json`; a stepped `shift`.
// Stays long on purpose (clippy::too_many_lines): one size's measurements in the order they run
// against the same playground, each row beside the kubectl figure it is compared with.
async fn at_size(kubectl: &Path, pods: i32, runs: usize) -> Vec<Row> {
    let replicas = (pods / 10).max(10);
    let nodes = ((pods as u32 + replicas as u32) * 3 / 2 / 100 + 2).max(3);
    let pg = start(nodes, Duration::from_millis(100)).await;
    create_namespace(&pg.store, "bench");
    let kube_env = KubeEnv::new(&pg);
    let limit = Duration::from_secs(900);
    create_deployment(&pg.store, "bench", "filler", pods - replicas, "registry.example/filler:v1");
    create_deployment(&pg.store, "bench", "model", replicas, "registry.example/model:v1");
    wait_rolled_out(&pg.store, "bench", "filler", limit).await;
    wait_rolled_out(&pg.store, "bench", "model", limit).await;
    run(kube_env.kubectl(kubectl, &["get", "deployment", "model"]));
    let mut rows = Vec::new();
    let size = format!("{pods} pods, model of {replicas}");

    // set-image, waiting, with kubectl rollout status following the same rollout.
    let renewals_before = lease_renewals(&pg, "bench", "modelroll-deployment-model");
    let before = pg.requests.snapshot();
    let started = Instant::now();
    let mut ours =
        kube_env.modelroll(&["set-image", "model", "model=registry.example/model:v2", "--timeout", "15m"]);
    let ours = spawn_measured(&mut ours);
    wait_generation_bumped(&pg.store, "bench", "model", Duration::from_secs(30)).await;
    let theirs_started = Instant::now();
    let mut theirs = kube_env.kubectl(kubectl, &["rollout", "status", "deployment/model"]);
    let theirs = spawn_measured(&mut theirs);
    let ours = ours.join().expect("set-image");
    let our_time = started.elapsed();
    let theirs = theirs.join().expect("rollout status");
    let their_time = theirs_started.elapsed();
    let (our_requests, their_requests) = split_requests(&before, &pg.requests.snapshot());
    let renewals = lease_renewals(&pg, "bench", "modelroll-deployment-model") - renewals_before;
    rows.push(Row {
        measure: format!("{size}: set-image (waiting) vs kubectl rollout status: peak RSS"),
        modelroll: mb(ours.max_rss_kb),
        kubectl: mb(theirs.max_rss_kb),
        ratio: ratio(ours.max_rss_kb as f64, theirs.max_rss_kb as f64),
        goal: "≤ 0.5×".into(),
        met: Some(ours.code == 0 && ours.max_rss_kb * 2 <= theirs.max_rss_kb),
    });
    rows.push(Row {
        measure: format!(
            "{size}: set-image (waiting): requests (incl. the write; of them, Lease renewals), wall time"
        ),
        modelroll: format!("{our_requests} req ({renewals} renewals), {}", ms(our_time)),
        kubectl: format!("{their_requests} req, {}", ms(their_time)),
        ratio: "-".into(),
        goal: "requests flat in pods".into(),
        met: None,
    });

    // status against kubectl get.
    let status = median_time(runs, || run(kube_env.modelroll(&["status", "model", "-o", "json"])));
    let get =
        median_time(runs, || run(kube_env.kubectl(kubectl, &["get", "deployment", "model", "-o", "json"])));
    let status_requests = count_requests(&pg, || run(kube_env.modelroll(&["status", "model", "-o", "json"])));
    let mut status_rss = kube_env.modelroll(&["status", "model", "-o", "json"]);
    let status_rss = spawn_measured(&mut status_rss).join().expect("status");
    let mut get_rss = kube_env.kubectl(kubectl, &["get", "deployment", "model", "-o", "json"]);
    let get_rss = spawn_measured(&mut get_rss).join().expect("kubectl get");
    let r = status.as_secs_f64() / get.as_secs_f64().max(1e-9);
    rows.push(Row {
        measure: format!(
            "{size}: status -o json vs kubectl get deployment -o json: wall, requests, peak RSS"
        ),
        modelroll: format!("{}, {status_requests} req, {}", ms(status), mb(status_rss.max_rss_kb)),
        kubectl: format!("{}, 1 req, {}", ms(get), mb(get_rss.max_rss_kb)),
        ratio: format!("{r:.2}×"),
        goal: "≤ 0.5× wall, ≤ 3 requests".into(),
        met: Some(r <= 0.5 && status_requests <= 3),
    });

    // A stepped shift (replicas router: the pod ratio carries the weight).
    let canary = run(kube_env.modelroll(&[
        "canary",
        "model",
        "--image",
        "model=registry.example/model:v3",
        "--router",
        "replicas",
        "--yes",
        "--timeout",
        "15m",
    ]));
    if canary.0 == 0 {
        let before = pg.requests.snapshot();
        let started = Instant::now();
        let mut shift = kube_env.modelroll(&[
            "shift",
            "model",
            "--steps",
            "10,25,50",
            "--interval",
            "1s",
            "--timeout",
            "15m",
        ]);
        let shift = spawn_measured(&mut shift).join().expect("shift");
        let took = started.elapsed();
        let (requests, _) = split_requests(&before, &pg.requests.snapshot());
        rows.push(Row {
            measure: format!("{size}: shift --steps 10,25,50: peak RSS, requests, wall time"),
            modelroll: format!("{}, {requests} req, {}", mb(shift.max_rss_kb), ms(took)),
            kubectl: format!("{} (rollout status above)", mb(theirs.max_rss_kb)),
            ratio: ratio(shift.max_rss_kb as f64, theirs.max_rss_kb as f64),
            goal: "RSS ≤ 0.5× kubectl's".into(),
            met: Some(shift.code == 0 && shift.max_rss_kb * 2 <= theirs.max_rss_kb),
        });
    } else {
        rows.push(Row {
            measure: format!("{size}: shift"),
            modelroll: format!("canary failed: {}", canary.2.lines().last().unwrap_or_default()),
            kubectl: "-".into(),
            ratio: "-".into(),
            goal: "-".into(),
            met: Some(false),
        });
    }
    pg.stop();
    rows
}

async fn list_all(kubectl: &Path, sizes: &Sizes) -> Vec<Row> {
    let pods = sizes.list_models as i32 * sizes.pods_per_model;
    let nodes = (pods as u32 / 100 + 2).max(3);
    let pg = start(nodes, Duration::from_millis(50)).await;
    for ns in 0..10 {
        create_namespace(&pg.store, &format!("team-{ns}"));
    }
    for i in 0..sizes.list_models {
        let namespace = format!("team-{}", i % 10);
        let name = format!("model-{i}");
        create_deployment(&pg.store, &namespace, &name, sizes.pods_per_model, "registry.example/model:v1");
        // A modelroll history: every one is a model `list` shows.
        annotate_change_cause(&pg.store, &namespace, &name);
    }
    wait_all_ready(&pg.store, pods as usize, Duration::from_secs(600)).await;
    let kube_env = KubeEnv::new(&pg);
    run(kube_env.kubectl(kubectl, &["get", "deployments", "-A"]));
    let runs = sizes.runs.min(5);
    let ours = median_time(runs, || run(kube_env.modelroll(&["list", "-A"])));
    let theirs = median_time(runs, || run(kube_env.kubectl(kubectl, &["get", "deployments", "-A"])));
    let our_requests = count_requests(&pg, || run(kube_env.modelroll(&["list", "-A"])));
    let their_requests =
        count_requests(&pg, || run(kube_env.kubectl(kubectl, &["get", "deployments", "-A"])));
    let our_rss = spawn_measured(&mut kube_env.modelroll(&["list", "-A"])).join().expect("list -A");
    let their_rss = spawn_measured(&mut kube_env.kubectl(kubectl, &["get", "deployments", "-A"]))
        .join()
        .expect("kubectl get");
    pg.stop();
    vec![Row {
        measure: format!(
            "list -A ({} models × {} pods) vs kubectl get deployments -A: wall, requests, peak RSS",
            sizes.list_models, sizes.pods_per_model
        ),
        modelroll: format!("{}, {our_requests} req, {}", ms(ours), mb(our_rss.max_rss_kb)),
        kubectl: format!("{}, {their_requests} req, {}", ms(theirs), mb(their_rss.max_rss_kb)),
        ratio: ratio(ours.as_secs_f64(), theirs.as_secs_f64()),
        goal: "≤ 3 requests".into(),
        met: Some(our_requests <= 3),
    }]
}

/// The playground as a separate process: RSS with many pods and open watches.
async fn playground_footprint(sizes: &Sizes) -> Vec<Row> {
    let dir = tempdir();
    let kubeconfig = dir.join("kubeconfig");
    let pods = sizes.footprint_pods;
    let nodes = (pods as u32 / 100 + 2).max(3);
    let mut child = Command::new(BIN)
        .args(["playground", "--ready-after", "50ms", "--nodes", &nodes.to_string(), "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the playground starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kubeconfig.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = client_for(&kubeconfig).await;
    let result = fill_and_watch(&client, sizes, child.id()).await;
    let (rss_kb, list_time, peak_kb) =
        result.as_ref().copied().unwrap_or((proc_rss_kb(child.id()), Duration::ZERO, 0));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let note = match result {
        Ok(_) => String::new(),
        Err(e) => format!(" ({e})"),
    };
    vec![
        Row {
            measure: format!("playground RSS with {pods} pods and {} watches", sizes.watches),
            modelroll: format!("{}{note}", mb(rss_kb)),
            kubectl: "-".into(),
            ratio: "-".into(),
            goal: "report (≤ 200 MB at 2,000 pods)".into(),
            met: None,
        },
        Row {
            measure: format!("playground peak RSS (VmHWM), once all {pods} pods are Ready"),
            modelroll: mb(peak_kb),
            kubectl: "-".into(),
            ratio: "-".into(),
            goal: "report".into(),
            met: None,
        },
        Row {
            measure: format!("playground: LIST of all {pods} pods (one request, full objects)"),
            modelroll: ms(list_time),
            kubectl: "-".into(),
            ratio: "-".into(),
            goal: "report".into(),
            met: None,
        },
    ]
}

async fn fill_and_watch(
    client: &kube::Client,
    sizes: &Sizes,
    playground_pid: u32,
) -> Result<(u64, Duration, u64), String> {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use kube::api::{Api, ListParams, PostParams, WatchParams};
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "bench"}})).map_err(|e| e.to_string())?;
    namespaces.create(&PostParams::default(), &ns).await.map_err(|e| e.to_string())?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "bench");
    let models = (sizes.footprint_pods / 10).max(1);
    for i in 0..models {
        let object = deployment_json("bench", &format!("model-{i}"), 10, "registry.example/m:v1");
        let deployment: Deployment = serde_json::from_value(object).map_err(|e| e.to_string())?;
        deployments.create(&PostParams::default(), &deployment).await.map_err(|e| e.to_string())?;
    }
    let pods: Api<Pod> = Api::all(client.clone());
    let want = models as usize * 10;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let list = pods.list_metadata(&ListParams::default()).await.map_err(|e| e.to_string())?;
        if list.items.len() >= want {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {} of {want} pods after 10m", list.items.len()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Watchers that consume their events, as real clients do (an unread watch would measure
    // bytes buffered for it); the figure is read while all of them are open.
    let mut watchers = tokio::task::JoinSet::new();
    for _ in 0..sizes.watches {
        let stream =
            pods.watch(&WatchParams::default().timeout(290), "0").await.map_err(|e| e.to_string())?;
        watchers.spawn(async move {
            use futures::StreamExt;
            let mut stream = std::pin::pin!(stream);
            while stream.next().await.is_some() {}
        });
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_kb = proc_rss_kb(playground_pid);
    watchers.abort_all();
    let started = Instant::now();
    let listed = pods.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
    let list_time = started.elapsed();
    if listed.items.len() < want {
        return Err(format!("the LIST returned {} of {want} pods", listed.items.len()));
    }
    // The RSS above is read while pods are still starting; the high-water mark comes later, once
    // every pod has gone Ready (statuses written, Events recorded). Readiness is read from the
    // Deployments' status, so the wait lists no pods (a LIST's response would count in the peak).
    loop {
        let list = deployments.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
        let ready: i32 = list.items.iter().filter_map(|d| d.status.as_ref()?.ready_replicas).sum();
        if ready as usize >= want {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{ready} of {want} pods Ready after 10m"));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok((rss_kb, list_time, proc_hwm_kb(playground_pid)))
}

fn binary_size(kubectl: &Path) -> Row {
    let ours = std::fs::metadata(BIN).map(|m| m.len()).unwrap_or(0);
    let theirs = std::fs::metadata(resolve(kubectl)).map(|m| m.len()).unwrap_or(0);
    Row {
        measure: "binary size (bench profile: release, thin LTO, stripped)".into(),
        modelroll: format!("{:.1} MB", ours as f64 / 1e6),
        kubectl: format!("{:.1} MB", theirs as f64 / 1e6),
        ratio: ratio(ours as f64, theirs as f64),
        goal: "report".into(),
        met: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Playground helpers (in-process)

async fn start(nodes: u32, ready_after: Duration) -> Playground {
    let config = PlaygroundConfig { nodes, ready_after, ..PlaygroundConfig::default() };
    Playground::start(config).await.expect("the playground starts")
}

fn create_namespace(store: &Store, name: &str) {
    let _ = store
        .create(&NAMESPACES, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}));
}

fn deployment_json(namespace: &str, name: &str, replicas: i32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "model", "image": image,
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
            }
        }
    })
}

fn create_deployment(store: &Store, namespace: &str, name: &str, replicas: i32, image: &str) {
    store
        .create(&DEPLOYMENTS, deployment_json(namespace, name, replicas, image))
        .expect("the deployment is created");
}

fn annotate_change_cause(store: &Store, namespace: &str, name: &str) {
    if let Ok(mut object) = store.get(&DEPLOYMENTS, namespace, name) {
        object["metadata"]["annotations"] =
            json!({"kubernetes.io/change-cause": "set-image model=registry.example/model:v1"});
        let _ = store.update(&DEPLOYMENTS, object);
    }
}

fn rolled_out(object: &Value) -> bool {
    let want = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &object["status"];
    status["observedGeneration"].as_i64() >= object["metadata"]["generation"].as_i64()
        && status["updatedReplicas"].as_i64() == Some(want)
        && status["availableReplicas"].as_i64() == Some(want)
        && status["replicas"].as_i64() == Some(want)
}

/// Wait on the store's event stream (no polling) until `check` holds for the deployment.
async fn wait_deployment(
    store: &Store,
    namespace: &str,
    name: &str,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) {
    let mut events = store.subscribe();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if store.get(&DEPLOYMENTS, namespace, name).is_ok_and(|d| check(&d)) {
            return;
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => panic!("deployment {namespace}/{name} did not get there within {limit:?}"),
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => panic!("the store closed"),
            Ok(_) => {}
        }
    }
}

async fn wait_rolled_out(store: &Store, namespace: &str, name: &str, limit: Duration) {
    wait_deployment(store, namespace, name, limit, rolled_out).await;
}

async fn wait_generation_bumped(store: &Store, namespace: &str, name: &str, limit: Duration) {
    wait_deployment(store, namespace, name, limit, |d| !rolled_out(d)).await;
}

async fn wait_all_ready(store: &Store, pods: usize, limit: Duration) {
    let resource = ResourceRef::of("", "v1", "pods");
    let mut events = store.subscribe();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let ready = store
            .list(&resource, "")
            .map(|list| {
                list.items
                    .iter()
                    .filter(|p| {
                        p["status"]["conditions"]
                            .as_array()
                            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
                    })
                    .count()
            })
            .unwrap_or(0);
        if ready >= pods {
            return;
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => panic!("only {ready} of {pods} pods ready within {limit:?}"),
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => panic!("the store closed"),
            Ok(_) => {}
        }
    }
}

/// The renewals of one Lease: the writes (PUT) of it sent to the API server, after the write that
/// created it (a POST). Attempts are counted, so a retried one counts twice; the bench injects no
/// faults and runs one command at a time, so each is one renewal. They are per time, not per pod, so the requests of a rollout are shown
/// with them apart.
fn lease_renewals(pg: &Playground, namespace: &str, name: &str) -> u64 {
    let path = format!("PUT /apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}");
    pg.requests.writes().get(&path).copied().unwrap_or(0)
}

fn count_requests(pg: &Playground, action: impl FnOnce() -> (i32, String, String)) -> u64 {
    let before = pg.requests.snapshot();
    action();
    let after = pg.requests.snapshot();
    after.iter().map(|(agent, n)| n - before.get(agent).copied().unwrap_or(0)).sum()
}

/// Requests since `before`, split into ours (kube-rs / modelroll agents) and kubectl's.
fn split_requests(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> (u64, u64) {
    let mut ours = 0;
    let mut theirs = 0;
    for (agent, n) in after {
        let n = n - before.get(agent).copied().unwrap_or(0);
        if agent.starts_with("kubectl") {
            theirs += n;
        } else {
            ours += n;
        }
    }
    (ours, theirs)
}

async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig reads");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("usable");
    kube::Client::try_from(config).expect("a client")
}

// ---------------------------------------------------------------------------------------------
// Processes

/// Commands pointed at one playground, with a kubectl discovery cache of their own.
struct KubeEnv {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl KubeEnv {
    fn new(pg: &Playground) -> Self {
        Self { kubeconfig: pg.kubeconfig_path.clone(), cache: tempdir() }
    }

    fn modelroll(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.arg("--kubeconfig").arg(&self.kubeconfig).args(["-n", "bench"]).args(args);
        command.env_remove("KUBECONFIG");
        command
    }

    fn kubectl(&self, kubectl: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(kubectl);
        command.arg("--kubeconfig").arg(&self.kubeconfig).args(["-n", "bench"]).args(args);
        command.env("KUBECACHEDIR", &self.cache).env_remove("KUBECONFIG");
        command
    }
}

impl Drop for KubeEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.cache);
    }
}

fn run(mut command: impl std::borrow::BorrowMut<Command>) -> (i32, String, String) {
    let output = command.borrow_mut().stdin(Stdio::null()).output().expect("the command runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Start `command` and return a thread that yields the instant it exited.
fn spawn_timed(command: &mut Command, stderr: Stdio) -> std::thread::JoinHandle<Instant> {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr).spawn().expect("spawn");
    std::thread::spawn(move || {
        let _ = child.wait();
        Instant::now()
    })
}

struct Measured {
    code: i32,
    max_rss_kb: u64,
}

/// The argument that makes this bench binary a measurer: `compare --measure-child PROGRAM ARGS…`.
const MEASURE_CHILD: &str = "--measure-child";

/// Start `command` through a measurer (this binary, re-executed) and return a thread that yields
/// its exit code and peak RSS.
///
/// Why not `wait4` on the command directly: Linux records the old address space's high-water mark
/// into the process's `maxrss` at `exec`, and a child spawned with `vfork` (as `std` spawns)
/// execs out of *our* address space, which holds playgrounds with thousands of pods. Every child
/// would then report at least our RSS. The measurer is a fresh, small process; the command it
/// spawns execs out of that, so its `maxrss` is its own.
fn spawn_measured(command: &mut Command) -> std::thread::JoinHandle<Measured> {
    let mut measurer = Command::new(std::env::current_exe().expect("the bench binary's path"));
    measurer.arg(MEASURE_CHILD).arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => measurer.env(key, value),
            None => measurer.env_remove(key),
        };
    }
    let child = measurer.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn();
    let child = child.expect("spawn the measurer");
    std::thread::spawn(move || {
        let output = child.wait_with_output().expect("the measurer runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let mut fields = text.split_whitespace().map(|f| f.parse::<i64>().unwrap_or(-1));
        let (code, max_rss_kb) = (fields.next().unwrap_or(-1), fields.next().unwrap_or(0));
        Measured { code: code as i32, max_rss_kb: max_rss_kb.max(0) as u64 }
    })
}

/// The measurer: run `command` (program and arguments) with no stdio, and print its exit code and
/// peak RSS in KiB (from `wait4`'s rusage) on stdout.
fn measure_child(command: &[String]) {
    let (program, args) = command.split_first().expect("a command to measure");
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which keeps its rusage
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the measured command");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child, which `Child` never reaps.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let code = if reaped == pid && libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    println!("{code} {}", usage.ru_maxrss);
}

fn proc_rss_kb(pid: u32) -> u64 {
    proc_status_kb(pid, "VmRSS:")
}

fn proc_hwm_kb(pid: u32) -> u64 {
    proc_status_kb(pid, "VmHWM:")
}

fn proc_status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn median_time(runs: usize, mut action: impl FnMut() -> (i32, String, String)) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let (code, _, stderr) = action();
        assert_eq!(code, 0, "a benchmarked command failed: {stderr}");
        times.push(start.elapsed());
    }
    median(&mut times)
}

fn median(times: &mut [Duration]) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    times.sort();
    times[times.len() / 2]
}

fn kubectl_path() -> PathBuf {
    let kubectl = std::env::var_os("KUBECTL").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("kubectl"));
    let ok = Command::new(&kubectl).args(["version", "--client"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "the benchmarks compare against kubectl: put kubectl on PATH or set $KUBECTL");
    kubectl
}

fn resolve(program: &Path) -> PathBuf {
    if program.components().count() > 1 {
        return std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .unwrap_or_else(|| program.to_path_buf())
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("modelroll-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {memory}")
}

// ---------------------------------------------------------------------------------------------
// Formatting

fn timed_row(measure: &str, ours: Duration, theirs: Duration, goal_ratio: f64) -> Row {
    let r = ours.as_secs_f64() / theirs.as_secs_f64().max(1e-9);
    Row {
        measure: measure.into(),
        modelroll: ms(ours),
        kubectl: ms(theirs),
        ratio: format!("{r:.2}×"),
        goal: format!("≤ {goal_ratio}×"),
        met: Some(r <= goal_ratio),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs <= 0.0 {
        return "-".into();
    }
    format!("{:.2}×", ours / theirs)
}

fn render(rows: &[Row]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["measure", "modelroll", "kubectl", "ratio", "goal", "met"]);
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        table.add_row([&row.measure, &row.modelroll, &row.kubectl, &row.ratio, &row.goal, met]);
    }
    table.to_string()
}
