//! The in-memory object store behind the playground's API server: objects as JSON, one global
//! resourceVersion, create/update/status/delete with the API server's semantics, and a watch log.
//!
//! Two kinds of callers use it:
//! - the HTTP layer (`server.rs`), which maps REST requests onto these calls, and
//! - the simulated controllers (`controllers/`), which call it in-process. Controllers should
//!   prefer [`Store::modify`] / [`Store::modify_status`] (read-modify-write that retries on
//!   conflict by itself) and [`Store::subscribe`] (live events) over HTTP-shaped calls.
//!
//! Every write goes through the same pipeline whoever calls it: defaulting of built-in types,
//! validation (built-in types and CRD schemas), admission hooks, then commit under one lock.
//!
//! This file holds the types, the state and the hooks; the verbs are modules of their own:
//! `read`, `write` (create, update, the read-modify-write of patch and apply), `delete`;
//! `prepare` (what a write does to its object before validation) and `commit` (the changes
//! made under the lock, and the watch log) serve them.

mod commit;
mod delete;
mod prepare;
mod read;
mod write;

pub use read::Page;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::errors::ApiError;
use super::resources::{self, ResourceRef, ResourceType};

/// What happened to an object, as in a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// `ADDED`, `MODIFIED`, `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change in the store. Objects are shared (`Arc`), never copied per subscriber.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub event_type: EventType,
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
    /// The resourceVersion this change produced (for DELETED: the deletion's).
    pub resource_version: u64,
    /// The object after the change (for DELETED: the last state, with the deletion's rv).
    pub object: Arc<Value>,
    /// The object before the change (None for ADDED).
    pub previous: Option<Arc<Value>>,
    /// The object serialized as JSON, made once and shared by every watch that sends it.
    json: std::sync::OnceLock<bytes::Bytes>,
}

impl WatchEvent {
    /// The object as JSON, serialized on first use and shared afterwards.
    pub fn object_json(&self) -> bytes::Bytes {
        self.json.get_or_init(|| serde_json::to_vec(&*self.object).unwrap_or_default().into()).clone()
    }

    /// Whether this event is about `resource` (any version).
    pub fn is_for(&self, resource: &ResourceRef) -> bool {
        self.group == resource.group && self.resource == resource.resource
    }
}

/// A list result: the objects and the resourceVersion the list was taken at.
#[derive(Debug, Clone)]
pub struct ObjectList {
    pub resource_version: u64,
    pub items: Vec<Arc<Value>>,
}

/// Options of a create/update/patch.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: run every check, change nothing, return what would be stored.
    pub dry_run: bool,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    /// `gracePeriodSeconds`; pods default to their `terminationGracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// The object is gone; its last state.
    Now(Value),
    /// The object stays until its finalizers are removed or (pods) the kubelet confirms; it now
    /// carries `deletionTimestamp`.
    Pending(Value),
}

impl Deleted {
    /// The object, either way.
    pub fn object(&self) -> &Value {
        match self {
            Self::Now(v) | Self::Pending(v) => v,
        }
    }
}

/// Create or update, as an admission hook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

/// What an admission hook is asked to judge.
#[derive(Debug)]
pub struct AdmissionRequest<'a> {
    pub resource: &'a ResourceRef,
    pub operation: Operation,
    /// The object as it would be stored (defaulted).
    pub object: &'a Value,
    /// The stored object, on update.
    pub old_object: Option<&'a Value>,
    pub dry_run: bool,
}

/// A validating admission hook, as a webhook would be: consulted on every create and update of
/// the main resource (including patches and apply), after defaulting and schema validation.
/// It may read the store; it must not write to it.
pub type AdmissionHook = Arc<dyn Fn(&Store, &AdmissionRequest<'_>) -> Result<(), ApiError> + Send + Sync>;

/// A mutating admission hook, as a mutating webhook would be: it may change the object of a create
/// or update of the main resource, after defaulting and before schema validation and the
/// validating hooks.
pub type MutatingHook = Arc<dyn Fn(&ResourceRef, Operation, &mut Value) + Send + Sync>;

type Objects = BTreeMap<(String, String), Stored>;

/// An object as the store keeps it. Most kinds keep the parsed object, shared with the watch
/// events and the controllers' caches. Events are kept as their JSON: a cluster has several per
/// pod, nothing in the playground holds them parsed, and a parsed object costs far more than
/// its text (serde_json gives every map a B-tree node of about 600 bytes: an Event is about
/// 4 KB parsed, 0.7 KB as JSON). Reads parse them again: the same object either way.
#[derive(Debug, Clone)]
enum Stored {
    Parsed(Arc<Value>),
    Serialized(bytes::Bytes),
}

impl Stored {
    /// The object as it was committed (`Serialized` keeps what `serde_json` wrote, which it
    /// parses back to an equal value).
    fn object(&self) -> Arc<Value> {
        match self {
            Self::Parsed(object) => object.clone(),
            Self::Serialized(json) => {
                Arc::new(serde_json::from_slice(json).expect("the store parses the JSON it wrote"))
            }
        }
    }

    /// Whether both are the same commit (not merely equal objects).
    fn same_commit(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Parsed(a), Self::Parsed(b)) => Arc::ptr_eq(a, b),
            (Self::Serialized(a), Self::Serialized(b)) => a.as_ptr() == b.as_ptr() && a.len() == b.len(),
            _ => false,
        }
    }
}

