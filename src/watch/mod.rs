//! Waits for cluster objects to reach desired states, with deadlines (watch-based, never polling).
//!
//! [`wait_for_deployment_rollout`] watches a Deployment, its ReplicaSets and its pods (label
//! selector of the Deployment) with `kube::runtime::watcher`, re-classifies the rollout on every
//! change (and once a second, so that time-based failures fire), draws it on a
//! [`RolloutDisplay`], and returns the moment it is done, has failed, or the deadline passed.
//! Ctrl-C stops the waiting only (exit 130, via [`crate::interruptible`]); the rollout goes on in
//! the cluster, and the message says how to follow or undo it.
//! [`wait_for_knative_revision`] does the same for a Knative Service's new revision.

pub mod canary;

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use futures::{stream, Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Resource;
use serde::de::DeserializeOwned;

use crate::cluster::Cluster;
use crate::error::{Error, ExitCode, Result};
use crate::rollout::progress::{classify, pod_phase, pod_ready, Failure, PodProgress, RolloutProgress};
use crate::rollout::status::knative_min_scale;
use crate::ui::progress::RolloutDisplay;

/// How long to wait, and for what.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// The whole wait (`--timeout`).
    pub timeout: Duration,
    /// How long a new pod may stay Unschedulable (`--unschedulable-timeout`).
    pub unschedulable_timeout: Duration,
    /// What Ctrl-C tells the user about following or undoing the change, e.g.
    /// "follow it with `kubectl modelroll status fraud --watch` or undo it with …".
    pub on_interrupt: String,
}

/// How a wait ended (Ctrl-C is an `Err` with exit 130).
#[derive(Debug, Clone)]
pub enum WaitOutcome {
    Done(RolloutProgress),
    Failed(Failure, RolloutProgress),
    TimedOut(RolloutProgress),
}

/// Objects of one kind seen by a watcher, in a slice handed to the observer as is (no copy per
/// event), with their places by uid; a re-list replaces them at once.
struct Cache<K> {
    objects: Objects<K>,
    buffer: Option<Objects<K>>,
    ready: bool,
}

/// Objects and where each is, by uid.
struct Objects<K> {
    items: Vec<K>,
    places: HashMap<String, usize>,
}

impl<K: Resource> Objects<K> {
    fn new() -> Self {
        Self { items: Vec::new(), places: HashMap::new() }
    }

    fn key(object: &K) -> String {
        let meta = object.meta();
        meta.uid.clone().or_else(|| meta.name.clone()).unwrap_or_default()
    }

    fn insert(&mut self, object: K) {
        match self.places.get(&Self::key(&object)) {
            Some(&place) => self.items[place] = object,
            None => {
                self.places.insert(Self::key(&object), self.items.len());
                self.items.push(object);
            }
        }
    }

    fn remove(&mut self, object: &K) {
        let Some(place) = self.places.remove(&Self::key(object)) else { return };
        self.items.swap_remove(place);
        if let Some(moved) = self.items.get(place) {
            self.places.insert(Self::key(moved), place);
        }
    }
}

impl<K: Resource> Cache<K> {
    fn new() -> Self {
        Self { objects: Objects::new(), buffer: None, ready: false }
    }

    fn apply(&mut self, event: Event<K>) {
        match event {
            Event::Apply(o) => self.objects.insert(o),
            Event::Delete(o) => self.objects.remove(&o),
            Event::Init => self.buffer = Some(Objects::new()),
            Event::InitApply(o) => self.buffer.get_or_insert_with(Objects::new).insert(o),
            Event::InitDone => {
                self.objects = self.buffer.take().unwrap_or_else(Objects::new);
                self.ready = true;
            }
        }
    }

    fn list(&self) -> &[K] {
        &self.objects.items
    }
}

