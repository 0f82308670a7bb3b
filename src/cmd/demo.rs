//! `demo`: the whole lifecycle of one model on an in-process playground, narrated.
//!
//! The story: v1 serves on GPU nodes; `set-image` rolls v2 with live progress; traffic grows and
//! fills every GPU, so v3's surge would deadlock — caught before anything changes and rolled with
//! the offered strategy; v4 goes out as a canary behind a router (no weight until its model
//! server says the model is loaded, `--model-ready`), shifted 10 → 50 and promoted;
//! v5 crashloops as a canary and is aborted. Every command is the real one, run in-process
//! against the playground, and printed so a reader can repeat it against
//! `kubectl modelroll playground`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::Parser;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};

use crate::cli::{Cli, DemoArgs, RouterChoice};
use crate::cmd::follow::follow_deployment_rollout;
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::playground::{Playground, PlaygroundConfig};
use crate::watch::{wait_for_knative_revision, WaitOptions, WaitOutcome};

const NAMESPACE: &str = "ml";
const MODEL: &str = "fraud-detector";
const REGISTRY: &str = "registry.example/fraud-detector";

/// Run the demo.
///
/// # Errors
/// Exit 1 when the playground cannot start or an act does not end as the story says.
pub async fn run(ctx: &Context, args: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let narrator = Narrator::new(ctx.global.no_color);
    let config = PlaygroundConfig {
        nodes: 4,
        gpus_per_node: 4,
        ready_after: Duration::from_millis(1500),
        with: vec!["istio".into(), "gateway-api".into(), "knative".into()],
        ..PlaygroundConfig::default()
    };
    let playground = Playground::start(config)
        .await
        .map_err(|e| Error::failed(format!("cannot start the demo playground: {e}")).with_source(e))?;
    let demo = Demo { playground: &playground, narrator, router: args.router };
    let result = demo.tell().await;
    let elapsed = started.elapsed();
    playground.stop();
    result?;
    demo_done(&narrator, elapsed);
    Ok(())
}

fn demo_done(narrator: &Narrator, elapsed: Duration) {
    narrator.say(&format!(
        "The end: six model versions in {:.0}s, no downtime, no GPU deadlock, bad models caught as canaries.",
        elapsed.as_secs_f64()
    ));
    narrator.say("Try it yourself: `kubectl modelroll playground` in one terminal, then the commands above in another.");
}

struct Demo<'a> {
    playground: &'a Playground,
    narrator: Narrator,
    router: RouterChoice,
}

