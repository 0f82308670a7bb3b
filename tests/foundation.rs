//! The base: help, version, broken pipes, kubectl's plugin mechanism, and how the connection
//! reports an API server that refuses or cannot be reached (against loopback stub servers).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use modelroll::cli::GlobalArgs;
use modelroll::cluster::Cluster;
use modelroll::error::ExitCode;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-modelroll");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("KUBECONFIG").output().expect("run kubectl-modelroll")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

use crate::krew_completion::kubectl;

#[test]
fn help_lists_every_command_of_cli_md() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.starts_with("Roll out new versions of machine-learning models"), "{help}");
    assert!(help.contains("Usage: kubectl modelroll [OPTIONS] <COMMAND>"), "{help}");
    for command in [
        "set-image",
        "status",
        "list",
        "history",
        "undo",
        "canary",
        "shift",
        "promote",
        "abort",
        "completion",
        "playground",
        "demo",
        "version",
    ] {
        let line = help.lines().find(|l| l.trim_start().starts_with(&format!("{command} ")));
        let line = line.unwrap_or_else(|| panic!("--help does not list {command}:\n{help}"));
        assert!(line.split_whitespace().count() > 2, "{command} has no description: {line}");
    }
    assert!(!help.contains("__complete"));
    for flag in [
        "--kubeconfig",
        "--context",
        "--cluster",
        "--user",
        "--namespace",
        "--request-timeout",
        "--verbose",
        "--no-color",
        "--yes",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn global_flags_work_after_the_command_and_bad_usage_exits_2() {
    let out =
        run(&["version", "-n", "ml", "--context", "x", "-vv", "--no-color", "-y", "--request-timeout", "5s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["version", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--frobnicate"));
    let out = run(&["status"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_reports_version_commit_and_target() {
    let out = run(&["version"]);
    assert!(out.status.success());
    let line = text(&out.stdout);
    assert!(line.starts_with(&format!("kubectl-modelroll {} (commit ", env!("CARGO_PKG_VERSION"))), "{line}");
    let out = run(&["version", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("version -o json is JSON");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["gitCommit"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(json["target"].as_str().is_some_and(|t| t.contains('-')), "{json}");
}

/// `kubectl-modelroll ARGS | head` with `head` already gone: exit 0, nothing on stderr.
#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [&["--help"][..], &["version"], &["completion", "bash"], &["status", "--help"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(BIN).args(args).stdout(writer).stderr(Stdio::piped()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn kubectl_finds_the_plugin_and_runs_it() {
    let kubectl = kubectl();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(BIN, dir.path().join("kubectl-modelroll")).unwrap();
    // Only our directory and kubectl's own on PATH, so other plugins cannot interfere.
    let kubectl_dir = kubectl.parent().unwrap();
    let path = std::env::join_paths([dir.path(), kubectl_dir]).unwrap();

    let out = Command::new(&kubectl).args(["plugin", "list"]).env("PATH", &path).output().unwrap();
    let listed = text(&out.stdout);
    assert!(
        listed.lines().any(|l| l.trim() == dir.path().join("kubectl-modelroll").display().to_string()),
        "kubectl plugin list did not find kubectl-modelroll:\n{listed}\n{}",
        text(&out.stderr)
    );

    let out = Command::new(&kubectl).args(["modelroll", "version"]).env("PATH", &path).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("kubectl-modelroll "), "{}", text(&out.stdout));
}

// --- the connection against loopback stub API servers ---

/// An HTTP server on 127.0.0.1 that answers every request with one status and body, and
/// remembers what it was asked ("GET /path?query") and with which Authorization header.
struct StubApiServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    authorizations: Arc<Mutex<Vec<String>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl StubApiServer {
    fn start(status: u16, body: serde_json::Value) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let seen_auth = authorizations.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
                    let seen = seen.clone();
                    let seen_auth = seen_auth.clone();
                    let body = body.clone();
                    async move {
                        let uri = request.uri().to_string();
                        seen.lock().unwrap().push(format!("{} {uri}", request.method()));
                        let authorization =
                            request.headers().get("authorization").and_then(|v| v.to_str().ok());
                        seen_auth.lock().unwrap().push(authorization.unwrap_or_default().to_string());
                        let status = http::StatusCode::from_u16(status).unwrap();
                        (status, [("content-type", "application/json")], body.to_string())
                    }
                });
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Self { addr, requests, authorizations, _shutdown: shutdown }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().unwrap().clone()
    }
}

fn status_body(code: u16, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
        "details": {"name": "fraud", "group": "apps", "kind": "deployments"},
    })
}

