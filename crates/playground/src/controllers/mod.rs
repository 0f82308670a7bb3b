//! The simulated cluster's controllers: Deployment, ReplicaSet, scheduler, kubelet,
//! EndpointSlice, garbage collector and Knative Serving, acting on the playground's store.
//!
//! The decisions live in pure modules (`deployment`, `replicaset`, `scheduler`, `kubelet`,
//! `endpointslice`, `knative`; quantities come from `kube_units::quantity`), tested on their own; `manager` runs them as one
//! event-driven task over the store (`cache`, `workers`, `gc`, `serving`).
//!
//! Contract with the API server (`src/playground/store.rs`): `start` is called once by
//! `Playground::start`; the controllers read the store's watch events and write through
//! `Store` calls, with the same defaulting, validation and admission as HTTP writes.

pub mod cache;
pub mod deployment;
pub mod endpointslice;
mod gc;
pub mod knative;
pub mod kubelet;
pub mod manager;
pub mod replicaset;
pub mod scheduler;
mod serving;
mod workers;

use super::{PlaygroundConfig, Store};

/// Start every controller on the store; they run until the returned set is aborted or dropped.
/// Called by `Playground::start` inside the playground's tokio runtime when
/// `config.controllers` is true; `Playground::stop` aborts the set. Also registers Knative's
/// validating webhook as an admission hook.
pub fn start(store: &Store, config: &PlaygroundConfig) -> tokio::task::JoinSet<()> {
    serving::register_webhook(store);
    let manager = manager::Manager::new(store.clone(), kubelet::KubeletTiming::new(config.ready_after));
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(manager.run());
    tasks
}

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
