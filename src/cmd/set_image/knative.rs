//! `set-image ksvc/NAME`: a new template makes a new revision; follow it, report its traffic, and
//! with `--rollback-on-failure` serve the revision from before again.

use kube::api::Api;
use serde_json::{json, Value};

use super::{images_title, set_template_images, Settings};
use crate::cluster::{Cluster, Target};
use crate::cmd::model_gate::model_failure;
use crate::cmd::objects::{get_knative_service, namespace_flag, refuse_during_canary, update_one};
use crate::error::{Error, Result};
use crate::rollout::image::{ImageChange, ModelVersion};
use crate::rollout::revision::{change_cause, CHANGE_CAUSE};
use crate::rollout::status::knative_traffic;
use crate::settings::DryRun;
use crate::ui::progress::RolloutDisplay;
use crate::ui::{self, Terminal};
use crate::watch::model::ModelCheck;
use crate::watch::{knative_service_resource, wait_for_knative_revision, WaitOptions, WaitOutcome};

/// `--rollback-on-failure` for a ksvc: a template naming the revision that served before (so that
/// Knative serves it again, nothing rebuilt), or the template from before when that revision is
/// gone; then wait for it. Returns what happened, as the end of the failure's sentence.
///
/// # Errors
/// When the write is refused; Ctrl-C while waiting.
async fn rollback_knative(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    serving_before: Option<&str>,
    previous_template: &Value,
    options: &WaitOptions,
) -> Result<String> {
    let revisions: Api<kube::api::DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &crate::watch::knative_revision_resource(),
    );
    let serving = match serving_before {
        Some(revision) => revisions
            .get_opt(revision)
            .await
            .map_err(|e| cluster.api_error(e, &format!("get revision {revision}")))?
            .map(|r| serde_json::to_value(r).unwrap_or_default()),
        None => None,
    };
    let template =
        serving.as_ref().map_or_else(|| previous_template.clone(), crate::router::knative::revision_template);
    let written = update_one(cluster, &knative_service_resource(), name, DryRun::None, None, |before| {
        let mut wanted = before.clone();
        wanted["spec"]["template"] = template.clone();
        Ok(wanted)
    })
    .await?;
    let back_to = serving_before.filter(|_| serving.is_some()).unwrap_or("the previous template");
    ui::note(terminal, &format!("ksvc/{name}: rolling back to {back_to} (--rollback-on-failure)"));
    let generation = written.after.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let mut display = RolloutDisplay::new(terminal, &format!("ksvc/{name}: rolling back to {back_to}"));
    let expected = serving_before.filter(|_| serving.is_some());
    let outcome = wait_for_knative_revision(cluster, name, generation, expected, options, |p, now| {
        display.update(p, now)
    })
    .await;
    let (line, sentence) = match &outcome {
        Ok((WaitOutcome::Done(_), _)) => (
            format!("ksvc/{name}: {back_to} is ready"),
            format!("rolled back to {back_to}, which is ready and serves again"),
        ),
        Ok((WaitOutcome::Failed(f, _), _)) => (
            format!("ksvc/{name}: the rollback failed: {f}"),
            format!("the rollback to {back_to} failed too: {f}"),
        ),
        Ok((WaitOutcome::TimedOut(_), _)) => (
            format!("ksvc/{name}: the rollback is not done yet"),
            format!("the rollback to {back_to} was written but is not ready yet"),
        ),
        Err(_) => (format!("ksvc/{name}: stopped waiting"), String::new()),
    };
    display.finish(&line);
    outcome?;
    Ok(sentence)
}

/// The ksvc `set-image` writes: the images, the model version label, and (when the spec
/// changes) the change cause on the ksvc and its template, without a pinned revision name.
///
/// # Errors
/// Exit 2 for an unknown container; exit 1 for a ksvc without a pod template.
fn edit_knative(name: &str, before: &Value, settings: &Settings) -> Result<(Value, Vec<ImageChange>)> {
    let mut wanted = before.clone();
    let (changes, version) =
        set_template_images(&mut wanted, &format!("ksvc {name:?}"), "has no spec.template.spec", settings)?;
    if wanted["spec"] != before["spec"] {
        // A revision name pinned in the template would collide with the existing revision.
        if let Some(meta) = wanted["spec"]["template"]["metadata"].as_object_mut() {
            meta.remove("name");
        }
        let cause = change_cause("set-image", &changes, version.as_ref().and_then(ModelVersion::label));
        if !wanted["metadata"]["annotations"].is_object() {
            wanted["metadata"]["annotations"] = json!({});
        }
        wanted["metadata"]["annotations"][CHANGE_CAUSE] = json!(cause);
        // On the template too, so that the new Revision carries it (shown by `history`).
        let template_meta = &mut wanted["spec"]["template"]["metadata"];
        if !template_meta.is_object() {
            *template_meta = json!({});
        }
        if !template_meta["annotations"].is_object() {
            template_meta["annotations"] = json!({});
        }
        template_meta["annotations"][CHANGE_CAUSE] = json!(cause);
    }
    Ok((wanted, changes))
}

