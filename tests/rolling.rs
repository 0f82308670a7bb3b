//! Rolling model updates against a playground: set-image (progress, fail-fast, rollback, GPU
//! surge planning), status, history and undo — the real binary, assertions on cluster state.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{self, Output};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-modelroll");
/// How long any awaited condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// A playground (tests/common) plus a kube client on a runtime of the test's own.
struct Cluster {
    pg: common::Playground,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Cluster {
    fn start(nodes: u32, gpus_per_node: u32, ready_after_ms: u64) -> Self {
        let pg = common::Playground::start_with(common::Options {
            nodes,
            gpus_per_node,
            ready_after: Duration::from_millis(ready_after_ms),
            with: vec!["knative"],
            ..Default::default()
        });
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let client = runtime.block_on(pg.client());
        Self { pg, runtime, client }
    }

    /// Run the plugin against this playground (not a terminal, NO_COLOR).
    fn run(&self, args: &[&str]) -> Output {
        self.pg.modelroll(args)
    }

    /// The plugin as a process the test drives itself.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.arg("--kubeconfig").arg(self.pg.kubeconfig()).args(args).env_remove("KUBECONFIG");
        command.stdin(Stdio::null());
        command
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn deployment(&self, name: &str) -> Deployment {
        self.runtime.block_on(self.deployments().get(name)).expect("get deployment")
    }

    fn create(&self, object: Value) {
        let deployment: Deployment = serde_json::from_value(object).expect("a Deployment");
        self.runtime
            .block_on(self.deployments().create(&PostParams::default(), &deployment))
            .expect("create deployment");
    }

    fn pods(&self, selector: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        self.runtime.block_on(api.list(&ListParams::default().labels(selector))).expect("list pods").items
    }

    /// Wait (watch-based, with a deadline) until Deployment `name` satisfies `condition`.
    fn wait_for(&self, name: &str, what: &str, condition: impl Fn(&Deployment) -> bool + Send + 'static) {
        let api = self.deployments();
        let awaited = kube::runtime::wait::await_condition(api, name, move |d: Option<&Deployment>| {
            d.is_some_and(&condition)
        });
        self.runtime
            .block_on(async { tokio::time::timeout(DEADLINE, awaited).await })
            .unwrap_or_else(|_| panic!("deployment {name} never became {what}"))
            .expect("watch the deployment");
    }

    fn wait_rolled_out(&self, name: &str) {
        self.wait_for(name, "rolled out", rolled_out);
    }

    /// Requests served so far, all User-Agents together.
    fn requests(&self) -> u64 {
        self.pg.requests().values().sum()
    }
}

/// Done as `kubectl rollout status` says.
fn rolled_out(d: &Deployment) -> bool {
    let spec = d.spec.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1);
    status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
        && status.updated_replicas.unwrap_or(0) == replicas
        && status.replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
}

/// A model Deployment: `containers` as (name, image); `gpus` per pod on the first container.
fn model(name: &str, replicas: i32, containers: &[(&str, &str)], gpus: Option<u32>) -> Value {
    let containers: Vec<Value> = containers
        .iter()
        .enumerate()
        .map(|(i, (c, image))| {
            let mut container = json!({"name": c, "image": image});
            if let (0, Some(g)) = (i, gpus) {
                container["resources"] =
                    json!({"limits": {"nvidia.com/gpu": g.to_string()}, "requests": {"cpu": "100m"}});
            }
            container
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers}
            }
        }
    })
}

fn template_image(d: &Deployment, container: &str) -> String {
    let spec = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == container)
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn generation(d: &Deployment) -> i64 {
    d.metadata.generation.unwrap_or(0)
}

fn annotation(d: &Deployment, key: &str) -> Option<String> {
    d.metadata.annotations.as_ref()?.get(key).cloned()
}

