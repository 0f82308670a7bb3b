//! The waits of the canary verbs: a Knative revision becoming ready, the canary's pods through a
//! step's hold, the canary's pods going away. Each watches (never polls) with a deadline, and
//! yields what it saw: the verbs say it and answer Ctrl-C (`cmd/lifecycle.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use tokio::time::Instant;

use super::{label_selector, rewatch_backoff};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::rollout::pod::PodSummary;
use crate::router::knative;

/// Why a pod of a track is failing, if it is: image pull errors, config errors, crash loops.
pub fn pod_problem(pod: &PodSummary) -> Option<String> {
    let name = pod.name();
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() == Some("Failed") {
        return Some(format!("pod {name} failed"));
    }
    for cs in
        status.container_statuses.iter().flatten().chain(status.init_container_statuses.iter().flatten())
    {
        let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.clone());
        match waiting.as_deref() {
            Some("ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "CreateContainerConfigError") => {
                return Some(format!(
                    "pod {name}: container {} is in {}",
                    cs.name,
                    waiting.unwrap_or_default()
                ));
            }
            Some("CrashLoopBackOff") => {
                return Some(format!(
                    "pod {name}: container {} is in CrashLoopBackOff ({} restarts)",
                    cs.name, cs.restart_count
                ));
            }
            _ => {}
        }
        if cs.restart_count >= 3 {
            return Some(format!("pod {name}: container {} restarted {} times", cs.name, cs.restart_count));
        }
    }
    None
}

/// What the canary's pods are selected by while watching them through an interval.
pub enum CanaryPods {
    Deployment(String),
    Revision(String),
}

/// The canary's pods as they were before a step gave it weight: restarts and readiness per pod,
/// so that a restart between the step and the watch still counts.
pub struct CanaryBaseline {
    selector: String,
    pods: BTreeMap<String, (i32, bool)>,
}

/// Read the canary's pods for [`hold`].
///
/// # Errors
/// When the canary or its pods cannot be read.
pub async fn canary_baseline(cluster: &Cluster, pods_of: &CanaryPods) -> Result<CanaryBaseline> {
    let client = cluster.client.clone();
    let ns = cluster.namespace.clone();
    let selector = match pods_of {
        CanaryPods::Deployment(name) => {
            let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
            let d = deployments
                .get(name)
                .await
                .map_err(|e| cluster.api_error(e, &format!("get deployment {name}")))?;
            label_selector(&d)?
        }
        CanaryPods::Revision(name) => format!("{}={name}", knative::REVISION_LABEL),
    };
    let pods = super::list_summaries(&client, Some(&ns), Some(&selector))
        .await
        .map_err(|e| cluster.api_error(e, "list the canary's pods"))?
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| (p.name(), (p.restarts(), p.ready())))
        .collect();
    Ok(CanaryBaseline { selector, pods })
}

/// Wait until Knative Revision `name` is Ready, or one of its pods cannot start.
///
/// # Errors
/// Exit 1 when it turns Ready=False, a pod of it fails, or at `deadline`.
pub async fn revision_ready(
    cluster: &Cluster,
    revision_kind: &ApiResource,
    name: &str,
    deadline: Instant,
) -> Result<()> {
    let client = cluster.client.clone();
    let ns = cluster.namespace.clone();
    let revisions: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, revision_kind);
    let mut events =
        watcher::watcher(revisions, watcher::Config::default().fields(&format!("metadata.name={name}")))
            .backoff(rewatch_backoff())
            .boxed();
    let mut pod_events =
        super::watch_summaries(client, &ns, Some(format!("{}={name}", knative::REVISION_LABEL)))
            .backoff(rewatch_backoff())
            .boxed();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                return Err(Error::failed(format!("timed out waiting for revision {name} to be ready; see `kubectl describe revision {name}`")));
            }
            event = events.next() => match event {
                Some(Ok(Event::Apply(r) | Event::InitApply(r))) => {
                    let value = serde_json::to_value(&r).unwrap_or_default();
                    match knative::revision_ready(&value) {
                        Some(Ok(())) => return Ok(()),
                        Some(Err(reason)) => return Err(Error::failed(format!("revision {name} cannot become ready: {reason}"))),
                        None => {}
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => super::check_watch_error(cluster, e, &format!("watch revision {name}"))?,
                None => return Err(Error::failed(format!("the watch of revision {name} ended"))),
            },
            event = pod_events.next() => match event {
                Some(Ok(Event::Apply(p) | Event::InitApply(p))) => {
                    if let Some(problem) = pod_problem(&p) {
                        return Err(Error::failed(format!("revision {name} cannot become ready: {problem}")));
                    }
                }
                Some(Err(e)) => super::check_watch_error(cluster, e, &format!("watch the pods of revision {name}"))?,
                _ => {}
            },
        }
    }
}