/// A kubeconfig whose current context `loopback` points at `server`, namespace `ml`.
fn write_kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: loopback\n\
         clusters:\n- name: loopback\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n\
         users:\n- name: alice\n  user:\n    token: not-a-real-token\n\
         contexts:\n- name: loopback\n  context:\n    cluster: loopback\n    user: alice\n    namespace: ml\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `kubectl-modelroll --kubeconfig KUBECONFIG ARGS…` with no other kubeconfig in sight.
fn run_with(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubectl-modelroll")
}

/// Exit code and stderr, the way a user sees a failure.
fn failure(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), text(&out.stderr))
}

#[test]
fn unauthorized_names_the_server_and_context_and_exits_1() {
    let server = StubApiServer::start(401, status_body(401, "Unauthorized", "Unauthorized"));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}", server.addr);
    let out = run_with(&write_kubeconfig(dir.path(), &url), &["status", "fraud"]);
    assert_eq!(
        failure(&out),
        (Some(1), format!("error: the API server {url} (context \"loopback\") rejected your credentials (401 Unauthorized) when trying to get deployment \"fraud\"; log in again or fix the user in your kubeconfig\n"))
    );
    assert_eq!(server.requests(), ["GET /apis/apps/v1/namespaces/ml/deployments/fraud"]);
    // The kubeconfig's token went along.
    assert_eq!(server.authorizations(), ["Bearer not-a-real-token"]);
}

#[test]
fn forbidden_names_the_verb_and_resource_rbac_denied_and_exits_1() {
    let message = "deployments.apps \"fraud\" is forbidden: User \"alice\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"ml\"";
    let server = StubApiServer::start(403, status_body(403, "Forbidden", message));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &format!("http://{}", server.addr));
    let out = run_with(&kubeconfig, &["status", "fraud"]);
    assert_eq!(
        failure(&out),
        (Some(1), "error: forbidden by RBAC: User \"alice\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"ml\"; ask your cluster administrator for a Role that allows it\n".to_string())
    );

    // -v adds the cause chain.
    let out = run_with(&kubeconfig, &["status", "fraud", "-v"]);
    let stderr = text(&out.stderr);
    assert!(stderr.ends_with("ask your cluster administrator for a Role that allows it\n  caused by: the API server answered 403 Forbidden: deployments.apps \"fraud\" is forbidden: User \"alice\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"ml\"\n"), "{stderr}");

    // -vv logs each request: method, URL, status, duration.
    let out = run_with(&kubeconfig, &["status", "fraud", "-vv"]);
    let stderr = text(&out.stderr);
    let logged = regex::Regex::new(&format!(
        r"TRACE modelroll::api: GET http://{}/apis/apps/v1/namespaces/ml/deployments/fraud 403 Forbidden in \d+ms",
        regex::escape(&server.addr.to_string())
    ))
    .unwrap();
    assert!(logged.is_match(&stderr), "{stderr}");
}

#[test]
fn not_found_names_the_namespace_and_exits_2() {
    let server =
        StubApiServer::start(404, status_body(404, "NotFound", "deployments.apps \"fraud\" not found"));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &format!("http://{}", server.addr));
    let out = run_with(&kubeconfig, &["status", "fraud", "-n", "models"]);
    assert_eq!(
        failure(&out),
        (Some(2), "error: deployments.apps \"fraud\" not found in namespace \"models\"; check the name, or choose the namespace with -n\n".to_string())
    );
    // -n wins over the context's namespace; a ksvc of that name is looked for ("did you mean
    // ksvc/fraud?"), and its absence keeps the plain sentence.
    assert_eq!(
        server.requests(),
        [
            "GET /apis/apps/v1/namespaces/models/deployments/fraud",
            "GET /apis/serving.knative.dev/v1/namespaces/models/services/fraud"
        ]
    );
}

#[test]
fn connection_refused_names_the_server_and_context_and_exits_1() {
    // A port that was just free: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("https://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let out = run_with(&write_kubeconfig(dir.path(), &url), &["status", "fraud"]);
    assert_eq!(
        failure(&out),
        (Some(1), format!("error: cannot reach the API server {url} (context \"loopback\") to get deployment \"fraud\": connection refused; check that the cluster is up and that your kubeconfig points at it\n"))
    );
}

