//! Issue 17, the first hour of a kubectl user: what the commands say, in which words, and how
//! they behave on a real terminal (through a pseudo-terminal, not output captured off one).

use serde_json::json;

use crate::common::pty::Pty;
use crate::common::{run_binary, Options, Playground};

/// Item 8: a bad duration is one kubectl-like sentence naming the flag, not clap's tip about
/// `-- -1s`, "expected number at 0" or a list of months and years; `--version` points to
/// `version` instead of suggesting `--verbose`.
#[test]
fn parser_messages_read_like_kubectl() {
    let hint = "use a number and a unit such as 30s, 5m, 1h";
    for (args, says) in [
        (
            &["shift", "m", "--steps", "10,50", "--interval", "-1s"][..],
            format!(r#"error: --interval: invalid duration "-1s": a duration cannot be negative; {hint}"#),
        ),
        (
            &["abort", "m", "--timeout", "forever"][..],
            format!(r#"error: --timeout: invalid duration "forever": {hint}"#),
        ),
        (
            &["shift", "m", "--steps", "10,50", "--interval", "5x"][..],
            r#"error: --interval: invalid duration "5x": unknown unit "x"; the units are ns, us, ms, s, m and h"#
                .to_string(),
        ),
        (
            &["set-image", "m", "m:v2", "--unschedulable-timeout", "2 months"][..],
            format!(r#"error: --unschedulable-timeout: invalid duration "2 months": {hint}"#),
        ),
        (
            &["--version"][..],
            "error: unknown flag --version: the version is printed by `kubectl modelroll version`".to_string(),
        ),
    ] {
        let out = run_binary(args);
        assert_eq!((out.code, out.stderr.as_str(), out.stdout.as_str()), (2, format!("{says}\n").as_str(), ""), "{args:?}");
    }
}

/// Item 2: `--steps` without `--interval` holds each step a minute (not 0s), and help says so.
#[test]
fn steps_hold_a_minute_unless_told_otherwise_and_help_says_so() {
    let out = run_binary(&["shift", "--help"]);
    out.success();
    let interval = out.stdout.lines().skip_while(|l| !l.contains("--interval")).take(3).collect::<String>();
    assert!(interval.contains("[default: 1m]"), "{}", out.stdout);
}

/// A playground with namespace `ml` (item tests run there, so `-n ml` shows in the advice).
fn playground() -> Playground {
    let pg = Playground::start();
    pg.kubectl(&["create", "namespace", "ml"]).success();
    pg
}

/// Deployment `name` in `ml` with its Service; `ready_after` (e.g. "120s") slows its pods (and
/// a canary's, which copies the template) down, so a wait can be interrupted.
fn model(pg: &Playground, name: &str, replicas: i32, image: &str, ready_after: Option<&str>) {
    let annotations = match ready_after {
        Some(after) => json!({"playground.modelroll.io/ready-after": after}),
        None => json!({}),
    };
    for object in [
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ml"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}, "annotations": annotations},
                    "spec": {"containers": [{"name": "model", "image": image}]},
                },
            },
        }),
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ml"},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
        }),
    ] {
        pg.kubectl_with_input(&["apply", "-f", "-"], Some(&object.to_string())).success();
    }
    if ready_after.is_none() {
        pg.kubectl(&["-n", "ml", "rollout", "status", &format!("deployment/{name}"), "--timeout=60s"])
            .success();
    }
}

/// Item 4: Ctrl-C while `canary` waits ends it with one sentence (not the same advice twice) and
/// the exact command that undoes it, target and `-n` included; exit 130.
#[test]
fn ctrl_c_on_canary_names_the_exact_next_command_once() {
    let pg = playground();
    model(&pg, "slow", 1, "registry.example/slow:v1", Some("120s"));
    let mut term = Pty::spawn(
        pg.kubeconfig(),
        &["-n", "ml", "canary", "slow", "--image", "registry.example/slow:v2", "--weight", "10"],
        120,
    );
    term.expect("waiting for its pods to be ready");
    term.ctrl_c();
    let (code, screen) = term.finish();
    assert_eq!(code, 130, "{screen}");
    let errors: Vec<&str> = screen.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors.concat(),
        "error: interrupted while waiting for canary deployment slow-canary; the cluster keeps what was done \
         so far: run the same command again to carry on, or `kubectl modelroll -n ml abort deployment/slow` to \
         remove the canary",
        "{screen}"
    );
    assert_eq!(screen.matches("the cluster keeps what was done so far").count(), 1, "{screen}");
    assert!(
        screen.contains("`kubectl modelroll -n ml abort deployment/slow` to remove the canary"),
        "{screen}"
    );
}

