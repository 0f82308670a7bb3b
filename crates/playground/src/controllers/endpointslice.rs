//! The EndpointSlice controller's decisions: one `discovery.k8s.io/v1` slice per Service with a
//! selector, listing the pods it selects that have an IP, with ready/serving/terminating.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::deployment::controller_ref;
use super::replicaset::is_pod_ready;

/// Label naming the Service a slice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY_LABEL`].
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// `--max-endpoints-per-slice` default of kube-controller-manager.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// Whether a Service gets managed slices: it has a selector and is not ExternalName.
pub fn service_selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref().filter(|s| !s.is_empty())
}

/// Whether a Service's selector selects a pod.
pub fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// `ShouldPodBeInEndpoints(pod, includeTerminating=true)`: not terminal, and has an IP.
fn in_endpoints(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded") | Some("Failed")) {
        return false;
    }
    status.and_then(|s| s.pod_ip.as_deref()).is_some_and(|ip| !ip.is_empty())
}

fn resolve_target_port(target: Option<&IntOrString>, port: i32, pod: &Pod) -> Option<i32> {
    match target {
        None => Some(port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
    }
}

/// The endpoints and ports a Service's slice should list, given the pods in its namespace that
/// its selector selects (any order).
pub fn desired_endpoints(service: &Service, pods: &[&Pod]) -> (Vec<Endpoint>, Vec<EndpointPort>) {
    let spec = service.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let service_ports = spec.ports.unwrap_or_default();
    let mut pods: Vec<&Pod> = pods.iter().copied().filter(|p| in_endpoints(p)).collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut ports: Option<Vec<EndpointPort>> = None;
    let mut endpoints = Vec::new();
    for pod in pods {
        let resolved: Option<Vec<EndpointPort>> = service_ports
            .iter()
            .map(|p| {
                resolve_target_port(p.target_port.as_ref(), p.port, pod).map(|port| EndpointPort {
                    name: Some(p.name.clone().unwrap_or_default()),
                    port: Some(port),
                    protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: p.app_protocol.clone(),
                })
            })
            .collect();
        // Pods whose named ports resolve differently would go to another slice; we keep one.
        let Some(resolved) = resolved else { continue };
        if ports.as_ref().is_some_and(|p| *p != resolved) {
            continue;
        }
        ports.get_or_insert(resolved);
        let serving = is_pod_ready(pod);
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let ready = publish_not_ready || (serving && !terminating);
        let status = pod.status.clone().unwrap_or_default();
        let addresses = match status.pod_ips.filter(|ips| !ips.is_empty()) {
            Some(ips) => ips.into_iter().map(|ip| ip.ip).filter(|ip| !ip.contains(':')).take(1).collect(),
            None => status.pod_ip.into_iter().collect(),
        };
        endpoints.push(Endpoint {
            addresses,
            conditions: Some(EndpointConditions {
                ready: Some(ready),
                serving: Some(serving),
                terminating: Some(terminating),
            }),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                namespace: pod.metadata.namespace.clone(),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let ports = ports.unwrap_or_else(|| {
        if endpoints.is_empty() {
            Vec::new()
        } else {
            service_ports
                .iter()
                .map(|p| EndpointPort {
                    name: p.name.clone(),
                    port: Some(p.port),
                    protocol: p.protocol.clone(),
                    app_protocol: None,
                })
                .collect()
        }
    });
    (endpoints, ports)
}

/// A new slice for a Service (the store gives it a name from `generateName`).
pub fn new_slice(service: &Service, endpoints: Vec<Endpoint>, ports: Vec<EndpointPort>) -> EndpointSlice {
    let name = service.metadata.name.clone().unwrap_or_default();
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.insert(SERVICE_NAME_LABEL.into(), name.clone());
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![controller_ref("v1", "Service", &service.metadata)]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints,
        ports: Some(ports).filter(|p| !p.is_empty()),
    }
}

/// How to bring a Service's slices to the desired endpoints, touching as few as possible:
/// endpoints stay in the slice they are in, new ones fill slices with room, then new slices.
#[derive(Debug, Default, PartialEq)]
pub struct SlicePlan<K> {
    /// Existing slices whose endpoints or ports change, with their new endpoints.
    pub update: Vec<(K, Vec<Endpoint>)>,
    /// New slices to create, by their endpoints.
    pub create: Vec<Vec<Endpoint>>,
    /// Existing slices left empty (one empty slice is kept when there are no endpoints).
    pub delete: Vec<K>,
}

fn endpoint_id(endpoint: &Endpoint) -> Option<&str> {
    endpoint.target_ref.as_ref()?.name.as_deref()
}

/// Plan the slices of one Service. `existing` are its managed slices (any order).
pub fn plan_slices<K: Clone>(
    existing: &[(K, &EndpointSlice)],
    desired: Vec<Endpoint>,
    ports: &[EndpointPort],
) -> SlicePlan<K> {
    let ports_value = Some(ports.to_vec()).filter(|p| !p.is_empty());
    let mut wanted: BTreeMap<String, Endpoint> =
        desired.into_iter().filter_map(|e| endpoint_id(&e).map(str::to_string).map(|id| (id, e))).collect();
    let mut plan = SlicePlan { update: Vec::new(), create: Vec::new(), delete: Vec::new() };
    let mut kept: Vec<(K, Vec<Endpoint>, bool)> = Vec::new();
    for (key, slice) in existing {
        let mut endpoints = Vec::new();
        let mut changed = slice.ports != ports_value;
        for endpoint in &slice.endpoints {
            match endpoint_id(endpoint).and_then(|id| wanted.remove(id)) {
                Some(new) if endpoints.len() < MAX_ENDPOINTS_PER_SLICE => {
                    changed |= &new != endpoint;
                    endpoints.push(new);
                }
                Some(new) => {
                    // Over the limit (slices written by an older setting): move it elsewhere.
                    changed = true;
                    wanted.insert(endpoint_id(&new).unwrap_or("").to_string(), new);
                }
                None => changed = true,
            }
        }
        kept.push((key.clone(), endpoints, changed));
    }
    // Newest last, taken from the back: in name order.
    let mut fresh: Vec<Endpoint> = wanted.into_values().rev().collect();
    for (_, endpoints, changed) in &mut kept {
        while endpoints.len() < MAX_ENDPOINTS_PER_SLICE {
            let Some(endpoint) = fresh.pop() else { break };
            endpoints.push(endpoint);
            *changed = true;
        }
    }
    fresh.reverse();
    for chunk in fresh.chunks(MAX_ENDPOINTS_PER_SLICE) {
        plan.create.push(chunk.to_vec());
    }
    let total: usize =
        kept.iter().map(|(_, e, _)| e.len()).sum::<usize>() + plan.create.iter().map(Vec::len).sum::<usize>();
    let mut kept_empty_placeholder = total > 0;
    for (key, endpoints, changed) in kept {
        if endpoints.is_empty() {
            if !kept_empty_placeholder {
                kept_empty_placeholder = true;
                if changed {
                    plan.update.push((key, endpoints));
                }
                continue;
            }
            plan.delete.push(key);
        } else if changed {
            plan.update.push((key, endpoints));
        }
    }
    if existing.is_empty() && total == 0 {
        plan.create.push(Vec::new());
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodSpec, PodStatus, ServicePort, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn service() -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("ns".into()),
                uid: Some("svc-uid".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some([("app".to_string(), "web".to_string())].into()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    target_port: Some(IntOrString::String("http".into())),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn pod(name: &str, ip: Option<&str>, ready: bool, deleting: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                labels: Some([("app".to_string(), "web".to_string())].into()),
                deletion_timestamp: deleting.then_some(Time(jiff::Timestamp::UNIX_EPOCH)),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-1".into()),
                containers: vec![Container {
                    name: "model".into(),
                    ports: Some(vec![ContainerPort {
                        name: Some("http".into()),
                        container_port: 8080,
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: ip.map(String::from),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn lists_pods_with_ips_and_their_conditions() {
        let pods = [
            pod("c", Some("10.0.0.3"), true, true),
            pod("a", Some("10.0.0.1"), true, false),
            pod("b", Some("10.0.0.2"), false, false),
            pod("d", None, false, false),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let (endpoints, ports) = desired_endpoints(&service(), &refs);
        assert_eq!(
            ports,
            vec![EndpointPort {
                name: Some("http".into()),
                port: Some(8080),
                protocol: Some("TCP".into()),
                app_protocol: None
            }]
        );
        let summary: Vec<(String, bool, bool, bool)> = endpoints
            .iter()
            .map(|e| {
                let c = e.conditions.clone().unwrap();
                (e.addresses[0].clone(), c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("10.0.0.1".into(), true, true, false),
                ("10.0.0.2".into(), false, false, false),
                ("10.0.0.3".into(), false, true, true)
            ]
        );
        let slice = new_slice(&service(), endpoints, ports);
        assert_eq!(slice.metadata.labels.as_ref().unwrap()[SERVICE_NAME_LABEL], "web");
        assert_eq!(slice.metadata.owner_references.as_ref().unwrap()[0].kind, "Service");
    }

    fn endpoint(name: &str, ready: bool) -> Endpoint {
        Endpoint {
            addresses: vec![format!("10.0.0.{}", name.len())],
            conditions: Some(EndpointConditions {
                ready: Some(ready),
                serving: Some(ready),
                terminating: Some(false),
            }),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some(name.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn slice_of(endpoints: Vec<Endpoint>, ports: &[EndpointPort]) -> EndpointSlice {
        EndpointSlice {
            endpoints,
            ports: Some(ports.to_vec()).filter(|p| !p.is_empty()),
            ..new_slice(&service(), vec![], vec![])
        }
    }

    #[test]
    fn slices_hold_at_most_100_endpoints_and_only_changed_ones_are_written() {
        let ports = vec![EndpointPort { port: Some(8080), ..Default::default() }];
        let desired: Vec<Endpoint> = (0..250).map(|i| endpoint(&format!("p{i:03}"), true)).collect();
        let plan = plan_slices::<usize>(&[], desired.clone(), &ports);
        assert_eq!(plan.create.iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 100, 50]);

        let slices: Vec<EndpointSlice> = plan.create.iter().map(|e| slice_of(e.clone(), &ports)).collect();
        let existing: Vec<(usize, &EndpointSlice)> = slices.iter().enumerate().collect();
        // One pod turns unready, one goes away, one comes: only the slices concerned change.
        let mut next = desired.clone();
        next[5] = endpoint("p005", false);
        next.retain(|e| endpoint_id(e) != Some("p150"));
        next.push(endpoint("p900", true));
        let plan = plan_slices(&existing, next, &ports);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        let updated: Vec<usize> = plan.update.iter().map(|(k, _)| *k).collect();
        assert_eq!(updated, vec![0, 1], "the first slice (p005) and the second (lost p150, gained room)");
        assert_eq!(plan.update[1].1.len(), 100);
        let plan = plan_slices(&existing, desired, &ports);
        assert_eq!(plan, SlicePlan::default(), "nothing changed, nothing written");
        // All pods gone: one empty slice stays.
        let plan = plan_slices(&existing, vec![], &ports);
        assert_eq!(plan.delete, vec![1, 2]);
        assert_eq!(plan.update.len(), 1);
    }
}