impl Demo<'_> {
    async fn tell(&self) -> Result<()> {
        let client = self.client().await?;
        let knative = self.router == RouterChoice::Knative;
        let target = if knative { format!("ksvc/{MODEL}") } else { MODEL.to_string() };

        self.narrator
            .act("Act 1", "v1 serves on GPU nodes (4 nodes × 4 nvidia.com/gpu; each model pod needs 2 GPUs)");
        self.setup(&client).await?;
        self.modelroll(&["status", MODEL]).await?;

        self.narrator.act("Act 2", "roll out v2 with live progress");
        self.modelroll(&["set-image", MODEL, &format!("model={REGISTRY}:v2"), "--model-version", "v2"])
            .await?;
        self.modelroll(&["history", MODEL]).await?;

        self.narrator.act("Act 3", "traffic grows to fill every GPU; v3's surge pod would never schedule");
        self.show_command("kubectl scale deployment fraud-detector --replicas 8 -n ml");
        self.scale(&client, 8).await?;
        self.modelroll(&["status", MODEL]).await?;
        self.narrator.say(
            "maxSurge 1 with maxUnavailable 0 needs 2 free GPUs on one node, and there are none: `kubectl set image` \
             would hang forever. modelroll sees it before writing anything and offers a strategy that proceeds \
             (--yes takes it without asking).",
        );
        self.modelroll(&[
            "set-image",
            MODEL,
            &format!("model={REGISTRY}:v3"),
            "--model-version",
            "v3",
            "--yes",
        ])
        .await?;
        self.show_command("kubectl scale deployment fraud-detector --replicas 4 -n ml");
        self.narrator.say("The peak passes; back to 4 replicas, which leaves room for a canary.");
        self.scale(&client, 4).await?;

        if knative {
            self.narrator.say("The canary acts run on a Knative Service serving the same model.");
            self.create_knative_service(&client).await?;
        }
        let router = router_name(self.router);
        self.narrator
            .act("Act 4", &format!("a canary of v4 behind {router}, shifted 10 → 50, then promoted"));
        self.narrator.say(&format!(
            "Its pods turn Ready {MODEL_LOAD} before their model is loaded (as vLLM's /health passes while weights load): --model-ready v2 asks each pod's model server through the API server's pod proxy, gives no weight until it says ready, then warms each pod up."
        ));
        let mut canary =
            vec!["canary", target.as_str(), "--image", "model=registry.example/fraud-detector:v4"];
        canary.extend([
            "--model-version",
            "v4",
            "--router",
            router,
            "--yes",
            "--model-ready",
            "v2",
            "--warmup",
            "3",
        ]);
        if knative {
            canary[3] = "registry.example/fraud-detector:v4";
        }
        self.modelroll(&canary).await?;
        self.modelroll(&["shift", &target, "--steps", "10,50", "--interval", "3s"]).await?;
        self.modelroll(&["status", &target]).await?;
        self.modelroll(&["promote", &target]).await?;
        self.modelroll(&["status", &target]).await?;

        self.narrator.act("Act 5", "a v5 canary crashloops: it never gets traffic, and is aborted");
        let image = if knative {
            "registry.example/fraud-detector:v5-crashloop"
        } else {
            "model=registry.example/fraud-detector:v5-crashloop"
        };
        // With a weight, so that every router has to bring the canary up (the replicas router
        // starts no canary pod at weight 0); the weight waits for it to be ready.
        let crash = [
            "canary",
            target.as_str(),
            "--image",
            image,
            "--model-version",
            "v5",
            "--weight",
            "10",
            "--timeout",
            "20s",
        ];
        let crash: Vec<&str> = crash.into_iter().chain(["--router", router, "--yes"]).collect();
        match self.modelroll(&crash).await {
            Err(err) if err.code == crate::error::ExitCode::Failed => {
                self.narrator.say("As it should: the canary failed before any traffic reached it (exit 1).")
            }
            Err(err) => return Err(err),
            Ok(()) => {
                return Err(Error::failed(
                    "the crashlooping v5 canary was reported ready; the demo expected it to fail",
                ))
            }
        }
        self.modelroll(&["abort", &target]).await?;
        self.modelroll(&["list"]).await?;
        self.modelroll(&["status", &target]).await?;
        self.metric_check_act(&target, router).await
    }

    /// Act 6: a canary that stays up but answers 30% of requests with errors, stopped by a
    /// metric check. Needs a `prometheus` binary on PATH, which scrapes the playground's traffic.
    async fn metric_check_act(&self, target: &str, router: &str) -> Result<()> {
        self.narrator.act("Act 6", "a v6 canary answers 30% errors: a metric check stops it");
        let Some(binary) = find_on_path("prometheus") else {
            self.narrator.say(
                "Skipped: this act needs a `prometheus` binary on PATH (Debian/Ubuntu: `apt-get install prometheus`), \
                 which scrapes the playground's simulated traffic. Install it and run the demo again.",
            );
            return Ok(());
        };
        let prometheus = DemoPrometheus::start(&binary, &self.playground.metrics_address).await?;
        self.narrator.say(&format!(
            "A real Prometheus ({}) scrapes the playground's simulated traffic every second; the image tag -err30 makes v6 answer 30% of its requests with 500.",
            binary.display()
        ));
        let image = if target.starts_with("ksvc/") {
            "registry.example/fraud-detector:v6-err30"
        } else {
            "model=registry.example/fraud-detector:v6-err30"
        };
        let words = [
            "canary",
            target,
            "--image",
            image,
            "--model-version",
            "v6",
            "--weight",
            "20",
            "--interval",
            "5s",
            "--check",
            "success-rate>=99",
            "--prometheus",
            &prometheus.url,
            "--router",
            router,
            "--yes",
        ];
        let result = self.modelroll(&words).await;
        drop(prometheus);
        match result {
            Err(err) if err.code == crate::error::ExitCode::CheckFailed => {
                self.narrator.say("As it should: the check failed, the canary was aborted (exit 3).")
            }
            Err(err) => return Err(err),
            Ok(()) => {
                return Err(Error::failed("the -err30 canary passed its check; the demo expected it to fail"))
            }
        }
        self.modelroll(&["status", target]).await
    }

    async fn client(&self) -> Result<kube::Client> {
        let ctx = self.context();
        Ok(ctx.cluster().await?.client)
    }

    fn context(&self) -> Context {
        let cli = Cli::parse_from([
            "kubectl-modelroll",
            "--kubeconfig",
            &self.playground.kubeconfig_path.to_string_lossy(),
            "-n",
            NAMESPACE,
            "version",
        ]);
        Context::new(cli.global)
    }

    /// Run one of our commands in-process, after printing it as a reader would type it.
    async fn modelroll(&self, words: &[&str]) -> Result<()> {
        self.show_command(&format!("kubectl modelroll {} -n {NAMESPACE}", words.join(" ")));
        let kubeconfig = self.playground.kubeconfig_path.to_string_lossy().to_string();
        let argv = ["kubectl-modelroll", "--kubeconfig", &kubeconfig, "-n", NAMESPACE]
            .into_iter()
            .chain(words.iter().copied());
        let cli = Cli::try_parse_from(argv)
            .map_err(|e| Error::failed(format!("the demo built a bad command line: {e}")))?;
        let result = Box::pin(crate::cmd::run(cli)).await;
        if let Err(err) = &result {
            crate::ui::print_stderr_line(&format!("error: {err}"));
        }
        result
    }

    fn show_command(&self, line: &str) {
        self.narrator.command(line);
    }

    /// The objects of act 1, written as `kubectl apply` would.
    async fn setup(&self, client: &kube::Client) -> Result<()> {
        self.show_command("kubectl create namespace ml");
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        let namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}})).map_err(bug)?;
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(|e| api(e, "create namespace ml"))?;

        let manifests = setup_manifests(self.router);
        self.show_command("kubectl apply -n ml -f - <<EOF");
        for manifest in &manifests {
            self.narrator.yaml(manifest);
        }
        self.narrator.command("EOF");
        for manifest in manifests {
            self.apply(client, manifest).await?;
        }
        self.wait_available(client).await
    }

    async fn create_knative_service(&self, client: &kube::Client) -> Result<()> {
        let ksvc = knative_service();
        self.show_command("kubectl apply -n ml -f - <<EOF");
        self.narrator.yaml(&ksvc);
        self.narrator.command("EOF");
        self.apply(client, ksvc).await?;
        let cluster = self.context().cluster().await?;
        let terminal = crate::ui::Terminal::detect(self.narrator.no_color);
        let mut display = crate::ui::progress::RolloutDisplay::new(terminal, "ksvc/fraud-detector");
        let (outcome, _) = wait_for_knative_revision(&cluster, MODEL, 1, None, &wait_options(), |p, now| {
            display.update(p, now)
        })
        .await?;
        display.finish("ksvc/fraud-detector: first revision ready");
        match outcome {
            WaitOutcome::Done(_) => Ok(()),
            _ => Err(Error::failed("the demo's Knative Service did not become ready")),
        }
    }

    async fn apply(&self, client: &kube::Client, manifest: Value) -> Result<()> {
        let kind = manifest["kind"].as_str().unwrap_or_default().to_string();
        let name = manifest["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let resource = resource_of(manifest["apiVersion"].as_str().unwrap_or_default(), &kind);
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), NAMESPACE, &resource);
        let params = PatchParams::apply("kubectl-modelroll-demo").force();
        api.patch(&name, &params, &Patch::Apply(&manifest))
            .await
            .map_err(|e| api_error(e, &format!("apply {kind} {name}")))?;
        Ok(())
    }

    async fn scale(&self, client: &kube::Client, replicas: i32) -> Result<()> {
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(client.clone(), NAMESPACE);
        let patch = json!({"spec": {"replicas": replicas}});
        deployments
            .patch_scale(MODEL, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| api(e, "scale deployment fraud-detector"))?;
        self.wait_available(client).await
    }

    /// Wait until every replica of the model is updated and available, with the same display
    /// the commands use.
    async fn wait_available(&self, client: &kube::Client) -> Result<()> {
        let cluster = self.context().cluster().await?;
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(client.clone(), NAMESPACE);
        let deployment =
            deployments.get(MODEL).await.map_err(|e| api_error(e, "get deployment fraud-detector"))?;
        let terminal = crate::ui::Terminal::detect(self.narrator.no_color);
        let outcome =
            follow_deployment_rollout(&cluster, terminal, &deployment, &wait_options(), "fraud-detector")
                .await?;
        match outcome {
            WaitOutcome::Done(_) => Ok(()),
            _ => Err(Error::failed("fraud-detector did not become available in the demo")),
        }
    }
}

