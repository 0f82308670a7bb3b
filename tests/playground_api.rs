//! The playground's API server, driven by real kubectl and by kube-rs: discovery, CRUD, apply,
//! selectors, watches, RBAC for the viewer, validation, CRDs and custom resources.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::common::{self, Options, Playground};

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: fraud
  labels: {app: fraud, tier: model}
spec:
  replicas: 2
  selector: {matchLabels: {app: fraud}}
  template:
    metadata: {labels: {app: fraud}}
    spec:
      containers:
      - name: model
        image: registry.example/fraud:v1
        ports: [{containerPort: 8080}]
";

fn no_controllers() -> Options {
    Options { controllers: false, ..Options::default() }
}

#[test]
fn kubectl_creates_applies_gets_and_deletes() {
    let pg = Playground::start_with(no_controllers());
    // kubectl finds every resource with aggregated discovery: /api and /apis, nothing more.
    let resources = pg.kubectl(&["api-resources", "-o", "name"]);
    assert!(resources.success().stdout.lines().any(|l| l == "deployments.apps"), "{}", resources.stdout);
    // (A kubectl "dispatcher" in front of the real binary may ask /version first; not counted.)
    let kubectl_requests: u64 =
        pg.requests().iter().filter(|(a, _)| a.starts_with("kubectl/")).map(|(_, n)| n).sum();
    assert_eq!(kubectl_requests, 2, "{:?}", pg.requests());
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(DEPLOYMENT)).success();
    let out = pg.kubectl(&[
        "get",
        "deploy",
        "fraud",
        "-o",
        "jsonpath={.spec.replicas} {.metadata.generation} {.spec.strategy.rollingUpdate.maxSurge}",
    ]);
    assert_eq!(out.success().stdout, "2 1 25%");
    // Re-applying the same file changes nothing; a changed file bumps the generation.
    let out = pg.kubectl_with_input(&["apply", "-f", "-"], Some(DEPLOYMENT));
    assert!(out.success().stdout.contains("deployment.apps/fraud unchanged"), "{}", out.stdout);
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(&DEPLOYMENT.replace("replicas: 2", "replicas: 4")))
        .success();
    let out =
        pg.kubectl(&["get", "deploy", "fraud", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"]);
    assert_eq!(out.success().stdout, "4 2");
    // set image is a strategic merge patch; scale goes through the scale subresource.
    pg.kubectl(&["set", "image", "deploy/fraud", "model=registry.example/fraud:v2"]).success();
    pg.kubectl(&["scale", "deploy/fraud", "--replicas=3"]).success();
    let out = pg.kubectl(&["get", "deploy", "fraud", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}"]);
    assert_eq!(out.success().stdout, "3 registry.example/fraud:v2 8080");
    // Table output, wide and yaml/json.
    let out = pg.kubectl(&["get", "deploy", "-o", "wide"]);
    let header = out.success().stdout.lines().next().unwrap_or_default().to_string();
    for column in ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(out.stdout.contains("registry.example/fraud:v2"), "{}", out.stdout);
    let yaml = pg.kubectl(&["get", "deploy", "fraud", "-o", "yaml"]);
    assert!(yaml.success().stdout.contains("progressDeadlineSeconds: 600"), "{}", yaml.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&pg.kubectl(&["get", "deploy", "-o", "json"]).success().stdout).unwrap();
    assert_eq!(json["kind"], "List");
    assert_eq!(json["items"][0]["metadata"]["name"], "fraud");
    // Label selectors.
    for (selector, found) in [
        ("app=fraud", true),
        ("app!=fraud", false),
        ("tier in (model,proxy)", true),
        ("tier notin (model)", false),
        ("tier", true),
        ("!tier", false),
    ] {
        let out = pg.kubectl(&["get", "deploy", "-l", selector, "-o", "name"]);
        assert_eq!(out.success().stdout.contains("deployment.apps/fraud"), found, "selector {selector}");
    }
    pg.kubectl(&["delete", "deploy", "fraud"]).success();
    let out = pg.kubectl(&["get", "deploy", "fraud"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("deployments.apps \"fraud\" not found"), "{}", out.stderr);
}

#[test]
fn the_viewer_context_may_read_but_not_write() {
    let pg = Playground::start_with(no_controllers());
    pg.kubectl_with_input(&["apply", "-f", "-"], Some(DEPLOYMENT)).success();
    pg.kubectl(&["--context", "playground-viewer", "get", "deploy", "fraud"]).success();
    let out = pg.kubectl(&[
        "--context",
        "playground-viewer",
        "patch",
        "deploy",
        "fraud",
        "-p",
        r#"{"spec":{"replicas":1}}"#,
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(r#"deployments.apps "fraud" is forbidden: User "viewer" cannot patch resource "deployments" in API group "apps" in the namespace "default""#),
        "{}",
        out.stderr
    );
    let out = pg.kubectl(&["--context", "playground-viewer", "delete", "deploy", "fraud"]);
    assert!(out.stderr.contains(r#"User "viewer" cannot delete resource "deployments""#), "{}", out.stderr);
}

#[test]
fn invalid_objects_are_refused_with_the_field_named() {
    let pg = Playground::start_with(no_controllers());
    let bad = DEPLOYMENT.replace("metadata: {labels: {app: fraud}}", "metadata: {labels: {app: other}}");
    let out = pg.kubectl_with_input(&["apply", "-f", "-"], Some(&bad));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"),
        "{}",
        out.stderr
    );
    let out = pg.kubectl_with_input(
        &["apply", "-f", "-"],
        Some(&DEPLOYMENT.replace("name: fraud\n  labels", "name: Fraud_1\n  labels")),
    );
    assert!(
        out.stderr.contains("metadata.name: Invalid value: \"Fraud_1\": a lowercase RFC 1123 subdomain"),
        "{}",
        out.stderr
    );
    // Server-side dry run writes nothing.
    pg.kubectl_with_input(&["apply", "--dry-run=server", "-f", "-"], Some(DEPLOYMENT)).success();
    assert_eq!(pg.kubectl(&["get", "deploy", "-o", "name"]).success().stdout, "");
}

#[test]
fn kubectl_get_watch_sees_events() {
    let pg = Playground::start_with(no_controllers());
    let store = pg.store().clone();
    store
        .create(&common::resources::CONFIGMAPS, json!({"metadata": {"name": "seen", "namespace": "default"}}))
        .unwrap();
    let mut watch = pg.kubectl_spawn(&["get", "configmaps", "-w", "--output-watch-events"]);
    let stdout = watch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<String> = Vec::new();
    let next_line = |lines: &mut Vec<String>| {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("kubectl get -w showed no more lines; saw {lines:?}"));
        lines.push(line);
    };
    // The list shows the existing object; the watch then starts from the list's resourceVersion,
    // so every later change is shown.
    while !lines.iter().any(|l| l.starts_with("ADDED") && l.contains("seen")) {
        next_line(&mut lines);
    }
    store
        .modify(&common::resources::CONFIGMAPS, "default", "seen", |c| c["data"] = json!({"k": "v"}))
        .unwrap();
    store.delete(&common::resources::CONFIGMAPS, "default", "seen", &Default::default()).unwrap();
    while !lines.iter().any(|l| l.starts_with("DELETED") && l.contains("seen")) {
        next_line(&mut lines);
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(lines.iter().any(|l| l.starts_with("MODIFIED") && l.contains("seen")), "{lines:?}");
}

#[tokio::test]
async fn kube_rs_applies_patches_and_conflicts() {
    let pg = Playground::start_with(no_controllers());
    let client = pg.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let applied: Deployment = serde_yaml::from_str(DEPLOYMENT).unwrap();
    let params = PatchParams::apply("modelroll-test");
    let created = deployments.patch("fraud", &params, &Patch::Apply(&applied)).await.unwrap();
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(2));
    // Another manager changing a field the first one owns conflicts unless forced.
    let mut other = serde_json::to_value(&applied).unwrap();
    other["spec"]["replicas"] = json!(5);
    let err = deployments
        .patch("fraud", &PatchParams::apply("someone-else"), &Patch::Apply(&other))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 409);
            assert!(status.message.contains("conflict with \"modelroll-test\""), "{}", status.message);
        }
        other => panic!("expected a conflict, got {other}"),
    }
    let forced = deployments
        .patch("fraud", &PatchParams::apply("someone-else").force(), &Patch::Apply(&other))
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().replicas, Some(5));
    // A merge patch, then a stale update: 409 with the API server's sentence.
    let before = deployments.get("fraud").await.unwrap();
    deployments
        .patch(
            "fraud",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"stage": "canary"}}})),
        )
        .await
        .unwrap();
    let err = deployments.replace("fraud", &PostParams::default(), &before).await.unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 409);
            assert_eq!(status.message, "Operation cannot be fulfilled on deployments.apps \"fraud\": the object has been modified; please apply your changes to the latest version and try again");
        }
        other => panic!("expected a conflict, got {other}"),
    }
}

