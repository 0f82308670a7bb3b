//! Shared helpers: start an in-process playground with a kubeconfig written for it, run the
//! real binary and real kubectl against it, get a kube client, and wait on conditions.
//!
//! ```ignore
//! let pg = common::Playground::start();                 // 3 nodes, pods ready after 300ms
//! pg.kubectl(&["create", "namespace", "ml"]).success();
//! let out = pg.modelroll(&["status", "fraud", "-n", "ml"]);
//! assert_eq!(out.code, 0, "{}", out.stderr);
//! common::wait_for(Duration::from_secs(10), "fraud ready", || { /* check pg.store() */ true });
//! ```
//!
//! The playground runs on a runtime of its own, so tests may block (run processes) freely, and
//! may be plain `#[test]`s or `#[tokio::test]`s.
#![allow(dead_code)]

pub mod pty;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use modelroll::playground::resources;
pub use modelroll::playground::Store;
use modelroll::playground::{Faults, PlaygroundConfig};

/// How a test playground is started. `Options::default()`: 3 nodes with 4 GPUs each, pods
/// ready after 300ms, controllers on, no CRDs, no faults.
#[derive(Debug, Clone)]
pub struct Options {
    pub nodes: u32,
    pub gpus_per_node: u32,
    pub ready_after: Duration,
    /// Load every CRD of `../shared/crds` (the real Istio, Knative, Gateway API, SMI CRDs).
    pub real_crds: bool,
    /// Compact CRDs to register: "istio", "gateway-api", "knative".
    pub with: Vec<&'static str>,
    /// Faults, in the `--faults` syntax (e.g. "429=0.2,watch-close=2s").
    pub faults: Option<&'static str>,
    /// Run the simulated controllers.
    pub controllers: bool,
    /// Users authorized by RBAC (as from `--token-auth-file`).
    pub users: Vec<modelroll::playground::rbac::StaticUser>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            nodes: 3,
            gpus_per_node: 4,
            ready_after: Duration::from_millis(300),
            real_crds: false,
            with: Vec::new(),
            faults: None,
            controllers: true,
            users: Vec::new(),
        }
    }
}

