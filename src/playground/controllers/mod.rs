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
