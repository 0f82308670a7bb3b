//! `undo`: roll back to an earlier revision as `kubectl rollout undo` does (the pod template of
//! that revision's ReplicaSet, without `pod-template-hash`, and its annotations), then wait with
//! the rollout display. For a ksvc, the template names the earlier Revision so that Knative
//! serves it again.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::cli::{DryRun, UndoArgs};
use crate::cluster::{Cluster, Target};
use crate::cmd::follow::follow_deployment_rollout;
use crate::cmd::objects::{
    deployment_resource, get_deployment, get_knative_service, knative_revisions, namespace_flag,
    refuse_during_canary, replica_sets_of, update_one,
};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::rollout::progress::{revision_of, strip_hash, template_without_hash};
use crate::rollout::revision::{
    knative_revision_number, knative_undo_target, template_images, undo_annotations, undo_change_cause,
    undo_target, CHANGE_CAUSE,
};
use crate::settings::WriteSettings;
use crate::ui::progress::RolloutDisplay;
use crate::ui::{self, Terminal};
use crate::watch::knative_service_resource;
use crate::watch::{wait_for_knative_revision, WaitOptions, WaitOutcome};
use crate::write::Update;

/// Run `undo`.
///
/// # Errors
/// Exit 2 for bad input or an unknown revision (the message lists the revisions); exit 1 when
/// the cluster refuses, or the rollback fails or times out; 130 when interrupted while waiting.
pub async fn run(ctx: &Context, args: UndoArgs) -> Result<()> {
    let target = Target::parse(&args.target)?;
    let settings = args.write.settings()?;
    let to = match args.to_revision {
        Some(n) if n < 0 => {
            return Err(Error::usage(format!(
                "invalid --to-revision {n}: give a revision number from `history`"
            )))
        }
        Some(0) | None => None,
        Some(n) => Some(n),
    };
    let terminal = Terminal::detect(ctx.global.no_color);
    let cluster = ctx.cluster().await?;
    // Requests the cluster could not answer are retried until the command's time is up.
    cluster.retry_within(settings.timeout);
    crate::lock::hold(&cluster, &target, "undo", settings.dry_run).await?;
    let name = match &target {
        Target::Deployment(name) => name.clone(),
        Target::KnativeService(name) => return undo_knative(&cluster, terminal, name, to, &settings).await,
    };
    let (raw, deployment) = get_deployment(&cluster, &name).await?;
    refuse_during_canary(&cluster, &target, &raw, "undo").await?;
    let replica_sets = replica_sets_of(&cluster, &deployment).await?;
    let rs = undo_target(&name, &replica_sets, deployment.metadata.uid.as_deref(), to)?;
    let revision = revision_of(&rs.metadata).unwrap_or_default();
    let template = rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
    let images = template_images(Some(&template));
    let template = template_without_hash(&template);
    let current = deployment.spec.as_ref().map(|s| template_without_hash(&s.template));
    if current.as_ref() == Some(&template) {
        ui::note(
            terminal,
            &format!("deployment/{name}: skipped rollback: the current template already matches revision {revision}"),
        );
        return Ok(());
    }
    let mut rs_annotations = rs.metadata.annotations.clone().unwrap_or_default();
    // As kubectl, the revision's own change-cause comes back with it; one made without any
    // (`kubectl apply`) gets one saying what brought it back, not `<none>`.
    rs_annotations.entry(CHANGE_CAUSE.to_string()).or_insert_with(|| undo_change_cause(revision, &images));
    let written = restore_template(
        &cluster,
        &name,
        &template,
        Annotations::FromReplicaSet(&rs_annotations),
        settings.dry_run,
        Some(raw),
    )
    .await?;
    if settings.dry() {
        ui::print_stdout(&ui::output::dry_run(&[(written.after, false)], settings.output, settings.dry_run)?);
        return Ok(());
    }
    let options = wait_options(&cluster, &name, settings.timeout, std::time::Duration::from_secs(120));
    // The rollout display's title says "rolling back to revision N" (a line of its own off a
    // terminal): no second line saying the same.
    if settings.no_wait {
        ui::print_stdout(&format!("deployment/{name} rolled back to revision {revision} (not waiting)\n"));
        return Ok(());
    }
    let after = crate::cmd::objects::typed(&written.after, &format!("deployment {name:?}"))?;
    let title = format!("deployment/{name}: rolling back to revision {revision}");
    let outcome = follow_deployment_rollout(&cluster, terminal, &after, &options, &title).await?;
    let status = format!("{}{name}", namespace_flag(&cluster));
    rollback_verdict(
        &format!("deployment/{name}"),
        &format!("revision {revision}"),
        &status,
        &settings,
        outcome,
    )
}

