//! Waits on a Knative Service's rollouts: its new revision ready (with the same fail-fast rules
//! as a Deployment's pods), or, for an abort, the template from before the canary served again.

use kube::api::{ApiResource, DynamicObject};

use super::{interrupted, observe_knative, Step, WaitOptions, WaitOutcome};
use crate::cluster::Cluster;
use crate::error::{Error, ExitCode, Result};
use crate::rollout::pod::PodSummary;
use crate::rollout::progress::{pod_phase, Failure, PodProgress, RolloutProgress};
use crate::rollout::status::knative_min_scale;

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
    pods: &[PodSummary],
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

    // A terminating pod serves nothing (its endpoint is no longer ready), though its Ready
    // condition may still say True: a revision scaled to zero a moment ago is not "ready again"
    // because of the pods it is losing.
    let new_pods: Vec<&PodSummary> = pods
        .iter()
        .filter(|p| latest_created.is_some() && p.label("serving.knative.dev/revision") == latest_created)
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let ready = i32::try_from(new_pods.iter().filter(|p| p.ready()).count()).unwrap_or(0);
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
        .filter(|p| !p.ready())
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
/// names it) to be Ready, handing `on_progress` each progress for the caller to show.
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
    mut on_progress: impl FnMut(&RolloutProgress, jiff::Timestamp),
) -> Result<(WaitOutcome, Option<DynamicObject>)> {
    let what = format!("waiting for the new revision of ksvc {name:?}");
    crate::interruptible(
        &what,
        knative_revision(cluster, name, generation, expected, options, &mut on_progress),
    )
    .await
    .map_err(|e| if e.code == ExitCode::Interrupted { interrupted(options) } else { e })
}

async fn knative_revision(
    cluster: &Cluster,
    name: &str,
    generation: i64,
    expected: Option<&str>,
    options: &WaitOptions,
    on_progress: &mut impl FnMut(&RolloutProgress, jiff::Timestamp),
) -> Result<(WaitOutcome, Option<DynamicObject>)> {
    let deadline = tokio::time::Instant::now() + options.timeout;
    loop {
        let outcome =
            observe_revision(cluster, name, generation, expected, options, on_progress, deadline).await?;
        // The ksvc and its revisions come on two watches: the ksvc may say Ready before the
        // revision's news (the pods its autoscaler wants now) has arrived. "Done" is confirmed on
        // a fresh read of the revision and its pods, else the wait goes on.
        match &outcome {
            (WaitOutcome::Done(_), Some(ksvc))
                if !confirmed(cluster, ksvc, generation, expected, options).await? => {}
            _ => return Ok(outcome),
        }
    }
}

/// Whether a Done seen on the watches holds on a fresh read of the latest revision and its pods.
async fn confirmed(
    cluster: &Cluster,
    ksvc: &DynamicObject,
    generation: i64,
    expected: Option<&str>,
    options: &WaitOptions,
) -> Result<bool> {
    let Some(latest) = ksvc.data.pointer("/status/latestCreatedRevisionName").and_then(|v| v.as_str()) else {
        return Ok(true);
    };
    let revisions: kube::Api<DynamicObject> =
        kube::Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &knative_revision_resource());
    let revision = revisions
        .get_opt(latest)
        .await
        .map_err(|e| cluster.api_error(e, &format!("get revision {latest}")))?;
    let selector = format!("serving.knative.dev/revision={latest}");
    let pods = super::list_summaries(&cluster.client, Some(&cluster.namespace), Some(&selector))
        .await
        .map_err(|e| cluster.api_error(e, &format!("list the pods of revision {latest}")))?;
    let revisions: Vec<DynamicObject> = revision.into_iter().collect();
    let progress =
        knative_progress(ksvc, generation, expected, &revisions, &pods, jiff::Timestamp::now(), options);
    Ok(progress.done())
}

/// One watch of a ksvc until its revision is done, failed or the deadline passes.
async fn observe_revision(
    cluster: &Cluster,
    name: &str,
    generation: i64,
    expected: Option<&str>,
    options: &WaitOptions,
    on_progress: &mut impl FnMut(&RolloutProgress, jiff::Timestamp),
    deadline: tokio::time::Instant,
) -> Result<(WaitOutcome, Option<DynamicObject>)> {
    observe_knative(cluster, name, |ksvc, revisions, pods| {
        let Some(ksvc) = ksvc else {
            return Err(Error::failed(format!(
                "ksvc {name:?} was deleted while waiting for its new revision"
            )));
        };
        let now = jiff::Timestamp::now();
        let progress = knative_progress(ksvc, generation, expected, revisions, pods, now, options);
        on_progress(&progress, now);
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use k8s_openapi::api::core::v1::Pod;
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
        // The pod it is losing from its scale to zero, Ready but terminating, does not count.
        let leaving: PodSummary = serde_json::from_value::<Pod>(json!({
            "metadata": {"name": "s-00001-deployment-x", "labels": {"serving.knative.dev/revision": "s-00001"},
                         "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap()
        .into();
        let p = knative_progress(
            &taken,
            2,
            Some("s-00001"),
            &[waking_again()],
            std::slice::from_ref(&leaving),
            now,
            &options(),
        );
        assert_eq!(p.waiting_for.as_deref(), Some("waiting for the pods of revision s-00001 (0/2 ready)"));
        let mut serving = leaving;
        serving.metadata.deletion_timestamp = None;
        let p = knative_progress(&taken, 2, Some("s-00001"), &[waking_again()], &[serving], now, &options());
        assert_eq!(p.waiting_for.as_deref(), Some("waiting for the pods of revision s-00001 (1/2 ready)"));
    }

    fn waking_again() -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "serving.knative.dev/v1", "kind": "Revision",
            "metadata": {"name": "s-00001"}, "status": {"desiredReplicas": 2, "actualReplicas": 0}
        }))
        .unwrap()
    }
}
