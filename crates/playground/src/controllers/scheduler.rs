//! The scheduler's decisions: filter nodes as kube-scheduler's default plugins do
//! (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit), pick the least crowded
//! node, and word failures exactly as `FitError` does.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Taint, Toleration,
};

use kube_units::quantity::Quantity;

/// Resource amounts as the scheduler counts them: `cpu` in millicores, everything else in units.
pub type Resources = BTreeMap<String, i64>;

/// What the scheduler knows about one node.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    /// `status.allocatable`, including `pods`.
    pub allocatable: Resources,
    /// Sum of the requests of the non-terminated pods bound to the node.
    pub requested: Resources,
    /// How many non-terminated pods are bound to the node.
    pub pod_count: i64,
}

fn amount(resource: &str, quantity: Quantity) -> i64 {
    if resource == "cpu" {
        quantity.milli_value()
    } else {
        quantity.value()
    }
}

/// A node's allocatable resources, parsed.
pub fn node_state(node: &Node) -> NodeState {
    let spec = node.spec.clone().unwrap_or_default();
    let allocatable = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .map(|list| {
            list.iter()
                .filter_map(|(name, q)| Quantity::parse(&q.0).ok().map(|q| (name.clone(), amount(name, q))))
                .collect()
        })
        .unwrap_or_default();
    NodeState {
        name: node.metadata.name.clone().unwrap_or_default(),
        labels: node.metadata.labels.clone().unwrap_or_default(),
        taints: spec.taints.unwrap_or_default(),
        unschedulable: spec.unschedulable.unwrap_or(false),
        allocatable,
        requested: Resources::new(),
        pod_count: 0,
    }
}

/// `resourcehelper.PodRequests`: the sum over containers, at least each init container's, plus
/// overhead. A resource with a limit and no request is requested at its limit (API defaulting).
pub fn pod_requests(spec: &PodSpec) -> Resources {
    fn container_requests(resources: Option<&k8s_openapi::api::core::v1::ResourceRequirements>) -> Resources {
        let mut out = Resources::new();
        let Some(resources) = resources else { return out };
        for (name, q) in resources.limits.iter().flatten() {
            if let Ok(q) = Quantity::parse(&q.0) {
                out.insert(name.clone(), amount(name, q));
            }
        }
        for (name, q) in resources.requests.iter().flatten() {
            if let Ok(q) = Quantity::parse(&q.0) {
                out.insert(name.clone(), amount(name, q));
            }
        }
        out
    }
    let mut total = Resources::new();
    for container in &spec.containers {
        for (name, value) in container_requests(container.resources.as_ref()) {
            *total.entry(name).or_insert(0) += value;
        }
    }
    for init in spec.init_containers.iter().flatten() {
        for (name, value) in container_requests(init.resources.as_ref()) {
            let slot = total.entry(name).or_insert(0);
            *slot = (*slot).max(value);
        }
    }
    for (name, q) in spec.overhead.iter().flatten() {
        if let Ok(q) = Quantity::parse(&q.0) {
            *total.entry(name.clone()).or_insert(0) += amount(name, q);
        }
    }
    total
}

/// Whether a pod counts against its node: it is bound and neither Succeeded nor Failed.
pub fn occupies_node(pod: &Pod) -> Option<&str> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded") | Some("Failed")) {
        return None;
    }
    pod.spec.as_ref()?.node_name.as_deref().filter(|n| !n.is_empty())
}

impl NodeState {
    /// Count a pod bound to this node.
    pub fn add_pod(&mut self, requests: &Resources) {
        self.pod_count += 1;
        for (name, value) in requests {
            *self.requested.entry(name.clone()).or_insert(0) += value;
        }
    }

    /// Stop counting a pod bound to this node.
    pub fn remove_pod(&mut self, requests: &Resources) {
        self.pod_count -= 1;
        for (name, value) in requests {
            *self.requested.entry(name.clone()).or_insert(0) -= value;
        }
    }

    fn free(&self, resource: &str) -> i64 {
        self.allocatable.get(resource).copied().unwrap_or(0)
            - self.requested.get(resource).copied().unwrap_or(0)
    }
}

/// Why a node was filtered out: the reasons, and whether preemption could ever help.
struct Rejection {
    reasons: Vec<String>,
    resolvable: bool,
}