/// What the observers keep of a pod: what progress and status read (names, labels, owners,
/// times, the node it is bound to, conditions and container states), without its spec, its
/// annotations and managedFields. A rollout of thousands of pods holds a small summary of each.
pub fn pod_summary(pod: &mut Pod) {
    let meta = &mut pod.metadata;
    meta.annotations = None;
    meta.managed_fields = None;
    meta.finalizers = None;
    meta.generate_name = None;
    let node_name = pod.spec.take().and_then(|s| s.node_name);
    pod.spec = Some(k8s_openapi::api::core::v1::PodSpec { node_name, ..Default::default() });
    if let Some(status) = pod.status.as_mut() {
        status.host_ip = None;
        status.host_ips = None;
        status.pod_ip = None;
        status.pod_ips = None;
        status.qos_class = None;
        status.resource_claim_statuses = None;
        status.ephemeral_container_statuses = None;
        for statuses in [&mut status.container_statuses, &mut status.init_container_statuses] {
            for cs in statuses.iter_mut().flatten() {
                cs.allocated_resources = None;
                cs.allocated_resources_status = None;
                cs.resources = None;
                cs.volume_mounts = None;
                cs.user = None;
                cs.container_id = None;
                cs.image = String::new();
            }
        }
    }
}

/// One event of an observer's three watches: the object itself, the objects it owns (ReplicaSets,
/// Revisions), and their pods.
// Clippy sizes `O` and `C` at zero here; in use all three variants hold objects of like size.
#[allow(clippy::large_enum_variant)]
enum Change<O, C> {
    Object(Event<O>),
    Owned(Event<C>),
    Pod(Event<Pod>),
}

/// How soon a watch is re-established after an error (a stream cut mid-way, an API server
/// restarting): the backoff of failed requests ([`crate::retry::backoff`], 100ms doubling to
/// 2s, jittered), back to the start once events flow. kube's default climbs to 30s, too long for a
/// command waiting against its `--timeout`.
pub fn rewatch_backoff() -> RewatchBackoff {
    RewatchBackoff { attempt: 0 }
}

/// See [`rewatch_backoff`].
pub struct RewatchBackoff {
    attempt: u32,
}

impl Iterator for RewatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.attempt = self.attempt.saturating_add(1);
        Some(crate::retry::jittered(crate::retry::backoff(self.attempt, None)))
    }
}

impl kube::runtime::utils::Backoff for RewatchBackoff {
    fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A watcher error: fatal (exit 1, with the sentence) when the API server refuses us, otherwise
/// retried by the watcher's backoff.
fn check_watch_error(cluster: &Cluster, err: watcher::Error, what: &str) -> Result<()> {
    let api = match &err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => match e {
            kube::Error::Api(s) => Some(s.code),
            _ => None,
        },
        watcher::Error::WatchError(s) => Some(s.code),
        watcher::Error::NoResourceVersion => None,
    };
    match api {
        Some(401 | 403 | 404) => {
            let kube_err = match err {
                watcher::Error::InitialListFailed(e)
                | watcher::Error::WatchStartFailed(e)
                | watcher::Error::WatchFailed(e) => e,
                watcher::Error::WatchError(s) => kube::Error::Api(s),
                watcher::Error::NoResourceVersion => return Ok(()),
            };
            let mut error = cluster.api_error(kube_err, what);
            error.code = crate::error::ExitCode::Failed;
            Err(error)
        }
        _ => {
            tracing::debug!("watch of {what} failed, retrying: {err}");
            Ok(())
        }
    }
}

/// The label selector of a Deployment, as a query string.
///
/// # Errors
/// A selector Kubernetes would not have accepted.
pub fn label_selector(deployment: &Deployment) -> Result<String> {
    selector_text(deployment.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default())
}

/// A label selector as a query string, matchExpressions included: the one way selectors
/// become text.
///
/// # Errors
/// A selector Kubernetes would not have accepted.
pub fn selector_text(selector: LabelSelector) -> Result<String> {
    let selector: kube::core::Selector =
        selector.try_into().map_err(|e: kube::core::ParseExpressionError| {
            Error::failed(format!("the deployment's label selector is not valid: {e}"))
        })?;
    Ok(selector.to_string())
}

fn interrupted(options: &WaitOptions) -> Error {
    Error::interrupted(format!(
        "interrupted: stopped waiting, but the change goes on in the cluster; {}",
        options.on_interrupt
    ))
}

