//! `--contexts`: one command across several kubeconfig contexts.
//!
//! - reads (`status`, `list`, `history`) run in this process, in every context at once (a task
//!   each, on worker threads), each context with a connection of its own made as `--context C`
//!   makes it (its cluster, user, namespace and retries), through the same read as the command
//!   alone (`status::read`, …);
//!   they print one table with `CONTEXT` first (`-o json|yaml`: one `List`, each item with
//!   `.context`); a context that fails is a row with its error;
//! - writes are served by this same binary run again with `--context C` per context (its own
//!   connection, namespace, lock, display and Ctrl-C handling, exactly as a single-context run)
//!   and go in waves in the order given, `--wave-size` contexts at a time, then `--bake` watching
//!   every context changed so far; the first failure stops the waves (no later context is
//!   touched), `set-image --rollback-on-failure` undoes the contexts already changed, and the
//!   last lines say which contexts have the change and which do not.
//!
//! The exit code is the worst of the contexts'. Running the same command again continues: each
//! verb resumes from the state in its own cluster, and a context that has the change already is
//! left as it is.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command as Process};
use tokio::sync::mpsc;

use crate::cli::{Command, GlobalArgs};
use crate::cluster::{load_kubeconfig, Target};
use crate::cmd::Context;
use crate::error::{Error, ExitCode, Result};
use crate::rollout::waves::{self, Outcome};
use crate::ui::{self, Terminal};

mod read;
mod write;

use write::{write, Rollback};

/// The flags of this module, removed from the command line of each context's run.
const OWN_FLAGS: [&str; 3] = ["--contexts", "--wave-size", "--bake"];

/// Run `command` in every context of `--contexts`.
///
/// # Errors
/// Exit 2 before anything runs for an unknown context or a command that takes no contexts; else
/// the worst exit code of the contexts, with a sentence saying where.
pub async fn run(ctx: &Context, command: Command) -> Result<()> {
    let global = &ctx.global;
    let contexts = resolve(global)?;
    let base = base_args(std::env::args_os().skip(1));
    check_prometheus_pairs(&base, &contexts)?;
    let terminal = Terminal::detect(global.no_color);
    match &command {
        Command::Status(args) if args.watch => {
            Err(Error::usage("status --watch follows one context: drop --watch or --contexts"))
        }
        Command::Status(args) => read::status(global, &contexts, &Target::parse(&args.target)?, args.output).await,
        Command::List(args) => read::list(global, &contexts, args.all_namespaces, args.output).await,
        Command::History(args) => {
            read::history(global, &contexts, &Target::parse(&args.target)?, args.output).await
        }
        Command::SetImage(args) => {
            let rollback = args.rollback_on_failure.then(|| Rollback {
                target: args.target.clone(),
                timeout: args.write.timeout,
                global: global.clone(),
            });
            write(&contexts, &base, &args.target, global, rollback, terminal).await
        }
        Command::Undo(args) => write(&contexts, &base, &args.target, global, None, terminal).await,
        Command::Canary(args) => write(&contexts, &base, &args.target, global, None, terminal).await,
        Command::Shift(args) => write(&contexts, &base, &args.target, global, None, terminal).await,
        Command::Promote(args) => write(&contexts, &base, &args.target, global, None, terminal).await,
        Command::Abort(args) => write(&contexts, &base, &args.target, global, None, terminal).await,
        Command::Completion(_)
        | Command::Playground(_)
        | Command::Demo(_)
        | Command::Version(_)
        | Command::Complete(_) => Err(Error::usage(
            "--contexts is for the commands that talk to a cluster (set-image, status, list, history, undo, canary, shift, promote, abort)",
        )),
    }
}

/// The contexts named by `--contexts`, each checked against the kubeconfig.
fn resolve(global: &GlobalArgs) -> Result<Vec<String>> {
    let text = global.contexts.as_deref().unwrap_or_default();
    if global.context.is_some() {
        return Err(Error::usage("--context and --contexts name the contexts twice: give one of them"));
    }
    let loaded = load_kubeconfig(
        global.kubeconfig.as_deref(),
        std::env::var_os("KUBECONFIG").as_deref(),
        std::env::var_os("HOME").map(std::path::PathBuf::from).as_deref(),
    )?;
    let known: Vec<String> = loaded.config.contexts.iter().map(|c| c.name.clone()).collect();
    let contexts = waves::parse_contexts(text, &known)?;
    for context in &contexts {
        // The same checks a single-context run makes (its cluster and user exist), up front.
        loaded.select(&GlobalArgs { context: Some(context.clone()), ..global.clone() })?;
    }
    Ok(contexts)
}

