//! `promote`: the canary's version becomes stable. The stable Deployment takes the canary's pod
//! template through a normal rolling update (capacity never below stable's replicas: the canary
//! keeps serving meanwhile), then all traffic returns to stable, then the canary objects go and
//! the routes get back the shape they had before the canary. Knative: 100% to the new revision.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodSpec;
use serde_json::{json, Value};

use crate::cli::PromoteArgs;
use crate::cluster::Target;
use crate::cmd::lifecycle::{
    live_replicas, load, next_after_interrupt, print_dry_run, wait_deployment, wait_revision, write_state,
    Deadline, Model, NextStep, Operation,
};
use crate::cmd::model_gate::require_models_ready;
use crate::cmd::objects::typed;
use crate::cmd::set_image::plan_surge;
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::rollout::canary::{canary_change_cause, promoted_template};
use crate::rollout::live::replicas_after;
use crate::rollout::model_ready::ModelGate;
use crate::rollout::state::{Phase, RolloutState};
use crate::rollout::strategy::RollingUpdate;
use crate::router::{self, deployment_kind, End};
use crate::ui::Terminal;
use crate::watch::model::{new_pods_selector, ModelCheck};
use crate::write::Writer;

/// Run `promote`.
///
/// # Errors
/// Exit 2 when there is no canary; exit 1 when the stable rollout fails or a write is refused.
pub async fn run(ctx: &Context, args: PromoteArgs) -> Result<()> {
    let terminal = Terminal::detect(ctx.global.no_color);
    let target = Target::parse(&args.target)?;
    let settings = args.write.settings()?;
    let model_ready = crate::cmd::model_gate::gate_of(&args.model, target.name())?;
    let deadline = Deadline::after(settings.timeout);
    let w = Operation::new(Writer::new(ctx.cluster().await?, settings.dry_run), terminal);
    // Requests the cluster could not answer are retried until the command's time is up.
    w.cluster.retry_within(settings.timeout);
    crate::lock::hold(&w.cluster, &target, "promote", settings.dry_run).await?;
    // Every wait below answers Ctrl-C; the message ends with the command to run next.
    let result: Result<()> = async {
        let model = load(&w, &target).await?;
        let mut state = model.require_state("promote")?;
        if state.phase == Phase::Aborting {
            return Err(Error::usage(format!(
                "the canary of {target} is being aborted; run `kubectl modelroll abort {target}` again to finish"
            )));
        }
        let router = router::from_routing(&w, model.name(), &state.routing, &state.canary).await?;
        let dry = w.is_dry_run();
        let mut autoscaled = None;
        match &target {
            Target::Deployment(name) => {
                let canary = w.get(&deployment_kind(), &state.canary).await?;
                if state.phase != Phase::Promoting {
                    if canary.is_none() {
                        return Err(Error::failed(format!(
                            "the canary deployment {} is missing; run `kubectl modelroll abort {target}` and start again",
                            state.canary
                        )));
                    }
                    if !dry {
                        wait_deployment(&w, &state.canary, "canary", deadline).await?;
                    }
                    state.phase = Phase::Promoting;
                    write_state(&w, &model, Some(&state)).await?;
                }
                let live = live_replicas(&w, name, &state.canary).await?;
                // The replicas router gives stable the model's whole capacity back; other routers
                // never shrank it, and an autoscaler keeps its count.
                let replicas =
                    replicas_after(state.routing.carrier(), state.stable_replicas, state.weight, &live);
                autoscaled = live.autoscaler.clone();
                if let Some(canary) = &canary {
                    let cause = canary_change_cause("promote", &state.images, state.model_version.as_deref());
                    let strategy = if dry {
                        None
                    } else {
                        plan(ctx, &w, name, canary, replicas.unwrap_or(live.stable)).await?
                    };
                    w.update(&deployment_kind(), name, |stable| {
                        take_canary_template(stable, canary, strategy, replicas, &cause);
                        Ok(())
                    })
                    .await?;
                    w.did(
                        &format!("deployment {name} takes the canary's template ({})", state.images_text()),
                        &format!("would give deployment {name} the canary's template ({})", state.images_text()),
                    );
                }
                if settings.no_wait && !dry {
                    crate::ui::print_stdout(&format!(
                        "{target}: stable is rolling out the canary's version; run `kubectl modelroll promote {target}` again to finish\n"
                    ));
                    return Ok(());
                }
                if !dry {
                    wait_deployment(&w, name, "stable", deadline).await?;
                    // All traffic comes back to stable next: only once every new pod's model is ready.
                    if model_ready.is_some() {
                        let check = ModelCheck {
                            what: format!("stable deployment/{name}"),
                            selector: new_pods_selector(&w.cluster, name).await?,
                            traffic_already: false,
                        };
                        require_models_ready(&w.cluster, w.terminal, model_ready.as_ref(), check)
                            .await
                            .map_err(|e| not_promoted(e, &target))?;
                    }
                }
                router.restore(&w, End::Promote).await?;
                w.delete(&deployment_kind(), &state.canary).await?;
            }
            Target::KnativeService(_) => {
                promote_revision(&w, &model, &mut state, deadline, model_ready.as_ref()).await?;
                router.restore(&w, End::Promote).await?;
            }
        }
        write_state(&w, &model, None).await?;
        if dry {
            print_dry_run(&w, settings.output);
        } else {
            crate::ui::print_stdout(&format!(
                "{target} promoted: {} now serves all traffic; the canary is removed{}\n",
                state.images_text(),
                autoscaled.map(|autoscaler| format!("; its replicas stay with {autoscaler}")).unwrap_or_default()
            ));
        }
        Ok(())
    }
    .await;
    result.map_err(|e| next_after_interrupt(e, &w, NextStep::Finish("promote"), &target))
}