/// Whether `ty` is core/v1 Event, which expires (see [`Store::expire_events`]).
fn is_event(ty: &ResourceType) -> bool {
    ty.group.is_empty() && ty.plural == "events"
}

/// Whether the store keeps objects of `ty` serialized (see [`Stored`]).
fn kept_serialized(ty: &ResourceType) -> bool {
    is_event(ty)
}

struct State {
    resource_version: u64,
    types: BTreeMap<(String, String), Arc<ResourceType>>,
    objects: HashMap<(String, String), Objects>,
    log: VecDeque<Arc<WatchEvent>>,
    log_capacity: usize,
    /// Events with a resourceVersion at or below this one may have left the log.
    compacted: u64,
    /// How long an Event outlives its last write (kube-apiserver's `--event-ttl`).
    event_ttl: Duration,
    /// When each Event expires, and the Events in the order they expire (an entry whose Event
    /// was written again since is skipped when its time comes).
    event_expires: HashMap<(String, String), Instant>,
    event_expiry: VecDeque<(Instant, (String, String))>,
}

struct Shared {
    state: Mutex<State>,
    live: broadcast::Sender<Arc<WatchEvent>>,
    admission: RwLock<Vec<(String, AdmissionHook)>>,
    mutating: RwLock<Vec<(String, MutatingHook)>>,
}

/// The store. Cheap to clone; all clones share the same objects.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("resource_version", &self.resource_version()).finish()
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// How long an Event is kept after its last write: kube-apiserver's default `--event-ttl`.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);

/// How many events the watch log keeps (older watches get 410 Gone and re-list, as from a real
/// API server's watch cache). 1024 keeps 2,000 pods with 50 watches under 200 MB (the bench).
pub const DEFAULT_LOG_CAPACITY: usize = 1024;

impl Store {
    /// A store with the built-in types registered and the namespaces a fresh cluster has
    /// (`default`, `kube-system`, `kube-public`, `kube-node-lease`).
    pub fn new() -> Self {
        Self::with_log_capacity(DEFAULT_LOG_CAPACITY)
    }

