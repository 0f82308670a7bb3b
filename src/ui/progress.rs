//! The live view of a rollout, on stderr. On a terminal: indicatif bars for updated / ready /
//! available against desired and for old replicas remaining, one line per pod not ready yet, an
//! ETA. Off a terminal: one timestamped plain line per change of state, nothing that redraws.
//!
//! Use: [`RolloutDisplay::new`], then [`RolloutDisplay::update`] with each new
//! [`RolloutProgress`] (and about once a second on a terminal, to move the clocks), then
//! [`RolloutDisplay::finish`]. [`RolloutDisplay::note`] prints a line above the bars.

use std::collections::BTreeMap;
use std::time::Duration;

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::Timestamp;

use crate::rollout::progress::{short_duration, PodPhase, PodProgress, RolloutProgress};
use crate::rollout::status::is_trouble;
use crate::ui::Terminal;

/// Draws one rollout.
pub struct RolloutDisplay {
    terminal: Terminal,
    bars: Option<Bars>,
    /// Plain mode: what was last printed, per key, to print only changes.
    printed: BTreeMap<String, String>,
}

struct Bars {
    multi: MultiProgress,
    header: ProgressBar,
    updated: ProgressBar,
    ready: ProgressBar,
    available: ProgressBar,
    old: ProgressBar,
    /// The most old replicas seen: the old bar counts down from it.
    old_peak: u64,
    pods: Vec<ProgressBar>,
}

