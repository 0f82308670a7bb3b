//! One operation at a time per model (issue 11, case 5): a write command holds the model's
//! `coordination.k8s.io/v1` Lease while it runs; a second one is refused at once naming the
//! holder; the lease is released on success, on Ctrl-C, and taken over from a dead or silent
//! holder; reads and dry runs never take it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};

use crate::common::{self, Options, Output, Playground};

const NS: &str = "default";
const DEADLINE: Duration = Duration::from_secs(60);

/// A playground with the compact Istio CRDs and model `name`: 2 replicas behind a Service and a
/// VirtualService, with a canary at 10% (istio router: the weights are explicit).
struct Env {
    pg: Playground,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    name: &'static str,
}

impl Env {
    fn start(name: &'static str) -> Self {
        let pg = Playground::start_with(Options { with: vec!["istio"], ..Options::default() });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = runtime.block_on(pg.client());
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name, "modelroll.io/track": "stable"}},
                    "spec": {"containers": [{"name": "model", "image": format!("registry.example/{name}:v1"), "ports": [{"name": "http", "containerPort": 8080}]}]}
                }
            }
        });
        let service = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
        });
        let virtual_service = json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"hosts": [format!("{name}.example.com")], "http": [{"name": "model", "route": [{"destination": {"host": name, "port": {"number": 80}}}]}]}
        });
        for object in [deployment, service, virtual_service] {
            pg.kubectl_with_input(&["apply", "-f", "-"], Some(&object.to_string())).success();
        }
        pg.kubectl(&["rollout", "status", &format!("deployment/{name}"), "--timeout=60s"]).success();
        let env = Self { pg, runtime, client, name };
        env.run(&[
            "canary",
            name,
            "--image",
            &format!("registry.example/{name}:v2"),
            "--weight",
            "10",
            "--yes",
        ])
        .success();
        env
    }

    fn run(&self, args: &[&str]) -> Output {
        self.pg.modelroll(args)
    }

    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"))
            .arg("--kubeconfig")
            .arg(self.pg.kubeconfig())
            .args(args)
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl-modelroll starts")
    }

    fn lease_name(&self) -> String {
        format!("modelroll-deployment-{}", self.name)
    }

    fn lease(&self) -> Option<Lease> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), NS);
        self.runtime.block_on(api.get_opt(&self.lease_name())).expect("read the lease")
    }

    fn holder_of_lease(&self) -> Option<String> {
        self.lease().and_then(|l| l.spec.and_then(|s| s.holder_identity))
    }

    /// (canary weight in the VirtualService, weights' total, weight in the rollout annotation).
    fn weights(&self) -> (u64, u64, u64) {
        let vs_api = ApiResource {
            group: "networking.istio.io".into(),
            version: "v1".into(),
            api_version: "networking.istio.io/v1".into(),
            kind: "VirtualService".into(),
            plural: "virtualservices".into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), NS, &vs_api);
        let vs = serde_json::to_value(self.runtime.block_on(api.get(self.name)).unwrap()).unwrap();
        let route = vs["spec"]["http"][0]["route"].as_array().cloned().unwrap_or_default();
        let weight_of = |subset: &str| -> u64 {
            route
                .iter()
                .filter(|d| d["destination"]["subset"] == subset)
                .map(|d| d["weight"].as_u64().unwrap_or(0))
                .sum()
        };
        let deployment = self.pg.kubectl(&["get", "deployment", self.name, "-o", "json"]);
        let deployment: Value = serde_json::from_str(&deployment.success().stdout).unwrap();
        let state: Value = serde_json::from_str(
            deployment["metadata"]["annotations"]["modelroll.io/rollout"]
                .as_str()
                .expect("a canary in progress"),
        )
        .unwrap();
        let annotated = state["weight"].as_u64().expect("a weight in the rollout annotation");
        (weight_of("canary"), weight_of("canary") + weight_of("stable"), annotated)
    }

    /// Wait until the lease is held by a live modelroll process.
    fn wait_until_held(&self, child: &mut Child) {
        common::wait_for(DEADLINE, "the lease to be taken", || {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the command ended before it was seen holding the lease"
            );
            self.holder_of_lease().is_some_and(|h| !h.is_empty())
        });
    }
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Two `shift`s started together (each holding its first step for 3s, so they overlap): exactly
/// one proceeds; the other exits 1 at once with a sentence naming the holder's command, user,
/// host and start; the weights afterwards are the winner's, in the VirtualService and the
/// annotation alike, and the lease is gone.
#[test]
fn two_shifts_at_once_one_proceeds_and_the_other_names_the_holder() {
    let env = Env::start("twice");
    let first = env.spawn(&["shift", "twice", "--steps", "30,60", "--interval", "3s", "--timeout", "60s"]);
    let second = env.spawn(&["shift", "twice", "--steps", "40,70", "--interval", "3s", "--timeout", "60s"]);
    let (first, second) = (finish(first), finish(second));
    let (winner, loser, final_weight) = match (first.code, second.code) {
        (0, 1) => (first, second, 60),
        (1, 0) => (second, first, 70),
        codes => panic!("exactly one shift must proceed: {codes:?}\n{}\n{}", first.stderr, second.stderr),
    };
    let refusal = regex::Regex::new(
        r"^error: another operation is in progress on deployment/twice: `shift` by [^@\s]+@\S+ since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s ago\); wait for it to finish and run the command again\. If that command was killed, its lease .modelroll-deployment-twice. expires on its own",
    )
    .unwrap();
    assert!(refusal.is_match(&loser.stderr), "{}", loser.stderr);
    assert_eq!(loser.stderr.lines().count(), 1, "one sentence: {}", loser.stderr);
    assert!(winner.stdout.contains(&format!("has weight {final_weight}%")), "{}", winner.stdout);
    assert_eq!(env.weights(), (final_weight, 100, final_weight));
    assert!(env.lease().is_none(), "the winner released the lease");
}