/// Wait for the rollout of `deployment` (as returned by the write that started it) to be done.
///
/// # Errors
/// Exit 130 on Ctrl-C; exit 1 when the API server refuses to let us watch, or the Deployment
/// is deleted while we wait. Failure and timeout are outcomes, not errors.
pub async fn wait_for_deployment_rollout(
    cluster: &Cluster,
    deployment: &Deployment,
    options: &WaitOptions,
    display: &mut RolloutDisplay,
) -> Result<WaitOutcome> {
    let what = format!(
        "waiting for the rollout of deployment {:?}",
        deployment.metadata.name.as_deref().unwrap_or_default()
    );
    crate::interruptible(&what, deployment_rollout(cluster, deployment, options, display))
        .await
        .map_err(|e| if e.code == ExitCode::Interrupted { interrupted(options) } else { e })
}

async fn deployment_rollout(
    cluster: &Cluster,
    deployment: &Deployment,
    options: &WaitOptions,
    display: &mut RolloutDisplay,
) -> Result<WaitOutcome> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let deadline = tokio::time::Instant::now() + options.timeout;
    observe_deployment(cluster, deployment, |current, replica_sets, pods| {
        let Some(current) = current else {
            return Err(Error::failed(format!(
                "deployment {name:?} was deleted in namespace {:?} while waiting for its rollout",
                cluster.namespace
            )));
        };
        let now = jiff::Timestamp::now();
        let progress = classify(current, replica_sets, pods, now, options.unschedulable_timeout);
        display.update(&progress, now);
        if let Some(failure) = progress.failure.clone() {
            return Ok(Step::Stop(WaitOutcome::Failed(failure, progress)));
        }
        if progress.done() {
            return Ok(Step::Stop(WaitOutcome::Done(progress)));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Step::Stop(WaitOutcome::TimedOut(progress)));
        }
        Ok(Step::Continue)
    })
    .await
}

/// What an observer callback wants next.
pub enum Step<T> {
    Continue,
    Stop(T),
}

/// One watch of an observer: what it lists, which of them, and what it is called in errors
/// ("watch deployments").
struct Watch<K> {
    api: Api<K>,
    config: watcher::Config,
    what: &'static str,
    /// What is kept of each object (all of it when `None`).
    keep: Option<fn(&mut K)>,
}

/// One watch's events, tagged with their kind, and its errors with what was watched.
type ChangeStream<O, C> = std::pin::Pin<
    Box<dyn Stream<Item = std::result::Result<Change<O, C>, (watcher::Error, &'static str)>> + Send>,
>;

impl<K: Resource + Clone + DeserializeOwned + Debug + Send + 'static> Watch<K> {
    fn changes<O, C>(self, tag: fn(Event<K>) -> Change<O, C>) -> ChangeStream<O, C>
    where
        O: Send + 'static,
        C: Send + 'static,
    {
        let what = self.what;
        let keep = self.keep.unwrap_or(|_| {});
        watcher::watcher(self.api, self.config)
            .modify(keep)
            .backoff(crate::watch::rewatch_backoff())
            .map(move |r| r.map(tag).map_err(|e| (e, what)))
            .boxed()
    }
}

/// Watch a Deployment (by name), its ReplicaSets and its pods (by its label selector), and call
/// `on_change` with all of them (the Deployment `None` once deleted) after every change, once
/// each watch has listed, and once a second (so time-based rules fire without news), until it
/// says stop. Never polls the API: one list then a watch per kind, re-listing only when a watch
/// breaks.
///
/// # Errors
/// The API server refuses the watch (401/403/404), or `on_change` fails.
pub async fn observe_deployment<T>(
    cluster: &Cluster,
    deployment: &Deployment,
    on_change: impl FnMut(Option<&Deployment>, &[ReplicaSet], &[Pod]) -> Result<Step<T>>,
) -> Result<T> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let by_labels = watcher::Config::default().labels(&label_selector(deployment)?);
    let deployments = Watch {
        api: Api::namespaced(cluster.client.clone(), &cluster.namespace),
        config: watcher::Config::default().fields(&format!("metadata.name={name}")),
        what: "watch deployments",
        keep: None,
    };
    let replica_sets = Watch {
        api: Api::namespaced(cluster.client.clone(), &cluster.namespace),
        config: by_labels,
        what: "watch replicasets",
        keep: None,
    };
    observe(cluster, &format!("deployment {name:?}"), deployments, replica_sets, on_change).await
}