/// What a process printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panic (showing both streams) unless the exit code is 0; returns self for chaining.
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Panic unless the exit code is `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The real CRDs shipped beside the repository (`../shared/crds` from the crate, or from the
/// checkout's parent when the crate is a worktree one level deeper).
pub fn shared_crds_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(dir) = std::env::var_os("MODELROLL_SHARED_CRDS") {
        return PathBuf::from(dir);
    }
    for candidate in [manifest.join("../shared/crds"), manifest.join("../../shared/crds")] {
        if candidate.is_dir() {
            return candidate;
        }
    }
    panic!(
        "the real CRDs are not at {} (or ../../shared/crds); set MODELROLL_SHARED_CRDS",
        manifest.join("../shared/crds").display()
    );
}

/// A playground for one test; stopped when dropped.
pub struct Playground {
    inner: Option<modelroll::playground::Playground>,
    runtime: Option<tokio::runtime::Runtime>,
    cache_dir: PathBuf,
}

impl Playground {
    /// Start with [`Options::default`].
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Start with the given options.
    pub fn start_with(options: Options) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("playground")
            .enable_all()
            .build()
            .expect("a runtime for the playground");
        let config = PlaygroundConfig {
            port: 0,
            kubeconfig_out: None,
            nodes: options.nodes,
            gpus_per_node: options.gpus_per_node,
            ready_after: options.ready_after,
            crd_dirs: if options.real_crds { vec![shared_crds_dir()] } else { Vec::new() },
            with: options.with.iter().map(|s| s.to_string()).collect(),
            faults: options.faults.map(|f| Faults::parse(f).expect("valid faults")).unwrap_or_default(),
            controllers: options.controllers,
            users: options.users.clone(),
        };
        // Started from a thread of its own, so that async tests (already inside a runtime) can
        // start one too.
        let inner = std::thread::scope(|scope| {
            scope.spawn(|| runtime.block_on(modelroll::playground::Playground::start(config))).join()
        })
        .expect("the playground start did not panic")
        .unwrap_or_else(|e| panic!("the playground did not start: {e}"));
        let cache_dir =
            std::env::temp_dir().join(format!("modelroll-test-kubectl-cache-{}", inner.config.port));
        Self { inner: Some(inner), runtime: Some(runtime), cache_dir }
    }

    fn inner(&self) -> &modelroll::playground::Playground {
        self.inner.as_ref().expect("playground is running")
    }

    /// The kubeconfig written for this playground (contexts `playground` and
    /// `playground-viewer`).
    pub fn kubeconfig(&self) -> &Path {
        &self.inner().kubeconfig_path
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.inner().url
    }

    /// The objects, in-process (for assertions and setup without HTTP).
    pub fn store(&self) -> &Store {
        &self.inner().store
    }

    /// `127.0.0.1:PORT` where the simulated traffic's metrics are served (`/metrics`).
    pub fn metrics_address(&self) -> &str {
        &self.inner().metrics_address
    }

    /// Requests served so far, by User-Agent.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.inner().requests.snapshot()
    }

    /// Inject faults from now on, in the `--faults` syntax ("" for none): set up first, then
    /// break things.
    pub fn set_faults(&self, spec: &str) {
        self.inner().set_faults(Faults::parse(spec).expect("valid faults"));
    }

    /// Simulate an API server restart now: connections refused for `down`, then the same state.
    pub fn restart(&self, down: Duration) {
        self.inner().restart(down);
    }

    /// Faults injected so far, by kind ("429", "500", "409", "watch-cut", "restart", and
    /// "restart-dropped": connections a restart dropped).
    pub fn injected_faults(&self) -> BTreeMap<String, u64> {
        self.inner().requests.injected()
    }

    /// Run the real `kubectl-modelroll` with `--kubeconfig` of this playground (60s timeout).
    pub fn modelroll(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"));
        command.arg("--kubeconfig").arg(self.kubeconfig()).args(args);
        command.env_remove("KUBECONFIG").env("NO_COLOR", "1");
        run(command, None, Duration::from_secs(60), "kubectl-modelroll")
    }

    /// Write a kubeconfig for `user` (one of [`Options::users`]) with `namespace` as its
    /// namespace; it lives as long as the playground.
    pub fn user_kubeconfig(
        &self,
        user: &modelroll::playground::rbac::StaticUser,
        namespace: &str,
    ) -> PathBuf {
        std::fs::create_dir_all(&self.cache_dir).expect("the playground's scratch directory");
        let path = self.cache_dir.join(format!("{}.kubeconfig", user.name));
        self.inner().write_user_kubeconfig(user, namespace, &path).expect("the user's kubeconfig is written");
        path
    }

    /// Run the real `kubectl-modelroll` with another kubeconfig (e.g. a user's) (60s timeout).
    pub fn modelroll_with(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"));
        command.arg("--kubeconfig").arg(kubeconfig).args(args);
        command.env_remove("KUBECONFIG").env("NO_COLOR", "1");
        run(command, None, Duration::from_secs(60), "kubectl-modelroll")
    }

    /// Run real kubectl with another kubeconfig (e.g. a user's) (60s timeout).
    pub fn kubectl_with(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        let mut command = Command::new(kubectl_path());
        command.arg("--kubeconfig").arg(kubeconfig).args(args);
        command.env_remove("KUBECONFIG").env("KUBECACHEDIR", self.cache_dir.join("kubectl-with"));
        run(command, None, Duration::from_secs(60), "kubectl")
    }

    /// Run real kubectl (`$KUBECTL` or `kubectl` on PATH) against this playground (60s timeout).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, None)
    }

    /// As [`Playground::kubectl`], writing `input` to its stdin (for `-f -`).
    pub fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut command = Command::new(kubectl_path());
        command.arg("--kubeconfig").arg(self.kubeconfig()).args(args);
        command.env_remove("KUBECONFIG").env("KUBECACHEDIR", &self.cache_dir);
        run(command, input, Duration::from_secs(60), "kubectl")
    }

    /// Start kubectl without waiting (e.g. `get pods -w`); the caller kills it.
    pub fn kubectl_spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(kubectl_path())
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .env_remove("KUBECONFIG")
            .env("KUBECACHEDIR", &self.cache_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts")
    }

    /// A kube client for the `playground` context. Call it inside the runtime that will use it
    /// (e.g. in a `#[tokio::test]`).
    pub async fn client(&self) -> kube::Client {
        self.client_for("playground").await
    }

    /// A kube client for a context of this playground's kubeconfig (`playground-viewer`...).
    pub async fn client_for(&self, context: &str) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("the kubeconfig reads");
        let options =
            kube::config::KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .expect("the kubeconfig is usable");
        kube::Client::try_from(config).expect("a client for the playground")
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if let Some(runtime) = &self.runtime {
                let _guard = runtime.enter();
                inner.stop();
            }
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        let _ = std::fs::remove_dir_all(&self.cache_dir);
    }
}

