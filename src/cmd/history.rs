//! `history`: the model's revisions, oldest first: number, image(s), model version, change
//! cause, age, pods; the current one marked. Knative: one row per revision with its traffic.

use serde::Serialize;

use crate::cli::{HistoryArgs, ReadOutput};
use crate::cluster::Target;
use crate::cmd::objects::{
    get_deployment, get_knative_service, knative_revisions, pods_matching, replica_sets_of,
};
use crate::cmd::Context;
use crate::error::Result;
use crate::rollout::revision::revisions;
use crate::rollout::status::{knative_revision_rows, RevisionStatus, TargetRef, STATUS_API_VERSION};
use crate::ui::{self, output, table};

/// `history -o json|yaml`: `{apiVersion, kind: ModelHistory, target, revisions: [...]}`, each
/// revision shaped as in `status` (see [`crate::rollout::status::ModelStatus`]) plus
/// `changeCause`; oldest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelHistory {
    pub api_version: String,
    pub kind: String,
    pub target: TargetRef,
    pub revisions: Vec<RevisionStatus>,
}

/// Run `history`.
///
/// # Errors
/// Exit 2 when the target does not exist; exit 1 when the cluster refuses.
pub async fn run(ctx: &Context, args: HistoryArgs) -> Result<()> {
    let target = Target::parse(&args.target)?;
    let history = read(ctx, &target).await?;
    let now = jiff::Timestamp::now();
    let text = match args.output {
        ReadOutput::Json => output::json(&history)?,
        ReadOutput::Yaml => output::yaml(&history)?,
        ReadOutput::Table | ReadOutput::Wide if history.revisions.is_empty() => no_revisions(&target),
        ReadOutput::Table => table::history_table(&history.revisions, now, false),
        ReadOutput::Wide => table::history_table(&history.revisions, now, true),
    };
    ui::print_stdout(&text);
    Ok(())
}

/// What `history` prints for a model without revisions.
pub fn no_revisions(target: &Target) -> String {
    format!("{target} has no revisions yet\n")
}

/// The revisions of `target` in the cluster of `ctx` (what `history` prints, and each context's
/// rows of `history --contexts`).
///
/// # Errors
/// Exit 2 when the target does not exist; exit 1 when the cluster refuses or cannot be reached.
pub async fn read(ctx: &Context, target: &Target) -> Result<ModelHistory> {
    let cluster = ctx.cluster().await?;
    let (kind, rows) = match target {
        Target::Deployment(name) => {
            let (_, deployment) = get_deployment(&cluster, name).await?;
            let replica_sets = replica_sets_of(&cluster, &deployment).await?;
            let rows: Vec<RevisionStatus> =
                revisions(&deployment, &replica_sets).iter().map(RevisionStatus::from_revision).collect();
            ("Deployment", rows)
        }
        Target::KnativeService(name) => {
            let ksvc = get_knative_service(&cluster, name).await?;
            let revs = knative_revisions(&cluster, name).await?;
            let pods = pods_matching(&cluster, &format!("serving.knative.dev/service={name}")).await?;
            let mut rows = knative_revision_rows(&ksvc, &revs, &pods);
            rows.reverse();
            ("KnativeService", rows)
        }
    };
    Ok(ModelHistory {
        api_version: STATUS_API_VERSION.into(),
        kind: "ModelHistory".into(),
        target: TargetRef {
            kind: kind.into(),
            name: target.name().into(),
            namespace: cluster.namespace.clone(),
        },
        revisions: rows,
    })
}
