//! `--contexts`: one command across several kubeconfig contexts. Each context is served by this
//! same binary run again with `--context C` (its own connection, namespace, lock and Ctrl-C
//! handling, exactly as a single-context run), and this module puts the runs together:
//!
//! - reads (`status`, `list`, `history`) run in every context at once and print one table with
//!   `CONTEXT` first (`-o json|yaml`: one `List`, each item with `.context`); a context that
//!   fails is a row with its error;
//! - writes go in waves in the order given, `--wave-size` contexts at a time, then `--bake`
//!   watching every context changed so far; the first failure stops the waves (no later context
//!   is touched), `set-image --rollback-on-failure` undoes the contexts already changed, and the
//!   last lines say which contexts have the change and which do not.
//!
//! The exit code is the worst of the contexts'. Running the same command again continues: each
//! verb resumes from the state in its own cluster, and a context that has the change already is
//! left as it is.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command as Process};
use tokio::sync::mpsc;

use crate::cli::{Command, GlobalArgs, ReadOutput};
use crate::cluster::load_kubeconfig;
use crate::cmd::Context;
use crate::error::{Error, ExitCode, Result};
use crate::rollout::waves::{self, Outcome};
use crate::ui::{self, output, table, Terminal};

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
    let terminal = Terminal::detect(global.no_color);
    match &command {
        Command::Status(args) if args.watch => {
            Err(Error::usage("status --watch follows one context: drop --watch or --contexts"))
        }
        Command::Status(args) => read(&contexts, &base, Read::Status, args.output).await,
        Command::List(args) => read(&contexts, &base, Read::List, args.output).await,
        Command::History(args) => read(&contexts, &base, Read::History, args.output).await,
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
    let contexts = waves::parse_contexts(text, &known).map_err(Error::usage)?;
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
        .args(args)
        .arg("--context")
        .arg(context)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::failed(format!("cannot run the command in context {context:?}: {e}")))
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
        let lines: Vec<&str> = self.stderr.lines().map(strip_timestamp).filter(|l| !l.is_empty()).collect();
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

/// A plain line of a run off a terminal starts with its RFC 3339 time; shown in a bar, it need not.
fn strip_timestamp(line: &str) -> &str {
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

// ---- reads ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Status,
    List,
    History,
}

async fn read(contexts: &[String], base: &[OsString], read: Read, output: ReadOutput) -> Result<()> {
    // `status` becomes one row per context, built from its JSON; `list` and `history` keep their
    // own columns, read back from their tables.
    let as_json = matches!(output, ReadOutput::Json | ReadOutput::Yaml) || read == Read::Status;
    let mut args = without_output(base);
    if as_json {
        args.extend(["-o".into(), "json".into()]);
    } else if output == ReadOutput::Wide {
        args.extend(["-o".into(), "wide".into()]);
    }
    let runs: Vec<_> = contexts
        .iter()
        .map(|context| {
            let args = args.clone();
            async move {
                match spawn(&args, context) {
                    Ok(child) => finish(child).await,
                    Err(e) => {
                        Finished { code: e.code as i32, stdout: String::new(), stderr: format!("error: {e}") }
                    }
                }
            }
        })
        .collect();
    let results = futures::future::join_all(runs).await;
    let code = waves::worst_exit(results.iter().map(|r| r.code));
    let text = match output {
        ReadOutput::Json | ReadOutput::Yaml => {
            let mut items = Vec::new();
            for (context, run) in contexts.iter().zip(&results) {
                items.extend(json_items(context, run));
            }
            let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
            if output == ReadOutput::Json {
                output::json(&list)?
            } else {
                output::yaml(&list)?
            }
        }
        ReadOutput::Table | ReadOutput::Wide if read == Read::Status => status_table(contexts, &results),
        ReadOutput::Table | ReadOutput::Wide => merged_table(contexts, &results),
    };
    ui::print_stdout(&text);
    match code {
        0 => Ok(()),
        code => {
            let failed: Vec<&str> =
                contexts.iter().zip(&results).filter(|(_, r)| r.code != 0).map(|(c, _)| c.as_str()).collect();
            Err(exit_error(code, format!("the command failed in context(s) {}", failed.join(", "))))
        }
    }
}

fn is_output_flag(arg: &OsString) -> bool {
    let text = arg.to_string_lossy();
    text.starts_with("--output=") || (text.starts_with("-o") && text.len() > 2)
}

