//! The command line as `../shared/CLI.md` defines it: global kube flags, one variant per command.
//!
//! Raw flags are parsed here once; commands turn them into validated settings before touching
//! the cluster, so the rest of the program never sees a half-checked option.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{Error, Result};
pub use crate::settings::{DryRun, RouterChoice, WriteOutput, WriteSettings};

/// Roll out new versions of machine-learning models on Kubernetes safely.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-modelroll",
    bin_name = "kubectl modelroll",
    version,
    disable_version_flag = true,
    propagate_version = true,
    about = "Roll out new versions of machine-learning models on Kubernetes safely: rolling updates, canaries, traffic shifting, promotion and abort.",
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after the subcommand, as kubectl accepts them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,

    /// The kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`):
    /// writes go in waves in the order given, reads print one table with a CONTEXT column
    #[arg(long, global = true, value_name = "C1,C2,…|all")]
    pub contexts: Option<String>,

    /// With --contexts: how many contexts a wave changes at once
    #[arg(long, global = true, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub wave_size: u32,

    /// With --contexts: after each wave, watch every context changed so far this long; a
    /// degraded one fails the wave
    #[arg(long, global = true, value_name = "DUR", default_value = "0", value_parser = crate::duration::parse)]
    pub bake: Duration,

    /// The kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// Namespace (else the context's namespace, else `default`)
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,

    /// Timeout of a single API request, kubectl's format (`30s`, `1m`, `0` = none)
    #[arg(long, global = true, value_name = "DUR")]
    pub request_timeout: Option<String>,

    /// Log to stderr; repeat (-vv) to show each API request
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Never prompt; take the offered choice
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rolling update of the model's image(s); waits and shows progress
    SetImage(SetImageArgs),
    /// One screen: tracks, revisions, images, model versions, ready pods, traffic, phase, problems
    Status(StatusArgs),
    /// Every model under modelroll's care in the namespace
    List(ListArgs),
    /// Revisions: number, image(s), model version, change cause, age
    History(HistoryArgs),
    /// Roll back to the previous (or a given) revision; waits and shows progress
    Undo(UndoArgs),
    /// Start a canary of a new model version
    Canary(CanaryArgs),
    /// Move traffic to the canary, at once or in steps
    Shift(ShiftArgs),
    /// Make the canary the new stable and clean up
    Promote(PromoteArgs),
    /// Send all traffic back to stable and remove the canary
    Abort(AbortArgs),
    /// Print a shell completion script
    ///
    /// The script completes the `kubectl-modelroll` command (e.g. `kubectl-modelroll completion
    /// bash > ~/.local/share/bash-completion/completions/kubectl-modelroll`). For `kubectl
    /// modelroll <TAB>` run `kubectl modelroll completion kubectl-plugin --install` once: it puts
    /// the executable `kubectl_complete-modelroll` next to kubectl-modelroll on PATH, where
    /// kubectl 1.26 and newer finds it.
    Completion(CompletionArgs),
    /// Serve a simulated Kubernetes cluster on loopback
    Playground(PlaygroundArgs),
    /// Run the whole lifecycle on an in-process playground and narrate it
    Demo(DemoArgs),
    /// Print version, git commit and build target
    Version(VersionArgs),
    /// Answer kubectl's plugin completion protocol (used by kubectl_complete-modelroll)
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

/// `-o` for commands that read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ReadOutput {
    #[default]
    Table,
    Wide,
    Json,
    Yaml,
}

/// Flags shared by the commands that change things.
#[derive(Debug, Clone, Args)]
pub struct WriteArgs {
    /// How long to wait for the change to complete
    #[arg(long, value_name = "DUR", default_value = "10m", value_parser = crate::duration::parse, allow_hyphen_values = true)]
    pub timeout: Duration,

    /// Return once the change is accepted, without waiting
    #[arg(long)]
    pub no_wait: bool,

    /// Print the objects that would be written and write nothing
    #[arg(long, value_enum, value_name = "none|client|server", default_value = "none", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,

    /// Output format of --dry-run
    #[arg(short = 'o', long, value_enum, value_name = "yaml|json")]
    pub output: Option<WriteOutput>,
}

