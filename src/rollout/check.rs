//! Metric checks (`--check 'QUERY OP THRESHOLD'`, `--check-file`): parsing, placeholder
//! expansion, the verdict on a value, the failure budget of `--failure-limit`, and the record of
//! the last evaluations kept in the `modelroll.io/rollout` annotation. No IO: the query is sent by
//! `crate::prometheus`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a check, a check file or a placeholder is refused (a usage error: exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("invalid --check {text:?}: it has no comparison; write it as 'QUERY OP THRESHOLD' with OP one of <, <=, >, >=")]
    NoOperator { text: String },
    #[error("invalid --check {text:?}: unknown operator {op:?}; OP is one of <, <=, >, >=")]
    UnknownOperator { text: String, op: String },
    #[error("invalid --check {text:?}: the query before {op:?} is empty")]
    EmptyQuery { text: String, op: String },
    #[error("invalid --check {text:?}: threshold {threshold:?} is not a number")]
    BadThreshold { text: String, threshold: String },
    #[error("invalid --check {text:?}: unknown placeholder {{{{{placeholder}}}}}; known ones are {{{{namespace}}}}, {{{{name}}}}, {{{{canary}}}}, {{{{stable}}}}, {{{{interval}}}}")]
    UnknownPlaceholder { text: String, placeholder: String },
    #[error("invalid --check {text:?}: a {{{{ is never closed by }}}}")]
    UnclosedPlaceholder { text: String },
    #[error("invalid --check {text:?}: unbalanced brackets or quotes in the query")]
    Unbalanced { text: String },
    #[error("invalid --check-file {path}: {reason}")]
    File { path: String, reason: String },
}

/// The comparison a check's value must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    /// The operator as written (`<`, `<=`, `>`, `>=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "<" => Some(Self::Lt),
            "<=" => Some(Self::Le),
            ">" => Some(Self::Gt),
            ">=" => Some(Self::Ge),
            _ => None,
        }
    }

    /// Whether `value OP threshold` holds. NaN never passes (a ratio of nothing is no evidence);
    /// infinities compare as numbers (a p99 in the `+Inf` bucket fails a `<` check).
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Lt => value < threshold,
            Self::Le => value <= threshold,
            Self::Gt => value > threshold,
            Self::Ge => value >= threshold,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check: a PromQL query with placeholders, and the comparison its value must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What the user calls it (the file's `name`, else the text of `--check`).
    pub name: String,
    /// PromQL, placeholders not yet filled in.
    pub query: String,
    pub op: Op,
    pub threshold: f64,
}

/// The placeholders `--check` queries may use.
pub const PLACEHOLDERS: [&str; 5] = ["namespace", "name", "canary", "stable", "interval"];

/// Where a comparison operator sits in a query, outside brackets and quotes.
struct Found {
    start: usize,
    end: usize,
}

/// The last comparison operator at the top level of `text`: not inside `{}` (label matchers, which
/// hold `=~` and `!=`), `()` (function calls and sub-expressions, which may compare), `[]` (ranges),
/// or a string. PromQL compares left to right, so in `a > 0.5 < 3` the threshold is `3`.
///
/// `Ok(None)` when there is none; `Err` when brackets or quotes do not balance.
fn last_top_level_comparison(text: &str) -> Result<Option<Found>, ()> {
    let bytes = text.as_bytes();
    let mut depth: Vec<u8> = Vec::new();
    let mut quote: Option<u8> = None;
    let mut found = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' && q != b'`' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\'' | b'`' => quote = Some(c),
            b'(' | b'{' | b'[' => depth.push(c),
            b')' | b'}' | b']' => {
                let open = match c {
                    b')' => b'(',
                    b'}' => b'{',
                    _ => b'[',
                };
                if depth.pop() != Some(open) {
                    return Err(());
                }
            }
            b'<' | b'>' | b'=' | b'!' if depth.is_empty() => {
                let start = i;
                let mut end = i + 1;
                while end < bytes.len() && matches!(bytes[end], b'<' | b'>' | b'=' | b'!' | b'~') {
                    end += 1;
                }
                found = Some(Found { start, end });
                i = end;
                continue;
            }
            b'#' if depth.is_empty() => break, // a PromQL comment runs to the end of the line
            _ => {}
        }
        i += 1;
    }
    if quote.is_some() || !depth.is_empty() {
        return Err(());
    }
    Ok(found)
}