#[tokio::test]
async fn kube_rs_watches_from_a_resource_version() {
    use futures::{StreamExt, TryStreamExt};
    let pg = Playground::start_with(no_controllers());
    let client = pg.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm =
        |name: &str| -> ConfigMap { serde_json::from_value(json!({"metadata": {"name": name}})).unwrap() };
    configmaps.create(&PostParams::default(), &cm("before")).await.unwrap();
    let list = configmaps.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    configmaps.create(&PostParams::default(), &cm("after")).await.unwrap();
    configmaps.delete("before", &DeleteParams::default()).await.unwrap();
    let mut events =
        configmaps.watch(&kube::api::WatchParams::default().timeout(5), &rv).await.unwrap().boxed();
    let mut seen = Vec::new();
    while let Some(event) = events.try_next().await.unwrap() {
        match event {
            kube::api::WatchEvent::Added(o) => seen.push(format!("ADDED {}", o.metadata.name.unwrap())),
            kube::api::WatchEvent::Deleted(o) => seen.push(format!("DELETED {}", o.metadata.name.unwrap())),
            _ => {}
        }
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen, vec!["ADDED after", "DELETED before"]);
}

/// Router objects as modelroll and its tests write them: (name, YAML, the field a real API
/// server names when it refuses the object, or None when it accepts it).
const ROUTER_FIXTURES: &[(&str, &str, Option<&str>)] = &[
    (
        "virtualservice",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fraud}
spec:
  hosts: [fraud]
  http:
  - name: primary
    route:
    - destination: {host: fraud, subset: stable}
      weight: 90
    - destination: {host: fraud, subset: canary}
      weight: 10
",
        None,
    ),
    (
        "virtualservice-weight-not-integer",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fraud-bad-weight}
