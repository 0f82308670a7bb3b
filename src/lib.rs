//! kubectl-modelroll: safe rollouts of machine-learning models on Kubernetes.
//!
//! `main.rs` calls [`main_entry`]; everything else lives here so that tests reach it.

pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod error;
pub mod lock;
pub mod prometheus;
pub mod retry;
pub mod rollout;
pub mod router;
pub mod settings;
pub mod stream_list;
pub mod ui;
pub mod watch;
pub mod write;

// The simulated cluster and the shared parsers are crates of their own (`crates/`); their paths
// under the plugin stay as they were (`crate::playground::Store`, `crate::quantity::Quantity`).
pub use kube_units::{duration, quantity};
pub use playground;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use clap::Parser;

use crate::error::{Error, ExitCode, Result};

/// Parse the command line, run the command, print the error if any, and return the exit code.
pub fn main_entry() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // kubectl's completion protocol passes the half-typed line, flags and all, after
    // `__complete`; it must not be parsed (or rejected) as our own flags.
    if args.get(1).is_some_and(|arg| arg == "__complete") {
        let words = args[2..].iter().map(|w| w.to_string_lossy().into_owned()).collect();
        return match new_runtime(false) {
            Ok(runtime) => {
                runtime.block_on(cmd::complete::respond(words));
                0
            }
            Err(_) => 0,
        };
    }
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            if let Some(line) = usage_line(&err) {
                ui::print_stderr_line(&format!("error: {line}"));
                return ExitCode::Usage as i32;
            }
            let code = if err.use_stderr() { ExitCode::Usage as i32 } else { 0 };
            // Help and version go to stdout; a closed pipe there is no error (`--help | head`).
            let _ = err.print();
            return code;
        }
    };
    let verbose = cli.global.verbose;
    ui::init_logging(verbose, cli.global.no_color);
    // The playground (and the demo on it) serves an API server and runs controllers: it gets the
    // worker threads; every other command is a client that waits on the network, and one thread
    // (one allocator arena, no idle workers) is the smallest footprint that answers as fast.
    let serves = matches!(cli.command, cli::Command::Playground(_) | cli::Command::Demo(_));
    // A read with `--contexts` talks to every cluster at once: their handshakes and answers are
    // worked on by every core.
    let across_contexts = cli.global.contexts.is_some();
    let runtime = match new_runtime(serves || across_contexts) {
        Ok(runtime) => runtime,
        Err(err) => {
            ui::print_stderr_line(&format!("error: cannot start the async runtime: {err}"));
            return ExitCode::Failed as i32;
        }
    };
    runtime.spawn(exit_on_unguarded_interrupt());
    match runtime.block_on(cmd::run(cli)) {
        Ok(()) => 0,
        Err(err) if err.message.is_empty() => err.code as i32,
        Err(err) => {
            if verbose > 0 {
                ui::print_stderr_line(&format!("error: {}", err.chain()));
            } else {
                ui::print_stderr_line(&format!("error: {err}"));
            }
            err.code as i32
        }
    }
}

/// One sentence for the parse errors whose clap wording misleads: a bad flag value (a duration)
/// reads as kubectl's `--timeout: invalid duration "forever": use a number and a unit such as
/// 30s, 5m, 1h`, and `--version`, which clap would answer with "a similar argument exists:
/// '--verbose'", points to the `version` command. `None`: clap's own message is right.
fn usage_line(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let invalid_arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.as_str(),
        _ => return None,
    };
    // "--timeout <DUR>" → "--timeout".
    let flag = invalid_arg.split_whitespace().next().unwrap_or(invalid_arg);
    match err.kind() {
        ErrorKind::ValueValidation => {
            let reason = std::error::Error::source(err)?;
            Some(format!("{flag}: {reason}"))
        }
        ErrorKind::UnknownArgument if flag == "--version" || flag == "-V" => {
            Some(format!("unknown flag {flag}: the version is printed by `kubectl modelroll version`"))
        }
        _ => None,
    }
}

fn new_runtime(multi_thread: bool) -> std::io::Result<tokio::runtime::Runtime> {
    if multi_thread {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    }
}

/// How many [`interruptible`] sections are running; while there is one, it answers Ctrl-C.
static INTERRUPTIBLE_SECTIONS: AtomicUsize = AtomicUsize::new(0);

/// Set by a section that answered a Ctrl-C, before it ends: the same signal also wakes
/// [`exit_on_unguarded_interrupt`], which must then leave the answer (and its message) to it.
static INTERRUPT_ANSWERED: AtomicBool = AtomicBool::new(false);

/// Run `work` until it finishes or the user presses Ctrl-C, which ends it with
/// [`Error::interrupted`] ("interrupted while {what}", exit 130). Dropping `work` cancels it, so
/// use this around waits, after the cluster writes that must not be cut in half.
///
/// # Errors
/// The error of `work`, or exit 130 on Ctrl-C.
pub async fn interruptible<T>(what: &str, work: impl Future<Output = Result<T>>) -> Result<T> {
    struct Section;
    impl Drop for Section {
        fn drop(&mut self) {
            INTERRUPTIBLE_SECTIONS.fetch_sub(1, Ordering::SeqCst);
        }
    }
    INTERRUPTIBLE_SECTIONS.fetch_add(1, Ordering::SeqCst);
    let _section = Section;
    // Listen before `work` first runs: `ctrl_c()` registers only when first polled, after `work`
    // (which may print "waiting…" first), and the unguarded handler leaves a Ctrl-C in that gap
    // to this section: it was lost, and the command kept waiting.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Error::failed(format!("cannot listen for Ctrl-C: {e}")).with_source(e))?;
    tokio::select! {
        result = work => result,
        Some(()) = interrupt.recv() => {
            INTERRUPT_ANSWERED.store(true, Ordering::SeqCst);
            Err(Error::interrupted(format!("interrupted while {what}")))
        }
    }
}

/// While alive, Ctrl-C belongs to the code that holds it (it listens for Ctrl-C itself and must
/// finish something first, e.g. say where a multi-context run stopped) instead of ending the
/// program at once. Call [`InterruptGuard::answered`] when it has seen the Ctrl-C.
pub struct InterruptGuard(());

impl InterruptGuard {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        INTERRUPTIBLE_SECTIONS.fetch_add(1, Ordering::SeqCst);
        Self(())
    }

    /// The holder has answered a Ctrl-C: the default handler must not answer it again.
    pub fn answered(&self) {
        INTERRUPT_ANSWERED.store(true, Ordering::SeqCst);
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        INTERRUPTIBLE_SECTIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Once any code listens for Ctrl-C, the process no longer dies of SIGINT; so outside
/// [`interruptible`] sections, Ctrl-C ends the program here with exit 130.
async fn exit_on_unguarded_interrupt() {
    while tokio::signal::ctrl_c().await.is_ok() {
        // A section still running, or one that answered this Ctrl-C and ended (it sets the flag
        // before it ends), owns it. Read the count first: seeing it at 0 means the flag is set.
        if INTERRUPTIBLE_SECTIONS.load(Ordering::SeqCst) == 0
            && !INTERRUPT_ANSWERED.swap(false, Ordering::SeqCst)
        {
            // The operation lease would otherwise block the model until it expires.
            lock::release().await;
            ui::print_stderr_line("error: interrupted");
            std::process::exit(ExitCode::Interrupted as i32);
        }
    }
}