/// Parse a threshold: a finite number (`99`, `0.5`, `-1`, `2e3`).
fn parse_threshold(text: &str) -> Option<f64> {
    let value: f64 = text.trim().parse().ok()?;
    value.is_finite().then_some(value)
}

/// Parse `--check 'QUERY OP THRESHOLD'`, or a shorthand (`success-rate>=99`, see [`shorthand`]),
/// and check its placeholders.
///
/// # Errors
/// A [`CheckError`] naming what is wrong.
pub fn parse_check(text: &str) -> Result<Check, CheckError> {
    let err_text = || text.to_string();
    let found = last_top_level_comparison(text)
        .map_err(|()| CheckError::Unbalanced { text: err_text() })?
        .ok_or_else(|| CheckError::NoOperator { text: err_text() })?;
    let op_text = &text[found.start..found.end];
    let op = Op::parse(op_text)
        .ok_or_else(|| CheckError::UnknownOperator { text: err_text(), op: op_text.to_string() })?;
    let query = text[..found.start].trim();
    if query.is_empty() {
        return Err(CheckError::EmptyQuery { text: err_text(), op: op_text.to_string() });
    }
    let threshold_text = text[found.end..].trim();
    let threshold = parse_threshold(threshold_text).ok_or_else(|| CheckError::BadThreshold {
        text: err_text(),
        threshold: threshold_text.to_string(),
    })?;
    let query = shorthand(query).map_or_else(|| query.to_string(), str::to_string);
    placeholders_known(&query, text)?;
    Ok(Check { name: text.trim().to_string(), query, op, threshold })
}

/// Every `{{…}}` in `query` is one of [`PLACEHOLDERS`].
fn placeholders_known(query: &str, text: &str) -> Result<(), CheckError> {
    let mut rest = query;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| CheckError::UnclosedPlaceholder { text: text.into() })?;
        let name = after[..close].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(CheckError::UnknownPlaceholder { text: text.into(), placeholder: name.into() });
        }
        rest = &after[close + 2..];
    }
    Ok(())
}

/// The ready-made checks: a name standing for PromQL over the metrics Istio's sidecars export
/// (`istio_requests_total`, `istio_request_duration_milliseconds`) for the canary's workload.
/// Knative canaries use [`for_knative`] instead. README lists them with their PromQL.
pub fn shorthand(name: &str) -> Option<&'static str> {
    Some(match name {
        "success-rate" => ISTIO_SUCCESS_RATE,
        "error-rate" => ISTIO_ERROR_RATE,
        "p95-latency" => ISTIO_P95,
        "p99-latency" => ISTIO_P99,
        _ => return None,
    })
}

/// Percent of the canary's requests that did not answer 5xx.
pub const ISTIO_SUCCESS_RATE: &str = r#"100 * (sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{namespace}}",destination_workload="{{canary}}",response_code!~"5.."}[{{interval}}])) or vector(0)) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{namespace}}",destination_workload="{{canary}}"}[{{interval}}]))"#;
/// Percent of the canary's requests that answered 5xx.
pub const ISTIO_ERROR_RATE: &str = r#"100 * (sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{namespace}}",destination_workload="{{canary}}",response_code=~"5.."}[{{interval}}])) or vector(0)) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{namespace}}",destination_workload="{{canary}}"}[{{interval}}]))"#;
/// 95th percentile of the canary's request duration, in milliseconds.
pub const ISTIO_P95: &str = r#"histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="{{namespace}}",destination_workload="{{canary}}"}[{{interval}}])))"#;
/// 99th percentile of the canary's request duration, in milliseconds.
pub const ISTIO_P99: &str = r#"histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="{{namespace}}",destination_workload="{{canary}}"}[{{interval}}])))"#;