fn wait_options() -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_secs(60),
        unschedulable_timeout: Duration::from_secs(30),
        on_interrupt: "the demo playground stops with it".into(),
    }
}

fn router_name(router: RouterChoice) -> &'static str {
    match router {
        RouterChoice::Auto | RouterChoice::Istio => "istio",
        RouterChoice::Replicas => "replicas",
        RouterChoice::GatewayApi => "gateway-api",
        RouterChoice::Knative => "knative",
    }
}

/// The API resource of a manifest the demo applies, by its apiVersion and kind (a Knative
/// Service and a core Service share the kind).
fn resource_of(api_version: &str, kind: &str) -> ApiResource {
    let (group, version, kind, plural) = match (api_version, kind) {
        ("serving.knative.dev/v1", _) => ("serving.knative.dev", "v1", "Service", "services"),
        (_, "Deployment") => ("apps", "v1", "Deployment", "deployments"),
        (_, "VirtualService") => ("networking.istio.io", "v1", "VirtualService", "virtualservices"),
        (_, "HTTPRoute") => ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
        (_, "Gateway") => ("gateway.networking.k8s.io", "v1", "Gateway", "gateways"),
        _ => ("", "v1", "Service", "services"),
    };
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    ApiResource::from_gvk_with_plural(&gvk, plural)
}

