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

/// A core/v1 Event about pod `pod` in `default`, as the controllers record one.
fn pod_event(name: &str, pod: &str, reason: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": "default", "uid": "u-1"},
        "reason": reason, "message": format!("{reason} {pod}"), "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2026-12-06T06:00:00Z", "lastTimestamp": "2026-12-06T06:00:00Z", "count": 1,
        "reportingComponent": "kubelet", "reportingInstance": "node-1",
    })
}

fn is_serialized(store: &Store, resource: &ResourceRef, key: (&str, &str)) -> bool {
    let state = store.lock();
    let objects = &state.objects[&(resource.group.to_string(), resource.resource.to_string())];
    matches!(objects[&(key.0.to_string(), key.1.to_string())], Stored::Serialized(_))
}

/// Events are kept as JSON; reads, lists, watch events and writes see exactly the object a
/// parsed copy would give, byte for byte, and conflicts are still detected.
#[test]
fn events_kept_as_json_read_back_byte_identical() {
    let store = Store::new();
    let mut live = store.subscribe();
    let created = store.create(&resources::EVENTS, pod_event("p.1", "p", "Scheduled")).unwrap();
    assert!(is_serialized(&store, &resources::EVENTS, ("default", "p.1")));
    assert!(!is_serialized(&store, &resources::NAMESPACES, ("", "default")));
    let bytes = serde_json::to_vec(&created).unwrap();
    assert_eq!(serde_json::to_vec(&store.get(&resources::EVENTS, "default", "p.1").unwrap()).unwrap(), bytes);
    let listed = store.list(&resources::EVENTS, "default").unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(serde_json::to_vec(&*listed.items[0]).unwrap(), bytes);
    let added = live.try_recv().unwrap();
    assert_eq!(added.event_type, EventType::Added);
    assert_eq!(&added.object_json()[..], &bytes[..]);

    let counted = store.modify(&resources::EVENTS, "default", "p.1", |e| e["count"] = json!(2)).unwrap();
    assert_eq!(counted["count"], 2);
    assert_ne!(counted["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    let modified = live.try_recv().unwrap();
    assert_eq!(modified.event_type, EventType::Modified);
    assert_eq!(modified.previous.as_deref(), Some(&created));
    assert_eq!(*modified.object, counted);
    assert_eq!(&modified.object_json()[..], &serde_json::to_vec(&counted).unwrap()[..]);

    // An update carrying the resourceVersion read before the count went up is stale.
    let mut stale = created.clone();
    stale["message"] = json!("edited");
    assert_eq!(store.update(&resources::EVENTS, stale).unwrap_err().code, 409);
    assert_eq!(store.get(&resources::EVENTS, "default", "p.1").unwrap(), counted);

    store.delete(&resources::EVENTS, "default", "p.1", &DeleteOptions::default()).unwrap();
    let deleted = live.try_recv().unwrap();
    assert_eq!(deleted.event_type, EventType::Deleted);
    assert_eq!(deleted.previous.as_deref(), Some(&counted));
    assert_eq!(store.get(&resources::EVENTS, "default", "p.1").unwrap_err().code, 404);
}

/// A watch resumed from a resourceVersion gets every change after it and nothing before, JSON
/// kept objects included, until the log no longer reaches back: then 410 Gone.
#[test]
fn a_watch_resumed_from_an_old_resource_version_gets_every_later_event() {
    let store = Store::with_log_capacity(16);
    store.create(&resources::EVENTS, pod_event("p.1", "p", "Scheduled")).unwrap();
    let from = store.resource_version();
    let second = store.create(&resources::EVENTS, pod_event("p.2", "p", "Started")).unwrap();
    let counted = store.modify(&resources::EVENTS, "default", "p.1", |e| e["count"] = json!(2)).unwrap();
    let configmap =
        store.create(&CONFIGMAPS, json!({"metadata": {"name": "c", "namespace": "default"}})).unwrap();
    let events = store.events_since(from).unwrap();
    let seen: Vec<(EventType, &str, u64)> =
        events.iter().map(|e| (e.event_type, e.name.as_str(), e.resource_version)).collect();
    let rv = |o: &Value| o["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        seen,
        [
            (EventType::Added, "p.2", rv(&second)),
            (EventType::Modified, "p.1", rv(&counted)),
            (EventType::Added, "c", rv(&configmap)),
        ]
    );
    assert_eq!(*events[0].object, second);
    assert_eq!(*events[1].object, counted);
    assert!(store.events_since(store.resource_version()).unwrap().is_empty());
    for i in 0..20 {
        store.create(&resources::EVENTS, pod_event(&format!("q.{i}"), "q", "Started")).unwrap();
    }
    assert_eq!(store.events_since(from).unwrap_err().code, 410);
    assert_eq!(store.events_since(store.resource_version() - 5).unwrap().len(), 5);
}

/// Events go `--event-ttl` after their last write, each a DELETED watch event of its own; a
/// rewrite (the event recorder's count + 1) gives an Event its full time again; other kinds stay.
#[test]
fn events_expire_an_hour_after_their_last_write() {
    use std::time::Instant;
    let store = Store::new();
    store.create(&CONFIGMAPS, json!({"metadata": {"name": "c", "namespace": "default"}})).unwrap();
    store.create(&resources::EVENTS, pod_event("p.1", "p", "Scheduled")).unwrap();
    store.create(&resources::EVENTS, pod_event("p.2", "p", "Started")).unwrap();
    let written = Instant::now();
    while Instant::now() <= written {}
    store.modify(&resources::EVENTS, "default", "p.2", |e| e["count"] = json!(2)).unwrap();
    assert_eq!(store.expire_events(written, usize::MAX), 0);
    let before = store.resource_version();
    let mut live = store.subscribe();
    assert_eq!(store.expire_events(written + DEFAULT_EVENT_TTL, usize::MAX), 1);
    let deleted = live.try_recv().unwrap();
    assert_eq!((deleted.event_type, deleted.name.as_str()), (EventType::Deleted, "p.1"));
    assert_eq!(deleted.resource_version, before + 1);
    assert_eq!(store.get(&resources::EVENTS, "default", "p.1").unwrap_err().code, 404);
    assert_eq!(store.get(&resources::EVENTS, "default", "p.2").unwrap()["count"], 2);
    assert_eq!(store.expire_events(Instant::now() + DEFAULT_EVENT_TTL, usize::MAX), 1);
    assert!(store.list(&resources::EVENTS, "").unwrap().items.is_empty());
    assert!(store.get(&CONFIGMAPS, "default", "c").is_ok());
    assert_eq!(store.expire_events(Instant::now() + 2 * DEFAULT_EVENT_TTL, usize::MAX), 0);
}

/// A burst of Events come due together is deleted a bounded number at a time, oldest first.
#[test]
fn expired_events_go_at_most_so_many_at_a_time() {
    use std::time::Instant;
    let store = Store::new();
    for i in 0..5 {
        store.create(&resources::EVENTS, pod_event(&format!("p.{i}"), "p", "Scheduled")).unwrap();
    }
    let later = Instant::now() + DEFAULT_EVENT_TTL + std::time::Duration::from_secs(1);
    assert_eq!(store.expire_events(later, 2), 2);
    let left = store.list(&resources::EVENTS, "default").unwrap().items;
    let names: Vec<&str> = left.iter().map(|e| e["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["p.2", "p.3", "p.4"]);
    assert_eq!(store.expire_events(later, 2), 2);
    assert_eq!(store.expire_events(later, 2), 1);
    assert_eq!(store.expire_events(later, 2), 0);
}

/// Pages of a list, JSON-kept Events or parsed objects alike, add up to the whole list in order,
/// each page counting what follows it; a filter is applied before the limit; an Event's kept
/// JSON is byte for byte what serializing its object gives.
#[test]
fn list_pages_add_up_to_the_list() {
    let store = Store::new();
    for i in 0..5 {
        store
            .create(&resources::EVENTS, pod_event(&format!("p.{i}"), "p", ["Scheduled", "Started"][i % 2]))
            .unwrap();
        store
            .create(&CONFIGMAPS, json!({"metadata": {"name": format!("c{i}"), "namespace": "default"}}))
            .unwrap();
    }
    let scheduled = |o: &Value| o["reason"] == "Scheduled";
    for (resource, filter, expected) in [
        (&resources::EVENTS, None, vec!["p.0", "p.1", "p.2", "p.3", "p.4"]),
        (&resources::EVENTS, Some(scheduled), vec!["p.0", "p.2", "p.4"]),
        (&CONFIGMAPS, None, vec!["c0", "c1", "c2", "c3", "c4"]),
    ] {
        let whole = store.list(resource, "default").unwrap().items;
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut keep = filter;
            let keep = keep.as_mut().map(|f| f as &mut dyn FnMut(&Value) -> bool);
            let page = store.list_page(resource, "default", keep, after.as_deref(), 2).unwrap();
            for i in 0..page.len() {
                let object = page.object(i);
                if let Some(json) = page.kept_json(i) {
                    assert_eq!(&json[..], &serde_json::to_vec(&*object).unwrap()[..]);
                }
                if filter.is_none() {
                    assert_eq!(
                        Some(&object),
                        whole.iter().find(|o| o["metadata"]["name"] == object["metadata"]["name"])
                    );
                }
                names.push(object["metadata"]["name"].as_str().unwrap().to_string());
            }
            assert_eq!(page.remaining, expected.len() - names.len(), "{names:?}");
            if page.remaining == 0 {
                break;
            }
            after = page.last_key();
        }
        assert_eq!(names, expected);
    }
    assert_eq!(store.list_page(&resources::EVENTS, "default", None, None, 0).unwrap().len(), 5);
    assert!(store.list_page(&resources::EVENTS, "other", None, None, 0).unwrap().is_empty());
}

#[test]
fn pages_across_namespaces_skip_and_repeat_nothing() {
    // `a-b/…` sorts before `a/…` as text (`-` before `/`) but after it as (namespace, name).
    let store = Store::new();
    let mut expected = Vec::new();
    for namespace in ["a", "a-b", "a0", "b"] {
        store.create(&resources::NAMESPACES, json!({"metadata": {"name": namespace}})).unwrap();
        for i in 0..3 {
            let name = format!("c{i}");
            store.create(&CONFIGMAPS, json!({"metadata": {"name": name, "namespace": namespace}})).unwrap();
            expected.push(format!("{namespace}/{name}"));
        }
    }
    expected.sort_by(|x, y| x.split_once('/').cmp(&y.split_once('/')));
    for limit in [1, 2, 4, 5] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.list_page(&CONFIGMAPS, "", None, after.as_deref(), limit).unwrap();
            for i in 0..page.len() {
                let meta = &page.object(i)["metadata"];
                seen.push(format!(
                    "{}/{}",
                    meta["namespace"].as_str().unwrap(),
                    meta["name"].as_str().unwrap()
                ));
            }
            assert_eq!(page.remaining, expected.len() - seen.len(), "pages of {limit}: {seen:?}");
            if page.remaining == 0 {
                break;
            }
            after = page.last_key();
        }
        assert_eq!(seen, expected, "pages of {limit}");
    }
}