spec:
  hosts: [fraud]
  http:
  - route:
    - destination: {host: fraud, subset: stable}
      weight: ninety
",
        Some("spec.http[0].route[0].weight"),
    ),
    (
        "virtualservice-destination-without-host",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fraud-no-host}
spec:
  hosts: [fraud]
  http:
  - route:
    - destination: {subset: stable}
",
        Some("spec.http[0].route[0].destination.host"),
    ),
    (
        "destinationrule",
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: fraud}
spec:
  host: fraud
  subsets:
  - name: stable
    labels: {modelroll.io/track: stable}
  - name: canary
    labels: {modelroll.io/track: canary}
",
        None,
    ),
    (
        "destinationrule-without-host",
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: fraud-no-host}
spec:
  subsets: [{name: stable, labels: {modelroll.io/track: stable}}]
",
        Some("spec.host"),
    ),
    (
        "httproute",
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: fraud}
spec:
  parentRefs: [{name: gateway}]
  hostnames: [fraud.example.com]
  rules:
  - backendRefs:
    - {name: fraud-stable, port: 80, weight: 90}
    - {name: fraud-canary, port: 80, weight: 10}
",
        None,
    ),
    (
        "httproute-negative-weight",
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: fraud-negative}
spec:
  parentRefs: [{name: gateway}]
  rules:
  - backendRefs:
    - {name: fraud-stable, port: 80, weight: -1}
",
        Some("spec.rules[0].backendRefs[0].weight"),
    ),
    (
        "httproute-backend-without-name",
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: fraud-unnamed}
spec:
  parentRefs: [{name: gateway}]
  rules:
  - backendRefs:
    - {port: 80, weight: 1}
",
        Some("spec.rules[0].backendRefs[0].name"),
    ),
    (
        "httproute-port-out-of-range",
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: fraud-port}
spec:
  parentRefs: [{name: gateway}]
  rules:
  - backendRefs:
    - {name: fraud-stable, port: 70000}
