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

/// The playground's traffic, scraped by a real Prometheus every second.
struct Metrics {
    env: Env,
    prometheus: crate::common::Prometheus,
}

impl Metrics {
    async fn start(ready_after: Duration) -> Self {
        let env = Env::start(ready_after).await;
        let prometheus = crate::common::Prometheus::start(&[env.pg.metrics_address()]);
        Self { env, prometheus }
    }

    /// The command with `--prometheus` of this Prometheus.
    fn run(&self, args: &[&str]) -> crate::common::Output {
        let mut all = args.to_vec();
        all.extend(["--prometheus", self.prometheus.url.as_str(), "--timeout", "90s"]);
        self.env.run(&all)
    }

    /// `.analysis` of `status -o json`.
    fn analysis(&self, target: &str) -> Value {
        let json: Value = serde_json::from_str(&self.env.run_ok(&["status", target, "-o", "json"])).unwrap();
        json["analysis"].clone()
    }
}

/// VirtualService `m`.
async fn vs(env: &Env) -> Value {
    env.get("networking.istio.io/v1", "VirtualService", "m").await.unwrap()
}

const SUCCESS: &str = "success-rate>=99";

/// Istio: a healthy canary passes every step (each value printed), and the record says so; a
/// `-err30` canary is aborted with exit 3 at its first weight, the stable keeps its pods and all
/// the traffic, and `status` shows the failed value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_healthy_canary_passes_and_err30_is_aborted() {
    let m = Metrics::start(Duration::from_millis(300)).await;
    model(&m.env, "m", 2, "registry.example/m:v1", true).await;
    m.env.create(crate::canary::virtual_service("m", "m")).await;
    m.env.run_ok(&["canary", "m", "--image", "registry.example/m:v2", "--yes", "--timeout", "60s"]);
    let out = m.run(&["shift", "m", "--steps", "20,50", "--interval", "3s", "--check", SUCCESS]);
    out.success();
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.contains("check success-rate>=99: ")).collect();
    assert_eq!(lines.len(), 2, "one evaluation per step:\n{}", out.stderr);
    assert!(lines.iter().all(|l| l.ends_with("100 >= 99 passed")), "{}", out.stderr);
    assert_eq!(
        crate::canary::vs_weights(&vs(&m.env).await),
        vec![("stable".into(), 50), ("canary".into(), 50)]
    );
    let analysis = m.analysis("m");
    assert_eq!(analysis["verdict"], "Passed");
    assert_eq!(analysis["evaluations"].as_array().unwrap().len(), 2);
    assert_eq!(analysis["evaluations"][1]["weight"], 50);
    assert_eq!(analysis["evaluations"][1]["checks"][0]["value"], "100");
    m.env.run_ok(&["abort", "m", "--timeout", "60s"]);

    // A canary that answers 30% of its requests with 500.
    let out = m.run(&[
        "canary",
        "m",
        "--image",
        "registry.example/m:v2-err30",
        "--weight",
        "20",
        "--interval",
        "3s",
        "--check",
        SUCCESS,
    ]);
    out.code(3);
    let line =
        out.stderr.lines().find(|l| l.contains("check success-rate>=99: ")).expect("the value is printed");
    assert!(line.contains(" 70 >= 99 FAILED"), "{line}");
    assert!(out.stderr.contains("a metric check failed at 20%"), "{}", out.stderr);
    assert!(m.env.deployment("m-canary").await.is_none(), "the canary is removed");
    let stable = m.env.deployment("m").await.unwrap();
    assert_eq!(stable["spec"]["replicas"], 2, "capacity kept");
    assert_eq!(stable["status"]["readyReplicas"], 2, "capacity kept");
    let after = vs(&m.env).await;
    assert_eq!(after["spec"]["http"][1]["route"][0]["destination"]["host"], "m", "routes as before");
    assert!(after["spec"]["http"][1]["route"][0]["destination"]["subset"].is_null());
    let analysis = m.analysis("m");
    assert_eq!(analysis["verdict"], "Failed at 20%: aborted");
    assert_eq!(analysis["evaluations"][0]["checks"][0]["value"], "70");
    assert_eq!(analysis["evaluations"][0]["checks"][0]["passed"], false);
    let table = m.env.run_ok(&["status", "m"]);
    assert!(table.contains("CHECKS:    Failed at 20%: aborted"), "{table}");
    assert!(table.contains("FAIL success-rate>=99: 70 >= 99"), "{table}");
}

