//! The Deployment controller's decisions, ported from kube-controller-manager: rolling-update
//! arithmetic, Recreate, paused, proportional scaling, revisions, cleanup, status and conditions.
//!
//! [`sync_deployment`] is pure: it takes a Deployment and the ReplicaSets it owns and returns the
//! writes the real controller would make in one sync, in order, plus when to look again.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{ControllerEvent, EventType};

/// Annotation on ReplicaSets (and copied to the Deployment) with the rollout sequence number.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet held before a rollback made it current again.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas + maxSurge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// Label the controller adds to ReplicaSets, their selectors and their pods.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

const MAX_REV_HISTORY_LENGTH_IN_CHARS: usize = 2000;

/// Deployment annotations that are never copied to ReplicaSets.
const SKIP_COPY_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
];

// Condition reasons, as in k8s.io/kubernetes/pkg/controller/deployment/util.
const NEW_RS_NEW_REPLICAS_REASON: &str = "NewReplicaSetCreated";
const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
const REPLICA_SET_UPDATED_REASON: &str = "ReplicaSetUpdated";
const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
const PAUSED_DEPLOY_REASON: &str = "DeploymentPaused";
const RESUMED_DEPLOY_REASON: &str = "DeploymentResumed";
const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// `intstr.GetScaledValueFromIntOrPercent`: an int as is, or `P%` of `total`, rounded up or down.
///
/// # Errors
/// A message when a string is not a percentage (API validation rejects these first).
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(text) => {
            let percent: i64 = text
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {text:?}"))?;
            let product = percent * i64::from(total);
            let scaled = if round_up { (product + 99).div_euclid(100) } else { product.div_euclid(100) };
            Ok(scaled as i32)
        }
    }
}

/// `ResolveFenceposts`: maxSurge rounds up, maxUnavailable rounds down, and when both come to zero
/// maxUnavailable becomes 1.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> (i32, i32) {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), desired, true).unwrap_or(0);
    let mut unavailable = scaled_value(max_unavailable.unwrap_or(&zero), desired, false).unwrap_or(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

fn default_percent() -> IntOrString {
    IntOrString::String("25%".to_string())
}

fn is_rolling_update(d: &Deployment) -> bool {
    strategy_type(d) == "RollingUpdate"
}

fn strategy_type(d: &Deployment) -> &str {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

fn surge_and_unavailable(d: &Deployment) -> (IntOrString, IntOrString) {
    let rolling = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    (
        rolling.and_then(|r| r.max_surge.clone()).unwrap_or_else(default_percent),
        rolling.and_then(|r| r.max_unavailable.clone()).unwrap_or_else(default_percent),
    )
}

/// `.spec.replicas` (defaulted to 1).
pub fn deployment_replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `MaxUnavailable`: 0 for Recreate or zero replicas, never more than the replicas.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let replicas = deployment_replicas(d);
    if !is_rolling_update(d) || replicas == 0 {
        return 0;
    }
    let (surge, unavailable) = surge_and_unavailable(d);
    let (_, max_unavailable) = resolve_fenceposts(Some(&surge), Some(&unavailable), replicas);
    max_unavailable.min(replicas)
}

/// `MaxSurge`: 0 for Recreate.
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    let (surge, unavailable) = surge_and_unavailable(d);
    resolve_fenceposts(Some(&surge), Some(&unavailable), deployment_replicas(d)).0
}

fn progress_deadline_seconds(d: &Deployment) -> Option<i32> {
    let seconds = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600);
    (seconds != i32::MAX).then_some(seconds)
}

fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().map(|s| s.revision_history_limit.unwrap_or(10))
}

fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn set_rs_replicas(rs: &mut ReplicaSet, replicas: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
}

fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0)
}

/// The `deployment.kubernetes.io/revision` of a ReplicaSet (0 when absent or unreadable).
pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn creation_key(rs: &ReplicaSet) -> (Option<Timestamp>, &str) {
    (rs.metadata.creation_timestamp.as_ref().map(|t| t.0), rs.metadata.name.as_deref().unwrap_or(""))
}

/// FNV-1a, 32 bits, as Go's `hash/fnv.New32a`.
fn fnv32a(bytes: &[u8], mut hash: u32) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(16_777_619);
    }
    hash
}

/// `rand.SafeEncodeString`: map each byte onto consonants and digits that cannot spell words.
fn safe_encode(text: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    text.bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// `controller.ComputeHash`: the `pod-template-hash` of a template, salted by the collision count.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let canonical = normalize(serde_json::to_value(template).unwrap_or_default());
    let mut hash = fnv32a(canonical.to_string().as_bytes(), 0x811c_9dc5);
    if let Some(count) = collision_count {
        hash = fnv32a(&(count as u32).to_le_bytes(), hash);
    }
    safe_encode(&hash.to_string())
}