/// Item 4: Ctrl-C is how `status --watch` is left: no "error:" line; exit 130 as CLI.md's
/// "interrupted" (kubectl 1.33's `get -w` exits 1, which here would mean a failure in the cluster).
#[test]
fn ctrl_c_leaves_status_watch_without_an_error() {
    let pg = playground();
    model(&pg, "fraud", 1, "registry.example/fraud:v1", None);
    let mut term = Pty::spawn(pg.kubeconfig(), &["-n", "ml", "status", "fraud", "--watch"], 120);
    term.expect("REVISION");
    term.ctrl_c();
    let (code, screen) = term.finish();
    assert_eq!(code, 130, "{screen}");
    assert!(screen.contains("deployment/fraud"), "{screen}");
    assert!(!screen.contains("error"), "{screen}");
}

/// Item 9: on a terminal too narrow for the `[y/N]` question, the question is on the screen once
/// (dialoguer redraws only the prompt's last line, so a wrapped prompt used to leave its first
/// line at every key), and a key is only an answer once Enter is pressed: `y` then `n` then Enter
/// is a no, and nothing is changed.
#[test]
fn the_prompt_is_drawn_once_and_waits_for_enter() {
    let pg = Playground::start_with(Options { nodes: 1, gpus_per_node: 1, ..Options::default() });
    pg.kubectl(&["create", "namespace", "ml"]).success();
    let gpu_model = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gpu", "namespace": "ml"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "gpu"}},
            "template": {
                "metadata": {"labels": {"app": "gpu"}},
                "spec": {"containers": [{
                    "name": "model", "image": "registry.example/gpu:v1",
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                }]},
            },
        },
    });
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&gpu_model.to_string())).success();
    pg.kubectl(&["-n", "ml", "rollout", "status", "deployment/gpu", "--timeout=60s"]).success();
    let mut term =
        Pty::spawn(pg.kubeconfig(), &["-n", "ml", "set-image", "gpu", "registry.example/gpu:v2"], 50);
    term.expect("[y/N]");
    term.send("y");
    term.send("n");
    term.send("\r");
    let (code, screen) = term.finish();
    assert_eq!(code, 1, "{screen}");
    assert_eq!(screen.matches("Use maxSurge 0, maxUnavailable 1 instead").count(), 1, "{screen}");
    assert!(screen.contains("error: nothing was changed"), "{screen}");
    let image = pg.kubectl(&[
        "-n",
        "ml",
        "get",
        "deployment/gpu",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image.stdout, "registry.example/gpu:v1");
}

/// The lines of stderr without their timestamps (off a terminal each line starts with one).
fn stderr_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().map(|l| l.split_once("Z ").map_or(l, |(_, rest)| rest)).collect()
}