/// `undo ksvc/NAME`: a template naming the chosen revision with its spec, so that Knative serves
/// that revision again (it exists: no new revision, no model to load anew when it still has
/// pods), then wait for it as `set-image` does. Traffic that follows the latest revision follows
/// it; traffic pinned to revisions by name would not, so that is refused.
async fn undo_knative(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    to: Option<i64>,
    settings: &WriteSettings,
) -> Result<()> {
    let target = Target::KnativeService(name.to_string());
    let raw = get_knative_service(cluster, name).await?;
    refuse_during_canary(cluster, &target, &raw, "undo").await?;
    let revisions = knative_revisions(cluster, name).await?;
    let serving = raw.pointer("/status/latestReadyRevisionName").and_then(Value::as_str);
    let created = raw.pointer("/status/latestCreatedRevisionName").and_then(Value::as_str);
    let chosen = knative_undo_target(name, &revisions, created, serving, to)?;
    let number = knative_revision_number(chosen).unwrap_or_default();
    let revision = chosen.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let traffic = raw.pointer("/spec/traffic").and_then(Value::as_array).cloned().unwrap_or_default();
    let follows_latest = traffic.is_empty() || traffic.iter().any(|t| t["latestRevision"] == true);
    if !follows_latest {
        return Err(Error::usage(format!(
            "the traffic of ksvc/{name} is pinned to revisions by name (spec.traffic), so rolling back its template would not move it; send it to revision {revision} in spec.traffic instead"
        )));
    }
    let template = crate::router::knative::revision_template(chosen);
    if serving == Some(revision.as_str()) && raw["spec"]["template"] == template {
        ui::note(
            terminal,
            &format!("ksvc/{name}: skipped rollback: it already serves revision {number} ({revision})"),
        );
        return Ok(());
    }
    let cause = chosen.pointer("/metadata/annotations").and_then(|a| a.get(CHANGE_CAUSE)).cloned();
    let written =
        update_one(cluster, &knative_service_resource(), name, settings.dry_run, Some(raw), |before| {
            let mut wanted = before.clone();
            wanted["spec"]["template"] = template.clone();
            if let Some(cause) = &cause {
                if !wanted["metadata"]["annotations"].is_object() {
                    wanted["metadata"]["annotations"] = json!({});
                }
                wanted["metadata"]["annotations"][CHANGE_CAUSE] = cause.clone();
            }
            Ok(wanted)
        })
        .await?;
    if settings.dry() {
        ui::print_stdout(&ui::output::dry_run(&[(written.after, false)], settings.output, settings.dry_run)?);
        return Ok(());
    }
    if settings.no_wait {
        ui::print_stdout(&format!("ksvc/{name} rolled back to revision {number} (not waiting)\n"));
        return Ok(());
    }
    let generation = written.after.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let ns = namespace_flag(cluster);
    let options = WaitOptions {
        timeout: settings.timeout,
        unschedulable_timeout: std::time::Duration::from_secs(120),
        on_interrupt: format!("follow it with `kubectl modelroll status {ns}ksvc/{name} --watch`"),
    };
    let mut display = RolloutDisplay::new(
        terminal,
        &format!("ksvc/{name}: rolling back to revision {number} ({revision})"),
    );
    let outcome =
        match wait_for_knative_revision(cluster, name, generation, Some(&revision), &options, |p, now| {
            display.update(p, now)
        })
        .await
        {
            Ok((outcome, _)) => outcome,
            Err(e) => {
                display.finish(&format!("ksvc/{name}: stopped waiting"));
                return Err(e);
            }
        };
    display.finish(&match &outcome {
        WaitOutcome::Done(_) => format!("ksvc/{name}: revision {revision} is ready"),
        WaitOutcome::Failed(failure, _) => format!("ksvc/{name}: revision {revision} failed: {failure}"),
        WaitOutcome::TimedOut(_) => format!("ksvc/{name}: revision {revision} is not ready yet"),
    });
    let status = format!("{ns}ksvc/{name}");
    rollback_verdict(
        &format!("ksvc/{name}"),
        &format!("revision {number} ({revision})"),
        &status,
        settings,
        outcome,
    )
}

