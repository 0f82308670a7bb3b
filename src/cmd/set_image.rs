//! `set-image`: rolling update of the model's image(s). Checks every input before touching the
//! cluster, plans the surge against free node resources (GPUs included), writes images, strategy,
//! model-version label and change-cause in one conditional update, then follows the rollout and
//! fails fast (optionally rolling back).

mod knative;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
use kube::api::{Api, ListParams};
use kube::Resource;
use serde_json::{json, Value};

use crate::cli::SetImageArgs;
use crate::cluster::{Cluster, Target};
use crate::cmd::follow::{follow_deployment_rollout, outcome_line};
use crate::cmd::gate::{CheckSettings, Gate};
use crate::cmd::model_gate::model_failure;
use crate::cmd::objects::{
    deployment_resource, get_deployment, namespace_flag, refuse_during_canary, typed, update_one,
};
use crate::cmd::undo::{restore_template, wait_options, Annotations};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::rollout::check::{Analysis, Next, Placeholders};
use crate::rollout::gpu::{self, SurgePlan};
use crate::rollout::image::{apply_images, parse_assignments, ImageAssignment, ImageChange, ModelVersion};
use crate::rollout::model_ready::ModelGate;
use crate::rollout::progress::{classify, revision_of};
use crate::rollout::revision::{change_cause, check_label_value, CHANGE_CAUSE, MODEL_VERSION_LABEL};
use crate::rollout::state::{AnalysisRecord, ROLLOUT_ANNOTATION};
use crate::rollout::strategy::{IntOrPercent, RollingUpdate, NO_SURGE};
use crate::settings::DryRun;
use crate::settings::WriteSettings;
use crate::ui::{self, prompt, Terminal};
use crate::watch::model::{new_pods_selector, ModelCheck};
use crate::watch::{WaitOptions, WaitOutcome};

/// `set-image`'s flags, checked.
struct Settings {
    assignments: Vec<ImageAssignment>,
    max_surge: Option<IntOrPercent>,
    max_unavailable: Option<IntOrPercent>,
    model_version: Option<String>,
    rollback_on_failure: bool,
    unschedulable_timeout: Duration,
    /// `--model-ready`: the rollout is done only when every new pod's model is ready.
    model_ready: Option<ModelGate>,
    write: WriteSettings,
    yes: bool,
    /// `--interval` and the metric checks evaluated at the end of each while the rollout runs.
    interval: Option<Duration>,
    checks: Option<CheckSettings>,
}

/// Run `set-image`.
///
/// # Errors
/// Exit 2 for bad input (nothing is changed); exit 1 when the cluster refuses, the surge cannot
/// be scheduled and no other strategy was accepted, or the rollout fails or times out; 130 when
/// interrupted while waiting.
pub async fn run(ctx: &Context, args: SetImageArgs) -> Result<()> {
    let target = Target::parse(&args.target)?;
    let mut settings = check(&args, ctx.global.yes)?;
    settings.model_ready = crate::cmd::model_gate::gate_of(&args.model, target.name())?;
    if matches!(target, Target::KnativeService(_))
        && (settings.max_surge.is_some() || settings.max_unavailable.is_some())
    {
        return Err(Error::usage(
            "--max-surge and --max-unavailable set a Deployment's RollingUpdate strategy; a Knative Service has none",
        ));
    }
    if matches!(target, Target::KnativeService(_)) && settings.checks.is_some() {
        return Err(Error::usage(
            "--check on set-image judges a Deployment's rolling update; a Knative Service switches revisions at once: use `kubectl modelroll canary ksvc/NAME --weight W --interval DUR --check ...`",
        ));
    }
    let terminal = Terminal::detect(ctx.global.no_color);
    let cluster = ctx.cluster().await?;
    // Requests the cluster could not answer are retried until the command's time is up.
    cluster.retry_within(settings.write.timeout);
    let gate = match (&settings.checks, settings.interval, &target) {
        (Some(checks), Some(interval), Target::Deployment(name))
            if !settings.write.dry() && !settings.write.no_wait =>
        {
            // Old and new pods belong to the same Deployment: both placeholders name it.
            let placeholders = Placeholders {
                namespace: cluster.namespace.clone(),
                name: name.clone(),
                canary: name.clone(),
                stable: name.clone(),
                interval,
            };
            let gate = Gate::new(
                checks,
                &cluster,
                terminal,
                ctx.global.request_timeout.as_deref(),
                placeholders,
                false,
            )?;
            gate.preflight().await?;
            Some((gate, interval))
        }
        _ => None,
    };
    crate::lock::hold(&cluster, &target, "set-image", settings.write.dry_run).await?;
    match target {
        Target::Deployment(name) => set_deployment(&cluster, terminal, &name, &settings, gate).await,
        Target::KnativeService(name) => knative::set_knative(&cluster, terminal, &name, &settings).await,
    }
}

