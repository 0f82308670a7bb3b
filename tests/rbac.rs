//! Integration tests: the Role shipped in `deploy/rbac.yaml` is enough for the whole lifecycle
//! on each router (a user bound to nothing else runs it on the playground, which authorizes
//! by RBAC as kube-apiserver does), and a Role missing one rule is refused with the API
//! server's 403 sentence and changes nothing.

use std::path::{Path, PathBuf};

use modelroll::playground::rbac::StaticUser;
use serde::Deserialize;
use serde_json::Value;

use crate::common::{self, Options, Output, Playground};

const NS: &str = "ml";

fn manifest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac.yaml")
}

/// The objects of `deploy/rbac.yaml`.
fn manifests() -> Vec<Value> {
    let text = std::fs::read_to_string(manifest_path()).expect("deploy/rbac.yaml reads");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::from_value::<Value>(serde_yaml::Value::deserialize(doc).unwrap()).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// A playground (with the real CRDs when `crds`) where `alice` is bound to the shipped Role
/// `modelroll` in namespace `ml` (and, with `gpu_planning`, to the ClusterRole
/// `modelroll-gpu-planning`), set up with real kubectl as the README says.
struct Env {
    pg: Playground,
    alice: PathBuf,
}

impl Env {
    fn start(crds: bool, gpu_planning: bool) -> Self {
        let user = StaticUser::new("alice", &["ml-team"]);
        let pg = Playground::start_with(Options {
            real_crds: crds,
            users: vec![user.clone()],
            ..Options::default()
        });
        pg.kubectl(&["create", "namespace", NS]).success();
        pg.kubectl(&["apply", "-n", NS, "-f", manifest_path().to_str().unwrap()]).success();
        pg.kubectl(&[
            "create",
            "rolebinding",
            "modelroll-alice",
            "-n",
            NS,
            "--role=modelroll",
            "--user=alice",
        ])
        .success();
        if gpu_planning {
            pg.kubectl(&[
                "create",
                "clusterrolebinding",
                "modelroll-gpu-planning-ml-team",
                "--clusterrole=modelroll-gpu-planning",
                "--group=ml-team",
            ])
            .success();
        }
        let alice = pg.user_kubeconfig(&user, NS);
        Self { pg, alice }
    }

    /// Run the binary as alice; panic unless it succeeds.
    #[track_caller]
    fn alice(&self, args: &[&str]) -> Output {
        let out = self.pg.modelroll_with(&self.alice, args);
        assert_eq!(out.code, 0, "{args:?} as alice failed:\nstdout: {}\nstderr: {}", out.stdout, out.stderr);
        out
    }

    /// As the admin, with real kubectl.
    fn admin(&self, args: &[&str]) -> Output {
        let mut all = vec!["-n", NS];
        all.extend_from_slice(args);
        self.pg.kubectl(&all)
    }

    fn admin_apply(&self, yaml: &str) {
        self.pg.kubectl_with_input(&["apply", "-n", NS, "-f", "-"], Some(yaml)).success();
    }

    fn jsonpath(&self, what: &str, path: &str) -> String {
        self.admin(&["get", what, "-o", &format!("jsonpath={path}")]).success().stdout.clone()
    }

    fn exists(&self, what: &str) -> bool {
        !self.admin(&["get", what, "--ignore-not-found", "-o", "name"]).success().stdout.trim().is_empty()
    }

    /// A model: Deployment `name` (2 replicas of `image`) behind Service `name`, rolled out.
    fn model(&self, name: &str, image: &str) {
        self.admin(&[
            "create",
            "deployment",
            name,
            &format!("--image={image}"),
            "--replicas=2",
            "--port=8080",
        ])
        .success();
        self.admin(&["expose", "deployment", name, "--port=80", "--target-port=8080"]).success();
        self.admin(&["rollout", "status", &format!("deployment/{name}"), "--timeout=60s"]).success();
    }

    fn image(&self, deployment: &str) -> String {
        self.jsonpath(&format!("deployment/{deployment}"), "{.spec.template.spec.containers[0].image}")
    }

    /// set-image, status, history, undo, canary, shift, status, list, promote, canary, abort on
    /// Deployment `name`, as alice, checking the cluster after each change.
    fn deployment_lifecycle(&self, name: &str, gpu_planning: bool) {
        let v = |n: u32| format!("registry.example/{name}:v{n}");
        let out = self.alice(&["set-image", name, &v(2), "--timeout", "60s"]);
        assert_eq!(self.image(name), v(2));
        let warned = out.stderr.contains("cannot check whether the surge pods fit on the nodes");
        assert_eq!(warned, !gpu_planning, "GPU planning warning:\n{}", out.stderr);
        if !gpu_planning {
            assert!(out.stderr.contains("cannot list resource \"nodes\""), "{}", out.stderr);
        }
        let status = self.alice(&["status", name]).stdout.clone();
        assert!(status.contains(&v(2)), "{status}");
        let history = self.alice(&["history", name]).stdout.clone();
        assert!(history.contains(&v(1)) && history.contains(&v(2)), "{history}");
        self.alice(&["undo", name, "--timeout", "60s"]);
        assert_eq!(self.image(name), v(1));

        self.alice(&["canary", name, "--image", &v(3), "--yes", "--timeout", "60s"]);
        let canary = format!("deployment/{name}-canary");
        assert_eq!(self.image(&format!("{name}-canary")), v(3));
        self.alice(&["shift", name, "--steps", "50", "--interval", "300ms", "--timeout", "60s"]);
        let status = self.alice(&["status", name]).stdout.clone();
        assert!(status.contains("Canary") && status.contains("50%"), "{status}");
        let list = self.alice(&["list"]).stdout.clone();
        assert!(list.contains(name), "{list}");
        self.alice(&["promote", name, "--timeout", "60s"]);
        assert_eq!(self.image(name), v(3));
        assert!(!self.exists(&canary), "the canary is left after promote");

        self.alice(&["canary", name, "--image", &v(4), "--timeout", "60s"]);
        assert!(self.exists(&canary));
        self.alice(&["abort", name, "--timeout", "60s"]);
        assert!(!self.exists(&canary), "the canary is left after abort");
        assert_eq!(self.image(name), v(3));
        // Every command held the model's operation lease and gave it back.
        assert!(!self.exists(&format!("lease/modelroll-deployment-{name}")), "a lease is left");
    }
}

#[test]
fn the_shipped_role_runs_the_lifecycle_with_the_replicas_router() {
    let env = Env::start(false, false);
    env.model("fraud", "registry.example/fraud:v1");
    env.deployment_lifecycle("fraud", false);
}

#[test]
fn the_shipped_role_runs_the_lifecycle_with_the_istio_router() {
    let env = Env::start(true, true);
    env.model("fraud", "registry.example/fraud:v1");
    env.admin_apply(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fraud}
spec:
  hosts: [fraud.example.com]
  http:
  - name: model
    route:
    - destination: {host: fraud, port: {number: 80}}
",
    );
    env.deployment_lifecycle("fraud", true);
    let weights = env.jsonpath("virtualservice/fraud", "{.spec.http[0].route[*].weight}");
    assert!(weights.trim().is_empty(), "routes as before the canaries: {weights}");
    assert!(!env.exists("destinationrule/fraud"));
}

