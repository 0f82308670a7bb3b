//! `canary`: bring up a canary of a new model version, wait until it is ready, and only then give
//! it its weight. Run twice, it is a no-op; interrupted, it carries on from the recorded state.

use serde_json::Value;

use crate::cli::{CanaryArgs, RouterChoice};
use crate::cluster::Target;
use crate::cmd::lifecycle::{
    self, confirm, did, load, move_weight, next_after_interrupt, print_dry_run, say, spec_replicas,
    wait_deployment, write_state, Deadline, Model, NextStep, WriteSettings,
};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::rollout::canary::{
    canary_deployment, canary_images, canary_name, gitops_manager, has_stable_track, with_stable_track,
};
use crate::rollout::live::plan;
use crate::rollout::revision::check_label_value;
use crate::rollout::state::{canary_revision_name, Phase, RolloutState, Routing};
use crate::rollout::weights::parse_weight;
use crate::router::writer::Writer;
use crate::router::{self, deployment_kind, knative, Router, Selection};

/// Run `canary`.
///
/// # Errors
/// Exit 2 for bad input or a canary of another image already running (nothing changed); exit 1
/// when the canary does not become ready (it gets no weight) or the cluster refuses a write.
pub async fn run(ctx: &Context, args: CanaryArgs) -> Result<()> {
    lifecycle::init_terminal(ctx);
    let weight = parse_weight(&args.weight).map_err(Error::usage)?;
    let target = Target::parse(&args.target)?;
    let settings = WriteSettings::parse(&args.write)?;
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
    let deadline = Deadline::after(settings.timeout);
    let w = Writer::new(ctx.cluster().await?, settings.dry_run);
    // Every wait below answers Ctrl-C; the message ends with the command to run next.
    let result: Result<()> = async {
        let model = load(&w, &target).await?;
        match target {
            Target::Deployment(_) => {
                deployment_canary(ctx, &w, &model, &args, weight, &settings, deadline).await?
            }
            Target::KnativeService(_) => {
                knative_canary(&w, &model, &args, weight, &settings, deadline).await?
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

fn already_running(w: &Writer, model: &Model, state: &RolloutState) {
    let message = format!(
        "{}: canary {} already runs {} with weight {}%; nothing to do\n",
        model.target,
        state.canary,
        state.images_text(),
        state.weight
    );
    if w.is_dry_run() {
        say(message.trim_end());
    } else {
        crate::ui::print_stdout(&message);
    }
}

async fn deployment_canary(
    ctx: &Context,
    w: &Writer,
    model: &Model,
    args: &CanaryArgs,
    weight: u32,
    settings: &WriteSettings,
    deadline: Deadline,
) -> Result<()> {
    let name = model.name();
    let template = &model.object["spec"]["template"];
    let images =
        canary_images(template, &args.image, args.container.as_deref(), &format!("deployment {name:?}"))
            .map_err(Error::usage)?;
    let mut state = match &model.state {
        Some(recorded) => match resume(model, recorded, &images, args, weight)? {
            Some(state) => state,
            None => {
                already_running(w, model, recorded);
                return Ok(());
            }
        },
        None => {
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
            warn_gitops_route(w, router.routing()).await?;
            if router.needs_track_label() && !has_stable_track(template) {
                if w.is_dry_run() {
                    say(&format!(
                        "deployment {name}'s pod template would get the label modelroll.io/track=stable (its pods restart once)"
                    ));
                } else {
                    confirm(
                    ctx,
                    &format!(
                        "The {} router tells the tracks apart by the label modelroll.io/track; adding modelroll.io/track=stable to deployment {name}'s pod template restarts its pods once. Add it?",
                        router.routing().name()
                    ),
                    "(or add the label modelroll.io/track=stable to the pod template yourself)",
                )?;
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
                routing: router.routing().clone(),
                canary: canary_name(name),
                weight: 0,
                images: images.clone(),
                model_version: args.model_version.clone(),
                start_time: lifecycle::now(),
                phase: Phase::Starting,
                stable_replicas: spec_replicas(&model.object),
            };
            // Recorded before anything is created, so an interrupted run can always be finished.
            write_state(w, model, Some(&state)).await?;
            state
        }
    };
    let router = router::from_routing(w, name, &state.routing, &state.canary).await?;
    router.prepare(w).await?;
    if state.phase == Phase::Starting {
        // Pin the routes to stable before a canary pod exists.
        router.set_weight(w, 0).await?;
    }
    let live = lifecycle::live_replicas(w, name, &state.canary).await?;
    let first_size = plan(state.routing.carrier(), state.stable_replicas, state.weight, &live, weight).canary;
    let existing = w.get(&deployment_kind(), &state.canary).await?;
    if existing.is_none() {
        let stable = w.get(&deployment_kind(), name).await?.unwrap_or(Value::Null);
        let object = canary_deployment(&stable, &state.images, state.model_version.as_deref(), first_size)
            .map_err(Error::usage)?;
        w.create(&deployment_kind(), object).await?;
        let what = format!(
            "canary deployment {} ({}, {first_size} {})",
            state.canary,
            state.images_text(),
            if first_size == 1 { "replica" } else { "replicas" }
        );
        did(w, &format!("created {what}"), &format!("would create {what}"));
    }
    if settings.no_wait {
        if !w.is_dry_run() {
            crate::ui::print_stdout(&format!(
                "{}: canary deployment {} created; it gets weight once ready: `kubectl modelroll shift {} --weight {weight}`\n",
                model.target, state.canary, model.target
            ));
        }
        return Ok(());
    }
    move_weight(w, model, router.as_ref(), &mut state, weight, deadline)
        .await
        .map_err(|e| no_weight(e, model))?;
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
            "{}: canary deployment {} is ready ({}), weight {weight}% via the {} router{}\n",
            model.target,
            state.canary,
            state.images_text(),
            router.routing().name(),
            objects_text(router.as_ref(), name)
        ));
    }
    Ok(())
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

async fn knative_canary(
    w: &Writer,
    model: &Model,
    args: &CanaryArgs,
    weight: u32,
    settings: &WriteSettings,
    deadline: Deadline,
) -> Result<()> {
    let name = model.name();
    let ksvc = &model.object;
    let images = canary_images(
        &ksvc["spec"]["template"],
        &args.image,
        args.container.as_deref(),
        &format!("ksvc {name:?}"),
    )
    .map_err(Error::usage)?;
    let mut state = match &model.state {
        Some(recorded) => match resume(model, recorded, &images, args, weight)? {
            Some(state) => state,
            None => {
                already_running(w, model, recorded);
                return Ok(());
            }
        },
        None => {
            let stable_revision = knative::stable_revision(ksvc).ok_or_else(|| {
                Error::usage(format!(
                    "ksvc {name} has no ready revision yet; wait for it before starting a canary"
                ))
            })?;
            let revision = canary_revision_name(name, args.model_version.as_deref(), &images);
            if revision == stable_revision {
                return Err(Error::usage(format!(
                    "revision {revision} already serves ksvc {name}; give the canary another --model-version"
                )));
            }
            let state = RolloutState {
                routing: Routing::Knative {
                    stable_revision,
                    original_traffic: ksvc["spec"]["traffic"].clone(),
                    original_template: ksvc["spec"]["template"].clone(),
                },
                canary: revision,
                weight: 0,
                images: images.clone(),
                model_version: args.model_version.clone(),
                start_time: lifecycle::now(),
                phase: Phase::Starting,
                stable_replicas: 0,
            };
            write_state(w, model, Some(&state)).await?;
            state
        }
    };
    let (service_kind, revision_kind) = router::knative_kinds(w).await?;
    let Routing::Knative { original_template, .. } = &state.routing else {
        return Err(Error::usage(format!("the canary of ksvc {name} was not started by the knative router")));
    };
    let template = knative::canary_template(
        original_template,
        &state.canary,
        &state.images,
        state.model_version.as_deref(),
    )?;
    let router = knative::Knative {
        routing: state.routing.clone(),
        service_kind,
        revision_kind: revision_kind.clone(),
        model: name.to_string(),
        canary_revision: state.canary.clone(),
    };
    router.start(w, &template).await?;
    let what = format!("revision {} ({}) with no traffic", state.canary, state.images_text());
    did(w, &format!("ksvc {name}: new {what}"), &format!("ksvc {name}: would create {what}"));
    if settings.no_wait {
        if !w.is_dry_run() {
            crate::ui::print_stdout(&format!(
                "{}: revision {} requested; it gets weight once ready: `kubectl modelroll shift {} --weight {weight}`\n",
                model.target, state.canary, model.target
            ));
        }
        return Ok(());
    }
    if !w.is_dry_run() {
        lifecycle::wait_revision(w, &revision_kind, &state.canary, deadline)
            .await
            .map_err(|e| no_weight(e, model))?;
    }
    move_weight(w, model, &router, &mut state, weight, deadline).await.map_err(|e| no_weight(e, model))?;
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

/// Warn when the route modelroll is about to edit is synced by Argo CD or Flux.
async fn warn_gitops_route(w: &Writer, routing: &Routing) -> Result<()> {
    let (group, kind, name) = match routing {
        Routing::Istio { virtual_service, .. } => (router::istio::GROUP, "VirtualService", virtual_service),
        Routing::GatewayApi { http_route, .. } => (router::gateway_api::GROUP, "HTTPRoute", http_route),
        _ => return Ok(()),
    };
    let Some(ar) = router::discover_kind(w, group, kind).await? else {
        return Ok(());
    };
    if let Some(tool) = w.get(&ar, name).await?.as_ref().and_then(gitops_manager) {
        say(&format!(
            "warning: {} {name} is managed by {tool}; its next sync will undo the canary's route weights",
            kind.to_ascii_lowercase()
        ));
    }
    Ok(())
}
