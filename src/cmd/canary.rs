//! `canary`: bring up a canary of a new model version, wait until it is ready, and only then give
//! it its weight. Run twice, it is a no-op; interrupted, it carries on from the recorded state.

use std::time::Duration;

use serde_json::Value;

use crate::cli::{CanaryArgs, OnFailure, RouterChoice};
use crate::cluster::Target;
use crate::cmd::gate::{canary_placeholders, hold_step, record_passed, CheckSettings, Gate, Step};
use crate::cmd::lifecycle::{
    self, canary_baseline, load, move_weight, next_after_interrupt, print_dry_run, spec_replicas,
    wait_deployment, weight_text, write_state, CanaryPods, Deadline, Model, NextStep, Operation,
};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::rollout::canary::{
    canary_deployment, canary_images, canary_name, gitops_manager, has_stable_track, template_images,
    with_stable_track,
};
use crate::rollout::check::Placeholders;
use crate::rollout::image::ModelVersion;
use crate::rollout::live::plan;
use crate::rollout::model_ready::ModelGate;
use crate::rollout::revision::check_label_value;
use crate::rollout::state::{
    canary_revision_name, GatewayApiRouting, IstioRouting, KnativeRouting, Phase, RolloutState, Routing,
};
use crate::rollout::weights::parse_weight;
use crate::router::{self, deployment_kind, knative, Router, Selection};
use crate::settings::WriteSettings;
use crate::ui::Terminal;
use crate::write::Writer;

/// Run `canary`.
///
/// # Errors
/// Exit 2 for bad input or a canary of another image already running (nothing changed); exit 1
/// when the canary does not become ready (it gets no weight), the cluster refuses a write, or
/// Prometheus cannot answer; exit 3 when a metric check fails during `--interval`.
pub async fn run(ctx: &Context, args: CanaryArgs) -> Result<()> {
    let terminal = Terminal::detect(ctx.global.no_color);
    let weight = parse_weight(&args.weight)?;
    let target = Target::parse(&args.target)?;
    let settings = args.write.settings()?;
    let model_ready = crate::cmd::model_gate::gate_of(&args.model, target.name())?;
    if let Some(version) = &args.model_version {
        check_label_value(version)
            .map_err(|e| Error::usage(format!("invalid --model-version {version:?}: {e}")))?;
    }
    if matches!(target, Target::KnativeService(_))
        && !matches!(args.router, RouterChoice::Auto | RouterChoice::Knative)
    {
        return Err(Error::usage(format!(
            "{target} is a Knative Service: its canary uses the knative router"
        )));
    }
    let interval = args.interval;
    let checks = CheckSettings::parse(&args.checks, interval)?;
    if checks.is_some() && weight == 0 {
        return Err(Error::usage(
            "--check judges the traffic the canary serves: give it a --weight above 0 (a canary at 0% serves nothing and proves nothing)",
        ));
    }
    let deadline = Deadline::after(settings.timeout);
    let w = Writer::new(ctx.cluster().await?, settings.dry_run).with_deadline(deadline.0);
    // Requests the cluster could not answer are retried until the command\'s time is up.
    w.cluster.retry_within(settings.timeout);
    let w = Operation::new(w, terminal);
    crate::lock::hold(&w.cluster, &target, "canary", settings.dry_run).await?;
    // Every wait below answers Ctrl-C; the message ends with the command to run next.
    let result: Result<()> = async {
        let model = load(&w, &target).await?;
        let waits = !w.is_dry_run() && !settings.no_wait;
        let gate = match (&checks, interval) {
            (Some(checks), Some(interval)) if waits => {
                let placeholders = placeholders(&w, &model, &args, interval)?;
                let knative = matches!(target, Target::KnativeService(_));
                // Before anything changes: no step without a Prometheus that answers.
                let timeout = ctx.global.request_timeout.as_deref();
                Some(Gate::connect(checks, &w.cluster, terminal, timeout, placeholders, knative).await?)
            }
            _ => None,
        };
        let mut hold = Hold { ctx, interval: interval.filter(|_| waits), gate, on_failure: args.on_failure };
        match target {
            Target::Deployment(_) => {
                deployment_canary(
                    ctx,
                    &w,
                    &model,
                    &args,
                    weight,
                    &settings,
                    deadline,
                    &mut hold,
                    model_ready.as_ref(),
                )
                .await?
            }
            Target::KnativeService(_) => {
                knative_canary(
                    &w,
                    &model,
                    &args,
                    weight,
                    &settings,
                    deadline,
                    &mut hold,
                    model_ready.as_ref(),
                )
                .await?
            }
        }
        if w.is_dry_run() {
            print_dry_run(&w, settings.output);
        }
        Ok(())
    }
    .await;
    result.map_err(|e| next_after_interrupt(e, &w, NextStep::CarryOnOrAbort, &target))
}