/// How long the demo's model servers take to load their model once their pod is Ready.
const MODEL_LOAD: &str = "5s";

/// Act 1's objects: the model's Deployment and Service, and the route the canary acts use.
fn setup_manifests(router: RouterChoice) -> Vec<Value> {
    let labels = json!({"app": MODEL, "modelroll.io/track": "stable", "modelroll.io/model-version": "v1"});
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": MODEL, "namespace": NAMESPACE, "labels": {"app": MODEL},
            "annotations": {"kubernetes.io/change-cause": "initial deploy of model v1"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": MODEL}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels, "annotations": {"playground.modelroll.io/model-load": MODEL_LOAD}},
                "spec": {"containers": [{
                    "name": "model",
                    "image": format!("{REGISTRY}:v1"),
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": {
                        "requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "2"},
                        "limits": {"nvidia.com/gpu": "2"}
                    }
                }]}
            }
        }
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": MODEL, "namespace": NAMESPACE},
        "spec": {"selector": {"app": MODEL}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    });
    let mut manifests = vec![deployment, service];
    match router {
        RouterChoice::Auto | RouterChoice::Istio => manifests.push(json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": MODEL, "namespace": NAMESPACE},
            "spec": {
                "hosts": [MODEL],
                "http": [{"route": [{"destination": {"host": MODEL, "port": {"number": 80}}}]}]
            }
        })),
        RouterChoice::GatewayApi => manifests.push(json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": MODEL, "namespace": NAMESPACE},
            "spec": {
                "parentRefs": [{"name": "ml-gateway"}],
                "rules": [{"backendRefs": [{"name": MODEL, "port": 80}]}]
            }
        })),
        RouterChoice::Replicas | RouterChoice::Knative => {}
    }
    manifests
}

fn knative_service() -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": MODEL, "namespace": NAMESPACE},
        "spec": {"template": {
            "metadata": {"labels": {"modelroll.io/model-version": "v3"},
                         "annotations": {"playground.modelroll.io/model-load": MODEL_LOAD}},
            "spec": {"containers": [{
                "image": format!("{REGISTRY}:v3"),
                "ports": [{"containerPort": 8080}],
                "resources": {"requests": {"cpu": "2", "memory": "8Gi"}}
            }]}
        }}
    })
}

