//! kubectl-modelroll: safe rollouts of machine-learning models on Kubernetes.
//!
//! `main.rs` calls [`main_entry`]; everything else lives here so that tests reach it.

pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod error;
pub mod playground;
pub mod rollout;
pub mod router;
pub mod ui;
pub mod watch;

use clap::Parser;

use crate::error::ExitCode;

/// Parse the command line, run the command, print the error if any, and return the exit code.
pub fn main_entry() -> i32 {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { ExitCode::Usage as i32 } else { 0 };
            let _ = err.print();
            return code;
        }
    };
    let verbose = cli.global.verbose;
    ui::init_logging(verbose, cli.global.no_color);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::Failed as i32;
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(()) => 0,
        Err(err) => {
            if verbose > 0 {
                eprintln!("error: {}", err.chain());
            } else {
                eprintln!("error: {err}");
            }
            err.code as i32
        }
    }
}
