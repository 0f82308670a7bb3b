//! The real binary on a real pseudo-terminal (expectrl), and what a terminal of that size would
//! show after its output (vt100): for bars, prompts and Ctrl-C, which behave differently off a
//! terminal, so that captured pipes cannot test them.
//!
//! ```ignore
//! let mut term = Pty::spawn(&pg, &["canary", "m", "--image", "m:v2"], 100);
//! term.expect("waiting for its pods");
//! term.ctrl_c();
//! let (code, screen) = term.finish();
//! ```

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Session};

/// Rows of the simulated terminal: enough that nothing a test looks at scrolls away.
const ROWS: u16 = 300;

/// A running `kubectl-modelroll` on a pseudo-terminal, and every byte it wrote so far.
pub struct Pty {
    session: OsSession,
    seen: Vec<u8>,
    cols: u16,
    what: String,
}

impl Pty {
    /// Run `kubectl-modelroll --kubeconfig KUBECONFIG ARGS` on a terminal `cols` wide. The size
    /// is set by `stty` before the binary starts, so its first look at the terminal sees it.
    pub fn spawn(kubeconfig: &Path, args: &[&str], cols: u16) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("stty cols {cols} rows {ROWS} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_kubectl-modelroll"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .env_remove("KUBECONFIG")
            .env_remove("NO_COLOR")
            .env("TERM", "xterm-256color");
        let mut session = Session::spawn(command).expect("a pseudo-terminal for kubectl-modelroll");
        session.set_expect_timeout(Some(Duration::from_secs(60)));
        Self { session, seen: Vec::new(), cols, what: format!("{args:?}") }
    }

    /// Wait until the output (escape sequences and all) contains `text`; panics with the screen
    /// so far after 60s.
    #[track_caller]
    pub fn expect(&mut self, text: &str) {
        match self.session.expect(text) {
            Ok(found) => self.seen.extend_from_slice(found.as_bytes()),
            Err(e) => {
                // Whatever was read is still buffered in the session: show it.
                if let Ok(rest) = self.session.expect(Eof) {
                    self.seen.extend_from_slice(rest.as_bytes());
                }
                panic!("{}: never printed {text:?} ({e}); the screen:\n{}", self.what, self.screen())
            }
        }
    }

    /// Type `text` (no Enter unless it ends with "\r").
    pub fn send(&mut self, text: &str) {
        self.session.send(text).expect("write to the pseudo-terminal");
    }

    /// Press Ctrl-C: the terminal sends SIGINT to the foreground process group, as a shell's does.
    pub fn ctrl_c(&mut self) {
        self.session.send(expectrl::ControlCode::EndOfText).expect("write to the pseudo-terminal");
    }

    /// Read until the program ends; its exit code (128 + N when killed by signal N) and the
    /// screen a terminal would show.
    #[track_caller]
    pub fn finish(mut self) -> (i32, String) {
        match self.session.expect(Eof) {
            Ok(rest) => self.seen.extend_from_slice(rest.as_bytes()),
            Err(e) => panic!("{}: did not end ({e}); the screen:\n{}", self.what, self.screen()),
        }
        let code = match self.session.get_process().wait().expect("wait for kubectl-modelroll") {
            WaitStatus::Exited(_, code) => code,
            WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
            other => panic!("{}: unexpected wait status {other:?}", self.what),
        };
        (code, self.screen())
    }

    /// What a terminal of this size shows now: the lines with text, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        let size = |n: u16| std::num::NonZeroU16::new(n).expect("a terminal has a size");
        let mut parser = vt100::Parser::new(size(ROWS), size(self.cols), 0);
        // The pseudo-terminal turns "\n" into "\r\n" as a real one does.
        parser.process(&self.seen);
        let contents = parser.screen().contents();
        let lines: Vec<&str> = contents.lines().map(str::trim_end).collect();
        let last = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
        lines[..last].join("\n")
    }
}
