//! Integration tests of metric checks (`--check`): bad input refused before anything changes,
//! and canaries gated by a real Prometheus scraping the playground's simulated traffic.

use std::time::Duration;

use serde_json::Value;

use crate::canary::{model, Env};

/// Every malformed check or address is a usage error (exit 2) with one sentence, and the model
/// is left exactly as it was: no canary, no annotation, stable untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_checks_change_nothing() {
    let env = Env::start(Duration::from_millis(300)).await;
    model(&env, "b1", 1, "registry.example/b1:v1", true).await;
    let before = env.deployment("b1").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("checks.yaml");
    std::fs::write(&bad_file, "checks: [{name: a, query: up, op: '~', threshold: 1}]").unwrap();
    let bad_file = bad_file.to_str().unwrap().to_string();
    let prom = "http://127.0.0.1:9";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--check", "up", "--prometheus", prom], "has no comparison"),
        (vec!["--check", "up == 1", "--prometheus", prom], "unknown operator \"==\""),
        (vec!["--check", "up => 1", "--prometheus", prom], "unknown operator \"=>\""),
        (vec!["--check", "up >= high", "--prometheus", prom], "is not a number"),
        (vec!["--check", "x{pod=\"{{pod}}\"} > 1", "--prometheus", prom], "unknown placeholder {{pod}}"),
        (vec!["--check", "sum(up > 1", "--prometheus", prom], "unbalanced"),
        (vec!["--check", "up > 0", "--prometheus", "prometheus:9090"], "invalid --prometheus"),
        (vec!["--check", "up > 0", "--prometheus", "ftp://p:21"], "invalid --prometheus"),
        (vec!["--check", "up > 0"], "--check needs a Prometheus"),
        (vec!["--check-file", &bad_file, "--prometheus", prom], "unknown operator \"~\""),
        (vec!["--check-file", "/nonexistent/checks.yaml", "--prometheus", prom], "cannot read --check-file"),
    ];
    for (extra, wanted) in &cases {
        for verb in [
            vec!["canary", "b1", "--image", "registry.example/b1:v2", "--weight", "10", "--interval", "2s"],
            vec!["shift", "b1", "--steps", "10,50", "--interval", "2s"],
            vec!["set-image", "b1", "registry.example/b1:v2", "--interval", "2s"],
        ] {
            let mut args = verb.clone();
            args.extend(extra.iter().copied());
            let out = env.run(&args);
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            assert!(out.stderr.contains(wanted), "{args:?}: wanted {wanted:?} in {}", out.stderr);
            assert_eq!(out.stderr.trim().lines().count(), 1, "{args:?}: one sentence: {}", out.stderr);
        }
    }
    // Checks are judged at the end of an interval, and a canary at 0% serves nothing.
    let no_interval = env.run(&[
        "canary",
        "b1",
        "--image",
        "registry.example/b1:v2",
        "--weight",
        "10",
        "--check",
        "up > 0",
        "--prometheus",
        prom,
    ]);
    assert_eq!(no_interval.code, 2, "{}", no_interval.stderr);
    assert!(no_interval.stderr.contains("--interval"), "{}", no_interval.stderr);
    let at_zero = env.run(&[
        "canary",
        "b1",
        "--image",
        "registry.example/b1:v2",
        "--interval",
        "2s",
        "--check",
        "up > 0",
        "--prometheus",
        prom,
    ]);
    assert_eq!(at_zero.code, 2, "{}", at_zero.stderr);
    assert!(at_zero.stderr.contains("--weight above 0"), "{}", at_zero.stderr);
    let after = env.deployment("b1").await.unwrap();
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(after["metadata"]["annotations"], before["metadata"]["annotations"]);
    assert!(env.deployment("b1-canary").await.is_none());
    assert_eq!(after.pointer("/metadata/annotations/modelroll.io~1rollout"), None::<&Value>);
}