#[test]
fn the_shipped_role_runs_the_lifecycle_with_the_gateway_api_router() {
    let env = Env::start(true, true);
    env.model("fraud", "registry.example/fraud:v1");
    env.admin_apply(
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: fraud}
spec:
  parentRefs: [{name: gateway}]
  rules:
  - backendRefs: [{name: fraud, port: 80}]
",
    );
    env.deployment_lifecycle("fraud", true);
    assert_eq!(env.jsonpath("httproute/fraud", "{.spec.rules[0].backendRefs[*].name}"), "fraud");
    assert!(!env.exists("service/fraud-stable") && !env.exists("service/fraud-canary"));
}

#[test]
fn the_shipped_role_runs_the_lifecycle_with_the_knative_router() {
    let env = Env::start(true, false);
    env.admin_apply(
        "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: sentiment}
spec:
  template:
    spec:
      containers: [{image: registry.example/sentiment:v1}]
",
    );
    env.admin(&["wait", "ksvc/sentiment", "--for=condition=Ready", "--timeout=60s"]).success();
    let image = |env: &Env| env.jsonpath("ksvc/sentiment", "{.spec.template.spec.containers[0].image}");
    env.alice(&["set-image", "ksvc/sentiment", "registry.example/sentiment:v2", "--timeout", "60s"]);
    assert_eq!(image(&env), "registry.example/sentiment:v2");
    let status = env.alice(&["status", "ksvc/sentiment"]).stdout.clone();
    assert!(
        status.contains("ksvc/sentiment") && status.contains("registry.example/sentiment:v2"),
        "{status}"
    );
    let history = env.alice(&["history", "ksvc/sentiment"]).stdout.clone();
    assert!(history.contains("registry.example/sentiment:v1"), "{history}");
    env.alice(&[
        "canary",
        "ksvc/sentiment",
        "--image",
        "registry.example/sentiment:v3",
        "--weight",
        "10",
        "--timeout",
        "60s",
    ]);
    env.alice(&["shift", "ksvc/sentiment", "--steps", "50", "--interval", "300ms", "--timeout", "60s"]);
    let list = env.alice(&["list"]).stdout.clone();
    assert!(list.contains("sentiment"), "{list}");
    env.alice(&["promote", "ksvc/sentiment", "--timeout", "60s"]);
    assert_eq!(image(&env), "registry.example/sentiment:v3");
    env.alice(&[
        "canary",
        "ksvc/sentiment",
        "--image",
        "registry.example/sentiment:v4",
        "--weight",
        "20",
        "--timeout",
        "60s",
    ]);
    env.alice(&["abort", "ksvc/sentiment", "--timeout", "60s"]);
    assert_eq!(image(&env), "registry.example/sentiment:v3");
    let percents = env.jsonpath("ksvc/sentiment", "{.status.traffic[*].percent}");
    assert_eq!(percents.trim(), "100", "all traffic back on stable");
    let served = env.jsonpath("ksvc/sentiment", "{.status.traffic[0].revisionName}");
    assert_eq!(served.trim(), env.jsonpath("ksvc/sentiment", "{.spec.template.metadata.name}").trim());
}