",
        Some("spec.rules[0].backendRefs[0].port"),
    ),
    (
        "knative-service",
        "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: fraud}
spec:
  template:
    metadata: {name: fraud-v1}
    spec:
      containers: [{image: registry.example/fraud:v1}]
  traffic:
  - {revisionName: fraud-v1, percent: 100}
",
        None,
    ),
    (
        "knative-service-percent-not-integer",
        "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: fraud-percent}
spec:
  template:
    spec:
      containers: [{image: registry.example/fraud:v1}]
  traffic:
  - {latestRevision: true, percent: all}
",
        Some("spec.traffic[0].percent"),
    ),
    (
        "knative-service-without-containers",
        "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: fraud-empty}
spec:
  template:
    spec: {}
",
        Some("spec.template.spec.containers"),
    ),
];

fn resource_of(object: &serde_json::Value, store: &common::Store) -> modelroll::playground::ResourceRef {
    store
        .resource_for_kind(object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap())
        .unwrap_or_else(|| panic!("no resource serves {} {}", object["apiVersion"], object["kind"]))
}

/// What a store answers to a fixture: Ok, or the fields named by the 422.
fn verdict(store: &common::Store, yaml: &str) -> Result<(), Vec<String>> {
    let mut object: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
    object["metadata"]["namespace"] = json!("default");
    let resource = resource_of(&object, store);
    match store.create(&resource, object) {
        Ok(_) => Ok(()),
        Err(err) => {
            assert_eq!(err.code, 422, "{}", err.message);
            Err(err.details.unwrap()["causes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["field"].as_str().unwrap().to_string())
                .collect())
        }
    }
}

#[test]
fn compact_crds_accept_and_refuse_fixtures_as_the_real_crds_do() {
    let real = Playground::start_with(Options { real_crds: true, ..no_controllers() });
    let compact =
        Playground::start_with(Options { with: vec!["istio", "gateway-api", "knative"], ..no_controllers() });
    for (name, yaml, refused_field) in ROUTER_FIXTURES {
        let by_real = verdict(real.store(), yaml);
        let by_compact = verdict(compact.store(), yaml);
        assert_eq!(by_real, by_compact, "{name}: real CRDs and compact CRDs disagree");
        match refused_field {
            None => assert_eq!(by_real, Ok(()), "{name}"),
            Some(field) => assert!(
                by_real.as_ref().is_err_and(|fields| fields.iter().any(|f| f == field)),
                "{name}: expected {field} to be named, got {by_real:?}"
            ),
        }
    }
}

#[test]
fn kubectl_applies_the_real_crds_then_validates_router_objects() {
    let pg = Playground::start_with(no_controllers());
    let crds = common::shared_crds_dir();
    let out = pg.kubectl(&["apply", "--server-side", "-f", crds.to_str().unwrap(), "--recursive"]);
    assert!(
        out.success().stdout.contains("virtualservices.networking.istio.io serverside-applied"),
        "{}",
        out.stdout
    );
    pg.kubectl(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=10s"]).success();
    let resources = pg.kubectl(&["api-resources", "-o", "name"]);
    for name in [
        "virtualservices.networking.istio.io",
        "httproutes.gateway.networking.k8s.io",
        "services.serving.knative.dev",
    ] {
        assert!(resources.success().stdout.lines().any(|l| l == name), "{name} missing from discovery");
    }
    for (name, yaml, refused_field) in ROUTER_FIXTURES {
        let out = pg.kubectl_with_input(&["apply", "-f", "-"], Some(yaml));
        match refused_field {
            None => {
                out.success();
            }
            Some(field) => {
                assert_eq!(out.code, 1, "{name} was accepted: {}", out.stdout);
                assert!(
                    out.stderr.contains(&format!("{field}: ")),
                    "{name}: {field} not named in {}",
                    out.stderr
                );
            }
        }
    }
    let out = pg.kubectl(&["get", "virtualservices,httproutes,ksvc", "-o", "name"]);
    assert_eq!(
        out.success().stdout,
        "virtualservice.networking.istio.io/fraud\nhttproute.gateway.networking.k8s.io/fraud\nservice.serving.knative.dev/fraud\n"
    );
    // Deleting a CRD removes its objects and its discovery entry.
    pg.kubectl(&["delete", "crd", "virtualservices.networking.istio.io"]).success();
    let out = pg.kubectl(&["get", "virtualservices"]);
    assert_eq!(out.code, 1);
}

fn configmap(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

#[tokio::test]
async fn lists_page_select_and_delete_collections() {
    let pg = Playground::start_with(no_controllers());
    let client = pg.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..5 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        configmaps
            .create(&PostParams::default(), &configmap(&format!("c{i}"), json!({"tier": tier})))
            .await
            .unwrap();
    }
    // limit/continue: three pages of 2, 2 and 1, the same list resourceVersion throughout.
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(2);
    let mut pages = 0;
    let mut list_rv = None;
    loop {
        let page = configmaps.list(&params).await.unwrap();
        pages += 1;
        list_rv.get_or_insert(page.metadata.resource_version.clone());
        assert_eq!(list_rv.as_ref().unwrap(), &page.metadata.resource_version);
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!((pages, names.join(",")), (3, "c0,c1,c2,c3,c4".to_string()));
    let odd = configmaps.list(&ListParams::default().labels("tier=odd")).await.unwrap();
    assert_eq!(odd.items.len(), 2);
    let one = configmaps.list(&ListParams::default().fields("metadata.name=c3")).await.unwrap();
    assert_eq!(one.items.len(), 1);
    let err = configmaps.list(&ListParams::default().fields("spec.nodeName=x")).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 400 && s.message.contains("field label not supported: spec.nodeName")),
        "{err}"
    );
    configmaps
        .delete_collection(&DeleteParams::default(), &ListParams::default().labels("tier=even"))
        .await
        .unwrap();
    let left: Vec<String> = configmaps
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert_eq!(left, vec!["c1", "c3"]);
    // A dry-run delete deletes nothing.
    configmaps.delete("c1", &DeleteParams { dry_run: true, ..Default::default() }).await.unwrap();
    assert!(configmaps.get_opt("c1").await.unwrap().is_some());
}

#[tokio::test]
async fn scale_subresource_and_deletion_propagation() {
    let pg = Playground::start_with(no_controllers());
    let client = pg.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let applied: Deployment = serde_yaml::from_str(DEPLOYMENT).unwrap();
    deployments.create(&PostParams::default(), &applied).await.unwrap();
    let scale = deployments.get_scale("fraud").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=fraud"));
    deployments
        .patch_scale("fraud", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 7}})))
        .await
        .unwrap();
    assert_eq!(deployments.get("fraud").await.unwrap().spec.unwrap().replicas, Some(7));
    // Foreground deletion leaves the object with the finalizer the garbage collector acts on.
    deployments.delete("fraud", &DeleteParams::foreground()).await.unwrap();
    let deleting = deployments.get("fraud").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(deleting.metadata.finalizers, Some(vec!["foregroundDeletion".to_string()]));
    // Updates that add finalizers to an object being deleted are refused.
    let err = deployments
        .patch(
            "fraud",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["foregroundDeletion", "x.io/y"]}})),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 422), "{err}");
    // Removing the last finalizer completes the deletion.
    deployments
        .patch("fraud", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .unwrap();
    assert!(deployments.get_opt("fraud").await.unwrap().is_none());
}