/// The command line as typed, without this module's flags (`--contexts a,b` or `--contexts=a,b`).
fn base_args(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for arg in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let text = arg.to_string_lossy();
        if OWN_FLAGS.contains(&text.as_ref()) {
            skip_value = true;
        } else if !OWN_FLAGS.iter().any(|flag| text.starts_with(&format!("{flag}="))) {
            out.push(arg);
        }
    }
    out
}

/// This binary, run in `context` with `args`, its output captured.
fn spawn(args: &[OsString], context: &str) -> Result<Child> {
    let program = std::env::current_exe()
        .map_err(|e| Error::failed(format!("cannot find this program to run it per context: {e}")))?;
    Process::new(program)
        .args(prometheus_for(args, context))
        .arg("--context")
        .arg(context)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::failed(format!("cannot run the command in context {context:?}: {e}")))
}

/// `--prometheus CONTEXT=ADDR,CONTEXT=ADDR…`: an address per context. `None` when the value is
/// one address for every context (it names no context of the kubeconfig before a `=`).
fn prometheus_pairs(value: &str, contexts: &[String]) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = value
        .split(',')
        .filter_map(|part| part.split_once('='))
        .map(|(name, address)| (name.trim().to_string(), address.trim().to_string()))
        .collect();
    let named = pairs.iter().any(|(name, _)| contexts.contains(name));
    named.then_some(pairs)
}

/// The value of `--prometheus` in `args`, however it was written.
fn prometheus_value(args: &[OsString]) -> Option<(usize, String)> {
    args.iter().enumerate().find_map(|(i, arg)| {
        let text = arg.to_string_lossy();
        if text == "--prometheus" {
            args.get(i + 1).map(|v| (i + 1, v.to_string_lossy().into_owned()))
        } else {
            text.strip_prefix("--prometheus=").map(|v| (i, v.to_string()))
        }
    })
}

/// With addresses per context, every context of the run has one and every name is a context.
fn check_prometheus_pairs(base: &[OsString], contexts: &[String]) -> Result<()> {
    let Some((_, value)) = prometheus_value(base) else { return Ok(()) };
    let Some(pairs) = prometheus_pairs(&value, contexts) else { return Ok(()) };
    if let Some((name, _)) = pairs.iter().find(|(name, _)| !contexts.contains(name)) {
        return Err(Error::usage(format!(
            "--prometheus names context {name:?}, which is not among --contexts ({})",
            contexts.join(", ")
        )));
    }
    if let Some(missing) = contexts.iter().find(|c| !pairs.iter().any(|(name, _)| name == *c)) {
        return Err(Error::usage(format!(
            "--prometheus gives addresses per context but none for {missing:?}: add {missing}=ADDR"
        )));
    }
    Ok(())
}

/// `args` with `--prometheus CONTEXT=ADDR,…` narrowed to the address of `context`.
fn prometheus_for(args: &[OsString], context: &str) -> Vec<OsString> {
    let mut args = args.to_vec();
    let Some((index, value)) = prometheus_value(&args) else { return args };
    let Some(pairs) = prometheus_pairs(&value, &[context.to_string()]) else { return args };
    let address = pairs.into_iter().find(|(name, _)| name == context).map(|(_, a)| a).unwrap_or_default();
    let written = args[index].to_string_lossy().starts_with("--prometheus=");
    args[index] = if written { format!("--prometheus={address}").into() } else { address.into() };
    args
}

/// What one context's run printed and how it ended.
struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Finished {
    /// The run's own error sentence (its last `error:` line), else its last line.
    fn reason(&self) -> String {
        let lines: Vec<&str> =
            self.stderr.lines().map(ui::strip_timestamp).filter(|l| !l.is_empty()).collect();
        let line = lines.iter().rev().find(|l| l.starts_with("error: ")).or(lines.last()).copied();
        line.map(|l| l.trim_start_matches("error: ").to_string())
            .unwrap_or_else(|| format!("exited with code {}", self.code))
    }
}

async fn finish(mut child: Child) -> Finished {
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let out = child.stdout.take();
    let err = child.stderr.take();
    let read_out = async {
        if let Some(mut out) = out {
            let _ = out.read_to_string(&mut stdout).await;
        }
    };
    let read_err = async {
        if let Some(mut err) = err {
            let _ = err.read_to_string(&mut stderr).await;
        }
    };
    tokio::join!(read_out, read_err);
    let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(ExitCode::Failed as i32);
    Finished { code, stdout, stderr }
}