#[test]
fn a_role_without_one_rule_is_refused_with_the_api_servers_sentence_and_nothing_changes() {
    let bob = StaticUser::new("bob", &[]);
    let pg = Playground::start_with(Options { users: vec![bob.clone()], ..Options::default() });
    pg.kubectl(&["create", "namespace", NS]).success();
    // The shipped Role without `patch` on Deployments.
    let mut role = manifests().into_iter().find(|m| m["kind"] == "Role").expect("a Role in deploy/rbac.yaml");
    role["metadata"]["name"] = "modelroll-no-patch".into();
    let rules = role["rules"].as_array_mut().unwrap();
    let deployments = rules
        .iter_mut()
        .find(|r| r["resources"] == serde_json::json!(["deployments"]))
        .expect("a rule for deployments");
    deployments["verbs"].as_array_mut().unwrap().retain(|v| v != "patch");
    pg.kubectl_with_input(&["apply", "-n", NS, "-f", "-"], Some(&role.to_string())).success();
    pg.kubectl(&["create", "rolebinding", "bob", "-n", NS, "--role=modelroll-no-patch", "--user=bob"])
        .success();
    pg.kubectl(&[
        "create",
        "deployment",
        "fraud",
        "-n",
        NS,
        "--image=registry.example/fraud:v1",
        "--replicas=1",
    ])
    .success();
    pg.kubectl(&["rollout", "status", "-n", NS, "deployment/fraud", "--timeout=60s"]).success();
    let spec = |pg: &Playground| {
        pg.kubectl(&["get", "-n", NS, "deployment/fraud", "-o", "jsonpath={.spec}{.metadata.annotations}"])
            .success()
            .stdout
            .clone()
    };
    let before = spec(&pg);
    let kubeconfig = pg.user_kubeconfig(&bob, NS);

    let out = pg.modelroll_with(
        &kubeconfig,
        &["set-image", "fraud", "registry.example/fraud:v2", "--timeout", "30s"],
    );
    out.code(1);
    assert!(
        out.stderr.contains(
            "User \"bob\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"ml\""
        ),
        "{}",
        out.stderr
    );
    // The API server's own sentence, as kubectl shows it.
    let out = pg.kubectl_with(
        &kubeconfig,
        &["patch", "deployment/fraud", "-p", r#"{"metadata":{"labels":{"x":"y"}}}"#],
    );
    out.code(1);
    assert!(
        out.stderr.contains(
            "deployments.apps \"fraud\" is forbidden: User \"bob\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"ml\""
        ),
        "{}",
        out.stderr
    );
    assert_eq!(spec(&pg), before, "nothing changed");

    // What bob may do still works; elsewhere and cluster-wide he may do nothing.
    pg.modelroll_with(&kubeconfig, &["status", "fraud"]).success();
    let out = pg.kubectl_with(&kubeconfig, &["get", "deployments", "-n", "default"]);
    out.code(1);
    assert!(
        out.stderr.contains(
            "deployments.apps is forbidden: User \"bob\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"default\""
        ),
        "{}",
        out.stderr
    );
    let out = pg.kubectl_with(&kubeconfig, &["scale", "deployment/fraud", "-n", NS, "--replicas=2"]);
    out.code(1);
    assert!(out.stderr.contains("cannot patch resource \"deployments/scale\""), "{}", out.stderr);
    let out = pg.kubectl_with(&kubeconfig, &["get", "nodes"]);
    out.code(1);
    assert!(
        out.stderr.contains("nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"),
        "{}",
        out.stderr
    );
}

/// Without the lease rule of the shipped Role, a write command stops before changing anything,
/// with exit 1 and the API server's sentence naming the missing permission on leases.
#[test]
fn a_role_without_the_lease_rule_is_refused_naming_the_lease_permission() {
    let bob = StaticUser::new("bob", &[]);
    let pg = Playground::start_with(Options { users: vec![bob.clone()], ..Options::default() });
    pg.kubectl(&["create", "namespace", NS]).success();
    let mut role = manifests().into_iter().find(|m| m["kind"] == "Role").expect("a Role in deploy/rbac.yaml");
    role["metadata"]["name"] = "modelroll-no-leases".into();
    let rules = role["rules"].as_array_mut().unwrap();
    let before = rules.len();
    rules.retain(|r| r["resources"] != serde_json::json!(["leases"]));
    assert_eq!(rules.len(), before - 1, "deploy/rbac.yaml has one rule for leases");
    pg.kubectl_with_input(&["apply", "-n", NS, "-f", "-"], Some(&role.to_string())).success();
    pg.kubectl(&["create", "rolebinding", "bob", "-n", NS, "--role=modelroll-no-leases", "--user=bob"])
        .success();
    pg.kubectl(&["create", "deployment", "fraud", "-n", NS, "--image=registry.example/fraud:v1"]).success();
    let kubeconfig = pg.user_kubeconfig(&bob, NS);
    let out = pg.modelroll_with(&kubeconfig, &["set-image", "fraud", "registry.example/fraud:v2"]);
    out.code(1);
    assert_eq!(
        out.stderr,
        "error: forbidden by RBAC: User \"bob\" cannot get resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"ml\"; ask your cluster administrator for a Role that allows it\n"
    );
    let image = pg.kubectl(&[
        "get",
        "-n",
        NS,
        "deployment/fraud",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image.success().stdout, "registry.example/fraud:v1", "nothing changed");
    // Reads need no lease.
    pg.modelroll_with(&kubeconfig, &["status", "fraud"]).success();
}

#[test]
fn a_bad_token_auth_file_is_refused_before_the_playground_starts() {
    let dir = std::env::temp_dir().join(format!("modelroll-test-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tokens.csv");
    std::fs::write(&file, "only-a-token\n").unwrap();
    let out = common::run_binary(&["playground", "--token-auth-file", file.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    out.code(2);
    assert!(
        out.stderr.contains("invalid --token-auth-file") && out.stderr.contains("line 1"),
        "{}",
        out.stderr
    );
}

#[test]
fn list_shows_what_the_user_may_see_and_says_what_it_may_not() {
    let carol = StaticUser::new("carol", &[]);
    let pg = Playground::start_with(Options {
        users: vec![carol.clone()],
        with: vec!["knative"],
        ..Options::default()
    });
    pg.kubectl(&["create", "namespace", NS]).success();
    pg.kubectl(&[
        "create",
        "role",
        "deployments-only",
        "-n",
        NS,
        "--verb=get,list",
        "--resource=deployments",
    ])
    .success();
    pg.kubectl(&["create", "rolebinding", "carol", "-n", NS, "--role=deployments-only", "--user=carol"])
        .success();
    pg.kubectl(&["create", "deployment", "fraud", "-n", NS, "--image=registry.example/fraud:v1"]).success();
    let version = r#"{"spec":{"template":{"metadata":{"labels":{"modelroll.io/model-version":"v1"}}}}}"#;
    pg.kubectl(&["patch", "deployment/fraud", "-n", NS, "-p", version]).success();
    let kubeconfig = pg.user_kubeconfig(&carol, NS);
    let out = pg.modelroll_with(&kubeconfig, &["list"]);
    out.success();
    assert!(out.stdout.contains("fraud"), "{}", out.stdout);
    assert!(
        out.stderr.contains("warning: Knative Services are not listed: forbidden by RBAC: User \"carol\" cannot list resource \"services\" in API group \"serving.knative.dev\""),
        "{}",
        out.stderr
    );
}