#[tokio::test]
async fn watches_send_bookmarks_and_end_at_their_timeout() {
    use futures::TryStreamExt;
    let pg = Playground::start_with(no_controllers());
    let client = pg.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = configmaps.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    configmaps.create(&PostParams::default(), &configmap("a", json!({}))).await.unwrap();
    let mut params = kube::api::WatchParams::default().timeout(4);
    params.bookmarks = true;
    let events: Vec<_> = configmaps.watch(&params, &rv).await.unwrap().try_collect().await.unwrap();
    assert!(matches!(events.first(), Some(kube::api::WatchEvent::Added(_))), "{events:?}");
    let bookmark = events.iter().find_map(|e| match e {
        kube::api::WatchEvent::Bookmark(b) => Some(b.metadata.resource_version.clone()),
        _ => None,
    });
    assert_eq!(bookmark, Some(pg.store().resource_version().to_string()), "{events:?}");
}

async fn recv_within(seen: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(20), seen.recv()).await.ok().flatten()
}

#[tokio::test]
async fn faults_are_survivable_and_requests_are_counted() {
    let pg = Playground::start_with(Options { faults: Some("429=0.3,watch-close=1s"), ..no_controllers() });
    // kubectl retries 429 answers (they carry Retry-After).
    for i in 0..3 {
        pg.kubectl(&["create", "configmap", &format!("c{i}")]).success();
    }
    let counts = pg.requests();
    let kubectl: u64 = counts.iter().filter(|(agent, _)| agent.starts_with("kubectl")).map(|(_, n)| n).sum();
    assert!(kubectl >= 3, "{counts:?}");
    // The same counts are served at /playground/requests.
    let client = pg.client().await;
    let body = client
        .request_text(http::Request::get("/playground/requests").body(Vec::new()).unwrap())
        .await
        .unwrap();
    let served: BTreeMap<String, u64> = serde_json::from_str(&body).unwrap();
    assert!(served.keys().any(|agent| agent.starts_with("kubectl")), "{served:?}");
    // A watch closed by the server after 1s is resumed by kube's watcher, which sees later changes.
    use futures::StreamExt;
    use kube::runtime::WatchStreamExt;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut stream = kube::runtime::watcher(configmaps, kube::runtime::watcher::Config::default())
        .default_backoff()
        .boxed();
    let (names, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let consumer = tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            let name = match event {
                Ok(kube::runtime::watcher::Event::InitDone) => "<init done>".to_string(),
                Ok(kube::runtime::watcher::Event::Apply(cm)) => cm.metadata.name.unwrap_or_default(),
                _ => continue,
            };
            if names.send(name).is_err() {
                break;
            }
        }
    });
    while recv_within(&mut seen).await.expect("the watcher lists") != "<init done>" {}
    let kube_requests =
        || pg.requests().iter().filter(|(a, _)| !a.starts_with("kubectl")).map(|(_, n)| *n).sum::<u64>();
    let before = kube_requests();
    common::wait_for_async(
        Duration::from_secs(20),
        "the watcher to watch again after the server closed it",
        || {
            let now = kube_requests();
            async move { now > before }
        },
    )
    .await;
    pg.store()
        .create(&common::resources::CONFIGMAPS, json!({"metadata": {"name": "late", "namespace": "default"}}))
        .unwrap();
    loop {
        match recv_within(&mut seen).await {
            Some(name) if name == "late" => break,
            Some(_) => {}
            None => panic!("the watcher never saw the configmap created after its watch was closed"),
        }
    }
    consumer.abort();
}

