//! Steps shared by `canary`, `shift`, `promote` and `abort`: reading the model and its recorded
//! state, writing that state (the one place the annotation is written), scaling the tracks,
//! waiting for a track to be ready, watching a canary through an interval, and printing what a
//! dry run would write. A verb's steps share one [`Operation`]: its writer and the terminal it
//! speaks on.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::cluster::Target;
use crate::cmd::follow::follow_deployment_rollout;
use crate::cmd::model_gate::require_models_ready;
use crate::cmd::objects::{namespace_flag, without_stale_record};
use crate::cmd::route_guard::refuse_route_to_nothing;
use crate::cmd::Context;
use crate::error::{Error, ExitCode, Result};
use crate::rollout::canary::gitops_manager;
use crate::rollout::check::Analysis;
use crate::rollout::live::{autoscaler_of, plan, replicas_after, Carrier, LiveReplicas, TrackReplicas};
use crate::rollout::model_ready::ModelGate;
use crate::rollout::state::{AnalysisRecord, Phase, RolloutState, ROLLOUT_ANNOTATION};
use crate::rollout::weights::{effective_weight, replica_share_note, ReplicaShare};
use crate::router::{self, deployment_kind, knative, Router};
use crate::settings::WriteOutput;
use crate::ui::Terminal;
use crate::watch::model::ModelCheck;
use crate::watch::{WaitOptions, WaitOutcome};
use crate::write::{display_name, object_name, Writer};

/// How long a new pod may stay Unschedulable before a wait fails (as set-image's default).
const UNSCHEDULABLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The stable object of a model (Deployment or ksvc) as read, and its canary state.
pub struct Model {
    pub target: Target,
    pub kind: ApiResource,
    pub object: Value,
    pub state: Option<RolloutState>,
}

impl Model {
    pub fn name(&self) -> &str {
        self.target.name()
    }

    pub fn display(&self) -> String {
        display_name(&self.kind, self.name())
    }

    /// The recorded canary, or exit 2 saying how to start one.
    ///
    /// # Errors
    /// Exit 2 when there is no canary.
    pub fn require_state(&self, verb: &str) -> Result<RolloutState> {
        self.state.clone().ok_or_else(|| {
            Error::usage(format!(
                "{} has no canary to {verb}; start one with `kubectl modelroll canary {} --image IMAGE`",
                self.target, self.target
            ))
        })
    }
}

/// Read the target and its recorded state.
///
/// # Errors
/// Exit 2 when the target does not exist or its state annotation is broken.
pub async fn load(w: &Operation, target: &Target) -> Result<Model> {
    let kind = match target {
        Target::Deployment(_) => deployment_kind(),
        Target::KnativeService(_) => router::knative_kinds(w).await?.0,
    };
    let object = w.get(&kind, target.name()).await?.ok_or_else(|| {
        Error::usage(format!(
            "{} not found in namespace {}",
            display_name(&kind, target.name()),
            w.namespace()
        ))
    })?;
    let annotations: Option<BTreeMap<String, String>> =
        object.pointer("/metadata/annotations").and_then(|a| serde_json::from_value(a.clone()).ok());
    let annotations = match target {
        Target::Deployment(_) => without_stale_record(&w.cluster, annotations.as_ref()).await?,
        Target::KnativeService(_) => annotations,
    };
    let state = RolloutState::from_annotations(annotations.as_ref())?;
    if let Some(tool) = gitops_manager(&object) {
        w.say(&format!(
            "warning: {} is managed by {tool}; its next sync will undo imperative changes such as this canary",
            display_name(&kind, target.name())
        ));
    }
    Ok(Model { target: target.clone(), kind, object, state })
}

/// Write (or with `None`, remove) the `modelroll.io/rollout` annotation. The one writer of it.
///
/// # Errors
/// When the update is refused or conflicts cannot be resolved.
pub async fn write_state(w: &Writer, model: &Model, state: Option<&RolloutState>) -> Result<()> {
    write_annotation(w, model, state.map(RolloutState::to_annotation)).await
}