#[test]
fn a_tls_failure_says_tls_and_exits_1() {
    // A plain-HTTP server behind an https:// URL: the TLS handshake fails.
    let server = StubApiServer::start(200, serde_json::json!({}));
    let url = format!("https://{}", server.addr);
    let dir = tempfile::tempdir().unwrap();
    let out = run_with(&write_kubeconfig(dir.path(), &url), &["status", "fraud"]);
    let (code, stderr) = failure(&out);
    assert_eq!(code, Some(1));
    let prefix = format!("error: TLS with the API server {url} (context \"loopback\") failed when trying to get deployment \"fraud\": ");
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(
        stderr
            .ends_with("check certificate-authority-data (and the client certificate) in your kubeconfig\n"),
        "{stderr}"
    );
}

#[test]
fn a_missing_kubeconfig_or_unknown_context_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let out = run_with(&missing, &["status", "fraud"]);
    assert_eq!(
        failure(&out),
        (
            Some(2),
            format!("error: the kubeconfig {} given with --kubeconfig does not exist\n", missing.display())
        )
    );
    let kubeconfig = write_kubeconfig(dir.path(), "https://127.0.0.1:1");
    let out = run_with(&kubeconfig, &["status", "fraud", "--context", "prod"]);
    assert_eq!(
        failure(&out),
        (
            Some(2),
            format!(
                "error: context \"prod\" is not in kubeconfig {}; contexts are: loopback\n",
                kubeconfig.display()
            )
        )
    );
    // KUBECONFIG naming only missing files, no home config, not in a pod.
    let out = Command::new(BIN)
        .args(["status", "fraud"])
        .env("KUBECONFIG", &missing)
        .env("HOME", dir.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(
        failure(&out),
        (Some(2), format!("error: no cluster configured: no kubeconfig found at {} and this is not a pod in a cluster; pass --kubeconfig PATH or set KUBECONFIG\n", missing.display()))
    );
}

/// The exec plugin and token paths run in-process: they need no command to be meaningful.
fn get_deployment_error(kubeconfig: &Path) -> modelroll::error::Error {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let global = GlobalArgs { kubeconfig: Some(kubeconfig.to_path_buf()), ..Default::default() };
        let cluster = Cluster::connect(&global).await.expect("connect");
        let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let err = deployments.get("fraud").await.expect_err("the stub server refuses");
        cluster.api_error(err, "get deployment \"fraud\"")
    })
}

#[test]
fn exec_credential_plugins_supply_the_token() {
    let server = StubApiServer::start(401, status_body(401, "Unauthorized", "Unauthorized"));
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("credential-plugin");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-exec-plugin\"}}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: exec\n\
             clusters:\n- name: loopback\n  cluster:\n    server: http://{}\n\
             users:\n- name: sso\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      interactiveMode: Never\n\
             contexts:\n- name: exec\n  context:\n    cluster: loopback\n    user: sso\n",
            server.addr,
            plugin.display()
        ),
    )
    .unwrap();
    let err = get_deployment_error(&kubeconfig);
    assert_eq!(err.code, ExitCode::Failed);
    assert_eq!(server.authorizations(), ["Bearer from-exec-plugin"]);
}

#[test]
fn request_timeout_bounds_each_request() {
    // A listener that accepts and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out =
        run_with(&write_kubeconfig(dir.path(), &url), &["status", "fraud", "--request-timeout", "300ms"]);
    drop(listener);
    let (code, stderr) = failure(&out);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with(&format!("error: the API server {url} (context \"loopback\") did not answer within 300ms (--request-timeout) when trying to get deployment \"fraud\"")),
        "{stderr}"
    );
}

/// Ctrl-C during a wait ends the command with exit 130 and says what was interrupted.
#[test]
fn ctrl_c_during_a_wait_exits_130() {
    use std::io::Read;
    let pg = crate::common::Playground::start();
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fraud"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "fraud"}},
            "template": {"metadata": {"labels": {"app": "fraud"}}, "spec": {"containers": [{"name": "model", "image": "registry.example/fraud:v1"}]}},
        },
    });
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&deployment.to_string())).success();
    let mut child = Command::new(BIN)
        .arg("--kubeconfig")
        .arg(pg.kubeconfig())
        .args(["status", "fraud", "--watch"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first screen shows that the watch is running.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("status --watch prints a first screen");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "status --watch did not stop on Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    // Ctrl-C is how a watch is left: exit 130, no error line (issue 17).
    assert_eq!((status.code(), stderr.as_str()), (Some(130), ""));
}

/// Ctrl-C outside any wait (here: a request the server never answers) also exits 130.
#[test]
fn ctrl_c_anywhere_else_exits_130() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &format!("http://{}", listener.local_addr().unwrap()));
    let mut child = Command::new(BIN)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["status", "fraud"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the request arrives, the command is waiting on the API server.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let _connection = loop {
        match listener.accept() {
            Ok((connection, _)) => break connection,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(std::time::Instant::now() < deadline, "the request never came");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "status did not stop on Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(130), "error: interrupted\n"));
}

// --- the same against the playground, a real TLS API server with RBAC ---

const FRAUD: &str = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fraud", "namespace": "ml"},
  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fraud"}},
    "template": {"metadata": {"labels": {"app": "fraud"}},
      "spec": {"containers": [{"name": "model", "image": "registry.example/fraud:v1"}]}}}}"#;