    /// As [`Store::new`], keeping at most `capacity` events for watches that resume.
    pub fn with_log_capacity(capacity: usize) -> Self {
        let mut types = BTreeMap::new();
        for ty in resources::builtin_types() {
            types.insert((ty.group.clone(), ty.plural.clone()), Arc::new(ty));
        }
        let (live, _) = broadcast::channel(4096);
        let store = Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    resource_version: 0,
                    types,
                    objects: HashMap::new(),
                    log: VecDeque::new(),
                    log_capacity: capacity.max(16),
                    compacted: 0,
                    event_ttl: DEFAULT_EVENT_TTL,
                    event_expires: HashMap::new(),
                    event_expiry: VecDeque::new(),
                }),
                live,
                admission: RwLock::new(Vec::new()),
                mutating: RwLock::new(Vec::new()),
            }),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            store
                .create(&resources::NAMESPACES, json!({"metadata": {"name": ns}}))
                .expect("a fresh store accepts its initial namespaces");
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current (highest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// Every served type (built-in and from CRDs), for discovery.
    pub fn types(&self) -> Vec<Arc<ResourceType>> {
        self.lock().types.values().cloned().collect()
    }

    /// The type behind `resource`, if `resource.version` is served.
    ///
    /// # Errors
    /// 404 `the server could not find the requested resource` otherwise.
    pub fn resource_type(&self, resource: &ResourceRef) -> Result<Arc<ResourceType>, ApiError> {
        let state = self.lock();
        lookup(&state, resource)
    }

    /// The resource for an `apiVersion` + `kind` (e.g. from an ownerReference), in that version.
    pub fn resource_for_kind(&self, api_version: &str, kind: &str) -> Option<ResourceRef> {
        let (group, version) = split_api_version(api_version);
        let state = self.lock();
        state
            .types
            .values()
            .find(|t| t.group == group && t.kind == kind && t.serves(version))
            .map(|t| ResourceRef::new(t.group.clone(), version, t.plural.clone()))
    }

    /// Register a validating admission hook under a name (a second registration under the same
    /// name replaces the first).
    pub fn add_admission_hook(&self, name: &str, hook: AdmissionHook) {
        let mut hooks = self.shared.admission.write().unwrap_or_else(PoisonError::into_inner);
        hooks.retain(|(n, _)| n != name);
        hooks.push((name.to_string(), hook));
    }

    /// Register a mutating admission hook under a name (a second registration under the same
    /// name replaces the first).
    pub fn add_mutating_hook(&self, name: &str, hook: MutatingHook) {
        let mut hooks = self.shared.mutating.write().unwrap_or_else(PoisonError::into_inner);
        hooks.retain(|(n, _)| n != name);
        hooks.push((name.to_string(), hook));
    }

    fn mutate(&self, resource: &ResourceRef, operation: Operation, object: &mut Value) {
        let hooks: Vec<MutatingHook> = self
            .shared
            .mutating
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        for hook in hooks {
            hook(resource, operation, object);
        }
    }

    /// Live events from now on, for every resource. A receiver that falls behind gets
    /// `RecvError::Lagged`; it can catch up with [`Store::events_since`].
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.shared.live.subscribe()
    }

    /// Delete the Events whose time to live has passed at `now`, at most `most` of them (each is
    /// a DELETED watch event with a resourceVersion of its own, as when etcd expires an Event's
    /// lease). Returns how many were deleted: `most` means there may be more.
    ///
    /// Bounded so that the caller can pace a burst (the Events of thousands of pods created
    /// together come due together): the watch log and the live channel are shared by every
    /// kind, and thousands of deletions at once would put every watch, of pods too, past them.
    pub fn expire_events(&self, now: Instant, most: usize) -> usize {
        let mut state = self.lock();
        let Some(ty) = state.types.get(&(String::new(), "events".to_string())).cloned() else { return 0 };
        let mut expired = 0;
        while expired < most {
            let Some((at, _)) = state.event_expiry.front() else { break };
            if *at > now {
                break;
            }
            let Some((at, key)) = state.event_expiry.pop_front() else { break };
            // Written again since: a later entry of the queue holds its time.
            if state.event_expires.get(&key) == Some(&at) {
                commit::remove(&self.shared, &mut state, &ty, &key, None);
                expired += 1;
            }
        }
        expired
    }

    /// Keep Events for `ttl` after their last write instead of [`DEFAULT_EVENT_TTL`] (set it
    /// before the first Event is written: the expiry queue is kept in write order).
    pub fn set_event_ttl(&self, ttl: Duration) {
        self.lock().event_ttl = ttl;
    }

    /// Every logged event after `resource_version`, oldest first.
    ///
    /// # Errors
    /// 410 Gone when events after `resource_version` have already left the log.
    pub fn events_since(&self, resource_version: u64) -> Result<Vec<Arc<WatchEvent>>, ApiError> {
        let state = self.lock();
        if resource_version < state.compacted {
            let oldest = state.log.front().map_or(state.resource_version, |e| e.resource_version);
            return Err(ApiError::gone(resource_version, oldest));
        }
        let start = state.log.partition_point(|e| e.resource_version <= resource_version);
        Ok(state.log.range(start..).cloned().collect())
    }

    fn admit(
        &self,
        resource: &ResourceRef,
        operation: Operation,
        object: &Value,
        old_object: Option<&Value>,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        let hooks: Vec<AdmissionHook> = self
            .shared
            .admission
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        let request = AdmissionRequest { resource, operation, object, old_object, dry_run };
        for hook in hooks {
            hook(self, &request)?;
        }
        Ok(())
    }
}

/// Which part of an object a write targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
}

fn lookup(state: &State, resource: &ResourceRef) -> Result<Arc<ResourceType>, ApiError> {
    state
        .types
        .get(&(resource.group.to_string(), resource.resource.to_string()))
        .filter(|t| t.serves(&resource.version))
        .cloned()
        .ok_or_else(ApiError::no_route)
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The object as a reader of `version` sees it: same object, `apiVersion` of that version.
fn present(object: &Arc<Value>, ty: &ResourceType, version: &str) -> Arc<Value> {
    let api_version = ty.api_version(version);
    if object["apiVersion"].as_str() == Some(api_version.as_str()) {
        object.clone()
    } else {
        let mut copy = (**object).clone();
        copy["apiVersion"] = json!(api_version);
        Arc::new(copy)
    }
}

#[cfg(test)]
pub(crate) mod tests;