/// Watch the canary's pods for `hold`: `Some(reason)` as soon as one crashes, restarts, turns
/// unready or fails to start; `None` when the interval passes quietly. `tick` is called about
/// every second with the time left (a caller may draw it).
///
/// # Errors
/// Exit 1 when the pods cannot be watched.
pub async fn hold(
    cluster: &Cluster,
    baseline: CanaryBaseline,
    hold: Duration,
    mut tick: impl FnMut(Duration),
) -> Result<Option<String>> {
    let mut events =
        super::watch_summaries(cluster.client.clone(), &cluster.namespace, Some(baseline.selector.clone()))
            .backoff(rewatch_backoff())
            .boxed();
    // Per pod: restarts and readiness as first known (a pod may be replaced, never degrade).
    let mut baseline = baseline.pods;
    let end = Instant::now() + hold;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => return Ok(None),
            _ = ticker.tick() => tick(end.saturating_duration_since(Instant::now())),
            event = events.next() => match event {
                Some(Ok(Event::Apply(p) | Event::InitApply(p))) => {
                    if p.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    let name = p.name();
                    if let Some(problem) = pod_problem(&p) {
                        return Ok(Some(problem));
                    }
                    let (restarts_now, ready_now) = (p.restarts(), p.ready());
                    match baseline.get(&name) {
                        Some(&(r, _)) if restarts_now > r => {
                            return Ok(Some(format!("pod {name} restarted ({restarts_now} restarts)")));
                        }
                        Some(&(_, true)) if !ready_now => {
                            return Ok(Some(format!("pod {name} turned unready")));
                        }
                        _ => {}
                    }
                    let entry = baseline.entry(name).or_insert((restarts_now, ready_now));
                    entry.1 |= ready_now;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => super::check_watch_error(cluster, e, "watch the canary's pods")?,
                None => return Err(Error::failed("the watch of the canary's pods ended")),
            },
        }
    }
}

/// Wait until no pod matching `selector` is left.
///
/// # Errors
/// Exit 1 at `deadline`, or when the pods cannot be watched.
pub async fn pods_gone(cluster: &Cluster, selector: &str, deadline: Instant) -> Result<()> {
    let mut events =
        super::watch_summaries(cluster.client.clone(), &cluster.namespace, Some(selector.to_string()))
            .backoff(rewatch_backoff())
            .boxed();
    let mut alive: BTreeMap<String, ()> = BTreeMap::new();
    let mut listed = false;
    loop {
        if listed && alive.is_empty() {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                return Err(Error::failed(format!("timed out waiting for the canary pods ({selector}) to go away")));
            }
            event = events.next() => match event {
                Some(Ok(Event::Init)) => { alive.clear(); listed = false; }
                Some(Ok(Event::InitApply(p) | Event::Apply(p))) => { alive.insert(p.metadata.name.unwrap_or_default(), ()); }
                Some(Ok(Event::Delete(p))) => { alive.remove(&p.metadata.name.unwrap_or_default()); }
                Some(Ok(Event::InitDone)) => listed = true,
                Some(Err(e)) => super::check_watch_error(cluster, e, "watch the canary's pods")?,
                None => return Err(Error::failed("the watch of the canary's pods ended")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    //! Request-level, against a tower-test mock API server (as in `super::super::pods`' tests).
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::json;

    fn forbidden() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": "pods is forbidden: User \"alice\" cannot watch resource \"pods\" in API group \"\" in the namespace \"ml\""
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_hold_whose_pods_cannot_be_watched_stops_naming_what_was_denied() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let cluster = Cluster::of_client(kube::Client::new(service, "ml"), "ml");
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.expect("the list of the canary's pods");
            assert_eq!(request.uri().path(), "/api/v1/namespaces/ml/pods");
            send.send_response(Response::builder().status(403).body(Body::from(forbidden())).unwrap());
        });
        let baseline = CanaryBaseline { selector: "app=fraud,track=canary".into(), pods: BTreeMap::new() };
        // Before, a refused watch was logged and the hold "passed quietly" at its end.
        let held = tokio::time::timeout(
            Duration::from_secs(30),
            hold(&cluster, baseline, Duration::from_secs(20), |_| {}),
        )
        .await
        .expect("the hold stops at once, not at its end");
        let error = held.expect_err("a refused watch fails the hold");
        assert_eq!(error.code, crate::error::ExitCode::Failed);
        assert!(
            error.message.starts_with(r#"forbidden by RBAC: User "alice" cannot watch resource "pods""#),
            "{}",
            error.message
        );
        server.await.unwrap();
    }
}