/// Item 3: a dry run's progress lines say they are a dry run ("(dry run) would …") and nothing
/// changes; a write the cluster refuses is never announced as done (the read-only context's
/// `abort` used to print "all traffic back to stable" before the RBAC error).
#[test]
fn nothing_is_announced_before_it_happened() {
    let pg = playground();
    model(&pg, "fraud", 3, "registry.example/fraud:v1", None);
    pg.modelroll(&["-n", "ml", "canary", "fraud", "--image", "registry.example/fraud:v2", "--weight", "10"])
        .success();
    let replicas = |name: &str| {
        pg.kubectl(&["-n", "ml", "get", "deployment", name, "-o", "jsonpath={.spec.replicas}"]).stdout
    };
    let before = (replicas("fraud"), replicas("fraud-canary"));

    let out = pg.modelroll(&["-n", "ml", "shift", "fraud", "--weight", "80", "--dry-run"]);
    out.success();
    let lines = stderr_lines(&out.stderr);
    assert!(!lines.is_empty(), "a dry run says what it would do");
    for line in &lines {
        assert!(line.starts_with("(dry run) ") && line.contains(" would "), "{}", out.stderr);
    }
    assert!(
        lines.iter().any(|l| l.starts_with("(dry run) deployment/fraud: would set the canary weight to 80%")),
        "{}",
        out.stderr
    );
    assert_eq!((replicas("fraud"), replicas("fraud-canary")), before, "a dry run changed the cluster");

    let out = pg.modelroll(&["-n", "ml", "abort", "fraud", "--context", "playground-viewer"]);
    out.code(1);
    assert!(!out.stderr.contains("all traffic back to stable"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "one sentence: {}", out.stderr);
    assert!(out.stderr.starts_with("error: forbidden by RBAC"), "{}", out.stderr);

    let out = pg.modelroll(&["-n", "ml", "abort", "fraud"]);
    out.success();
    assert!(
        stderr_lines(&out.stderr).contains(&"deployment/fraud: all traffic back to stable"),
        "{}",
        out.stderr
    );
}

/// Item 1: where the weight is set, the replicas router says what share the pods really give and
/// what would give the weight asked; the pods in the cluster are what it says.
#[test]
fn the_replicas_router_says_the_share_it_really_gives() {
    let pg = playground();
    model(&pg, "fraud", 3, "registry.example/fraud:v1", None);
    let out = pg.modelroll(&[
        "-n",
        "ml",
        "canary",
        "fraud",
        "--image",
        "registry.example/fraud:v2",
        "--weight",
        "10",
    ]);
    out.success();
    let note = "with 3 replicas the replicas router gives 1 of 3 pods = 33%; 10 replicas would give exactly 10% \
                (1 of 10), or a mesh router (`canary --router istio` or `--router gateway-api`) splits traffic by weight";
    assert!(
        stderr_lines(&out.stderr)
            .contains(&format!("deployment/fraud: canary weight 10% asked; {note}").as_str()),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("weight 10% (replicas router: 1 of 3 pods = 33%) via the replicas router"),
        "{}",
        out.stdout
    );
    let replicas = |name: &str| {
        pg.kubectl(&["-n", "ml", "get", "deployment", name, "-o", "jsonpath={.spec.replicas}"]).stdout
    };
    assert_eq!((replicas("fraud"), replicas("fraud-canary")), ("2".to_string(), "1".to_string()));

    // A weight the pods carry exactly says nothing more.
    let out = pg.modelroll(&["-n", "ml", "shift", "fraud", "--weight", "100"]);
    out.success();
    assert!(!out.stderr.contains("asked;"), "{}", out.stderr);
    assert_eq!(out.stdout, "deployment/fraud: canary fraud-canary has weight 100%\n");
}

/// Item 5: without `--model-version` the label follows the new image's tag (said so), instead of
/// keeping the version an older image had; `history` shows each image with its own version.
#[test]
fn the_model_version_follows_the_image_tag_unless_given() {
    let pg = playground();
    model(&pg, "mv", 1, "registry.example/mv:v1", None);
    pg.modelroll(&["-n", "ml", "set-image", "mv", "registry.example/mv:v2", "--model-version", "fraud-2"])
        .success();
    let out = pg.modelroll(&["-n", "ml", "set-image", "mv", "registry.example/mv:v3"]);
    out.success();
    assert!(
        stderr_lines(&out.stderr).contains(
            &"deployment/mv: model registry.example/mv:v2 → registry.example/mv:v3 (model v3, from the image tag; \
              --model-version names it)"
        ),
        "{}",
        out.stderr
    );
    let label = pg.kubectl(&[
        "-n",
        "ml",
        "get",
        "deployment",
        "mv",
        "-o",
        "jsonpath={.spec.template.metadata.labels.modelroll\\.io/model-version}",
    ]);
    assert_eq!(label.stdout, "v3");
    let history = pg.modelroll(&["-n", "ml", "history", "mv", "-o", "json"]);
    history.success();
    let history: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let versions: Vec<(String, Option<String>)> = history["revisions"]
        .as_array()
        .expect("history -o json lists revisions")
        .iter()
        .map(|r| {
            let image = r["images"][0]["image"].as_str().unwrap_or_default().to_string();
            (image, r["modelVersion"].as_str().map(String::from))
        })
        .collect();
    assert!(versions.contains(&("registry.example/mv:v2".into(), Some("fraud-2".into()))), "{versions:?}");
    assert!(versions.contains(&("registry.example/mv:v3".into(), Some("v3".into()))), "{versions:?}");

    // The canary of a new image gets that image's version, not the stable's.
    let out =
        pg.modelroll(&["-n", "ml", "canary", "mv", "--image", "registry.example/mv:v4", "--weight", "50"]);
    out.success();
    let label = pg.kubectl(&[
        "-n",
        "ml",
        "get",
        "deployment",
        "mv-canary",
        "-o",
        "jsonpath={.spec.template.metadata.labels.modelroll\\.io/model-version}",
    ]);
    assert_eq!(label.stdout, "v4");
}

/// Item 6: one vocabulary. `status` and `list` name a rolled-out model the same way; `list -o
/// json` is a `List` as kubectl's; every dry run prints "KIND/NAME configured (dry run)" unless
/// `-o` asks for the objects, which come without `managedFields` as kubectl shows them.
#[test]
fn one_vocabulary_for_phases_lists_and_dry_runs() {
    let pg = playground();
    model(&pg, "fraud", 2, "registry.example/fraud:v1", None);
    pg.modelroll(&["-n", "ml", "set-image", "fraud", "registry.example/fraud:v2"]).success();
    let status = pg.modelroll(&["-n", "ml", "status", "fraud"]);
    assert!(status.stdout.contains("Phase:     Healthy"), "{}", status.stdout);
    let list = pg.modelroll(&["-n", "ml", "list"]);
    let row = list.stdout.lines().find(|l| l.starts_with("deployment/fraud")).unwrap_or_default().to_string();
    assert!(row.contains("Healthy"), "{}", list.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&pg.modelroll(&["-n", "ml", "list", "-o", "json"]).stdout).unwrap();
    assert_eq!((&json["apiVersion"], &json["kind"]), (&json!("v1"), &json!("List")), "{json}");
    assert_eq!(json["items"][0]["name"], "deployment/fraud");
    assert_eq!(json["items"][0]["phase"], "Healthy");

    let out =
        pg.modelroll(&["-n", "ml", "set-image", "fraud", "registry.example/fraud:v3", "--dry-run=client"]);
    out.success();
    assert_eq!(out.stdout, "deployment.apps/fraud configured (dry run)\n");
    for args in [
        &["-n", "ml", "set-image", "fraud", "registry.example/fraud:v3", "--dry-run=server", "-o", "yaml"][..],
        &[
            "-n",
            "ml",
            "canary",
            "fraud",
            "--image",
            "registry.example/fraud:v3",
            "--dry-run=server",
            "-o",
            "yaml",
        ],
    ] {
        let out = pg.modelroll(args);
        out.success();
        assert!(out.stdout.contains("kind: Deployment"), "{args:?}: {}", out.stdout);
        assert!(!out.stdout.contains("managedFields"), "{args:?}: {}", out.stdout);
    }
}

/// Item 10: `undo` says "rolling back to revision N" once; `status NAME` where only `ksvc/NAME`
/// exists asks "did you mean ksvc/NAME?" (exit 2).
#[test]
fn smaller_ones_said_once_and_the_ksvc_suggested() {
    let pg = Playground::start_with(Options { with: vec!["knative"], ..Options::default() });
    pg.kubectl(&["create", "namespace", "ml"]).success();
    model(&pg, "mv", 1, "registry.example/mv:v1", None);
    pg.modelroll(&["-n", "ml", "set-image", "mv", "registry.example/mv:v2"]).success();
    let out = pg.modelroll(&["-n", "ml", "undo", "mv"]);
    out.success();
    assert_eq!(out.stderr.matches("rolling back to revision 1").count(), 1, "{}", out.stderr);

    let ksvc = json!({
        "apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "kn", "namespace": "ml"},
        "spec": {"template": {"spec": {"containers": [{"image": "registry.example/kn:v1"}]}}},
    });
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&ksvc.to_string())).success();
    let out = pg.modelroll(&["-n", "ml", "status", "kn"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "error: deployment \"kn\" not found in namespace ml; did you mean ksvc/kn?\n")
    );
    // Without a ksvc of that name the message stays the plain not-found one.
    let out = pg.modelroll(&["-n", "ml", "status", "nothing"]);
    out.code(2);
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
}