#[track_caller]
fn assert_code(out: &Output, code: i32, context: &str) {
    assert_eq!(out.code, code, "{context}: exit code\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

/// The plain (non-terminal) lines start with an RFC 3339 UTC timestamp.
fn assert_timestamped(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("error:") && !l.is_empty()).collect();
    assert!(!lines.is_empty(), "no progress lines");
    for line in lines {
        let stamp = line.split_whitespace().next().unwrap_or_default();
        assert!(
            stamp.len() == 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "not a timestamped plain line: {line:?}"
        );
        assert!(
            !line.contains('\r') && !line.contains('\u{1b}'),
            "redraw or colour off a terminal: {line:?}"
        );
    }
}

#[test]
fn set_image_rolls_out_with_plain_progress_and_records_the_change() {
    let c = Cluster::start(3, 4, 300);
    c.create(model("fraud", 3, &[("model", "registry.example/fraud:v1")], None));
    c.wait_rolled_out("fraud");

    let out = c.run(&[
        "set-image",
        "fraud",
        "model=registry.example/fraud:v2",
        "--model-version",
        "v2",
        "--max-surge",
        "2",
        "--max-unavailable",
        "0",
    ]);
    assert_code(&out, 0, "set-image");
    let stderr = out.stderr.clone();
    assert_timestamped(&stderr);
    assert!(
        stderr.contains(
            "deployment/fraud: model registry.example/fraud:v1 → registry.example/fraud:v2 (model v2)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("revision 2: updated "), "{stderr}");
    assert!(
        stderr.contains(
            "deployment/fraud: revision 2: all 3 replicas updated, ready and available; no old replicas left"
        ),
        "{stderr}"
    );
    assert_eq!(out.stdout.clone(), "deployment/fraud rolled out (revision 2)\n");

    // Done means done: the cluster agrees the moment the command returns.
    let d = c.deployment("fraud");
    assert!(rolled_out(&d), "{:?}", d.status);
    assert_eq!(template_image(&d, "model"), "registry.example/fraud:v2");
    let labels = d.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().labels.clone().unwrap();
    assert_eq!(labels["modelroll.io/model-version"], "v2");
    assert_eq!(
        annotation(&d, "kubernetes.io/change-cause").as_deref(),
        Some("set-image model=registry.example/fraud:v2 (model v2)")
    );
    let rolling = serde_json::to_value(d.spec.as_ref().unwrap().strategy.as_ref().unwrap()).unwrap();
    assert_eq!(rolling["rollingUpdate"], json!({"maxSurge": 2, "maxUnavailable": 0}));
    let pods = c.pods("app=fraud");
    let v2_ready = pods
        .iter()
        .filter(|p| {
            p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("registry.example/fraud:v2")
        })
        .filter(|p| common::pod_ready(p))
        .count();
    assert_eq!(v2_ready, 3);

    // The same command again changes nothing, and says so.
    let before = generation(&d);
    let out = c.run(&["set-image", "fraud", "model=registry.example/fraud:v2", "--model-version", "v2"]);
    assert_code(&out, 0, "second set-image");
    assert!(out.stderr.clone().contains("deployment/fraud unchanged"), "{}", out.stderr.clone());
    assert_eq!(generation(&c.deployment("fraud")), before);
}

#[test]
fn multi_container_needs_names_and_star_sets_every_container() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("duo", 1, &[("model", "fraud:v1"), ("proxy", "envoy:v1")], None));
    c.wait_rolled_out("duo");
    let generation_before = generation(&c.deployment("duo"));

    let out = c.run(&["set-image", "duo", "fraud:v2"]);
    assert_code(&out, 2, "bare image on two containers");
    let stderr = out.stderr.clone();
    assert!(stderr.contains("containers are: model, proxy"), "{stderr}");
    let out = c.run(&["set-image", "duo", "server=fraud:v2"]);
    assert_code(&out, 2, "unknown container");
    assert!(out
        .stderr
        .clone()
        .contains("deployment \"duo\" has no container \"server\"; containers are: model, proxy"));
    assert_eq!(generation(&c.deployment("duo")), generation_before);

    let out = c.run(&["set-image", "duo", "*=registry.example/all:v2"]);
    assert_code(&out, 0, "*=");
    let d = c.deployment("duo");
    assert_eq!(template_image(&d, "model"), "registry.example/all:v2");
    assert_eq!(template_image(&d, "proxy"), "registry.example/all:v2");

    let out = c.run(&["set-image", "duo", "proxy=envoy:v3", "--no-wait"]);
    assert_code(&out, 0, "named container --no-wait");
    let d = c.deployment("duo");
    assert_eq!(template_image(&d, "model"), "registry.example/all:v2");
    assert_eq!(template_image(&d, "proxy"), "envoy:v3");
}

#[test]
fn crashloop_fails_fast_and_stays_without_rollback() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("crashy", 2, &[("model", "fraud:v1")], None));
    c.wait_rolled_out("crashy");
    let out = c.run(&["set-image", "crashy", "fraud:v2-crashloop", "--timeout", "50s"]);
    assert_code(&out, 1, "crashloop");
    let stderr = out.stderr.clone();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: the rollout of deployment/crashy failed: pod crashy-"), "{last}");
    assert!(last.contains("CrashLoopBackOff"), "{last}");
    assert!(last.contains("kubectl modelroll undo crashy"), "{last}");
    assert!(stderr.contains("CrashLoopBackOff ("), "the pod line shows the restarts:\n{stderr}");
    // No rollback asked: the new template stays, the old pods keep serving.
    let d = c.deployment("crashy");
    assert_eq!(template_image(&d, "model"), "fraud:v2-crashloop");
    assert!(d.status.as_ref().unwrap().available_replicas.unwrap_or(0) >= 1);
}