/// Once a metric check stopped a canary and it is gone, keep only the checks' record in the
/// annotation, so that `status` shows why.
///
/// # Errors
/// When the update is refused or conflicts cannot be resolved.
pub async fn write_record(w: &Writer, model: &Model, analysis: &Analysis) -> Result<()> {
    write_annotation(w, model, Some(AnalysisRecord { analysis: analysis.clone() }.to_annotation())).await
}

async fn write_annotation(w: &Writer, model: &Model, value: Option<String>) -> Result<()> {
    w.update(&model.kind, model.name(), |object| {
        match &value {
            Some(text) => {
                if !object["metadata"]["annotations"].is_object() {
                    object["metadata"]["annotations"] = json!({});
                }
                object["metadata"]["annotations"][ROLLOUT_ANNOTATION] = json!(text);
            }
            None => {
                if let Some(a) = object["metadata"]["annotations"].as_object_mut() {
                    a.remove(ROLLOUT_ANNOTATION);
                }
            }
        }
        Ok(())
    })
    .await?
    .ok_or_else(|| Error::failed(format!("{} disappeared", model.display())))?;
    if value.is_none() && model.kind == deployment_kind() {
        strip_state_from_replica_sets(w, model).await?;
    }
    Ok(())
}

/// The deployment controller copies a Deployment's annotations onto its ReplicaSets, and a
/// rollback (`kubectl rollout undo`) copies a ReplicaSet's back: once a canary is over, its state
/// is removed from the ReplicaSets too, so that no rollback brings back a canary that is gone.
/// The controller adds annotations but never removes them, so one pass at the end suffices.
async fn strip_state_from_replica_sets(w: &Writer, model: &Model) -> Result<()> {
    let uid = model.object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    let Some(selector) = canary_selector(&model.object) else {
        return Ok(());
    };
    let replica_sets = ApiResource::erase::<k8s_openapi::api::apps::v1::ReplicaSet>(&());
    let key = ROLLOUT_ANNOTATION.replace('/', "~1");
    for rs in w.list(&replica_sets, Some(&selector)).await? {
        let owned = rs["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|owners| owners.iter().any(|o| o["uid"] == uid));
        if owned && rs.pointer(&format!("/metadata/annotations/{key}")).is_some() {
            w.update(&replica_sets, object_name(&rs), |rs| {
                if let Some(a) = rs["metadata"]["annotations"].as_object_mut() {
                    a.remove(ROLLOUT_ANNOTATION);
                }
                Ok(())
            })
            .await?;
        }
    }
    Ok(())
}

/// Now, as RFC 3339.
pub fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default()
}

/// One run of a canary verb: the one writer (with its dry-run model) and the terminal the verb
/// speaks on, looked at once when the verb starts. Every step of the lifecycle takes it. It
/// derefs to its [`Writer`], so a step reads and writes through it as through the writer itself.
pub struct Operation {
    writer: Writer,
    /// What stderr is, for progress lines, bars and questions.
    pub terminal: Terminal,
}

impl std::ops::Deref for Operation {
    type Target = Writer;

    fn deref(&self) -> &Writer {
        &self.writer
    }
}

impl Operation {
    /// The run of a verb that writes through `writer` and speaks on `terminal`.
    pub fn new(writer: Writer, terminal: Terminal) -> Self {
        Self { writer, terminal }
    }

    /// A progress line on stderr: timestamped when stderr is not a terminal.
    pub fn say(&self, message: &str) {
        crate::ui::note(self.terminal, message);
    }

    /// A progress line for a change, said once the write succeeded (never before it happened);
    /// under `--dry-run`, the change that would have been made, marked `(dry run)`.
    pub fn did(&self, done: &str, would: &str) {
        if self.is_dry_run() {
            self.say(&format!("(dry run) {would}"));
        } else {
            self.say(done);
        }
    }