fn playground_with_fraud() -> crate::common::Playground {
    let pg = crate::common::Playground::start();
    let namespace = r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}"#;
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(namespace)).success();
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(FRAUD)).success();
    pg
}

/// The playground's kubeconfig with `edit` applied to its cluster and users, written to `dir`.
fn edited_kubeconfig(
    pg: &crate::common::Playground,
    dir: &Path,
    edit: impl FnOnce(&mut serde_yaml::Value),
) -> PathBuf {
    let mut config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(pg.kubeconfig()).unwrap()).unwrap();
    edit(&mut config);
    let path = dir.join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    path
}

#[test]
fn rbac_denial_names_verb_and_resource_and_changes_nothing() {
    let pg = playground_with_fraud();
    let out = pg.modelroll(&[
        "--context",
        "playground-viewer",
        "-n",
        "ml",
        "set-image",
        "fraud",
        "model=registry.example/fraud:v2",
        "--yes",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let denied = regex::Regex::new(
        // The first write is the operation lease (one operation at a time per model).
        r#"^error: forbidden by RBAC: User "viewer" cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "ml"; ask your cluster administrator for a Role that allows it\n$"#,
    )
    .unwrap();
    assert!(denied.is_match(&out.stderr), "{}", out.stderr);
    let image = pg.kubectl(&[
        "-n",
        "ml",
        "get",
        "deploy",
        "fraud",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image.success().stdout, "registry.example/fraud:v1");
}

#[test]
fn rejected_credentials_and_untrusted_certificates_are_named() {
    let pg = playground_with_fraud();
    let dir = tempfile::tempdir().unwrap();

    let wrong_token = edited_kubeconfig(&pg, dir.path(), |config| {
        for user in config["users"].as_sequence_mut().unwrap() {
            user["user"]["token"] = "expired".into();
        }
    });
    let out = run_with(&wrong_token, &["-n", "ml", "status", "fraud"]);
    assert_eq!(
        failure(&out),
        (Some(1), format!("error: the API server {} (context \"playground\") rejected your credentials (401 Unauthorized) when trying to get deployment \"fraud\"; log in again or fix the user in your kubeconfig\n", pg.url()))
    );

    // Without the playground's CA its certificate is not trusted...
    let untrusted = edited_kubeconfig(&pg, dir.path(), |config| {
        config["clusters"][0]["cluster"].as_mapping_mut().unwrap().remove("certificate-authority-data");
    });
    let out = run_with(&untrusted, &["-n", "ml", "status", "fraud"]);
    assert_eq!(
        failure(&out),
        (Some(1), format!("error: TLS with the API server {} (context \"playground\") failed when trying to get deployment \"fraud\": invalid peer certificate: UnknownIssuer; check certificate-authority-data (and the client certificate) in your kubeconfig\n", pg.url()))
    );

    // ... unless the kubeconfig says insecure-skip-tls-verify, as kubectl allows.
    let insecure = edited_kubeconfig(&pg, dir.path(), |config| {
        let cluster = config["clusters"][0]["cluster"].as_mapping_mut().unwrap();
        cluster.remove("certificate-authority-data");
        cluster.insert("insecure-skip-tls-verify".into(), true.into());
    });
    let out = run_with(&insecure, &["-n", "ml", "status", "fraud", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // And a missing target names its namespace (exit 2).
    let out = run_with(&insecure, &["-n", "ml", "status", "churn"]);
    assert_eq!(
        failure(&out),
        (Some(2), "error: deployments.apps \"churn\" not found in namespace \"ml\"; check the name, or choose the namespace with -n\n".to_string())
    );
}