fn check(args: &SetImageArgs, yes: bool) -> Result<Settings> {
    let assignments = parse_assignments(&args.images)?;
    let percent = |flag: &str, value: &Option<String>| -> Result<Option<IntOrPercent>> {
        value
            .as_deref()
            .map(|v| IntOrPercent::parse(v).map_err(|e| Error::usage(format!("invalid {flag}: {e}"))))
            .transpose()
    };
    let max_surge = percent("--max-surge", &args.max_surge)?;
    let max_unavailable = percent("--max-unavailable", &args.max_unavailable)?;
    if let (Some(s), Some(u)) = (max_surge, max_unavailable) {
        RollingUpdate::default()
            .with(Some(s), Some(u))
            .map_err(|e| Error::usage(format!("invalid strategy: {e}")))?;
    }
    if let Some(v) = &args.model_version {
        check_label_value(v).map_err(|e| Error::usage(format!("invalid --model-version {v:?}: {e}")))?;
    }
    let unschedulable_timeout = args.unschedulable_timeout;
    let interval = args.interval;
    let checks = CheckSettings::parse(&args.checks, interval)?;
    Ok(Settings {
        assignments,
        max_surge,
        max_unavailable,
        model_version: args.model_version.clone(),
        rollback_on_failure: args.rollback_on_failure,
        unschedulable_timeout,
        model_ready: None,
        write: args.write.settings()?,
        yes,
        interval,
        checks,
    })
}

/// The model version of a change: `--model-version`, else what the changed images say.
fn model_version(settings: &Settings, changes: &[ImageChange]) -> Option<ModelVersion> {
    let new_images: Vec<&str> = changes.iter().filter(|c| c.from != c.to).map(|c| c.to.as_str()).collect();
    ModelVersion::resolve(settings.model_version.as_deref(), &new_images)
}

/// Write (or for [`ModelVersion::Unknown`], remove) the model-version label of a pod template.
fn set_model_version_label(template: &mut Value, version: &ModelVersion) {
    match version.label() {
        Some(v) => {
            if !template["metadata"].is_object() {
                template["metadata"] = json!({});
            }
            if !template["metadata"]["labels"].is_object() {
                template["metadata"]["labels"] = json!({});
            }
            template["metadata"]["labels"][MODEL_VERSION_LABEL] = json!(v);
        }
        None => {
            if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
                labels.remove(MODEL_VERSION_LABEL);
            }
        }
    }
}

/// Apply images, label and strategy to a raw Deployment; the change-cause only when the spec
/// changes. Pure apart from the error text.
fn edit_deployment(
    name: &str,
    before: &Value,
    settings: &Settings,
    strategy: Option<RollingUpdate>,
) -> Result<(Value, Vec<ImageChange>)> {
    let mut wanted = before.clone();
    let (changes, version) = set_template_images(
        &mut wanted,
        &format!("deployment {name:?}"),
        "has no pod template spec",
        settings,
    )?;
    if let Some(s) = strategy {
        wanted["spec"]["strategy"] = json!({
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": s.max_surge.to_json(), "maxUnavailable": s.max_unavailable.to_json()},
        });
    }
    if wanted["spec"] != before["spec"] {
        let changed: Vec<ImageChange> = changes.iter().filter(|c| c.from != c.to).cloned().collect();
        let shown = if changed.is_empty() { &changes } else { &changed };
        let cause = change_cause("set-image", shown, version.as_ref().and_then(ModelVersion::label));
        if !wanted["metadata"]["annotations"].is_object() {
            wanted["metadata"]["annotations"] = json!({});
        }
        wanted["metadata"]["annotations"][CHANGE_CAUSE] = json!(cause);
    }
    Ok((wanted, changes))
}