#[tokio::test]
async fn kube_rs_discovery_and_streaming_lists_work() {
    use futures::StreamExt;
    use kube::runtime::WatchStreamExt;
    let pg = Playground::start_with(Options { with: vec!["istio"], ..no_controllers() });
    let client = pg.client().await;
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let kinds: Vec<String> = discovery
        .groups()
        .flat_map(|g| g.recommended_resources().into_iter().map(|(r, _)| format!("{}/{}", r.group, r.kind)))
        .collect();
    for want in [
        "/Pod",
        "apps/Deployment",
        "apps/ReplicaSet",
        "discovery.k8s.io/EndpointSlice",
        "networking.istio.io/VirtualService",
    ] {
        assert!(kinds.iter().any(|k| k == want), "{want} not discovered in {kinds:?}");
    }
    // A watcher with streaming lists (sendInitialEvents) gets the existing objects, then changes.
    let store = pg.store().clone();
    store
        .create(
            &common::resources::CONFIGMAPS,
            json!({"metadata": {"name": "old", "namespace": "default", "labels": {"app": "x"}}}),
        )
        .unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    let config = kube::runtime::watcher::Config::default().labels("app=x").streaming_lists();
    let mut stream = kube::runtime::watcher(configmaps, config).default_backoff().boxed();
    let mut seen = Vec::new();
    while !seen.contains(&"init-done".to_string()) {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(kube::runtime::watcher::Event::InitApply(cm)))) => {
                seen.push(cm.metadata.name.unwrap())
            }
            Ok(Some(Ok(kube::runtime::watcher::Event::InitDone))) => seen.push("init-done".into()),
            Ok(Some(_)) => {}
            other => panic!("the streaming list did not complete: {other:?}, saw {seen:?}"),
        }
    }
    assert_eq!(seen, vec!["old", "init-done"]);
    // An object leaving the label selection is reported deleted to this watch.
    store
        .modify(&common::resources::CONFIGMAPS, "default", "old", |c| {
            c["metadata"]["labels"]["app"] = json!("y")
        })
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(kube::runtime::watcher::Event::Delete(cm)))) => {
            assert_eq!(cm.metadata.name.as_deref(), Some("old"))
        }
        other => panic!("expected the relabelled configmap to leave the watch, got {other:?}"),
    }
}