/// A holder killed with SIGKILL cannot release its lease: the next command on the same machine
/// sees that the process is gone and takes the lease over at once. A holder elsewhere that
/// stopped renewing is waited for until renewTime + leaseDurationSeconds, then taken over.
#[test]
fn a_dead_or_silent_holders_lease_is_taken_over() {
    let env = Env::start("killed");
    let mut holder =
        env.spawn(&["shift", "killed", "--steps", "20,30", "--interval", "60s", "--timeout", "90s"]);
    env.wait_until_held(&mut holder);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(env.lease().is_some(), "SIGKILL leaves the lease behind");
    env.run(&["shift", "killed", "--weight", "50"]).success();
    assert_eq!(env.weights(), (50, 100, 50));
    assert!(env.lease().is_none());

    // A holder on another machine, alive: refused, named.
    let now = jiff::Timestamp::now();
    let lease = |renewed: jiff::Timestamp| {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "modelroll-deployment-killed", "namespace": NS,
                "annotations": {"modelroll.io/operation": "promote", "modelroll.io/holder": "bob@ci-runner-7"}},
            "spec": {"holderIdentity": "bob@ci-runner-7/4242/0badf00d", "leaseDurationSeconds": 15,
                "acquireTime": renewed.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                "renewTime": renewed.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}
        })
    };
    env.pg.kubectl_with_input(&["apply", "-f", "-"], Some(&lease(now).to_string())).success();
    let out = env.run(&["shift", "killed", "--weight", "70"]);
    out.code(1);
    assert!(
        out.stderr.contains(
            "another operation is in progress on deployment/killed: `promote` by bob@ci-runner-7 since "
        ),
        "{}",
        out.stderr
    );
    assert_eq!(env.weights(), (50, 100, 50), "the refused shift changed nothing");
    // The same holder, silent for longer than leaseDurationSeconds: expired, taken over.
    let stale = now.checked_sub(jiff::SignedDuration::from_secs(16)).unwrap();
    env.pg.kubectl_with_input(&["apply", "-f", "-"], Some(&lease(stale).to_string())).success();
    env.run(&["shift", "killed", "--weight", "70"]).success();
    assert_eq!(env.weights(), (70, 100, 70));
    assert!(env.lease().is_none());
}

