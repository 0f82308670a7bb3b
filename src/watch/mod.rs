//! Waits for cluster objects to reach desired states, with deadlines (watch-based, never polling).
//!
//! [`wait_for_deployment_rollout`] watches a Deployment, its ReplicaSets and its pods (label
//! selector of the Deployment; those in `pods.rs`: one streamed list then a watch from its
//! resourceVersion) with `kube::runtime::watcher`, re-classifies the rollout on every
//! change (and once a second, so that time-based failures fire), hands each [`RolloutProgress`] to
//! its caller (which draws it: the waits here draw nothing), and returns the moment it is done,
//! has failed, or the deadline passed.
//! Ctrl-C stops the waiting only (exit 130, via [`crate::interruptible`]); the rollout goes on in
//! the cluster, and the message says how to follow or undo it.
//! [`wait_for_knative_revision`] does the same for a Knative Service's new revision.

pub mod canary;
mod knative;
pub mod model;
mod pods;

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use futures::{stream, Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Resource;
use serde::de::DeserializeOwned;

pub use pods::{list_summaries, watch_summaries};

pub use knative::{
    knative_revision_resource, knative_service_resource, wait_for_knative_revision, wait_knative_serving,
    Served,
};

use crate::cluster::Cluster;
use crate::error::{Error, ExitCode, Result};
use crate::rollout::pod::PodSummary;
use crate::rollout::progress::{classify, Failure, RolloutProgress};

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

/// Push `item`, growing `items` by a quarter rather than doubling it when it is full: a doubled
/// vector of thousands of pod summaries would be up to half room.
fn push_grown_by_a_quarter<T>(items: &mut Vec<T>, item: T) {
    if items.len() == items.capacity() {
        items.reserve_exact(items.len() / 4 + 16);
    }
    items.push(item);
}

/// What an object is known by in a [`Cache`]: its uid, or its name if it has none.
trait Keyed {
    fn key(&self) -> String;
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.uid.clone().or_else(|| meta.name.clone()).unwrap_or_default()
}

impl<K: Resource> Keyed for K {
    fn key(&self) -> String {
        key_of(self.meta())
    }
}

impl Keyed for PodSummary {
    fn key(&self) -> String {
        key_of(&self.metadata)
    }
}

impl<K: Keyed> Objects<K> {
    fn new() -> Self {
        Self { items: Vec::new(), places: HashMap::new() }
    }

    fn key(object: &K) -> String {
        object.key()
    }

    fn insert(&mut self, object: K) {
        match self.places.get(&Self::key(&object)) {
            Some(&place) => self.items[place] = object,
            None => {
                self.places.insert(Self::key(&object), self.items.len());
                push_grown_by_a_quarter(&mut self.items, object);
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

impl<K: Keyed> Cache<K> {
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

/// One event of an observer's three watches: the object itself, the objects it owns (ReplicaSets,
/// Revisions), and their pods.
// Clippy sizes `O` and `C` at zero here; in use all three variants hold objects of like size.
#[allow(clippy::large_enum_variant)]
enum Change<O, C> {
    Object(Event<O>),
    Owned(Event<C>),
    Pod(Event<PodSummary>),
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
///
/// # Errors
/// 401, 403 or 404: exit 1 naming `what` was refused.
pub fn check_watch_error(cluster: &Cluster, err: watcher::Error, what: &str) -> Result<()> {
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

/// Wait for the rollout of `deployment` (as returned by the write that started it) to be done,
/// handing `on_progress` the rollout as classified after every change and once a second (with
/// the time it was classified at), for the caller to show.
///
/// # Errors
/// Exit 130 on Ctrl-C; exit 1 when the API server refuses to let us watch, or the Deployment
/// is deleted while we wait. Failure and timeout are outcomes, not errors.
pub async fn wait_for_deployment_rollout(
    cluster: &Cluster,
    deployment: &Deployment,
    options: &WaitOptions,
    on_progress: impl FnMut(&RolloutProgress, jiff::Timestamp),
) -> Result<WaitOutcome> {
    let what = format!(
        "waiting for the rollout of deployment {:?}",
        deployment.metadata.name.as_deref().unwrap_or_default()
    );
    crate::interruptible(&what, deployment_rollout(cluster, deployment, options, on_progress))
        .await
        .map_err(|e| if e.code == ExitCode::Interrupted { interrupted(options) } else { e })
}

async fn deployment_rollout(
    cluster: &Cluster,
    deployment: &Deployment,
    options: &WaitOptions,
    mut on_progress: impl FnMut(&RolloutProgress, jiff::Timestamp),
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
        on_progress(&progress, now);
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
        watcher::watcher(self.api, self.config)
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
    on_change: impl FnMut(Option<&Deployment>, &[ReplicaSet], &[PodSummary]) -> Result<Step<T>>,
) -> Result<T> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let by_labels = watcher::Config::default().labels(&label_selector(deployment)?);
    let deployments = Watch {
        api: Api::namespaced(cluster.client.clone(), &cluster.namespace),
        config: watcher::Config::default().fields(&format!("metadata.name={name}")),
        what: "watch deployments",
    };
    let replica_sets = Watch {
        api: Api::namespaced(cluster.client.clone(), &cluster.namespace),
        config: by_labels,
        what: "watch replicasets",
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
    on_change: impl FnMut(Option<&DynamicObject>, &[DynamicObject], &[PodSummary]) -> Result<Step<T>>,
) -> Result<T> {
    let by_service = watcher::Config::default().labels(&format!("serving.knative.dev/service={name}"));
    let services = Watch {
        api: Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &knative_service_resource()),
        config: watcher::Config::default().fields(&format!("metadata.name={name}")),
        what: "watch knative services",
    };
    let revisions = Watch {
        api: Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &knative_revision_resource()),
        config: by_service,
        what: "watch knative revisions",
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
    mut on_change: impl FnMut(Option<&O>, &[C], &[PodSummary]) -> Result<Step<T>>,
) -> Result<T>
where
    O: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    C: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let pods = pods::watch_summaries(
        cluster.client.clone(),
        &cluster.namespace,
        owned.config.label_selector.clone(),
    )
    .backoff(rewatch_backoff())
    .map(|r| r.map(Change::Pod).map_err(|e| (e, "watch pods")))
    .boxed();
    let mut events =
        stream::select_all(vec![objects.changes(Change::Object), owned.changes(Change::Owned), pods]);
    let mut object_cache = Cache::<O>::new();
    let mut owned_cache = Cache::<C>::new();
    let mut pod_cache = Cache::<PodSummary>::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_of_summaries_grows_by_a_quarter_and_a_cache_keeps_each_pod_once() {
        let mut items = Vec::new();
        for i in 0..10_000 {
            push_grown_by_a_quarter(&mut items, i);
            assert!(items.capacity() <= items.len() * 5 / 4 + 16, "{} for {}", items.capacity(), items.len());
        }
        let pod = |name: &str, uid: &str| PodSummary {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.into()),
                uid: Some(uid.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut cache = Cache::new();
        cache.apply(Event::Init);
        cache.apply(Event::InitApply(pod("a", "1")));
        cache.apply(Event::InitApply(pod("b", "2")));
        cache.apply(Event::InitDone);
        cache.apply(Event::Apply(pod("a2", "1")));
        cache.apply(Event::Delete(pod("b", "2")));
        cache.apply(Event::Apply(pod("c", "3")));
        let names: Vec<String> = cache.list().iter().map(PodSummary::name).collect();
        assert_eq!(names, ["a2", "c"]);
    }
}