/// The kubectl the tests use: `$KUBECTL`, else `kubectl` on PATH. Panics with a clear message
/// when there is none.
pub fn kubectl_path() -> PathBuf {
    let candidate =
        std::env::var_os("KUBECTL").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("kubectl"));
    let works = Command::new(&candidate)
        .args(["version", "--client", "-o", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        works,
        "kubectl not found ({}): these tests need a real kubectl (1.30+); set $KUBECTL or put kubectl on PATH (see ../shared/TOOLS.md)",
        candidate.display()
    );
    candidate
}

/// Run the real `kubectl-modelroll` with no playground (60s timeout), e.g. for bad input.
pub fn run_binary(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"));
    command.args(args).env_remove("KUBECONFIG").env("NO_COLOR", "1");
    run(command, None, Duration::from_secs(60), "kubectl-modelroll")
}

fn run(mut command: Command, input: Option<&str>, timeout: Duration, what: &str) -> Output {
    command.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    // Read both pipes on threads so a chatty process cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the process") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} {:?} did not finish within {timeout:?}", command.get_args().collect::<Vec<_>>());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Wait until `condition` holds, checking every 20ms; panic naming `what` after `timeout`.
#[track_caller]
/// Whether the pod's Ready condition is True (as kubectl and the controllers read it).
pub fn pod_ready(p: &k8s_openapi::api::core::v1::Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// As [`wait_for`], for async tests.
pub async fn wait_for_async<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Send `head` (a request line and headers, `\r\n`-separated, without the final blank line) as
/// raw bytes over TLS to `pg` with the admin's bearer token, and return the response's first
/// line, or `None` when the server closed the connection without one. Bytes no HTTP client
/// library would send (a raw `é` in a path) are how hostile input arrives.
pub fn raw_request(pg: &Playground, head: &[u8]) -> Option<String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::io::{BufRead, BufReader};

    let kubeconfig: serde_yaml::Value =
        serde_yaml::from_slice(&std::fs::read(pg.kubeconfig()).expect("the kubeconfig reads")).expect("yaml");
    let ca_data = kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"].as_str().expect("a CA");
    let token = kubeconfig["users"][0]["user"]["token"].as_str().expect("a token");
    let ca_pem = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, ca_data).expect("base64");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(&ca_pem).expect("a PEM certificate")).expect("a CA certificate");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let address = pg.url().trim_start_matches("https://").to_string();
    let tcp = std::net::TcpStream::connect(&address).expect("the playground accepts connections");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("a read timeout");
    let server_name = ServerName::try_from("127.0.0.1").expect("an IP server name");
    let connection =
        rustls::ClientConnection::new(std::sync::Arc::new(config), server_name).expect("a TLS client");
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    let mut request = head.to_vec();
    request.extend_from_slice(
        format!("\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    stream.write_all(&request).expect("the request is sent");
    let mut status_line = String::new();
    match BufReader::new(stream).read_line(&mut status_line) {
        Ok(n) if n > 0 => Some(status_line.trim_end().to_string()),
        _ => None,
    }
}

/// The ready pods among those a label selector picks, followed through a watch, with the lowest
/// count seen since [`ReadyPods::start`] or the last [`ReadyPods::restart`]: capacity checks
/// that see every change, not samples. A pod that is being deleted does not count as ready.
pub struct ReadyPods {
    counts: std::sync::Arc<std::sync::Mutex<ReadyCounts>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct ReadyCounts {
    /// Ready per pod name; `None` until the first list is in.
    ready: Option<BTreeMap<String, bool>>,
    lowest: i32,
}

impl ReadyCounts {
    fn now(&self) -> i32 {
        self.ready.as_ref().map_or(0, |r| r.values().filter(|ready| **ready).count() as i32)
    }
}

impl ReadyPods {
    /// Watch the pods of `selector` in `namespace`; returns once the first list is in.
    pub async fn start(client: kube::Client, namespace: &str, selector: &str) -> Self {
        use futures::StreamExt;
        use k8s_openapi::api::core::v1::Pod;
        use kube::runtime::watcher::{self, Event};
        use kube::runtime::WatchStreamExt;
        let counts = std::sync::Arc::new(std::sync::Mutex::new(ReadyCounts::default()));
        let api: kube::Api<Pod> = kube::Api::namespaced(client, namespace);
        let config = watcher::Config::default().labels(selector);
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            let mut stream = watcher::watcher(api, config).default_backoff().boxed();
            let mut listing: BTreeMap<String, bool> = BTreeMap::new();
            while let Some(event) = stream.next().await {
                let Ok(event) = event else { continue };
                let ready_of = |p: &Pod| p.metadata.deletion_timestamp.is_none() && pod_ready(p);
                let mut counts = shared.lock().unwrap();
                match event {
                    Event::Init => listing.clear(),
                    Event::InitApply(p) => {
                        listing.insert(p.metadata.name.clone().unwrap_or_default(), ready_of(&p));
                    }
                    Event::InitDone => {
                        let first = counts.ready.is_none();
                        counts.ready = Some(std::mem::take(&mut listing));
                        if first {
                            counts.lowest = counts.now();
                        }
                    }
                    Event::Apply(p) => {
                        if let Some(ready) = counts.ready.as_mut() {
                            ready.insert(p.metadata.name.clone().unwrap_or_default(), ready_of(&p));
                        }
                    }
                    Event::Delete(p) => {
                        if let Some(ready) = counts.ready.as_mut() {
                            ready.remove(&p.metadata.name.clone().unwrap_or_default());
                        }
                    }
                }
                if counts.ready.is_some() {
                    counts.lowest = counts.lowest.min(counts.now());
                }
            }
        });
        let pods = Self { counts, task };
        wait_for_async(Duration::from_secs(30), "the first list of pods", || async {
            pods.counts.lock().unwrap().ready.is_some()
        })
        .await;
        pods
    }

    /// Ready pods now.
    pub fn now(&self) -> i32 {
        self.counts.lock().unwrap().now()
    }

    /// The fewest ready pods seen since the start or the last restart.
    pub fn lowest(&self) -> i32 {
        self.counts.lock().unwrap().lowest
    }

    /// Count the lowest from now on; returns the ready pods now.
    pub fn restart(&self) -> i32 {
        let mut counts = self.counts.lock().unwrap();
        counts.lowest = counts.now();
        counts.lowest
    }

    /// Wait until `count` pods are ready (the watch is caught up with a change made before).
    pub async fn wait_ready(&self, count: i32) {
        wait_for_async(Duration::from_secs(60), &format!("{count} ready pods"), || async {
            self.now() == count
        })
        .await;
    }
}