/// `base` without its `-o`/`--output` flag, whichever way it was written.
fn without_output(base: &[OsString]) -> Vec<OsString> {
    let mut kept = Vec::new();
    let mut skip = false;
    for arg in base {
        if std::mem::take(&mut skip) {
            continue;
        }
        let text = arg.to_string_lossy();
        if text == "-o" || text == "--output" {
            skip = true;
            continue;
        }
        if !is_output_flag(arg) {
            kept.push(arg.clone());
        }
    }
    kept
}

/// The items one context contributes to the merged `-o json|yaml` list.
fn json_items(context: &str, run: &Finished) -> Vec<Value> {
    if run.code != 0 {
        return vec![json!({"context": context, "error": run.reason(), "exitCode": run.code})];
    }
    let parsed: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    let items = match parsed {
        Value::Array(items) => items,
        Value::Object(ref map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
            map.get("items").and_then(Value::as_array).cloned().unwrap_or_default()
        }
        Value::Null => Vec::new(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(mut map) => {
                map.insert("context".into(), json!(context));
                Value::Object(map)
            }
            other => json!({"context": context, "value": other}),
        })
        .collect()
}

/// `list` and `history` tables side by side: CONTEXT first, then the command's own columns.
/// A context that failed is a row whose last column is its error.
fn merged_table(contexts: &[String], results: &[Finished]) -> String {
    let mut headers: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for run in results.iter().filter(|r| r.code == 0) {
        let (h, _) = table::parse(&run.stdout);
        if h.len() > headers.len() {
            headers = h;
        }
    }
    if headers.is_empty() {
        if results.iter().all(|r| r.code == 0) {
            // Nothing to list anywhere: say so as the command itself says it.
            let said: Vec<String> = results.iter().map(|r| r.stderr.trim().to_string()).collect();
            eprintln!("{}", said.iter().find(|s| !s.is_empty()).cloned().unwrap_or_default());
            return String::new();
        }
        headers = vec!["ERROR".into()];
    }
    for (context, run) in contexts.iter().zip(results) {
        if run.code != 0 {
            let mut row = vec![context.clone()];
            row.extend(std::iter::repeat_n(String::new(), headers.len() - 1));
            row.push(format!("error: {}", run.reason()));
            rows.push(row);
            continue;
        }
        let (_, parsed) = table::parse(&run.stdout);
        for cells in parsed {
            let mut row = vec![context.clone()];
            row.extend(cells);
            row.resize(headers.len() + 1, String::new());
            rows.push(row);
        }
    }
    let mut all_headers = vec!["CONTEXT"];
    all_headers.extend(headers.iter().map(String::as_str));
    table::render(&all_headers, &rows)
}

/// `status` in several contexts: one row each, from its JSON.
fn status_table(contexts: &[String], results: &[Finished]) -> String {
    let headers =
        ["CONTEXT", "NAMESPACE", "MODEL", "PHASE", "READY", "IMAGE(S)", "MODEL-VERSION", "CANARY", "REASON"];
    let rows = contexts
        .iter()
        .zip(results)
        .map(|(context, run)| {
            if run.code != 0 {
                let mut row = vec![context.clone()];
                row.extend(std::iter::repeat_n(String::new(), headers.len() - 2));
                row.push(format!("error: {}", run.reason()));
                return row;
            }
            let status: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
            status_row(context, &status)
        })
        .collect::<Vec<_>>();
    table::render(&headers, &rows)
}

fn status_row(context: &str, status: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let kind = if status["target"]["kind"] == "KnativeService" { "ksvc" } else { "deployment" };
    let revisions = status["revisions"].as_array().cloned().unwrap_or_default();
    let stable = revisions
        .iter()
        .find(|r| r["track"] == "stable")
        .or_else(|| revisions.iter().find(|r| r["current"] == true))
        .cloned()
        .unwrap_or(Value::Null);
    let canary = revisions.iter().find(|r| r["track"] == "canary");
    let images = |r: &Value| -> String {
        let list: Vec<String> =
            r["images"].as_array().into_iter().flatten().map(|i| text(&i["image"])).collect();
        if list.is_empty() {
            "-".into()
        } else {
            list.join(",")
        }
    };
    let canary_text = canary
        .map(|c| match c["trafficPercent"].as_i64() {
            Some(w) => format!("{} ({w}%)", images(c)),
            None => images(c),
        })
        .unwrap_or_else(|| "-".into());
    vec![
        context.to_string(),
        text(&status["target"]["namespace"]),
        format!("{kind}/{}", text(&status["target"]["name"])),
        text(&status["phase"]),
        format!("{}/{}", status["replicas"]["ready"], status["replicas"]["desired"]),
        images(&stable),
        stable["modelVersion"].as_str().unwrap_or("-").to_string(),
        canary_text,
        status["reason"].as_str().unwrap_or("").to_string(),
    ]
}

