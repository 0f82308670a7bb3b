//! `--contexts` for reads: every context at once, one table with CONTEXT first, or one List.

use super::*;
use crate::ui::{output, table};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    Status,
    List,
    History,
}

pub(super) async fn read(
    contexts: &[String],
    base: &[OsString],
    read: Read,
    output: ReadOutput,
) -> Result<()> {
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

pub(super) fn is_output_flag(arg: &OsString) -> bool {
    let text = arg.to_string_lossy();
    text.starts_with("--output=") || (text.starts_with("-o") && text.len() > 2)
}

/// `base` without its `-o`/`--output` flag, whichever way it was written.
pub(super) fn without_output(base: &[OsString]) -> Vec<OsString> {
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
pub(super) fn json_items(context: &str, run: &Finished) -> Vec<Value> {
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
pub(super) fn merged_table(contexts: &[String], results: &[Finished]) -> String {
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
            crate::ui::print_stderr_line(&said.iter().find(|s| !s.is_empty()).cloned().unwrap_or_default());
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
pub(super) fn status_table(contexts: &[String], results: &[Finished]) -> String {
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

pub(super) fn status_row(context: &str, status: &Value) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
