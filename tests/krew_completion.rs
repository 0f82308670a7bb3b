//! Where users meet the plugin: the krew manifest and archives (checked against krew-index's
//! rules), the committed completion scripts (fresh), and kubectl's plugin completion.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modelroll::cli::Shell;
use modelroll::cmd::completion::file_name;
use modelroll::rollout::state::{
    KnativeRouting, Phase, ReplicasRouting, RolloutState, Routing, CANARY_OF_ANNOTATION, ROLLOUT_ANNOTATION,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::{self, Options, Playground};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-modelroll");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Real kubectl as an absolute path (its directory goes on the PATH these tests build).
pub(crate) fn kubectl() -> PathBuf {
    let kubectl = common::kubectl_path();
    if kubectl.is_absolute() {
        return kubectl;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(&kubectl))
        .find(|candidate| candidate.is_file())
        .expect("kubectl is on PATH")
}

// --- completion scripts ---

#[test]
fn committed_completion_scripts_are_fresh() {
    let bless = std::env::var_os("MODELROLL_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell, Shell::Elvish] {
        let name = format!("{shell:?}").to_lowercase();
        let out = Command::new(BIN).args(["completion", &name]).output().unwrap();
        assert!(out.status.success(), "completion {name}: {}", text(&out.stderr));
        assert!(!out.stdout.is_empty(), "completion {name} printed nothing");
        let path = Path::new(ROOT).join("completions").join(file_name(shell));
        if bless {
            std::fs::write(&path, &out.stdout).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&out.stdout[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale completion scripts: {}; regenerate them with `MODELROLL_BLESS=1 cargo test --test tests committed_completion_scripts_are_fresh` and commit them",
        stale.join(", ")
    );
}

#[test]
fn the_bash_script_completes_subcommands_in_bash() {
    let script = Path::new(ROOT).join("completions").join(file_name(Shell::Bash));
    // Source the script and ask it as bash would for `kubectl-modelroll pro<TAB>`.
    let probe = format!(
        "source {}; COMP_WORDS=(kubectl-modelroll pro); COMP_CWORD=1; _kubectl__modelroll kubectl-modelroll pro kubectl-modelroll; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash").args(["--norc", "-c", &probe]).output().expect("bash");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "promote");
}

/// A directory holding `kubectl-modelroll` and the completion shim, as a user installs them,
/// and a PATH with it and kubectl's directory only.
struct PluginPath {
    dir: tempfile::TempDir,
    path: std::ffi::OsString,
}

impl PluginPath {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(BIN, dir.path().join("kubectl-modelroll")).unwrap();
        let shim = Path::new(ROOT).join("completions/kubectl_complete-modelroll");
        std::fs::copy(&shim, dir.path().join("kubectl_complete-modelroll")).unwrap();
        let kubectl = kubectl();
        let path = std::env::join_paths([
            dir.path(),
            kubectl.parent().unwrap(),
            Path::new("/usr/bin"),
            Path::new("/bin"),
        ])
        .unwrap();
        Self { dir, path }
    }

    fn kubectl_complete(&self, words: &[&str], kubeconfig: Option<&Path>) -> Output {
        let mut command = Command::new(kubectl());
        command
            .arg("__complete")
            .arg("modelroll")
            .args(words)
            .env("PATH", &self.path)
            .env_remove("KUBECONFIG");
        if let Some(kubeconfig) = kubeconfig {
            command.env("KUBECONFIG", kubeconfig);
        }
        // No kubeconfig of the user's leaks in.
        command.env("HOME", self.dir.path());
        command.output().unwrap()
    }
}

#[test]
fn the_shim_is_executable_and_answers_kubectls_protocol() {
    use std::os::unix::fs::PermissionsExt;
    let shim = Path::new(ROOT).join("completions/kubectl_complete-modelroll");
    let mode = std::fs::metadata(&shim).unwrap().permissions().mode();
    assert!(mode & 0o111 != 0, "completions/kubectl_complete-modelroll is not executable");
    let plugin_path = PluginPath::new();
    let out = Command::new(plugin_path.dir.path().join("kubectl_complete-modelroll"))
        .args(["canary", "fraud", "--router", ""])
        .env("PATH", &plugin_path.path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "auto\nreplicas\nistio\ngateway-api\nknative\n:4\n");
}

#[test]
fn kubectl_completes_the_plugins_subcommands_and_flags() {
    let plugin_path = PluginPath::new();
    let out = plugin_path.kubectl_complete(&[""], None);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in [
        "promote\tMake the canary the new stable and clean up",
        "set-image\tRolling update of the model's image(s); waits and shows progress",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "kubectl __complete modelroll '' lacks {line:?}:\n{stdout}"
        );
    }
    assert!(stdout.ends_with(":4\n"), "{stdout}");
    assert!(!stdout.contains("__complete"));

    let out = plugin_path.kubectl_complete(&["shift", "fraud", "--st"], None);
    assert_eq!(text(&out.stdout), "--steps\tIncreasing weights to step through, e.g. 10,25,50,100\n:4\n");
}