/// `--interval` and the checks of `canary`: hold the first weight and judge it.
struct Hold<'a> {
    ctx: &'a Context,
    interval: Option<Duration>,
    gate: Option<Gate>,
    on_failure: OnFailure,
}

impl Hold<'_> {
    /// Hold `weight` for the interval (if any) watching the canary and evaluating the checks.
    ///
    /// # Errors
    /// As [`hold_step`].
    async fn run(
        &mut self,
        w: &Operation,
        model: &Model,
        router: &dyn Router,
        state: &mut RolloutState,
        weight: u32,
        deadline: Deadline,
    ) -> Result<()> {
        let Some(hold) = self.interval else { return Ok(()) };
        let pods = match model.target {
            Target::Deployment(_) => CanaryPods::Deployment(state.canary.clone()),
            Target::KnativeService(_) => CanaryPods::Revision(state.canary.clone()),
        };
        let baseline = canary_baseline(w, &pods).await?;
        let step = Step { ctx: self.ctx, weight, next: None, hold, on_failure: self.on_failure };
        hold_step(w, model, router, state, &pods, baseline, self.gate.as_mut(), &step, deadline).await?;
        if let Some(gate) = &self.gate {
            record_passed(w, model, state, gate).await?;
        }
        Ok(())
    }
}

/// The placeholders of the canary this command starts (or resumes).
fn placeholders(w: &Writer, model: &Model, args: &CanaryArgs, interval: Duration) -> Result<Placeholders> {
    if let Some(state) = &model.state {
        return Ok(canary_placeholders(model, state, w.namespace(), interval));
    }
    let name = model.name();
    let (stable, canary) = match model.target {
        Target::Deployment(_) => (name.to_string(), canary_name(name)),
        Target::KnativeService(_) => {
            let images = canary_images(
                &model.object["spec"]["template"],
                &args.image,
                args.container.as_deref(),
                &format!("ksvc {name:?}"),
            )?;
            (
                knative::stable_revision(&model.object).unwrap_or_default(),
                // The name the canary below will give its revision (same version, same name).
                canary_revision_name(
                    name,
                    canary_version(args, &model.object["spec"]["template"], &images).label(),
                    &images,
                ),
            )
        }
    };
    Ok(Placeholders {
        namespace: w.namespace().to_string(),
        name: name.to_string(),
        canary,
        stable,
        interval,
    })
}

/// [`canary_version`], said once when it is not the flag's.
fn canary_model_version(
    w: &Operation,
    args: &CanaryArgs,
    template: &Value,
    images: &std::collections::BTreeMap<String, String>,
) -> ModelVersion {
    let version = canary_version(args, template, images);
    if !matches!(version, ModelVersion::Given(_)) {
        w.say(&format!("canary: {}", version.describe()));
    }
    version
}

/// The canary's model version: `--model-version`, else what its new images say (their tag or
/// digest; none when they disagree).
fn canary_version(
    args: &CanaryArgs,
    template: &Value,
    images: &std::collections::BTreeMap<String, String>,
) -> ModelVersion {
    let current = template_images(template);
    let new_images: Vec<&str> =
        images.iter().filter(|(c, i)| current.get(*c) != Some(*i)).map(|(_, i)| i.as_str()).collect();
    ModelVersion::resolve(args.model_version.as_deref(), &new_images).unwrap_or(ModelVersion::Unknown)
}

