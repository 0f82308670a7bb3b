//! The simulated nodes: `node-1` … `node-N`, each with 16 CPU, 64Gi memory, 110 pods and the
//! given number of `nvidia.com/gpu`, Ready, as a kubelet would register them.

use serde_json::json;

use super::clock::now_rfc3339;
use super::errors::ApiError;
use super::resources::NODES;
use super::store::Store;

/// Register `count` nodes with `gpus` GPUs each.
///
/// # Errors
/// When the store refuses a node (a name already taken).
pub fn create(store: &Store, count: u32, gpus: u32) -> Result<(), ApiError> {
    let now = now_rfc3339();
    for i in 1..=count {
        let name = format!("node-{i}");
        let mut capacity =
            json!({"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"});
        if gpus > 0 {
            capacity["nvidia.com/gpu"] = json!(gpus.to_string());
        }
        let condition = |kind: &str, status: &str, reason: &str, message: &str| {
            json!({"type": kind, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": now})
        };
        let node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node.kubernetes.io/instance-type": "playground",
                },
            },
            "spec": {"podCIDR": format!("10.244.{i}.0/24"), "podCIDRs": [format!("10.244.{i}.0/24")]},
            "status": {
                "capacity": capacity,
                "allocatable": capacity,
                "conditions": [
                    condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                "addresses": [
                    {"type": "InternalIP", "address": format!("172.18.0.{}", i + 1)},
                    {"type": "Hostname", "address": name},
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.33.0-playground",
                    "kubeProxyVersion": "",
                    "osImage": "modelroll playground",
                    "kernelVersion": "6.1.0",
                    "containerRuntimeVersion": "playground://1.0",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                    "machineID": "", "systemUUID": "", "bootID": "",
                },
            },
        });
        store.create(&NODES, node)?;
    }
    Ok(())
}