/// Watch a Knative Service (by name), its Revisions and its pods (label
/// `serving.knative.dev/service`), calling `on_change` as [`observe_deployment`] does.
///
/// # Errors
/// As [`observe_deployment`].
pub async fn observe_knative<T>(
    cluster: &Cluster,
    name: &str,
    on_change: impl FnMut(Option<&DynamicObject>, &[DynamicObject], &[Pod]) -> Result<Step<T>>,
) -> Result<T> {
    let by_service = watcher::Config::default().labels(&format!("serving.knative.dev/service={name}"));
    let services = Watch {
        api: Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &knative_service_resource()),
        config: watcher::Config::default().fields(&format!("metadata.name={name}")),
        what: "watch knative services",
        keep: None,
    };
    let revisions = Watch {
        api: Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &knative_revision_resource()),
        config: by_service,
        what: "watch knative revisions",
        keep: None,
    };
    observe(cluster, &format!("ksvc {name:?}"), services, revisions, on_change).await
}

/// The loop behind [`observe_deployment`] and [`observe_knative`]: watch `objects`, `owned` and
/// the pods that `owned`'s label selector selects too, keep what they saw, and call `on_change` as
/// they describe. `object` names the watched object in the error when the watches end
/// (`deployment "fraud"`).
async fn observe<O, C, T>(
    cluster: &Cluster,
    object: &str,
    objects: Watch<O>,
    owned: Watch<C>,
    mut on_change: impl FnMut(Option<&O>, &[C], &[Pod]) -> Result<Step<T>>,
) -> Result<T>
where
    O: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    C: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let pods = Watch {
        api: Api::namespaced(cluster.client.clone(), &cluster.namespace),
        config: owned.config.clone(),
        what: "watch pods",
        keep: Some(pod_summary),
    };
    let mut events = stream::select_all(vec![
        objects.changes(Change::Object),
        owned.changes(Change::Owned),
        pods.changes(Change::Pod),
    ]);
    let mut object_cache = Cache::<O>::new();
    let mut owned_cache = Cache::<C>::new();
    let mut pod_cache = Cache::<Pod>::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Change::Object(e))) => object_cache.apply(e),
                Some(Ok(Change::Owned(e))) => owned_cache.apply(e),
                Some(Ok(Change::Pod(e))) => pod_cache.apply(e),
                Some(Err((e, what))) => { check_watch_error(cluster, e, what)?; continue; }
                None => return Err(Error::failed(format!("the watch of {object} ended unexpectedly"))),
            },
            _ = ticker.tick() => {}
        }
        if !(object_cache.ready && owned_cache.ready && pod_cache.ready) {
            continue;
        }
        let current = object_cache.list().first();
        if let Step::Stop(result) = on_change(current, owned_cache.list(), pod_cache.list())? {
            return Ok(result);
        }
    }
}

/// The Knative Service API resource.
pub fn knative_service_resource() -> ApiResource {
    ApiResource {
        group: "serving.knative.dev".into(),
        version: "v1".into(),
        api_version: "serving.knative.dev/v1".into(),
        kind: "Service".into(),
        plural: "services".into(),
    }
}

/// The Knative Revision API resource.
pub fn knative_revision_resource() -> ApiResource {
    ApiResource {
        group: "serving.knative.dev".into(),
        version: "v1".into(),
        api_version: "serving.knative.dev/v1".into(),
        kind: "Revision".into(),
        plural: "revisions".into(),
    }
}

