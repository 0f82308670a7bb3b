//! The fault matrix (issue 11, "faults are survived"): every write command (set-image, undo,
//! canary, shift, promote, abort) under each fault the playground injects (409 on writes, 429
//! with Retry-After, 500, watches cut at random moments, API server restarts) ends with exit 0
//! and a consistent cluster: weights add up to 100 and match the rollout annotation, no canary
//! left where there should be none, replicas as set, no operation lease left behind.
//!
//! Each cell (command × fault) has a playground of its own, so that every fault the playground
//! counts was met by that command: the model is set up without faults, then the command runs
//! with the fault on, and the cell checks that the command met at least one fault of its kind
//! (the playground's `1/N` faults strike every Nth request, so none is left to chance). The six
//! cells of a row run at once.

use std::time::Duration;

use modelroll::playground::resources::{ResourceRef, DEPLOYMENTS, LEASES};
use serde_json::{json, Value};

use crate::common::{self, Options, Output, Playground};

const NS: &str = "default";
const VIRTUAL_SERVICES: ResourceRef = ResourceRef::of("networking.istio.io", "v1", "virtualservices");
const DESTINATION_RULES: ResourceRef = ResourceRef::of("networking.istio.io", "v1", "destinationrules");

fn image(model: &str, version: &str) -> String {
    format!("registry.example/{model}:{version}")
}

/// Deployment `name` (2 replicas of v1) behind Service `name` and VirtualService `name`.
fn add_model(pg: &Playground, name: &str) {
    let objects = [
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": {"app": name, "modelroll.io/track": "stable"}},
                    "spec": {"containers": [{"name": "model", "image": image(name, "v1"), "ports": [{"name": "http", "containerPort": 8080}]}]}
                }
            }
        }),
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
        }),
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": NS},
            "spec": {"hosts": [format!("{name}.example.com")], "http": [{"name": "model", "route": [{"destination": {"host": name, "port": {"number": 80}}}]}]}
        }),
    ];
    let documents: Vec<String> = objects.iter().map(Value::to_string).collect();
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&documents.join("\n---\n"))).success();
}

#[track_caller]
fn ok(out: &Output, what: &str) {
    assert_eq!(out.code, 0, "{what} failed\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn get(pg: &Playground, resource: &ResourceRef, name: &str) -> Option<Value> {
    pg.store().get(resource, NS, name).ok()
}

/// Rolled out: every replica updated, ready and available, nothing old left.
fn rolled_out(deployment: &Value) -> bool {
    let want = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = &deployment["status"];
    status["observedGeneration"].as_i64() >= deployment["metadata"]["generation"].as_i64()
        && [status["updatedReplicas"].as_i64(), status["readyReplicas"].as_i64(), status["replicas"].as_i64()]
            .iter()
            .all(|n| *n == Some(want))
}

fn template_image(deployment: &Value) -> &str {
    deployment["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or("")
}

/// (stable weight, canary weight) of the model route; (100, 0) for a route without subsets.
fn vs_weights(pg: &Playground, name: &str) -> (u64, u64) {
    let vs = get(pg, &VIRTUAL_SERVICES, name).expect("the VirtualService");
    let route = vs["spec"]["http"][0]["route"].as_array().cloned().unwrap_or_default();
    if route.iter().all(|d| d["destination"]["subset"].is_null()) {
        return (100, 0);
    }
    let weight = |subset: &str| -> u64 {
        route
            .iter()
            .filter(|d| d["destination"]["subset"] == subset)
            .map(|d| d["weight"].as_u64().unwrap_or(0))
            .sum()
    };
    (weight("stable"), weight("canary"))
}

fn annotated_weight(deployment: &Value) -> Option<u64> {
    let state = deployment["metadata"]["annotations"]["modelroll.io/rollout"].as_str()?;
    serde_json::from_str::<Value>(state).ok()?["weight"].as_u64()
}

/// A model with a canary at `weight`: the VirtualService, the annotation and the canary
/// Deployment agree.
#[track_caller]
fn assert_canary_at(pg: &Playground, name: &str, weight: u64) {
    let stable = get(pg, &DEPLOYMENTS, name).unwrap();
    let (stable_weight, canary_weight) = vs_weights(pg, name);
    assert_eq!(
        (stable_weight + canary_weight, canary_weight),
        (100, weight),
        "{name}: VirtualService weights"
    );
    assert_eq!(annotated_weight(&stable), Some(weight), "{name}: the rollout annotation");
    let canary = get(pg, &DEPLOYMENTS, &format!("{name}-canary")).expect("the canary Deployment");
    assert_eq!(template_image(&canary), image(name, "v2"));
    assert_eq!(stable["spec"]["replicas"], 2, "{name}: stable replicas as set");
}

/// A model with no canary: stable serves `version` alone, rolled out at 2 replicas, routes and
/// annotation as before the canary.
#[track_caller]
fn assert_plain(pg: &Playground, name: &str, version: &str) {
    let stable = get(pg, &DEPLOYMENTS, name).unwrap();
    assert_eq!(template_image(&stable), image(name, version), "{name}");
    assert_eq!(stable["spec"]["replicas"], 2, "{name}: replicas as set");
    assert!(rolled_out(&stable), "{name} is not rolled out: {}", stable["status"]);
    assert_eq!(annotated_weight(&stable), None, "{name}: rollout annotation left");
    assert!(get(pg, &DEPLOYMENTS, &format!("{name}-canary")).is_none(), "{name}: orphaned canary");
    assert_eq!(vs_weights(pg, name), (100, 0), "{name}: route");
    assert!(get(pg, &DESTINATION_RULES, name).is_none(), "{name}: DestinationRule left");
}

/// A fault of the matrix: how it is injected, and the kind the playground counts when a client
/// meets it.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Every 2nd write answered 409 Conflict.
    Conflicts,
    /// Every 4th request answered 429 with Retry-After: 1.
    TooManyRequests,
    /// Every 4th request answered 500.
    InternalErrors,
    /// Every watch cut at a random moment within 100ms: every command waits on a watch longer
    /// than that (pods take 1s to be ready, 200ms to terminate).
    CutWatches,
    /// Once the command has sent its first request, the API server goes away for 1s: the
    /// command's open connections are dropped and new ones refused.
    Restart,
}

impl Fault {
    fn spec(self) -> &'static str {
        match self {
            Self::Conflicts => "409=1/2",
            Self::TooManyRequests => "429=1/4",
            Self::InternalErrors => "500=1/4",
            Self::CutWatches => "watch-cut=100ms",
            Self::Restart => "",
        }
    }

    /// The kind of [`Playground::injected_faults`] that proves the command met the fault.
    fn met(self) -> &'static str {
        match self {
            Self::Conflicts => "409",
            Self::TooManyRequests => "429",
            Self::InternalErrors => "500",
            Self::CutWatches => "watch-cut",
            Self::Restart => "restart-dropped",
        }
    }
}

