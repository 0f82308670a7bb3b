//! `completion`: print a shell completion script for the `kubectl-modelroll` binary.
//!
//! The scripts complete the standalone binary `kubectl-modelroll` (shells complete a command by
//! its first word). `kubectl modelroll <TAB>` is kubectl's business: kubectl ≥ 1.26 asks
//! `kubectl_complete-modelroll` on PATH, which answers through `__complete` (see `complete.rs`).

use clap::CommandFactory;
use clap_complete::Shell as Generator;

use crate::cli::{Cli, CompletionArgs, Shell};
use crate::cmd::Context;
use crate::error::Result;

/// The command name the scripts complete.
pub const BIN_NAME: &str = "kubectl-modelroll";

/// Print the script for the shell asked for.
///
/// # Errors
/// None.
pub fn run(_ctx: &Context, args: CompletionArgs) -> Result<()> {
    crate::ui::print_stdout(&script(args.shell));
    Ok(())
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let generator = match shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
        Shell::Powershell => Generator::PowerShell,
        Shell::Elvish => Generator::Elvish,
    };
    let mut command = completion_command();
    let mut out = Vec::new();
    clap_complete::generate(generator, &mut command, BIN_NAME, &mut out);
    String::from_utf8(out).expect("clap_complete writes UTF-8")
}

/// The command tree the scripts describe: the binary's name (the derive names it
/// `kubectl modelroll` for help), without the hidden `__complete`, which clap_complete would
/// otherwise offer.
fn completion_command() -> clap::Command {
    let cli = Cli::command();
    let visible: Vec<clap::Command> = cli.get_subcommands().filter(|c| !c.is_hide_set()).cloned().collect();
    clap::Command::new(BIN_NAME)
        .bin_name(BIN_NAME)
        .about(cli.get_about().cloned().unwrap_or_default())
        .args(cli.get_arguments().cloned())
        .subcommands(visible)
}

/// Where each script lives in `completions/`, named as each shell looks for it.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "kubectl-modelroll.bash",
        Shell::Zsh => "_kubectl-modelroll",
        Shell::Fish => "kubectl-modelroll.fish",
        Shell::Powershell => "_kubectl-modelroll.ps1",
        Shell::Elvish => "kubectl-modelroll.elv",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_complete_the_binary_and_its_commands_but_not_the_hidden_one() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell, Shell::Elvish] {
            let script = script(shell);
            assert!(script.contains("kubectl-modelroll"), "{shell:?}");
            assert!(script.contains("set-image") && script.contains("promote"), "{shell:?}");
            assert!(!script.contains("kubectl modelroll"), "{shell:?} completes the wrong command name");
        }
        assert!(script(Shell::Bash).contains("-o default kubectl-modelroll"));
        assert!(!script(Shell::Bash).contains("__complete"));
    }
}
