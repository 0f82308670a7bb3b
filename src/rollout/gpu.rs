//! GPU-aware surge planning: can the pods a rolling update adds be scheduled?
//!
//! For every resource the pod requests (cpu, memory, extended resources such as
//! `nvidia.com/gpu`, and a pod slot where nodes declare `pods`), free = allocatable − requests of
//! the non-terminated pods bound to the node, over the Ready, schedulable nodes that match the
//! pod's nodeSelector and required node affinity and tolerate its NoSchedule/NoExecute taints;
//! pods are packed per node. Pure: the caller lists the nodes and pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, NodeSelectorRequirement, Pod, PodSpec, Taint, Toleration};

use crate::rollout::quantity::{format_millis, parse_millis, Millis};
use crate::rollout::strategy::ResolvedRollingUpdate;

/// Resource name -> amount in milli-units.
pub type Resources = BTreeMap<String, Millis>;

/// The pod slot every pod takes on a node whose allocatable declares `pods`.
pub const POD_SLOT: &str = "pods";

/// What a pod asks the scheduler for, as Kubernetes computes it: the larger of the sum over its
/// containers (and restartable init containers) and the largest single init container, plus
/// overhead. A container's limit stands in for a missing request, as the API server defaults it.
pub fn pod_requests(spec: &PodSpec) -> Resources {
    let container_requests = |c: &Container| -> Resources {
        let mut out = Resources::new();
        let Some(resources) = &c.resources else { return out };
        if let Some(limits) = &resources.limits {
            for (name, q) in limits {
                if let Ok(v) = parse_millis(&q.0) {
                    out.insert(name.clone(), v);
                }
            }
        }
        if let Some(requests) = &resources.requests {
            for (name, q) in requests {
                if let Ok(v) = parse_millis(&q.0) {
                    out.insert(name.clone(), v);
                }
            }
        }
        out
    };
    let mut sum = Resources::new();
    let add = |into: &mut Resources, from: &Resources| {
        for (name, v) in from {
            *into.entry(name.clone()).or_default() += v;
        }
    };
    for c in &spec.containers {
        add(&mut sum, &container_requests(c));
    }
    let mut init_max = Resources::new();
    for c in spec.init_containers.iter().flatten() {
        let requests = container_requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            add(&mut sum, &requests);
        } else {
            for (name, v) in requests {
                let entry = init_max.entry(name).or_default();
                *entry = (*entry).max(v);
            }
        }
    }
    for (name, v) in init_max {
        let entry = sum.entry(name).or_default();
        *entry = (*entry).max(v);
    }
    if let Some(overhead) = &spec.overhead {
        for (name, q) in overhead {
            if let Ok(v) = parse_millis(&q.0) {
                *sum.entry(name.clone()).or_default() += v;
            }
        }
    }
    sum.retain(|_, v| *v > 0);
    sum
}

/// Why a node cannot take the pod whatever its free resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    NotReady,
    Unschedulable,
    /// The node's labels do not match the pod's nodeSelector or required node affinity.
    Selector,
    /// A NoSchedule/NoExecute taint the pod does not tolerate, as `key=value:Effect`.
    Taint(String),
}

/// One node the pod may go to, with what is free on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoom {
    pub name: String,
    pub free: Resources,
    /// How many more pods of this template fit on the node.
    pub pods_fit: i64,
}

/// The result of fitting a pod template onto the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// What one pod requests (the pod slot included when nodes count pods).
    pub requests: Resources,
    pub nodes: Vec<NodeRoom>,
    pub excluded: Vec<(String, Exclusion)>,
}

/// More pods than any rollout adds: "no limit".
const UNLIMITED: i64 = 1 << 40;

/// What the pods bound to each node request, summed per node: all `fit` needs of the pods, so
/// the caller can fold a list of any length into it one pod at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeUsage {
    by_node: BTreeMap<String, Resources>,
}

