//! Helpers of the Deployment controller (deployment_util.go, intstr, hashing, conditions).

use super::*;

/// An IntOrString that is neither an int nor a percentage, in intstr's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for IntOrString: invalid value {text:?}")]
pub struct NotAPercent {
    pub text: String,
}

/// `intstr.GetScaledValueFromIntOrPercent`: an int as is, or `P%` of `total`, rounded up or down.
///
/// # Errors
/// [`NotAPercent`] when a string is not a percentage (API validation rejects these first).
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, NotAPercent> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(text) => {
            let percent: i64 = text
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| NotAPercent { text: text.clone() })?;
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

pub(super) fn default_percent() -> IntOrString {
    IntOrString::String("25%".to_string())
}

pub(super) fn is_rolling_update(d: &Deployment) -> bool {
    strategy_type(d) == "RollingUpdate"
}

pub(super) fn strategy_type(d: &Deployment) -> &str {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

pub(super) fn surge_and_unavailable(d: &Deployment) -> (IntOrString, IntOrString) {
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

pub(super) fn progress_deadline_seconds(d: &Deployment) -> Option<i32> {
    let seconds = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600);
    (seconds != i32::MAX).then_some(seconds)
}

pub(super) fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().map(|s| s.revision_history_limit.unwrap_or(10))
}

pub(super) fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

pub(super) fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub(super) fn set_rs_replicas(rs: &mut ReplicaSet, replicas: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
}

pub(super) fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

pub(super) fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

pub(super) fn rs_ready(rs: &ReplicaSet) -> i32 {
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

pub(super) fn creation_key(rs: &ReplicaSet) -> (Option<Timestamp>, &str) {
    (rs.metadata.creation_timestamp.as_ref().map(|t| t.0), rs.metadata.name.as_deref().unwrap_or(""))
}

/// FNV-1a, 32 bits, as Go's `hash/fnv.New32a`.
pub(super) fn fnv32a(bytes: &[u8], mut hash: u32) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(16_777_619);
    }
    hash
}

/// `rand.SafeEncodeString`: map each byte onto consonants and digits that cannot spell words.
pub(super) fn safe_encode(text: &str) -> String {
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
pub(super) fn normalize(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(k, v)| (k, normalize(v))).filter(|(_, v)| !is_empty_value(v)).collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

pub(super) fn is_empty_value(value: &serde_json::Value) -> bool {
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

pub(super) fn non_zero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

pub(super) fn non_zero_i64(n: i64) -> Option<i64> {
    (n != 0).then_some(n)
}

/// `NewRSNewReplicas`: how many replicas the new ReplicaSet may have now.
pub(super) fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
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
pub(super) fn deployment_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let replicas = deployment_replicas(d);
    status.updated_replicas.unwrap_or(0) == replicas
        && status.replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// `DeploymentProgressing`: more updated, ready or available replicas, or fewer old ones.
pub(super) fn deployment_progressing(d: &Deployment, new_status: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let get = |v: Option<i32>| v.unwrap_or(0);
    let old_old = get(old.replicas) - get(old.updated_replicas);
    let new_old = get(new_status.replicas) - get(new_status.updated_replicas);
    get(new_status.updated_replicas) > get(old.updated_replicas)
        || new_old < old_old
        || get(new_status.ready_replicas) > get(old.ready_replicas)
        || get(new_status.available_replicas) > get(old.available_replicas)
}

pub(super) fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let replicas = deployment_replicas(d);
    desired_replicas_annotation(rs) == Some(replicas)
        && rs_replicas(rs) == replicas
        && rs_available(rs) == replicas
}

pub(super) fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(DESIRED_REPLICAS_ANNOTATION)?.parse().ok()
}

pub(super) fn get_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
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

pub(super) fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
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

pub(super) fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.as_ref();
    let get = |key: &str| annotations.and_then(|a| a.get(key)).cloned();
    get(DESIRED_REPLICAS_ANNOTATION) != Some(desired.to_string())
        || get(MAX_REPLICAS_ANNOTATION) != Some(max.to_string())
}

pub(super) fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
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

pub(super) fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if annotations.get(REVISION_ANNOTATION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION_ANNOTATION.to_string(), revision.to_string());
    true
}

/// `SetNewReplicaSetAnnotations`: copy the Deployment's annotations, raise the revision (keeping
/// the earlier ones in revision-history on a rollback), and for a new ReplicaSet the replica counts.
pub(super) fn set_new_replica_set_annotations(
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

pub(super) fn get_condition<'a>(
    status: Option<&'a DeploymentStatus>,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

pub(super) fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Time,
) -> DeploymentCondition {
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
pub(super) fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
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

pub(super) fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}