/// `--on-failure hold`: the canary stays, at weight 0, and the state records why (exit 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_hold_keeps_the_canary_at_weight_zero() {
    let m = Metrics::start(Duration::from_millis(300)).await;
    model(&m.env, "m", 2, "registry.example/m:v1", true).await;
    m.env.create(crate::canary::virtual_service("m", "m")).await;
    m.env.run_ok(&["canary", "m", "--image", "registry.example/m:v2-err30", "--yes", "--timeout", "60s"]);
    let out = m.run(&[
        "shift",
        "m",
        "--steps",
        "30,60",
        "--interval",
        "3s",
        "--check",
        SUCCESS,
        "--on-failure",
        "hold",
    ]);
    out.code(3);
    assert!(out.stderr.contains("kept at weight 0"), "{}", out.stderr);
    assert_eq!(
        crate::canary::vs_weights(&vs(&m.env).await),
        vec![("stable".into(), 100), ("canary".into(), 0)]
    );
    assert!(m.env.deployment("m-canary").await.is_some(), "the canary is kept");
    let state: Value = serde_json::from_str(&m.env.annotation("m").await.unwrap()).unwrap();
    assert_eq!((state["weight"].as_u64(), state["phase"].as_str()), (Some(0), Some("Canary")));
    assert_eq!(state["analysis"]["verdict"], "Failed at 30%: held at weight 0");
}

/// No data fails the check (exit 3); a PromQL error and a Prometheus that is down stop with
/// exit 1 before any weight moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_data_fails_and_prometheus_errors_change_nothing() {
    let m = Metrics::start(Duration::from_millis(300)).await;
    model(&m.env, "m", 2, "registry.example/m:v1", true).await;
    m.env.create(crate::canary::virtual_service("m", "m")).await;
    m.env.run_ok(&["canary", "m", "--image", "registry.example/m:v2", "--yes", "--timeout", "60s"]);
    let before = vs(&m.env).await;
    let annotation = m.env.annotation("m").await;

    let syntax = m.run(&[
        "shift",
        "m",
        "--steps",
        "20,50",
        "--interval",
        "3s",
        "--check",
        "rate(istio_requests_total) > 1",
    ]);
    syntax.code(1);
    assert!(syntax.stderr.contains("Prometheus refused the query"), "{}", syntax.stderr);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down_url = format!("http://127.0.0.1:{closed}");
    let down = m.env.run(&[
        "shift",
        "m",
        "--steps",
        "20,50",
        "--interval",
        "3s",
        "--check",
        SUCCESS,
        "--prometheus",
        &down_url,
    ]);
    down.code(1);
    assert!(down.stderr.contains("cannot reach Prometheus"), "{}", down.stderr);
    assert_eq!(vs(&m.env).await["spec"], before["spec"], "weights unchanged");
    assert_eq!(m.env.annotation("m").await, annotation);

    let nothing = r#"sum(rate(istio_requests_total{destination_workload="nobody"}[{{interval}}])) > 0"#;
    let out = m.run(&["shift", "m", "--weight", "20", "--interval", "3s", "--check", nothing]);
    out.code(3);
    assert!(out.stderr.contains("no data > 0 FAILED"), "{}", out.stderr);
    assert!(m.env.deployment("m-canary").await.is_none(), "aborted");
}