/// Item 7: one documented command sets up `kubectl modelroll <TAB>`: it writes the executable
/// `kubectl_complete-modelroll` next to kubectl-modelroll as found on PATH (a symlink there, as
/// krew installs it, is not followed), and kubectl then completes the plugin's commands.
#[test]
fn one_command_sets_up_kubectl_completion_next_to_the_plugin() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("kubectl-modelroll");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubectl-modelroll"), &plugin).unwrap();
    let kubectl = crate::krew_completion::kubectl();
    let path =
        std::env::join_paths([dir.path(), kubectl.parent().unwrap(), "/usr/bin".as_ref(), "/bin".as_ref()])
            .unwrap();
    let out = std::process::Command::new(&plugin)
        .args(["completion", "kubectl-plugin", "--install"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let shim = dir.path().join("kubectl_complete-modelroll");
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned()),
        (
            Some(0),
            format!(
                "installed {}; `kubectl modelroll <TAB>` completes now (kubectl 1.26 or newer)\n",
                shim.display()
            )
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/completions/kubectl_complete-modelroll"
    ))
    .unwrap();
    assert_eq!(std::fs::read_to_string(&shim).unwrap(), committed);
    assert!(std::fs::metadata(&shim).unwrap().permissions().mode() & 0o111 != 0, "not executable");
    let completed = std::process::Command::new(&kubectl)
        .args(["__complete", "modelroll", ""])
        .env("PATH", &path)
        .env("HOME", dir.path())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&completed.stdout);
    assert!(words.lines().any(|l| l.starts_with("set-image")), "{words}");
    // --install is for kubectl's program only.
    run_binary(&["completion", "bash", "--install"]).code(2);
}