/// Where a Knative Service's rollout of `generation` stands. `expected` is the revision that
/// generation must bring when it is known (a template that names one): until the status says
/// so, the status still describes an earlier template, and nothing in it can fail this rollout.
fn knative_progress(
    ksvc: &DynamicObject,
    generation: i64,
    expected: Option<&str>,
    revisions: &[DynamicObject],
    pods: &[Pod],
    now: jiff::Timestamp,
    options: &WaitOptions,
) -> RolloutProgress {
    let data = &ksvc.data;
    let latest_created = data.pointer("/status/latestCreatedRevisionName").and_then(|v| v.as_str());
    let generation_seen =
        data.pointer("/status/observedGeneration").and_then(|v| v.as_i64()).unwrap_or(0) >= generation;
    let observed = generation_seen && expected.is_none_or(|e| latest_created == Some(e));
    let latest_ready = data.pointer("/status/latestReadyRevisionName").and_then(|v| v.as_str());
    let condition = |type_: &str| {
        data.pointer("/status/conditions")
            .and_then(|c| c.as_array())
            .and_then(|c| c.iter().find(|c| c["type"] == type_))
            .cloned()
    };
    let revision_label =
        |p: &Pod| p.metadata.labels.as_ref().and_then(|l| l.get("serving.knative.dev/revision")).cloned();
    let new_pods: Vec<&Pod> = pods
        .iter()
        .filter(|p| latest_created.is_some() && revision_label(p).as_deref() == latest_created)
        .collect();
    let ready = i32::try_from(new_pods.iter().filter(|p| pod_ready(p)).count()).unwrap_or(0);
    let all_new = i32::try_from(new_pods.len()).unwrap_or(0);
    let mut progress = RolloutProgress {
        desired: all_new.max(1),
        updated: all_new,
        ready,
        available: ready,
        old: i32::try_from(pods.len()).unwrap_or(0) - all_new,
        revision: latest_created.and_then(|n| n.rsplit('-').next()).and_then(|g| g.parse().ok()),
        observed,
        ..Default::default()
    };
    let mut pod_lines: Vec<(Option<jiff::Timestamp>, PodProgress)> = new_pods
        .iter()
        .filter(|p| !pod_ready(p))
        .map(|p| {
            let (phase, since) = pod_phase(p);
            (
                p.metadata.creation_timestamp.as_ref().map(|t| t.0),
                PodProgress { name: p.metadata.name.clone().unwrap_or_default(), phase, since },
            )
        })
        .collect();
    pod_lines.sort_by_key(|(t, p)| (*t, p.name.clone()));
    progress.pods = pod_lines.into_iter().map(|(_, p)| p).collect();
    let config_ready = condition("ConfigurationsReady");
    let failed = config_ready.as_ref().filter(|c| c["status"] == "False");
    // Knative refusing the name the template asks for leaves the latest created revision as it
    // was: that failure is this generation's, though the status never names the expected one.
    // Knative says so only in the condition's message (same reason, RevisionFailed, as a failure
    // of the revision before; the objects are the same as while the status is stale), so the
    // message is read (here and in `wait_knative_serving`).
    let name_refused = failed.filter(|c| {
        expected.is_some_and(|e| {
            c["message"].as_str().is_some_and(|m| m.contains(&format!("{e:?} already exists")))
        })
    });
    if observed || (generation_seen && name_refused.is_some()) {
        if let Some(c) = failed {
            progress.failure = Some(Failure {
                reason: c["reason"].as_str().unwrap_or("RevisionFailed").to_string(),
                pod: None,
                message: c["message"].as_str().unwrap_or("the new revision failed").to_string(),
            });
        }
    }
    if progress.failure.is_none() && observed {
        // The same fail-fast rules as for Deployments, on the new revision's pods.
        for pod in &progress.pods {
            if let Some(f) = crate::rollout::progress::pod_failure_of(pod, now, options.unschedulable_timeout)
            {
                progress.failure = Some(f);
                break;
            }
        }
    }
    let ready_true = condition("Ready").is_some_and(|c| c["status"] == "True");
    progress.waiting_for = if !observed {
        Some(match expected {
            Some(e) => format!("waiting for the new spec to be observed (revision {e})"),
            None => "waiting for the new spec to be observed".into(),
        })
    } else if latest_created.is_none() || latest_created != latest_ready {
        Some(format!("waiting for revision {} to be ready", latest_created.unwrap_or("(not created yet)")))
    } else if !ready_true {
        Some("waiting for the service to be ready".into())
    } else if i64::from(ready) < pods_wanted(latest_created, revisions, all_new) {
        // Knative calls a revision scaled to zero Ready; one served again (a rollback) is done
        // only once it has the pods its autoscaler wants, ready.
        Some(format!(
            "waiting for the pods of revision {} ({ready}/{} ready)",
            latest_created.unwrap_or_default(),
            pods_wanted(latest_created, revisions, all_new)
        ))
    } else {
        None
    };
    progress
}

