//! `--contexts` for writes: waves, the bake, Ctrl-C between contexts, rolling back.

use super::*;
use crate::ui::waves::WaveView;

/// What `set-image --rollback-on-failure` needs to undo the contexts already changed.
pub(super) struct Rollback {
    pub(super) target: String,
    pub(super) timeout: Duration,
    pub(super) global: GlobalArgs,
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

/// A line a run printed on stderr, or its end.
pub(super) enum RunEvent {
    Line(String, String),
    Ended(String, Finished),
}

/// Start a run in each context of a wave; their lines and ends arrive on the returned channel.
pub(super) fn start_wave(
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
pub(super) fn interrupt(pid: u32) {
    // SAFETY: kill(2) with a pid this process started and SIGINT has no memory effects here.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
}

pub(super) async fn write(
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

pub(super) enum Baked {
    Healthy,
    Degraded(String, String),
    Interrupted,
}

/// What the `status --watch` of one context reports during a bake.
enum Watched {
    /// One redraw: the status as JSON.
    Status(Value),
    /// The watcher ended (a bake outlives every healthy watch): why, in its own words.
    Ended(String),
}

/// Watch `status` of every context in `done` for `duration`; the first Degraded one (or one
/// whose status cannot be read) ends the bake.
pub(super) async fn bake(
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
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Watched)>();
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
                        let _ = tx.send((context.clone(), Watched::Status(doc)));
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
            let _ = tx.send((context, Watched::Ended(reason)));
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
                Some((context, Watched::Status(status))) if status["phase"] == "Degraded" => {
                    let reason = status["reason"].as_str().unwrap_or("degraded").to_string();
                    break Baked::Degraded(context, format!("degraded during the bake: {reason}"));
                }
                Some((context, Watched::Status(status))) => {
                    let phase = status["phase"].as_str().unwrap_or("?").to_string();
                    if phases.insert(context.clone(), phase.clone()).as_ref() != Some(&phase) {
                        view.say(&format!("[{context}] {phase}"));
                    }
                }
                Some((context, Watched::Ended(reason))) => {
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

/// `set-image --rollback-on-failure`: undo every context that has the change, last changed first.
pub(super) async fn undo_changed(
    rollback: &Rollback,
    outcomes: &mut [(String, Outcome)],
    terminal: Terminal,
) {
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