// --- target names from the cluster, through real kubectl ---

fn create_namespace_ml(pg: &Playground) {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}).to_string();
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&namespace)).success();
}

/// A Deployment `name` in namespace ml, with extra annotations.
fn deployment(name: &str, annotations: serde_json::Value) -> String {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ml", "annotations": annotations},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "model", "image": format!("registry.example/{name}:v1")}]},
            },
        },
    })
    .to_string()
}

/// A Knative Service `name` in namespace ml, with extra annotations.
fn ksvc(name: &str, annotations: serde_json::Value) -> String {
    json!({
        "apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "ml", "annotations": annotations},
        "spec": {"template": {"spec": {"containers": [{"name": "model", "image": format!("registry.example/{name}:v1")}]}}},
    })
    .to_string()
}

/// The rollout annotation of a canary in progress, written by the canary's own state type.
fn canary_annotation(routing: Routing, canary: &str, weight: u32) -> serde_json::Value {
    let state = RolloutState {
        routing,
        canary: canary.to_string(),
        weight,
        images: [("model".to_string(), "registry.example/model:v2".to_string())].into(),
        model_version: None,
        start_time: "2026-11-22T00:00:00Z".to_string(),
        phase: Phase::Canary,
        stable_replicas: 1,
        analysis: None,
        canary_uid: None,
    };
    json!({ ROLLOUT_ANNOTATION: state.to_annotation() })
}