/// The ready pods revision `name` needs: what its autoscaler wants (`status.desiredReplicas`,
/// which it may not have said yet when Knative already calls a rollback Ready), at least its
/// `autoscaling.knative.dev/min-scale` (known from the start), and at least one when it has pods
/// at all.
fn pods_wanted(name: Option<&str>, revisions: &[DynamicObject], pods: i32) -> i64 {
    let Some(revision) = revisions.iter().find(|r| r.metadata.name.as_deref() == name && name.is_some())
    else {
        return i64::from(pods.min(1));
    };
    let desired = revision.data.pointer("/status/desiredReplicas").and_then(|d| d.as_i64()).unwrap_or(0);
    desired.max(knative_min_scale(revision.metadata.annotations.as_ref())).max(i64::from(pods.min(1)))
}

/// Wait for the revision a Knative Service's `generation` creates (`expected`, when the template
/// names it) to be Ready.
/// Returns the final Service (for its traffic) with the outcome.
///
/// # Errors
/// As [`wait_for_deployment_rollout`].
pub async fn wait_for_knative_revision(
    cluster: &Cluster,
    name: &str,
    generation: i64,
    expected: Option<&str>,
    options: &WaitOptions,
    display: &mut RolloutDisplay,
) -> Result<(WaitOutcome, Option<DynamicObject>)> {
    let what = format!("waiting for the new revision of ksvc {name:?}");
    crate::interruptible(&what, knative_revision(cluster, name, generation, expected, options, display))
        .await
        .map_err(|e| if e.code == ExitCode::Interrupted { interrupted(options) } else { e })
}

async fn knative_revision(
    cluster: &Cluster,
    name: &str,
    generation: i64,
    expected: Option<&str>,
    options: &WaitOptions,
    display: &mut RolloutDisplay,
) -> Result<(WaitOutcome, Option<DynamicObject>)> {
    let deadline = tokio::time::Instant::now() + options.timeout;
    observe_knative(cluster, name, |ksvc, revisions, pods| {
        let Some(ksvc) = ksvc else {
            return Err(Error::failed(format!(
                "ksvc {name:?} was deleted while waiting for its new revision"
            )));
        };
        let now = jiff::Timestamp::now();
        let progress = knative_progress(ksvc, generation, expected, revisions, pods, now, options);
        display.update(&progress, now);
        let stop = |outcome| Ok(Step::Stop((outcome, Some(ksvc.clone()))));
        if let Some(failure) = progress.failure.clone() {
            return stop(WaitOutcome::Failed(failure, progress));
        }
        if progress.done() {
            return stop(WaitOutcome::Done(progress));
        }
        if tokio::time::Instant::now() >= deadline {
            return stop(WaitOutcome::TimedOut(progress));
        }
        Ok(Step::Continue)
    })
    .await
}

/// How long Knative may take to serve the template from before the canary again, when the
/// command gave no deadline (a copy of the revision has to start its pods: as long as a
/// rollout's default `--timeout`).
const SERVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether Knative serves a template.
pub enum Served {
    Yes,
    /// The template's own revision name is held by a revision with another spec.
    NameTaken(String),
}