/// What to do with a canary already recorded: `None` = nothing left to do.
fn resume(
    model: &Model,
    state: &RolloutState,
    images: &std::collections::BTreeMap<String, String>,
    args: &CanaryArgs,
    weight: u32,
) -> Result<Option<RolloutState>> {
    let same_version = args.model_version.is_none() || args.model_version == state.model_version;
    if &state.images != images || !same_version {
        return Err(Error::usage(format!(
            "{} already has a canary running {}; `kubectl modelroll promote {}` or `kubectl modelroll abort {}` it first",
            model.target,
            state.images_text(),
            model.target,
            model.target
        )));
    }
    match state.phase {
        Phase::Promoting => Err(Error::usage(format!(
            "{} is being promoted; run `kubectl modelroll promote {}` again to finish",
            model.target, model.target
        ))),
        Phase::Aborting => Err(Error::usage(format!(
            "the canary of {} is being aborted; run `kubectl modelroll abort {}` again to finish",
            model.target, model.target
        ))),
        Phase::Canary if state.weight == weight => Ok(None),
        _ => Ok(Some(state.clone())),
    }
}

fn already_running(w: &Operation, model: &Model, state: &RolloutState) {
    let message = format!(
        "{}: canary {} already runs {} with weight {}%; nothing to do\n",
        model.target,
        state.canary,
        state.images_text(),
        state.weight
    );
    if w.is_dry_run() {
        w.say(message.trim_end());
    } else {
        crate::ui::print_stdout(&message);
    }
}

#[allow(clippy::too_many_arguments)] // the steps of one story; a struct would only rename them
async fn deployment_canary(
    ctx: &Context,
    w: &Operation,
    model: &Model,
    args: &CanaryArgs,
    weight: u32,
    settings: &WriteSettings,
    deadline: Deadline,
    hold: &mut Hold<'_>,
    gate: Option<&ModelGate>,
) -> Result<()> {
    let name = model.name();
    let template = &model.object["spec"]["template"];
    let images =
        canary_images(template, &args.image, args.container.as_deref(), &format!("deployment {name:?}"))?;
    let mut state = match &model.state {
        Some(recorded) => match resume(model, recorded, &images, args, weight)? {
            Some(state) => state,
            None => {
                already_running(w, model, recorded);
                return Ok(());
            }
        },
        None => start_deployment_canary(ctx, w, model, args, &images, deadline).await?,
    };
    let router = router::from_routing(w, name, &state.routing, &state.canary).await?;
    router.prepare(w).await?;
    if state.phase == Phase::Starting {
        // Pin the routes to stable before a canary pod exists.
        router.set_weight(w, 0).await?;
    }
    let live = lifecycle::live_replicas(w, name, &state.canary).await?;
    let first_size = plan(state.routing.carrier(), state.stable_replicas, state.weight, &live, weight).canary;
    let mut canary = w.get(&deployment_kind(), &state.canary).await?;
    if canary.is_none() {
        let stable = w.get(&deployment_kind(), name).await?.unwrap_or(Value::Null);
        let object = canary_deployment(&stable, &state.images, state.model_version.as_deref(), first_size)?;
        canary = Some(w.create(&deployment_kind(), object).await?);
        let what = format!(
            "canary deployment {} ({}, {first_size} {})",
            state.canary,
            state.images_text(),
            if first_size == 1 { "replica" } else { "replicas" }
        );
        w.did(&format!("created {what}"), &format!("would create {what}"));
    }
    // The record names its canary by uid: a copy of it that a rollback brings back once this
    // canary is gone is recognised as stale.
    let uid = canary.as_ref().and_then(|c| c.pointer("/metadata/uid")).and_then(Value::as_str);
    if !w.is_dry_run() && uid.is_some() && state.canary_uid.as_deref() != uid {
        state.canary_uid = uid.map(String::from);
        write_state(w, model, Some(&state)).await?;
    }
    if settings.no_wait {
        if !w.is_dry_run() {
            crate::ui::print_stdout(&format!(
                "{}: canary deployment {} created; it gets weight once ready: `kubectl modelroll shift {} --weight {}`\n",
                model.target, state.canary, model.target, weight_hint(weight)
            ));
        }
        return Ok(());
    }
    move_weight(w, model, router.as_ref(), &mut state, weight, deadline, gate)
        .await
        .map_err(|e| no_weight(e, model))?;
    hold.run(w, model, router.as_ref(), &mut state, weight, deadline).await?;
    if !w.is_dry_run() && first_size == 0 {
        // The replicas router at weight 0: a canary pod would take traffic behind the Service.
        crate::ui::print_stdout(&format!(
            "{}: canary deployment {} created with 0 replicas ({}): the {} router carries weight by pod count, so its pods start with its first weight (`kubectl modelroll shift {} --weight W`)\n",
            model.target,
            state.canary,
            state.images_text(),
            router.routing().name(),
            model.target
        ));
    } else if !w.is_dry_run() {
        crate::ui::print_stdout(&format!(
            "{}: canary deployment {} is ready ({}), weight {} via the {} router{}\n",
            model.target,
            state.canary,
            state.images_text(),
            weight_text(router.as_ref(), state.stable_replicas, weight),
            router.routing().name(),
            objects_text(router.as_ref(), name)
        ));
    }
    Ok(())
}