/// Item 10: the Knative canary says "waiting for revision … to be ready" once (the canary's wait
/// and the weight's check were both saying it); `undo ksvc/…` says "rolling back to revision N"
/// once; a canary revision's CHANGE-CAUSE is its own (not the stable's stale one), and an undo to
/// a revision made without a cause records one instead of `<none>`.
#[test]
fn knative_canary_and_undo_speak_once_and_leave_a_change_cause() {
    let pg = Playground::start_with(Options { with: vec!["knative"], ..Options::default() });
    pg.kubectl(&["create", "namespace", "ml"]).success();
    let ksvc = json!({
        "apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "kc", "namespace": "ml"},
        "spec": {"template": {"spec": {"containers": [{"name": "model", "image": "registry.example/kc:v1"}]}}},
    });
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&ksvc.to_string())).success();
    pg.kubectl(&["-n", "ml", "wait", "--for=condition=Ready", "ksvc/kc", "--timeout=60s"]).success();
    pg.modelroll(&["-n", "ml", "set-image", "ksvc/kc", "model=registry.example/kc:v2"]).success();
    let out = pg.modelroll(&[
        "-n",
        "ml",
        "canary",
        "ksvc/kc",
        "--image",
        "registry.example/kc:v3",
        "--weight",
        "20",
        "--yes",
    ]);
    out.success();
    assert!(out.stderr.matches("waiting for revision kc-v3").count() <= 1, "{}", out.stderr);
    assert!(out.stderr.matches("revision kc-v3 is ready").count() <= 1, "{}", out.stderr);
    pg.modelroll(&["-n", "ml", "promote", "ksvc/kc", "--yes"]).success();
    let history = pg.modelroll(&["-n", "ml", "history", "ksvc/kc"]);
    history.success();
    let canary_row = history.stdout.lines().find(|l| l.contains("kc:v3")).unwrap_or_default().to_string();
    assert!(canary_row.contains("canary model=registry.example/kc:v3 (model v3)"), "{}", history.stdout);

    let out = pg.modelroll(&["-n", "ml", "undo", "ksvc/kc", "--to-revision", "2"]);
    out.success();
    assert_eq!(out.stderr.matches("rolling back to revision 2").count(), 1, "{}", out.stderr);

    // A Deployment made by `kubectl create` has no change-cause in revision 1: its undo says why.
    model(&pg, "cc", 1, "registry.example/cc:v1", None);
    pg.modelroll(&["-n", "ml", "set-image", "cc", "registry.example/cc:v2"]).success();
    pg.modelroll(&["-n", "ml", "undo", "cc"]).success();
    let history = pg.modelroll(&["-n", "ml", "history", "cc"]);
    history.success();
    let current = history.stdout.lines().find(|l| l.contains("(current)")).unwrap_or_default().to_string();
    assert!(current.contains("undo to revision 1 (model=registry.example/cc:v1)"), "{}", history.stdout);
    assert!(!current.contains("<none>"), "{}", history.stdout);
}

