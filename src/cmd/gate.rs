//! Metric checks at the edges of `canary`, `shift` and `set-image`: flags turned into checks and
//! a Prometheus (before the cluster is touched), each evaluation sent, printed and recorded, and
//! what a failed check does to a canary (abort as `abort` does, or hold it at weight 0).

use std::time::Duration;

use crate::cli::{AbortArgs, CheckArgs, DryRun, OnFailure, WriteArgs};
use crate::cluster::{parse_request_timeout, Cluster, Target};
use crate::cmd::lifecycle::{
    canary_baseline, now, pull_weight, watch_canary, write_record, write_state, CanaryBaseline, CanaryPods,
    Deadline, Model, Operation,
};
use crate::cmd::route_guard::route_emptied;
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::prometheus::{self, Address, Prometheus};
use crate::rollout::check::{
    evaluation_lines, for_knative, parse_check, parse_check_file, passes, Analysis, Check, CheckResult,
    Evaluation, Next, Placeholders,
};
use crate::rollout::state::RolloutState;
use crate::router::Router;
use crate::ui::step::StepBar;
use crate::ui::Terminal;
use crate::write::Writer;

/// `--check`, `--check-file`, `--prometheus` and `--failure-limit`, checked.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub checks: Vec<Check>,
    pub address: Address,
    pub failure_limit: u32,
}

impl CheckSettings {
    /// The checks of the command line, `None` when there are none. `interval` is the command's
    /// `--interval`: checks are evaluated at its end, so they need one.
    ///
    /// # Errors
    /// Exit 2 for a malformed check or check file, a bad address, a check without an address, or
    /// checks without `--interval`.
    pub fn parse(args: &CheckArgs, interval: Option<Duration>) -> Result<Option<Self>> {
        let mut checks = Vec::new();
        for text in &args.checks {
            checks.push(parse_check(text).map_err(|e| Error::usage(e.to_string()))?);
        }
        if let Some(path) = &args.check_file {
            let shown = path.display().to_string();
            let yaml = std::fs::read_to_string(path)
                .map_err(|e| Error::usage(format!("cannot read --check-file {shown}: {e}")))?;
            checks.extend(parse_check_file(&shown, &yaml).map_err(|e| Error::usage(e.to_string()))?);
        }
        if checks.is_empty() {
            return Ok(None);
        }
        let text = match &args.prometheus {
            Some(text) => text.clone(),
            None => std::env::var(prometheus::ADDRESS_ENV).ok().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                Error::usage(format!(
                    "--check needs a Prometheus to ask: give --prometheus http(s)://HOST:PORT or NAMESPACE/SERVICE:PORT, or set ${}",
                    prometheus::ADDRESS_ENV
                ))
            })?,
        };
        let address = Address::parse(&text).map_err(|e| Error::usage(e.to_string()))?;
        if interval.is_none() {
            return Err(Error::usage(
                "--check is evaluated at the end of each --interval: give --interval DUR (e.g. --interval 1m)",
            ));
        }
        Ok(Some(Self { checks, address, failure_limit: args.failure_limit }))
    }
}

/// The checks of one command, ready to evaluate against its Prometheus.
pub struct Gate {
    prometheus: Prometheus,
    checks: Vec<Check>,
    placeholders: Placeholders,
    pub analysis: Analysis,
    /// Where each evaluation is said.
    terminal: Terminal,
}

impl Gate {
    /// Connect the checks to their Prometheus, with the placeholders of this target. For a ksvc,
    /// the ready-made checks read Knative's metrics. `-v` prints each query as it will be sent;
    /// each evaluation is said on `terminal`.
    ///
    /// # Errors
    /// Exit 1 when no client can be built for the address.
    pub fn new(
        settings: &CheckSettings,
        cluster: &Cluster,
        terminal: Terminal,
        request_timeout: Option<&str>,
        placeholders: Placeholders,
        knative: bool,
    ) -> Result<Self> {
        let timeout = match request_timeout {
            Some(text) => parse_request_timeout(text)?.unwrap_or(prometheus::DEFAULT_TIMEOUT),
            None => prometheus::DEFAULT_TIMEOUT,
        };
        let token = std::env::var(prometheus::TOKEN_ENV).ok().filter(|t| !t.is_empty());
        let prometheus = Prometheus::new(settings.address.clone(), &cluster.client, token, timeout)
            .map_err(|e| Error::failed(e.to_string()).with_source(e))?;
        let checks: Vec<Check> =
            settings.checks.iter().map(|c| if knative { for_knative(c) } else { c.clone() }).collect();
        for check in &checks {
            tracing::debug!(
                "check {}: {} {} {}",
                check.name,
                placeholders.fill(&check.query),
                check.op,
                check.threshold
            );
        }
        Ok(Self {
            prometheus,
            checks,
            placeholders,
            analysis: Analysis::new(settings.failure_limit),
            terminal,
        })
    }