    /// Ask before a step with a side effect; `--yes` answers for the user. Without a terminal,
    /// fails naming `--yes`.
    ///
    /// # Errors
    /// Exit 1 when declined or when there is no terminal to ask on.
    pub async fn confirm(&self, ctx: &Context, question: &str, flag_hint: &str) -> Result<()> {
        let refused = format!(
            "nothing was changed: {question} There is no terminal to ask on: run again with --yes {flag_hint}"
        );
        if ctx.global.yes {
            self.say(&format!("{question} yes (--yes)"));
        }
        if crate::ui::prompt::confirm(self.terminal, ctx.global.yes, question, &refused).await? {
            Ok(())
        } else {
            Err(Error::failed("nothing was changed: declined"))
        }
    }
}

/// Spec replicas of a Deployment as JSON.
pub fn spec_replicas(deployment: &Value) -> i32 {
    deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1) as i32
}

/// Set a Deployment's replicas (no-op when already so, or when it is gone).
///
/// # Errors
/// When the update is refused.
pub async fn scale(w: &Writer, name: &str, replicas: i32) -> Result<()> {
    w.update(&deployment_kind(), name, |d| {
        d["spec"]["replicas"] = json!(replicas);
        Ok(())
    })
    .await?;
    Ok(())
}

/// Where the waits stop: `--timeout` from the start of the command.
#[derive(Clone, Copy)]
pub struct Deadline(pub Instant);

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        Self(Instant::now() + timeout)
    }
}

/// Whether a Deployment has finished rolling out, as `kubectl rollout status` means it; with
/// (ready, desired) for the progress line.
pub fn deployment_done(d: &Deployment) -> (bool, i32, i32) {
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(status) = d.status.as_ref() else {
        return (desired == 0 && generation == 0, 0, desired);
    };
    let ready = status.ready_replicas.unwrap_or(0);
    let done = status.observed_generation.unwrap_or(0) >= generation
        && status.updated_replicas.unwrap_or(0) == desired
        && status.replicas.unwrap_or(0) == desired
        && status.available_replicas.unwrap_or(0) >= desired
        && ready >= desired;
    (done, ready, desired)
}

/// Run a wait so that Ctrl-C ends it with exit 130, "interrupted while {what}". The waits nest
/// (a rollout display answers Ctrl-C too), so whichever answers, the message is this one; the verb
/// adds the command to run next ([`next_after_interrupt`]).
async fn interruptible<T>(what: &str, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    crate::interruptible(what, work).await.map_err(|e| {
        if e.code == ExitCode::Interrupted {
            Error::interrupted(format!("interrupted while {what}"))
        } else {
            e
        }
    })
}

/// What to run after a Ctrl-C in the middle of a verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// `canary`, `shift`: run it again to carry on, or abort.
    CarryOnOrAbort,
    /// `promote`, `abort`: run this verb again to finish.
    Finish(&'static str),
}

/// Complete an interruption's message with the exact command to run next (target and `-n`), in
/// the same sentence; any other error is returned as it is.
pub fn next_after_interrupt(err: Error, w: &Writer, next: NextStep, target: &Target) -> Error {
    if err.code != ExitCode::Interrupted {
        return err;
    }
    let ns = namespace_flag(&w.cluster);
    let next = match next {
        NextStep::CarryOnOrAbort => format!(
            "run the same command again to carry on, or `kubectl modelroll {ns}abort {target}` to remove the canary"
        ),
        NextStep::Finish(verb) => format!("run `kubectl modelroll {ns}{verb} {target}` again to finish"),
    };
    Error { message: format!("{}; the cluster keeps what was done so far: {next}", err.message), ..err }
}

