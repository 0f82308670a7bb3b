use super::*;
use crate::resources::{CONFIGMAPS, DEPLOYMENTS, PODS};

/// A minimal valid Deployment `name` in `default` (shared by the playground's unit tests).
pub(crate) fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "model", "image": "model:v1"}]}}
        }
    })
}

#[test]
fn create_sets_identity_and_defaults() {
    let store = Store::new();
    let d = store.create(&DEPLOYMENTS, deployment("fraud")).unwrap();
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(d["metadata"]["uid"].is_string());
    assert!(d["metadata"]["creationTimestamp"].is_string());
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    let err = store.create(&DEPLOYMENTS, deployment("fraud")).unwrap_err();
    assert_eq!(err.code, 409);
    assert_eq!(err.message, "deployments.apps \"fraud\" already exists");
}

#[test]
fn stale_updates_conflict_and_generation_follows_spec() {
    let store = Store::new();
    let d = store.create(&DEPLOYMENTS, deployment("fraud")).unwrap();
    let mut newer = d.clone();
    newer["spec"]["replicas"] = json!(3);
    let newer = store.update(&DEPLOYMENTS, newer).unwrap();
    assert_eq!(newer["metadata"]["generation"], 2);
    let mut stale = d.clone();
    stale["spec"]["replicas"] = json!(5);
    let err = store.update(&DEPLOYMENTS, stale).unwrap_err();
    assert_eq!(err.code, 409);
    assert!(err.message.starts_with("Operation cannot be fulfilled on deployments.apps \"fraud\""));
    let labelled = store
        .modify(&DEPLOYMENTS, "default", "fraud", |d| d["metadata"]["labels"] = json!({"team": "risk"}))
        .unwrap();
    assert_eq!(labelled["metadata"]["generation"], 2);
    let status = store
        .modify_status(&DEPLOYMENTS, "default", "fraud", |d| d["status"] = json!({"replicas": 3}))
        .unwrap();
    assert_eq!(status["status"]["replicas"], 3);
    assert_eq!(status["metadata"]["generation"], 2);
    // The main endpoint ignores status.
    let ignored = store.modify(&DEPLOYMENTS, "default", "fraud", |d| d["status"] = json!({})).unwrap();
    assert_eq!(ignored["status"]["replicas"], 3);
    assert_eq!(ignored["metadata"]["resourceVersion"], status["metadata"]["resourceVersion"]);
}

#[test]
fn service_updates_keep_the_allocated_cluster_ip() {
    let store = Store::new();
    let service = json!({"metadata": {"name": "s", "namespace": "default"},
                         "spec": {"selector": {"app": "s"}, "ports": [{"port": 80}]}});
    let created = store.create(&resources::SERVICES, service.clone()).unwrap();
    let ip = created["spec"]["clusterIP"].clone();
    assert!(ip.as_str().is_some_and(|ip| ip.starts_with("10.96.")));
    let replaced = store.update(&resources::SERVICES, service).unwrap();
    assert_eq!(replaced["spec"]["clusterIP"], ip);
    assert_eq!(replaced["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
}

#[test]
fn finalizers_hold_deletion() {
    let store = Store::new();
    let mut cm = json!({"metadata": {"name": "c", "namespace": "default", "finalizers": ["x/y"]}});
    cm["data"] = json!({"a": "b"});
    store.create(&CONFIGMAPS, cm).unwrap();
    let deleted = store.delete(&CONFIGMAPS, "default", "c", &DeleteOptions::default()).unwrap();
    assert!(matches!(deleted, Deleted::Pending(_)));
    assert!(deleted.object()["metadata"]["deletionTimestamp"].is_string());
    store.modify(&CONFIGMAPS, "default", "c", |c| c["metadata"]["finalizers"] = json!([])).unwrap();
    assert_eq!(store.get(&CONFIGMAPS, "default", "c").unwrap_err().code, 404);
}

#[test]
fn watch_log_resumes_and_expires() {
    let store = Store::with_log_capacity(16);
    let start = store.resource_version();
    let mut live = store.subscribe();
    for i in 0..5 {
        store
            .create(&CONFIGMAPS, json!({"metadata": {"name": format!("c{i}"), "namespace": "default"}}))
            .unwrap();
    }
    let events = store.events_since(start).unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(live.try_recv().unwrap().name, "c0");
    for i in 5..40 {
        store
            .create(&CONFIGMAPS, json!({"metadata": {"name": format!("c{i}"), "namespace": "default"}}))
            .unwrap();
    }
    assert_eq!(store.events_since(start).unwrap_err().code, 410);
}

#[test]
fn namespaces_must_exist_and_pods_terminate_gracefully() {
    let store = Store::new();
    let pod = json!({"metadata": {"name": "p", "namespace": "ml"},
                     "spec": {"containers": [{"name": "c", "image": "i"}]}});
    assert_eq!(store.create(&PODS, pod.clone()).unwrap_err().message, "namespaces \"ml\" not found");
    store.create(&resources::NAMESPACES, json!({"metadata": {"name": "ml"}})).unwrap();
    let mut pod = store.create(&PODS, pod).unwrap();
    pod["spec"]["nodeName"] = json!("node-1");
    store.update(&PODS, pod).unwrap();
    let deleted = store.delete(&PODS, "ml", "p", &DeleteOptions::default()).unwrap();
    assert!(matches!(deleted, Deleted::Pending(_)));
    assert_eq!(deleted.object()["metadata"]["deletionGracePeriodSeconds"], 30);
    let gone = store
        .delete(&PODS, "ml", "p", &DeleteOptions { grace_period_seconds: Some(0), ..Default::default() })
        .unwrap();
    assert!(matches!(gone, Deleted::Now(_)));
    store.delete(&resources::NAMESPACES, "", "ml", &DeleteOptions::default()).unwrap();
    assert!(store.list(&PODS, "ml").unwrap().items.is_empty());
}
