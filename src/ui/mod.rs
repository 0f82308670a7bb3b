//! What the user sees: logging setup, stdout that tolerates a closed pipe, and (in submodules)
//! progress, tables, prompts and `-o` formats. Renders data it is given; does no cluster IO.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Send `-v` logs to stderr: `-v` shows modelroll's steps, `-vv` every API request, `-vvv` kube's
/// own logs too. Below `-vvv` other crates stay quiet: a failure is reported once, as our error.
pub fn init_logging(verbose: u8, no_color: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = match verbose {
        0 => Targets::new().with_target("modelroll", LevelFilter::WARN),
        1 => Targets::new().with_target("modelroll", LevelFilter::DEBUG),
        2 => Targets::new().with_target("modelroll", LevelFilter::TRACE),
        _ => Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target("modelroll", LevelFilter::TRACE)
            .with_target("kube_client", LevelFilter::DEBUG)
            .with_target("kube", LevelFilter::DEBUG),
    };
    let ansi = !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // A failed write is dropped; reporting it would `eprintln!` into the same closed pipe.
        .log_internal_errors(false)
        .with_ansi(ansi);
    let _ = tracing_subscriber::registry().with(log).with(filter).try_init();
}

/// Set once a write to stdout failed (a closed pipe: `| head`): later results are dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Write a result to stdout. A closed pipe (`| head`) ends the output quietly, as Unix tools
/// do, but not the command: its cluster work and its exit code are the same with or without a
/// reader.
pub fn print_stdout(text: &str) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Whether stdout was found closed: a command that only prints (`status --watch`) may stop.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Write one line to stderr. `eprintln!` panics when stderr is gone (`2>&1 | head -1`), and
/// with `panic = "abort"` that killed a command half-way (exit 134); progress and errors are
/// not worth that, so a failed write is dropped.
pub fn print_stderr_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes()).and_then(|()| err.write_all(b"\n"));
}

pub mod model_progress;
pub mod output;
pub mod progress;
pub mod prompt;
pub mod step;
pub mod table;
pub mod waves;

/// What stderr is: a terminal (bars, prompts, redraws) or not (plain timestamped lines), and
/// whether colour is on. Detect it once per command with [`Terminal::detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    /// stderr is a terminal: progress redraws and prompts are possible.
    pub interactive: bool,
    /// ANSI colour on stderr (off with `--no-color`, `NO_COLOR`, or no terminal).
    pub color: bool,
}

impl Terminal {
    /// Look at stderr and the colour settings, and switch `console`'s colours to match.
    pub fn detect(no_color: bool) -> Self {
        let interactive = std::io::stderr().is_terminal();
        let color = interactive && !no_color && std::env::var_os("NO_COLOR").is_none();
        console::set_colors_enabled_stderr(color);
        console::set_colors_enabled(
            !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
        );
        Self { interactive, color }
    }

    /// Not a terminal, no colour (tests, pipes).
    pub const PLAIN: Self = Self { interactive: false, color: false };
}

/// Print one line on stderr: as is on a terminal, prefixed with an RFC 3339 timestamp otherwise
/// (so logs of non-interactive runs read as a timeline).
pub fn note(terminal: Terminal, line: &str) {
    if terminal.interactive {
        print_stderr_line(line);
    } else {
        print_stderr_line(&format!("{} {line}", timestamp()));
    }
}

/// The current time as `2026-01-01T00:00:00Z`.
pub fn timestamp() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A line as [`note`] prints it off a terminal, without the RFC 3339 time it starts with (a
/// line of another run shown in a bar, or quoted in a sentence, needs none).
pub fn strip_timestamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    let stamped = bytes.len() > 21
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && bytes[19] == b'Z'
        && bytes[20] == b' '
        && bytes[..4].iter().all(u8::is_ascii_digit);
    if stamped {
        &line[21..]
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_lose_their_timestamp_in_a_bar() {
        assert_eq!(strip_timestamp("2026-12-05T21:00:00Z rolling out"), "rolling out");
        assert_eq!(strip_timestamp("rolling out"), "rolling out");
    }
}
