//! One command across several kubeconfig contexts (`--contexts`): which contexts are, which
//! waves they go in, what became of each, and which exit code sums them up. No IO.

use std::fmt;

/// What is wrong with `--contexts`; `contexts` is the flag's value (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextsError {
    #[error("--contexts all: the kubeconfig has no context")]
    NoContext,
    #[error("--contexts {contexts:?}: a context name is empty; give names separated by commas, or all")]
    EmptyName { contexts: String },
    #[error("--contexts {contexts:?}: context {name:?} is named twice")]
    Twice { contexts: String, name: String },
    #[error("--contexts: context {name:?} is not in the kubeconfig; contexts are: {}", .known.join(", "))]
    Unknown { name: String, known: Vec<String> },
}

/// `--contexts` as given: `all`, or names separated by commas.
///
/// # Errors
/// A [`ContextsError`]: no context for `all`, an empty name, a name given twice or one the
/// kubeconfig does not have.
pub fn parse_contexts(text: &str, known: &[String]) -> Result<Vec<String>, ContextsError> {
    let text = text.trim();
    if text == "all" {
        if known.is_empty() {
            return Err(ContextsError::NoContext);
        }
        return Ok(known.to_vec());
    }
    let mut names: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(ContextsError::EmptyName { contexts: text.to_string() });
        }
        if names.iter().any(|n| n == name) {
            return Err(ContextsError::Twice { contexts: text.to_string(), name: name.to_string() });
        }
        if !known.iter().any(|k| k == name) {
            return Err(ContextsError::Unknown { name: name.to_string(), known: known.to_vec() });
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// The contexts in the order given, `wave_size` at a time (the last wave may be smaller).
pub fn waves(contexts: &[String], wave_size: usize) -> Vec<Vec<String>> {
    contexts.chunks(wave_size.max(1)).map(<[String]>::to_vec).collect()
}

/// What a write command did in one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The command succeeded there (and its bake, if any, passed).
    Changed,
    /// The command failed there with this exit code, or its bake found it degraded (code 1).
    Failed { code: i32, reason: String },
    /// Changed, then undone because a later context failed (`--rollback-on-failure`).
    RolledBack,
    /// Stopped by Ctrl-C while running there.
    Interrupted,
    /// Never touched: an earlier wave failed or was interrupted.
    Untouched,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Changed => f.write_str("changed"),
            Outcome::Failed { reason, .. } => write!(f, "failed: {reason}"),
            Outcome::RolledBack => f.write_str("changed, then rolled back"),
            Outcome::Interrupted => f.write_str("interrupted"),
            Outcome::Untouched => f.write_str("untouched"),
        }
    }
}

/// How bad an exit code is, to pick the worst of several: success, then a metric check that
/// rolled back (3), a failure in the cluster (1), bad usage (2), an interruption (130).
fn severity(code: i32) -> u8 {
    match code {
        0 => 0,
        3 => 1,
        1 => 2,
        2 => 3,
        130 => 4,
        _ => 2,
    }
}

/// The exit code of the whole command: the worst of the contexts' (0 for none).
pub fn worst_exit(codes: impl IntoIterator<Item = i32>) -> i32 {
    codes.into_iter().max_by_key(|code| severity(*code)).unwrap_or(0)
}

/// The closing lines of a write across contexts: who has the change and who does not.
pub fn summary(outcomes: &[(String, Outcome)]) -> Vec<String> {
    let with = |keep: fn(&Outcome) -> bool| -> Vec<&str> {
        outcomes.iter().filter(|(_, o)| keep(o)).map(|(c, _)| c.as_str()).collect()
    };
    let changed = with(|o| matches!(o, Outcome::Changed));
    let without = with(|o| !matches!(o, Outcome::Changed));
    let mut lines: Vec<String> =
        outcomes.iter().map(|(context, outcome)| format!("{context}: {outcome}")).collect();
    lines.push(match (changed.is_empty(), without.is_empty()) {
        (_, true) => format!("every context has the change: {}", changed.join(", ")),
        (true, false) => format!("no context has the change ({})", without.join(", ")),
        (false, false) => {
            format!("have the change: {}; do not: {}", changed.join(", "), without.join(", "))
        }
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn contexts_are_checked_against_the_kubeconfig() {
        let known = names(&["staging", "eu", "us"]);
        assert_eq!(parse_contexts("eu,staging", &known).unwrap(), names(&["eu", "staging"]));
        assert_eq!(parse_contexts("all", &known).unwrap(), known);
        assert_eq!(parse_contexts(" eu , us ", &known).unwrap(), names(&["eu", "us"]));
        let unknown = parse_contexts("eu,asia", &known).unwrap_err();
        assert_eq!(unknown, ContextsError::Unknown { name: "asia".into(), known: known.clone() });
        assert_eq!(
            unknown.to_string(),
            "--contexts: context \"asia\" is not in the kubeconfig; contexts are: staging, eu, us"
        );
        let empty = parse_contexts(" eu,,us ", &known).unwrap_err();
        assert_eq!(empty, ContextsError::EmptyName { contexts: "eu,,us".into() });
        assert_eq!(
            empty.to_string(),
            "--contexts \"eu,,us\": a context name is empty; give names separated by commas, or all"
        );
        let twice = parse_contexts("eu,eu", &known).unwrap_err();
        assert_eq!(twice, ContextsError::Twice { contexts: "eu,eu".into(), name: "eu".into() });
        assert_eq!(twice.to_string(), "--contexts \"eu,eu\": context \"eu\" is named twice");
        assert_eq!(parse_contexts("all", &[]), Err(ContextsError::NoContext));
        assert_eq!(ContextsError::NoContext.to_string(), "--contexts all: the kubeconfig has no context");
    }

    #[test]
    fn waves_keep_the_order_given() {
        let c = names(&["a", "b", "c", "d", "e"]);
        assert_eq!(waves(&c, 1).len(), 5);
        assert_eq!(waves(&c, 2), vec![names(&["a", "b"]), names(&["c", "d"]), names(&["e"])]);
        assert_eq!(waves(&c, 9), vec![c.clone()]);
        assert_eq!(waves(&c, 0).len(), 5, "a wave holds at least one context");
    }

    #[test]
    fn the_worst_exit_code_wins() {
        assert_eq!(worst_exit([0, 0]), 0);
        assert_eq!(worst_exit([0, 3]), 3);
        assert_eq!(worst_exit([3, 1, 0]), 1);
        assert_eq!(worst_exit([1, 2]), 2);
        assert_eq!(worst_exit([2, 130, 1]), 130);
        assert_eq!(worst_exit([]), 0);
    }

    #[test]
    fn the_summary_says_who_has_the_change() {
        let outcomes = vec![
            ("staging".to_string(), Outcome::Changed),
            ("eu".to_string(), Outcome::Failed { code: 1, reason: "rollout timed out".into() }),
            ("us".to_string(), Outcome::Untouched),
        ];
        assert_eq!(
            summary(&outcomes),
            vec![
                "staging: changed",
                "eu: failed: rollout timed out",
                "us: untouched",
                "have the change: staging; do not: eu, us",
            ]
        );
        let all = vec![("a".to_string(), Outcome::Changed), ("b".to_string(), Outcome::Changed)];
        assert_eq!(summary(&all).last().unwrap(), "every context has the change: a, b");
    }
}