impl NodeUsage {
    /// The usage of `pods`.
    pub fn of(pods: &[Pod]) -> Self {
        let mut usage = Self::default();
        for pod in pods {
            usage.add(pod);
        }
        usage
    }

    /// Count `pod` on its node, when it is bound and not terminated.
    pub fn add(&mut self, pod: &Pod) {
        let Some(spec) = &pod.spec else { return };
        let Some(node) = spec.node_name.as_deref() else { return };
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            return;
        }
        let entry = self.by_node.entry(node.to_string()).or_default();
        for (name, v) in pod_requests(spec) {
            *entry.entry(name).or_default() += v;
        }
        *entry.entry(POD_SLOT.to_string()).or_default() += 1000;
    }
}

/// Work out where pods of `template` fit among `nodes`, given the `pods` already in the cluster.
pub fn fit(nodes: &[Node], pods: &[Pod], template: &PodSpec) -> Fit {
    fit_with_usage(nodes, &NodeUsage::of(pods), template)
}

/// [`fit`], given what the pods already in the cluster use per node.
pub fn fit_with_usage(nodes: &[Node], usage: &NodeUsage, template: &PodSpec) -> Fit {
    let mut requests = pod_requests(template);
    let used = &usage.by_node;
    let mut rooms = Vec::new();
    let mut excluded = Vec::new();
    let counts_pods = nodes.iter().any(|n| allocatable(n).contains_key(POD_SLOT));
    if counts_pods {
        requests.insert(POD_SLOT.to_string(), 1000);
    }
    for node in nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(why) = exclusion(node, template) {
            excluded.push((name, why));
            continue;
        }
        let alloc = allocatable(node);
        let node_used = used.get(name.as_str());
        let mut free = Resources::new();
        let mut pods_fit = UNLIMITED;
        for (resource, request) in &requests {
            if resource == POD_SLOT && !alloc.contains_key(POD_SLOT) {
                continue;
            }
            let have = alloc.get(resource).copied().unwrap_or(0);
            let taken = node_used.and_then(|u| u.get(resource)).copied().unwrap_or(0);
            let room = (have - taken).max(0);
            free.insert(resource.clone(), room);
            pods_fit = pods_fit.min(i64::try_from(room / request).unwrap_or(UNLIMITED));
        }
        rooms.push(NodeRoom { name, free, pods_fit });
    }
    Fit { requests, nodes: rooms, excluded }
}

fn allocatable(node: &Node) -> Resources {
    let status = node.status.as_ref();
    let map = status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
    map.into_iter()
        .flatten()
        .filter_map(|(name, q)| parse_millis(&q.0).ok().map(|v| (name.clone(), v)))
        .collect()
}

fn exclusion(node: &Node, template: &PodSpec) -> Option<Exclusion> {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    if !ready {
        return Some(Exclusion::NotReady);
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        return Some(Exclusion::Unschedulable);
    }
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let name = node.metadata.name.as_deref().unwrap_or_default();
    if let Some(selector) = &template.node_selector {
        if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return Some(Exclusion::Selector);
        }
    }
    let required = template
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
    if let Some(required) = required {
        let term_matches = |term: &k8s_openapi::api::core::v1::NodeSelectorTerm| {
            let exprs = term.match_expressions.as_deref().unwrap_or_default();
            let fields = term.match_fields.as_deref().unwrap_or_default();
            (!exprs.is_empty() || !fields.is_empty())
                && exprs.iter().all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
                && fields.iter().all(|r| requirement_matches(r, (r.key == "metadata.name").then_some(name)))
        };
        if !required.node_selector_terms.iter().any(term_matches) {
            return Some(Exclusion::Selector);
        }
    }
    let tolerations = template.tolerations.as_deref().unwrap_or_default();
    for taint in node.spec.as_ref().and_then(|s| s.taints.as_ref()).into_iter().flatten() {
        if taint.effect != "NoSchedule" && taint.effect != "NoExecute" {
            continue;
        }
        if !tolerations.iter().any(|t| tolerates(t, taint)) {
            let value = taint.value.as_deref().map(|v| format!("={v}")).unwrap_or_default();
            return Some(Exclusion::Taint(format!("{}{value}:{}", taint.key, taint.effect)));
        }
    }
    None
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Kubernetes' `Toleration.ToleratesTaint`.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            !key.is_empty()
                && t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

