//! The countdown of a step held at a weight (`shift --steps`, `canary --interval`, metric
//! checks): a bar on a terminal, a timestamped line per quarter of the interval off one.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::ui::{note, Terminal};

/// The countdown of a held step: a bar on a terminal, a line per quarter of the interval off one.
pub struct StepBar {
    terminal: Terminal,
    bar: Option<ProgressBar>,
    weight: u32,
    next: Option<u32>,
    hold: Duration,
    /// The checks' last values, shown beside the bar ("" without checks).
    detail: String,
    last_quarter: std::cell::Cell<u64>,
}

impl StepBar {
    /// `next` is the weight that follows (None: the checks end the step); `detail` is shown
    /// beside the bar (the checks' last values).
    pub fn new(terminal: Terminal, weight: u32, next: Option<u32>, hold: Duration, detail: String) -> Self {
        let bar = terminal.interactive.then(|| {
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
            note(
                terminal,
                &format!("holding {weight}% for {}, watching the canary", humantime::format_duration(hold)),
            );
        }
        Self { terminal, bar, weight, next, hold, detail, last_quarter: std::cell::Cell::new(0) }
    }

    fn what_follows(&self) -> String {
        match self.next {
            Some(next) => format!("{next}%"),
            None => "checks".into(),
        }
    }

    pub fn tick(&self, left: Duration) {
        let left_secs = left.as_secs();
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.hold.as_secs().saturating_sub(left_secs));
                let last =
                    if self.detail.is_empty() { String::new() } else { format!("  last: {}", self.detail) };
                bar.set_message(format!(
                    "{} in {}{last}",
                    self.what_follows(),
                    humantime::format_duration(Duration::from_secs(left_secs))
                ));
            }
            None => {
                let total = self.hold.as_secs().max(1);
                let quarter = (total - left_secs.min(total)) * 4 / total;
                if quarter > self.last_quarter.get() && quarter < 4 {
                    self.last_quarter.set(quarter);
                    note(
                        self.terminal,
                        &format!("weight {}%: {}s until {}", self.weight, left_secs, self.what_follows()),
                    );
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