/// Item 10: `shift --no-wait` returns once the change is accepted: it never waits for pods, and
/// so it never gives weight to pods that are not ready yet: such a step is refused (exit 1, the
/// command to wait instead) with nothing changed; a step onto a ready canary returns at once.
#[test]
fn shift_no_wait_does_not_wait_and_gives_no_weight_to_unready_pods() {
    let pg = Playground::start_with(Options { with: vec!["knative"], ..Options::default() });
    pg.kubectl(&["create", "namespace", "ml"]).success();
    model(&pg, "nw", 2, "registry.example/nw:v1", None);
    pg.modelroll(&[
        "-n",
        "ml",
        "canary",
        "nw",
        "--image",
        "registry.example/nw:v2",
        "--weight",
        "0",
        "--yes",
    ])
    .success();
    let before = pg.kubectl(&["-n", "ml", "get", "deployment", "nw", "nw-canary", "-o", "json"]);
    let out = pg.modelroll(&["-n", "ml", "shift", "nw", "--weight", "50", "--no-wait"]);
    out.code(1);
    assert!(
        out.stderr
            .contains("canary deployment nw-canary, which has 0 now, and --no-wait does not wait for them")
            && out.stderr.contains("run `kubectl modelroll shift deployment/nw` without --no-wait"),
        "{}",
        out.stderr
    );
    let after = pg.kubectl(&["-n", "ml", "get", "deployment", "nw", "nw-canary", "-o", "json"]);
    let replicas = |out: &str| {
        let list: serde_json::Value = serde_json::from_str(out).unwrap();
        list["items"].as_array().unwrap().iter().map(|d| d["spec"]["replicas"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(replicas(&before.stdout), replicas(&after.stdout), "nothing scaled");
    assert_eq!(replicas(&after.stdout), vec![json!(2), json!(0)]);

    // Knative: a canary revision whose pods take minutes is refused weight; a ready one gets it.
    let ksvc = |ready_after: &str| {
        json!({
            "apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "kw", "namespace": "ml"},
            "spec": {"template": {
                "metadata": {"annotations": {"playground.modelroll.io/ready-after": ready_after}},
                "spec": {"containers": [{"name": "model", "image": "registry.example/kw:v1"}]}}},
        })
    };
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&ksvc("1s").to_string())).success();
    pg.kubectl(&["-n", "ml", "wait", "--for=condition=Ready", "ksvc/kw", "--timeout=60s"]).success();
    pg.modelroll(&[
        "-n",
        "ml",
        "canary",
        "ksvc/kw",
        "--image",
        "registry.example/kw:v2",
        "--weight",
        "10",
        "--yes",
    ])
    .success();
    let out = pg.modelroll(&["-n", "ml", "shift", "ksvc/kw", "--weight", "50", "--no-wait"]);
    out.success();
    let traffic = pg.kubectl(&["-n", "ml", "get", "ksvc", "kw", "-o", "jsonpath={.spec.traffic[*].percent}"]);
    assert_eq!(traffic.stdout.trim(), "50 50");

    // A stable pinned by name, and a template whose pods take ten minutes: the canary copies it.
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&ksvc("1s").to_string().replace("\"kw\"", "\"ks\"")))
        .success();
    pg.kubectl(&["-n", "ml", "wait", "--for=condition=Ready", "ksvc/ks", "--timeout=60s"]).success();
    let slow = json!({"spec": {
        "template": {"metadata": {"annotations": {"playground.modelroll.io/ready-after": "600s"}}},
        "traffic": [{"revisionName": "ks-00001", "percent": 100}]}});
    pg.kubectl(&["-n", "ml", "patch", "ksvc", "ks", "--type", "merge", "-p", &slow.to_string()]).success();
    let out = pg.modelroll(&[
        "-n",
        "ml",
        "canary",
        "ksvc/ks",
        "--image",
        "registry.example/ks:v3",
        "--no-wait",
        "--yes",
    ]);
    out.success();
    assert!(
        out.stdout.contains("`kubectl modelroll -n ml shift ksvc/ks --weight W`")
            || out.stdout.contains("shift ksvc/ks --weight W`"),
        "{}",
        out.stdout
    );
    let before = pg.kubectl(&["-n", "ml", "get", "ksvc", "ks", "-o", "jsonpath={.spec.traffic}"]);
    let out = pg.modelroll(&["-n", "ml", "shift", "ksvc/ks", "--weight", "20", "--no-wait"]);
    out.code(1);
    assert!(
        out.stderr.contains(
            "the canary revision ks-v3 is not ready, and --no-wait gives weight only to a ready canary"
        ),
        "{}",
        out.stderr
    );
    let after = pg.kubectl(&["-n", "ml", "get", "ksvc", "ks", "-o", "jsonpath={.spec.traffic}"]);
    assert_eq!(before.stdout, after.stdout, "traffic unchanged");
}