// ---- writes ----

/// What `set-image --rollback-on-failure` needs to undo the contexts already changed.
struct Rollback {
    target: String,
    timeout: Duration,
    global: GlobalArgs,
}

impl Rollback {
    /// `undo TARGET` with the same connection flags (the context is added per run).
    fn args(&self) -> Vec<OsString> {
        let g = &self.global;
        let mut args: Vec<OsString> = Vec::new();
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                args.push(name.into());
                args.push(value.into());
            }
        };
        flag("--kubeconfig", g.kubeconfig.as_ref().map(|p| p.display().to_string()));
        flag("--cluster", g.cluster.clone());
        flag("--user", g.user.clone());
        flag("--namespace", g.namespace.clone());
        flag("--request-timeout", g.request_timeout.clone());
        if g.no_color {
            args.push("--no-color".into());
        }
        if g.yes {
            args.push("--yes".into());
        }
        args.extend(["undo".into(), self.target.clone().into(), "--timeout".into()]);
        args.push(format!("{}s", self.timeout.as_secs().max(1)).into());
        args
    }
}

/// Where the output of the runs of a wave goes: bars on a terminal, prefixed lines otherwise.
struct WaveView {
    terminal: Terminal,
    multi: Option<MultiProgress>,
    bars: BTreeMap<String, ProgressBar>,
}

