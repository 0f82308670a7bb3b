//! A rollout followed on screen: the waits of [`crate::watch`] yield each progress and draw
//! nothing; here a [`RolloutDisplay`] of [`crate::ui::progress`] draws them, and the last line
//! says how the wait ended.

use k8s_openapi::api::apps::v1::Deployment;

use crate::cluster::Cluster;
use crate::error::{ExitCode, Result};
use crate::ui::progress::RolloutDisplay;
use crate::ui::Terminal;
use crate::watch::{wait_for_deployment_rollout, WaitOptions, WaitOutcome};

/// Wait for a Deployment rollout on a fresh [`RolloutDisplay`] titled `title`, and end the display
/// with a line saying how it went. The one function the commands use to follow a rollout.
///
/// # Errors
/// As [`wait_for_deployment_rollout`].
pub async fn follow_deployment_rollout(
    cluster: &Cluster,
    terminal: Terminal,
    deployment: &Deployment,
    options: &WaitOptions,
    title: &str,
) -> Result<WaitOutcome> {
    let mut display = RolloutDisplay::new(terminal, title);
    let outcome = wait_for_deployment_rollout(cluster, deployment, options, |progress, now| {
        display.update(progress, now)
    })
    .await;
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    display.finish(&outcome_line(&format!("deployment/{name}"), &outcome, options));
    outcome
}

/// The last line of a rollout display.
pub fn outcome_line(object: &str, outcome: &Result<WaitOutcome>, options: &WaitOptions) -> String {
    match outcome {
        Ok(WaitOutcome::Done(p)) => {
            let revision = p.revision.map(|r| format!("revision {r}: ")).unwrap_or_default();
            format!(
                "{object}: {revision}all {} replicas updated, ready and available; no old replicas left",
                p.desired
            )
        }
        Ok(WaitOutcome::Failed(f, _)) => format!("{object}: rollout failed: {f}"),
        Ok(WaitOutcome::TimedOut(p)) => format!(
            "{object}: rollout timed out after {}: {}",
            humantime::format_duration(options.timeout),
            p.waiting_for.as_deref().unwrap_or("not done")
        ),
        Err(e) if e.code == ExitCode::Interrupted => format!("{object}: stopped waiting"),
        Err(e) => format!("{object}: {e}"),
    }
}
