//! The live view of new pods' model readiness, on stderr. On a terminal: a title and one line
//! per pod ("pod ready, model loading 40s"), redrawn. Off a terminal: one timestamped plain line
//! per change of a pod's state, nothing that redraws.

use std::collections::BTreeMap;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::Timestamp;

use crate::rollout::model_ready::PodModel;
use crate::ui::Terminal;

/// Draws the model state of a set of pods.
pub struct ModelDisplay {
    terminal: Terminal,
    lines: Option<(MultiProgress, ProgressBar, Vec<ProgressBar>)>,
    /// Plain mode: the last printed state per pod.
    printed: BTreeMap<String, String>,
}

fn line_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl ModelDisplay {
    /// Start showing, under `title` (e.g. `canary deployment/fraud-canary: asking the model servers (v2)`).
    pub fn new(terminal: Terminal, title: &str) -> Self {
        let lines = terminal.interactive.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let header = multi.add(ProgressBar::new(0).with_style(line_style()));
            header.set_message(title.to_string());
            (multi, header, Vec::new())
        });
        if !terminal.interactive {
            crate::ui::note(terminal, title);
        }
        Self { terminal, lines, printed: BTreeMap::new() }
    }

    /// Print a line above the pod lines (timestamped off a terminal).
    pub fn note(&self, line: &str) {
        match &self.lines {
            Some((multi, _, _)) => {
                let _ = multi.println(line);
            }
            None => crate::ui::note(self.terminal, line),
        }
    }

    /// Show `pods` as of `now`.
    pub fn update(&mut self, pods: &[PodModel], now: Timestamp) {
        match self.lines.as_mut() {
            Some((multi, _, lines)) => {
                while lines.len() < pods.len() {
                    lines.push(multi.add(ProgressBar::new(0).with_style(line_style())));
                }
                for (line, pod) in lines.iter().zip(pods) {
                    line.set_message(format!("  {}  {}", pod.pod, pod.describe(now)));
                }
            }
            None => {
                for pod in pods {
                    let key = pod.change_key();
                    if self.printed.get(&pod.pod) != Some(&key) {
                        self.printed.insert(pod.pod.clone(), key);
                        crate::ui::note(
                            self.terminal,
                            &format!("  pod {}: {}", pod.pod, pod.plain_line(now)),
                        );
                    }
                }
            }
        }
    }

    /// Clear the lines and print the final `line`.
    pub fn finish(self, line: &str) {
        if let Some((multi, header, lines)) = &self.lines {
            for bar in std::iter::once(header).chain(lines.iter()) {
                bar.finish_and_clear();
            }
            let _ = multi.clear();
        }
        crate::ui::note(self.terminal, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::model_ready::ModelPhase;

    #[test]
    fn plain_mode_prints_a_pod_again_only_when_its_state_changes() {
        let mut d = ModelDisplay { terminal: Terminal::PLAIN, lines: None, printed: BTreeMap::new() };
        let mut pod = PodModel {
            pod: "p".into(),
            phase: ModelPhase::Loading { said: "503".into() },
            ready_since: None,
        };
        d.update(std::slice::from_ref(&pod), Timestamp::now());
        let first = d.printed.clone();
        d.update(std::slice::from_ref(&pod), Timestamp::now());
        assert_eq!(d.printed, first);
        pod.phase = ModelPhase::Ready;
        d.update(std::slice::from_ref(&pod), Timestamp::now());
        assert_ne!(d.printed, first);
    }
}
