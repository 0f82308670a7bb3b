//! `--contexts` for reads: every context at once, in this process, each through a connection of
//! its own made as `--context C` makes it; one table with CONTEXT first, or one List.

use std::future::Future;

use serde::Serialize;
use serde_json::{json, Value};

use super::exit_error;
use crate::cli::{GlobalArgs, ReadOutput};
use crate::cluster::Target;
use crate::cmd::history::ModelHistory;
use crate::cmd::list::Listing;
use crate::cmd::{history, list, status, Context};
use crate::error::{Error, Result};
use crate::rollout::status::{ModelStatus, RevisionStatus, Track};
use crate::rollout::waves;
use crate::ui::table::{self, Cells};
use crate::ui::{self, output};

/// `status` in every context: one row each.
pub(super) async fn status(
    global: &GlobalArgs,
    contexts: &[String],
    target: &Target,
    output: ReadOutput,
) -> Result<()> {
    let now = jiff::Timestamp::now();
    let found = in_each(global, contexts, |ctx| {
        let target = target.clone();
        async move { status::read(&ctx, &target, now).await }
    })
    .await;
    let text = match output {
        ReadOutput::Json | ReadOutput::Yaml => one_list(contexts, &found, |status| vec![status], output)?,
        ReadOutput::Table | ReadOutput::Wide => status_table(contexts, &found),
    };
    answer(contexts, &found, &text)
}

/// `list` in every context: its rows, each after its context.
pub(super) async fn list(
    global: &GlobalArgs,
    contexts: &[String],
    all_namespaces: bool,
    output: ReadOutput,
) -> Result<()> {
    let found = in_each(global, contexts, |ctx| async move { list::read(&ctx, all_namespaces).await }).await;
    for (context, listing) in contexts.iter().zip(&found) {
        for warning in listing.iter().flat_map(|l| &l.warnings) {
            ui::print_stderr_line(&format!("[{context}] warning: {warning}"));
        }
    }
    let now = jiff::Timestamp::now();
    let text = match output {
        ReadOutput::Json | ReadOutput::Yaml => {
            one_list(contexts, &found, |listing: &Listing| listing.rows.iter().collect(), output)?
        }
        ReadOutput::Table | ReadOutput::Wide => {
            let parts = cells_of(&found, |listing| list::cells(&listing.rows, all_namespaces, now));
            match merged_table(contexts, &parts) {
                Some(text) => text,
                None => {
                    // No model anywhere: say so as `list` itself says it, for the first context.
                    let first = found.iter().flatten().next();
                    ui::print_stderr_line(&first.map(Listing::nothing_found).unwrap_or_default());
                    String::new()
                }
            }
        }
    };
    answer(contexts, &found, &text)
}

/// `history` in every context: its revisions, each after its context.
pub(super) async fn history(
    global: &GlobalArgs,
    contexts: &[String],
    target: &Target,
    output: ReadOutput,
) -> Result<()> {
    let found = in_each(global, contexts, |ctx| {
        let target = target.clone();
        async move { history::read(&ctx, &target).await }
    })
    .await;
    let now = jiff::Timestamp::now();
    let text = match output {
        ReadOutput::Json | ReadOutput::Yaml => one_list(contexts, &found, |history| vec![history], output)?,
        ReadOutput::Table | ReadOutput::Wide => {
            let wide = output == ReadOutput::Wide;
            let parts = cells_of(&found, |history: &ModelHistory| {
                table::history_cells(&history.revisions, now, wide)
            });
            // No revision anywhere: say so as `history` itself says it.
            merged_table(contexts, &parts).unwrap_or_else(|| history::no_revisions(target))
        }
    };
    answer(contexts, &found, &text)
}

/// `read` run in every context at once, each a task of its own (so that they share the cores),
/// with the connection a run with `--context C` would make (its cluster, user and namespace;
/// `-n` and the other flags as given).
async fn in_each<T, F, Fut>(global: &GlobalArgs, contexts: &[String], read: F) -> Vec<Result<T>>
where
    F: Fn(Context) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let reads: Vec<_> = contexts
        .iter()
        .map(|context| {
            let global = GlobalArgs { context: Some(context.clone()), contexts: None, ..global.clone() };
            tokio::spawn(read(Context::new(global)))
        })
        .collect();
    let mut found = Vec::with_capacity(reads.len());
    for (context, read) in contexts.iter().zip(reads) {
        found.push(
            read.await.unwrap_or_else(|e| {
                Err(Error::failed(format!("the read in context {context:?} stopped: {e}")))
            }),
        );
    }
    found
}

/// Print the merged `text`; the exit code is the worst of the contexts'.
fn answer<T>(contexts: &[String], found: &[Result<T>], text: &str) -> Result<()> {
    ui::print_stdout(text);
    let code = waves::worst_exit(found.iter().map(exit_code));
    if code == 0 {
        return Ok(());
    }
    let failed: Vec<&str> =
        contexts.iter().zip(found).filter(|(_, f)| f.is_err()).map(|(c, _)| c.as_str()).collect();
    Err(exit_error(code, format!("the command failed in context(s) {}", failed.join(", "))))
}

