//! The controllers' event loop: one task applies the store's watch events to the [`Cache`],
//! turns them into work keyed by object (deduplicated; EndpointSlice and Knative work coalesced
//! for a few milliseconds), and runs the reconciles one at a time. Because the store publishes
//! each write before the write returns, draining events before every reconcile keeps the cache
//! exactly current, so no controller acts on a stale view (no expectations needed). Timers
//! (readiness, back-offs, progress deadlines) wake the loop; nothing polls. Which work an event
//! queues is `routing`.

mod routing;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

use self::routing::owners_of;
use super::cache::{Cache, Key};
use super::kubelet::KubeletTiming;
use super::ControllerEvent;
use crate::clock::rfc3339;
use crate::resources::{ResourceRef, EVENTS};
use crate::store::{EventType as StoreEventType, Store, WatchEvent};

/// One unit of work, keyed by the object it is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Work {
    Deployment(Key),
    ReplicaSet(Key),
    Schedule(Key),
    Kubelet(Key),
    Endpoints(Key),
    /// Garbage collection for the object with this uid.
    Gc(String),
    /// A Knative Service (its revisions, deployments and status).
    Knative(Key),
    /// Try the pods that did not fit anywhere again.
    RetryUnschedulable,
}

/// How long Knative work waits to gather more changes to the same Service; EndpointSlices (a
/// whole Service's pods per sync) wait longer. Deployments and ReplicaSets never wait: their
/// status is what a rollout's end is read from, and the real controllers write it at once.
const COALESCE: Duration = Duration::from_millis(20);
const COALESCE_ENDPOINTS: Duration = Duration::from_millis(100);

/// The object an Event is about.
#[derive(Debug, Clone)]
pub struct Involved {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub field_path: Option<String>,
}

impl Involved {
    /// From a stored object's metadata.
    pub fn of(
        api_version: &str,
        kind: &str,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ) -> Self {
        Involved {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            field_path: None,
        }
    }
}

/// Per-pod state of the simulated kubelet.
#[derive(Debug, Clone)]
pub struct KubeletPod {
    pub run: super::kubelet::PodRun,
    pub node: String,
    pub ip_index: u32,
    pub events_until: Option<Timestamp>,
    pub terminating_since: Option<Timestamp>,
}

/// Free pod IPs of one node (`10.244.N.2` … `10.244.N.254`).
#[derive(Debug, Default)]
pub struct IpPool {
    pub next: u32,
    pub free: Vec<u32>,
}

/// The controllers' state and loop.
pub struct Manager {
    pub store: Store,
    pub cache: Cache,
    pub timing: KubeletTiming,
    pub kubelet: HashMap<Key, KubeletPod>,
    pub ip_pools: HashMap<String, IpPool>,
    /// Per unschedulable pod, what decides where it fits (see `retry_unschedulable_pods`).
    pub unschedulable_shapes: HashMap<Key, String>,
    queue: VecDeque<Work>,
    queued: HashSet<Work>,
    coalescing: HashSet<Work>,
    timers: BinaryHeap<Reverse<(Instant, u64, TimerWork)>>,
    timer_seq: u64,
    /// Events already recorded, per involved object uid: (reason, message) → (event name,
    /// namespace, count).
    recorded: HashMap<String, HashMap<(String, String), RecordedEvent>>,
    event_seq: u64,
    /// Per type (group, resource): events at or below this resourceVersion were covered by the
    /// last full list of that type. Per type, because the types are listed one after another while
    /// writes go on: an event of a type listed early may be newer than its list yet older than the
    /// list of a type listed later.
    floors: HashMap<(String, String), u64>,
}

/// An Event already written: its name, namespace and count.
type RecordedEvent = (String, String, i64);

/// A timer's payload (wrapped so `Work` need not be `Ord`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct TimerWork(Work, bool);