impl Drop for ReadyPods {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real Prometheus (Debian's `prometheus` package, `/usr/bin/prometheus`, or `$PROMETHEUS`)
/// scraping `targets` every second, with its own config and storage in a temporary directory;
/// killed when dropped.
pub struct Prometheus {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The Prometheus binary the tests use; panics with a clear message when there is none (the
/// metric-check tests need a real one and never skip).
pub fn prometheus_path() -> PathBuf {
    let candidate = std::env::var_os("PROMETHEUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
    let works = Command::new(&candidate)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        works,
        "prometheus not found ({}): the metric-check tests need a real Prometheus; install Debian's package (`apt-get install -y prometheus`, as .ci/run does) or set $PROMETHEUS",
        candidate.display()
    );
    candidate
}

impl Prometheus {
    /// Start it and wait (with a deadline) until `/-/ready` answers 200 and every target has been
    /// scraped once.
    pub fn start(targets: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a directory for prometheus");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let list = targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: playground\n  static_configs:\n  - targets: [{list}]\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let child = Command::new(prometheus_path())
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let prometheus = Self { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        let ready = |path: &str| -> Option<String> {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
            let mut answer = String::new();
            std::io::Read::read_to_string(&mut stream, &mut answer).ok()?;
            (answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")).then_some(answer)
        };
        wait_for(Duration::from_secs(30), "prometheus to be ready", || ready("/-/ready").is_some());
        wait_for(Duration::from_secs(30), "prometheus to scrape the playground", || {
            ready("/api/v1/query?query=up").is_some_and(|a| a.contains("\"1\"]"))
        });
        prometheus
    }

    /// The value of `query` now, as Prometheus answers it (for assertions).
    pub fn query(&self, query: &str) -> serde_json::Value {
        let port = self.url.rsplit(':').next().unwrap();
        let encoded: String = query
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        write!(stream, "GET /api/v1/query?query={encoded} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