    /// [`Gate::new`] then [`Gate::preflight`]: the gate of a command, proved to answer before
    /// the command changes anything. `target_is_ksvc` picks Knative's ready-made checks.
    ///
    /// # Errors
    /// As [`Gate::new`] and [`Gate::preflight`].
    pub async fn connect(
        settings: &CheckSettings,
        cluster: &Cluster,
        terminal: Terminal,
        request_timeout: Option<&str>,
        placeholders: Placeholders,
        target_is_ksvc: bool,
    ) -> Result<Self> {
        let gate = Self::new(settings, cluster, terminal, request_timeout, placeholders, target_is_ksvc)?;
        gate.preflight().await?;
        Ok(gate)
    }

    /// Send every query once before anything changes, so that an unreachable Prometheus or a
    /// PromQL error stops the command before the first write (the values are not judged yet).
    ///
    /// # Errors
    /// Exit 1 when Prometheus cannot answer a query.
    pub async fn preflight(&self) -> Result<()> {
        for check in &self.checks {
            self.prometheus.query(&self.placeholders.fill(&check.query)).await.map_err(|e| {
                Error::failed(format!(
                    "{e}; nothing was changed: fix the check or Prometheus and run the command again"
                ))
                .with_source(e)
            })?;
        }
        Ok(())
    }

    /// Evaluate every check now, print each value against its threshold, and record it.
    /// `weight` is the canary's during the interval evaluated (None for set-image).
    ///
    /// # Errors
    /// Exit 1 when Prometheus cannot answer (the weights are left as they are).
    pub async fn evaluate(&mut self, weight: Option<u32>) -> Result<(Evaluation, Next)> {
        let mut results = Vec::new();
        for check in &self.checks {
            let query = self.placeholders.fill(&check.query);
            let value = self.prometheus.query(&query).await.map_err(|e| {
                let at = weight.map(|w| format!(" at {w}%")).unwrap_or_default();
                Error::failed(format!(
                    "{e}; no decision without data: the weights are left as they are{at}. Fix it and run the command again, or `kubectl modelroll abort`"
                ))
                .with_source(e)
            })?;
            results.push(CheckResult {
                name: check.name.clone(),
                query,
                op: check.op,
                threshold: check.threshold,
                value: value.text(),
                passed: passes(check, value),
            });
        }
        let evaluation = Evaluation { time: now(), weight, checks: results };
        for line in evaluation_lines(&evaluation) {
            crate::ui::note(self.terminal, &line);
        }
        let next = self.analysis.record(evaluation.clone());
        if next == Next::Retry {
            crate::ui::note(
                self.terminal,
                &format!(
                    "a check failed ({} of {} tolerated by --failure-limit); holding for another interval",
                    self.analysis.failed_evaluations, self.analysis.failure_limit
                ),
            );
        }
        Ok((evaluation, next))
    }

