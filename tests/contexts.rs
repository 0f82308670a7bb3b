//! `--contexts`: one command across several clusters. Each context is a playground of its own,
//! and one kubeconfig names them all, as a user's kubeconfig names their clusters.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Output, Playground};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-modelroll");
const DEADLINE: Duration = Duration::from_secs(90);

/// Several playgrounds and one kubeconfig with a context per playground.
struct Fleet {
    names: Vec<&'static str>,
    playgrounds: Vec<Option<Playground>>,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fleet {
    fn start(contexts: &[(&'static str, common::Options)]) -> Self {
        let playgrounds: Vec<Playground> =
            contexts.iter().map(|(_, options)| Playground::start_with(options.clone())).collect();
        let (mut clusters, mut users, mut named) = (Vec::new(), Vec::new(), Vec::new());
        for ((name, _), pg) in contexts.iter().zip(&playgrounds) {
            let text = std::fs::read_to_string(pg.kubeconfig()).expect("the playground's kubeconfig");
            let config: Value = serde_yaml::from_str(&text).expect("kubeconfig YAML");
            let mut cluster = config["clusters"][0].clone();
            cluster["name"] = (*name).into();
            let mut user = config["users"][0].clone();
            user["name"] = (*name).into();
            clusters.push(cluster);
            users.push(user);
            named.push(serde_json::json!({"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}));
        }
        let merged = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "clusters": clusters, "users": users,
            "contexts": named, "current-context": contexts[0].0,
        });
        let dir = tempfile::tempdir().expect("a scratch directory");
        let kubeconfig = dir.path().join("fleet.kubeconfig");
        std::fs::write(&kubeconfig, serde_yaml::to_string(&merged).unwrap()).unwrap();
        Self {
            names: contexts.iter().map(|(n, _)| *n).collect(),
            playgrounds: playgrounds.into_iter().map(Some).collect(),
            kubeconfig,
            _dir: dir,
        }
    }

    /// Add context `name` to the fleet's kubeconfig: the cluster of `of`, as `user` (one of the
    /// users that playground was started with), in namespace `default`.
    fn add_user_context(&self, name: &str, of: &str, user: &modelroll::playground::rbac::StaticUser) {
        let text = std::fs::read_to_string(self.pg(of).user_kubeconfig(user, "default")).unwrap();
        let theirs: Value = serde_yaml::from_str(&text).expect("the user's kubeconfig");
        let mut ours: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&self.kubeconfig).unwrap()).unwrap();
        let mut cluster = theirs["clusters"][0].clone();
        cluster["name"] = name.into();
        let mut person = theirs["users"][0].clone();
        person["name"] = name.into();
        ours["clusters"].as_array_mut().unwrap().push(cluster);
        ours["users"].as_array_mut().unwrap().push(person);
        ours["contexts"].as_array_mut().unwrap().push(
            serde_json::json!({"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}),
        );
        std::fs::write(&self.kubeconfig, serde_yaml::to_string(&ours).unwrap()).unwrap();
    }

    fn pg(&self, context: &str) -> &Playground {
        let index = self.names.iter().position(|n| *n == context).expect("a context of the fleet");
        self.playgrounds[index].as_ref().expect("that playground is running")
    }

    /// Stop one playground: its context then points at a closed port.
    fn stop(&mut self, context: &str) {
        let index = self.names.iter().position(|n| *n == context).unwrap();
        self.playgrounds[index] = None;
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        command.env_remove("KUBECONFIG").env("NO_COLOR", "1").stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().expect("the plugin runs");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// A model `fraud` serving `image` with 2 replicas in `context`, rolled out.
    fn deploy(&self, context: &str, image: &str) {
        let pg = self.pg(context);
        pg.kubectl(&["create", "deployment", "fraud", &format!("--image={image}"), "--replicas=2"]).success();
        self.wait_image(context, image);
    }

    fn jsonpath(&self, context: &str, path: &str) -> String {
        let out =
            self.pg(context).kubectl(&["get", "deployment", "fraud", "-o", &format!("jsonpath={path}")]);
        out.success();
        out.stdout.trim().to_string()
    }

    fn image(&self, context: &str) -> String {
        self.jsonpath(context, "{.spec.template.spec.containers[0].image}")
    }

    fn generation(&self, context: &str) -> String {
        self.jsonpath(context, "{.metadata.generation}")
    }

    /// Wait until `context` serves `image` on every replica.
    fn wait_image(&self, context: &str, image: &str) {
        common::wait_for(DEADLINE, &format!("{context} to serve {image}"), || {
            let state = self.jsonpath(
                context,
                "{.spec.template.spec.containers[0].image} {.status.observedGeneration} {.metadata.generation} {.status.updatedReplicas} {.status.availableReplicas} {.status.replicas}",
            );
            let f: Vec<&str> = state.split(' ').collect();
            f.len() == 6 && f[0] == image && f[1] == f[2] && f[3] == "2" && f[4] == "2" && f[5] == "2"
        });
    }
}

fn options(ready_after_ms: u64, nodes: u32) -> common::Options {
    common::Options { nodes, ready_after: Duration::from_millis(ready_after_ms), ..Default::default() }
}

/// Read the stderr of a running plugin until a line contains `needle`; returns what was read.
fn read_until(reader: &mut impl BufRead, needle: &str) -> String {
    let deadline = Instant::now() + DEADLINE;
    let mut seen = String::new();
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).expect("read stderr") == 0 {
            panic!("the plugin ended before printing {needle:?}; it printed:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains(needle) {
            return seen;
        }
    }
    panic!("no line with {needle:?} within {DEADLINE:?}; it printed:\n{seen}");
}

/// A row of a merged table: it is `context`'s (its first column) and shows each of `parts`.
fn assert_row(row: &str, context: &str, parts: &[&str], out: &Output) {
    assert!(
        row.starts_with(&format!("{context} ")) && parts.iter().all(|p| row.contains(p)),
        "row of {context} with {parts:?}:\n{}",
        out.stdout
    );
}

fn wait_exit(child: &mut std::process::Child) -> i32 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the plugin") {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "the plugin did not end within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn waves_go_in_order_and_every_context_gets_the_change() {
    let fleet =
        Fleet::start(&[("staging", options(300, 2)), ("eu", options(300, 2)), ("us", options(300, 2))]);
    for context in ["staging", "eu", "us"] {
        fleet.deploy(context, "registry.example/fraud:v1");
    }
    let out = fleet.run(&[
        "set-image",
        "fraud",
        "registry.example/fraud:v2",
        "--contexts",
        "staging,eu,us",
        "--wave-size",
        "2",
    ]);
    out.success();
    for context in ["staging", "eu", "us"] {
        assert_eq!(fleet.image(context), "registry.example/fraud:v2", "{context}");
    }
    let wave1 = out.stderr.find("wave 1/2: staging, eu").expect("a header for wave 1");
    let wave2 = out.stderr.find("wave 2/2: us").expect("a header for wave 2");
    let staging_done = out.stderr.find("[staging] changed").expect("staging's end");
    let eu_done = out.stderr.find("[eu] changed").expect("eu's end");
    let us_first = out.stderr.find("[us]").expect("lines of us");
    assert!(
        wave1 < staging_done && staging_done < wave2 && eu_done < wave2 && wave2 < us_first,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("every context has the change: staging, eu, us"), "{}", out.stderr);
    // Each context's result on stdout, named.
    for context in ["staging", "eu", "us"] {
        assert!(out.stdout.lines().any(|l| l.starts_with(&format!("{context}: "))), "{}", out.stdout);
    }
}

#[test]
fn a_failure_in_wave_two_leaves_wave_three_untouched_and_rolls_back_the_changed() {
    // eu has one node, cordoned: the surge of its rollout cannot be scheduled, which set-image
    // finds before it writes anything there.
    let fleet =
        Fleet::start(&[("staging", options(300, 2)), ("eu", options(300, 1)), ("us", options(300, 2))]);
    for context in ["staging", "eu", "us"] {
        fleet.deploy(context, "registry.example/fraud:v1");
    }
    fleet.pg("eu").kubectl(&["cordon", "node-1"]).success();
    let eu_generation = fleet.generation("eu");
    let us_generation = fleet.generation("us");

    let out = fleet.run(&[
        "set-image",
        "fraud",
        "registry.example/fraud:v2",
        "--contexts",
        "staging,eu,us",
        "--rollback-on-failure",
    ]);
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("staging: changed, then rolled back"), "{}", out.stderr);
    assert!(out.stderr.contains("eu: failed: nothing was changed"), "{}", out.stderr);
    assert!(out.stderr.contains("us: untouched"), "{}", out.stderr);
    assert!(out.stderr.contains("no context has the change (staging, eu, us)"), "{}", out.stderr);
    assert!(
        out.stderr.contains("error: stopped at context eu: no later context was touched"),
        "{}",
        out.stderr
    );
    fleet.wait_image("staging", "registry.example/fraud:v1");
    assert_eq!(fleet.generation("eu"), eu_generation, "eu was not written");
    assert_eq!(fleet.generation("us"), us_generation, "us was not touched");
    assert_eq!(fleet.image("us"), "registry.example/fraud:v1");
}

#[test]
fn the_bake_catches_a_context_that_degrades_after_its_rollout() {
    let fleet = Fleet::start(&[("staging", options(300, 2)), ("eu", options(300, 2))]);
    fleet.deploy("staging", "registry.example/fraud:v1");
    fleet.deploy("eu", "registry.example/fraud:v1");
    let eu_generation = fleet.generation("eu");
    let mut child = fleet
        .command(&[
            "set-image",
            "fraud",
            "registry.example/fraud:v2",
            "--contexts",
            "staging,eu",
            "--bake",
            "60s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the plugin starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    read_until(&mut stderr, "baking 1m");
    // Someone ships a crashing build to staging while it bakes.
    fleet
        .pg("staging")
        .kubectl(&["set", "image", "deployment/fraud", "fraud=registry.example/fraud:v3-crashloop"])
        .success();
    let rest = read_until(&mut stderr, "eu: untouched");
    let code = wait_exit(&mut child);
    assert_eq!(code, 1, "{rest}");
    assert!(rest.contains("staging: failed: degraded during the bake"), "{rest}");
    assert_eq!(fleet.generation("eu"), eu_generation, "eu was not touched");
}

#[test]
fn reads_query_every_context_and_name_the_one_that_is_down() {
    let mut fleet =
        Fleet::start(&[("staging", options(300, 2)), ("eu", options(300, 2)), ("us", options(300, 2))]);
    for context in ["staging", "eu", "us"] {
        fleet.deploy(context, "registry.example/fraud:v1");
    }
    let out = fleet.run(&["history", "fraud", "--contexts", "all"]);
    out.success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("CONTEXT") && lines[0].contains("REVISION"), "{}", out.stdout);
    for context in ["staging", "eu", "us"] {
        assert!(
            lines.iter().any(|l| l.starts_with(context) && l.contains("registry.example/fraud:v1")),
            "{}",
            out.stdout
        );
    }

    fleet.stop("eu");
    let out = fleet.run(&["status", "fraud", "--contexts", "staging,eu,us"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 4, "a header and a row per context:\n{}", out.stdout);
    assert!(
        rows[1].starts_with("staging") && rows[1].contains("Healthy") && rows[1].contains("2/2"),
        "{}",
        out.stdout
    );
    assert!(
        rows[2].starts_with("eu") && rows[2].contains("error: cannot reach the API server"),
        "{}",
        out.stdout
    );
    assert!(rows[3].starts_with("us") && rows[3].contains("Healthy"), "{}", out.stdout);
    assert!(out.stderr.contains("the command failed in context(s) eu"), "{}", out.stderr);

    let out = fleet.run(&["status", "fraud", "--contexts", "staging,eu,us", "-o", "json"]);
    assert_eq!(out.code, 1);
    let list: Value = serde_json::from_str(&out.stdout).expect("one JSON list");
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["context"], "staging");
    assert_eq!(items[0]["phase"], "Healthy");
    assert_eq!(items[1]["context"], "eu");
    assert!(items[1]["error"].as_str().unwrap().contains("cannot reach"), "{}", items[1]);
    assert_eq!(items[2]["target"]["name"], "fraud");
}

/// Reads run in one process, a connection per context: a context whose user may read nothing
/// is a row (and an item) naming what was denied, beside the contexts that answered, and one
/// that is down beside them; the exit code is 1. Once allowed the Deployments alone, its rows
/// show and its warning names it.
#[test]
fn reads_name_what_each_context_denied_or_could_not_reach() {
    let nobody = modelroll::playground::rbac::StaticUser::new("nobody", &[]);
    let mut fleet = Fleet::start(&[
        ("staging", options(300, 2)),
        ("eu", common::Options { users: vec![nobody.clone()], ..options(300, 2) }),
        ("us", options(300, 2)),
    ]);
    for context in ["staging", "eu", "us"] {
        fleet.deploy(context, "registry.example/fraud:v1");
        // A change cause of modelroll's makes it a model `list` shows.
        fleet
            .pg(context)
            .kubectl(&[
                "annotate",
                "deployment",
                "fraud",
                "kubernetes.io/change-cause=set-image model=registry.example/fraud:v1",
            ])
            .success();
    }
    fleet.add_user_context("eu-nobody", "eu", &nobody);
    fleet.stop("us");
    let denied = "forbidden by RBAC: User \"nobody\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"default\"";

    let out = fleet.run(&["status", "fraud", "--contexts", "staging,eu,eu-nobody,us"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 5, "a header and a row per context:\n{}", out.stdout);
    assert!(rows[0].starts_with("CONTEXT") && rows[0].ends_with("REASON"), "{}", out.stdout);
    for (row, context) in rows[1..3].iter().zip(["staging", "eu"]) {
        assert_row(row, context, &["deployment/fraud", "Healthy", "2/2", "registry.example/fraud:v1"], &out);
    }
    assert_row(rows[3], "eu-nobody", &[&format!("error: {denied}")], &out);
    assert_row(rows[4], "us", &["error: cannot reach the API server"], &out);
    assert!(out.stderr.contains("the command failed in context(s) eu-nobody, us"), "{}", out.stderr);

    let out = fleet.run(&["list", "--contexts", "eu-nobody,staging", "-o", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).expect("one JSON list");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items[0]["context"], "eu-nobody");
    assert_eq!(items[0]["exitCode"], 1);
    assert!(
        items[0]["error"]
            .as_str()
            .unwrap()
            .contains("forbidden by RBAC: User \"nobody\" cannot list resource \"deployments\""),
        "{}",
        items[0]
    );
    assert_eq!(items[1]["context"], "staging");
    assert_eq!(items[1]["name"], "deployment/fraud");
    assert_eq!(items[1]["phase"], "Healthy");

    let out = fleet.run(&["history", "fraud", "--contexts", "staging,eu-nobody"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert!(rows[0].starts_with("CONTEXT") && rows[0].contains("REVISION"), "{}", out.stdout);
    assert_row(rows[1], "staging", &["registry.example/fraud:v1"], &out);
    assert_row(rows[2], "eu-nobody", &[&format!("error: {denied}")], &out);
    assert_eq!(rows.len(), 3, "{}", out.stdout);

    // Allowed the Deployments but not the Knative Services: the rows it may see, and a warning
    // that says in which context what was not listed.
    let eu = fleet.pg("eu");
    eu.kubectl(&["create", "role", "deployment-reader", "--verb=get,list", "--resource=deployments"])
        .success();
    eu.kubectl(&["create", "rolebinding", "nobody-reads", "--role=deployment-reader", "--user=nobody"])
        .success();
    let out = fleet.run(&["list", "--contexts", "staging,eu-nobody"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "{}", out.stdout);
    assert_row(rows[2], "eu-nobody", &["deployment/fraud"], &out);
    assert!(
        out.stderr.contains("[eu-nobody] warning: Knative Services are not listed: forbidden by RBAC: User \"nobody\" cannot list resource \"services\""),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_context_changes_nothing() {
    let fleet = Fleet::start(&[("staging", options(300, 2))]);
    fleet.deploy("staging", "registry.example/fraud:v1");
    let generation = fleet.generation("staging");
    let out = fleet.run(&["set-image", "fraud", "registry.example/fraud:v2", "--contexts", "staging,mars"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("context \"mars\" is not in the kubeconfig; contexts are: staging"),
        "{}",
        out.stderr
    );
    assert_eq!(fleet.generation("staging"), generation);
    let out = fleet.run(&["version", "--contexts", "staging"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = fleet.run(&["status", "fraud", "--wave-size", "2"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("add --contexts"), "{}", out.stderr);
}

#[test]
fn an_interrupted_run_stops_between_contexts_and_the_same_command_continues() {
    // eu's pods take 8s to get ready: its rollout is under way when Ctrl-C comes.
    let fleet =
        Fleet::start(&[("staging", options(300, 2)), ("eu", options(300, 2)), ("us", options(300, 2))]);
    for context in ["staging", "eu", "us"] {
        fleet.deploy(context, "registry.example/fraud:v1");
    }
    fleet
        .pg("eu")
        .kubectl(&["patch", "deployment", "fraud", "--type=merge", "-p", r#"{"spec":{"template":{"metadata":{"annotations":{"playground.modelroll.io/ready-after":"8s"}}}}}"#])
        .success();
    common::wait_for(DEADLINE, "eu's slow pods to be rolled out", || {
        // The annotation applies to pods made from now on; wait until the patch has rolled out
        // (the test's first pods stay until then, so availability holds).
        fleet.jsonpath("eu", "{.status.observedGeneration}") == fleet.generation("eu")
    });
    let args = ["set-image", "fraud", "registry.example/fraud:v2", "--contexts", "staging,eu,us"];
    let mut child = fleet.command(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    read_until(&mut stderr, "wave 2/3: eu");
    read_until(&mut stderr, "[eu]");
    // SAFETY: a signal to a child this test started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let rest = read_until(&mut stderr, "us: untouched");
    let code = wait_exit(&mut child);
    assert_eq!(code, 130, "{rest}");
    assert!(rest.contains("staging: changed") && rest.contains("eu: interrupted"), "{rest}");
    assert_eq!(fleet.image("us"), "registry.example/fraud:v1", "us was not touched");
    let staging_generation = fleet.generation("staging");

    let out = fleet.run(&args);
    out.success();
    assert_eq!(fleet.generation("staging"), staging_generation, "staging already had the change");
    for context in ["staging", "eu", "us"] {
        assert_eq!(fleet.image(context), "registry.example/fraud:v2", "{context}");
    }
}