impl WriteArgs {
    /// The checked settings: `--timeout` positive, `-o` only with `--dry-run`.
    ///
    /// # Errors
    /// Exit 2 for `--timeout 0`, or `-o` without `--dry-run`.
    pub fn settings(&self) -> Result<WriteSettings> {
        if self.timeout.is_zero() {
            return Err(Error::usage("invalid --timeout 0: give a positive duration such as 10m"));
        }
        if self.output.is_some() && self.dry_run == DryRun::None {
            return Err(Error::usage(
                "-o yaml|json prints the objects a dry run would write: add --dry-run=client or --dry-run=server",
            ));
        }
        Ok(WriteSettings {
            timeout: self.timeout,
            no_wait: self.no_wait,
            dry_run: self.dry_run,
            output: self.output,
        })
    }
}

/// `--on-failure`: what a failed metric check does to a canary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OnFailure {
    // Plain comments, not docs: documented values would switch `--help` to its long layout.
    // All traffic back to stable and the canary removed, as `abort` does.
    #[default]
    Abort,
    // The canary kept, at weight 0.
    Hold,
}

/// Metric checks (`--check`), shared by `canary`, `shift` and `set-image`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Metric checks")]
pub struct CheckArgs {
    /// Metric check 'QUERY OP THRESHOLD' (repeatable): PromQL returning one number, OP one of <, <=, >, >=; placeholders {{namespace}} {{name}} {{canary}} {{stable}} {{interval}}
    #[arg(long = "check", value_name = "'QUERY OP THRESHOLD'", allow_hyphen_values = true)]
    pub checks: Vec<String>,

    /// Read checks from YAML: `checks: [{name, query, op, threshold}]`
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub check_file: Option<std::path::PathBuf>,

    /// Prometheus: http(s)://HOST:PORT[/PATH], or NAMESPACE/SERVICE:PORT through the API server's service proxy (else $MODELROLL_PROMETHEUS)
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<String>,

    /// Failed evaluations tolerated before the checks fail
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub failure_limit: u32,
}

/// Model readiness: count a new pod only once its model server says the model is ready.
#[derive(Debug, Clone, Default, Args)]
pub struct ModelReadyArgs {
    /// Count a new pod only once its model server says its model is ready, asked through the API server's pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)
    #[arg(long, help_heading = "Model readiness", value_name = "v2|openai|http:PATH", value_parser = crate::rollout::model_ready::Protocol::parse)]
    pub model_ready: Option<crate::rollout::model_ready::Protocol>,

    /// The model asked about (default: the target's name)
    #[arg(long, help_heading = "Model readiness", value_name = "NAME", requires = "model_ready")]
    pub model_name: Option<String>,

    /// Send N inference requests to each new pod once its model is ready; the pod counts when all succeed
    #[arg(long, help_heading = "Model readiness", value_name = "N", requires = "model_ready")]
    pub warmup: Option<u32>,

    /// JSON body of the warm-up requests (default: a minimal request of the protocol)
    #[arg(long, help_heading = "Model readiness", value_name = "FILE", requires = "warmup", value_hint = clap::ValueHint::FilePath)]
    pub warmup_body: Option<std::path::PathBuf>,