/// `--failure-limit 1` tolerates one failed evaluation: the step is held again and passes. The
/// check's value grows with time (seconds since the command started), so it fails once, then
/// passes; with no limit the same check stops the canary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_limit_tolerates_one_bad_evaluation() {
    let m = Metrics::start(Duration::from_millis(300)).await;
    model(&m.env, "m", 2, "registry.example/m:v1", true).await;
    m.env.create(crate::canary::virtual_service("m", "m")).await;
    m.env.run_ok(&[
        "canary",
        "m",
        "--image",
        "registry.example/m:v2",
        "--weight",
        "20",
        "--yes",
        "--timeout",
        "60s",
    ]);
    let started =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let check = format!("time() - {} >= 5", started());
    let out = m.run(&[
        "shift",
        "m",
        "--weight",
        "20",
        "--interval",
        "3s",
        "--check",
        &check,
        "--failure-limit",
        "1",
    ]);
    out.success();
    assert!(out.stderr.contains("1 of 1 tolerated by --failure-limit"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("FAILED").count(), 1, "{}", out.stderr);
    assert_eq!(out.stderr.matches(" passed").count(), 1, "{}", out.stderr);
    let analysis = m.analysis("m");
    assert_eq!(
        (analysis["failedEvaluations"].as_u64(), analysis["verdict"].as_str()),
        (Some(1), Some("Passed"))
    );
    let check = format!("time() - {} >= 5", started());
    let out = m.run(&["shift", "m", "--weight", "20", "--interval", "3s", "--check", &check]);
    out.code(3);
}

/// Every router's traffic reaches the canary's metrics: a `-err30` canary is stopped (exit 3)
/// by the same ready-made check on the replicas, gateway-api and knative routers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_router_stops_an_err30_canary() {
    let m = Metrics::start(Duration::from_millis(300)).await;
    // replicas: 50% of 2 pods is one canary pod behind the model's Service.
    model(&m.env, "r", 2, "registry.example/r:v1", true).await;
    let out = m.run(&[
        "canary",
        "r",
        "--image",
        "registry.example/r:v2-err30",
        "--weight",
        "50",
        "--interval",
        "3s",
        "--check",
        SUCCESS,
    ]);
    out.code(3);
    assert!(out.stderr.contains(" 70 >= 99 FAILED"), "{}", out.stderr);
    assert!(m.env.deployment("r-canary").await.is_none());
    assert_eq!(m.env.deployment("r").await.unwrap()["spec"]["replicas"], 2);

    // gateway-api: HTTPRoute weights to Services r2-stable and r2-canary.
    model(&m.env, "g", 2, "registry.example/g:v1", true).await;
    m.env.create(crate::canary::http_route("g", "g")).await;
    let out = m.run(&[
        "canary",
        "g",
        "--image",
        "registry.example/g:v2-err30",
        "--weight",
        "30",
        "--interval",
        "3s",
        "--check",
        SUCCESS,
        "--yes",
    ]);
    out.code(3);
    assert!(out.stderr.contains(" 70 >= 99 FAILED"), "{}", out.stderr);
    let route = m.env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "g").await.unwrap();
    assert_eq!(route["spec"]["rules"][1]["backendRefs"][0]["name"], "g", "route as before");

    // knative: the same shorthand reads Knative's queue-proxy metrics of the canary revision.
    crate::canary::knative_model(&m.env, "k", Value::Null).await;
    let out = m.run(&[
        "canary",
        "ksvc/k",
        "--image",
        "registry.example/k:v2-err30",
        "--weight",
        "40",
        "--interval",
        "3s",
        "--check",
        SUCCESS,
        "-v",
    ]);
    out.code(3);
    assert!(out.stderr.contains("revision_app_request_count"), "-v prints the query: {}", out.stderr);
    assert!(out.stderr.contains(" 70 >= 99 FAILED"), "{}", out.stderr);
    let ksvc = m.env.get("serving.knative.dev/v1", "Service", "k").await.unwrap();
    let traffic = crate::canary::ksvc_traffic(&ksvc);
    assert!(traffic.iter().all(|(_, percent, tag)| tag.is_none() || *percent == 0), "{traffic:?}");
}

/// set-image evaluates the checks every --interval while the rollout runs; a failure with
/// --rollback-on-failure undoes the change (exit 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_with_checks_rolls_back() {
    let m = Metrics::start(Duration::from_secs(2)).await;
    model(&m.env, "s", 3, "registry.example/s:v1", false).await;
    let out = m.run(&[
        "set-image",
        "s",
        "registry.example/s:v2-err30",
        "--interval",
        "2s",
        "--check",
        SUCCESS,
        "--rollback-on-failure",
    ]);
    out.code(3);
    assert!(out.stderr.contains("FAILED"), "{}", out.stderr);
    m.env.wait_rolled_out("s").await;
    let d = m.env.deployment("s").await.unwrap();
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/s:v1");
    let analysis = m.analysis("s");
    assert_eq!(analysis["verdict"], "Failed: rolled back");
}