/// The images of `--image` assignments and the model-version label, set on `object`'s pod
/// template (a Deployment's or a ksvc's, both at `spec.template`); `what` names the object and
/// `missing` ends the sentence when it has no pod spec.
///
/// # Errors
/// Exit 2 for an unknown container; exit 1 for an object without a pod spec.
fn set_template_images(
    object: &mut Value,
    what: &str,
    missing: &str,
    settings: &Settings,
) -> Result<(Vec<ImageChange>, Option<ModelVersion>)> {
    let pod_spec = object
        .pointer_mut("/spec/template/spec")
        .ok_or_else(|| Error::failed(format!("{what} {missing}")))?;
    let changes = apply_images(pod_spec, &settings.assignments, what)?;
    let version = model_version(settings, &changes);
    if let Some(version) = &version {
        set_model_version_label(&mut object["spec"]["template"], version);
    }
    Ok((changes, version))
}

/// The Deployment's rolling-update strategy as written, and as the flags override it.
///
/// # Errors
/// Exit 1 for a strategy Kubernetes would refuse; exit 2 for flags that do not apply or are bad.
fn strategies(
    name: &str,
    deployment: &Deployment,
    settings: &Settings,
) -> Result<(Option<RollingUpdate>, Option<RollingUpdate>)> {
    let current = RollingUpdate::of_deployment(deployment.spec.as_ref().and_then(|s| s.strategy.as_ref()))
        .map_err(|e| {
            Error::failed(format!("deployment {name:?} has a strategy Kubernetes would refuse: {e}"))
        })?;
    let flags_given = settings.max_surge.is_some() || settings.max_unavailable.is_some();
    let wanted = match current {
        None if flags_given => {
            return Err(Error::usage(format!(
                "deployment {name:?} uses the Recreate strategy; --max-surge and --max-unavailable apply to RollingUpdate"
            )))
        }
        None => None,
        Some(current) => {
            let wanted = current
                .with(settings.max_surge, settings.max_unavailable)
                .map_err(|e| Error::usage(format!("invalid strategy for deployment {name:?}: {e}")))?;
            Some(wanted)
        }
    };
    Ok((current, wanted))
}