/// Drop nulls and empty maps/lists so that "absent" and "empty" compare equal, as
/// `equality.Semantic.DeepEqual` treats nil and empty maps and slices.
fn normalize(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(k, v)| (k, normalize(v))).filter(|(_, v)| !is_empty_value(v)).collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

fn is_empty_value(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Object(m) => m.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `EqualIgnoreHash`: two pod templates are the same apart from the `pod-template-hash` label.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(POD_TEMPLATE_HASH_LABEL);
        }
        normalize(serde_json::to_value(&t).unwrap_or_default())
    };
    strip(a) == strip(b)
}

/// A controller reference (`controller: true`, `blockOwnerDeletion: true`) to a Deployment.
pub fn controller_ref(api_version: &str, kind: &str, meta: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What one sync of a Deployment decided, in the order the writes must happen.
#[derive(Debug, Default)]
pub struct DeploymentSync {
    /// New ReplicaSets to create (at most one).
    pub create_replica_sets: Vec<ReplicaSet>,
    /// ReplicaSets to update (replicas, annotations, minReadySeconds), by name, final state.
    pub update_replica_sets: Vec<ReplicaSet>,
    /// ReplicaSets to delete (revisionHistoryLimit cleanup), by name.
    pub delete_replica_sets: Vec<String>,
    /// The Deployment with new annotations and/or status, when either changed.
    pub update_deployment: Option<Deployment>,
    /// Events on the Deployment.
    pub events: Vec<ControllerEvent>,
    /// Look at this Deployment again after this long (progress deadline checks).
    pub requeue_after: Option<Duration>,
}

/// What a sync needs to know besides the Deployment and its ReplicaSets.
#[derive(Debug, Clone, Default)]
pub struct PodCounts {
    /// Per ReplicaSet uid, the pods it owns that are neither Succeeded nor Failed.
    pub non_terminal_by_replica_set: HashMap<String, usize>,
}

/// One sync of a Deployment, as `DeploymentController.syncDeployment` does it.
pub fn sync_deployment(
    deployment: &Deployment,
    replica_sets: Vec<ReplicaSet>,
    pods: &PodCounts,
    now: Timestamp,
) -> DeploymentSync {
    let mut sync = Syncer::new(deployment.clone(), replica_sets, now);
    sync.run(pods);
    sync.finish(deployment)
}

struct Syncer {
    d: Deployment,
    rss: Vec<ReplicaSet>,
    original: Vec<ReplicaSet>,
    created: Option<String>,
    deleted: Vec<String>,
    events: Vec<ControllerEvent>,
    requeue_after: Option<Duration>,
    now: Timestamp,
}

impl Syncer {
    fn new(d: Deployment, rss: Vec<ReplicaSet>, now: Timestamp) -> Self {
        Syncer {
            d,
            original: rss.clone(),
            rss,
            created: None,
            deleted: Vec::new(),
            events: Vec::new(),
            requeue_after: None,
            now,
        }
    }

    /// Condition times are second-precision, as they are once they have been through the API.
    fn now_time(&self) -> Time {
        Time(Timestamp::from_second(self.now.as_second()).unwrap_or(self.now))
    }

    fn name(&self) -> String {
        self.d.metadata.name.clone().unwrap_or_default()
    }

    fn replicas(&self) -> i32 {
        deployment_replicas(&self.d)
    }

    fn status(&mut self) -> &mut DeploymentStatus {
        self.d.status.get_or_insert_with(Default::default)
    }

    fn event(&mut self, type_: EventType, reason: &str, message: String) {
        self.events.push(ControllerEvent { type_, reason: reason.to_string(), message });
    }

    fn run(&mut self, pods: &PodCounts) {
        if self.d.metadata.deletion_timestamp.is_some() {
            let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false);
            self.sync_deployment_status(new_rs, &old);
            return;
        }
        self.check_paused_conditions();
        if paused(&self.d) {
            self.sync_scale();
            return;
        }
        if self.is_scaling_event() {
            self.sync_scale();
            return;
        }
        if is_rolling_update(&self.d) {
            self.rollout_rolling();
        } else {
            self.rollout_recreate(pods);
        }
    }

    fn finish(mut self, original: &Deployment) -> DeploymentSync {
        let mut update_replica_sets = Vec::new();
        for rs in &self.rss {
            let name = rs.metadata.name.as_deref().unwrap_or("");
            if Some(name) == self.created.as_deref() || self.deleted.iter().any(|d| d == name) {
                continue;
            }
            let before = self.original.iter().find(|o| o.metadata.name.as_deref() == Some(name));
            if before != Some(rs) {
                update_replica_sets.push(rs.clone());
            }
        }
        let create_replica_sets = match &self.created {
            Some(name) => {
                self.rss.iter().filter(|rs| rs.metadata.name.as_deref() == Some(name)).cloned().collect()
            }
            None => Vec::new(),
        };
        let changed =
            self.d.metadata.annotations != original.metadata.annotations || self.d.status != original.status;
        DeploymentSync {
            create_replica_sets,
            update_replica_sets,
            delete_replica_sets: std::mem::take(&mut self.deleted),
            update_deployment: changed.then(|| self.d.clone()),
            events: std::mem::take(&mut self.events),
            requeue_after: self.requeue_after,
        }
    }

    // ---- replica set discovery and revisions (sync.go) ----

    fn sorted_by_creation(&self, indices: &mut [usize]) {
        indices.sort_by(|a, b| creation_key(&self.rss[*a]).cmp(&creation_key(&self.rss[*b])));
    }

    fn alive(&self) -> Vec<usize> {
        (0..self.rss.len())
            .filter(|i| {
                !self.deleted.iter().any(|d| Some(d.as_str()) == self.rss[*i].metadata.name.as_deref())
            })
            .collect()
    }

    fn find_new_replica_set(&self) -> Option<usize> {
        let template = self.d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let mut all = self.alive();
        self.sorted_by_creation(&mut all);
        all.into_iter().find(|i| {
            self.rss[*i]
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignore_hash(t, &template))
        })
    }

    /// `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created when asked) and the old ones.
    fn get_all_replica_sets_and_sync_revision(
        &mut self,
        create_if_not_existed: bool,
    ) -> (Option<usize>, Vec<usize>) {
        let existing_new = self.find_new_replica_set();
        let old: Vec<usize> = self.alive().into_iter().filter(|i| Some(*i) != existing_new).collect();
        let max_old_revision = old.iter().map(|i| revision(&self.rss[*i])).max().unwrap_or(0);
        let new_revision = (max_old_revision + 1).to_string();

        if let Some(index) = existing_new {
            let mut rs = self.rss[index].clone();
            let annotations_updated = set_new_replica_set_annotations(&self.d, &mut rs, &new_revision, true);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let min_ready_needs_update = rs.spec.as_ref().and_then(|s| s.min_ready_seconds) != min_ready;
            if annotations_updated || min_ready_needs_update {
                rs.spec.get_or_insert_with(Default::default).min_ready_seconds = min_ready;
                self.rss[index] = rs;
                // The real controller returns here and picks up the revision on the next sync.
                return (Some(index), old);
            }
            let rs_revision = rs
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .cloned()
                .unwrap_or_default();
            set_deployment_revision(&mut self.d, &rs_revision);
            let has_progressing = get_condition(self.d.status.as_ref(), "Progressing").is_some();
            if progress_deadline_seconds(&self.d).is_some() && !has_progressing {
                let message =
                    format!("Found new replica set {:?}", rs.metadata.name.as_deref().unwrap_or(""));
                let condition =
                    new_condition("Progressing", "True", FOUND_NEW_RS_REASON, message, self.now_time());
                set_condition(self.status(), condition);
            }
            return (Some(index), old);
        }
        if !create_if_not_existed {
            return (None, old);
        }

        let spec = self.d.spec.clone().unwrap_or_default();
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = pod_template_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        let template_meta = template.metadata.get_or_insert_with(Default::default);
        template_meta
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let labels = template_meta.labels.clone();
        let mut selector: LabelSelector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let name = format!("{}-{}", self.name(), hash);
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![controller_ref("apps/v1", "Deployment", &self.d.metadata)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let mut all: Vec<&ReplicaSet> = old.iter().map(|i| &self.rss[*i]).collect();
        all.push(&rs);
        let new_replicas = new_rs_new_replicas(&self.d, &all, &rs);
        set_rs_replicas(&mut rs, new_replicas);
        set_new_replica_set_annotations(&self.d, &mut rs, &new_revision, false);
        self.rss.push(rs);
        let index = self.rss.len() - 1;
        self.created = Some(name.clone());
        if new_replicas > 0 {
            self.event(
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {new_replicas}"),
            );
        }
        set_deployment_revision(&mut self.d, &new_revision);
        if progress_deadline_seconds(&self.d).is_some() {
            let message = format!("Created new replica set {name:?}");
            let condition =
                new_condition("Progressing", "True", NEW_RS_NEW_REPLICAS_REASON, message, self.now_time());
            set_condition(self.status(), condition);
        }
        (Some(index), old)
    }

    // ---- scaling (sync.go) ----

    fn scale_replica_set(&mut self, index: usize, new_scale: i32, operation: &str) -> bool {
        let replicas = self.replicas();
        let max_replicas = replicas + max_surge(&self.d);
        let rs = &mut self.rss[index];
        let old_scale = rs_replicas(rs);
        let size_needs_update = old_scale != new_scale;
        let annotations_need_update = replicas_annotations_need_update(rs, replicas, max_replicas);
        if !(size_needs_update || annotations_need_update) {
            return false;
        }
        set_rs_replicas(rs, new_scale);
        set_replicas_annotations(rs, replicas, max_replicas);
        if size_needs_update {
            let name = rs.metadata.name.clone().unwrap_or_default();
            self.event(
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled {operation} replica set {name} from {old_scale} to {new_scale}"),
            );
        }
        size_needs_update
    }

    fn scale_replica_set_and_record_event(&mut self, index: usize, new_scale: i32) -> bool {
        let current = rs_replicas(&self.rss[index]);
        if current == new_scale {
            return false;
        }
        let operation = if current < new_scale { "up" } else { "down" };
        self.scale_replica_set(index, new_scale, operation)
    }

    fn is_scaling_event(&mut self) -> bool {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false);
        let replicas = self.replicas();
        new_rs
            .into_iter()
            .chain(old)
            .filter(|i| rs_replicas(&self.rss[*i]) > 0)
            .any(|i| desired_replicas_annotation(&self.rss[i]).is_some_and(|desired| desired != replicas))
    }

    /// `sync`: scale (proportionally when mid-rollout), clean up when paused, update the status.
    fn sync_scale(&mut self) {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(false);
        self.scale(new_rs, &old);
        if paused(&self.d) {
            self.cleanup_deployment(&old);
        }
        self.sync_deployment_status(new_rs, &old);
    }

    fn scale(&mut self, new_rs: Option<usize>, old: &[usize]) {
        let replicas = self.replicas();
        if let Some(index) = self.find_active_or_latest(new_rs, old) {
            if rs_replicas(&self.rss[index]) != replicas {
                self.scale_replica_set_and_record_event(index, replicas);
            }
            return;
        }
        if new_rs.is_some_and(|i| is_saturated(&self.d, &self.rss[i])) {
            for i in old.iter().copied().filter(|i| rs_replicas(&self.rss[*i]) > 0).collect::<Vec<_>>() {
                self.scale_replica_set_and_record_event(i, 0);
            }
            return;
        }
        if !is_rolling_update(&self.d) {
            return;
        }
        let mut active: Vec<usize> =
            old.iter().copied().chain(new_rs).filter(|i| rs_replicas(&self.rss[*i]) > 0).collect();
        let all_replicas: i32 = active.iter().map(|i| rs_replicas(&self.rss[*i])).sum();
        let allowed_size = if replicas > 0 { replicas + max_surge(&self.d) } else { 0 };
        let to_add = allowed_size - all_replicas;
        let operation = match to_add.cmp(&0) {
            std::cmp::Ordering::Greater => {
                // Larger first; among equals, newer first.
                active.sort_by(|a, b| {
                    let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
                    rs_replicas(rb)
                        .cmp(&rs_replicas(ra))
                        .then_with(|| creation_key(rb).cmp(&creation_key(ra)))
                });
                "up"
            }
            std::cmp::Ordering::Less => {
                // Larger first; among equals, older first.
                active.sort_by(|a, b| {
                    let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
                    rs_replicas(rb)
                        .cmp(&rs_replicas(ra))
                        .then_with(|| creation_key(ra).cmp(&creation_key(rb)))
                });
                "down"
            }
            std::cmp::Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
        for i in &active {
            let rs = &self.rss[*i];
            if to_add != 0 {
                let proportion = get_proportion(rs, &self.d, to_add, added);
                sizes.push(rs_replicas(rs) + proportion);
                added += proportion;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (position, i) in active.iter().enumerate() {
            if position == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_replica_set(*i, sizes[position], operation);
        }
    }

    fn find_active_or_latest(&self, new_rs: Option<usize>, old: &[usize]) -> Option<usize> {
        if new_rs.is_none() && old.is_empty() {
            return None;
        }
        let mut newest_first: Vec<usize> = old.to_vec();
        self.sorted_by_creation(&mut newest_first);
        newest_first.reverse();
        let active: Vec<usize> =
            newest_first.iter().copied().chain(new_rs).filter(|i| rs_replicas(&self.rss[*i]) > 0).collect();
        match active.len() {
            0 => new_rs.or_else(|| newest_first.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    // ---- rolling (rolling.go) ----

    fn rollout_rolling(&mut self) {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(true);
        let Some(new_index) = new_rs else { return };
        if self.reconcile_new_replica_set(new_index, &old) {
            self.sync_rollout_status(new_rs, &old);
            return;
        }
        let active_old: Vec<usize> = old.iter().copied().filter(|i| rs_replicas(&self.rss[*i]) > 0).collect();
        if self.reconcile_old_replica_sets(new_index, &old, active_old) {
            self.sync_rollout_status(new_rs, &old);
            return;
        }
        if self.complete_with_current_status(new_rs, &old) {
            self.cleanup_deployment(&old);
        }
        self.sync_rollout_status(new_rs, &old);
    }

    /// `DeploymentComplete(d, &d.Status)` as the real controller evaluates it here: against the
    /// status it last wrote.
    fn complete_with_current_status(&self, _new_rs: Option<usize>, _old: &[usize]) -> bool {
        deployment_complete(&self.d, self.d.status.as_ref().unwrap_or(&DeploymentStatus::default()))
    }

    fn reconcile_new_replica_set(&mut self, new_index: usize, old: &[usize]) -> bool {
        let replicas = self.replicas();
        let current = rs_replicas(&self.rss[new_index]);
        if current == replicas {
            return false;
        }
        if current > replicas {
            return self.scale_replica_set_and_record_event(new_index, replicas);
        }
        let all: Vec<&ReplicaSet> =
            old.iter().chain(std::iter::once(&new_index)).map(|i| &self.rss[*i]).collect();
        let new_count = new_rs_new_replicas(&self.d, &all, &self.rss[new_index]);
        self.scale_replica_set_and_record_event(new_index, new_count)
    }

    fn reconcile_old_replica_sets(
        &mut self,
        new_index: usize,
        all_old: &[usize],
        mut old: Vec<usize>,
    ) -> bool {
        let old_pods: i32 = old.iter().map(|i| rs_replicas(&self.rss[*i])).sum();
        if old_pods == 0 {
            return false;
        }
        let all_pods: i32 =
            all_old.iter().chain(std::iter::once(&new_index)).map(|i| rs_replicas(&self.rss[*i])).sum();
        let min_available = self.replicas() - max_unavailable(&self.d);
        let new_rs = &self.rss[new_index];
        let new_unavailable = rs_replicas(new_rs) - rs_available(new_rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let cleaned = self.cleanup_unhealthy_replicas(&mut old, max_scaled_down);
        let scaled_down = self.scale_down_old_replica_sets_for_rolling_update(new_index, all_old, &old);
        cleaned + scaled_down > 0
    }

    fn cleanup_unhealthy_replicas(&mut self, old: &mut [usize], max_cleanup: i32) -> i32 {
        self.sorted_by_creation(old);
        let mut total = 0;
        for i in old.iter().copied() {
            if total >= max_cleanup {
                break;
            }
            let replicas = rs_replicas(&self.rss[i]);
            let available = rs_available(&self.rss[i]);
            if replicas == 0 || replicas == available {
                continue;
            }
            let count = (max_cleanup - total).min(replicas - available);
            self.scale_replica_set_and_record_event(i, replicas - count);
            total += count;
        }
        total
    }

    fn scale_down_old_replica_sets_for_rolling_update(
        &mut self,
        new_index: usize,
        all_old: &[usize],
        old: &[usize],
    ) -> i32 {
        let min_available = self.replicas() - max_unavailable(&self.d);
        let available: i32 =
            all_old.iter().chain(std::iter::once(&new_index)).map(|i| rs_available(&self.rss[*i])).sum();
        if available <= min_available {
            return 0;
        }
        let mut old = old.to_vec();
        self.sorted_by_creation(&mut old);
        let total_to_scale_down = available - min_available;
        let mut total = 0;
        for i in old {
            if total >= total_to_scale_down {
                break;
            }
            let replicas = rs_replicas(&self.rss[i]);
            if replicas == 0 {
                continue;
            }
            let count = replicas.min(total_to_scale_down - total);
            self.scale_replica_set_and_record_event(i, replicas - count);
            total += count;
        }
        total
    }

    // ---- recreate (recreate.go) ----

    fn rollout_recreate(&mut self, pods: &PodCounts) {
        let (mut new_rs, mut old) = self.get_all_replica_sets_and_sync_revision(false);
        let active_old: Vec<usize> = old.iter().copied().filter(|i| rs_replicas(&self.rss[*i]) > 0).collect();
        let mut scaled_down = false;
        for i in active_old {
            scaled_down |= self.scale_replica_set_and_record_event(i, 0);
        }
        if scaled_down {
            self.sync_rollout_status(new_rs, &old);
            return;
        }
        if self.old_pods_running(new_rs, &old, pods) {
            self.sync_rollout_status(new_rs, &old);
            return;
        }
        if new_rs.is_none() {
            (new_rs, old) = self.get_all_replica_sets_and_sync_revision(true);
        }
        if let Some(index) = new_rs {
            let replicas = self.replicas();
            self.scale_replica_set_and_record_event(index, replicas);
        }
        if self.complete_with_current_status(new_rs, &old) {
            self.cleanup_deployment(&old);
        }
        self.sync_rollout_status(new_rs, &old);
    }

    fn old_pods_running(&self, new_rs: Option<usize>, old: &[usize], pods: &PodCounts) -> bool {
        if old.iter().map(|i| rs_status_replicas(&self.rss[*i])).sum::<i32>() > 0 {
            return true;
        }
        let new_uid = new_rs.and_then(|i| self.rss[i].metadata.uid.clone());
        pods.non_terminal_by_replica_set
            .iter()
            .any(|(uid, count)| Some(uid) != new_uid.as_ref() && *count > 0)
    }

    // ---- cleanup (sync.go) ----

    fn cleanup_deployment(&mut self, old: &[usize]) {
        let Some(limit) = revision_history_limit(&self.d) else { return };
        let mut cleanable: Vec<usize> =
            old.iter().copied().filter(|i| self.rss[*i].metadata.deletion_timestamp.is_none()).collect();
        let diff = cleanable.len() as i32 - limit;
        if diff <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| {
            let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
            match (revision(ra), revision(rb)) {
                (x, y) if x == y => creation_key(ra).cmp(&creation_key(rb)),
                (x, y) => x.cmp(&y),
            }
        });
        for i in cleanable.into_iter().take(diff as usize) {
            let rs = &self.rss[i];
            let generation = rs.metadata.generation.unwrap_or(0);
            let observed = rs.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
            if rs_status_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || generation > observed
                || rs.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            if let Some(name) = rs.metadata.name.clone() {
                self.deleted.push(name);
            }
        }
    }

    // ---- status and progress (sync.go, progress.go) ----

    fn calculate_status(&self, new_rs: Option<usize>, old: &[usize]) -> DeploymentStatus {
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.iter()).map(|i| &self.rss[*i]).collect();
        let available: i32 = all.iter().map(|rs| rs_available(rs)).sum();
        let total: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
        let unavailable = (total - available).max(0);
        let current = self.d.status.clone().unwrap_or_default();
        let mut status = DeploymentStatus {
            observed_generation: non_zero_i64(self.d.metadata.generation.unwrap_or(0)),
            replicas: non_zero(all.iter().map(|rs| rs_status_replicas(rs)).sum()),
            updated_replicas: non_zero(new_rs.map_or(0, |i| rs_status_replicas(&self.rss[i]))),
            ready_replicas: non_zero(all.iter().map(|rs| rs_ready(rs)).sum()),
            available_replicas: non_zero(available),
            unavailable_replicas: non_zero(unavailable),
            collision_count: current.collision_count,
            conditions: current.conditions.clone(),
            terminating_replicas: None,
        };
        let condition = if available >= self.replicas() - max_unavailable(&self.d) {
            new_condition(
                "Available",
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
                self.now_time(),
            )
        } else {
            new_condition(
                "Available",
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                self.now_time(),
            )
        };
        set_condition(&mut status, condition);
        status
    }

    fn sync_deployment_status(&mut self, new_rs: Option<usize>, old: &[usize]) {
        let status = self.calculate_status(new_rs, old);
        self.d.status = Some(status);
    }

    fn sync_rollout_status(&mut self, new_rs: Option<usize>, old: &[usize]) {
        let mut new_status = self.calculate_status(new_rs, old);
        let deadline = progress_deadline_seconds(&self.d);
        if deadline.is_none() {
            remove_condition(&mut new_status, "Progressing");
        }
        let current = get_condition(self.d.status.as_ref(), "Progressing").cloned();
        let is_complete_deployment = new_status.replicas == new_status.updated_replicas
            && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE_REASON));
        let rs_name = new_rs.map(|i| self.rss[i].metadata.name.clone().unwrap_or_default());
        let subject = match &rs_name {
            Some(name) => format!("ReplicaSet {name:?}"),
            None => format!("Deployment {:?}", self.name()),
        };
        if deadline.is_some() && !is_complete_deployment {
            if deployment_complete(&self.d, &new_status) {
                let message = format!("{subject} has successfully progressed.");
                set_condition(
                    &mut new_status,
                    new_condition("Progressing", "True", NEW_RS_AVAILABLE_REASON, message, self.now_time()),
                );
            } else if deployment_progressing(&self.d, &new_status) {
                let message = format!("{subject} is progressing.");
                let mut condition = new_condition(
                    "Progressing",
                    "True",
                    REPLICA_SET_UPDATED_REASON,
                    message,
                    self.now_time(),
                );
                if let Some(current) = &current {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    remove_condition(&mut new_status, "Progressing");
                }
                set_condition(&mut new_status, condition);
            } else if self.deployment_timed_out(&new_status) {
                let message = format!("{subject} has timed out progressing.");
                set_condition(
                    &mut new_status,
                    new_condition("Progressing", "False", TIMED_OUT_REASON, message, self.now_time()),
                );
            }
        }
        // ReplicaFailure conditions of ReplicaSets move to the Deployment.
        let failure = new_rs
            .iter()
            .chain(old.iter())
            .filter_map(|i| self.rss[*i].status.as_ref().and_then(|s| s.conditions.as_ref()))
            .flatten()
            .find(|c| c.type_ == "ReplicaFailure")
            .cloned();
        match failure {
            Some(c) => set_condition(
                &mut new_status,
                DeploymentCondition {
                    type_: c.type_,
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                    last_transition_time: c.last_transition_time.clone(),
                    last_update_time: c.last_transition_time,
                },
            ),
            None => remove_condition(&mut new_status, "ReplicaFailure"),
        }
        if self.d.status.as_ref() == Some(&new_status) {
            self.requeue_after = self.requeue_stuck_deployment(&new_status);
            return;
        }
        self.d.status = Some(new_status);
    }

    fn deployment_timed_out(&self, new_status: &DeploymentStatus) -> bool {
        let Some(deadline) = progress_deadline_seconds(&self.d) else { return false };
        let Some(condition) = get_condition(Some(new_status), "Progressing") else { return false };
        match condition.reason.as_deref() {
            Some(NEW_RS_AVAILABLE_REASON) => false,
            Some(TIMED_OUT_REASON) => true,
            _ => condition
                .last_update_time
                .as_ref()
                .is_some_and(|from| from.0 + jiff::SignedDuration::from_secs(i64::from(deadline)) < self.now),
        }
    }

    fn requeue_stuck_deployment(&self, new_status: &DeploymentStatus) -> Option<Duration> {
        let deadline = progress_deadline_seconds(&self.d)?;
        let current = get_condition(self.d.status.as_ref(), "Progressing")?;
        if deployment_complete(&self.d, new_status) || current.reason.as_deref() == Some(TIMED_OUT_REASON) {
            return None;
        }
        let from = current.last_update_time.as_ref()?.0;
        let due = from + jiff::SignedDuration::from_secs(i64::from(deadline));
        let after = self.now.duration_until(due);
        if after < jiff::SignedDuration::from_secs(1) {
            // The real controller requeues rate-limited; the deadline is only crossed strictly after.
            return Some(Duration::from_millis(250));
        }
        Some(Duration::try_from(after).unwrap_or_default() + Duration::from_secs(1))
    }

    // ---- paused (sync.go) ----

    fn check_paused_conditions(&mut self) {
        if progress_deadline_seconds(&self.d).is_none() {
            return;
        }
        let current = get_condition(self.d.status.as_ref(), "Progressing");
        if current.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT_REASON)) {
            return;
        }
        let paused_condition_exists =
            current.is_some_and(|c| c.reason.as_deref() == Some(PAUSED_DEPLOY_REASON));
        let now = self.now_time();
        if paused(&self.d) && !paused_condition_exists {
            set_condition(
                self.status(),
                new_condition(
                    "Progressing",
                    "Unknown",
                    PAUSED_DEPLOY_REASON,
                    "Deployment is paused".into(),
                    now,
                ),
            );
        } else if !paused(&self.d) && paused_condition_exists {
            set_condition(
                self.status(),
                new_condition(
                    "Progressing",
                    "Unknown",
                    RESUMED_DEPLOY_REASON,
                    "Deployment is resumed".into(),
                    now,
                ),
            );
        }
    }
}