impl Fit {
    /// How many pods of the template fit across all nodes, packed per node.
    pub fn pods_fit(&self) -> i64 {
        self.nodes.iter().map(|n| n.pods_fit).fold(0i64, |a, b| a.saturating_add(b))
    }

    /// Why `wanted` pods (`what`, e.g. `maxSurge 1`) do not fit, with the numbers:
    /// `maxSurge 1 needs 2 nvidia.com/gpu on one node; the largest free block is 0 on 3 nodes`.
    pub fn shortfall(&self, what: &str) -> String {
        let eligible = self.nodes.len();
        if eligible == 0 {
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for (_, why) in &self.excluded {
                let key = match why {
                    Exclusion::NotReady => "not Ready".to_string(),
                    Exclusion::Unschedulable => "cordoned".to_string(),
                    Exclusion::Selector => "not matching the pod's nodeSelector/affinity".to_string(),
                    Exclusion::Taint(t) => format!("tainted {t}"),
                };
                *reasons.entry(key).or_default() += 1;
            }
            let detail = reasons.iter().map(|(why, n)| format!("{n} {why}")).collect::<Vec<_>>().join(", ");
            return format!(
                "{what} cannot be scheduled: none of the {} nodes is Ready, schedulable and open to the pod ({detail})",
                self.excluded.len()
            );
        }
        let nodes_word = |n: usize| if n == 1 { "1 node".to_string() } else { format!("{n} nodes") };
        // Resources that no single node has enough of, each with its largest free block.
        let mut short = Vec::new();
        for (resource, request) in &self.requests {
            let largest = self.nodes.iter().filter_map(|n| n.free.get(resource)).copied().max().unwrap_or(0);
            if largest < *request {
                short.push(format!(
                    "{what} needs {} {resource} on one node; the largest free block is {} on {}",
                    format_millis(resource, *request),
                    format_millis(resource, largest),
                    nodes_word(eligible)
                ));
            }
        }
        if !short.is_empty() {
            return short.join("; ");
        }
        let needs = self
            .requests
            .iter()
            .filter(|(r, _)| r.as_str() != POD_SLOT)
            .map(|(r, v)| format!("{} {r}", format_millis(r, *v)))
            .collect::<Vec<_>>()
            .join(" and ");
        format!(
            "{what} needs {needs} together on one node; no node among {} has all of it free",
            nodes_word(eligible)
        )
    }
}

/// What the fit means for a rolling update that adds `max_surge` pods at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurgePlan {
    /// Every surge pod fits (or none is added).
    Fits,
    /// Some surge pods do not fit, but the rollout can still proceed (more slowly).
    Partial { fit: i64, surge: i32, message: String },
    /// No surge pod fits and `maxUnavailable` is 0: the rollout would wait forever.
    Deadlock { message: String },
}

