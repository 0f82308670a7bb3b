//! `completion`: print a shell completion script for the `kubectl-modelroll` binary.
//!
//! The scripts complete the standalone binary `kubectl-modelroll` (shells complete a command by
//! its first word). `kubectl modelroll <TAB>` is kubectl's business: kubectl ≥ 1.26 asks
//! `kubectl_complete-modelroll` on PATH, which answers through `__complete` (see `complete.rs`).

use clap::CommandFactory;
use clap_complete::Shell as Generator;

use crate::cli::{Cli, CompletionArgs, Shell};
use crate::cmd::Context;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The command name the scripts complete.
pub const BIN_NAME: &str = "kubectl-modelroll";

/// The program kubectl runs for `kubectl modelroll <TAB>` (the file in `completions/`: one
/// source for the repository, the release archives and `--install`).
pub const KUBECTL_PLUGIN_SHIM: &str = include_str!("../../completions/kubectl_complete-modelroll");

/// Its name: kubectl looks for `kubectl_complete-<plugin>` on PATH.
pub const KUBECTL_PLUGIN_SHIM_NAME: &str = "kubectl_complete-modelroll";

/// Print the script for the shell asked for, or install kubectl's completion program.
///
/// # Errors
/// Exit 2 for `--install` with a shell script; exit 1 when the program cannot be written.
pub fn run(_ctx: &Context, args: CompletionArgs) -> Result<()> {
    match (args.shell, args.install) {
        (Shell::KubectlPlugin, true) => {
            let dir = plugin_dir();
            let path = install_shim(&dir)?;
            crate::ui::print_stdout(&format!(
                "installed {}; `kubectl modelroll <TAB>` completes now (kubectl 1.26 or newer)\n",
                path.display()
            ));
            Ok(())
        }
        (_, true) => Err(Error::usage(
            "--install installs kubectl's completion program: `kubectl modelroll completion kubectl-plugin --install`; a shell's script is printed, put it where that shell reads completions",
        )),
        (shell, false) => {
            crate::ui::print_stdout(&script(shell));
            Ok(())
        }
    }
}

/// Where this kubectl-modelroll was found on PATH: the directory of `argv[0]` as run (kubectl
/// runs a plugin by its PATH entry; krew's is a symlink whose target directory is not on PATH, so
/// it is not resolved), else the first PATH directory holding kubectl-modelroll, else the
/// executable's own directory.
fn plugin_dir() -> PathBuf {
    let argv0 = std::env::args_os().next().map(PathBuf::from).unwrap_or_default();
    if argv0.components().count() > 1 {
        let absolute =
            if argv0.is_absolute() { argv0 } else { std::env::current_dir().unwrap_or_default().join(argv0) };
        if let Some(dir) = absolute.parent() {
            return dir.to_path_buf();
        }
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join(BIN_NAME).is_file()));
    on_path
        .or_else(|| std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)))
        .unwrap_or_default()
}

/// Write the shim into `dir`, executable (0755).
///
/// # Errors
/// Exit 1 naming the file and a way to do it by hand.
fn install_shim(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(KUBECTL_PLUGIN_SHIM_NAME);
    let write = || -> std::io::Result<()> {
        std::fs::write(&path, KUBECTL_PLUGIN_SHIM)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    };
    write().map_err(|e| {
        Error::failed(format!(
            "cannot write {}: {e}; put it in any directory on PATH yourself: `kubectl modelroll completion kubectl-plugin > DIR/{KUBECTL_PLUGIN_SHIM_NAME} && chmod +x DIR/{KUBECTL_PLUGIN_SHIM_NAME}`",
            path.display()
        ))
        .with_source(e)
    })?;
    Ok(path)
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let generator = match shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
        Shell::Powershell => Generator::PowerShell,
        Shell::Elvish => Generator::Elvish,
        Shell::KubectlPlugin => return KUBECTL_PLUGIN_SHIM.to_string(),
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
        Shell::KubectlPlugin => KUBECTL_PLUGIN_SHIM_NAME,
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