/// Wait (watching, not polling) until Deployment `name` is rolled out and all its pods ready,
/// with set-image's progress display. A pod that cannot start (crash loop, image pull error,
/// unschedulable) ends the wait at once.
///
/// # Errors
/// Exit 1 with the reason and the pod named, on timeout or failure; 130 on Ctrl-C.
pub async fn wait_deployment(w: &Operation, name: &str, role: &str, deadline: Deadline) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(w.cluster.client.clone(), w.namespace());
    let deployment =
        api.get(name).await.map_err(|e| w.cluster.api_error(e, &format!("get deployment {name}")))?;
    if deployment_done(&deployment).0 {
        return Ok(());
    }
    let options = WaitOptions {
        timeout: deadline.0.saturating_duration_since(Instant::now()),
        unschedulable_timeout: UNSCHEDULABLE_TIMEOUT,
        // The message is made by `interruptible` around this wait and the verb (one sentence).
        on_interrupt: String::new(),
    };
    let title = format!("{role} deployment/{name}: waiting for its pods to be ready");
    let outcome = interruptible(
        &format!("waiting for {role} deployment {name}"),
        follow_deployment_rollout(&w.cluster, w.terminal, &deployment, &options, &title),
    )
    .await?;
    match outcome {
        WaitOutcome::Done(_) => Ok(()),
        WaitOutcome::Failed(failure, _) => {
            Err(Error::failed(format!("{role} deployment {name} cannot become ready: {failure}")))
        }
        WaitOutcome::TimedOut(progress) => Err(Error::failed(format!(
            "timed out waiting for {role} deployment {name} ({}); see `kubectl modelroll status {name}`",
            progress.waiting_for.unwrap_or_else(|| "not ready".into())
        ))),
    }
}

/// Wait until Knative Revision `name` is Ready.
///
/// # Errors
/// Exit 1 when it turns Ready=False or on timeout; 130 on Ctrl-C.
pub async fn wait_revision(
    w: &Operation,
    revision_kind: &ApiResource,
    name: &str,
    deadline: Deadline,
) -> Result<()> {
    // A revision already Ready (a caller waited for it before) is passed without a word: the
    // "waiting…" line is said once per wait that waits.
    let now = w.get(revision_kind, name).await?;
    if matches!(now.as_ref().and_then(knative::revision_ready), Some(Ok(()))) {
        return Ok(());
    }
    interruptible(&format!("waiting for revision {name}"), async {
        w.say(&format!("waiting for revision {name} to be ready"));
        crate::watch::canary::revision_ready(&w.cluster, revision_kind, name, deadline.0).await?;
        w.say(&format!("revision {name} is ready"));
        Ok(())
    })
    .await
}

pub use crate::watch::canary::{CanaryBaseline, CanaryPods};

/// Read the canary's pods before a step gives it weight, for [`watch_canary`].
///
/// # Errors
/// When the canary or its pods cannot be read.
pub async fn canary_baseline(w: &Writer, pods_of: &CanaryPods) -> Result<CanaryBaseline> {
    crate::watch::canary::canary_baseline(&w.cluster, pods_of).await
}

/// Watch the canary's pods for `hold`: returns `Some(reason)` as soon as one crashes, restarts,
/// turns unready or fails to start; `None` when the interval passes quietly. `tick` is called
/// about every second with the time left (for the step bar).
///
/// # Errors
/// Exit 130 on Ctrl-C; exit 1 when the pods cannot be watched.
pub async fn watch_canary(
    w: &Writer,
    baseline: CanaryBaseline,
    hold: Duration,
    tick: impl FnMut(Duration),
) -> Result<Option<String>> {
    interruptible("holding a step", crate::watch::canary::hold(&w.cluster, baseline, hold, tick)).await
}

/// Wait until no pod of the canary Deployment is left (so routes can go back to the model's
/// Service without reaching them).
///
/// # Errors
/// Exit 1 on timeout, 130 on Ctrl-C.
pub async fn wait_pods_gone(w: &Writer, selector: &str, deadline: Deadline) -> Result<()> {
    interruptible(
        "waiting for the canary pods to go away",
        crate::watch::canary::pods_gone(&w.cluster, selector, deadline.0),
    )
    .await
}