/// `Toleration.ToleratesTaint`.
fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    if toleration.key.as_deref().is_some_and(|k| !k.is_empty() && k != taint.key) {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.clone().unwrap_or_default();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => !value.is_some_and(|v| values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if requirement.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &NodeState) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions.iter().all(|r| requirement_matches(r, node.labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| r.key == "metadata.name" && requirement_matches(r, Some(&node.name)))
}

fn node_affinity_matches(spec: &PodSpec, node: &NodeState) -> bool {
    let selector_ok = spec.node_selector.iter().flatten().all(|(k, v)| node.labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
    let affinity_ok = required.is_none_or(|r| r.node_selector_terms.iter().any(|t| term_matches(t, node)));
    selector_ok && affinity_ok
}

fn filter(spec: &PodSpec, requests: &Resources, node: &NodeState) -> Option<Rejection> {
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    // NodeUnschedulable
    if node.unschedulable {
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if !tolerations.iter().any(|t| tolerates(t, &taint)) {
            return Some(Rejection { reasons: vec!["node(s) were unschedulable".into()], resolvable: false });
        }
    }
    // TaintToleration
    if let Some(taint) = node
        .taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
    {
        let reason = format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key,
            taint.value.as_deref().unwrap_or("")
        );
        return Some(Rejection { reasons: vec![reason], resolvable: false });
    }
    // NodeAffinity (nodeSelector and required node affinity)
    if !node_affinity_matches(spec, node) {
        return Some(Rejection {
            reasons: vec!["node(s) didn't match Pod's node affinity/selector".into()],
            resolvable: false,
        });
    }
    // NodeResourcesFit
    let mut reasons = Vec::new();
    if node.pod_count + 1 > node.allocatable.get("pods").copied().unwrap_or(0) {
        reasons.push("Too many pods".to_string());
    }
    let standard = ["cpu", "memory", "ephemeral-storage"];
    for resource in standard {
        let wanted = requests.get(resource).copied().unwrap_or(0);
        if wanted > 0 && wanted > node.free(resource) {
            reasons.push(format!("Insufficient {resource}"));
        }
    }
    for (resource, wanted) in requests {
        if standard.contains(&resource.as_str()) || resource == "pods" {
            continue;
        }
        if *wanted > 0 && *wanted > node.free(resource) {
            reasons.push(format!("Insufficient {resource}"));
        }
    }
    (!reasons.is_empty()).then_some(Rejection { reasons, resolvable: true })
}

/// Where a pod goes, or why it goes nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Bind to this node.
    Node(String),
    /// Fits no node; the `FailedScheduling` message.
    Unschedulable(String),
}

/// Choose a node for a pod. `owner_pods_on_node` counts pods of the same owner on each node,
/// so that replicas spread (as the default topology spread constraints make them).
pub fn schedule(
    spec: &PodSpec,
    nodes: &[NodeState],
    owner_pods_on_node: &HashMap<String, usize>,
) -> Placement {
    if nodes.is_empty() {
        return Placement::Unschedulable("no nodes available to schedule pods".into());
    }
    let requests = pod_requests(spec);
    let mut rejections: Vec<Rejection> = Vec::new();
    let mut best: Option<(&NodeState, (usize, i64))> = None;
    for node in nodes {
        if let Some(rejection) = filter(spec, &requests, node) {
            rejections.push(rejection);
            continue;
        }
        // Spread first, then LeastAllocated on cpu and memory (lower used share is better).
        let used_share: i64 = ["cpu", "memory"]
            .iter()
            .map(|r| {
                let allocatable = node.allocatable.get(*r).copied().unwrap_or(0).max(1);
                (node.requested.get(*r).copied().unwrap_or(0) + requests.get(*r).copied().unwrap_or(0)) * 1000
                    / allocatable
            })
            .sum();
        let score = (owner_pods_on_node.get(&node.name).copied().unwrap_or(0), used_share);
        if best.as_ref().is_none_or(|(_, s)| score < *s) {
            best = Some((node, score));
        }
    }
    match best {
        Some((node, _)) => Placement::Node(node.name.clone()),
        None => Placement::Unschedulable(fit_error(nodes.len(), &rejections)),
    }
}

fn histogram(reasons: impl Iterator<Item = String>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for reason in reasons {
        *counts.entry(reason).or_insert(0) += 1;
    }
    let mut parts: Vec<String> = counts.into_iter().map(|(reason, n)| format!("{n} {reason}")).collect();
    parts.sort();
    parts.join(", ")
}