#[test]
fn crashloop_with_rollback_on_failure_restores_the_previous_revision() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("fraud", 2, &[("model", "fraud:v1")], None));
    c.wait_rolled_out("fraud");
    let out =
        c.run(&["set-image", "fraud", "fraud:v2-crashloop", "--rollback-on-failure", "--timeout", "50s"]);
    assert_code(&out, 1, "crashloop with rollback");
    let stderr = out.stderr.clone();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("CrashLoopBackOff"), "says what failed: {last}");
    assert!(last.contains("rolled back to revision 1, which is rolled out and available again"), "{last}");
    assert!(stderr.contains("rolling back to revision 1 (--rollback-on-failure)"), "{stderr}");
    let d = c.deployment("fraud");
    assert_eq!(template_image(&d, "model"), "fraud:v1");
    assert!(rolled_out(&d), "the rollback completed: {:?}", d.status);
}

#[test]
fn errimagepull_fails_fast_naming_the_pod() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("pull", 1, &[("model", "fraud:v1")], None));
    c.wait_rolled_out("pull");
    let out = c.run(&["set-image", "pull", "fraud:v2-errimagepull", "--timeout", "50s"]);
    assert_code(&out, 1, "errimagepull");
    let last = out.stderr.clone().lines().last().unwrap_or_default().to_string();
    assert!(last.contains("pod pull-"), "{last}");
    assert!(last.contains("ErrImagePull") || last.contains("ImagePullBackOff"), "{last}");
}

#[test]
fn gpu_deadlock_is_refused_with_the_numbers_then_accepted_with_yes() {
    // 3 nodes × 4 GPUs, 6 replicas × 2 GPUs: every GPU is taken.
    let c = Cluster::start(3, 4, 200);
    c.create(model("llm", 6, &[("model", "llm:v1")], Some(2)));
    c.wait_rolled_out("llm");
    let before = c.deployment("llm");

    let out = c.run(&["set-image", "llm", "llm:v2", "--max-surge", "1", "--max-unavailable", "0"]);
    assert_code(&out, 1, "deadlock without --yes");
    let stderr = out.stderr.clone();
    assert!(
        stderr.contains(
            "maxSurge 1 needs 2 nvidia.com/gpu on one node; the largest free block is 0 on 3 nodes"
        ),
        "{stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("nothing was changed")
            && last.contains("--yes")
            && last.contains("--max-surge 0 --max-unavailable 1"),
        "{last}"
    );
    let after = c.deployment("llm");
    assert_eq!(generation(&after), generation(&before), "nothing written");
    assert_eq!(template_image(&after, "model"), "llm:v1");

    let out = c.run(&["set-image", "llm", "llm:v2", "--max-surge", "1", "--max-unavailable", "0", "--yes"]);
    assert_code(&out, 0, "deadlock with --yes");
    assert!(out.stderr.clone().contains("using maxSurge 0, maxUnavailable 1"), "{}", out.stderr.clone());
    let d = c.deployment("llm");
    assert!(rolled_out(&d));
    assert_eq!(template_image(&d, "model"), "llm:v2");
    let strategy = serde_json::to_value(d.spec.as_ref().unwrap().strategy.as_ref().unwrap()).unwrap();
    assert_eq!(strategy["rollingUpdate"], json!({"maxSurge": 0, "maxUnavailable": 1}));
}