fn lines(out: &Output) -> BTreeSet<String> {
    text(&out.stdout).lines().map(str::to_string).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn kubectl_completes_targets_from_the_cluster_and_promote_only_those_with_a_canary() {
    let pg = Playground::start_with(Options { with: vec!["knative", "istio"], ..Options::default() });
    create_namespace_ml(&pg);
    let replicas = Routing::Replicas(ReplicasRouting { service: Some("fraud".into()) });
    let knative = Routing::Knative(KnativeRouting {
        stable_revision: "scorer-00001".into(),
        original_traffic: serde_json::Value::Null,
        original_template: json!({}),
    });
    for manifest in [
        deployment("fraud", canary_annotation(replicas, "fraud-canary", 25)),
        deployment("fraud-canary", json!({ CANARY_OF_ANNOTATION: "fraud" })),
        deployment("churn", json!({})),
        ksvc("ranker", json!({})),
        ksvc("scorer", canary_annotation(knative, "scorer-00002", 10)),
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "fraud-vs", "namespace": "ml"},
            "spec": {"hosts": ["fraud"], "http": [{"route": [{"destination": {"host": "fraud"}}]}]},
        })
        .to_string(),
    ] {
        pg.kubectl_with_input(&["apply", "-f", "-"], Some(&manifest)).success();
    }
    let plugin_path = PluginPath::new();
    let complete = |words: &[&str]| plugin_path.kubectl_complete(words, Some(pg.kubeconfig()));

    let out = complete(&["-n", "ml", "promote", ""]);
    assert_eq!(
        lines(&out),
        set(&["fraud\tDeployment, Canary (25%)", "ksvc/scorer\tKnative Service, Canary (10%)", ":4"]),
        "{}",
        text(&out.stderr)
    );
    for command in ["shift", "abort"] {
        let out = complete(&[command, "--namespace=ml", "f"]);
        assert_eq!(text(&out.stdout), "fraud\tDeployment, Canary (25%)\n:4\n", "{command}");
    }
    // Every model for the other commands; canary Deployments and Knative's own are left out.
    let out = complete(&["status", "-n", "ml", ""]);
    assert_eq!(
        lines(&out),
        set(&[
            "churn\tDeployment",
            "fraud\tDeployment, Canary (25%)",
            "ksvc/ranker\tKnative Service",
            "ksvc/scorer\tKnative Service, Canary (10%)",
            ":4",
        ])
    );
    assert_eq!(
        text(&complete(&["-n", "ml", "history", "ksvc/r"]).stdout),
        "ksvc/ranker\tKnative Service\n:4\n"
    );
    assert_eq!(text(&complete(&["-n", "ml", "undo", "deploy/c"]).stdout), "deploy/churn\tDeployment\n:4\n");
    // The namespace comes from the line: nothing in default.
    assert_eq!(text(&complete(&["set-image", ""]).stdout), ":4\n");
    // Containers (`CONTAINER=` with no space after it) and routes.
    assert_eq!(
        text(&complete(&["-n", "ml", "set-image", "fraud", ""]).stdout),
        "model=\tcontainer, now registry.example/fraud:v1\n:6\n"
    );
    assert_eq!(
        text(&complete(&["-n", "ml", "canary", "ksvc/ranker", "--image", "m"]).stdout),
        "model=\tcontainer, now registry.example/ranker:v1\n:6\n"
    );
    assert_eq!(
        text(&complete(&["-n", "ml", "canary", "fraud", "--container="]).stdout),
        "--container=model\tcontainer, now registry.example/fraud:v1\n:4\n"
    );
    assert_eq!(
        text(&complete(&["-n", "ml", "canary", "fraud", "--route", ""]).stdout),
        "fraud-vs\tVirtualService\n:4\n"
    );
    // Namespaces and contexts.
    let namespaces = lines(&complete(&["status", "-n", ""]));
    assert!(namespaces.contains("ml") && namespaces.contains("default"), "{namespaces:?}");
    assert_eq!(
        lines(&complete(&["--context", "playground"])),
        set(&["playground\tcluster playground", "playground-viewer\tcluster playground", ":4"])
    );
}

#[test]
fn without_knative_completion_offers_deployments_and_no_error() {
    let pg = Playground::start();
    create_namespace_ml(&pg);
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&deployment("churn", json!({})))).success();
    let plugin_path = PluginPath::new();
    let out = plugin_path.kubectl_complete(&["-n", "ml", "status", ""], Some(pg.kubeconfig()));
    assert_eq!(text(&out.stdout), "churn\tDeployment\n:4\n", "{}", text(&out.stderr));
    let out = plugin_path.kubectl_complete(&["-n", "ml", "promote", ""], Some(pg.kubeconfig()));
    assert_eq!(text(&out.stdout), ":4\n");
}

// --- krew ---

/// The release targets and the krew platform each becomes.
const TARGETS: [(&str, &str, &str); 6] = [
    ("x86_64-unknown-linux-musl", "linux", "amd64"),
    ("aarch64-unknown-linux-musl", "linux", "arm64"),
    ("x86_64-apple-darwin", "darwin", "amd64"),
    ("aarch64-apple-darwin", "darwin", "arm64"),
    ("x86_64-pc-windows-msvc", "windows", "amd64"),
    ("aarch64-pc-windows-msvc", "windows", "arm64"),
];