/// Percent of the canary revision's requests that did not answer 5xx (Knative's queue-proxy).
pub const KNATIVE_SUCCESS_RATE: &str = r#"100 * (sum(rate(revision_app_request_count{namespace_name="{{namespace}}",revision_name="{{canary}}",response_code_class!="5xx"}[{{interval}}])) or vector(0)) / sum(rate(revision_app_request_count{namespace_name="{{namespace}}",revision_name="{{canary}}"}[{{interval}}]))"#;
/// Percent of the canary revision's requests that answered 5xx.
pub const KNATIVE_ERROR_RATE: &str = r#"100 * (sum(rate(revision_app_request_count{namespace_name="{{namespace}}",revision_name="{{canary}}",response_code_class="5xx"}[{{interval}}])) or vector(0)) / sum(rate(revision_app_request_count{namespace_name="{{namespace}}",revision_name="{{canary}}"}[{{interval}}]))"#;
/// 95th percentile of the canary revision's request latency, in milliseconds.
pub const KNATIVE_P95: &str = r#"histogram_quantile(0.95, sum by (le) (rate(revision_app_request_latencies_bucket{namespace_name="{{namespace}}",revision_name="{{canary}}"}[{{interval}}])))"#;
/// 99th percentile of the canary revision's request latency, in milliseconds.
pub const KNATIVE_P99: &str = r#"histogram_quantile(0.99, sum by (le) (rate(revision_app_request_latencies_bucket{namespace_name="{{namespace}}",revision_name="{{canary}}"}[{{interval}}])))"#;

/// For a Knative target, a ready-made check over Istio's metrics becomes the same check over
/// Knative's (a ksvc's revisions report through their queue-proxy, not as Deployments).
pub fn for_knative(check: &Check) -> Check {
    let query = match check.query.as_str() {
        ISTIO_SUCCESS_RATE => KNATIVE_SUCCESS_RATE,
        ISTIO_ERROR_RATE => KNATIVE_ERROR_RATE,
        ISTIO_P95 => KNATIVE_P95,
        ISTIO_P99 => KNATIVE_P99,
        _ => return check.clone(),
    };
    Check { query: query.to_string(), ..check.clone() }
}

/// The values the placeholders stand for in one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders {
    pub namespace: String,
    pub name: String,
    pub canary: String,
    pub stable: String,
    pub interval: Duration,
}

