//! `shift`: move traffic to the canary, at once (`--weight`) or in steps held for `--interval`
//! while watching the canary; a canary that goes bad during a hold gets its weight pulled at once.

use crate::cli::ShiftArgs;
use crate::cluster::Target;
use crate::cmd::gate::{canary_placeholders, hold_step, record_passed, CheckSettings, Gate, Step};
use crate::cmd::lifecycle::{
    canary_baseline, deployment_done, live_replicas, load, move_weight, next_after_interrupt, print_dry_run,
    weight_text, CanaryPods, Deadline, Model, NextStep, Operation,
};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::rollout::live::plan;
use crate::rollout::state::{Phase, RolloutState};
use crate::rollout::weights::{parse_steps, parse_weight};
use crate::router::{self, knative};
use crate::ui::Terminal;
use crate::write::Writer;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

/// Run `shift`.
///
/// # Errors
/// Exit 2 for bad weights, steps or checks, or no canary; exit 1 when the canary does not get
/// ready for its share or goes bad during an interval (its weight is then back on stable), or
/// Prometheus cannot answer (weights left as they are); exit 3 when a metric check fails (the
/// canary aborted, or held at weight 0 with `--on-failure hold`).
pub async fn run(ctx: &Context, args: ShiftArgs) -> Result<()> {
    let terminal = Terminal::detect(ctx.global.no_color);
    let steps = match (&args.weight, &args.steps) {
        (Some(weight), None) => vec![parse_weight(weight)?],
        (None, Some(steps)) => parse_steps(steps)?,
        _ => return Err(Error::usage("give either --weight W or --steps W1,W2,…")),
    };
    let checks = CheckSettings::parse(&args.checks, Some(args.interval))?;
    // Steps are held; a single --weight only when checks judge it.
    let interval = Some(args.interval).filter(|_| args.steps.is_some() || checks.is_some());
    let target = Target::parse(&args.target)?;
    let settings = args.write.settings()?;
    let model_ready = crate::cmd::model_gate::gate_of(&args.model, target.name())?;
    let deadline = Deadline::after(settings.timeout);
    let w = Writer::new(ctx.cluster().await?, settings.dry_run).with_deadline(deadline.0);
    // Requests the cluster could not answer are retried until the command\'s time is up.
    w.cluster.retry_within(settings.timeout);
    let w = Operation::new(w, terminal);
    crate::lock::hold(&w.cluster, &target, "shift", settings.dry_run).await?;
    // Every wait below answers Ctrl-C; the message ends with the command to run next.
    let result: Result<()> = async {
        let model = load(&w, &target).await?;
        let mut state = model.require_state("shift")?;
        match state.phase {
            Phase::Promoting | Phase::Aborting => {
                return Err(Error::usage(format!(
                    "the canary of {target} is being {}; finish that first",
                    if state.phase == Phase::Promoting { "promoted" } else { "aborted" }
                )));
            }
            Phase::Starting | Phase::Canary => {}
        }
        let router = router::from_routing(&w, model.name(), &state.routing, &state.canary).await?;
        let pods = match target {
            Target::Deployment(_) => CanaryPods::Deployment(state.canary.clone()),
            Target::KnativeService(_) => CanaryPods::Revision(state.canary.clone()),
        };
        let waits = !w.is_dry_run() && !settings.no_wait;
        let mut gate = match (&checks, interval) {
            (Some(checks), Some(interval)) if waits => {
                let placeholders = canary_placeholders(&model, &state, w.namespace(), interval);
                let knative = matches!(target, Target::KnativeService(_));
                // Before anything changes: no step without a Prometheus that answers.
                let timeout = ctx.global.request_timeout.as_deref();
                Some(Gate::connect(checks, &w.cluster, terminal, timeout, placeholders, knative).await?)
            }
            _ => None,
        };
        let last = steps.len() - 1;
        for (i, &weight) in steps.iter().enumerate() {
            if steps.len() > 1 {
                w.say(&format!("step {}/{}: {weight}%", i + 1, steps.len()));
            }
            // With checks every step is held (the last one too: its weight must prove itself);
            // without, the last step of --steps is not.
            let held = i != last || gate.is_some();
            let holds = interval.filter(|_| held && waits);
            let baseline = match holds {
                Some(_) => Some(canary_baseline(&w, &pods).await?),
                None => None,
            };
            if settings.no_wait && !w.is_dry_run() {
                refuse_a_step_that_waits(&w, &model, &state, weight).await?;
            }
            move_weight(&w, &model, router.as_ref(), &mut state, weight, deadline, model_ready.as_ref())
                .await?;
            let (Some(hold), Some(baseline)) = (holds, baseline) else { continue };
            let step =
                Step { ctx, weight, next: steps.get(i + 1).copied(), hold, on_failure: args.on_failure };
            hold_step(
                &w,
                &model,
                router.as_ref(),
                &mut state,
                &pods,
                baseline,
                gate.as_mut(),
                &step,
                deadline,
            )
            .await?;
        }
        if let Some(gate) = &gate {
            record_passed(&w, &model, &mut state, gate).await?;
        }
        if w.is_dry_run() {
            print_dry_run(&w, settings.output);
        } else {
            crate::ui::print_stdout(&format!(
                "{target}: canary {} has weight {}\n",
                state.canary,
                weight_text(router.as_ref(), state.stable_replicas, state.weight)
            ));
        }
        Ok(())
    }
    .await;
    result.map_err(|e| next_after_interrupt(e, &w, NextStep::CarryOnOrAbort, &target))
}