/// A new canary of a Deployment: choose the router, give stable's pods the track label when the
/// router needs it (asking first), and record the state before anything is created, so that an
/// interrupted run can always be finished.
///
/// # Errors
/// Exit 2 when no router fits; exit 1 when declined or a write fails.
async fn start_deployment_canary(
    ctx: &Context,
    w: &Operation,
    model: &Model,
    args: &CanaryArgs,
    images: &std::collections::BTreeMap<String, String>,
    deadline: Deadline,
) -> Result<RolloutState> {
    let name = model.name();
    let template = &model.object["spec"]["template"];
    let labels = template
        .pointer("/metadata/labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    let selection = Selection {
        model: name,
        choice: args.router,
        route: args.route.as_deref(),
        template_labels: &labels,
    };
    let router = router::select(w, &selection).await?;
    warn_gitops_route(w, &router.routing()).await?;
    if router.needs_track_label() && !has_stable_track(template) {
        if w.is_dry_run() {
            w.say(&format!(
                "deployment {name}'s pod template would get the label modelroll.io/track=stable (its pods restart once)"
            ));
        } else {
            w.confirm(
            ctx,
            &format!(
                "The {} router tells the tracks apart by the label modelroll.io/track; adding modelroll.io/track=stable to deployment {name}'s pod template restarts its pods once. Add it?",
                router.routing().name()
            ),
            "(or add the label modelroll.io/track=stable to the pod template yourself)",
        )
            .await?;
        }
        w.update(&deployment_kind(), name, |d| {
            d["spec"]["template"] = with_stable_track(&d["spec"]["template"]);
            Ok(())
        })
        .await?;
        if !w.is_dry_run() {
            wait_deployment(w, name, "stable", deadline).await?;
        }
    }
    let state = RolloutState {
        routing: router.routing(),
        canary: canary_name(name),
        weight: 0,
        images: images.clone(),
        model_version: canary_model_version(w, args, template, images).label().map(String::from),
        start_time: lifecycle::now(),
        phase: Phase::Starting,
        stable_replicas: spec_replicas(&model.object),
        analysis: None,
        canary_uid: None,
    };
    // Recorded before anything is created, so an interrupted run can always be finished.
    write_state(w, model, Some(&state)).await?;
    Ok(state)
}

fn objects_text(router: &dyn Router, model: &str) -> String {
    let objects = router.routing().objects(model);
    if objects.is_empty() {
        String::new()
    } else {
        format!(" ({})", objects.join(", "))
    }
}

/// A canary that failed to come up has no weight: say so and how to clean up.
fn no_weight(err: Error, model: &Model) -> Error {
    if err.code == crate::error::ExitCode::Failed {
        Error {
            message: format!(
                "{}; the canary has no traffic. `kubectl modelroll abort {}` removes it",
                err.message, model.target
            ),
            ..err
        }
    } else {
        err
    }
}