/// A duration as PromQL writes it: whole seconds (`30s`), else milliseconds (`1500ms`).
pub fn promql_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl Placeholders {
    /// `query` with every placeholder filled in (placeholders were checked by [`parse_check`]).
    pub fn fill(&self, query: &str) -> String {
        let mut out = String::with_capacity(query.len());
        let mut rest = query;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                out.push_str(&rest[open..]);
                return out;
            };
            let value = match after[..close].trim() {
                "namespace" => self.namespace.clone(),
                "name" => self.name.clone(),
                "canary" => self.canary.clone(),
                "stable" => self.stable.clone(),
                "interval" => promql_duration(self.interval),
                other => format!("{{{{{other}}}}}"),
            };
            out.push_str(&value);
            rest = &after[close + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// `--check-file`: `checks: [{name, query, op, threshold}]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckFile {
    checks: Vec<FileCheck>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCheck {
    name: String,
    query: String,
    op: String,
    threshold: serde_yaml::Value,
}

/// Parse the YAML of `--check-file` (`path` is for messages).
///
/// # Errors
/// [`CheckError::File`] for YAML that is not a list of checks, and the errors of
/// [`parse_check`] for a bad op, threshold or placeholder.
pub fn parse_check_file(path: &str, yaml: &str) -> Result<Vec<Check>, CheckError> {
    let file: CheckFile = serde_yaml::from_str(yaml).map_err(|e| CheckError::File {
        path: path.to_string(),
        reason: format!("{e} (expected `checks: [{{name, query, op, threshold}}]`)"),
    })?;
    if file.checks.is_empty() {
        return Err(CheckError::File { path: path.into(), reason: "it lists no checks".into() });
    }
    let mut checks = Vec::new();
    for entry in file.checks {
        let threshold_text = match &entry.threshold {
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
        };
        let text = format!("{} {} {}", entry.query.trim(), entry.op.trim(), threshold_text);
        let op = Op::parse(entry.op.trim()).ok_or_else(|| CheckError::UnknownOperator {
            text: text.clone(),
            op: entry.op.trim().to_string(),
        })?;
        let threshold = parse_threshold(&threshold_text).ok_or_else(|| CheckError::BadThreshold {
            text: text.clone(),
            threshold: threshold_text.clone(),
        })?;
        let query = entry.query.trim();
        if query.is_empty() {
            return Err(CheckError::EmptyQuery { text, op: op.as_str().into() });
        }
        let query = shorthand(query).map_or_else(|| query.to_string(), str::to_string);
        placeholders_known(&query, &text)?;
        checks.push(Check { name: entry.name, query, op, threshold });
    }
    Ok(checks)
}

/// What one query answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A number (NaN and ±Inf included: PromQL computes them).
    Number(f64),
    /// An empty vector: nothing matched.
    NoData,
}

impl Value {
    /// The value as shown to the user: `97.5`, `NaN`, `+Inf`, `no data`.
    pub fn text(self) -> String {
        match self {
            Self::NoData => "no data".into(),
            Self::Number(v) if v.is_nan() => "NaN".into(),
            Self::Number(v) if v == f64::INFINITY => "+Inf".into(),
            Self::Number(v) if v == f64::NEG_INFINITY => "-Inf".into(),
            Self::Number(v) => {
                // Four significant decimals are enough to read a rate or a latency.
                let rounded = (v * 10_000.0).round() / 10_000.0;
                format!("{rounded}")
            }
        }
    }
}

/// Whether `value` passes `check`: no data fails (a canary that served nothing has proved
/// nothing), NaN fails, numbers compare with the check's op.
pub fn passes(check: &Check, value: Value) -> bool {
    match value {
        Value::NoData => false,
        Value::Number(v) => !v.is_nan() && check.op.holds(v, check.threshold),
    }
}

/// One check's result in one evaluation, as kept in the annotation and shown by `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub name: String,
    /// The query as sent (placeholders filled in).
    pub query: String,
    pub op: Op,
    pub threshold: f64,
    /// The value as text (`97.5`, `NaN`, `+Inf`, `no data`): JSON has no NaN.
    pub value: String,
    pub passed: bool,
}

/// One evaluation of every check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// RFC 3339 time of the evaluation.
    pub time: String,
    /// The canary's weight during the interval evaluated (absent for set-image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    pub checks: Vec<CheckResult>,
}

impl Evaluation {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// What the annotation keeps of the checks: the last evaluation of each step (bounded by
/// [`Analysis::MAX_STEPS`]), failures counted against the limit, and the verdict once there is
/// one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub evaluations: Vec<Evaluation>,
    pub failed_evaluations: u32,
    pub failure_limit: u32,
    /// `Passed`, `Failed` (then what was done: `aborted`, `held at weight 0`, `rolled back`), or
    /// absent while checks still run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// What to do after an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Every check passed: the step may advance.
    Advance,
    /// A check failed, within `--failure-limit`: hold the step for another interval.
    Retry,
    /// A check failed once more than `--failure-limit` allows.
    Fail,
}

impl Analysis {
    /// Evaluations kept: the last one of each step, for this many steps (the newest).
    pub const MAX_STEPS: usize = 10;