#[test]
fn gpu_partial_fit_warns_and_goes_on() {
    // 5 replicas × 2 GPUs on 12: one 2-GPU surge pod fits, not two.
    let c = Cluster::start(3, 4, 200);
    c.create(model("llm", 5, &[("model", "llm:v1")], Some(2)));
    c.wait_rolled_out("llm");
    let out = c.run(&["set-image", "llm", "llm:v2", "--max-surge", "2", "--max-unavailable", "0"]);
    assert_code(&out, 0, "partial fit");
    assert!(out.stderr.clone().contains("warning: only 1 of the 2 surge pods fit"), "{}", out.stderr.clone());
    let d = c.deployment("llm");
    assert!(rolled_out(&d));
    assert_eq!(template_image(&d, "model"), "llm:v2");
}

#[test]
fn undo_and_history() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("fraud", 2, &[("model", "fraud:v1")], None));
    c.wait_rolled_out("fraud");
    for (image, version) in [("fraud:v2", "v2"), ("fraud:v3", "v3")] {
        let out = c.run(&["set-image", "fraud", image, "--model-version", version]);
        assert_code(&out, 0, image);
    }
    let out = c.run(&["history", "fraud"]);
    assert_code(&out, 0, "history");
    let table = out.stdout.clone();
    let lines: Vec<&str> = table.lines().collect();
    let headers: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        headers,
        ["REVISION", "IMAGE(S)", "MODEL-VERSION", "CHANGE-CAUSE", "CREATED", "REPLICAS"],
        "{table}"
    );
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[1].starts_with("1 ") && lines[1].contains("fraud:v1") && lines[1].contains("<none>"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("3 (current)") && lines[3].contains("set-image model=fraud:v3 (model v3)"),
        "{table}"
    );
    assert!(lines[3].contains("2/2"), "{table}");

    // An unknown revision lists the ones there are, and changes nothing.
    let generation_before = generation(&c.deployment("fraud"));
    let out = c.run(&["undo", "fraud", "--to-revision", "9"]);
    assert_code(&out, 2, "unknown revision");
    assert!(out
        .stderr
        .clone()
        .contains("deployment \"fraud\" has no revision 9; its revisions are: 1, 2, 3"));
    assert_eq!(generation(&c.deployment("fraud")), generation_before);

    let out = c.run(&["undo", "fraud"]);
    assert_code(&out, 0, "undo");
    assert_eq!(out.stdout.clone(), "deployment/fraud rolled back to revision 2\n");
    let d = c.deployment("fraud");
    assert!(rolled_out(&d));
    assert_eq!(template_image(&d, "model"), "fraud:v2");
    let labels = d.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().labels.clone().unwrap();
    assert_eq!(labels["modelroll.io/model-version"], "v2");
    assert!(!labels.contains_key("pod-template-hash"));

    let out = c.run(&["undo", "fraud", "--to-revision", "1"]);
    assert_code(&out, 0, "undo --to-revision 1");
    let d = c.deployment("fraud");
    assert_eq!(template_image(&d, "model"), "fraud:v1");
    let labels = d.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().labels.clone().unwrap();
    assert!(!labels.contains_key("modelroll.io/model-version"), "the label of v2 is gone: {labels:?}");

    let out = c.run(&["history", "fraud", "-o", "json"]);
    assert_code(&out, 0, "history -o json");
    let history: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(history["kind"], "ModelHistory");
    let revisions: Vec<i64> =
        history["revisions"].as_array().unwrap().iter().map(|r| r["revision"].as_i64().unwrap()).collect();
    assert_eq!(revisions, vec![3, 4, 5], "revisions 1 and 2 were reused as 4 and 5");
    assert_eq!(history["revisions"][2]["current"], true);
}

