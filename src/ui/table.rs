//! Tables in kubectl's style (upper-case headers, no borders, columns three spaces apart), and
//! the `status` and `history` screens built from them.

use comfy_table::{presets, ContentArrangement, Table};
use jiff::Timestamp;

use crate::rollout::progress::{elapsed, short_duration};
use crate::rollout::revision::images_text;
use crate::rollout::status::{ModelStatus, RevisionStatus};

/// A borderless table: `headers` then `rows`, each line right-trimmed, ending in a newline.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(headers.iter().map(|h| h.to_string()));
    for row in rows {
        table.add_row(row.clone());
    }
    let last = headers.len().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { 3 }));
    }
    let mut out = String::new();
    for line in table.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A table's headers and rows before they are rendered: what `list` and `history` show, which
/// `--contexts` puts side by side after a CONTEXT column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cells {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Cells {
    /// The table as [`render`] prints it.
    pub fn render(&self) -> String {
        render(&self.headers, &self.rows)
    }
}

/// `5m`, `2h`, `3d`: kubectl's AGE column, or `-` when unknown.
pub fn age(created: Option<Timestamp>, now: Timestamp) -> String {
    let Some(created) = created else { return "-".into() };
    let secs = elapsed(created, now).as_secs();
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        7200..=172_799 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

fn revision_images(r: &RevisionStatus) -> String {
    let pairs: Vec<(String, String)> =
        r.images.iter().map(|i| (i.container.clone(), i.image.clone())).collect();
    images_text(&pairs)
}

/// The `status` screen: a header block, the revisions table, and the problem pods.
/// `wide` adds the ReplicaSet/Revision name and the creation time.
pub fn status_screen(status: &ModelStatus, now: Timestamp, wide: bool) -> String {
    let mut out = String::new();
    let kind = if status.target.kind == "KnativeService" { "ksvc" } else { "deployment" };
    out.push_str(&format!("{kind}/{}  (namespace {})\n", status.target.name, status.target.namespace));
    let phase_line = match &status.reason {
        Some(reason) => format!("{} — {reason}", status.phase),
        None => status.phase.to_string(),
    };
    out.push_str(&format!("Phase:     {phase_line}\n"));
    if let Some(strategy) = &status.strategy {
        out.push_str(&format!("Strategy:  {strategy}\n"));
    }
    let r = status.replicas;
    out.push_str(&format!(
        "Replicas:  {} desired, {} updated, {} ready, {} available\n",
        r.desired, r.updated, r.ready, r.available
    ));
    if let Some(canary) = &status.canary {
        out.push_str(&crate::rollout::canary_status::canary_lines(canary));
    }
    if let Some(analysis) = &status.analysis {
        out.push_str(&crate::rollout::canary_status::checks_lines(analysis));
    }
    out.push('\n');
    let has_track = status.revisions.iter().any(|r| r.track.is_some());
    let has_traffic = status.revisions.iter().any(|r| r.traffic_percent.is_some());
    let mut headers = vec!["REVISION"];
    if has_track {
        headers.push("TRACK");
    }
    headers.extend(["IMAGE(S)", "MODEL-VERSION", "READY"]);
    if has_traffic {
        headers.push("TRAFFIC");
    }
    headers.push("AGE");
    if wide {
        headers.extend(["NAME", "CREATED"]);
    }
    let rows: Vec<Vec<String>> = status
        .revisions
        .iter()
        .map(|rev| {
            let mut row = vec![format!(
                "{}{}",
                rev.revision.map_or_else(|| "-".to_string(), |n| n.to_string()),
                if rev.current { " (current)" } else { "" }
            )];
            if has_track {
                row.push(rev.track.map_or("-".into(), |t| format!("{t:?}").to_lowercase()));
            }
            row.push(revision_images(rev));
            row.push(rev.model_version.clone().unwrap_or_else(|| "-".into()));
            row.push(format!("{}/{}", rev.ready, rev.replicas));
            if has_traffic {
                row.push(rev.traffic_percent.map_or("-".into(), |p| format!("{p}%")));
            }
            row.push(age(rev.created, now));
            if wide {
                row.push(rev.name.clone());
                row.push(rev.created.map_or("-".into(), |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
            }
            row
        })
        .collect();
    if rows.is_empty() {
        out.push_str("No revision has pods.\n");
    } else {
        out.push_str(&render(&headers, &rows));
    }
    if !status.problems.is_empty() {
        out.push_str("\nPods not ready:\n");
        for p in &status.problems {
            let revision = p.revision.map(|r| format!(" (revision {r})")).unwrap_or_default();
            out.push_str(&format!("  {}{revision}: {}\n", p.pod, p.state));
        }
    }
    out
}

/// The `history` table, oldest revision first, the current one marked. With traffic (Knative),
/// a TRAFFIC column; `wide` adds the ReplicaSet / Revision name.
pub fn history_table(revisions: &[RevisionStatus], now: Timestamp, wide: bool) -> String {
    history_cells(revisions, now, wide).render()
}

/// The cells of [`history_table`].
pub fn history_cells(revisions: &[RevisionStatus], now: Timestamp, wide: bool) -> Cells {
    let has_traffic = revisions.iter().any(|r| r.traffic_percent.is_some());
    let mut headers = vec!["REVISION", "IMAGE(S)", "MODEL-VERSION", "CHANGE-CAUSE", "CREATED", "REPLICAS"];
    if has_traffic {
        headers.push("TRAFFIC");
    }
    if wide {
        headers.push("NAME");
    }
    let rows: Vec<Vec<String>> = revisions
        .iter()
        .map(|r| {
            let mut row = vec![
                format!(
                    "{}{}",
                    r.revision.map_or_else(|| "-".to_string(), |n| n.to_string()),
                    if r.current { " (current)" } else { "" }
                ),
                revision_images(r),
                r.model_version.clone().unwrap_or_else(|| "-".into()),
                r.change_cause.clone().unwrap_or_else(|| "<none>".into()),
                age(r.created, now),
                format!("{}/{}", r.ready, r.replicas),
            ];
            if has_traffic {
                row.push(r.traffic_percent.map_or("0%".into(), |p| format!("{p}%")));
            }
            if wide {
                row.push(r.name.clone());
            }
            row
        })
        .collect();
    Cells { headers, rows }
}

/// `2m10s` style, for messages.
pub fn duration(d: std::time::Duration) -> String {
    short_duration(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_look_like_kubectl() {
        let out =
            render(&["NAME", "READY"], &[vec!["fraud".into(), "3/3".into()], vec!["x".into(), "1/1".into()]]);
        assert_eq!(out, "NAME    READY\nfraud   3/3\nx       1/1\n");
    }

    #[test]
    fn ages() {
        let now = Timestamp::from_second(10_000).unwrap();
        assert_eq!(age(Some(Timestamp::from_second(9_990).unwrap()), now), "10s");
        assert_eq!(age(Some(Timestamp::from_second(9_000).unwrap()), now), "16m");
        assert_eq!(age(None, now), "-");
    }
}