/// The traffic of a ksvc as its status says it: `sentiment-00002 100%, sentiment-00001 0% (tag
/// prev)`.
fn traffic_text(ksvc: &kube::api::DynamicObject) -> String {
    let full = serde_json::json!({"status": ksvc.data.get("status").cloned().unwrap_or_default(), "spec": ksvc.data.get("spec").cloned().unwrap_or_default()});
    knative_traffic(&full)
        .iter()
        .map(|(rev, percent, tag)| {
            format!("{rev} {percent}%{}", tag.as_ref().map(|t| format!(" (tag {t})")).unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Follow the new revision of ksvc `name` (its `generation`) on a display titled `title`, and
/// say how it ended. Returns the revision's name, the ksvc's traffic, and why the revision failed
/// (`None` when it is ready).
///
/// # Errors
/// Exit 1 when the ksvc cannot be watched; 130 on Ctrl-C.
async fn follow_revision(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    generation: i64,
    options: &WaitOptions,
    title: &str,
) -> Result<(String, String, Option<String>)> {
    let mut display = RolloutDisplay::new(terminal, title);
    let result =
        wait_for_knative_revision(cluster, name, generation, None, options, |p, now| display.update(p, now))
            .await;
    let (outcome, ksvc) = match result {
        Ok(r) => r,
        Err(e) => {
            display.finish(&format!("ksvc/{name}: stopped waiting"));
            return Err(e);
        }
    };
    let revision = ksvc
        .as_ref()
        .and_then(|k| k.data.pointer("/status/latestCreatedRevisionName"))
        .and_then(Value::as_str)
        .unwrap_or("the new revision")
        .to_string();
    let traffic = ksvc.as_ref().map(traffic_text).unwrap_or_default();
    let wait_failure = match &outcome {
        WaitOutcome::Done(_) => None,
        WaitOutcome::Failed(f, _) => Some(f.to_string()),
        WaitOutcome::TimedOut(p) => Some(format!(
            "not ready within {} ({})",
            humantime::format_duration(options.timeout),
            p.waiting_for.clone().unwrap_or_default()
        )),
    };
    match &wait_failure {
        None => display.finish(&format!("ksvc/{name}: revision {revision} is ready")),
        Some(failure) => display.finish(&format!("ksvc/{name}: revision {revision} failed: {failure}")),
    }
    Ok((revision, traffic, wait_failure))
}

/// `set-image ksvc/NAME`: a new template makes a new revision; wait for it and report traffic.
pub(super) async fn set_knative(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    settings: &Settings,
) -> Result<()> {
    let raw = get_knative_service(cluster, name).await?;
    refuse_during_canary(cluster, &Target::KnativeService(name.to_string()), &raw, "set-image").await?;
    let previous_template = raw["spec"]["template"].clone();
    let serving_before =
        raw.pointer("/status/latestReadyRevisionName").and_then(Value::as_str).map(String::from);
    let edit = |before: &Value| edit_knative(name, before, settings);
    let (_, changes) = edit(&raw)?;
    let written =
        update_one(cluster, &knative_service_resource(), name, settings.write.dry_run, Some(raw), |b| {
            edit(b).map(|(w, _)| w)
        })
        .await?;
    if settings.write.dry() {
        ui::print_stdout(&ui::output::dry_run(
            &[(written.after, false)],
            settings.write.output,
            settings.write.dry_run,
        )?);
        return Ok(());
    }
    if !written.changed {
        ui::note(
            terminal,
            &format!(
                "ksvc/{name} unchanged: it already runs {}; nothing was written",
                images_title(&changes)
            ),
        );
    } else {
        ui::note(terminal, &format!("ksvc/{name}: new revision with {}", images_title(&changes)));
    }
    if settings.write.no_wait {
        ui::print_stdout(&format!("ksvc/{name} {}\n", if written.changed { "updated" } else { "unchanged" }));
        return Ok(());
    }
    let generation = written.after.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let ns = namespace_flag(cluster);
    let options = WaitOptions {
        timeout: settings.write.timeout,
        unschedulable_timeout: settings.unschedulable_timeout,
        on_interrupt: format!("follow it with `kubectl modelroll status {ns}ksvc/{name} --watch`"),
    };
    let title = format!("ksvc/{name}: rolling out {}", images_title(&changes));
    let (revision, traffic, wait_failure) =
        follow_revision(cluster, terminal, name, generation, &options, &title).await?;
    let failure = match wait_failure {
        None => {
            let check = ModelCheck {
                what: format!("revision {revision}"),
                selector: format!("{}={revision}", crate::router::knative::REVISION_LABEL),
                traffic_already: false,
            };
            model_failure(cluster, terminal, settings.model_ready.as_ref(), check).await?
        }
        failed => failed,
    };
    match failure {
        None => {
            ui::print_stdout(&format!(
                "ksvc/{name} rolled out: revision {revision} ready; traffic: {traffic}\n"
            ));
            Ok(())
        }
        Some(failure) => {
            if settings.rollback_on_failure && written.changed {
                // The rollback's requests get a --timeout of their own, as its wait does.
                cluster.retry_within(settings.write.timeout);
                let back = rollback_knative(
                    cluster,
                    terminal,
                    name,
                    serving_before.as_deref(),
                    &previous_template,
                    &options,
                )
                .await?;
                return Err(Error::failed(format!(
                    "revision {revision} of ksvc/{name} failed: {failure}; {back}"
                )));
            }
            Err(Error::failed(format!(
                "revision {revision} of ksvc/{name} failed: {failure}; traffic stays where it was: {traffic}"
            )))
        }
    }
}