    /// The last values, short, for a progress bar's message.
    pub fn last_values(&self) -> String {
        self.analysis
            .evaluations
            .last()
            .map(|e| {
                e.checks
                    .iter()
                    .map(|c| format!("{} {}", short(&c.name), c.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }
}

fn short(name: &str) -> String {
    let mut name = name.to_string();
    if name.chars().count() > 24 {
        name = name.chars().take(23).collect::<String>() + "…";
    }
    name
}

/// `name value OP threshold` of the checks that failed in `evaluation`.
fn failed_text(evaluation: &Evaluation) -> String {
    evaluation
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{} was {} (wanted {} {})", c.name, c.value, c.op, c.threshold))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The placeholders of a canary: the stable Deployment and `NAME-canary`, or the stable and the
/// canary Knative revisions.
pub fn canary_placeholders(
    model: &Model,
    state: &RolloutState,
    namespace: &str,
    interval: Duration,
) -> Placeholders {
    let stable = match &state.routing {
        crate::rollout::state::Routing::Knative(crate::rollout::state::KnativeRouting {
            stable_revision,
            ..
        }) => stable_revision.clone(),
        _ => model.name().to_string(),
    };
    Placeholders {
        namespace: namespace.to_string(),
        name: model.name().to_string(),
        canary: state.canary.clone(),
        stable,
        interval,
    }
}

/// A check failed beyond `--failure-limit` while the canary had `weight`: abort it by running
/// `abort` itself, or hold it at weight 0. The analysis (with its verdict) stays in the
/// annotation. Returns the exit-3 error to end the command with.
///
/// # Errors
/// Exit 1 when the abort or the hold itself fails.
#[allow(clippy::too_many_arguments)]
pub async fn stop_canary(
    ctx: &Context,
    w: &Operation,
    model: &Model,
    router: &dyn Router,
    state: &mut RolloutState,
    mut analysis: Analysis,
    on_failure: OnFailure,
    deadline: Deadline,
) -> Result<Error> {
    let evaluation = analysis.evaluations.last().cloned();
    let failed = evaluation.as_ref().map(failed_text).unwrap_or_default();
    let weight = state.weight;
    let target = &model.target;
    match on_failure {
        OnFailure::Abort => {
            analysis.verdict = Some(format!("Failed at {weight}%: aborted"));
            w.say(&format!("{target}: a metric check failed at {weight}%: aborting the canary"));
            // The same path as `kubectl modelroll abort`, so both end the canary the same way.
            let abort = AbortArgs {
                target: match target {
                    Target::Deployment(name) => format!("deploy/{name}"),
                    Target::KnativeService(name) => format!("ksvc/{name}"),
                },
                write: WriteArgs {
                    timeout: deadline.0.saturating_duration_since(tokio::time::Instant::now()),
                    no_wait: false,
                    dry_run: DryRun::None,
                    output: None,
                },
            };
            crate::cmd::abort::run(ctx, abort).await?;
            write_record(w, model, &analysis).await?;
            Ok(Error::check_failed(format!(
                "a metric check failed at {weight}%: {failed}; the canary {} was aborted: all traffic is on stable. See `kubectl modelroll status {target}`",
                state.canary
            )))
        }
        OnFailure::Hold => {
            analysis.verdict = Some(format!("Failed at {weight}%: held at weight 0"));
            state.analysis = Some(analysis);
            w.say(&format!(
                "{target}: a metric check failed at {weight}%: the canary keeps running with weight 0"
            ));
            // pull_weight records the state, the analysis with it.
            pull_weight(w, model, router, state, deadline).await?;
            Ok(Error::check_failed(format!(
                "a metric check failed at {weight}%: {failed}; the canary {} is kept at weight 0: look at it, then `kubectl modelroll abort {target}` or `kubectl modelroll shift {target} --weight W`",
                state.canary
            )))
        }
    }
}

/// A held step: the canary's weight, the one that follows (None: the last), how long it is held,
/// and what a failed check does.
pub struct Step<'a> {
    pub ctx: &'a Context,
    pub weight: u32,
    pub next: Option<u32>,
    pub hold: Duration,
    pub on_failure: OnFailure,
}

/// Hold `step.weight` for `step.hold` watching the canary's pods, then evaluate the checks (if
/// any): the step ends when every check passes; a failure within `--failure-limit` holds it again.
///
/// # Errors
/// Exit 1 when a canary pod goes bad (its weight is then back on stable), a destination of the
/// route with weight no longer selects a ready pod or Prometheus cannot answer (weights left as
/// they are); exit 3 when the checks fail (the canary stopped as
/// `step.on_failure` says); 130 on Ctrl-C.
#[allow(clippy::too_many_arguments)]
pub async fn hold_step(
    w: &Operation,
    model: &Model,
    router: &dyn Router,
    state: &mut RolloutState,
    pods: &CanaryPods,
    mut baseline: CanaryBaseline,
    mut gate: Option<&mut Gate>,
    step: &Step<'_>,
    deadline: Deadline,
) -> Result<()> {
    let target = &model.target;
    let weight = step.weight;
    loop {
        let detail = gate.as_ref().map(|g| g.last_values()).unwrap_or_default();
        let bar = StepBar::new(w.terminal, weight, step.next, step.hold, detail);
        // Both at once: the canary's pods, and every destination of the route that has weight.
        let verdict = tokio::select! {
            verdict = watch_canary(w, baseline, step.hold, |left| bar.tick(left)) => verdict,
            emptied = route_emptied(w, router, weight) => {
                bar.finish();
                return Err(Error::failed(format!(
                    "{}, while {target} held {weight}% for the canary: modelroll stopped and left the weights as they are ({}% stable, {weight}% canary). Give the pods back their labels (e.g. modelroll.io/track on the pod template) or scale them back, then run the shift again, or run `kubectl modelroll abort {target}`",
                    emptied?,
                    100 - weight.min(100)
                )));
            }
        };
        bar.finish();
        if let Some(reason) = verdict? {
            pull_weight(w, model, router, state, deadline).await?;
            return Err(Error::failed(format!(
                "the canary of {target} went bad at {weight}%: {reason}; its weight is back on stable. Run `kubectl modelroll abort {target}` to remove it"
            )));
        }
        let Some(gate) = gate.as_mut() else { return Ok(()) };
        let (_, next) = gate.evaluate(Some(weight)).await?;
        state.analysis = Some(gate.analysis.clone());
        match next {
            Next::Advance => return write_state(w, model, Some(state)).await,
            Next::Retry => {
                write_state(w, model, Some(state)).await?;
                baseline = canary_baseline(w, pods).await?;
            }
            Next::Fail => {
                let analysis = gate.analysis.clone();
                return Err(stop_canary(
                    step.ctx,
                    w,
                    model,
                    router,
                    state,
                    analysis,
                    step.on_failure,
                    deadline,
                )
                .await?);
            }
        }
    }
}

/// Every step passed its checks: say so in the record.
///
/// # Errors
/// When the state cannot be written.
pub async fn record_passed(w: &Writer, model: &Model, state: &mut RolloutState, gate: &Gate) -> Result<()> {
    let mut analysis = gate.analysis.clone();
    analysis.verdict = Some("Passed".into());
    state.analysis = Some(analysis);
    write_state(w, model, Some(state)).await
}