    pub fn new(failure_limit: u32) -> Self {
        Self { failure_limit, ..Self::default() }
    }

    /// Record `evaluation` (replacing the previous one of the same step, so the record stays
    /// bounded however often a step is retried) and say what comes next.
    pub fn record(&mut self, evaluation: Evaluation) -> Next {
        let passed = evaluation.passed();
        let same_step = self.evaluations.last().is_some_and(|last| last.weight == evaluation.weight);
        if same_step && evaluation.weight.is_some() {
            self.evaluations.pop();
        }
        self.evaluations.push(evaluation);
        if self.evaluations.len() > Self::MAX_STEPS {
            let extra = self.evaluations.len() - Self::MAX_STEPS;
            self.evaluations.drain(..extra);
        }
        if passed {
            return Next::Advance;
        }
        self.failed_evaluations += 1;
        if self.failed_evaluations > self.failure_limit {
            Next::Fail
        } else {
            Next::Retry
        }
    }

    /// The last value of each check by name, for `status`'s CHECKS block.
    pub fn last_by_check(&self) -> BTreeMap<String, &CheckResult> {
        let mut last = BTreeMap::new();
        for evaluation in &self.evaluations {
            for check in &evaluation.checks {
                last.insert(check.name.clone(), check);
            }
        }
        last
    }
}