/// `FitError.Error()` with the default preemption plugin's post-filter message.
fn fit_error(node_count: usize, rejections: &[Rejection]) -> String {
    let filter_message = histogram(rejections.iter().flat_map(|r| r.reasons.iter().cloned()));
    let preemption = histogram(rejections.iter().map(|r| {
        if r.resolvable {
            "No preemption victims found for incoming pod".to_string()
        } else {
            "Preemption is not helpful for scheduling".to_string()
        }
    }));
    format!("0/{node_count} nodes are available: {filter_message}. preemption: 0/{node_count} nodes are available: {preemption}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;

    fn node(name: &str, gpus: i64) -> NodeState {
        NodeState {
            name: name.into(),
            allocatable: [
                ("cpu".to_string(), 16_000),
                ("memory".to_string(), 64 << 30),
                ("pods".to_string(), 110),
                ("nvidia.com/gpu".to_string(), gpus),
            ]
            .into(),
            ..Default::default()
        }
    }

    fn spec(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> PodSpec {
        let list = |items: &[(&str, &str)]| {
            (!items.is_empty())
                .then(|| items.iter().map(|(k, v)| (k.to_string(), Q(v.to_string()))).collect())
        };
        PodSpec {
            containers: vec![Container {
                name: "model".into(),
                resources: Some(ResourceRequirements {
                    requests: list(requests),
                    limits: list(limits),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn requests_sum_containers_and_default_to_limits() {
        let mut s = spec(&[("cpu", "500m"), ("memory", "1Gi")], &[("nvidia.com/gpu", "2"), ("cpu", "2")]);
        s.containers.push(Container {
            name: "proxy".into(),
            resources: spec(&[("cpu", "250m")], &[]).containers[0].resources.clone(),
            ..Default::default()
        });
        let r = pod_requests(&s);
        assert_eq!(r["cpu"], 750);
        assert_eq!(r["memory"], 1 << 30);
        assert_eq!(r["nvidia.com/gpu"], 2);
    }

    #[test]
    fn gpu_surge_pod_fits_nowhere_with_the_real_message() {
        let mut nodes: Vec<NodeState> = (1..=3).map(|i| node(&format!("node-{i}"), 4)).collect();
        let gpu_pod = spec(&[], &[("nvidia.com/gpu", "2")]);
        let requests = pod_requests(&gpu_pod);
        let mut owner = HashMap::new();
        for _ in 0..6 {
            let Placement::Node(name) = schedule(&gpu_pod, &nodes, &owner) else { panic!("should fit") };
            nodes.iter_mut().find(|n| n.name == name).unwrap().add_pod(&requests);
            *owner.entry(name).or_insert(0) += 1;
        }
        assert!(owner.values().all(|n| *n == 2), "spread: {owner:?}");
        assert_eq!(
            schedule(&gpu_pod, &nodes, &owner),
            Placement::Unschedulable(
                "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
                    .into()
            )
        );
        // Capacity frees up: the pod fits again.
        nodes[1].remove_pod(&requests);
        assert_eq!(schedule(&gpu_pod, &nodes, &owner), Placement::Node("node-2".into()));
    }

    #[test]
    fn mixed_reasons_are_counted_and_sorted() {
        let mut nodes = vec![node("a", 0), node("b", 4), node("c", 4)];
        nodes[1].taints = vec![Taint {
            key: "dedicated".into(),
            value: Some("infra".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        }];
        nodes[2].requested.insert("cpu".into(), 15_900);
        let pod = spec(&[("cpu", "1")], &[("nvidia.com/gpu", "1")]);
        let Placement::Unschedulable(message) = schedule(&pod, &nodes, &HashMap::new()) else { panic!() };
        assert_eq!(
            message,
            "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint {dedicated: infra}. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn tolerations_node_selectors_and_pod_counts() {
        let mut tainted = node("gpu-1", 4);
        tainted.taints = vec![Taint {
            key: "nvidia.com/gpu".into(),
            value: None,
            effect: "NoSchedule".into(),
            ..Default::default()
        }];
        tainted.labels.insert("pool".into(), "gpu".into());
        let mut pod = spec(&[("cpu", "1")], &[]);
        pod.node_selector = Some([("pool".to_string(), "gpu".to_string())].into());
        let Placement::Unschedulable(message) =
            schedule(&pod, std::slice::from_ref(&tainted), &HashMap::new())
        else {
            panic!()
        };
        assert!(
            message
                .starts_with("0/1 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: }."),
            "{message}"
        );
        pod.tolerations = Some(vec![Toleration {
            key: Some("nvidia.com/gpu".into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }]);
        assert_eq!(
            schedule(&pod, std::slice::from_ref(&tainted), &HashMap::new()),
            Placement::Node("gpu-1".into())
        );
        let plain = node("cpu-1", 0);
        let Placement::Unschedulable(message) = schedule(&pod, &[plain], &HashMap::new()) else { panic!() };
        assert_eq!(
            message,
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
        let mut full = node("full", 0);
        full.pod_count = 110;
        let Placement::Unschedulable(message) = schedule(&spec(&[], &[]), &[full], &HashMap::new()) else {
            panic!()
        };
        assert!(message.starts_with("0/1 nodes are available: 1 Too many pods."), "{message}");
    }
}