/// Ctrl-C (SIGINT to the process) during a hold ends the command with exit 130 and releases the
/// lease: the next command proceeds at once.
#[test]
fn ctrl_c_releases_the_lease() {
    let env = Env::start("interrupted");
    let mut holder =
        env.spawn(&["shift", "interrupted", "--steps", "20,30", "--interval", "60s", "--timeout", "90s"]);
    env.wait_until_held(&mut holder);
    let pid = i32::try_from(holder.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = finish(holder);
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert!(env.lease().is_none(), "the interrupted command left its lease");
    env.run(&["shift", "interrupted", "--weight", "40"]).success();
    assert_eq!(env.weights(), (40, 100, 40));
}

/// status, list and history never take (or wait for) the lease, nor do dry runs; kubectl shows
/// the lease and its holder.
#[test]
fn reads_and_dry_runs_take_no_lease() {
    let env = Env::start("readers");
    let mut holder =
        env.spawn(&["shift", "readers", "--steps", "20,30", "--interval", "60s", "--timeout", "90s"]);
    env.wait_until_held(&mut holder);
    env.run(&["status", "readers"]).success();
    env.run(&["list"]).success();
    env.run(&["history", "readers"]).success();
    env.run(&["shift", "readers", "--weight", "50", "--dry-run=client", "-o", "yaml"]).success();
    env.run(&["abort", "readers", "--dry-run=server", "-o", "yaml"]).success();
    let lease = env.lease().unwrap();
    let holder_identity = lease.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap();
    assert!(holder_identity.contains(&format!("/{}/", holder.id())), "still the shift's: {holder_identity}");
    let table = env.pg.kubectl(&["get", "leases"]);
    let table = &table.success().stdout;
    assert!(table.starts_with("NAME") && table.contains("HOLDER"), "{table}");
    assert!(table.contains("modelroll-deployment-readers") && table.contains(&holder_identity), "{table}");
    let _ = holder.kill();
    let _ = holder.wait();
}

/// The playground serves leases as kube-apiserver does: validation, resourceVersion conflicts.
#[test]
fn the_playground_validates_leases_and_refuses_stale_writes() {
    let pg = Playground::start_with(Options { controllers: false, ..Options::default() });
    let bad = r#"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"leaseDurationSeconds":0,"leaseTransitions":-1}}"#;
    let out = pg.kubectl_with_input(&["create", "-f", "-"], Some(bad));
    out.code(1);
    assert!(
        out.stderr.contains("spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0")
            && out
                .stderr
                .contains("spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"),
        "{}",
        out.stderr
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let api: Api<Lease> = Api::namespaced(pg.client().await, NS);
        let lease: Lease = serde_json::from_value(
            json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}),
        )
        .unwrap();
        let created = api.create(&PostParams::default(), &lease).await.unwrap();
        let mut renewed = created.clone();
        renewed.spec.as_mut().unwrap().holder_identity = Some("b".into());
        api.replace("l", &PostParams::default(), &renewed).await.unwrap();
        // Another writer with the version it read before: 409, as on a real API server.
        let mut stale = created;
        stale.spec.as_mut().unwrap().holder_identity = Some("c".into());
        match api.replace("l", &PostParams::default(), &stale).await {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 409, "{status:?}"),
            other => panic!("a stale write must conflict: {other:?}"),
        }
        let create_again = api.create(&PostParams::default(), &lease).await;
        assert!(matches!(create_again, Err(kube::Error::Api(ref s)) if s.code == 409), "{create_again:?}");
    });
}