impl WaveView {
    fn new(terminal: Terminal, title: &str, contexts: &[String]) -> Self {
        if !terminal.interactive {
            ui::note(terminal, title);
            return Self { terminal, multi: None, bars: BTreeMap::new() };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let _ = multi.println(title);
        let style = ProgressStyle::with_template("  {spinner} {prefix:<16} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = contexts
            .iter()
            .map(|c| {
                let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(c.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                (c.clone(), bar)
            })
            .collect();
        Self { terminal, multi: Some(multi), bars }
    }

    fn line(&self, context: &str, line: &str) {
        match self.bars.get(context) {
            Some(bar) => bar.set_message(strip_timestamp(line).to_string()),
            None => eprintln!("[{context}] {line}"),
        }
    }

    fn done(&self, context: &str, outcome: &str) {
        match self.bars.get(context) {
            Some(bar) => bar.finish_with_message(outcome.to_string()),
            None => ui::note(self.terminal, &format!("[{context}] {outcome}")),
        }
    }

    /// A run's results (its stdout), each line named by its context.
    fn result(&self, context: &str, stdout: &str) {
        let text: String = stdout.lines().map(|line| format!("{context}: {line}\n")).collect();
        match &self.multi {
            Some(multi) => multi.suspend(|| ui::print_stdout(&text)),
            None => ui::print_stdout(&text),
        }
    }

    fn say(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => ui::note(self.terminal, line),
        }
    }
}

/// A line a run printed on stderr, or its end.
enum RunEvent {
    Line(String, String),
    Ended(String, Finished),
}

/// Start a run in each context of a wave; their lines and ends arrive on the returned channel.
fn start_wave(
    args: &[OsString],
    contexts: &[String],
) -> Result<(mpsc::UnboundedReceiver<RunEvent>, BTreeMap<String, u32>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut pids = BTreeMap::new();
    for context in contexts {
        let mut child = spawn(args, context)?;
        if let Some(pid) = child.id() {
            pids.insert(context.clone(), pid);
        }
        let stderr = child.stderr.take();
        let tx = tx.clone();
        let context = context.clone();
        tokio::spawn(async move {
            let mut collected = String::new();
            if let Some(stderr) = stderr {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    collected.push_str(&line);
                    collected.push('\n');
                    let _ = tx.send(RunEvent::Line(context.clone(), line));
                }
            }
            let mut finished = finish(child).await;
            finished.stderr = collected;
            let _ = tx.send(RunEvent::Ended(context, finished));
        });
    }
    Ok((rx, pids))
}

/// Ask a run to stop as Ctrl-C would (it releases what it holds and exits 130).
fn interrupt(pid: u32) {
    // SAFETY: kill(2) with a pid this process started and SIGINT has no memory effects here.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
}

async fn write(
    contexts: &[String],
    base: &[OsString],
    target: &str,
    global: &GlobalArgs,
    rollback: Option<Rollback>,
    terminal: Terminal,
) -> Result<()> {
    let plan = waves::waves(contexts, global.wave_size as usize);
    let mut outcomes: Vec<(String, Outcome)> =
        contexts.iter().map(|c| (c.clone(), Outcome::Untouched)).collect();
    let set = |outcomes: &mut Vec<(String, Outcome)>, context: &str, outcome: Outcome| {
        if let Some(entry) = outcomes.iter_mut().find(|(c, _)| c == context) {
            entry.1 = outcome;
        }
    };
    // Ctrl-C is this module's to answer: each run gets it too (or is sent it), and the summary
    // below says where the waves stopped.
    let guard = crate::InterruptGuard::new();
    let mut interrupted = false;
    let mut failed = false;
    for (n, wave) in plan.iter().enumerate() {
        let view =
            WaveView::new(terminal, &format!("wave {}/{}: {}", n + 1, plan.len(), wave.join(", ")), wave);
        let (mut events, pids) = start_wave(base, wave)?;
        let mut running = wave.len();
        let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
        while running > 0 {
            tokio::select! {
                event = events.recv() => match event {
                    Some(RunEvent::Line(context, line)) => view.line(&context, &line),
                    Some(RunEvent::Ended(context, run)) => {
                        running -= 1;
                        view.result(&context, &run.stdout);
                        let outcome = match run.code {
                            0 => Outcome::Changed,
                            130 => Outcome::Interrupted,
                            code => Outcome::Failed { code, reason: run.reason() },
                        };
                        view.done(&context, &outcome.to_string());
                        failed |= matches!(outcome, Outcome::Failed { .. });
                        interrupted |= outcome == Outcome::Interrupted;
                        set(&mut outcomes, &context, outcome);
                    }
                    None => break,
                },
                _ = &mut ctrl_c, if !interrupted => {
                    interrupted = true;
                    guard.answered();
                    view.say("interrupted: stopping the runs of this wave");
                    pids.values().for_each(|pid| interrupt(*pid));
                }
            }
        }
        if failed || interrupted {
            break;
        }
        if !global.bake.is_zero() {
            let done: Vec<String> =
                outcomes.iter().filter(|(_, o)| *o == Outcome::Changed).map(|(c, _)| c.clone()).collect();
            match bake(base, target, &done, global.bake, &view, &guard).await? {
                Baked::Healthy => {}
                Baked::Degraded(context, reason) => {
                    set(&mut outcomes, &context, Outcome::Failed { code: 1, reason });
                    failed = true;
                    break;
                }
                Baked::Interrupted => {
                    interrupted = true;
                    break;
                }
            }
        }
    }
    if failed {
        if let Some(rollback) = &rollback {
            undo_changed(rollback, &mut outcomes, terminal).await;
        }
    }
    for line in waves::summary(&outcomes) {
        ui::note(terminal, &line);
    }
    let codes = outcomes.iter().map(|(_, o)| match o {
        Outcome::Failed { code, .. } => *code,
        Outcome::Interrupted => ExitCode::Interrupted as i32,
        _ => 0,
    });
    let code = if interrupted { ExitCode::Interrupted as i32 } else { waves::worst_exit(codes) };
    match code {
        0 => Ok(()),
        130 => Err(Error::interrupted(
            "interrupted between contexts; run the same command again to continue with the contexts that lack the change",
        )),
        code => {
            let first = outcomes.iter().find(|(_, o)| matches!(o, Outcome::Failed { .. })).map(|(c, _)| c.clone());
            Err(exit_error(
                code,
                format!(
                    "stopped at context {}: no later context was touched; once it is fixed, run the same command again",
                    first.unwrap_or_default()
                ),
            ))
        }
    }
}

enum Baked {
    Healthy,
    Degraded(String, String),
    Interrupted,
}

/// Watch `status` of every context in `done` for `duration`; the first Degraded one (or one
/// whose status cannot be read) ends the bake.
async fn bake(
    base: &[OsString],
    target: &str,
    done: &[String],
    duration: Duration,
    view: &WaveView,
    guard: &crate::InterruptGuard,
) -> Result<Baked> {
    view.say(&format!(
        "baking {}: watching {} for trouble",
        crate::rollout::progress::short_duration(duration),
        done.join(", ")
    ));
    let mut args = connection_args(base);
    args.extend(["status".into(), target.into(), "--watch".into(), "-o".into(), "json".into()]);
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, std::result::Result<Value, String>)>();
    let mut watchers = Vec::new();
    for context in done {
        let mut child = spawn(&args, context)?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let tx = tx.clone();
        let context = context.clone();
        watchers.push(tokio::spawn(async move {
            let mut text = String::new();
            if let Some(mut stdout) = stdout {
                let mut buffer = [0u8; 8192];
                while let Ok(n) = stdout.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                    // Each redraw is one JSON document; hand over every complete one.
                    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
                    let mut used = 0;
                    while let Some(Ok(doc)) = stream.next() {
                        used = stream.byte_offset();
                        let _ = tx.send((context.clone(), Ok(doc)));
                    }
                    text.drain(..used);
                }
            }
            let mut error = String::new();
            if let Some(mut stderr) = stderr {
                let _ = stderr.read_to_string(&mut error).await;
            }
            let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(1);
            let reason = Finished { code, stdout: String::new(), stderr: error }.reason();
            let _ = tx.send((context, Err(reason)));
        }));
    }
    drop(tx);
    let deadline = tokio::time::sleep(duration);
    tokio::pin!(deadline);
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let mut phases: BTreeMap<String, String> = BTreeMap::new();
    let verdict = loop {
        tokio::select! {
            () = &mut deadline => break Baked::Healthy,
            _ = &mut ctrl_c => {
                guard.answered();
                break Baked::Interrupted;
            }
            seen = rx.recv() => match seen {
                Some((context, Ok(status))) if status["phase"] == "Degraded" => {
                    let reason = status["reason"].as_str().unwrap_or("degraded").to_string();
                    break Baked::Degraded(context, format!("degraded during the bake: {reason}"));
                }
                Some((context, Ok(status))) => {
                    let phase = status["phase"].as_str().unwrap_or("?").to_string();
                    if phases.insert(context.clone(), phase.clone()).as_ref() != Some(&phase) {
                        view.say(&format!("[{context}] {phase}"));
                    }
                }
                Some((context, Err(reason))) => {
                    break Baked::Degraded(context, format!("its status could not be watched during the bake: {reason}"));
                }
                None => break Baked::Healthy,
            }
        }
    };
    // Dropping the tasks drops the watchers, which kills them (kill_on_drop).
    watchers.iter().for_each(tokio::task::JoinHandle::abort);
    Ok(verdict)
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

