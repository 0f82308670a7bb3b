//! `status`: one screen on the model: phase, strategy, revisions with their pods, images, model
//! versions, problem pods. Reads: the target, its ReplicaSets or Revisions (a canary's
//! ReplicaSets are among the stable's), and its pods, which a Deployment reads only when its
//! ReplicaSets count some not ready; plus the live route of an istio or gateway-api canary, whose
//! weight wins over the recorded one. So three requests, a mesh canary included, while all pods
//! are ready; four when one is not. `--watch` redraws on every change, from watches rather than
//! repeated requests.

use std::io::IsTerminal;

use crate::cli::{ReadOutput, StatusArgs};
use crate::cluster::{Cluster, Target};
use crate::cmd::lifecycle::canary_deployment;
use crate::cmd::objects::{
    get_deployment, get_knative_service, knative_revisions, pods_matching, replica_sets_of, route_object,
    selector_of, without_stale_record_of,
};
use crate::cmd::Context;
use crate::error::{Error, ExitCode, Result};
use crate::rollout::canary_status::{
    add_live_weight, raw_annotations, recorded_canary, with_recorded_canary, CanaryTrack,
};
use crate::rollout::live::route_weight;
use crate::rollout::state::RolloutState;
use crate::rollout::status::{deployment_status, knative_status, needs_pods, ModelStatus};
use crate::ui::{self, output, table};
use crate::watch::{observe_deployment, observe_knative, Step};

/// Run `status`.
///
/// # Errors
/// Exit 2 when the target does not exist; exit 1 when the cluster refuses; 130 when a `--watch`
/// is interrupted.
pub async fn run(ctx: &Context, args: StatusArgs) -> Result<()> {
    let target = Target::parse(&args.target)?;
    if args.watch {
        let cluster = ctx.cluster().await?;
        // Ctrl-C is how a watch ends: exit 130 (CLI.md's "interrupted") without an error line.
        return crate::interruptible("watching the status", watch(&cluster, &target, args.output))
            .await
            .map_err(|e| if e.code == ExitCode::Interrupted { Error::interrupted_quietly() } else { e });
    }
    let now = jiff::Timestamp::now();
    let status = read(ctx, &target, now).await?;
    ui::print_stdout(&render(&status, args.output, now)?);
    Ok(())
}

/// The status of `target` in the cluster of `ctx` at `now` (what `status` prints, and each
/// context's row of `status --contexts`).
///
/// # Errors
/// Exit 2 when the target does not exist; exit 1 when the cluster refuses or cannot be reached.
pub async fn read(ctx: &Context, target: &Target, now: jiff::Timestamp) -> Result<ModelStatus> {
    let cluster = ctx.cluster().await?;
    Ok(match target {
        Target::Deployment(name) => {
            let (_, deployment) = get_deployment(&cluster, name).await?;
            let replica_sets = replica_sets_of(&cluster, &deployment).await?;
            // Pods only when some are not ready (a settled model, a canary included, is two reads).
            let pods = if needs_pods(&deployment, &replica_sets) {
                pods_matching(&cluster, &selector_of(&deployment)?).await?
            } else {
                Vec::new()
            };
            let status = deployment_status(&cluster.namespace, &deployment, &replica_sets, &pods, now);
            let annotations =
                without_stale_record_of(&cluster, deployment.metadata.annotations.as_ref(), &replica_sets)
                    .await?;
            let annotations = annotations.as_ref();
            let canary = match recorded_canary(annotations) {
                None => None,
                Some(name) => match CanaryTrack::from_replica_sets(&name, &replica_sets) {
                    Some(track) => Some(track),
                    None => {
                        canary_deployment(&cluster, &name).await?.as_ref().map(CanaryTrack::from_deployment)
                    }
                },
            };
            let mut status = with_recorded_canary(status, annotations, canary.as_ref());
            if let Ok(Some(state)) = RolloutState::from_annotations(annotations) {
                let route = route_object(&cluster, &cluster.namespace, &state.routing).await?;
                if let Some(live) = route.and_then(|r| route_weight(&state.routing, name, &state.canary, &r))
                {
                    add_live_weight(&mut status, live);
                }
            }
            status
        }
        Target::KnativeService(name) => {
            let ksvc = get_knative_service(&cluster, name).await?;
            let revisions = knative_revisions(&cluster, name).await?;
            let pods = pods_matching(&cluster, &format!("serving.knative.dev/service={name}")).await?;
            let status = knative_status(&cluster.namespace, &ksvc, &revisions, &pods, now);
            let annotations = raw_annotations(&ksvc);
            let mut status = with_recorded_canary(status, annotations.as_ref(), None);
            if let Ok(Some(state)) = RolloutState::from_annotations(annotations.as_ref()) {
                if let Some(live) = route_weight(&state.routing, name, &state.canary, &ksvc) {
                    add_live_weight(&mut status, live);
                }
            }
            status
        }
    })
}

