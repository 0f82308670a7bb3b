//! Integration tests: `demo` tells the whole story on its own in-process playground, with no
//! input, plain lines off a terminal, and exit 0.

use std::process::{Command, Stdio};

fn demo(router: &str) -> (i32, String, String) {
    demo_with_path(router, None)
}

/// The demo with `PATH` set to `path` (act 6 looks for `prometheus` there).
fn demo_with_path(router: &str, path: Option<&str>) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"));
    if let Some(path) = path {
        command.env("PATH", path);
    } else {
        // Act 6 needs a real Prometheus; this names the missing one rather than skipping.
        crate::common::prometheus_path();
        let dir = crate::common::prometheus_path().parent().unwrap().display().to_string();
        let path = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{dir}:{path}"));
    }
    let output = command
        .args(["demo", "--router", router])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("the demo runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn demo_tells_the_whole_lifecycle_on_istio() {
    let (code, stdout, stderr) = demo("istio");
    assert_eq!(code, 0, "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for act in ["Act 1", "Act 2", "Act 3", "Act 4", "Act 5", "Act 6", "The end"] {
        assert!(stdout.contains(act), "missing {act:?} in\n{stdout}");
    }
    // Act 6: a real Prometheus judged the -err30 canary; its value is printed and it was aborted.
    assert!(stderr.contains("check success-rate>=99: 70 >= 99 FAILED"), "{stderr}");
    assert!(stdout.contains("As it should: the check failed, the canary was aborted (exit 3)."), "{stdout}");
    assert!(stdout.contains("CHECKS:    Failed at 20%: aborted"), "{stdout}");
    // Every command is printed as a reader would type it.
    for command in [
        "$ kubectl modelroll set-image fraud-detector model=registry.example/fraud-detector:v2",
        "$ kubectl modelroll canary fraud-detector --image model=registry.example/fraud-detector:v4",
        "$ kubectl modelroll shift fraud-detector --steps 10,50",
        "$ kubectl modelroll promote fraud-detector",
        "$ kubectl modelroll abort fraud-detector",
    ] {
        assert!(stdout.contains(command), "missing {command:?} in\n{stdout}");
    }
    // Off a terminal nothing redraws: no carriage returns or cursor movement.
    assert!(!stderr.contains('\r') && !stderr.contains("\x1b["), "stderr redraws:\n{stderr}");
    assert!(!stdout.contains("\x1b["), "colour on a pipe:\n{stdout}");
    // The canary's weight waited for its model (--model-ready), and its pods were warmed up.
    assert!(stdout.contains("--model-ready v2 --warmup 3"), "{stdout}");
    assert!(
        stderr.contains("pod ready, model loading") && stderr.contains("warm-up 3 requests, first"),
        "{stderr}"
    );
    // The GPU deadlock of act 3 was caught and the offered strategy used.
    assert!(stderr.contains("nvidia.com/gpu"), "act 3 did not explain the GPU deadlock:\n{stderr}");
}

#[test]
fn demo_runs_its_canary_acts_on_a_knative_service() {
    let (code, stdout, stderr) = demo("knative");
    assert_eq!(code, 0, "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for command in [
        "$ kubectl modelroll canary ksvc/fraud-detector --image registry.example/fraud-detector:v4",
        "$ kubectl modelroll promote ksvc/fraud-detector",
        "$ kubectl modelroll abort ksvc/fraud-detector",
        "The end",
    ] {
        assert!(stdout.contains(command), "missing {command:?} in\n{stdout}");
    }
    // After the abort, the promoted v4 revision serves all traffic.
    let end = stdout.rsplit("abort ksvc/fraud-detector").next().unwrap_or_default();
    assert!(
        end.lines().any(|l| l.contains("(current)") && l.contains("fraud-detector:v4") && l.contains("100%")),
        "{end}"
    );
}

#[test]
fn demo_runs_with_the_replicas_router() {
    // Without a prometheus on PATH, act 6 says how to enable it.
    let (code, stdout, stderr) = demo_with_path("replicas", Some("/nonexistent"));
    assert_eq!(code, 0, "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("Skipped: this act needs a `prometheus` binary on PATH"), "{stdout}");
    assert!(stdout.contains("As it should: the canary failed before any traffic reached it"), "{stdout}");
}
