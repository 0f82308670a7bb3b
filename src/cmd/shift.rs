//! `shift`: move traffic to the canary, at once (`--weight`) or in steps held for `--interval`
//! while watching the canary; a canary that goes bad during a hold gets its weight pulled at once.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::ShiftArgs;
use crate::cluster::Target;
use crate::cmd::lifecycle::{
    canary_baseline, load, move_weight, next_after_interrupt, print_dry_run, pull_weight, say, watch_canary,
    CanaryPods, Deadline, NextStep, WriteSettings,
};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::rollout::state::Phase;
use crate::rollout::weights::{parse_steps, parse_weight};
use crate::router::writer::Writer;
use crate::router::{self};

/// Run `shift`.
///
/// # Errors
/// Exit 2 for bad weights or steps, or no canary; exit 1 when the canary does not get ready for
/// its share or goes bad during an interval (its weight is then back on stable).
pub async fn run(ctx: &Context, args: ShiftArgs) -> Result<()> {
    crate::cmd::lifecycle::init_terminal(ctx);
    let steps = match (&args.weight, &args.steps) {
        (Some(weight), None) => vec![parse_weight(weight).map_err(Error::usage)?],
        (None, Some(steps)) => parse_steps(steps).map_err(Error::usage)?,
        _ => return Err(Error::usage("give either --weight W or --steps W1,W2,…")),
    };
    let interval = Some(args.interval).filter(|_| args.steps.is_some());
    let target = Target::parse(&args.target)?;
    let settings = WriteSettings::parse(&args.write)?;
    let deadline = Deadline::after(settings.timeout);
    let w = Writer::new(ctx.cluster().await?, settings.dry_run);
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
        let last = steps.len() - 1;
        for (i, &weight) in steps.iter().enumerate() {
            if steps.len() > 1 {
                say(&format!("step {}/{}: {weight}%", i + 1, steps.len()));
            }
            let holds = interval.filter(|_| i != last && !w.is_dry_run() && !settings.no_wait);
            let baseline = match holds {
                Some(_) => Some(canary_baseline(&w, &pods).await?),
                None => None,
            };
            move_weight(&w, &model, router.as_ref(), &mut state, weight, deadline).await?;
            let (Some(hold), Some(baseline)) = (holds, baseline) else { continue };
            let bar = StepBar::new(weight, steps[i + 1], hold);
            let verdict = watch_canary(&w, baseline, hold, |left| bar.tick(left)).await;
            bar.finish();
            if let Some(reason) = verdict? {
                pull_weight(&w, &model, router.as_ref(), &mut state, deadline).await?;
                return Err(Error::failed(format!(
                    "the canary of {target} went bad at {weight}%: {reason}; its weight is back on stable. Run `kubectl modelroll abort {target}` to remove it"
                )));
            }
        }
        if w.is_dry_run() {
            print_dry_run(&w, settings.output);
        } else {
            crate::ui::print_stdout(&format!("{target}: canary {} has weight {}%\n", state.canary, state.weight));
        }
        Ok(())
    }
    .await;
    result.map_err(|e| next_after_interrupt(e, &w, NextStep::CarryOnOrAbort, &target))
}

/// The countdown of a held step: a bar on a terminal, a line per quarter of the interval off one.
struct StepBar {
    bar: Option<ProgressBar>,
    weight: u32,
    next: u32,
    hold: Duration,
    last_quarter: std::cell::Cell<u64>,
}

impl StepBar {
    fn new(weight: u32, next: u32, hold: Duration) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(hold.as_secs().max(1));
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("weight {weight:>3}%"));
            bar
        });
        if bar.is_none() {
            say(&format!("holding {weight}% for {}, watching the canary", humantime::format_duration(hold)));
        }
        Self { bar, weight, next, hold, last_quarter: std::cell::Cell::new(0) }
    }

    fn tick(&self, left: Duration) {
        let left_secs = left.as_secs();
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.hold.as_secs().saturating_sub(left_secs));
                bar.set_message(format!(
                    "{}% in {}",
                    self.next,
                    humantime::format_duration(Duration::from_secs(left_secs))
                ));
            }
            None => {
                let total = self.hold.as_secs().max(1);
                let quarter = (total - left_secs.min(total)) * 4 / total;
                if quarter > self.last_quarter.get() && quarter < 4 {
                    self.last_quarter.set(quarter);
                    say(&format!("weight {}%: {}s until {}%", self.weight, left_secs, self.next));
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