    /// How long a new pod may take to be model-ready before the command fails
    #[arg(long, help_heading = "Model readiness", value_name = "DUR", default_value = "10m", value_parser = crate::duration::parse, allow_hyphen_values = true)]
    pub model_ready_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct SetImageArgs {
    /// The model: NAME, deploy/NAME or ksvc/NAME
    pub target: String,

    /// New image(s): IMAGE (single container), CONTAINER=IMAGE, or *=IMAGE for every container
    #[arg(required = true, value_name = "[CONTAINER=]IMAGE")]
    pub images: Vec<String>,

    /// maxSurge of the RollingUpdate strategy (N or P%), written in the same update
    #[arg(long, value_name = "N|P%", allow_hyphen_values = true)]
    pub max_surge: Option<String>,

    /// maxUnavailable of the RollingUpdate strategy (N or P%), written in the same update
    #[arg(long, value_name = "N|P%", allow_hyphen_values = true)]
    pub max_unavailable: Option<String>,

    /// Model version, set as pod template label modelroll.io/model-version
    #[arg(long, value_name = "V")]
    pub model_version: Option<String>,

    /// On failure or timeout, undo to the previous revision and wait for it
    #[arg(long)]
    pub rollback_on_failure: bool,

    /// Fail when a new pod stays Unschedulable this long
    #[arg(long, value_name = "DUR", default_value = "2m", value_parser = crate::duration::parse, allow_hyphen_values = true)]
    pub unschedulable_timeout: Duration,

    /// How often the metric checks are evaluated while the rollout runs
    #[arg(long, value_name = "DUR", value_parser = crate::duration::parse, allow_hyphen_values = true)]
    pub interval: Option<Duration>,

    #[command(flatten)]
    pub checks: CheckArgs,

    #[command(flatten)]
    pub model: ModelReadyArgs,

    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The model: NAME, deploy/NAME or ksvc/NAME
    pub target: String,

    /// Redraw on every change until interrupted
    #[arg(short = 'w', long)]
    pub watch: bool,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: ReadOutput,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List across all namespaces
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: ReadOutput,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The model: NAME, deploy/NAME or ksvc/NAME
    pub target: String,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: ReadOutput,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The model: NAME, deploy/NAME or ksvc/NAME
    pub target: String,

    /// Revision to roll back to (default: the previous one)
    #[arg(long, value_name = "N")]
    pub to_revision: Option<i64>,

    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct CanaryArgs {
    /// The model: NAME, deploy/NAME or ksvc/NAME
    pub target: String,

    /// Image of the canary: IMAGE or CONTAINER=IMAGE
    #[arg(long, required = true, value_name = "[CONTAINER=]IMAGE")]
    pub image: String,

    /// Traffic weight (0-100) given to the canary once it is ready
    #[arg(long, value_name = "W", default_value = "0", allow_hyphen_values = true)]
    pub weight: String,

    /// How traffic is split between stable and canary
    #[arg(long, value_enum, default_value = "auto")]
    pub router: RouterChoice,

    /// An existing VirtualService or HTTPRoute to manage
    #[arg(long, value_name = "NAME")]
    pub route: Option<String>,

    /// Model version of the canary (pod template label modelroll.io/model-version)
    #[arg(long, value_name = "V")]
    pub model_version: Option<String>,

    /// Container whose image the canary changes
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// Hold the weight this long while watching the canary (and evaluating the checks)
    #[arg(long, value_name = "DUR", value_parser = crate::duration::parse, allow_hyphen_values = true)]
    pub interval: Option<Duration>,

    #[command(flatten)]
    pub checks: CheckArgs,

    /// What a failed check does: abort (as `abort` does) or hold (the canary kept at weight 0)
    #[arg(long, value_enum, default_value = "abort")]
    pub on_failure: OnFailure,

    #[command(flatten)]
    pub model: ModelReadyArgs,

    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["weight", "steps"])))]
// --interval holds steps, or a weight that checks judge; with a bare --weight it would be ignored.
#[command(group(clap::ArgGroup::new("held").multiple(true).args(["steps", "checks", "check_file"])))]
pub struct ShiftArgs {
    /// The model: NAME, deploy/NAME or ksvc/NAME
    pub target: String,

    /// Traffic weight (0-100) for the canary
    #[arg(long, value_name = "W", allow_hyphen_values = true)]
    pub weight: Option<String>,

    /// Increasing weights to step through, e.g. 10,25,50,100
    #[arg(long, value_name = "W1,W2,...")]
    pub steps: Option<String>,