#[test]
fn status_prints_a_stable_json_document_in_three_requests() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("fraud", 2, &[("model", "registry.example/fraud:v1")], None));
    c.wait_rolled_out("fraud");
    let out = c.run(&["set-image", "fraud", "registry.example/fraud:v2", "--model-version", "v2"]);
    assert_code(&out, 0, "set-image");

    let before = c.requests();
    let out = c.run(&["status", "fraud", "-o", "json"]);
    assert_code(&out, 0, "status -o json");
    let requests = c.requests() - before;
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["apiVersion"], "modelroll.io/v1alpha1");
    assert_eq!(status["kind"], "ModelStatus");
    assert_eq!(status["target"], json!({"kind": "Deployment", "name": "fraud", "namespace": "default"}));
    assert_eq!(status["phase"], "Healthy");
    assert_eq!(status["strategy"]["type"], "RollingUpdate");
    assert_eq!(status["replicas"], json!({"desired": 2, "updated": 2, "ready": 2, "available": 2}));
    let revision = &status["revisions"][0];
    assert_eq!(revision["revision"], 2);
    assert_eq!(revision["current"], true);
    assert_eq!(revision["images"], json!([{"container": "model", "image": "registry.example/fraud:v2"}]));
    assert_eq!(revision["modelVersion"], "v2");
    assert_eq!(revision["ready"], 2);
    assert_eq!(revision["replicas"], 2);
    assert_eq!(status["revisions"].as_array().unwrap().len(), 1, "only revisions with pods");
    assert_eq!(status["problems"], json!([]));

    assert!(requests <= 3, "status made {requests} API requests");

    let out = c.run(&["status", "fraud"]);
    assert_code(&out, 0, "status");
    let screen = out.stdout.clone();
    assert!(screen.contains("Phase:     Healthy"), "{screen}");
    assert!(
        screen.contains("REVISION") && screen.contains("IMAGE(S)") && screen.contains("MODEL-VERSION"),
        "{screen}"
    );
    assert!(screen.contains("2 (current)"), "{screen}");
}

#[test]
fn ctrl_c_stops_the_wait_and_the_rollout_goes_on() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("slow", 1, &[("model", "fraud:v1")], None));
    c.wait_rolled_out("slow");
    // The new pods take 5s to get ready: the wait is under way when we interrupt it.
    let mut object = serde_json::to_value(c.deployment("slow")).unwrap();
    object["spec"]["template"]["metadata"]["annotations"] =
        json!({"playground.modelroll.io/ready-after": "5s"});
    let d: Deployment = serde_json::from_value(object).unwrap();
    c.runtime.block_on(c.deployments().replace("slow", &PostParams::default(), &d)).unwrap();
    c.wait_rolled_out("slow");

    let mut child = c
        .command(&["set-image", "slow", "fraud:v2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("revision ") && line.contains("updated ") {
            break;
        }
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130), "{seen}");
    let last = seen.lines().last().unwrap_or_default();
    assert!(last.contains("goes on in the cluster"), "{last}");
    assert!(
        last.contains("kubectl modelroll status slow --watch")
            && last.contains("kubectl modelroll undo slow"),
        "{last}"
    );
    // The rollout continues without us.
    c.wait_for("slow", "rolled out to v2", |d| rolled_out(d) && template_image(d, "model") == "fraud:v2");
}

