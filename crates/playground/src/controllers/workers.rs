//! The reconciles that act on the store: Deployment and ReplicaSet controllers, scheduler,
//! kubelet and EndpointSlice controller. Each reads the [`Cache`](super::cache::Cache), asks the
//! pure module what to do, and writes with resourceVersion preconditions (a conflict requeues).
//!
//! One module per controller: `workloads` (Deployment, ReplicaSet, and the adoption of what
//! their selectors match), `pods` (scheduler, kubelet), `endpoints` (EndpointSlice).

mod endpoints;
mod pods;
mod workloads;

use serde_json::{json, Value};

use crate::errors::ApiError;

fn is_conflict(err: &ApiError) -> bool {
    err.code == 409
}

fn with_annotations(raw: &Value, annotations: &Option<std::collections::BTreeMap<String, String>>) -> Value {
    let mut object = raw.clone();
    match annotations {
        Some(a) if !a.is_empty() => object["metadata"]["annotations"] = json!(a),
        _ => {
            if let Some(meta) = object["metadata"].as_object_mut() {
                meta.remove("annotations");
            }
        }
    }
    object
}