    /// Time to hold each step but the last (all with checks)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "1m",
        value_parser = crate::duration::parse,
        allow_hyphen_values = true,
        requires = "held"
    )]
    pub interval: Duration,

    #[command(flatten)]
    pub checks: CheckArgs,

    /// What a failed check does: abort (as `abort` does) or hold (the canary kept at weight 0)
    #[arg(long, value_enum, default_value = "abort")]
    pub on_failure: OnFailure,

    #[command(flatten)]
    pub model: ModelReadyArgs,

    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The model: NAME, deploy/NAME or ksvc/NAME
    pub target: String,

    #[command(flatten)]
    pub model: ModelReadyArgs,

    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct AbortArgs {
    /// The model: NAME, deploy/NAME or ksvc/NAME
    pub target: String,

    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
    /// `kubectl_complete-modelroll`, the program kubectl (1.26+) runs to complete the plugin
    #[value(name = "kubectl-plugin")]
    KubectlPlugin,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to print a completion script for (kubectl-plugin: kubectl's completion program)
    #[arg(value_enum)]
    pub shell: Shell,

    /// With kubectl-plugin: write kubectl_complete-modelroll, executable, next to this
    /// kubectl-modelroll on PATH (where kubectl looks for it)
    #[arg(long)]
    pub install: bool,
}

#[derive(Debug, Args)]
pub struct PlaygroundArgs {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, short = 'p', default_value_t = 0)]
    pub port: u16,

    /// Where to write the playground's kubeconfig
    #[arg(long, value_name = "PATH")]
    pub kubeconfig_out: Option<std::path::PathBuf>,

    /// Number of simulated nodes
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,

    /// nvidia.com/gpu allocatable on each node
    #[arg(long, default_value_t = 4)]
    pub gpus_per_node: u32,

    /// How long a pod takes to become ready (per pod, annotation playground.modelroll.io/ready-after overrides it)
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = crate::duration::parse, allow_hyphen_values = true)]
    pub ready_after: Duration,

    /// Load CustomResourceDefinition files from this directory (recursively) at start
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub crds: Vec<std::path::PathBuf>,

    /// Register compact built-in CRDs for these groups: istio, gateway-api, knative
    #[arg(long, value_delimiter = ',', value_name = "GROUPS")]
    pub with: Vec<String>,

    /// Faults for reliability tests, e.g. latency=50ms,429=0.1,500=0.05,watch-close=30s,409=0.1
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,

    /// Users authorized by RBAC: CSV lines token,user,uid,"group1,group2" as kube-apiserver's --token-auth-file
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub token_auth_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Router for the canary acts
    #[arg(long, value_enum, default_value = "istio")]
    pub router: RouterChoice,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<WriteOutput>,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The words of the command line after `modelroll`, the last one being completed
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_and_flag_has_help() {
        let mut root = Cli::command();
        root.build();
        for command in root.get_subcommands().filter(|c| !c.is_hide_set() && c.get_name() != "help") {
            assert!(command.get_about().is_some(), "{} has no description", command.get_name());
            for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
                assert!(
                    arg.get_help().is_some(),
                    "{} {} has no help: add a /// line to it",
                    command.get_name(),
                    arg.get_id()
                );
            }
        }
    }

    #[test]
    fn global_flags_parse_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kubectl-modelroll",
            "status",
            "fraud",
            "-n",
            "ml",
            "--context",
            "prod",
            "-vv",
            "--yes",
        ])
        .unwrap();
        assert_eq!(cli.global.namespace.as_deref(), Some("ml"));
        assert_eq!(cli.global.context.as_deref(), Some("prod"));
        assert_eq!(cli.global.verbose, 2);
        assert!(cli.global.yes);
    }

    #[test]
    fn shift_needs_weight_or_steps() {
        assert!(Cli::try_parse_from(["kubectl-modelroll", "shift", "m"]).is_err());
        assert!(Cli::try_parse_from(["kubectl-modelroll", "shift", "m", "--weight", "10"]).is_ok());
    }

    #[test]
    fn durations_are_parsed_once_into_typed_values() {
        let cli = Cli::try_parse_from(["kubectl-modelroll", "shift", "m", "--steps", "10,50"]).unwrap();
        let Command::Shift(shift) = cli.command else { panic!("parsed as another command") };
        // Without --interval each step is held a minute, not 0s.
        assert_eq!(shift.interval, Duration::from_secs(60));
        assert_eq!(shift.write.timeout, Duration::from_secs(600));
        let cli = Cli::try_parse_from([
            "kubectl-modelroll",
            "shift",
            "m",
            "--steps",
            "10,50",
            "--interval",
            "1h30m",
        ])
        .unwrap();
        let Command::Shift(shift) = cli.command else { panic!("parsed as another command") };
        assert_eq!(shift.interval, Duration::from_secs(5400));
        for (flag, value) in [("--interval", "-1s"), ("--timeout", "forever"), ("--interval", "5x")] {
            let err =
                Cli::try_parse_from(["kubectl-modelroll", "shift", "m", "--steps", "10,50", flag, value])
                    .unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{flag} {value}: {err}");
        }
        // The default is shown in help, so nobody has to guess how long a step lasts.
        let mut root = Cli::command();
        let help = root.find_subcommand_mut("shift").unwrap().render_long_help().to_string();
        assert!(help.contains("[default: 1m]"), "{help}");
    }

    #[test]
    fn dry_run_takes_its_value_with_equals() {
        let cli = Cli::try_parse_from(["kubectl-modelroll", "abort", "m", "--dry-run=server", "-o", "yaml"])
            .unwrap();
        match cli.command {
            Command::Abort(a) => {
                assert_eq!(a.write.dry_run, DryRun::Server);
                assert_eq!(a.write.output, Some(WriteOutput::Yaml));
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