fn package(args: &[&str]) -> String {
    let out =
        Command::new("bash").arg(Path::new(ROOT).join("scripts/package.sh")).args(args).output().unwrap();
    assert!(out.status.success(), "package.sh {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The names stored in a .zip (read from its central directory).
fn zip_entries(bytes: &[u8]) -> Vec<String> {
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
    let end = (0..=bytes.len() - 22)
        .rev()
        .find(|&at| bytes[at..at + 4] == [0x50, 0x4b, 0x05, 0x06])
        .expect("a zip archive ends with an end-of-central-directory record");
    let mut at = u32_at(end + 16);
    let mut names = Vec::new();
    for _ in 0..u16_at(end + 10) {
        assert_eq!(bytes[at..at + 4], [0x50, 0x4b, 0x01, 0x02], "central directory entry");
        let name_len = u16_at(at + 28);
        names.push(String::from_utf8_lossy(&bytes[at + 46..at + 46 + name_len]).into_owned());
        at += 46 + name_len + u16_at(at + 30) + u16_at(at + 32);
    }
    names
}

fn archive_entries(path: &Path) -> BTreeSet<String> {
    let names = if path.extension().is_some_and(|e| e == "zip") {
        zip_entries(&std::fs::read(path).unwrap())
    } else {
        let out = Command::new("tar").arg("-tzf").arg(path).output().expect("tar");
        assert!(out.status.success(), "tar -tzf {}: {}", path.display(), text(&out.stderr));
        text(&out.stdout).lines().map(str::to_string).collect()
    };
    names.into_iter().map(|n| n.trim_start_matches("./").to_string()).collect()
}

fn sha256_hex(path: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Package an archive per platform into `dist` and return the host's. The host's archive
/// carries the binary these tests run (a debug build: building a release one here would take
/// minutes); the other platforms' binaries can only be built by the release workflow, so their
/// archives carry a stand-in file under the binary's name.
fn archives(dist: &Path, version: &str) -> PathBuf {
    let dist_dir = dist.to_str().unwrap();
    let host = package(&["archive", "--binary", BIN, "--version", version, "--out", dist_dir]);
    let host_archive = PathBuf::from(host.split_whitespace().next().unwrap());
    let stand_in = dist.join("stand-in");
    std::fs::write(&stand_in, "stand-in for a binary built by the release workflow\n").unwrap();
    for (target, os, arch) in TARGETS {
        let suffix = if os == "windows" { "zip" } else { "tar.gz" };
        if host_archive.ends_with(format!("kubectl-modelroll_{version}_{os}_{arch}.{suffix}")) {
            continue;
        }
        package(&[
            "archive",
            "--target",
            target,
            "--binary",
            stand_in.to_str().unwrap(),
            "--version",
            version,
            "--out",
            dist_dir,
        ]);
    }
    host_archive
}

#[test]
fn the_rendered_krew_manifest_passes_krew_index_rules_and_the_host_archive_works() {
    let dist = tempfile::tempdir().unwrap();
    let dist_dir = dist.path().to_str().unwrap();
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));

    let host_archive = archives(dist.path(), &version);
    let base_url = "https://downloads.example.test/modelroll";
    let rendered = package(&["manifest", "--version", &version, "--base-url", base_url, "--dist", dist_dir]);
    let manifest: serde_json::Value = serde_yaml::from_str(&rendered).expect("the rendered manifest is YAML");

    // Plugin identity: name = file name, krew's name and version rules.
    assert_eq!(manifest["apiVersion"], "krew.googlecontainertools.github.com/v1alpha2");
    assert_eq!(manifest["kind"], "Plugin");
    let name = manifest["metadata"]["name"].as_str().unwrap();
    assert_eq!(
        Path::new(ROOT).join("krew").join(format!("{name}.yaml")),
        Path::new(ROOT).join("krew/modelroll.yaml")
    );
    assert!(regex::Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").unwrap().is_match(name), "plugin name {name}");
    let spec = &manifest["spec"];
    let semver = regex::Regex::new(
        r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$",
    )
    .unwrap();
    assert!(semver.is_match(spec["version"].as_str().unwrap()), "version {}", spec["version"]);
    assert_eq!(spec["version"], version.as_str());
    assert!(spec["homepage"].as_str().unwrap().starts_with("https://"));
    let short = spec["shortDescription"].as_str().unwrap();
    assert!(
        !short.is_empty() && short.len() <= 50 && short.split_whitespace().count() <= 8,
        "shortDescription {short:?}"
    );
    let description = spec["description"].as_str().unwrap();
    assert!(description.len() > short.len(), "the description says what the plugin is for");
    assert!(
        !description.split_whitespace().any(|w| w.starts_with('-')),
        "the description lists no flags: {description}"
    );

    let platforms = spec["platforms"].as_array().unwrap();
    let sha256_pattern = regex::Regex::new("^[a-f0-9]{64}$").unwrap();
    let mut matched: Vec<(String, String)> = Vec::new();
    for platform in platforms {
        // Selectors: matchLabels with os and arch, nothing else.
        let selector = platform["selector"].as_object().unwrap();
        assert_eq!(selector.keys().collect::<Vec<_>>(), ["matchLabels"], "{selector:?}");
        let labels = selector["matchLabels"].as_object().unwrap();
        let mut keys: Vec<&String> = labels.keys().collect();
        keys.sort();
        assert_eq!(keys, ["arch", "os"], "{labels:?}");
        let (os, arch) = (labels["os"].as_str().unwrap(), labels["arch"].as_str().unwrap());
        matched.push((os.to_string(), arch.to_string()));

        // uri, sha256 (format and match with the archive), archive kind.
        let uri = platform["uri"].as_str().unwrap();
        let file = uri
            .strip_prefix(&format!("{base_url}/"))
            .unwrap_or_else(|| panic!("uri {uri} not under {base_url}"));
        let expected_suffix = if os == "windows" { ".zip" } else { ".tar.gz" };
        assert!(file.ends_with(expected_suffix), "{os} archive {file}");
        let archive = dist.path().join(file);
        let sha256 = platform["sha256"].as_str().unwrap();
        assert!(sha256_pattern.is_match(sha256), "sha256 {sha256}");
        assert_eq!(sha256, sha256_hex(&archive), "sha256 of {file}");

        // What krew copies out of the archive holds the bin and a license.
        let entries = archive_entries(&archive);
        let mut installed = BTreeSet::new();
        for copy in platform["files"].as_array().unwrap() {
            let from = copy["from"].as_str().unwrap();
            assert_eq!(copy["to"], ".", "{copy}");
            assert!(entries.contains(from), "{file} lacks {from}: {entries:?}");
            installed.insert(from.to_string());
        }
        let bin = platform["bin"].as_str().unwrap();
        let expected_bin = if os == "windows" { "kubectl-modelroll.exe" } else { "kubectl-modelroll" };
        assert_eq!(bin, expected_bin);
        assert!(installed.contains(bin), "{file}: bin {bin} is not among the files krew installs");
        assert!(
            installed.iter().any(|f| f.to_uppercase().starts_with("LICENSE")),
            "{file}: no license installed"
        );
    }
    // Every os/arch pair is matched by exactly one platform: complete and not overlapping.
    matched.sort();
    let mut expected: Vec<(String, String)> =
        TARGETS.iter().map(|(_, os, arch)| (os.to_string(), arch.to_string())).collect();
    expected.sort();
    assert_eq!(matched, expected);

    // The host's archive unpacks to a working plugin.
    let unpacked = tempfile::tempdir().unwrap();
    let out =
        Command::new("tar").arg("-xzf").arg(&host_archive).arg("-C").arg(unpacked.path()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for file in ["LICENSE", "README.md"] {
        assert!(unpacked.path().join(file).is_file(), "the archive lacks {file}");
    }
    let out = Command::new(unpacked.path().join("kubectl-modelroll")).arg("version").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&format!("kubectl-modelroll {}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn the_manifest_refuses_bad_versions_and_missing_archives() {
    let dist = tempfile::tempdir().unwrap();
    let script = Path::new(ROOT).join("scripts/package.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args(["manifest", "--version", "1.0", "--dist"])
        .arg(dist.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a v-prefixed semantic version"), "{}", text(&out.stderr));
    let out = Command::new("bash")
        .arg(&script)
        .args(["manifest", "--version", "v1.0.0", "--dist"])
        .arg(dist.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing archives"), "{}", text(&out.stderr));
}

#[test]
fn the_release_workflow_builds_every_platform_of_the_manifest() {
    let workflow: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join(".github/workflows/release.yml")).unwrap(),
    )
    .expect("the release workflow is YAML");
    let matrix = workflow["jobs"]["archive"]["strategy"]["matrix"]["include"].as_array().unwrap();
    let built: BTreeSet<(String, String)> = matrix
        .iter()
        .map(|m| (m["target"].as_str().unwrap().to_string(), m["exe"].as_str().unwrap().to_string()))
        .collect();
    let expected: BTreeSet<(String, String)> = TARGETS
        .iter()
        .map(|(target, os, _)| {
            let exe = if *os == "windows" { "kubectl-modelroll.exe" } else { "kubectl-modelroll" };
            (target.to_string(), exe.to_string())
        })
        .collect();
    assert_eq!(built, expected);
}
