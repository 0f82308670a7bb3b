//! The runs of one wave of `--contexts` as they go: a spinner per context with its last line on
//! a terminal, lines prefixed with their context off one; each run's results on stdout, named by
//! their context.

use std::collections::BTreeMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ui::{note, print_stderr_line, print_stdout, strip_timestamp, Terminal};

/// Where the output of the runs of a wave goes: bars on a terminal, prefixed lines otherwise.
pub struct WaveView {
    terminal: Terminal,
    multi: Option<MultiProgress>,
    bars: BTreeMap<String, ProgressBar>,
}

impl WaveView {
    /// Start showing a wave titled `title`: a spinner per context on a terminal (the title once
    /// above them), the title as a line off one.
    pub fn new(terminal: Terminal, title: &str, contexts: &[String]) -> Self {
        if !terminal.interactive {
            note(terminal, title);
            return Self { terminal, multi: None, bars: BTreeMap::new() };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let _ = multi.println(title);
        let style = ProgressStyle::with_template("  {spinner} {prefix:<16} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = contexts
            .iter()
            .map(|c| {
                let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(c.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                (c.clone(), bar)
            })
            .collect();
        Self { terminal, multi: Some(multi), bars }
    }

    /// The latest line a context's run printed on stderr: its spinner's message, or a line
    /// prefixed `[context]` off a terminal.
    pub fn line(&self, context: &str, line: &str) {
        match self.bars.get(context) {
            Some(bar) => bar.set_message(strip_timestamp(line).to_string()),
            None => print_stderr_line(&format!("[{context}] {line}")),
        }
    }

    /// A context's run ended with `outcome`.
    pub fn done(&self, context: &str, outcome: &str) {
        match self.bars.get(context) {
            Some(bar) => bar.finish_with_message(outcome.to_string()),
            None => note(self.terminal, &format!("[{context}] {outcome}")),
        }
    }

    /// A run's results (its stdout), each line named by its context.
    pub fn result(&self, context: &str, stdout: &str) {
        let text: String = stdout.lines().map(|line| format!("{context}: {line}\n")).collect();
        match &self.multi {
            Some(multi) => multi.suspend(|| print_stdout(&text)),
            None => print_stdout(&text),
        }
    }

    /// A line of the wave's own, above the spinners (timestamped off a terminal).
    pub fn say(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => note(self.terminal, line),
        }
    }
}