impl PartialOrd for TimerWork {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TimerWork {
    fn cmp(&self, _other: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Manager {
    /// A manager over a store.
    pub fn new(store: Store, timing: KubeletTiming) -> Self {
        Manager {
            store,
            cache: Cache::default(),
            timing,
            kubelet: HashMap::new(),
            ip_pools: HashMap::new(),
            unschedulable_shapes: HashMap::new(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
            coalescing: HashSet::new(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            recorded: HashMap::new(),
            event_seq: 0,
            floors: HashMap::new(),
        }
    }

    /// Run until the task is aborted.
    pub async fn run(mut self) {
        let mut events = self.store.subscribe();
        self.resync();
        let mut since_yield = 0u32;
        loop {
            loop {
                match events.try_recv() {
                    Ok(event) => self.on_event(&event),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Lagged(_)) => self.resync(),
                    Err(TryRecvError::Closed) => return,
                }
            }
            self.fire_due_timers();
            if let Some(work) = self.queue.pop_front() {
                self.queued.remove(&work);
                // A bug in one reconcile must not stop every controller.
                let what = work.clone();
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.reconcile(work))).is_err() {
                    tracing::error!("playground controller panicked reconciling {what:?}");
                }
                since_yield += 1;
                if since_yield >= 16 {
                    since_yield = 0;
                    tokio::task::yield_now().await;
                }
                continue;
            }
            let next = self.timers.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                received = events.recv() => match received {
                    Ok(event) => self.on_event(&event),
                    Err(RecvError::Lagged(_)) => self.resync(),
                    Err(RecvError::Closed) => return,
                },
                () = sleep_until(next) => {}
            }
        }
    }

    fn reconcile(&mut self, work: Work) {
        match work {
            Work::Deployment(key) => self.sync_deployment(&key),
            Work::ReplicaSet(key) => self.sync_replica_set(&key),
            Work::Schedule(key) => {
                self.schedule(&key);
            }
            Work::RetryUnschedulable => self.retry_unschedulable_pods(),
            Work::Kubelet(key) => self.sync_kubelet(&key),
            Work::Endpoints(key) => self.sync_endpoints(&key),
            Work::Gc(uid) => self.collect_garbage(&uid),
            Work::Knative(key) => self.sync_knative(&key),
        }
    }

    // ---- queue and timers ----

    /// Queue work now.
    pub fn enqueue(&mut self, work: Work) {
        if self.queued.insert(work.clone()) {
            self.queue.push_back(work);
        }
    }

    /// Queue work after a delay.
    pub fn enqueue_after(&mut self, work: Work, delay: Duration) {
        self.timer_seq += 1;
        self.timers.push(Reverse((Instant::now() + delay, self.timer_seq, TimerWork(work, false))));
    }

    /// Queue work in a moment, once however many changes arrive meanwhile.
    pub fn enqueue_coalesced(&mut self, work: Work) {
        if self.queued.contains(&work) || !self.coalescing.insert(work.clone()) {
            return;
        }
        let delay = if matches!(work, Work::Endpoints(_)) { COALESCE_ENDPOINTS } else { COALESCE };
        self.timer_seq += 1;
        self.timers.push(Reverse((Instant::now() + delay, self.timer_seq, TimerWork(work, true))));
    }