/// One line per check: `name: value OP threshold ✓|✗`, as printed after each evaluation.
pub fn evaluation_lines(evaluation: &Evaluation) -> Vec<String> {
    evaluation
        .checks
        .iter()
        .map(|c| {
            format!(
                "check {}: {} {} {} {}",
                c.name,
                c.value,
                c.op,
                Value::Number(c.threshold).text(),
                if c.passed { "passed" } else { "FAILED" }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (String, Op, f64) {
        let c = parse_check(text).unwrap();
        (c.query, c.op, c.threshold)
    }

    #[test]
    fn operators_are_found_at_the_top_level_only() {
        assert_eq!(parsed("up < 1"), ("up".into(), Op::Lt, 1.0));
        assert_eq!(parsed("up<=1"), ("up".into(), Op::Le, 1.0));
        assert_eq!(parsed(" up >0.5 "), ("up".into(), Op::Gt, 0.5));
        assert_eq!(parsed("up >= -2e1"), ("up".into(), Op::Ge, -20.0));
        // Label matchers hold `=`, `!=`, `=~` and `!~`; strings may hold anything.
        assert_eq!(
            parsed(r#"sum(rate(x{code!~"5..",a="x>y",b!="<"}[1m])) >= 99"#),
            (r#"sum(rate(x{code!~"5..",a="x>y",b!="<"}[1m]))"#.into(), Op::Ge, 99.0)
        );
        // A comparison inside parentheses belongs to the query.
        assert_eq!(parsed("count(up > 0) < 3"), ("count(up > 0)".into(), Op::Lt, 3.0));
        // The last top-level comparison is the check's; the earlier one is PromQL's.
        assert_eq!(parsed("up > 0.5 < 3"), ("up > 0.5".into(), Op::Lt, 3.0));
        assert_eq!(parsed("up > bool 0 >= 1"), ("up > bool 0".into(), Op::Ge, 1.0));
        // Escaped quotes do not end a string.
        assert_eq!(parsed(r#"x{a="q\"<"} < 1"#), (r#"x{a="q\"<"}"#.into(), Op::Lt, 1.0));
        assert_eq!(parsed("x{a=`<`} > 1"), ("x{a=`<`}".into(), Op::Gt, 1.0));
    }

    #[test]
    fn malformed_checks_are_refused_with_their_reason() {
        assert!(matches!(parse_check("up"), Err(CheckError::NoOperator { .. })));
        assert!(matches!(parse_check("count(up > 1)"), Err(CheckError::NoOperator { .. })));
        assert!(matches!(parse_check("up == 1"), Err(CheckError::UnknownOperator { op, .. }) if op == "=="));
        assert!(matches!(parse_check("up != 1"), Err(CheckError::UnknownOperator { op, .. }) if op == "!="));
        assert!(matches!(parse_check("up => 1"), Err(CheckError::UnknownOperator { op, .. }) if op == "=>"));
        assert!(matches!(parse_check("up =< 1"), Err(CheckError::UnknownOperator { .. })));
        assert!(matches!(parse_check("up >> 1"), Err(CheckError::UnknownOperator { .. })));
        assert!(matches!(parse_check(">= 1"), Err(CheckError::EmptyQuery { .. })));
        assert!(matches!(parse_check("up >= high"), Err(CheckError::BadThreshold { .. })));
        assert!(matches!(parse_check("up >= "), Err(CheckError::BadThreshold { .. })));
        assert!(matches!(parse_check("up >= NaN"), Err(CheckError::BadThreshold { .. })));
        assert!(matches!(parse_check("up >= inf"), Err(CheckError::BadThreshold { .. })));
        assert!(matches!(parse_check("up >= 99%"), Err(CheckError::BadThreshold { .. })));
        assert!(matches!(parse_check("sum(up >= 1"), Err(CheckError::Unbalanced { .. })));
        assert!(matches!(parse_check(r#"x{a="b} > 1"#), Err(CheckError::Unbalanced { .. })));
        assert!(matches!(parse_check("x{a=\"b\")} > 1"), Err(CheckError::Unbalanced { .. })));
    }

    #[test]
    fn placeholders_are_checked_and_filled() {
        let err = parse_check(r#"x{pod="{{pod}}"} > 1"#).unwrap_err();
        assert!(matches!(&err, CheckError::UnknownPlaceholder { placeholder, .. } if placeholder == "pod"));
        assert!(err.to_string().contains("{{pod}}"), "{err}");
        assert!(matches!(parse_check(r#"x{a="{{name"} > 1"#), Err(CheckError::UnclosedPlaceholder { .. })));
        let check = parse_check(
            r#"rate(x{ns="{{namespace}}",w=~"{{ canary }}|{{stable}}",m="{{name}}"}[{{interval}}]) < 1"#,
        )
        .unwrap();
        let values = Placeholders {
            namespace: "ml".into(),
            name: "fraud".into(),
            canary: "fraud-canary".into(),
            stable: "fraud".into(),
            interval: Duration::from_secs(30),
        };
        assert_eq!(values.fill(&check.query), r#"rate(x{ns="ml",w=~"fraud-canary|fraud",m="fraud"}[30s])"#);
    }

    #[test]
    fn intervals_are_promql_durations() {
        assert_eq!(promql_duration(Duration::from_secs(90)), "90s");
        assert_eq!(promql_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn shorthands_expand_to_promql_with_placeholders() {
        let check = parse_check("success-rate>=99").unwrap();
        assert_eq!(check.query, ISTIO_SUCCESS_RATE);
        assert_eq!((check.op, check.threshold), (Op::Ge, 99.0));
        assert_eq!(check.name, "success-rate>=99");
        assert_eq!(for_knative(&check).query, KNATIVE_SUCCESS_RATE);
        assert_eq!(parse_check("p99-latency < 500").unwrap().query, ISTIO_P99);
        // Any other query is left alone on Knative too.
        let plain = parse_check("up > 0").unwrap();
        assert_eq!(for_knative(&plain), plain);
    }

    #[test]
    fn values_pass_or_fail() {
        let check = parse_check("x >= 99").unwrap();
        assert!(passes(&check, Value::Number(99.0)));
        assert!(passes(&check, Value::Number(f64::INFINITY)));
        assert!(!passes(&check, Value::Number(98.9)));
        assert!(!passes(&check, Value::Number(f64::NAN)), "NaN is no evidence");
        assert!(!passes(&check, Value::NoData), "no data fails");
        let latency = parse_check("x < 300").unwrap();
        assert!(!passes(&latency, Value::Number(f64::INFINITY)));
        assert!(passes(&latency, Value::Number(f64::NEG_INFINITY)));
        assert_eq!(Value::Number(97.123_456).text(), "97.1235");
        assert_eq!(Value::Number(f64::NAN).text(), "NaN");
        assert_eq!(Value::Number(f64::INFINITY).text(), "+Inf");
        assert_eq!(Value::NoData.text(), "no data");
    }

    fn evaluation(weight: Option<u32>, passed: bool) -> Evaluation {
        Evaluation {
            time: "t".into(),
            weight,
            checks: vec![CheckResult {
                name: "c".into(),
                query: "q".into(),
                op: Op::Ge,
                threshold: 1.0,
                value: "1".into(),
                passed,
            }],
        }
    }

    #[test]
    fn failure_limit_counts_failed_evaluations() {
        let mut strict = Analysis::new(0);
        assert_eq!(strict.record(evaluation(Some(10), true)), Next::Advance);
        assert_eq!(strict.record(evaluation(Some(20), false)), Next::Fail);
        let mut tolerant = Analysis::new(1);
        assert_eq!(tolerant.record(evaluation(Some(10), false)), Next::Retry);
        assert_eq!(tolerant.record(evaluation(Some(10), true)), Next::Advance);
        assert_eq!(tolerant.record(evaluation(Some(20), false)), Next::Fail);
        assert_eq!(tolerant.failed_evaluations, 2);
        // A retried step keeps only its last evaluation.
        assert_eq!(tolerant.evaluations.len(), 2);
    }

    #[test]
    fn the_record_is_bounded() {
        let mut analysis = Analysis::new(100);
        for i in 0..50 {
            analysis.record(evaluation(Some(i), true));
        }
        assert_eq!(analysis.evaluations.len(), Analysis::MAX_STEPS);
        assert_eq!(analysis.evaluations[0].weight, Some(40));
        let mut rolling = Analysis::new(0);
        for _ in 0..50 {
            rolling.record(evaluation(None, true));
        }
        assert_eq!(rolling.evaluations.len(), Analysis::MAX_STEPS);
    }

    #[test]
    fn check_files_are_parsed() {
        let yaml = r#"
checks:
- name: success
  query: 'sum(rate(x{code!~"5.."}[{{interval}}]))'
  op: ">="
  threshold: 99
- name: latency
  query: p95-latency
  op: "<"
  threshold: "250.5"
"#;
        let checks = parse_check_file("c.yaml", yaml).unwrap();
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].name, "success");
        assert_eq!((checks[0].op, checks[0].threshold), (Op::Ge, 99.0));
        assert_eq!(checks[1].query, ISTIO_P95);
        assert_eq!(checks[1].threshold, 250.5);
        let bad_op = "checks: [{name: a, query: up, op: '==', threshold: 1}]";
        assert!(matches!(parse_check_file("c", bad_op), Err(CheckError::UnknownOperator { .. })));
        let bad_threshold = "checks: [{name: a, query: up, op: '<', threshold: many}]";
        assert!(matches!(parse_check_file("c", bad_threshold), Err(CheckError::BadThreshold { .. })));
        let bad_placeholder = "checks: [{name: a, query: 'x{a=\"{{model}}\"}', op: '<', threshold: 1}]";
        assert!(matches!(parse_check_file("c", bad_placeholder), Err(CheckError::UnknownPlaceholder { .. })));
        assert!(matches!(parse_check_file("c", "checks: []"), Err(CheckError::File { .. })));
        assert!(matches!(parse_check_file("c", "- up > 1"), Err(CheckError::File { .. })));
        let unknown_field = "checks: [{name: a, query: up, op: '<', threshold: 1, weight: 3}]";
        assert!(matches!(parse_check_file("c", unknown_field), Err(CheckError::File { .. })));
    }
}