#[tokio::test]
async fn a_watch_from_a_compacted_resource_version_is_gone() {
    let pg = Playground::start_with(no_controllers());
    let client = pg.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = configmaps.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    // More changes than the watch log keeps.
    let store = pg.store();
    for i in 0..modelroll::playground::store::DEFAULT_LOG_CAPACITY + 10 {
        store
            .create(
                &common::resources::CONFIGMAPS,
                json!({"metadata": {"name": format!("c{i}"), "namespace": "default"}}),
            )
            .unwrap();
    }
    use futures::TryStreamExt;
    let events: Vec<_> = configmaps
        .watch(&kube::api::WatchParams::default().timeout(2), &rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    match events.as_slice() {
        [kube::api::WatchEvent::Error(e)] => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert!(e.message.starts_with(&format!("too old resource version: {rv} (")), "{}", e.message);
        }
        other => panic!("expected one 410 ERROR event, got {other:?}"),
    }
}

#[test]
fn the_playground_command_serves_until_interrupted() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("modelroll-playground-cmd-{}", std::process::id()));
    let kubeconfig = dir.join("kubeconfig");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"))
        .args(["playground", "--port", "0", "--nodes", "2", "--gpus-per-node", "8", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("export KUBECONFIG=") {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the playground exited early: {printed}");
        printed.push_str(&line);
    }
    assert!(printed.contains(&format!("export KUBECONFIG={}", kubeconfig.display())), "{printed}");
    assert!(printed.starts_with("playground serving on https://127.0.0.1:"), "{printed}");
    let out = std::process::Command::new(common::kubectl_path())
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[*].status.allocatable.nvidia\\.com/gpu}",
        ])
        .env("KUBECACHEDIR", dir.join("cache"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "8 8", "{}", String::from_utf8_lossy(&out.stderr));
    // Ctrl-C stops it cleanly.
    let pid = child.id().to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("playground stopped"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_playground_flags_are_usage_errors() {
    for (flags, says) in [
        (&["--faults", "429=2"][..], "invalid --faults: fault 429: \"2\" is not a fraction between 0 and 1"),
        (
            &["--with", "linkerd"][..],
            "invalid --with: unknown --with group \"linkerd\"; known groups: istio, gateway-api, knative",
        ),
        (
            &["--ready-after", "soon"][..],
            r#"--ready-after: invalid duration "soon": use a number and a unit such as 30s, 5m, 1h"#,
        ),
        (&["--crds", "/nonexistent/crds"][..], "--crds /nonexistent/crds: no such file or directory"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-modelroll"))
            .arg("playground")
            .args(flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(says), "{flags:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{flags:?}: {stderr}");
    }
}

/// Issue 11, case 11: a percent escape cut short by a multi-byte character made the path
/// decoder slice a string inside a character and panic (with `panic = "abort"`, the whole
/// server died). It is a bad request, as Go's URL parser says, and the server serves on.
#[test]
fn a_cut_short_escape_before_a_multibyte_character_is_a_bad_request() {
    let pg = Playground::start_with(no_controllers());
    for path in ["/api/v1/namespaces/%aé".as_bytes(), b"/api/v1/namespaces/%a%C3%A9", b"/api/v1/namespaces/%"]
    {
        let mut head = b"GET ".to_vec();
        head.extend_from_slice(path);
        head.extend_from_slice(b" HTTP/1.1");
        let status = common::raw_request(&pg, &head);
        assert!(
            status.as_deref().is_some_and(|s| s.starts_with("HTTP/1.1 400")),
            "{} answered {status:?}",
            String::from_utf8_lossy(path)
        );
    }
    let status = common::raw_request(&pg, b"GET /api/v1/namespaces/d%65fault HTTP/1.1");
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
    pg.kubectl(&["get", "namespace", "default"]).success();
}