    fn fire_due_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, TimerWork(work, coalesced)))) = self.timers.pop() else { break };
            if coalesced {
                self.coalescing.remove(&work);
            }
            self.enqueue(work);
        }
    }

    // ---- events from the store ----

    /// List everything again (at start, and when the event stream lagged) and queue all work.
    fn resync(&mut self) {
        let mut cache = Cache::default();
        let mut floors = HashMap::new();
        for ty in self.store.types() {
            let resource = ty.preferred();
            // One object at a time: Events, kept as JSON, are parsed only while applied.
            let Ok(list) = self.store.list_page(&resource, "", None, None, 0) else { continue };
            floors.insert((resource.group.to_string(), resource.resource.to_string()), list.resource_version);
            for object in (0..list.len()).map(|i| list.object(i)) {
                let key = (
                    object["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
                    object["metadata"]["name"].as_str().unwrap_or("").to_string(),
                );
                let rv =
                    object["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok()).unwrap_or(0);
                cache.apply(&resource, &key, rv, Some(object));
            }
        }
        self.cache = cache;
        self.floors = floors;
        let mut work = Vec::new();
        work.extend(self.cache.deployments.keys().cloned().map(Work::Deployment));
        work.extend(self.cache.replica_sets.keys().cloned().map(Work::ReplicaSet));
        for (key, cached) in &self.cache.pods {
            let bound =
                cached.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
            work.push(if bound { Work::Kubelet(key.clone()) } else { Work::Schedule(key.clone()) });
        }
        work.extend(self.kubelet.keys().cloned().map(Work::Kubelet));
        work.extend(self.cache.services.keys().cloned().map(Work::Endpoints));
        work.extend(
            self.cache
                .objects
                .values()
                .filter(|o| !o.owners.is_empty() || o.deleting)
                .map(|o| Work::Gc(o.uid.clone())),
        );
        if let Some(services) = self.cache.knative.get("services") {
            work.extend(services.keys().cloned().map(Work::Knative));
        }
        for w in work {
            self.enqueue(w);
        }
    }

    fn on_event(&mut self, event: &WatchEvent) {
        let floor =
            self.floors.get(&(event.group.to_string(), event.resource.to_string())).copied().unwrap_or(0);
        if event.resource_version <= floor {
            return;
        }
        let version = event.object["apiVersion"]
            .as_str()
            .and_then(|v| v.rsplit('/').next())
            .unwrap_or("v1")
            .to_string();
        let resource = ResourceRef::new(event.group.clone(), version, event.resource.clone());
        let key = (event.namespace.clone(), event.name.clone());
        let new = (event.event_type != StoreEventType::Deleted).then(|| event.object.clone());
        let old = event.previous.clone();
        let old_info_owners: Vec<(String, bool)> = match &old {
            Some(o) => owners_of(o),
            None if event.event_type == StoreEventType::Deleted => owners_of(&event.object),
            None => Vec::new(),
        };
        if !self.cache.apply(&resource, &key, event.resource_version, new.clone()) {
            return;
        }
        let old = if event.event_type == StoreEventType::Deleted {
            if let Some(uid) = event.object["metadata"]["uid"].as_str() {
                self.forget_events(uid);
            }
            Some(event.object.clone())
        } else {
            old
        };
        self.queue_work_for(&resource, &key, old.as_deref(), new.as_deref());
        self.queue_garbage_collection(old.as_deref(), new.as_deref(), &old_info_owners);
    }

    /// Queue every pod that could not be scheduled (capacity or nodes changed).
    pub fn retry_unschedulable(&mut self) {
        if !self.cache.unschedulable.is_empty() {
            self.enqueue(Work::RetryUnschedulable);
        }
    }

    // ---- Events (core/v1) ----

    /// Record an Event about an object, as the named component (aggregating repeats as the
    /// event recorder does: same object, reason and message → count + 1).
    pub fn record(
        &mut self,
        involved: &Involved,
        component: &str,
        host: Option<&str>,
        event: &ControllerEvent,
    ) {
        let now = rfc3339(Timestamp::now());
        let namespace =
            if involved.namespace.is_empty() { "default".to_string() } else { involved.namespace.clone() };
        let aggregate_key = (event.reason.clone(), event.message.clone());
        if let Some((name, ns, count)) =
            self.recorded.get(&involved.uid).and_then(|r| r.get(&aggregate_key)).cloned()
        {
            let updated = self.store.modify(&EVENTS, &ns, &name, |e| {
                e["count"] = json!(count + 1);
                e["lastTimestamp"] = json!(now);
            });
            if updated.is_ok() {
                self.recorded
                    .entry(involved.uid.clone())
                    .or_default()
                    .insert(aggregate_key, (name, ns, count + 1));
                return;
            }
        }
        self.event_seq += 1;
        let stamp = Timestamp::now().as_nanosecond() as u64 + self.event_seq;
        let name = format!("{}.{stamp:x}", involved.name);
        let mut involved_object = json!({
            "apiVersion": involved.api_version,
            "kind": involved.kind,
            "name": involved.name,
            "namespace": involved.namespace,
            "uid": involved.uid,
        });
        if let Some(path) = &involved.field_path {
            involved_object["fieldPath"] = json!(path);
        }
        let mut source = json!({"component": component});
        if let Some(host) = host {
            source["host"] = json!(host);
        }
        let object = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved_object,
            "reason": event.reason,
            "message": event.message,
            "type": event.type_.as_str(),
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": host.unwrap_or(""),
        });
        match self.store.create(&EVENTS, object) {
            Ok(_) => {
                self.recorded
                    .entry(involved.uid.clone())
                    .or_default()
                    .insert(aggregate_key, (name, namespace, 1));
            }
            Err(err) => tracing::debug!("cannot record event {}: {}", event.reason, err.message),
        }
    }

    /// Forget the aggregation entries of an object that is gone.
    pub fn forget_events(&mut self, uid: &str) {
        self.recorded.remove(uid);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Convert a timeline instant to a tokio deadline from now.
pub fn delay_until(at: Timestamp) -> Duration {
    Duration::try_from(Timestamp::now().duration_until(at)).unwrap_or_default()
}

/// Share a value for writes.
pub fn to_value<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{DEPLOYMENTS, PODS, REPLICASETS};
    use crate::store::tests::deployment;

    impl Manager {
        /// Apply every published event and run every queued work, as `run` does, until nothing is
        /// left, without firing a timer.
        fn run_queued(&mut self, events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<WatchEvent>>) {
            loop {
                while let Ok(event) = events.try_recv() {
                    self.on_event(&event);
                }
                let Some(work) = self.queue.pop_front() else { return };
                self.queued.remove(&work);
                self.reconcile(work);
            }
        }
    }

    fn ready(pod: &Value) -> bool {
        pod["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    }

    fn count(value: &Value) -> i64 {
        value.as_i64().unwrap_or(0)
    }

    /// Run the manager round by round (a round: every queued work, then the next timer) until
    /// `fraud` is rolled out. After every round, each ReplicaSet's status counts its pods as they
    /// are and the Deployment's status sums its ReplicaSets': nothing above a pod waits for a
    /// timer to catch up with it.
    async fn roll_out_with_statuses_current(
        manager: &mut Manager,
        events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<WatchEvent>>,
    ) {
        let store = manager.store.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            manager.run_queued(events);
            let pods = store.list(&PODS, "default").unwrap().items;
            let replica_sets = store.list(&REPLICASETS, "default").unwrap().items;
            let (mut replicas, mut ready_replicas) = (0, 0);
            for rs in &replica_sets {
                let uid = &rs["metadata"]["uid"];
                let active: Vec<_> = pods
                    .iter()
                    .filter(|p| &p["metadata"]["ownerReferences"][0]["uid"] == uid)
                    .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                    .collect();
                let ready_pods = active.iter().filter(|p| ready(p)).count() as i64;
                let status = &rs["status"];
                assert_eq!(count(&rs["spec"]["replicas"]), active.len() as i64, "scaled, not synced: {rs}");
                assert_eq!(count(&status["replicas"]), active.len() as i64, "status behind its pods: {rs}");
                assert_eq!(count(&status["readyReplicas"]), ready_pods, "status behind its pods: {rs}");
                replicas += active.len() as i64;
                ready_replicas += ready_pods;
            }
            let d = store.get(&DEPLOYMENTS, "default", "fraud").unwrap();
            let status = &d["status"];
            assert_eq!(status["observedGeneration"], d["metadata"]["generation"], "{d}");
            assert_eq!(count(&status["replicas"]), replicas, "Deployment behind its ReplicaSets: {d}");
            assert_eq!(
                count(&status["readyReplicas"]),
                ready_replicas,
                "Deployment behind its ReplicaSets: {d}"
            );
            let want = count(&d["spec"]["replicas"]);
            let rolled_out = [&status["updatedReplicas"], &status["availableReplicas"], &status["replicas"]]
                .iter()
                .all(|n| count(n) == want);
            if rolled_out {
                return;
            }
            assert!(Instant::now() < deadline, "never rolled out: {d}");
            // Wait for the manager's own next timer (the kubelet's readiness), then fire it.
            let next = manager.timers.peek().map(|Reverse((at, _, _))| *at).expect("a timer is pending");
            tokio::time::sleep_until(next).await;
            manager.fire_due_timers();
        }
    }

    /// A real deployment controller syncs a ReplicaSet on its pod's event (and on its own), and
    /// the Deployment on the ReplicaSet's, with no wait: the write that makes a pod Ready is
    /// followed by its ReplicaSet's status and then the Deployment's, a scale-down by the pod's
    /// deletion and both statuses, in the same round of queued work, before any timer fires.
    /// So a rollout is complete in the Deployment's status as soon as its last pod is Ready.
    #[tokio::test]
    async fn replica_set_and_deployment_statuses_follow_their_pods_with_no_timer_in_between() {
        let store = Store::new();
        crate::nodes::create(&store, 1, 0).unwrap();
        let mut manager = Manager::new(store.clone(), KubeletTiming::new(Duration::from_millis(50)));
        let mut events = store.subscribe();
        manager.resync();
        let mut fraud = deployment("fraud");
        fraud["spec"]["replicas"] = json!(2);
        store.create(&DEPLOYMENTS, fraud).unwrap();
        roll_out_with_statuses_current(&mut manager, &mut events).await;
        // A rolling update: new pods, old ones scaled down, one step at a time.
        store
            .modify(&DEPLOYMENTS, "default", "fraud", |d| {
                d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("model:v2");
            })
            .unwrap();
        roll_out_with_statuses_current(&mut manager, &mut events).await;
        let replica_sets = store.list(&REPLICASETS, "default").unwrap().items;
        assert_eq!(replica_sets.len(), 2);
        let old = replica_sets.iter().find(|rs| count(&rs["spec"]["replicas"]) == 0).expect("the old one");
        assert_eq!(old["status"]["replicas"], 0, "{old}");
    }

    /// A resync lists the types one after another while writes go on: a Deployment created after
    /// the Deployments were listed but before the pods were must still reach the cache.
    #[tokio::test]
    async fn an_event_newer_than_its_types_list_is_applied_after_a_resync() {
        let store = Store::new();
        let mut manager = Manager::new(store.clone(), KubeletTiming::new(Duration::from_secs(1)));
        let mut events = store.subscribe();
        store.create(&DEPLOYMENTS, deployment("listed")).unwrap();
        let _ = events.recv().await;
        manager.resync();
        assert!(manager.cache.deployments.contains_key(&("default".into(), "listed".into())));
        store.create(&DEPLOYMENTS, deployment("late")).unwrap();
        let late = events.recv().await.unwrap();
        // As if the pods had been listed after that write.
        manager.floors.insert((String::new(), "pods".into()), late.resource_version + 5);
        manager.on_event(&late);
        assert!(manager.cache.deployments.contains_key(&("default".into(), "late".into())));
        // An event its own type's list already covered is skipped.
        store.create(&DEPLOYMENTS, deployment("covered")).unwrap();
        let covered = events.recv().await.unwrap();
        manager.floors.insert(("apps".into(), "deployments".into()), covered.resource_version);
        manager.on_event(&covered);
        assert!(!manager.cache.deployments.contains_key(&("default".into(), "covered".into())));
    }
}