/// The status in the `-o` format.
///
/// # Errors
/// Serialization failure (a bug).
pub fn render(status: &ModelStatus, output: ReadOutput, now: jiff::Timestamp) -> Result<String> {
    match output {
        ReadOutput::Table => Ok(table::status_screen(status, now, false)),
        ReadOutput::Wide => Ok(table::status_screen(status, now, true)),
        ReadOutput::Json => output::json(status),
        ReadOutput::Yaml => output::yaml(status),
    }
}

/// Redraw the status on every change until interrupted. On a terminal the screen is cleared and
/// redrawn (clocks move each second); otherwise a new screen is printed only when something
/// other than the clocks changed.
async fn watch(cluster: &Cluster, target: &Target, output: ReadOutput) -> Result<()> {
    let interactive =
        std::io::stdout().is_terminal() && matches!(output, ReadOutput::Table | ReadOutput::Wide);
    let mut last_key = String::new();
    let mut show = move |status: ModelStatus, frozen: ModelStatus| -> Result<Step<()>> {
        let now = jiff::Timestamp::now();
        let key = format!("{}{}", serde_json::to_string(&frozen).unwrap_or_default(), status.phase);
        if interactive {
            let _ = console::Term::stdout().clear_screen();
            ui::print_stdout(&render(&status, output, now)?);
        } else if key != last_key {
            if !last_key.is_empty() && matches!(output, ReadOutput::Table | ReadOutput::Wide) {
                ui::print_stdout("\n");
            }
            ui::print_stdout(&render(&status, output, now)?);
        }
        last_key = key;
        // No one reads any more (`status --watch | head`): the watch has nothing left to do.
        if ui::stdout_closed() {
            return Ok(Step::Stop(()));
        }
        Ok(Step::Continue)
    };
    // Statuses computed at the epoch have every clock at zero: they differ only in substance.
    let epoch = jiff::Timestamp::UNIX_EPOCH;
    match target {
        Target::Deployment(name) => {
            let (_, deployment) = get_deployment(cluster, name).await?;
            observe_deployment(cluster, &deployment, |current, replica_sets, pods| {
                let Some(current) = current else {
                    return Err(Error::failed(format!("deployment {name:?} was deleted")));
                };
                let now = jiff::Timestamp::now();
                let annotations = current.metadata.annotations.as_ref();
                let canary = recorded_canary(annotations)
                    .and_then(|name| CanaryTrack::from_replica_sets(&name, replica_sets));
                show(
                    with_recorded_canary(
                        deployment_status(&cluster.namespace, current, replica_sets, pods, now),
                        annotations,
                        canary.as_ref(),
                    ),
                    with_recorded_canary(
                        deployment_status(&cluster.namespace, current, replica_sets, pods, epoch),
                        annotations,
                        canary.as_ref(),
                    ),
                )
            })
            .await
        }
        Target::KnativeService(name) => {
            get_knative_service(cluster, name).await?;
            observe_knative(cluster, name, |ksvc, revisions, pods| {
                let Some(ksvc) = ksvc else {
                    return Err(Error::failed(format!("ksvc {name:?} was deleted")));
                };
                let raw = serde_json::to_value(ksvc).unwrap_or_default();
                let revisions: Vec<serde_json::Value> =
                    revisions.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect();
                let now = jiff::Timestamp::now();
                let annotations = raw_annotations(&raw);
                show(
                    with_recorded_canary(
                        knative_status(&cluster.namespace, &raw, &revisions, pods, now),
                        annotations.as_ref(),
                        None,
                    ),
                    with_recorded_canary(
                        knative_status(&cluster.namespace, &raw, &revisions, pods, epoch),
                        annotations.as_ref(),
                        None,
                    ),
                )
            })
            .await
        }
    }
}
