//! `--model-ready` in the commands that bring up new pods (`set-image`, `canary`, `shift`,
//! `promote`): the flags checked once before anything is touched, and the gate run once a
//! track's pods are Ready, shown as it goes. The waiting lives in [`crate::watch::model`], the
//! drawing in [`crate::ui::model_progress`], the decisions in [`crate::rollout::model_ready`].

use crate::cli::ModelReadyArgs;
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::rollout::model_ready::ModelGate;
use crate::ui::model_progress::ModelDisplay;
use crate::ui::Terminal;
use crate::watch::model::{wait_models_ready, ModelCheck, ModelOutcome, ModelProgress};

/// The checked model-readiness settings; `None` without `--model-ready`.
///
/// # Errors
/// Exit 2 for a bad flag or an unreadable `--warmup-body`.
pub fn gate_of(args: &ModelReadyArgs, target_name: &str) -> Result<Option<ModelGate>> {
    let body = match &args.warmup_body {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Error::usage(format!("cannot read --warmup-body {}: {e}", path.display())))?,
        ),
        None => None,
    };
    ModelGate::new(
        args.model_ready.clone(),
        args.model_name.as_deref(),
        target_name,
        args.warmup,
        body,
        args.model_ready_timeout,
    )
    .map_err(Error::from)
}

/// Ask the pods of `check` (when there is a gate) until their models are ready: `Some(failure)`
/// naming the pod and the answer when one does not become model-ready.
///
/// # Errors
/// Exit 1 when the pod proxy is refused by RBAC or the pods cannot be read; 130 on Ctrl-C.
pub async fn model_failure(
    cluster: &Cluster,
    terminal: Terminal,
    gate: Option<&ModelGate>,
    check: ModelCheck,
) -> Result<Option<String>> {
    let Some(gate) = gate else {
        return Ok(None);
    };
    let what = format!("waiting for the models of {}", check.what);
    // Drawn from the first pod asked; the wait of no Ready pod shows nothing.
    let mut display: Option<ModelDisplay> = None;
    let show = |progress: ModelProgress<'_>| match progress {
        ModelProgress::Asking(count) => {
            let title = format!(
                "{}: asking the model servers of {count} {} (--model-ready {}, model {})",
                check.what,
                pods_word(count),
                gate.protocol,
                gate.model
            );
            display = Some(ModelDisplay::new(terminal, &title));
        }
        ModelProgress::States(pods) => {
            if let Some(display) = display.as_mut() {
                display.update(pods, jiff::Timestamp::now());
            }
        }
        // Only the clocks moved: redrawn on a terminal, nothing to print off one.
        ModelProgress::Tick(pods) => {
            if let Some(display) = display.as_mut().filter(|_| terminal.interactive) {
                display.update(pods, jiff::Timestamp::now());
            }
        }
        ModelProgress::Note(line) => {
            if let Some(display) = &display {
                display.note(line);
            }
        }
    };
    let outcome = crate::interruptible(&what, wait_models_ready(cluster, gate, &check, show)).await?;
    let finish = |line: String| {
        if let Some(display) = display {
            display.finish(&line);
        }
    };
    match outcome {
        ModelOutcome::Ready { pods, warmups } => {
            finish(format!("{}: the model is ready on {pods} {}", check.what, pods_word(pods)));
            for line in warmups {
                crate::ui::note(terminal, &line);
            }
            Ok(None)
        }
        ModelOutcome::Failed(failure) => {
            finish(format!("{}: {failure}", check.what));
            Ok(Some(format!("{} is not model-ready: {failure}", check.what)))
        }
        ModelOutcome::Forbidden(sentence) => {
            finish(format!("{}: the pod proxy is forbidden", check.what));
            Err(Error::failed(sentence))
        }
    }
}

/// `pod`, `pods`.
fn pods_word(count: usize) -> &'static str {
    if count == 1 {
        "pod"
    } else {
        "pods"
    }
}

/// As [`model_failure`], with a failure as an exit-1 error.
///
/// # Errors
/// Exit 1 when a pod does not become model-ready (the pod and the answer named), when the
/// pod proxy is refused by RBAC; 130 on Ctrl-C.
pub async fn require_models_ready(
    cluster: &Cluster,
    terminal: Terminal,
    gate: Option<&ModelGate>,
    check: ModelCheck,
) -> Result<()> {
    match model_failure(cluster, terminal, gate, check).await? {
        None => Ok(()),
        Some(failure) => Err(Error::failed(failure)),
    }
}