fn exit_code<T>(found: &Result<T>) -> i32 {
    found.as_ref().map_or_else(|e| e.code as i32, |_| 0)
}

/// A context's error as its row and item say it: the sentence a run in that context alone ends with.
fn reason(error: &Error) -> String {
    if error.message.is_empty() {
        format!("exited with code {}", error.code as i32)
    } else {
        error.message.clone()
    }
}

/// `-o json|yaml`: one `List` of what each context found, each item with `.context`; a context
/// that failed is an item with its `error` and `exitCode`.
fn one_list<'a, T, S: Serialize + 'a>(
    contexts: &[String],
    found: &'a [Result<T>],
    items: impl Fn(&'a T) -> Vec<&'a S>,
    format: ReadOutput,
) -> Result<String> {
    let mut list = Vec::new();
    for (context, found) in contexts.iter().zip(found) {
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                list.push(json!({"context": context, "error": reason(e), "exitCode": e.code as i32}));
                continue;
            }
        };
        for item in items(found) {
            let value = serde_json::to_value(item)
                .map_err(|e| Error::failed(format!("cannot render JSON: {e}")).with_source(e))?;
            list.push(match value {
                Value::Object(mut map) => {
                    map.insert("context".into(), json!(context));
                    Value::Object(map)
                }
                other => json!({"context": context, "value": other}),
            });
        }
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": list});
    if format == ReadOutput::Yaml {
        output::yaml(&list)
    } else {
        output::json(&list)
    }
}

/// Each context's part of a `list` or `history` table, or its error.
fn cells_of<T>(found: &[Result<T>], cells: impl Fn(&T) -> Cells) -> Vec<Result<Cells, &Error>> {
    found.iter().map(|f| f.as_ref().map(&cells)).collect()
}