async fn set_deployment(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    settings: &Settings,
    mut gate: Option<(Gate, Duration)>,
) -> Result<()> {
    let (raw, deployment) = get_deployment(cluster, name).await?;
    refuse_during_canary(cluster, &Target::Deployment(name.to_string()), &raw, "set-image").await?;
    let previous_revision = revision_of(&deployment.metadata);
    let previous_template = raw["spec"]["template"].clone();
    let previous_cause =
        raw.pointer(&format!("/metadata/annotations/{}", CHANGE_CAUSE.replace('/', "~1"))).cloned();

    let flags_given = settings.max_surge.is_some() || settings.max_unavailable.is_some();
    let (current, mut strategy) = strategies(name, &deployment, settings)?;
    let write_strategy = |s: Option<RollingUpdate>| if flags_given || s != current { s } else { None };

    // Check the edit (unknown containers etc.) and whether anything changes at all.
    let (wanted, changes) = edit_deployment(name, &raw, settings, write_strategy(strategy))?;
    if wanted["spec"] == raw["spec"] {
        return unchanged(cluster, terminal, name, &deployment, &changes, settings).await;
    }

    // GPU-aware surge planning, on the pod template as it will be written.
    let replicas = deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if let (Some(rolling), true) = (strategy, replicas > 0) {
        let template: PodSpec = typed(&wanted["spec"]["template"]["spec"], "the new pod template")?;
        if let Some(fallback) =
            plan_surge(cluster, terminal, name, &template, rolling, replicas, settings.yes).await?
        {
            strategy = Some(fallback);
        }
    }
    let strategy_to_write = write_strategy(strategy);

    let written =
        update_one(cluster, &deployment_resource(), name, settings.write.dry_run, Some(raw), |before| {
            edit_deployment(name, before, settings, strategy_to_write).map(|(w, _)| w)
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
    ui::note(terminal, &format!("deployment/{name}: {}", changes_text(settings, &changes)));
    if settings.write.no_wait {
        ui::print_stdout(&format!(
            "deployment/{name} updated; follow the rollout with `kubectl modelroll status {}{name} --watch`\n",
            namespace_flag(cluster)
        ));
        return Ok(());
    }
    let after: Deployment = typed(&written.after, &format!("deployment {name:?}"))?;
    let options = wait_options(cluster, name, settings.write.timeout, settings.unschedulable_timeout);
    let title = format!("deployment/{name}: rolling out {}", images_title(&changes));
    let follow = follow_deployment_rollout(cluster, terminal, &after, &options, &title);
    let outcome = match gate.as_mut() {
        None => Checked::Rollout(Box::new(follow.await?)),
        Some((gate, interval)) => tokio::select! {
            outcome = follow => Checked::Rollout(Box::new(outcome?)),
            failed = checks_while_rolling(cluster, name, gate, *interval) => Checked::ChecksFailed(failed?),
        },
    };
    let checks_failed = matches!(outcome, Checked::ChecksFailed(_));
    if let Some((gate, _)) = &gate {
        let verdict = match (&outcome, settings.rollback_on_failure) {
            (Checked::Rollout(outcome), _) if matches!(**outcome, WaitOutcome::Done(_)) => "Passed",
            (Checked::ChecksFailed(_), true) => "Failed: rolled back",
            (Checked::ChecksFailed(_), false) => "Failed",
            // The rollout itself failed: the checks have no verdict of their own.
            (Checked::Rollout(_), _) => "",
        };
        record_analysis(cluster, name, &gate.analysis, Some(verdict).filter(|v| !v.is_empty())).await?;
    }
    let Some(failure) = rollout_failure(cluster, terminal, name, settings, outcome).await? else {
        return Ok(());
    };
    let before = Before { revision: previous_revision, template: previous_template, cause: previous_cause };
    roll_back(cluster, terminal, name, settings, &options, before, Failed { failure, checks_failed }).await
}

/// Why a rollout failed (its own failure, the models' or the checks'), or `None` when it is
/// done and its models (with `--model-ready`) ready: then the result line is printed.
///
/// # Errors
/// Exit 1 when the model readiness cannot be checked.
async fn rollout_failure(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    settings: &Settings,
    outcome: Checked,
) -> Result<Option<String>> {
    let outcome = match outcome {
        Checked::Rollout(outcome) => *outcome,
        Checked::ChecksFailed(checks) => return Ok(Some(checks)),
    };
    Ok(Some(match outcome {
        WaitOutcome::Done(p) => {
            let models = match &settings.model_ready {
                Some(_) => {
                    let check = ModelCheck {
                        what: format!("deployment/{name}"),
                        selector: new_pods_selector(cluster, name).await?,
                        traffic_already: false,
                    };
                    model_failure(cluster, terminal, settings.model_ready.as_ref(), check).await?
                }
                None => None,
            };
            match models {
                None => {
                    let revision = p.revision.map(|r| format!(" (revision {r})")).unwrap_or_default();
                    ui::print_stdout(&format!("deployment/{name} rolled out{revision}\n"));
                    return Ok(None);
                }
                Some(failure) => failure,
            }
        }
        WaitOutcome::Failed(f, _) => f.to_string(),
        WaitOutcome::TimedOut(p) => format!(
            "not done within {} ({})",
            humantime::format_duration(settings.write.timeout),
            p.waiting_for.unwrap_or_default()
        ),
    }))
}

/// The Deployment as it was before the change: what `--rollback-on-failure` restores.
struct Before {
    revision: Option<i64>,
    template: Value,
    cause: Option<Value>,
}

/// Why a rollout failed, and whether it was the metric checks that stopped it.
struct Failed {
    failure: String,
    checks_failed: bool,
}

/// After a failed rollout: without `--rollback-on-failure` the error saying how to undo; with it,
/// restore the template from before and follow that rollout, then say how both ended.
///
/// # Errors
/// Always an error: the rollout failed (exit 1, or 3 when the checks stopped it and the rollback
/// is done).
async fn roll_back(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    settings: &Settings,
    options: &WaitOptions,
    before: Before,
    failed: Failed,
) -> Result<()> {
    let Before { revision: previous_revision, template: previous_template, cause: previous_cause } = before;
    let Failed { failure, checks_failed } = failed;
    let ns = namespace_flag(cluster);
    if !settings.rollback_on_failure {
        return Err(Error::failed(format!(
            "the rollout of deployment/{name} failed: {failure}; the new pods stay as they are: undo it with `kubectl modelroll undo {ns}{name}`"
        )));
    }
    // Roll back to what ran before, with the same display, and a --timeout of its own for its
    // requests' retries as for its wait (the rollout's may be spent: it timed out).
    cluster.retry_within(settings.write.timeout);
    let previous =
        previous_revision.map(|r| format!("revision {r}")).unwrap_or_else(|| "the previous revision".into());
    let restored = restore_template(
        cluster,
        name,
        &previous_template,
        Annotations::ChangeCause(previous_cause.as_ref().and_then(Value::as_str)),
        DryRun::None,
        None,
    )
    .await?;
    let restored: Deployment = typed(&restored.after, &format!("deployment {name:?}"))?;
    // Said once: the display's title (a line of its own off a terminal).
    let title = format!("deployment/{name}: rolling back to {previous} (--rollback-on-failure)");
    let back = follow_deployment_rollout(cluster, terminal, &restored, options, &title).await?;
    match back {
        WaitOutcome::Done(_) if checks_failed => Err(Error::check_failed(format!(
            "the rollout of deployment/{name} was stopped: {failure}; rolled back to {previous}, which is rolled out and available again. See `kubectl modelroll status {ns}{name}`"
        ))),
        WaitOutcome::Done(_) => Err(Error::failed(format!(
            "the rollout of deployment/{name} failed: {failure}; rolled back to {previous}, which is rolled out and available again"
        ))),
        other => {
            let line = outcome_line(&format!("deployment/{name}"), &Ok(other), options);
            Err(Error::failed(format!(
                "the rollout of deployment/{name} failed: {failure}; the rollback to {previous} did not complete either ({line}); check `kubectl modelroll status {ns}{name}`"
            )))
        }
    }
}

/// The images changed, as the line after the write says them: `model fraud:v1 → fraud:v2 (model
/// version v2)`, or `updated` when only the strategy or the version changed.
fn changes_text(settings: &Settings, changes: &[ImageChange]) -> String {
    let changed: Vec<String> = changes
        .iter()
        .filter(|c| c.from != c.to)
        .map(|c| format!("{} {} → {}", c.container, c.from, c.to))
        .collect();
    let mut what = if changed.is_empty() { "updated".to_string() } else { changed.join(", ") };
    if let Some(version) = model_version(settings, changes) {
        what.push_str(&format!(" ({})", version.describe()));
    }
    what
}

/// What ended the wait of a checked rollout.
enum Checked {
    Rollout(Box<WaitOutcome>),
    /// The checks failed: the failed values, in a sentence.
    ChecksFailed(String),
}

/// Evaluate the checks every `interval` while the rollout runs, recording each evaluation on the
/// Deployment; returns (a sentence with the failed values) once they fail beyond the limit.
///
/// # Errors
/// Exit 1 when Prometheus cannot answer or the record cannot be written.
async fn checks_while_rolling(
    cluster: &Cluster,
    name: &str,
    gate: &mut Gate,
    interval: Duration,
) -> Result<String> {
    loop {
        tokio::time::sleep(interval).await;
        let (evaluation, next) = gate.evaluate(None).await?;
        record_analysis(cluster, name, &gate.analysis, None).await?;
        if next == Next::Fail {
            let failed: Vec<String> = evaluation
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{} was {} (wanted {} {})", c.name, c.value, c.op, c.threshold))
                .collect();
            return Ok(format!("a metric check failed: {}", failed.join("; ")));
        }
    }
}

/// Keep the checks' record in the Deployment's `modelroll.io/rollout` annotation.
///
/// # Errors
/// When the write is refused.
async fn record_analysis(
    cluster: &Cluster,
    name: &str,
    analysis: &Analysis,
    verdict: Option<&str>,
) -> Result<()> {
    let mut analysis = analysis.clone();
    analysis.verdict = verdict.map(str::to_string);
    let text = AnalysisRecord { analysis }.to_annotation();
    update_one(cluster, &deployment_resource(), name, DryRun::None, None, |before| {
        let mut wanted = before.clone();
        if !wanted["metadata"]["annotations"].is_object() {
            wanted["metadata"]["annotations"] = json!({});
        }
        wanted["metadata"]["annotations"][ROLLOUT_ANNOTATION] = json!(text);
        Ok(wanted)
    })
    .await?;
    Ok(())
}

fn images_title(changes: &[ImageChange]) -> String {
    let list: Vec<String> = changes.iter().map(|c| c.to.clone()).collect();
    let mut list = list;
    list.dedup();
    list.join(", ")
}

/// Nothing to write: say so; if a rollout is still under way, follow it.
async fn unchanged(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    deployment: &Deployment,
    changes: &[ImageChange],
    settings: &Settings,
) -> Result<()> {
    ui::note(
        terminal,
        &format!(
            "deployment/{name} unchanged: it already runs {}; nothing was written",
            images_title(changes)
        ),
    );
    if settings.write.dry() {
        let raw = serde_json::to_value(deployment).unwrap_or_default();
        ui::print_stdout(&crate::ui::output::dry_run(
            &[(raw, false)],
            settings.write.output,
            settings.write.dry_run,
        )?);
        return Ok(());
    }
    let in_progress =
        classify(deployment, &[], &[], jiff::Timestamp::now(), settings.unschedulable_timeout).waiting_for;
    let Some(waiting) = in_progress else {
        ui::print_stdout(&format!("deployment/{name} unchanged\n"));
        return Ok(());
    };
    if settings.write.no_wait {
        ui::print_stdout(&format!("deployment/{name} unchanged (a rollout is in progress: {waiting})\n"));
        return Ok(());
    }
    let options = wait_options(cluster, name, settings.write.timeout, settings.unschedulable_timeout);
    let title = format!("deployment/{name}: a rollout is in progress");
    match follow_deployment_rollout(cluster, terminal, deployment, &options, &title).await? {
        WaitOutcome::Done(_) => {
            ui::print_stdout(&format!("deployment/{name} unchanged; its rollout is done\n"));
            Ok(())
        }
        WaitOutcome::Failed(f, _) => {
            Err(Error::failed(format!("the rollout of deployment/{name} in progress failed: {f}")))
        }
        WaitOutcome::TimedOut(p) => Err(Error::failed(format!(
            "the rollout of deployment/{name} in progress is not done within {}: {}",
            humantime::format_duration(settings.write.timeout),
            p.waiting_for.unwrap_or_default()
        ))),
    }
}

/// Check that the surge pods can be scheduled. Returns the strategy to use instead when the
/// user accepted the fallback (`yes`: `--yes` accepts it without asking).
///
/// # Errors
/// Exit 1 when the rollout would deadlock and the fallback was not accepted.
pub async fn plan_surge(
    cluster: &Cluster,
    terminal: Terminal,
    name: &str,
    template: &PodSpec,
    strategy: RollingUpdate,
    replicas: i32,
    yes: bool,
) -> Result<Option<RollingUpdate>> {
    let resolved = strategy.resolve(replicas);
    if resolved.max_surge == 0 {
        return Ok(None);
    }
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let nodes = match nodes.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => {
            let e = cluster.api_error(e, "list nodes");
            ui::note(
                terminal,
                &format!("warning: cannot check whether the surge pods fit on the nodes ({e}); going on"),
            );
            return Ok(None);
        }
    };
    // Every running pod of the cluster, folded into per-node usage as the list arrives: one
    // request, and the memory of one pod at a time however many the cluster runs.
    let running = ListParams::default().fields("status.phase!=Succeeded,status.phase!=Failed");
    let mut usage = gpu::NodeUsage::default();
    let request = kube::core::Request::new(Pod::url_path(&(), None)).list(&running);
    let listed = match request {
        Ok(request) => {
            crate::stream_list::for_each_item(&cluster.client, request, |pod: Pod| usage.add(&pod)).await
        }
        Err(e) => Err(kube::Error::BuildRequest(e)),
    };
    if let Err(e) = listed {
        let e = cluster.api_error(e, "list pods in all namespaces");
        ui::note(
            terminal,
            &format!("warning: cannot check whether the surge pods fit on the nodes ({e}); going on"),
        );
        return Ok(None);
    }
    let fit = gpu::fit_with_usage(&nodes, &usage, template);
    match gpu::plan_surge(&fit, resolved) {
        SurgePlan::Fits => Ok(None),
        SurgePlan::Partial { message, .. } => {
            ui::note(terminal, &format!("warning: {message}"));
            Ok(None)
        }
        SurgePlan::Deadlock { message } => {
            ui::note(
                terminal,
                &format!(
                    "deployment/{name}: {message}; with maxUnavailable 0 the rollout would wait forever"
                ),
            );
            let question = "Use maxSurge 0, maxUnavailable 1 instead (one replica down at a time)?";
            let refused = format!(
                "nothing was changed: the rollout of deployment/{name} would deadlock ({message}); rerun with --yes to use maxSurge 0 / maxUnavailable 1, or choose them with --max-surge 0 --max-unavailable 1"
            );
            if prompt::confirm(terminal, yes, question, &refused).await? {
                ui::note(terminal, &format!("deployment/{name}: using maxSurge 0, maxUnavailable 1"));
                Ok(Some(NO_SURGE))
            } else {
                Err(Error::failed(refused))
            }
        }
    }
}