/// `--no-wait` returns once the change is accepted, so it moves weight only onto pods that are
/// ready now: a step that would first need new canary or stable pods (or a canary revision that is
/// not ready) is refused before anything changes, since waiting is what it was told not to do and
/// weight before readiness routes to nothing.
///
/// # Errors
/// Exit 1 naming what is not ready; when the objects cannot be read.
async fn refuse_a_step_that_waits(
    w: &Writer,
    model: &Model,
    state: &RolloutState,
    weight: u32,
) -> Result<()> {
    let retry = format!("run `kubectl modelroll shift {}` without --no-wait to wait for it", model.target);
    if matches!(model.target, Target::KnativeService(_)) {
        if weight == 0 {
            return Ok(());
        }
        let (_, revision_kind) = router::knative_kinds(w).await?;
        let revision = w.get(&revision_kind, &state.canary).await?;
        return match revision.as_ref().and_then(knative::revision_ready) {
            Some(Ok(())) => Ok(()),
            _ => Err(Error::failed(format!(
                "the canary revision {} is not ready, and --no-wait gives weight only to a ready canary; {retry}",
                state.canary
            ))),
        };
    }
    let live = live_replicas(w, model.name(), &state.canary).await?;
    let step = plan(state.routing.carrier(), state.stable_replicas, state.weight, &live, weight);
    let api: Api<Deployment> = Api::namespaced(w.cluster.client.clone(), w.namespace());
    let ready_now = |name: String| {
        let api = api.clone();
        async move {
            let d = api
                .get(&name)
                .await
                .map_err(|e| w.cluster.api_error(e, &format!("get deployment {name}")))?;
            Ok::<_, Error>(deployment_done(&d))
        }
    };
    if weight > 0 || step.canary > 0 {
        let (done, ready, _) = ready_now(state.canary.clone()).await?;
        if step.canary > live.canary || !done {
            return Err(Error::failed(format!(
                "{weight}% needs {} of the canary deployment {}, which has {ready} now, and --no-wait does not wait for them; {retry}",
                ready_pods(step.canary), state.canary
            )));
        }
    }
    if let Some(stable) = step.stable.filter(|&s| s > live.stable) {
        let (_, ready, _) = ready_now(model.name().to_string()).await?;
        return Err(Error::failed(format!(
            "{weight}% needs {} of the stable deployment {}, which has {ready} now, and --no-wait does not wait for them; {retry}",
            ready_pods(stable), model.name()
        )));
    }
    Ok(())
}

/// `1 ready pod`, `3 ready pods`.
fn ready_pods(n: i32) -> String {
    format!("{n} ready {}", if n == 1 { "pod" } else { "pods" })
}
