//! Issue 17, the first hour of a kubectl user: what the commands say, in which words, and how
//! they behave on a real terminal (through a pseudo-terminal, not output captured off one).

use crate::common::run_binary;

/// Item 8: a bad duration is one kubectl-like sentence naming the flag, not clap's tip about
/// `-- -1s`, "expected number at 0" or a list of months and years; `--version` points to
/// `version` instead of suggesting `--verbose`.
#[test]
fn parser_messages_read_like_kubectl() {
    let hint = "use a number and a unit such as 30s, 5m, 1h";
    for (args, says) in [
        (
            &["shift", "m", "--steps", "10,50", "--interval", "-1s"][..],
            format!(r#"error: --interval: invalid duration "-1s": a duration cannot be negative; {hint}"#),
        ),
        (
            &["abort", "m", "--timeout", "forever"][..],
            format!(r#"error: --timeout: invalid duration "forever": {hint}"#),
        ),
        (
            &["shift", "m", "--steps", "10,50", "--interval", "5x"][..],
            r#"error: --interval: invalid duration "5x": unknown unit "x"; the units are ns, us, ms, s, m and h"#
                .to_string(),
        ),
        (
            &["set-image", "m", "m:v2", "--unschedulable-timeout", "2 months"][..],
            format!(r#"error: --unschedulable-timeout: invalid duration "2 months": {hint}"#),
        ),
        (
            &["--version"][..],
            "error: unknown flag --version: the version is printed by `kubectl modelroll version`".to_string(),
        ),
    ] {
        let out = run_binary(args);
        assert_eq!((out.code, out.stderr.as_str(), out.stdout.as_str()), (2, format!("{says}\n").as_str(), ""), "{args:?}");
    }
}

/// Item 2: `--steps` without `--interval` holds each step a minute (not 0s), and help says so.
#[test]
fn steps_hold_a_minute_unless_told_otherwise_and_help_says_so() {
    let out = run_binary(&["shift", "--help"]);
    out.success();
    let interval = out.stdout.lines().skip_while(|l| !l.contains("--interval")).take(3).collect::<String>();
    assert!(interval.contains("[default: 1m]"), "{}", out.stdout);
}