#[allow(clippy::too_many_arguments)] // the steps of one story; a struct would only rename them
async fn knative_canary(
    w: &Operation,
    model: &Model,
    args: &CanaryArgs,
    weight: u32,
    settings: &WriteSettings,
    deadline: Deadline,
    hold: &mut Hold<'_>,
    gate: Option<&ModelGate>,
) -> Result<()> {
    let name = model.name();
    let ksvc = &model.object;
    let images = canary_images(
        &ksvc["spec"]["template"],
        &args.image,
        args.container.as_deref(),
        &format!("ksvc {name:?}"),
    )?;
    let mut state = match &model.state {
        Some(recorded) => match resume(model, recorded, &images, args, weight)? {
            Some(state) => state,
            None => {
                already_running(w, model, recorded);
                return Ok(());
            }
        },
        None => {
            let state = knative_state(w, model, args, &images)?;
            write_state(w, model, Some(&state)).await?;
            state
        }
    };
    let (service_kind, revision_kind) = router::knative_kinds(w).await?;
    let Routing::Knative(routing) = &state.routing else {
        return Err(Error::usage(format!("the canary of ksvc {name} was not started by the knative router")));
    };
    let template = knative::canary_template(
        &routing.original_template,
        &state.canary,
        &state.images,
        state.model_version.as_deref(),
    )?;
    let router = knative::Knative {
        routing: routing.clone(),
        service_kind,
        revision_kind: revision_kind.clone(),
        model: name.to_string(),
        canary_revision: state.canary.clone(),
    };
    router.start(w, &template).await?;
    let what = format!("revision {} ({}) with no traffic", state.canary, state.images_text());
    w.did(&format!("ksvc {name}: new {what}"), &format!("ksvc {name}: would create {what}"));
    if settings.no_wait {
        if !w.is_dry_run() {
            crate::ui::print_stdout(&format!(
                "{}: revision {} requested; it gets weight once ready: `kubectl modelroll shift {} --weight {}`\n",
                model.target, state.canary, model.target, weight_hint(weight)
            ));
        }
        return Ok(());
    }
    if !w.is_dry_run() {
        lifecycle::wait_revision(w, &revision_kind, &state.canary, deadline)
            .await
            .map_err(|e| no_weight(e, model))?;
    }
    move_weight(w, model, &router, &mut state, weight, deadline, gate)
        .await
        .map_err(|e| no_weight(e, model))?;
    hold.run(w, model, &router, &mut state, weight, deadline).await?;
    if !w.is_dry_run() {
        crate::ui::print_stdout(&format!(
            "{}: canary revision {} is ready ({}), weight {weight}% (tag canary)\n",
            model.target,
            state.canary,
            state.images_text()
        ));
    }
    Ok(())
}

/// The state of a new Knative canary: its revision's name, and the ksvc's traffic and template
/// to restore.
///
/// # Errors
/// Exit 2 when the ksvc has no ready revision, or the canary's revision would be the stable one.
fn knative_state(
    w: &Operation,
    model: &Model,
    args: &CanaryArgs,
    images: &std::collections::BTreeMap<String, String>,
) -> Result<RolloutState> {
    let name = model.name();
    let ksvc = &model.object;
    let stable_revision = knative::stable_revision(ksvc).ok_or_else(|| {
        Error::usage(format!("ksvc {name} has no ready revision yet; wait for it before starting a canary"))
    })?;
    let version = canary_model_version(w, args, &ksvc["spec"]["template"], images);
    let revision = canary_revision_name(name, version.label(), images);
    if revision == stable_revision {
        return Err(Error::usage(format!(
            "revision {revision} already serves ksvc {name}; give the canary another --model-version"
        )));
    }
    Ok(RolloutState {
        routing: Routing::Knative(KnativeRouting {
            stable_revision,
            original_traffic: ksvc["spec"]["traffic"].clone(),
            original_template: ksvc["spec"]["template"].clone(),
        }),
        canary: revision,
        weight: 0,
        images: images.clone(),
        model_version: version.label().map(String::from),
        start_time: lifecycle::now(),
        phase: Phase::Starting,
        stable_replicas: 0,
        analysis: None,
        canary_uid: None,
    })
}

/// Warn when the route modelroll is about to edit is synced by Argo CD or Flux.
async fn warn_gitops_route(w: &Operation, routing: &Routing) -> Result<()> {
    let (group, kind, name) = match routing {
        Routing::Istio(IstioRouting { virtual_service, .. }) => {
            (router::istio::GROUP, "VirtualService", virtual_service)
        }
        Routing::GatewayApi(GatewayApiRouting { http_route, .. }) => {
            (router::gateway_api::GROUP, "HTTPRoute", http_route)
        }
        _ => return Ok(()),
    };
    let Some(ar) = router::discover_kind(w, group, kind).await? else {
        return Ok(());
    };
    if let Some(tool) = w.get(&ar, name).await?.as_ref().and_then(gitops_manager) {
        w.say(&format!(
            "warning: {} {name} is managed by {tool}; its next sync will undo the canary's route weights",
            kind.to_ascii_lowercase()
        ));
    }
    Ok(())
}

/// The weight to suggest for the `shift` after `canary --no-wait`: the one asked, or `W` when the
/// canary was started at 0 (shifting to 0 again would do nothing).
fn weight_hint(weight: u32) -> String {
    if weight == 0 {
        "W".into()
    } else {
        weight.to_string()
    }
}