#[test]
fn bad_inputs_exit_2_and_refusals_exit_1_with_nothing_changed() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("fraud", 1, &[("model", "fraud:v1")], None));
    let before = generation(&c.deployment("fraud"));
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["set-image", "fraud", "Fraud:V2"],
            2,
            "invalid image reference \"Fraud:V2\": the repository path \"Fraud\" must be lowercase",
        ),
        (&["set-image", "fraud", "fraud:"], 2, "invalid image reference"),
        (&["set-image", "fraud", &format!("fraud:{}", "x".repeat(129))], 2, "at most 128"),
        (&["set-image", "fraud", "fraud@sha256:123"], 2, "64"),
        (&["set-image", "fraud", "fraud:v2", "--max-surge", "101%"], 2, "invalid --max-surge"),
        (&["set-image", "fraud", "fraud:v2", "--max-unavailable", "-1"], 2, "invalid --max-unavailable"),
        (
            &["set-image", "fraud", "fraud:v2", "--max-surge", "0", "--max-unavailable", "0%"],
            2,
            "cannot both be zero",
        ),
        (&["set-image", "fraud", "fraud:v2", "--model-version", "v 2"], 2, "invalid --model-version"),
        (&["set-image", "fraud", "server=fraud:v2"], 2, "has no container \"server\""),
        (&["set-image", "missing", "fraud:v2"], 2, "not found"),
        (
            &["undo", "fraud", "--to-revision", "7"],
            2,
            "deployment \"fraud\" has no revision 7; its revisions are: ",
        ),
        (&["set-image", "fraud", "fraud:v2", "-o", "yaml"], 2, "--dry-run"),
        (&["set-image", "fraud", "fraud:v2", "--context", "playground-viewer"], 1, "forbidden"),
    ];
    for (args, code, needle) in cases {
        let out = c.run(args);
        assert_code(&out, *code, &format!("{args:?}"));
        let stderr = out.stderr.clone();
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
        assert_eq!(generation(&c.deployment("fraud")), before, "{args:?} changed the deployment");
    }
    // Dry runs print the Deployment as it would be written, and write nothing.
    for mode in ["--dry-run=client", "--dry-run=server"] {
        let out = c.run(&["set-image", "fraud", "fraud:v2", mode, "-o", "json", "--model-version", "v2"]);
        assert_code(&out, 0, mode);
        let printed: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(printed["spec"]["template"]["spec"]["containers"][0]["image"], "fraud:v2", "{mode}");
        assert_eq!(
            printed["metadata"]["annotations"]["kubernetes.io/change-cause"],
            "set-image model=fraud:v2 (model v2)"
        );
        assert_eq!(generation(&c.deployment("fraud")), before, "{mode} wrote");
    }
}

impl Cluster {
    fn knative_services(&self) -> Api<kube::api::DynamicObject> {
        Api::namespaced_with(self.client.clone(), "default", &modelroll::watch::knative_service_resource())
    }

    fn knative_revisions(&self) -> Api<kube::api::DynamicObject> {
        Api::namespaced_with(self.client.clone(), "default", &modelroll::watch::knative_revision_resource())
    }