/// The global connection flags of `base` (everything before the subcommand's own words is not
/// known here, so rebuild them from what a read needs: the kubeconfig and namespace flags).
fn connection_args(base: &[OsString]) -> Vec<OsString> {
    const WITH_VALUE: [&str; 6] =
        ["--kubeconfig", "--cluster", "--user", "-n", "--namespace", "--request-timeout"];
    const ALONE: [&str; 2] = ["--no-color", "--verbose"];
    let mut out = Vec::new();
    let mut take_value = false;
    for arg in base {
        let text = arg.to_string_lossy();
        if std::mem::take(&mut take_value) {
            out.push(arg.clone());
        } else if WITH_VALUE.contains(&text.as_ref()) {
            out.push(arg.clone());
            take_value = true;
        } else if WITH_VALUE.iter().any(|f| f.starts_with("--") && text.starts_with(&format!("{f}=")))
            || (text.starts_with("-n") && text.len() > 2 && !text.starts_with("--"))
            || ALONE.contains(&text.as_ref())
            || (text.len() > 1 && text.starts_with('-') && text[1..].chars().all(|c| c == 'v'))
        {
            out.push(arg.clone());
        }
    }
    out
}

/// The error that carries a context run's exit code out of this program.
fn exit_error(code: i32, message: String) -> Error {
    match code {
        2 => Error::usage(message),
        3 => Error::check_failed(message),
        130 => Error::interrupted(message),
        _ => Error::failed(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_runs_get_the_command_line_without_the_contexts_flags() {
        let base = base_args(
            words(&[
                "--contexts",
                "a,b",
                "-n",
                "ml",
                "set-image",
                "fraud",
                "img:v2",
                "--wave-size=2",
                "--bake",
                "1m",
            ])
            .into_iter(),
        );
        assert_eq!(base, words(&["-n", "ml", "set-image", "fraud", "img:v2"]));
    }

    #[test]
    fn reads_keep_the_connection_flags() {
        let base = words(&[
            "--kubeconfig",
            "/k",
            "-n",
            "ml",
            "set-image",
            "fraud",
            "img:v2",
            "-vv",
            "--timeout",
            "5m",
        ]);
        assert_eq!(connection_args(&base), words(&["--kubeconfig", "/k", "-n", "ml", "-vv"]));
        let base = words(&["-nml", "--request-timeout=5s", "shift", "fraud", "--weight", "50"]);
        assert_eq!(connection_args(&base), words(&["-nml", "--request-timeout=5s"]));
    }

    #[test]
    fn each_context_gets_its_own_prometheus() {
        let contexts = vec!["eu".to_string(), "us".to_string()];
        let base = words(&["shift", "fraud", "--prometheus", "eu=http://p-eu:9090,us=monitoring/prom:9090"]);
        check_prometheus_pairs(&base, &contexts).unwrap();
        assert_eq!(prometheus_for(&base, "eu")[3], OsString::from("http://p-eu:9090"));
        assert_eq!(prometheus_for(&base, "us")[3], OsString::from("monitoring/prom:9090"));
        let joined = words(&["--prometheus=eu=http://a:1,us=http://b:2"]);
        assert_eq!(prometheus_for(&joined, "us"), words(&["--prometheus=http://b:2"]));
        // One address for all: left as it is.
        let one = words(&["--prometheus", "http://p:9090/api?x=1"]);
        assert_eq!(prometheus_for(&one, "eu"), one);
        check_prometheus_pairs(&one, &contexts).unwrap();
        let missing = words(&["--prometheus", "eu=http://p:9090"]);
        assert!(check_prometheus_pairs(&missing, &contexts).unwrap_err().message.contains("none for \"us\""));
        let stranger = words(&["--prometheus", "eu=http://a:1,us=http://b:2,asia=http://c:3"]);
        assert!(check_prometheus_pairs(&stranger, &contexts).unwrap_err().message.contains("\"asia\""));
    }

    #[test]
    fn a_failed_run_is_named_by_its_error_sentence() {
        let run = Finished {
            code: 1,
            stdout: String::new(),
            stderr: "2026-12-05T21:00:00Z waiting\n2026-12-05T21:00:01Z error: rollout timed out\n".into(),
        };
        assert_eq!(run.reason(), "rollout timed out");
    }
}