/// The six write commands, each on a model of its own name.
const COMMANDS: [&str; 6] = ["set-image", "undo", "canary", "shift", "promote", "abort"];

fn command_line(command: &str) -> Vec<String> {
    let mut args: Vec<String> = match command {
        "set-image" => vec!["set-image".into(), command.into(), image(command, "v2")],
        "canary" => vec![
            "canary".into(),
            command.into(),
            "--image".into(),
            image(command, "v2"),
            "--weight".into(),
            "20".into(),
            "--yes".into(),
        ],
        // To 100: the canary needs a second pod, so shift waits on a watch (and meets its cut).
        "shift" => vec!["shift".into(), command.into(), "--weight".into(), "100".into()],
        _ => vec![command.into(), command.into()],
    };
    args.extend(["--timeout".into(), "50s".into()]);
    args
}

/// One cell of the matrix, on a playground of its own (so every fault it counts was met by this
/// command): set the model up without faults, run the command under `fault`, and check that it
/// met the fault, ended with exit 0 and left the cluster consistent.
fn matrix_cell(command: &str, fault: Fault) {
    let pg = Playground::start_with(Options {
        with: vec!["istio"],
        ready_after: Duration::from_secs(1),
        ..Options::default()
    });
    add_model(&pg, command);
    pg.kubectl(&["rollout", "status", &format!("deployment/{command}"), "--timeout=60s"]).success();
    match command {
        "undo" => ok(&pg.modelroll(&["set-image", command, &image(command, "v2")]), "setup: set-image"),
        "shift" | "promote" | "abort" => {
            let out = pg.modelroll(&[
                "canary",
                command,
                "--image",
                &image(command, "v2"),
                "--weight",
                "20",
                "--yes",
            ]);
            ok(&out, "setup: canary");
        }
        _ => {}
    }
    if command == "promote" {
        ok(&pg.modelroll(&["shift", command, "--weight", "50"]), "setup: shift");
    }

    assert!(pg.injected_faults().is_empty(), "faults before the command: {:?}", pg.injected_faults());
    pg.set_faults(fault.spec());
    let args = command_line(command);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match fault {
        Fault::Restart => std::thread::scope(|scope| {
            let sent_before: u64 = pg.requests().values().sum();
            let running = scope.spawn(|| pg.modelroll(&args));
            common::wait_for(Duration::from_secs(30), "the command's first request", || {
                pg.requests().values().sum::<u64>() > sent_before || running.is_finished()
            });
            pg.restart(Duration::from_secs(1));
            assert!(!running.is_finished(), "{command} ended before the restart: the cell proves nothing");
            running.join().expect("the command thread")
        }),
        _ => pg.modelroll(&args),
    };
    let injected = pg.injected_faults();
    pg.set_faults("");
    ok(&out, &format!("{command} under {fault:?} (injected: {injected:?})"));
    assert!(
        injected.get(fault.met()).is_some_and(|n| *n > 0),
        "{command} met no {} fault under {fault:?}: {injected:?}",
        fault.met()
    );

    match command {
        "set-image" => assert_plain(&pg, command, "v2"),
        "undo" | "abort" => assert_plain(&pg, command, "v1"),
        "canary" => assert_canary_at(&pg, command, 20),
        "shift" => assert_canary_at(&pg, command, 100),
        "promote" => assert_plain(&pg, command, "v2"),
        other => unreachable!("{other}"),
    }
    let leases = pg.store().list(&LEASES, NS).expect("list leases");
    assert!(leases.items.is_empty(), "{command}: operation leases left behind: {:?}", leases.items);
}

/// A row of the matrix: the six commands under `fault`, at once, each on its own playground.
fn matrix_row(fault: Fault) {
    std::thread::scope(|scope| {
        for command in COMMANDS {
            scope.spawn(move || matrix_cell(command, fault));
        }
    });
}

#[test]
fn every_write_command_survives_conflicts() {
    matrix_row(Fault::Conflicts);
}

#[test]
fn every_write_command_survives_too_many_requests() {
    matrix_row(Fault::TooManyRequests);
}

#[test]
fn every_write_command_survives_internal_errors() {
    matrix_row(Fault::InternalErrors);
}

#[test]
fn every_write_command_survives_cut_watches() {
    matrix_row(Fault::CutWatches);
}

#[test]
fn every_write_command_survives_api_server_restarts() {
    matrix_row(Fault::Restart);
}