/// How a rollback of `object` (`deployment/fraud`) to `to` (`revision 2`) ended: a line on stdout
/// when done, else the error, naming the `status` target to follow it with.
fn rollback_verdict(
    object: &str,
    to: &str,
    status: &str,
    settings: &WriteSettings,
    outcome: WaitOutcome,
) -> Result<()> {
    match outcome {
        WaitOutcome::Done(_) => {
            ui::print_stdout(&format!("{object} rolled back to {to}\n"));
            Ok(())
        }
        WaitOutcome::Failed(failure, _) => {
            Err(Error::failed(format!("the rollback of {object} to {to} failed: {failure}")))
        }
        WaitOutcome::TimedOut(p) => Err(Error::failed(format!(
            "the rollback of {object} to {to} did not finish within {}: {}; follow it with `kubectl modelroll status {status} --watch`",
            humantime::format_duration(settings.timeout),
            p.waiting_for.unwrap_or_default(),
        ))),
    }
}

/// What to wait for and what Ctrl-C says, for a Deployment `name`.
pub fn wait_options(
    cluster: &Cluster,
    name: &str,
    timeout: std::time::Duration,
    unschedulable_timeout: std::time::Duration,
) -> WaitOptions {
    let ns = namespace_flag(cluster);
    WaitOptions {
        timeout,
        unschedulable_timeout,
        on_interrupt: format!(
            "follow it with `kubectl modelroll status {ns}{name} --watch`, or undo it with `kubectl modelroll undo {ns}{name}`"
        ),
    }
}

/// What a template restore does to the Deployment's annotations.
#[derive(Debug, Clone, Copy)]
pub enum Annotations<'a> {
    /// As `kubectl rollout undo`: the Deployment's own (revision) annotations kept, the others
    /// taken from the ReplicaSet being restored.
    FromReplicaSet(&'a BTreeMap<String, String>),
    /// Only `kubernetes.io/change-cause`, set to this (or removed when `None`).
    ChangeCause(Option<&'a str>),
}

/// Write pod template `template` (raw, without `pod-template-hash`) into Deployment `name`, and
/// edit its annotations as `annotations` says (computed from each object read, so a retry after
/// a conflict never writes back stale controller annotations): one conditional merge patch,
/// retried on conflict.
///
/// # Errors
/// See [`update`].
pub async fn restore_template(
    cluster: &Cluster,
    name: &str,
    template: &Value,
    annotations: Annotations<'_>,
    dry_run: DryRun,
    initial: Option<Value>,
) -> Result<Update> {
    let mut template = template.clone();
    strip_hash(&mut template);
    update_one(cluster, &deployment_resource(), name, dry_run, initial, |before| {
        let mut wanted = before.clone();
        wanted["spec"]["template"] = template.clone();
        let current: BTreeMap<String, String> =
            serde_json::from_value(before["metadata"]["annotations"].clone()).unwrap_or_default();
        let new = match annotations {
            Annotations::FromReplicaSet(rs) => undo_annotations(&current, rs),
            Annotations::ChangeCause(cause) => {
                let mut new = current;
                match cause {
                    Some(cause) => new.insert(CHANGE_CAUSE.to_string(), cause.to_string()),
                    None => new.remove(CHANGE_CAUSE),
                };
                new
            }
        };
        wanted["metadata"]["annotations"] = json!(new);
        Ok(wanted)
    })
    .await
}