/// The replicas of the model's two Deployments as they are now, and the autoscaler that owns the
/// stable's: the one read behind the replica decisions of `rollout::live`.
///
/// # Errors
/// When the Deployments or the autoscalers cannot be read.
pub async fn live_replicas(w: &Writer, stable: &str, canary: &str) -> Result<LiveReplicas> {
    let stable_object = w.get(&deployment_kind(), stable).await?.unwrap_or(Value::Null);
    let canary_object = w.get(&deployment_kind(), canary).await?;
    Ok(LiveReplicas {
        stable: spec_replicas(&stable_object),
        canary: canary_object.as_ref().map_or(0, spec_replicas),
        autoscaler: autoscaler(w, stable).await?,
    })
}

/// The HorizontalPodAutoscaler (autoscaling) or KEDA ScaledObject (keda.sh, when installed) whose
/// scale target is Deployment `deployment`, as `kind/name`.
///
/// # Errors
/// When they cannot be listed (RBAC: see deploy/rbac.yaml).
pub async fn autoscaler(w: &Writer, deployment: &str) -> Result<Option<String>> {
    let mut found = Vec::new();
    for (group, kind) in [("autoscaling", "HorizontalPodAutoscaler"), ("keda.sh", "ScaledObject")] {
        found.push(match router::discover_kind(w, group, kind).await? {
            Some(ar) => w.list(&ar, None).await?,
            None => Vec::new(),
        });
    }
    Ok(autoscaler_of(deployment, &found[0], &found[1]))
}

/// Say once per command that an autoscaler owns the stable's replicas.
fn say_autoscaled(w: &Operation, stable: &str, live: &LiveReplicas) {
    if let Some(autoscaler) = &live.autoscaler {
        w.say(&format!(
            "deployment {stable}'s replicas belong to {autoscaler}: modelroll leaves them as they are ({})",
            live.stable
        ));
    }
}

/// Move the canary to `weight`: capacity first (scale up and wait for ready, and with a
/// `--model-ready` gate for the canary pods' models; for the replicas router the canary grows
/// before stable shrinks), then the weight on the routes, then the state, then scale down what
/// is no longer needed. Replicas come from the live counts
/// (`rollout::live::plan`): what a person or an autoscaler set since wins over the record.
///
/// # Errors
/// Exit 1 when a track does not become ready or model-ready (weight unchanged) or a write fails.
pub async fn move_weight(
    w: &Operation,
    model: &Model,
    router: &dyn Router,
    state: &mut RolloutState,
    weight: u32,
    deadline: Deadline,
    gate: Option<&ModelGate>,
) -> Result<()> {
    let dry = w.is_dry_run();
    let carrier = state.routing.carrier();
    let scale_down = if matches!(model.target, Target::KnativeService(_)) {
        revision_capacity(w, state, weight, deadline, gate).await?;
        None
    } else {
        Some(deployment_capacity(w, model, state, weight, deadline, gate).await?)
    };
    if !dry {
        refuse_route_to_nothing(w, router, &model.target, state.weight, weight).await?;
    }
    router.set_weight(w, weight).await?;
    state.weight = weight;
    state.phase = Phase::Canary;
    write_state(w, model, Some(state)).await?;
    // With an autoscaler the pod share was said above, from the live replicas.
    let autoscaled =
        scale_down.as_ref().is_some_and(|(live, _): &(LiveReplicas, _)| live.autoscaler.is_some());
    if let Some((live, step)) = scale_down {
        if let Some(stable) = step.stable.filter(|&s| s < live.stable) {
            scale(w, model.name(), stable).await?;
            w.did(
                &format!("scaled stable deployment {} down to {stable}", model.name()),
                &format!("would scale stable deployment {} down to {stable}", model.name()),
            );
        }
        if carrier == Carrier::PodRatio && step.canary < live.canary {
            scale(w, &state.canary, step.canary).await?;
        }
    }
    // The replicas router gives what the pods give: say it where the weight is set.
    let share = (carrier == Carrier::PodRatio && !autoscaled)
        .then(|| replica_share_note(state.stable_replicas, weight))
        .flatten();
    match share {
        Some(note) => w.did(
            &format!("{}: canary weight {weight}% asked; {note}", model.target),
            &format!("{}: would set the canary weight to {weight}%; {note}", model.target),
        ),
        None => w.did(
            &format!("{}: canary weight {weight}%", model.target),
            &format!("{}: would set the canary weight to {weight}%", model.target),
        ),
    }
    Ok(())
}

