//! The fault matrix (issue 11, "faults are survived"): every write command (set-image, undo,
//! canary, shift, promote, abort) under each fault the playground injects (409 on writes, 429
//! with Retry-After, 500, watches cut at random moments, API server restarts) ends with exit 0
//! and a consistent cluster: weights add up to 100 and match the rollout annotation, no canary
//! left where there should be none, replicas as set, no operation lease left behind.
//!
//! One playground per fault; its six models are set up without faults, then the six commands
//! run at once (each on its own model, so none waits for another's lease) while the faults are
//! on. The test also checks that the faults did happen.

use std::time::Duration;

use modelroll::playground::resources::{ResourceRef, DEPLOYMENTS, LEASES};
use serde_json::{json, Value};

use crate::common::{Options, Output, Playground};

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

/// Set up the six models, turn `faults` on, run the six commands at once, check the cluster.
fn matrix_row(faults: &str, expect_injected: &str) {
    let pg = Playground::start_with(Options {
        with: vec!["istio"],
        ready_after: Duration::from_millis(400),
        ..Options::default()
    });
    for model in ["set", "undo", "canary", "shift", "promote", "abort"] {
        add_model(&pg, model);
    }
    for model in ["set", "undo", "canary", "shift", "promote", "abort"] {
        pg.kubectl(&["rollout", "status", &format!("deployment/{model}"), "--timeout=60s"]).success();
    }
    ok(&pg.modelroll(&["set-image", "undo", &image("undo", "v2")]), "setup: set-image undo");
    for model in ["shift", "promote", "abort"] {
        let out = pg.modelroll(&["canary", model, "--image", &image(model, "v2"), "--weight", "20", "--yes"]);
        ok(&out, &format!("setup: canary {model}"));
    }
    ok(&pg.modelroll(&["shift", "promote", "--weight", "50"]), "setup: shift promote");

    pg.set_faults(faults);
    if faults.starts_with("restart") {
        // The commands start while the API server is away: each of them meets the restart.
        pg.restart(Duration::from_secs(1));
    }
    let commands: Vec<Vec<String>> = vec![
        vec!["set-image".into(), "set".into(), image("set", "v2")],
        vec!["undo".into(), "undo".into()],
        vec![
            "canary".into(),
            "canary".into(),
            "--image".into(),
            image("canary", "v2"),
            "--weight".into(),
            "20".into(),
            "--yes".into(),
        ],
        vec!["shift".into(), "shift".into(), "--weight".into(), "50".into()],
        vec!["promote".into(), "promote".into()],
        vec!["abort".into(), "abort".into()],
    ];
    let outputs: Vec<(String, Output)> = std::thread::scope(|scope| {
        let running: Vec<_> = commands
            .iter()
            .map(|command| {
                let pg = &pg;
                scope.spawn(move || {
                    let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
                    args.extend(["--timeout", "50s"]);
                    (command.join(" "), pg.modelroll(&args))
                })
            })
            .collect();
        running.into_iter().map(|r| r.join().expect("the command thread")).collect()
    });
    let injected = pg.injected_faults();
    pg.set_faults("");
    for (what, out) in &outputs {
        ok(out, &format!("{what} under {faults} (injected: {injected:?})"));
    }
    assert!(
        injected.get(expect_injected).is_some_and(|n| *n > 0),
        "no {expect_injected} fault happened: {injected:?}"
    );

    assert_plain(&pg, "set", "v2");
    assert_plain(&pg, "undo", "v1");
    assert_canary_at(&pg, "canary", 20);
    assert_canary_at(&pg, "shift", 50);
    assert_plain(&pg, "promote", "v2");
    assert_plain(&pg, "abort", "v1");
    let leases = pg.store().list(&LEASES, NS).expect("list leases");
    assert!(leases.items.is_empty(), "operation leases left behind: {:?}", leases.items);
}

#[test]
fn every_write_command_survives_conflicts() {
    matrix_row("409=0.3", "409");
}

#[test]
fn every_write_command_survives_too_many_requests() {
    matrix_row("429=0.3", "429");
}

#[test]
fn every_write_command_survives_internal_errors() {
    matrix_row("500=0.3", "500");
}

#[test]
fn every_write_command_survives_cut_watches() {
    matrix_row("watch-cut=400ms", "watch-cut");
}

#[test]
fn every_write_command_survives_api_server_restarts() {
    // Away at once for 1s (every command starts then), then up 1s, down 1s, again.
    matrix_row("restart=1s/1s", "restart");
}
