//! The simulated controllers (deployment, replicaset, scheduler, kubelet, endpointslices,
//! garbage collector, Knative). Owned by pg-ctrl; this file is the agreed hook until it lands.
//!
//! Contract with the API server (`src/playground/store.rs`):
//! - `start` is called once by `Playground::start` (inside its tokio runtime) when
//!   `config.controllers` is true; every task goes into the returned `JoinSet`, which
//!   `Playground::stop` aborts.
//! - Controllers read and write through the [`Store`] in-process: `store.subscribe()` for live
//!   events, `store.list`/`get`, `store.create`, `store.modify`/`modify_status` (retry on
//!   conflict by themselves), `store.delete`. Writes get the same defaulting and validation as
//!   HTTP writes.
//! - Admission: a Knative-webhook-like check registers with `store.add_admission_hook`.
//! - Deletion: the store sets `deletionTimestamp` and the `foregroundDeletion`/`orphan`
//!   finalizers; the garbage collector acts on them and on dependents whose owner is gone. A
//!   scheduled pod deleted with a grace period keeps existing (with `deletionTimestamp`) until
//!   the kubelet deletes it with `grace_period_seconds: Some(0)`.

use super::{PlaygroundConfig, Store};

/// Start every controller; they run until the returned set is aborted or dropped.
pub fn start(store: &Store, config: &PlaygroundConfig) -> tokio::task::JoinSet<()> {
    let _ = (store, config);
    tokio::task::JoinSet::new()
}