fn bar_style(color: bool) -> ProgressStyle {
    let template = if color {
        "  {prefix:>10} [{bar:30.green/white}] {pos}/{len}"
    } else {
        "  {prefix:>10} [{bar:30}] {pos}/{len}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn line_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl RolloutDisplay {
    /// Start showing a rollout titled `title` (e.g. `deployment/fraud: registry.example/fraud:v2`).
    pub fn new(terminal: Terminal, title: &str) -> Self {
        let bars = terminal.interactive.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let header = multi.add(ProgressBar::new(0).with_style(line_style()));
            header.set_message(title.to_string());
            let make = |name: &str| {
                let bar = multi.add(ProgressBar::new(0).with_style(bar_style(terminal.color)));
                bar.set_prefix(name.to_string());
                bar
            };
            let updated = make("updated");
            let ready = make("ready");
            let available = make("available");
            let old = make("old");
            Bars { multi, header, updated, ready, available, old, old_peak: 0, pods: Vec::new() }
        });
        let display = Self { terminal, bars, printed: BTreeMap::new() };
        if !terminal.interactive {
            crate::ui::note(terminal, title);
        }
        display
    }

    /// Print a line above the bars (timestamped off a terminal).
    pub fn note(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.multi.println(line);
            }
            None => crate::ui::note(self.terminal, line),
        }
    }

    /// Show `progress` as of `now`.
    pub fn update(&mut self, progress: &RolloutProgress, now: Timestamp) {
        if self.bars.is_some() {
            self.draw(progress, now);
        } else {
            self.print_changes(progress);
        }
    }

    fn draw(&mut self, progress: &RolloutProgress, now: Timestamp) {
        let terminal = self.terminal;
        let Some(bars) = self.bars.as_mut() else { return };
        let desired = u64::try_from(progress.desired.max(0)).unwrap_or(0);
        let count = |n: i32| u64::try_from(n.max(0)).unwrap_or(0);
        for (bar, value) in [
            (&bars.updated, progress.updated),
            (&bars.ready, progress.ready),
            (&bars.available, progress.available),
        ] {
            bar.set_length(desired);
            bar.set_position(count(value).min(desired));
        }
        bars.old_peak = bars.old_peak.max(count(progress.old));
        bars.old.set_length(bars.old_peak);
        bars.old.set_position(count(progress.old));
        let mut header = String::new();
        if let Some(revision) = progress.revision {
            header.push_str(&format!("revision {revision}: "));
        }
        header.push_str(progress.waiting_for.as_deref().unwrap_or("rolled out"));
        if let Some(eta) = progress.eta {
            header.push_str(&format!(" (ETA {})", short_duration(eta)));
        }
        bars.header.set_message(header);
        let width = usize::from(console::Term::stderr().size().1).max(40);
        while bars.pods.len() < progress.pods.len() {
            let line = bars.multi.add(ProgressBar::new(0).with_style(line_style()));
            bars.pods.push(line);
        }
        while bars.pods.len() > progress.pods.len() {
            if let Some(line) = bars.pods.pop() {
                line.finish_and_clear();
                bars.multi.remove(&line);
            }
        }
        for (line, pod) in bars.pods.iter().zip(&progress.pods) {
            let text = format!("  {}  {}", pod.name, pod.describe(now));
            let text = console::truncate_str(&text, width - 1, "…").to_string();
            let text =
                if terminal.color && is_trouble(&pod.phase) { style(text).red().to_string() } else { text };
            line.set_message(text);
        }
    }

    fn print_changes(&mut self, progress: &RolloutProgress) {
        let mut summary = progress.summary();
        if let Some(revision) = progress.revision {
            summary = format!("revision {revision}: {summary}");
        }
        if let Some(waiting) = &progress.waiting_for {
            summary.push_str(&format!(" ({waiting})"));
        }
        self.print_if_changed("summary", &summary, || summary.clone());
        let mut seen = Vec::new();
        for pod in &progress.pods {
            let key = format!("pod/{}", pod.name);
            let state = phase_key(pod);
            let line = format!("  pod {}: {}", pod.name, pod.state());
            self.print_if_changed(&key, &state, || line.clone());
            seen.push(key);
        }
        // Pods that became ready (or went away) print nothing more; forget them.
        self.printed.retain(|k, _| !k.starts_with("pod/") || seen.contains(k));
    }

    fn print_if_changed(&mut self, key: &str, state: &str, line: impl FnOnce() -> String) {
        if self.printed.get(key).map(String::as_str) != Some(state) {
            self.printed.insert(key.to_string(), state.to_string());
            crate::ui::note(self.terminal, &line());
        }
    }

    /// Clear the bars and print the final `line` (e.g. `deployment/fraud rolled out (revision 3)`).
    pub fn finish(self, line: &str) {
        if let Some(bars) = &self.bars {
            for bar in [&bars.header, &bars.updated, &bars.ready, &bars.available, &bars.old]
                .into_iter()
                .chain(bars.pods.iter())
            {
                bar.finish_and_clear();
            }
            let _ = bars.multi.clear();
        }
        crate::ui::note(self.terminal, line);
    }

    /// How often to call [`update`](Self::update) without news, to move the clocks (None: never).
    pub fn tick(&self) -> Option<Duration> {
        self.bars.as_ref().map(|_| Duration::from_secs(1))
    }
}

/// What about a pod counts as a change worth a new plain line (not its age).
fn phase_key(pod: &PodProgress) -> String {
    match &pod.phase {
        PodPhase::Pending { reason, message } => format!("pending {reason:?} {message:?}"),
        PodPhase::CrashLoop { restarts } => format!("crashloop {restarts}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_mode_prints_only_changes() {
        let mut d = RolloutDisplay { terminal: Terminal::PLAIN, bars: None, printed: BTreeMap::new() };
        let pod = PodProgress { name: "p".into(), phase: PodPhase::Loading, since: None };
        let progress = RolloutProgress {
            desired: 2,
            waiting_for: Some("w".into()),
            pods: vec![pod],
            ..Default::default()
        };
        d.update(&progress, Timestamp::now());
        assert_eq!(d.printed.len(), 2);
        let before = d.printed.clone();
        d.update(&progress, Timestamp::now());
        assert_eq!(d.printed, before);
        let done = RolloutProgress { desired: 2, ..Default::default() };
        d.update(&done, Timestamp::now());
        assert_eq!(d.printed.len(), 1);
    }
}