    /// Wait (with a deadline) until ksvc `name` satisfies `condition`.
    fn wait_for_ksvc(&self, name: &str, what: &str, condition: impl Fn(&Value) -> bool) {
        let api = self.knative_services();
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            let object = self.runtime.block_on(api.get(name)).expect("get ksvc");
            if condition(&serde_json::to_value(&object).unwrap()) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "ksvc {name} never became {what}: {object:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn ksvc_ready(ksvc: &Value) -> bool {
    let generation = ksvc.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let observed = ksvc.pointer("/status/observedGeneration").and_then(Value::as_i64).unwrap_or(-1);
    let ready = ksvc
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
    observed >= generation && ready
}

#[test]
fn knative_set_image_makes_a_revision_and_reports_where_traffic_goes() {
    let c = Cluster::start(3, 4, 200);
    let ksvc: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "sentiment", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": "registry.example/sentiment:v1"}]}}}
    }))
    .unwrap();
    c.runtime.block_on(c.knative_services().create(&PostParams::default(), &ksvc)).expect("create ksvc");
    c.wait_for_ksvc("sentiment", "ready", ksvc_ready);

    let out =
        c.run(&["set-image", "ksvc/sentiment", "registry.example/sentiment:v2", "--model-version", "v2"]);
    assert_code(&out, 0, "set-image ksvc");
    let stdout = out.stdout.clone();
    assert!(stdout.contains("revision sentiment-00002 ready; traffic: sentiment-00002 100%"), "{stdout}");
    assert_timestamped(&out.stderr.clone());

    let out = c.run(&["status", "ksvc/sentiment", "-o", "json"]);
    assert_code(&out, 0, "status ksvc");
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["target"]["kind"], "KnativeService");
    assert_eq!(status["phase"], "Healthy");
    let current = &status["revisions"][0];
    assert_eq!(current["name"], "sentiment-00002");
    assert_eq!(current["trafficPercent"], 100);
    assert_eq!(current["modelVersion"], "v2");

    let out = c.run(&["history", "ksvc/sentiment"]);
    assert_code(&out, 0, "history ksvc");
    let table = out.stdout.clone();
    assert!(table.lines().next().unwrap_or_default().contains("TRAFFIC"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("2 (current)") && l.contains("100%")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("1 ") && l.contains("0%")), "{table}");

    // undo serves revision 1 again: the template names it, Knative builds nothing new.
    let out = c.run(&["undo", "ksvc/sentiment"]);
    assert_code(&out, 0, "undo ksvc");
    assert!(
        out.stdout.contains("ksvc/sentiment rolled back to revision 1 (sentiment-00001)"),
        "{}",
        out.stdout
    );
    let ksvc = c.runtime.block_on(c.knative_services().get("sentiment")).unwrap();
    let ksvc = serde_json::to_value(ksvc).unwrap();
    assert_eq!(ksvc["spec"]["template"]["metadata"]["name"], "sentiment-00001");
    assert_eq!(ksvc["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/sentiment:v1");
    assert_eq!(ksvc["status"]["latestReadyRevisionName"], "sentiment-00001");
    assert_eq!(ksvc["status"]["traffic"][0]["revisionName"], "sentiment-00001");
    assert_eq!(ksvc["status"]["traffic"][0]["percent"], 100);
    let revisions = c.runtime.block_on(c.knative_revisions().list(&Default::default())).unwrap();
    assert_eq!(revisions.items.len(), 2, "no revision stamped");
    // Again: nothing to do. Older than revision 1: none. A revision that does not exist: exit 2.
    let out = c.run(&["undo", "ksvc/sentiment", "--to-revision", "1"]);
    assert_code(&out, 0, "undo to the revision serving");
    assert!(out.stderr.contains("skipped rollback"), "{}", out.stderr);
    let out = c.run(&["undo", "ksvc/sentiment"]);
    assert_code(&out, 2, "undo with nothing older");
    assert!(out.stderr.contains("no revision older than its latest (sentiment-00001)"), "{}", out.stderr);
    let out = c.run(&["undo", "ksvc/sentiment", "--to-revision", "5"]);
    assert_code(&out, 2, "undo to a missing revision");
    assert!(out.stderr.contains("its revisions are: 1, 2"), "{}", out.stderr);
    // Forward again with --to-revision 2.
    let out = c.run(&["undo", "ksvc/sentiment", "--to-revision", "2"]);
    assert_code(&out, 0, "undo --to-revision 2");
    let ksvc =
        serde_json::to_value(c.runtime.block_on(c.knative_services().get("sentiment")).unwrap()).unwrap();
    assert_eq!(ksvc["status"]["latestReadyRevisionName"], "sentiment-00002");
    assert_eq!(ksvc["spec"]["template"]["metadata"]["labels"]["modelroll.io/model-version"], "v2");

    // A revision that crashes, with --rollback-on-failure: the revision that served before serves
    // again (named in the template), and nothing else is stamped.
    let out = c.run(&[
        "set-image",
        "ksvc/sentiment",
        "registry.example/sentiment:v3-crashloop",
        "--rollback-on-failure",
        "--timeout",
        "60s",
    ]);
    assert_code(&out, 1, "a crashing revision");
    let last = out.stderr.lines().last().unwrap_or_default().to_string();
    assert!(last.contains("rolled back to sentiment-00002, which is ready and serves again"), "{last}");
    let ksvc =
        serde_json::to_value(c.runtime.block_on(c.knative_services().get("sentiment")).unwrap()).unwrap();
    assert_eq!(ksvc["spec"]["template"]["metadata"]["name"], "sentiment-00002");
    assert_eq!(ksvc["status"]["latestReadyRevisionName"], "sentiment-00002");
    assert_eq!(ksvc["status"]["traffic"][0]["revisionName"], "sentiment-00002");
    let revisions = c.runtime.block_on(c.knative_revisions().list(&Default::default())).unwrap();
    assert_eq!(revisions.items.len(), 3, "only the crashing revision was added");

    // Without --rollback-on-failure the failing revision stays the latest created; undo then goes
    // back to the one still serving, not one before it.
    let out = c.run(&[
        "set-image",
        "ksvc/sentiment",
        "registry.example/sentiment:v4-crashloop",
        "--timeout",
        "60s",
    ]);
    assert_code(&out, 1, "another crashing revision");
    let ksvc =
        serde_json::to_value(c.runtime.block_on(c.knative_services().get("sentiment")).unwrap()).unwrap();
    let failing = ksvc["status"]["latestCreatedRevisionName"].as_str().unwrap().to_string();
    assert_ne!(failing, "sentiment-00002");
    assert_eq!(ksvc["status"]["latestReadyRevisionName"], "sentiment-00002");
    let out = c.run(&["undo", "ksvc/sentiment"]);
    assert_code(&out, 0, "undo from a failing latest");
    assert!(out.stdout.contains("rolled back to revision 2 (sentiment-00002)"), "{}", out.stdout);
    let ksvc =
        serde_json::to_value(c.runtime.block_on(c.knative_services().get("sentiment")).unwrap()).unwrap();
    assert_eq!(ksvc["status"]["latestCreatedRevisionName"], "sentiment-00002");
}

