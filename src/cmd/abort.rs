//! `abort`: weight back to stable first, at once; then the canary objects go and the stable
//! replicas and routes are restored to what they were. Knative: 100% to the stable revision by
//! name, a template naming the stable revision (served again, not rebuilt), then the canary
//! revision goes and the traffic block is as before.

use crate::cli::AbortArgs;
use crate::cluster::Target;
use crate::cmd::lifecycle::{
    canary_selector, load, next_after_interrupt, print_dry_run, pull_weight, wait_deployment, wait_pods_gone,
    write_state, Deadline, NextStep, Operation,
};
use crate::cmd::Context;
use crate::error::Result;
use crate::rollout::canary::canary_name;
use crate::rollout::state::{Phase, CANARY_OF_ANNOTATION};
use crate::router::{self, deployment_kind, End};
use crate::settings::WriteOutput;
use crate::ui::Terminal;
use crate::write::Writer;

/// Run `abort`.
///
/// # Errors
/// Exit 2 when there is no canary; exit 1 when a write is refused or waiting fails.
pub async fn run(ctx: &Context, args: AbortArgs) -> Result<()> {
    let terminal = Terminal::detect(ctx.global.no_color);
    let target = Target::parse(&args.target)?;
    let settings = args.write.settings()?;
    let deadline = Deadline::after(settings.timeout);
    let w = Writer::new(ctx.cluster().await?, settings.dry_run).with_deadline(deadline.0);
    // Requests the cluster could not answer are retried until the command\'s time is up.
    w.cluster.retry_within(settings.timeout);
    let w = Operation::new(w, terminal);
    crate::lock::hold(&w.cluster, &target, "abort", settings.dry_run).await?;
    // Every wait below answers Ctrl-C; the message ends with the command to run next.
    let result: Result<()> = async {
        let model = load(&w, &target).await?;
        let dry = w.is_dry_run();
        let mut state = match model.require_state("abort") {
            Ok(state) => state,
            Err(_) if remove_leftover_canary(&w, &target, settings.output).await? => return Ok(()),
            Err(no_canary) => return Err(no_canary),
        };
        let router = router::from_routing(&w, model.name(), &state.routing, &state.canary).await?;
        if state.phase != Phase::Aborting {
            // A re-run finds the weight already pulled: the phase is recorded right after.
            state.phase = Phase::Aborting;
            if matches!(target, Target::KnativeService(_)) {
                // The knative restore below moves the traffic first.
                state.weight = 0;
                write_state(&w, &model, Some(&state)).await?;
            } else {
                pull_weight(&w, &model, router.as_ref(), &mut state, deadline).await?;
                all_back(&w, &target);
            }
        }
        match &target {
            Target::Deployment(name) => {
                let canary = w.get(&deployment_kind(), &state.canary).await?;
                w.delete(&deployment_kind(), &state.canary).await?;
                if let (Some(selector), false) = (canary.as_ref().and_then(canary_selector), dry) {
                    // Routes go back to the model's Service only once no canary pod can be reached.
                    wait_pods_gone(&w, &selector, deadline).await?;
                }
                router.restore(&w, End::Abort).await?;
                write_state(&w, &model, None).await?;
                if !dry && !settings.no_wait {
                    wait_deployment(&w, name, "stable", deadline).await?;
                }
            }
            Target::KnativeService(_) => {
                router.restore(&w, End::Abort).await?;
                all_back(&w, &target);
                write_state(&w, &model, None).await?;
            }
        }
        if dry {
            print_dry_run(&w, settings.output);
        } else {
            crate::ui::print_stdout(&format!(
                "{target}: canary {} aborted; all traffic is on stable and the routes are as before\n",
                state.canary
            ));
        }
        Ok(())
    }
    .await;
    result.map_err(|e| next_after_interrupt(e, &w, NextStep::Finish("abort"), &target))
}

/// A canary Deployment left without state (e.g. the state was removed by hand) is deleted:
/// `true` when there was one.
///
/// # Errors
/// Exit 1 when it cannot be read or deleted.
async fn remove_leftover_canary(w: &Operation, target: &Target, output: Option<WriteOutput>) -> Result<bool> {
    let Target::Deployment(name) = target else {
        return Ok(false);
    };
    let canary = canary_name(name);
    let orphan = w.get(&deployment_kind(), &canary).await?;
    let marked = orphan.is_some_and(|c| {
        c.pointer(&format!("/metadata/annotations/{}", CANARY_OF_ANNOTATION.replace('/', "~1"))).is_some()
    });
    if !marked {
        return Ok(false);
    }
    w.delete(&deployment_kind(), &canary).await?;
    if w.is_dry_run() {
        print_dry_run(w, output);
    } else {
        crate::ui::print_stdout(&format!("{target}: removed the leftover canary deployment {canary}\n"));
    }
    Ok(true)
}

/// Said once the weight is back on stable (after the write, so a refused write never claims it).
fn all_back(w: &Operation, target: &Target) {
    w.did(
        &format!("{target}: all traffic back to stable"),
        &format!("{target}: would send all traffic back to stable"),
    );
}