/// Wait (watching) until ksvc `name` has observed `generation`, and its latest created revision
/// (`expected` when the template names one; not `canary`) is ready and the latest ready one, or
/// `deadline` passes (10 minutes when `None`). For an abort: the messages say so.
///
/// # Errors
/// The ksvc is deleted, its template cannot become ready, or the deadline passes.
pub async fn wait_knative_serving(
    cluster: &Cluster,
    name: &str,
    generation: i64,
    expected: Option<&str>,
    canary: &str,
    deadline: Option<tokio::time::Instant>,
) -> Result<Served> {
    let waiting = observe_knative(cluster, name, |ksvc, _, _| {
        let Some(ksvc) = ksvc else {
            return Err(Error::failed(format!("ksvc {name} was deleted while aborting its canary")));
        };
        let status = &ksvc.data["status"];
        if status["observedGeneration"].as_i64().unwrap_or(0) < generation {
            return Ok(Step::Continue);
        }
        let configurations = status["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "ConfigurationsReady" && c["status"] == "False"));
        let created = status["latestCreatedRevisionName"].as_str();
        let ours = created.is_some_and(|c| c != canary) && expected.is_none_or(|e| created == Some(e));
        if let Some(c) = configurations {
            let message = c["message"].as_str().unwrap_or("ConfigurationsReady is False").to_string();
            if expected.is_some() && message.contains("already exists") {
                return Ok(Step::Stop(Served::NameTaken(message)));
            }
            if ours {
                return Err(Error::failed(format!(
                    "ksvc {name}: the template from before the canary does not become ready: {message}"
                )));
            }
        }
        // ConfigurationsReady=True: the Configuration has caught up with this generation (until
        // then the status may still name the revision of an earlier template).
        let caught_up = status["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "ConfigurationsReady" && c["status"] == "True"));
        let done = ours && caught_up && status["latestReadyRevisionName"].as_str() == created;
        Ok(if done { Step::Stop(Served::Yes) } else { Step::Continue })
    });
    let deadline = deadline.unwrap_or_else(|| tokio::time::Instant::now() + SERVE_TIMEOUT);
    tokio::time::timeout_at(deadline, waiting).await.map_err(|_| {
        Error::failed(format!(
            "ksvc {name} did not serve its template from before the canary in time (--timeout); all traffic stays pinned to the stable revision. Run `kubectl modelroll abort ksvc/{name}` again to carry on"
        ))
    })?
}

/// Wait for a Deployment rollout on a fresh [`RolloutDisplay`] titled `title`, and end the display
/// with a line saying how it went. The one function the commands use to follow a rollout.
///
/// # Errors
/// As [`wait_for_deployment_rollout`].
pub async fn follow_deployment_rollout(
    cluster: &Cluster,
    terminal: crate::ui::Terminal,
    deployment: &Deployment,
    options: &WaitOptions,
    title: &str,
) -> Result<WaitOutcome> {
    let mut display = RolloutDisplay::new(terminal, title);
    let outcome = wait_for_deployment_rollout(cluster, deployment, options, &mut display).await;
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    display.finish(&outcome_line(&format!("deployment/{name}"), &outcome, options));
    outcome
}

/// The last line of a rollout display.
pub fn outcome_line(object: &str, outcome: &Result<WaitOutcome>, options: &WaitOptions) -> String {
    match outcome {
        Ok(WaitOutcome::Done(p)) => {
            let revision = p.revision.map(|r| format!("revision {r}: ")).unwrap_or_default();
            format!(
                "{object}: {revision}all {} replicas updated, ready and available; no old replicas left",
                p.desired
            )
        }
        Ok(WaitOutcome::Failed(f, _)) => format!("{object}: rollout failed: {f}"),
        Ok(WaitOutcome::TimedOut(p)) => format!(
            "{object}: rollout timed out after {}: {}",
            humantime::format_duration(options.timeout),
            p.waiting_for.as_deref().unwrap_or("not done")
        ),
        Err(e) if e.code == ExitCode::Interrupted => format!("{object}: stopped waiting"),
        Err(e) => format!("{object}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ksvc(generation: i64, observed: i64, created: &str, ready: &str, config_ready: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "serving.knative.dev/v1", "kind": "Service",
            "metadata": {"name": "sentiment", "generation": generation},
            "status": {
                "observedGeneration": observed,
                "latestCreatedRevisionName": created,
                "latestReadyRevisionName": ready,
                "conditions": [
                    {"type": "ConfigurationsReady", "status": config_ready, "reason": "RevisionFailed", "message": "boom"},
                    {"type": "Ready", "status": config_ready}
                ]
            }
        }))
        .unwrap()
    }

    fn options() -> WaitOptions {
        WaitOptions {
            timeout: Duration::from_secs(60),
            unschedulable_timeout: Duration::from_secs(120),
            on_interrupt: String::new(),
        }
    }

    #[test]
    fn knative_revision_progress() {
        let now = jiff::Timestamp::now();
        let p =
            knative_progress(&ksvc(2, 1, "s-00001", "s-00001", "True"), 2, None, &[], &[], now, &options());
        assert_eq!(p.waiting_for.as_deref(), Some("waiting for the new spec to be observed"));
        let p = knative_progress(
            &ksvc(2, 2, "s-00002", "s-00001", "Unknown"),
            2,
            None,
            &[],
            &[],
            now,
            &options(),
        );
        assert_eq!(p.waiting_for.as_deref(), Some("waiting for revision s-00002 to be ready"));
        assert_eq!(p.revision, Some(2));
        let p =
            knative_progress(&ksvc(2, 2, "s-00002", "s-00002", "True"), 2, None, &[], &[], now, &options());
        assert!(p.done(), "{p:?}");
        let p =
            knative_progress(&ksvc(2, 2, "s-00002", "s-00001", "False"), 2, None, &[], &[], now, &options());
        let failure = p.failure.unwrap();
        assert_eq!((failure.reason.as_str(), failure.message.as_str()), ("RevisionFailed", "boom"));
        // A rollback to s-00001 just written: the status still tells of the failing s-00002.
        let stale = ksvc(2, 2, "s-00002", "s-00001", "False");
        let p = knative_progress(&stale, 2, Some("s-00001"), &[], &[], now, &options());
        assert!(p.failure.is_none(), "{p:?}");
        assert_eq!(
            p.waiting_for.as_deref(),
            Some("waiting for the new spec to be observed (revision s-00001)")
        );
        let mut refused = ksvc(2, 2, "s-00002", "s-00001", "False");
        refused.data["status"]["conditions"][0]["message"] =
            json!("Revision creation failed with message: revisions.serving.knative.dev \"s-00001\" already exists.");
        let p = knative_progress(&refused, 2, Some("s-00001"), &[], &[], now, &options());
        assert!(p.failure.is_some_and(|f| f.message.contains("already exists")));
        let taken = ksvc(2, 2, "s-00001", "s-00001", "True");
        assert!(knative_progress(&taken, 2, Some("s-00001"), &[], &[], now, &options()).done());
        // Served again after a rollback: Ready, but its autoscaler wants 2 pods and none is up.
        let waking: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "serving.knative.dev/v1", "kind": "Revision",
            "metadata": {"name": "s-00001"}, "status": {"desiredReplicas": 2, "actualReplicas": 0}
        }))
        .unwrap();
        let p = knative_progress(&taken, 2, Some("s-00001"), &[waking], &[], now, &options());
        assert_eq!(p.waiting_for.as_deref(), Some("waiting for the pods of revision s-00001 (0/2 ready)"));
        // Ready before its autoscaler has said anything: its min-scale is wanted already.
        let min_scale: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "serving.knative.dev/v1", "kind": "Revision",
            "metadata": {"name": "s-00001", "annotations": {"autoscaling.knative.dev/min-scale": "3"}},
            "status": {"desiredReplicas": 0}
        }))
        .unwrap();
        let p = knative_progress(&taken, 2, Some("s-00001"), &[min_scale], &[], now, &options());
        assert_eq!(p.waiting_for.as_deref(), Some("waiting for the pods of revision s-00001 (0/3 ready)"));
    }
}