fn bug(err: serde_json::Error) -> Error {
    Error::failed(format!("the demo built a bad object: {err}"))
}

fn api(err: kube::Error, what: &str) -> Error {
    api_error(err, what)
}

fn api_error(err: kube::Error, what: &str) -> Error {
    Error::failed(format!("the demo could not {what}: {err}")).with_source(err)
}

/// Prints the story: act titles, commands as typed, YAML, remarks. Plain lines off a terminal.
#[derive(Clone, Copy)]
struct Narrator {
    color: bool,
    no_color: bool,
}

impl Narrator {
    fn new(no_color: bool) -> Self {
        let color = !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
        Self { color, no_color }
    }

    fn act(&self, act: &str, title: &str) {
        let line = format!("\n=== {act}: {title} ===\n");
        self.print(&if self.color { format!("\x1b[1m{line}\x1b[0m") } else { line });
    }

    fn command(&self, line: &str) {
        let line = format!("$ {line}");
        self.print(&if self.color { format!("\x1b[36m{line}\x1b[0m\n") } else { format!("{line}\n") });
    }

    fn yaml(&self, object: &Value) {
        let text = serde_yaml::to_string(object).unwrap_or_default();
        self.print(&format!("---\n{text}"));
    }

    fn say(&self, text: &str) {
        self.print(&format!("# {text}\n"));
    }

    fn print(&self, text: &str) {
        crate::ui::print_stdout(text);
    }
}

/// The first executable `name` on PATH.
fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|path| path.is_file())
}

/// A Prometheus started for act 6, scraping the demo playground; killed when dropped.
struct DemoPrometheus {
    child: tokio::process::Child,
    url: String,
    dir: std::path::PathBuf,
}

impl DemoPrometheus {
    async fn start(binary: &std::path::Path, target: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("modelroll-demo-prometheus-{}", std::process::id()));
        let failed = |what: &str, e: std::io::Error| {
            Error::failed(format!("cannot {what} for the demo's Prometheus: {e}"))
        };
        std::fs::create_dir_all(&dir).map_err(|e| failed("create a directory", e))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| failed("find a free port", e))?
            .port();
        let config =
            format!("global:\n  scrape_interval: 1s\n{}", crate::playground::traffic::scrape_config(target));
        std::fs::write(dir.join("prometheus.yml"), config).map_err(|e| failed("write the config", e))?;
        let child = tokio::process::Command::new(binary)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed("start the binary", e))?;
        let prometheus = Self { child, url: format!("http://127.0.0.1:{port}"), dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !prometheus.ready(port).await {
            if Instant::now() > deadline {
                return Err(Error::failed("the demo's Prometheus was not ready within 30s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(prometheus)
    }

    /// Ready, and it has scraped the playground once.
    async fn ready(&self, port: u16) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
        let request = "GET /api/v1/query?query=up HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).await.is_ok()
            && stream.read_to_string(&mut answer).await.is_ok()
            && answer.contains("\"1\"]")
    }
}

impl Drop for DemoPrometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_has_a_route_for_mesh_and_gateway_routers_only() {
        let kinds = |r| {
            setup_manifests(r).iter().map(|m| m["kind"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(kinds(RouterChoice::Istio), ["Deployment", "Service", "VirtualService"]);
        assert_eq!(kinds(RouterChoice::GatewayApi), ["Deployment", "Service", "HTTPRoute"]);
        assert_eq!(kinds(RouterChoice::Replicas), ["Deployment", "Service"]);
    }

    #[test]
    fn v1_pods_fill_gpus_only_when_scaled_to_eight() {
        // 4 nodes × 4 GPUs, 2 per pod: 8 pods fill every GPU, so act 3's surge cannot fit.
        let deployment = &setup_manifests(RouterChoice::Istio)[0];
        let gpus = deployment.pointer("/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu");
        assert_eq!(gpus, Some(&json!("2")));
        assert_eq!(deployment.pointer("/spec/strategy/rollingUpdate/maxUnavailable"), Some(&json!(0)));
    }
}