/// The stable Deployment `stable` (as read, edited in place) takes the canary's template, the
/// surge strategy planned for it and the change cause; with `replicas`, that many replicas.
fn take_canary_template(
    stable: &mut Value,
    canary: &Value,
    strategy: Option<RollingUpdate>,
    replicas: Option<i32>,
    cause: &str,
) {
    let template = promoted_template(&stable["spec"]["template"], &canary["spec"]["template"]);
    if stable["spec"]["template"] != template {
        stable["spec"]["template"] = template;
        if let Some(s) = strategy {
            stable["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": s.max_surge.to_json(), "maxUnavailable": s.max_unavailable.to_json()}});
        }
        if !stable["metadata"]["annotations"].is_object() {
            stable["metadata"]["annotations"] = json!({});
        }
        stable["metadata"]["annotations"]["kubernetes.io/change-cause"] = json!(cause);
    }
    if let Some(replicas) = replicas {
        stable["spec"]["replicas"] = json!(replicas);
    }
}

/// Before a Knative canary's routes go to it: its revision ready (recorded as promoting) and,
/// with `--model-ready`, its models.
///
/// # Errors
/// Exit 1 when the revision or its models are not ready (then nothing is promoted).
async fn promote_revision(
    w: &Operation,
    model: &Model,
    state: &mut RolloutState,
    deadline: Deadline,
    model_ready: Option<&ModelGate>,
) -> Result<()> {
    let dry = w.is_dry_run();
    if state.phase != Phase::Promoting {
        if !dry {
            let (_, revision_kind) = router::knative_kinds(w).await?;
            wait_revision(w, &revision_kind, &state.canary, deadline).await?;
        }
        state.phase = Phase::Promoting;
        write_state(w, model, Some(state)).await?;
    }
    if !dry {
        let check = ModelCheck {
            what: format!("canary revision {}", state.canary),
            selector: format!("{}={}", router::knative::REVISION_LABEL, state.canary),
            traffic_already: false,
        };
        require_models_ready(&w.cluster, w.terminal, model_ready, check)
            .await
            .map_err(|e| not_promoted(e, &model.target))?;
    }
    Ok(())
}

/// A promotion stopped by the model gate: traffic stays where it was; say how to go on.
fn not_promoted(err: Error, target: &Target) -> Error {
    if err.code == crate::error::ExitCode::Failed {
        Error {
            message: format!(
                "{}; traffic stays as it was: run `kubectl modelroll promote {target}` again, or `kubectl modelroll abort {target}`",
                err.message
            ),
            ..err
        }
    } else {
        err
    }
}

/// set-image's GPU-aware surge planning for the stable's rolling update to the canary's
/// template: the strategy to write instead when the surge pods cannot be scheduled (and the user
/// accepted the fallback), `None` to keep the Deployment's own.
async fn plan(
    ctx: &Context,
    w: &Operation,
    name: &str,
    canary: &Value,
    replicas: i32,
) -> Result<Option<RollingUpdate>> {
    let Some(stable) = w.get(&deployment_kind(), name).await? else {
        return Ok(None);
    };
    let template = promoted_template(&stable["spec"]["template"], &canary["spec"]["template"]);
    if template == stable["spec"]["template"] || replicas == 0 {
        return Ok(None);
    }
    let deployment: Deployment = typed(&stable, &format!("deployment {name:?}"))?;
    let Ok(Some(rolling)) =
        RollingUpdate::of_deployment(deployment.spec.as_ref().and_then(|s| s.strategy.as_ref()))
    else {
        return Ok(None);
    };
    let pod_spec: PodSpec = typed(&template["spec"], "the canary's pod template")?;
    plan_surge(&w.cluster, w.terminal, name, &pod_spec, rolling, replicas, ctx.global.yes).await
}