/// Capacity before a Knative canary gets `weight`: its revision ready, and its models with a
/// `--model-ready` gate (a dry run waits for nothing).
///
/// # Errors
/// Exit 1 when the revision or its models do not become ready.
async fn revision_capacity(
    w: &Operation,
    state: &RolloutState,
    weight: u32,
    deadline: Deadline,
    gate: Option<&ModelGate>,
) -> Result<()> {
    if w.is_dry_run() {
        return Ok(());
    }
    if weight > 0 {
        let (_, revision_kind) = router::knative_kinds(w).await?;
        wait_revision(w, &revision_kind, &state.canary, deadline).await?;
    }
    let check = ModelCheck {
        what: format!("canary revision {}", state.canary),
        selector: format!("{}={}", knative::REVISION_LABEL, state.canary),
        traffic_already: false,
    };
    require_models_ready(&w.cluster, w.terminal, gate, check).await
}

/// Capacity before a Deployment canary gets `weight`, from the live replicas: the canary scaled
/// up and ready (and model-ready with a gate), stable grown back when the step needs it. Returns
/// the live replicas and the step, for the scale-down once the weight has moved.
///
/// # Errors
/// Exit 1 when the canary is missing, or a track does not become ready.
async fn deployment_capacity(
    w: &Operation,
    model: &Model,
    state: &mut RolloutState,
    weight: u32,
    deadline: Deadline,
    gate: Option<&ModelGate>,
) -> Result<(LiveReplicas, TrackReplicas)> {
    let dry = w.is_dry_run();
    let carrier = state.routing.carrier();
    let Some(canary) = w.get(&deployment_kind(), &state.canary).await? else {
        return Err(Error::failed(format!(
            "the canary deployment {} is missing; run `kubectl modelroll abort {}` and start again",
            state.canary, model.target
        )));
    };
    let live = live_replicas(w, model.name(), &state.canary).await?;
    let step = plan(carrier, state.stable_replicas, state.weight, &live, weight);
    say_autoscaled(w, model.name(), &live);
    if carrier == Carrier::PodRatio && live.autoscaler.is_some() {
        let share = effective_weight(live.stable, step.canary);
        if share != weight {
            w.say(&format!(
                "the canary gets {share}% of the pods, not {weight}%: beside stable's {} it runs at most as many; a larger share needs a mesh or gateway router",
                live.stable
            ));
        }
    }
    if step.canary > live.canary {
        scale(w, &state.canary, step.canary).await?;
        w.did(
            &format!("scaled canary deployment {} to {} for {weight}%", state.canary, step.canary),
            &format!("would scale canary deployment {} to {} for {weight}%", state.canary, step.canary),
        );
    }
    if !dry && (weight > 0 || step.canary > 0) {
        wait_deployment(w, &state.canary, "canary", deadline).await?;
        if let Some(selector) = canary_selector(&canary) {
            // The replicas router's Service already sends traffic to every Ready canary pod.
            let check = ModelCheck {
                what: format!("canary deployment/{}", state.canary),
                selector,
                traffic_already: carrier == Carrier::PodRatio,
            };
            require_models_ready(&w.cluster, w.terminal, gate, check).await?;
        }
    }
    if let Some(stable) = step.stable.filter(|&s| s > live.stable) {
        scale(w, model.name(), stable).await?;
        w.did(
            &format!("scaled stable deployment {} back to {stable}", model.name()),
            &format!("would scale stable deployment {} back to {stable}", model.name()),
        );
        if !dry {
            wait_deployment(w, model.name(), "stable", deadline).await?;
        }
    }
    state.stable_replicas = step.total;
    Ok((live, step))
}