#[test]
fn a_new_pod_unschedulable_past_the_timeout_fails_the_rollout() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("big", 1, &[("model", "big:v1")], Some(2)));
    c.wait_rolled_out("big");
    // The new template asks for 5 GPUs; no node has more than 4.
    let mut object = serde_json::to_value(c.deployment("big")).unwrap();
    object["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = json!("5");
    let d: Deployment = serde_json::from_value(object).unwrap();
    c.runtime.block_on(c.deployments().replace("big", &PostParams::default(), &d)).unwrap();
    let out =
        c.run(&["set-image", "big", "big:v2", "--max-unavailable", "1", "--unschedulable-timeout", "2s"]);
    assert_code(&out, 1, "unschedulable");
    let stderr = out.stderr.clone();
    assert!(
        stderr.contains("warning: maxSurge 1 needs 5 nvidia.com/gpu on one node; the largest free block is"),
        "{stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("pod big-") && last.contains("Unschedulable"), "{last}");
    assert!(last.contains("nvidia.com/gpu"), "the scheduler's reason: {last}");
}

#[test]
fn status_watch_prints_each_change_until_interrupted() {
    let c = Cluster::start(3, 4, 200);
    c.create(model("fraud", 1, &[("model", "fraud:v1")], None));
    c.wait_rolled_out("fraud");
    let mut child = c
        .command(&["status", "fraud", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut screen = String::new();
    let read_until = |needle: &str, screen: &mut String| {
        let deadline = std::time::Instant::now() + DEADLINE;
        while !screen.contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = lines_rx.recv_timeout(left).unwrap_or_else(|_| panic!("no {needle:?} in:\n{screen}"));
            screen.push_str(&line);
            screen.push('\n');
        }
    };
    read_until("Phase:     Healthy", &mut screen);
    assert_code(&c.run(&["set-image", "fraud", "fraud:v2", "--no-wait"]), 0, "set-image --no-wait");
    read_until("fraud:v2", &mut screen);
    read_until("2 (current)", &mut screen);
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130), "{screen}");
    assert!(screen.matches("Phase:").count() >= 2, "one screen per change:\n{screen}");
}

/// Issue 11, case 10: `set-image … 2>&1 | head -1` died of a panic on the closed pipe (exit
/// 134, the rollout's wait cut short). Both streams go into one pipe whose reader leaves after
/// the first line: the command still rolls the change out and exits with its own code, 0, and
/// a failing command keeps its own code, 2, through the same closed pipe.
#[test]
fn a_closed_output_pipe_ends_output_quietly_and_changes_neither_the_work_nor_the_exit_code() {
    let c = Cluster::start(3, 4, 300);
    c.create(model("piped", 2, &[("model", "registry.example/piped:v1")], None));
    c.wait_rolled_out("piped");

    let run_into_head_1 = |args: &[&str]| {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut child = c
            .command(args)
            .env("NO_COLOR", "1")
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .spawn()
            .unwrap();
        // `head -1`: read one line, then close the pipe while the command goes on writing.
        let mut first = String::new();
        BufReader::new(reader).read_line(&mut first).unwrap();
        let status = child.wait().unwrap();
        (status.code(), first)
    };
    let (code, first) = run_into_head_1(&["set-image", "piped", "registry.example/piped:v2"]);
    assert_eq!(code, Some(0), "first line: {first}");
    assert!(first.contains("deployment/piped"), "{first}");
    let d = c.deployment("piped");
    assert_eq!(template_image(&d, "model"), "registry.example/piped:v2");
    assert!(rolled_out(&d), "set-image returned before the rollout was done: {:?}", d.status);

    let (code, first) = run_into_head_1(&["set-image", "missing", "registry.example/piped:v3"]);
    assert_eq!(code, Some(2), "first line: {first}");
}