/// `set-image --rollback-on-failure`: undo every context that has the change, last changed first.
async fn undo_changed(rollback: &Rollback, outcomes: &mut [(String, Outcome)], terminal: Terminal) {
    let changed: Vec<String> =
        outcomes.iter().filter(|(_, o)| *o == Outcome::Changed).map(|(c, _)| c.clone()).collect();
    let args = rollback.args();
    for context in changed.iter().rev() {
        ui::note(terminal, &format!("[{context}] rolling back: undo {}", rollback.target));
        let run = match spawn(&args, context) {
            Ok(child) => finish(child).await,
            Err(e) => Finished { code: 1, stdout: String::new(), stderr: format!("error: {e}") },
        };
        let outcome = if run.code == 0 {
            Outcome::RolledBack
        } else {
            Outcome::Failed {
                code: run.code,
                reason: format!("changed, and its rollback failed: {}", run.reason()),
            }
        };
        if let Some(entry) = outcomes.iter_mut().find(|(c, _)| c == context) {
            entry.1 = outcome;
        }
    }
}

/// The error that carries a context run's exit code out of this program.
fn exit_error(code: i32, message: String) -> Error {
    match code {
        2 => Error::usage(message),
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
    fn plain_lines_lose_their_timestamp_in_a_bar() {
        assert_eq!(strip_timestamp("2026-12-05T21:00:00Z rolling out"), "rolling out");
        assert_eq!(strip_timestamp("rolling out"), "rolling out");
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

    #[test]
    fn a_status_row_shows_stable_and_canary() {
        let status = json!({
            "target": {"kind": "Deployment", "name": "fraud", "namespace": "ml"},
            "phase": "Canary", "replicas": {"ready": 3, "desired": 3},
            "revisions": [
                {"track": "stable", "images": [{"image": "r/fraud:v1"}], "modelVersion": "v1", "current": true},
                {"track": "canary", "images": [{"image": "r/fraud:v2"}], "trafficPercent": 10, "current": false}
            ]
        });
        assert_eq!(
            status_row("eu", &status),
            vec!["eu", "ml", "deployment/fraud", "Canary", "3/3", "r/fraud:v1", "v1", "r/fraud:v2 (10%)", ""]
        );
    }
}
