//! The simulated cluster's controllers: Deployment, ReplicaSet, scheduler, kubelet,
//! EndpointSlice, garbage collector and Knative Serving, acting on the playground's store.

pub mod deployment;
pub mod endpointslice;
pub mod knative;
pub mod kubelet;
pub mod quantity;
pub mod replicaset;
pub mod scheduler;

/// `Normal` or `Warning`, as on a core/v1 Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    /// The Event's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An Event a controller records about the object it is reconciling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerEvent {
    pub type_: EventType,
    pub reason: String,
    pub message: String,
}

/// Start every controller on the store; they run until the returned set is aborted or dropped.
///
/// Hook called by `Playground::start` (pg-api), inside the playground's tokio runtime, when
/// `config.controllers` is true; `Playground::stop` aborts the set. Contract with the store
/// (`src/playground/store.rs`):
/// - read and write in-process: `store.subscribe()` for live events (catch up with
///   `store.events_since(rv)` after `Lagged`), `store.list`/`get`, `store.create`,
///   `store.modify`/`modify_status` (read-modify-write that retries on conflict), `store.delete`;
///   writes get the same defaulting and validation as HTTP writes;
/// - a Knative-webhook-like check registers with `store.add_admission_hook`;
/// - deletion: the store sets `deletionTimestamp` and the `foregroundDeletion`/`orphan`
///   finalizers for those propagation policies; the garbage collector acts on them and on
///   dependents whose owner is gone. A scheduled pod deleted with a grace period stays (with
///   `deletionTimestamp`) until the kubelet deletes it with `grace_period_seconds: Some(0)`.
pub fn start(store: &super::Store, config: &super::PlaygroundConfig) -> tokio::task::JoinSet<()> {
    let _ = (store, config);
    tokio::task::JoinSet::new()
}