fn non_zero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

fn non_zero_i64(n: i64) -> Option<i64> {
    (n != 0).then_some(n)
}

/// `NewRSNewReplicas`: how many replicas the new ReplicaSet may have now.
fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let replicas = deployment_replicas(d);
    if !is_rolling_update(d) {
        return replicas;
    }
    let (surge, _) = surge_and_unavailable(d);
    let max_surge = scaled_value(&surge, replicas, true).unwrap_or(0);
    let current: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
    let max_total = replicas + max_surge;
    if current >= max_total {
        return rs_replicas(new_rs);
    }
    let scale_up = (max_total - current).min(replicas - rs_replicas(new_rs));
    rs_replicas(new_rs) + scale_up
}

/// `DeploymentComplete`.
fn deployment_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let replicas = deployment_replicas(d);
    status.updated_replicas.unwrap_or(0) == replicas
        && status.replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// `DeploymentProgressing`: more updated, ready or available replicas, or fewer old ones.
fn deployment_progressing(d: &Deployment, new_status: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let get = |v: Option<i32>| v.unwrap_or(0);
    let old_old = get(old.replicas) - get(old.updated_replicas);
    let new_old = get(new_status.replicas) - get(new_status.updated_replicas);
    get(new_status.updated_replicas) > get(old.updated_replicas)
        || new_old < old_old
        || get(new_status.ready_replicas) > get(old.ready_replicas)
        || get(new_status.available_replicas) > get(old.available_replicas)
}

fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let replicas = deployment_replicas(d);
    desired_replicas_annotation(rs) == Some(replicas)
        && rs_replicas(rs) == replicas
        && rs_available(rs) == replicas
}

fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(DESIRED_REPLICAS_ANNOTATION)?.parse().ok()
}

fn get_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let replicas = deployment_replicas(d);
    if replicas == 0 {
        return -rs_replicas(rs);
    }
    let max_replicas = replicas + max_surge(d);
    let mut before: i32 = rs
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MAX_REPLICAS_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if before == 0 {
        before = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        if before == 0 {
            return 0;
        }
    }
    let size = f64::from(rs_replicas(rs) * max_replicas) / f64::from(before);
    // integer.RoundToInt32 rounds half away from zero.
    size.round() as i32 - rs_replicas(rs)
}

fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.as_ref();
    let get = |key: &str| annotations.and_then(|a| a.get(key)).cloned();
    get(DESIRED_REPLICAS_ANNOTATION) != Some(desired.to_string())
        || get(MAX_REPLICAS_ANNOTATION) != Some(max.to_string())
}

fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in
        [(DESIRED_REPLICAS_ANNOTATION, desired.to_string()), (MAX_REPLICAS_ANNOTATION, max.to_string())]
    {
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_string(), value);
            changed = true;
        }
    }
    changed
}

fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if annotations.get(REVISION_ANNOTATION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION_ANNOTATION.to_string(), revision.to_string());
    true
}

/// `SetNewReplicaSetAnnotations`: copy the Deployment's annotations, raise the revision (keeping
/// the earlier ones in revision-history on a rollback), and for a new ReplicaSet the replica counts.
fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: &str,
    exists: bool,
) -> bool {
    let mut changed = false;
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if SKIP_COPY_ANNOTATIONS.contains(&k.as_str()) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    let old_revision = annotations.get(REVISION_ANNOTATION).cloned();
    let old_revision_number: i64 = match &old_revision {
        None => 0,
        Some(text) => match text.parse() {
            Ok(n) => n,
            Err(_) if text.is_empty() => 0,
            Err(_) => return false,
        },
    };
    let Ok(new_revision_number) = new_revision.parse::<i64>() else { return false };
    if old_revision_number < new_revision_number {
        annotations.insert(REVISION_ANNOTATION.to_string(), new_revision.to_string());
        changed = true;
        if let Some(old_revision) = old_revision {
            let history = annotations.get(REVISION_HISTORY_ANNOTATION).cloned().unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY_ANNOTATION.to_string(), old_revision);
            } else {
                let mut revisions: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old_revision.len() + 1;
                let mut start = 0;
                while total > MAX_REV_HISTORY_LENGTH_IN_CHARS && start < revisions.len() {
                    total -= revisions[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REV_HISTORY_LENGTH_IN_CHARS {
                    revisions = revisions.split_off(start);
                    revisions.push(&old_revision);
                    let joined = revisions.join(",");
                    annotations.insert(REVISION_HISTORY_ANNOTATION.to_string(), joined);
                }
            }
        }
    }
    if !exists {
        let replicas = deployment_replicas(d);
        if set_replicas_annotations(rs, replicas, replicas + max_surge(d)) {
            changed = true;
        }
    }
    changed
}

fn get_condition<'a>(status: Option<&'a DeploymentStatus>, type_: &str) -> Option<&'a DeploymentCondition> {
    status?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

fn new_condition(type_: &str, status: &str, reason: &str, message: String, now: Time) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_transition_time: Some(now.clone()),
        last_update_time: Some(now),
    }
}

/// `SetDeploymentCondition`: replace the condition of that type unless status and reason are the
/// same; keep lastTransitionTime when the status does not change.
fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = get_condition(Some(status), &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    conditions.retain(|c| c.type_ != condition.type_);
    conditions.push(condition);
}

fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

#[cfg(test)]
mod tests;
