//! What the user sees: logging setup, stdout that tolerates a closed pipe, and (in submodules)
//! progress, tables, prompts and `-o` formats. Renders data it is given; does no cluster IO.

use std::io::{IsTerminal, Write};

/// Send `-v` logs to stderr: `-v` shows modelroll's steps, `-vv` every API request, `-vvv` kube's own.
pub fn init_logging(verbose: u8, no_color: bool) {
    let filter = match verbose {
        0 => "warn",
        1 => "warn,modelroll=debug",
        2 => "warn,modelroll=trace",
        _ => "warn,modelroll=trace,kube_client=debug,kube=debug",
    };
    let ansi = !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Write a result to stdout. A closed pipe (`| head`) ends the program quietly, as Unix tools do.
pub fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}