/// `list` and `history` tables side by side: CONTEXT first, then the command's own columns (the
/// most any context has). A context that failed is a row whose last column is its error. `None`
/// when every context answered and none has a row.
fn merged_table(contexts: &[String], parts: &[Result<Cells, &Error>]) -> Option<String> {
    let mut headers: &[&str] = &[];
    for part in parts.iter().flatten().filter(|p| !p.rows.is_empty()) {
        if part.headers.len() > headers.len() {
            headers = &part.headers;
        }
    }
    if headers.is_empty() {
        if parts.iter().all(Result::is_ok) {
            return None;
        }
        headers = &["ERROR"];
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (context, part) in contexts.iter().zip(parts) {
        match part {
            Ok(part) => {
                for cells in &part.rows {
                    let mut row = vec![context.clone()];
                    row.extend(cells.iter().cloned());
                    row.resize(headers.len() + 1, String::new());
                    rows.push(row);
                }
            }
            Err(e) => rows.push(error_row(context, headers.len() + 1, e)),
        }
    }
    let mut all_headers = vec!["CONTEXT"];
    all_headers.extend(headers);
    Some(table::render(&all_headers, &rows))
}

/// The row of a context that failed: its name, blank cells, and its error last.
fn error_row(context: &str, width: usize, error: &Error) -> Vec<String> {
    let mut row = vec![context.to_string()];
    row.resize(width - 1, String::new());
    row.push(format!("error: {}", reason(error)));
    row
}

const STATUS_HEADERS: [&str; 9] =
    ["CONTEXT", "NAMESPACE", "MODEL", "PHASE", "READY", "IMAGE(S)", "MODEL-VERSION", "CANARY", "REASON"];

/// `status` in several contexts: one row each.
fn status_table(contexts: &[String], found: &[Result<ModelStatus>]) -> String {
    let rows: Vec<Vec<String>> = contexts
        .iter()
        .zip(found)
        .map(|(context, found)| match found {
            Ok(status) => status_row(context, status),
            Err(e) => error_row(context, STATUS_HEADERS.len(), e),
        })
        .collect();
    table::render(&STATUS_HEADERS, &rows)
}

/// A context's row of `status --contexts`: where, the phase, the stable revision (the one
/// marked stable, else the current one) and the canary with its traffic.
fn status_row(context: &str, status: &ModelStatus) -> Vec<String> {
    let kind = if status.target.kind == "KnativeService" { "ksvc" } else { "deployment" };
    let stable = status
        .revisions
        .iter()
        .find(|r| r.track == Some(Track::Stable))
        .or_else(|| status.revisions.iter().find(|r| r.current));
    let canary = status.revisions.iter().find(|r| r.track == Some(Track::Canary));
    let images = |revision: Option<&RevisionStatus>| -> String {
        let list: Vec<&str> =
            revision.into_iter().flat_map(|r| &r.images).map(|i| i.image.as_str()).collect();
        if list.is_empty() {
            "-".into()
        } else {
            list.join(",")
        }
    };
    let canary_text = match canary.and_then(|c| c.traffic_percent) {
        Some(weight) => format!("{} ({weight}%)", images(canary)),
        None => images(canary),
    };
    vec![
        context.to_string(),
        status.target.namespace.clone(),
        format!("{kind}/{}", status.target.name),
        status.phase.to_string(),
        format!("{}/{}", status.replicas.ready, status.replicas.desired),
        images(stable),
        stable.and_then(|r| r.model_version.clone()).unwrap_or_else(|| "-".into()),
        canary_text,
        status.reason.clone().unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::status::{ContainerImage, Phase};

    fn revision(track: Track, image: &str, traffic: Option<i64>, current: bool) -> RevisionStatus {
        RevisionStatus {
            revision: Some(1),
            name: format!("fraud-{image}"),
            track: Some(track),
            images: vec![ContainerImage { container: "model".into(), image: image.into() }],
            model_version: (track == Track::Stable).then(|| "v1".to_string()),
            replicas: 3,
            ready: 3,
            traffic_percent: traffic,
            change_cause: None,
            created: None,
            current,
        }
    }

    fn status(revisions: Vec<RevisionStatus>) -> ModelStatus {
        crate::rollout::status::model_status(Phase::Canary, revisions)
    }

    #[test]
    fn a_status_row_shows_stable_and_canary() {
        let status = status(vec![
            revision(Track::Stable, "r/fraud:v1", None, true),
            revision(Track::Canary, "r/fraud:v2", Some(10), false),
        ]);
        assert_eq!(
            status_row("eu", &status),
            vec!["eu", "ml", "deployment/fraud", "Canary", "3/3", "r/fraud:v1", "v1", "r/fraud:v2 (10%)", ""]
        );
    }

    #[test]
    fn a_context_that_failed_is_a_row_with_its_error_and_an_item_with_its_code() {
        let contexts = vec!["staging".to_string(), "eu".to_string()];
        let found: Vec<Result<ModelStatus>> = vec![
            Ok(status(vec![revision(Track::Stable, "r/fraud:v1", None, true)])),
            Err(Error::failed("cannot reach the API server https://127.0.0.1:1 (context \"eu\")")),
        ];
        let text = status_table(&contexts, &found);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("CONTEXT   NAMESPACE   MODEL"), "{text}");
        assert!(lines[1].starts_with("staging   ml          deployment/fraud   Canary"), "{text}");
        assert!(
            lines[2].starts_with("eu ")
                && lines[2]
                    .ends_with("error: cannot reach the API server https://127.0.0.1:1 (context \"eu\")"),
            "{text}"
        );
        assert!(answer(&contexts, &found, "").is_err_and(|e| e.code == crate::error::ExitCode::Failed
            && e.message == "the command failed in context(s) eu"));

        let list: Value =
            serde_json::from_str(&one_list(&contexts, &found, |s| vec![s], ReadOutput::Json).unwrap())
                .unwrap();
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"][0]["context"], "staging");
        assert_eq!(list["items"][0]["target"]["name"], "fraud");
        assert_eq!(
            list["items"][1],
            json!({"context": "eu", "exitCode": 1, "error": "cannot reach the API server https://127.0.0.1:1 (context \"eu\")"})
        );
    }

    #[test]
    fn tables_side_by_side_take_the_widest_columns_and_pad_the_others() {
        let contexts = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let narrow =
            Cells { headers: vec!["REVISION", "IMAGE(S)"], rows: vec![vec!["1".into(), "x:v1".into()]] };
        let wide = Cells {
            headers: vec!["REVISION", "IMAGE(S)", "TRAFFIC"],
            rows: vec![vec!["1".into(), "y:v1".into(), "100%".into()]],
        };
        let denied = Error::failed("forbidden by RBAC: User \"carol\" cannot list resource \"replicasets\"");
        let parts = vec![Ok(narrow), Ok(wide), Err(&denied)];
        assert_eq!(
            merged_table(&contexts, &parts).unwrap(),
            "CONTEXT   REVISION   IMAGE(S)   TRAFFIC\n\
             a         1          x:v1\n\
             b         1          y:v1       100%\n\
             c                               error: forbidden by RBAC: User \"carol\" cannot list resource \"replicasets\"\n"
        );
        // Nothing anywhere: the caller says so as the command does.
        let empty = || Cells { headers: vec!["NAME"], rows: Vec::new() };
        assert_eq!(merged_table(&contexts[..2], &[Ok(empty()), Ok(empty())]), None);
        // Nothing, and a context that failed: its error alone.
        assert_eq!(
            merged_table(&contexts[..2], &[Ok(empty()), Err(&denied)]).unwrap().lines().next(),
            Some("CONTEXT   ERROR")
        );
    }
}