/// The weight as the result line states it: `20%`, and with the replicas router when the pods
/// give another share, `20% (replicas router: 1 of 3 pods = 33%)`.
pub fn weight_text(router: &dyn Router, stable_replicas: i32, weight: u32) -> String {
    let share = ReplicaShare::of(stable_replicas, weight);
    if router.routing().name() == "replicas" && share.effective != weight {
        format!("{weight}% (replicas router: {})", share.pods_text())
    } else {
        format!("{weight}%")
    }
}

/// Send all weight back to stable (a canary that went bad, or an abort). The replicas router
/// first gives stable back the model's whole capacity and waits for it to be ready, and only
/// then removes the canary's pods, so ready capacity never drops below what it was (an
/// autoscaler that owns stable's replicas keeps them). Route-carried weight moves at once.
///
/// # Errors
/// When a write fails or stable does not become ready (the canary then keeps its pods).
pub async fn pull_weight(
    w: &Operation,
    model: &Model,
    router: &dyn Router,
    state: &mut RolloutState,
    deadline: Deadline,
) -> Result<()> {
    let carrier = state.routing.carrier();
    if carrier == Carrier::PodRatio {
        let live = live_replicas(w, model.name(), &state.canary).await?;
        say_autoscaled(w, model.name(), &live);
        if let Some(total) = replicas_after(carrier, state.stable_replicas, state.weight, &live) {
            if total > live.stable {
                scale(w, model.name(), total).await?;
                w.did(
                    &format!(
                        "scaled stable deployment {} back to {total} before the canary's pods go",
                        model.name()
                    ),
                    &format!(
                        "would scale stable deployment {} back to {total} before the canary's pods go",
                        model.name()
                    ),
                );
            }
            if !w.is_dry_run() {
                wait_deployment(w, model.name(), "stable", deadline).await?;
            }
            state.stable_replicas = total;
        }
        scale(w, &state.canary, 0).await?;
    } else {
        router.set_weight(w, 0).await?;
    }
    state.weight = 0;
    write_state(w, model, Some(state)).await
}

/// The label selector of a Deployment's pods (matchExpressions included), as the Deployment
/// is read raw; `None` when it selects nothing it could be told by.
pub fn canary_selector(canary: &Value) -> Option<String> {
    let selector = serde_json::from_value(canary.pointer("/spec/selector")?.clone()).ok()?;
    crate::watch::selector_text(selector).ok().filter(|s| !s.is_empty())
}

/// Print what a dry run would write: the objects as YAML or JSON, or one line per object.
pub fn print_dry_run(w: &Operation, output: Option<WriteOutput>) {
    for deleted in w.deleted() {
        w.say(&format!("(dry run) would delete {deleted}"));
    }
    match crate::ui::output::dry_run(&w.written_with_action(), output, w.dry_run) {
        Ok(text) => crate::ui::print_stdout(&text),
        Err(e) => w.say(&format!("error: {e}")),
    }
}

/// Canary Deployment `name`, for `status` when its ReplicaSets were not among those listed;
/// `None` when it is gone.
///
/// # Errors
/// When the read is refused.
pub async fn canary_deployment(cluster: &crate::cluster::Cluster, name: &str) -> Result<Option<Deployment>> {
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    api.get_opt(name).await.map_err(|e| cluster.api_error(e, &format!("get deployment {name}")))
}