/// Decide whether the rollout can proceed with `resolved` given `fit`.
pub fn plan_surge(fit: &Fit, resolved: ResolvedRollingUpdate) -> SurgePlan {
    let surge = resolved.max_surge;
    if surge <= 0 {
        return SurgePlan::Fits;
    }
    let fits = fit.pods_fit();
    if fits >= i64::from(surge) {
        return SurgePlan::Fits;
    }
    let what = format!("maxSurge {surge}");
    if fits == 0 && resolved.max_unavailable == 0 {
        return SurgePlan::Deadlock { message: fit.shortfall(&what) };
    }
    let message = if fits == 0 {
        format!(
            "{}; the rollout will proceed only by taking down up to {} old replica(s) at a time",
            fit.shortfall(&what),
            resolved.max_unavailable
        )
    } else {
        format!("only {fits} of the {surge} surge pods fit on the nodes now; the rollout will be slower")
    };
    SurgePlan::Partial { fit: fits, surge, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus, PodStatus, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), Quantity((*v).to_string()))).collect()
    }

    fn node(name: &str, gpus: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([("pool".to_string(), "gpu".to_string())].into()),
                ..Default::default()
            },
            spec: Some(NodeSpec::default()),
            status: Some(NodeStatus {
                allocatable: Some(q(&[
                    ("cpu", "8"),
                    ("memory", "64Gi"),
                    ("nvidia.com/gpu", gpus),
                    ("pods", "110"),
                ])),
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    fn spec(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> PodSpec {
        PodSpec {
            containers: vec![Container {
                name: "model".into(),
                resources: Some(ResourceRequirements {
                    requests: (!requests.is_empty()).then(|| q(requests)),
                    limits: (!limits.is_empty()).then(|| q(limits)),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn pod_on(node: &str, spec_: PodSpec, phase: &str) -> Pod {
        let mut spec_ = spec_;
        spec_.node_name = Some(node.into());
        Pod {
            metadata: ObjectMeta::default(),
            spec: Some(spec_),
            status: Some(PodStatus { phase: Some(phase.into()), ..Default::default() }),
        }
    }

    fn gpu_pod(gpus: &str) -> PodSpec {
        spec(&[("cpu", "1"), ("memory", "8Gi")], &[("nvidia.com/gpu", gpus)])
    }

    #[test]
    fn limits_stand_in_for_requests_and_init_containers_take_the_max() {
        let mut s = gpu_pod("2");
        s.init_containers = Some(vec![Container {
            name: "fetch".into(),
            resources: Some(ResourceRequirements {
                requests: Some(q(&[("cpu", "4")])),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        let r = pod_requests(&s);
        assert_eq!(r["nvidia.com/gpu"], 2000);
        assert_eq!(r["cpu"], 4000);
        assert_eq!(r["memory"], 8 * (1i128 << 30) * 1000);
    }

    #[test]
    fn full_gpu_nodes_deadlock_with_the_numbers() {
        let nodes = vec![node("n1", "4"), node("n2", "4"), node("n3", "4")];
        // Each node runs two 2-GPU pods: no GPU left.
        let pods: Vec<Pod> =
            ["n1", "n1", "n2", "n2", "n3", "n3"].iter().map(|n| pod_on(n, gpu_pod("2"), "Running")).collect();
        let f = fit(&nodes, &pods, &gpu_pod("2"));
        assert_eq!(f.pods_fit(), 0);
        let plan = plan_surge(&f, ResolvedRollingUpdate { max_surge: 1, max_unavailable: 0 });
        assert_eq!(
            plan,
            SurgePlan::Deadlock {
                message:
                    "maxSurge 1 needs 2 nvidia.com/gpu on one node; the largest free block is 0 on 3 nodes"
                        .into()
            }
        );
        // With a replica allowed down, it proceeds (with a warning).
        let plan = plan_surge(&f, ResolvedRollingUpdate { max_surge: 1, max_unavailable: 1 });
        assert!(matches!(plan, SurgePlan::Partial { fit: 0, .. }), "{plan:?}");
        // Terminated pods free their GPUs.
        let mut pods = pods;
        pods[0].status.as_mut().unwrap().phase = Some("Succeeded".into());
        let f = fit(&nodes, &pods, &gpu_pod("2"));
        assert_eq!(f.pods_fit(), 1);
        assert_eq!(
            plan_surge(&f, ResolvedRollingUpdate { max_surge: 1, max_unavailable: 0 }),
            SurgePlan::Fits
        );
    }

    #[test]
    fn packing_is_per_node_not_summed() {
        // 1 GPU free on each of 3 nodes: 3 GPUs in all, but no 2-GPU pod fits.
        let nodes = vec![node("n1", "4"), node("n2", "4"), node("n3", "4")];
        let pods: Vec<Pod> = ["n1", "n2", "n3"].iter().map(|n| pod_on(n, gpu_pod("3"), "Running")).collect();
        let f = fit(&nodes, &pods, &gpu_pod("2"));
        assert_eq!(f.pods_fit(), 0);
        assert_eq!(fit(&nodes, &pods, &gpu_pod("1")).pods_fit(), 3);
        let plan = plan_surge(
            &fit(&nodes, &pods, &gpu_pod("1")),
            ResolvedRollingUpdate { max_surge: 5, max_unavailable: 0 },
        );
        assert!(matches!(plan, SurgePlan::Partial { fit: 3, surge: 5, .. }), "{plan:?}");
    }

    #[test]
    fn not_ready_cordoned_selector_and_taints_exclude_nodes() {
        let mut not_ready = node("n1", "4");
        not_ready.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
        let mut cordoned = node("n2", "4");
        cordoned.spec.as_mut().unwrap().unschedulable = Some(true);
        let mut tainted = node("n3", "4");
        tainted.spec.as_mut().unwrap().taints = Some(vec![Taint {
            key: "gpu".into(),
            value: Some("true".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        }]);
        let mut other_pool = node("n4", "4");
        other_pool.metadata.labels = Some([("pool".to_string(), "cpu".to_string())].into());
        let mut template = gpu_pod("1");
        template.node_selector = Some([("pool".to_string(), "gpu".to_string())].into());
        let nodes = vec![not_ready, cordoned, tainted.clone(), other_pool];
        let f = fit(&nodes, &[], &template);
        assert_eq!(f.pods_fit(), 0);
        assert_eq!(f.excluded.len(), 4);
        let message = f.shortfall("maxSurge 1");
        assert!(message.contains("none of the 4 nodes"), "{message}");
        assert!(message.contains("tainted gpu=true:NoSchedule"), "{message}");
        // Tolerating the taint opens n3.
        template.tolerations = Some(vec![Toleration {
            key: Some("gpu".into()),
            operator: Some("Equal".into()),
            value: Some("true".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }]);
        assert_eq!(fit(&nodes, &[], &template).pods_fit(), 4);
        // PreferNoSchedule does not exclude.
        let mut soft = node("n5", "4");
        soft.spec.as_mut().unwrap().taints =
            Some(vec![Taint { key: "x".into(), effect: "PreferNoSchedule".into(), ..Default::default() }]);
        assert_eq!(fit(&[soft], &[], &gpu_pod("1")).pods_fit(), 4);
    }

    #[test]
    fn every_requested_resource_counts() {
        let nodes = vec![node("n1", "4")];
        // Plenty of GPUs, but memory is short: 64Gi allocatable, 60Gi taken.
        let pods = vec![pod_on("n1", spec(&[("memory", "60Gi")], &[]), "Running")];
        let f = fit(&nodes, &pods, &gpu_pod("1"));
        assert_eq!(f.pods_fit(), 0);
        assert_eq!(
            f.shortfall("maxSurge 1"),
            "maxSurge 1 needs 8Gi memory on one node; the largest free block is 4Gi on 1 node"
        );
        // A pod that requests nothing is limited only by pod slots.
        assert_eq!(fit(&nodes, &pods, &PodSpec::default()).pods_fit(), 109);
    }

    #[test]
    fn resources_short_only_together() {
        let mut n1 = node("n1", "1");
        n1.status.as_mut().unwrap().allocatable = Some(q(&[("cpu", "1"), ("nvidia.com/gpu", "1")]));
        let mut n2 = node("n2", "0");
        n2.status.as_mut().unwrap().allocatable = Some(q(&[("cpu", "8"), ("nvidia.com/gpu", "0")]));
        let template = spec(&[("cpu", "4")], &[("nvidia.com/gpu", "1")]);
        let f = fit(&[n1, n2], &[], &template);
        assert_eq!(f.pods_fit(), 0);
        assert!(f.shortfall("maxSurge 1").contains("together on one node"), "{}", f.shortfall("maxSurge 1"));
    }
}
