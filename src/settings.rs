//! What the flags mean once checked: the typed settings every command, router and write sees.
//! `cli.rs` turns flags into these once (clap parses the values, [`WriteSettings`] is checked
//! in `cli::WriteArgs::settings`); nothing below the command line imports clap's argument types.

use std::time::Duration;

/// `-o` for commands that write (used with `--dry-run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WriteOutput {
    Json,
    Yaml,
}

/// `--dry-run`: write for real, compute the writes and send none (client), or send them as
/// dry runs the API server checks and forgets (server, `dryRun=All`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRun {
    #[default]
    None,
    Client,
    Server,
}

/// `--router`: which traffic router carries a canary's weight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RouterChoice {
    #[default]
    Auto,
    Replicas,
    Istio,
    #[value(name = "gateway-api")]
    GatewayApi,
    Knative,
}

/// The flags shared by commands that change things, checked once (`--timeout` positive, `-o`
/// only with `--dry-run`).
#[derive(Debug, Clone)]
pub struct WriteSettings {
    /// How long the command may take, waits included.
    pub timeout: Duration,
    pub no_wait: bool,
    pub dry_run: DryRun,
    pub output: Option<WriteOutput>,
}

impl WriteSettings {
    /// Whether nothing is to be written for real.
    pub fn dry(&self) -> bool {
        self.dry_run != DryRun::None
    }
}
