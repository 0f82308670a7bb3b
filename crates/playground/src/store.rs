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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::clock::{now_rfc3339, random_suffix, rfc3339};
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

type Objects = BTreeMap<(String, String), Arc<Value>>;

struct State {
    resource_version: u64,
    types: BTreeMap<(String, String), Arc<ResourceType>>,
    objects: HashMap<(String, String), Objects>,
    log: VecDeque<Arc<WatchEvent>>,
    log_capacity: usize,
    /// Events with a resourceVersion at or below this one may have left the log.
    compacted: u64,
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

    /// One object, with `apiVersion` of the requested version.
    ///
    /// # Errors
    /// 404 when the resource or the object does not exist.
    pub fn get(&self, resource: &ResourceRef, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.get_shared(resource, namespace, name).map(Arc::unwrap_or_clone)
    }

    /// As [`Store::get`], without copying the object when the version matches.
    ///
    /// # Errors
    /// 404 when the resource or the object does not exist.
    pub fn get_shared(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let state = self.lock();
        let ty = lookup(&state, resource)?;
        let namespace = if ty.namespaced { namespace } else { "" };
        state
            .objects
            .get(&(ty.group.clone(), ty.plural.clone()))
            .and_then(|objects| objects.get(&(namespace.to_string(), name.to_string())))
            .map(|obj| present(obj, &ty, &resource.version))
            .ok_or_else(|| ApiError::not_found(&ty.group, &ty.plural, name))
    }

    /// Every object of a resource in a namespace (`""`: all namespaces, or cluster-scoped),
    /// sorted by namespace and name, and the resourceVersion of the list.
    ///
    /// # Errors
    /// 404 when the resource does not exist.
    pub fn list(&self, resource: &ResourceRef, namespace: &str) -> Result<ObjectList, ApiError> {
        self.list_matching(resource, namespace, |_| true)
    }

    /// As [`Store::list`], keeping only objects for which `keep` is true.
    ///
    /// # Errors
    /// 404 when the resource does not exist.
    pub fn list_matching(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        mut keep: impl FnMut(&Value) -> bool,
    ) -> Result<ObjectList, ApiError> {
        let state = self.lock();
        let ty = lookup(&state, resource)?;
        let mut items = Vec::new();
        if let Some(objects) = state.objects.get(&(ty.group.clone(), ty.plural.clone())) {
            let namespaced = ty.namespaced && !namespace.is_empty();
            let iter: Box<dyn Iterator<Item = &Arc<Value>>> = if namespaced {
                let start = (namespace.to_string(), String::new());
                Box::new(objects.range(start..).take_while(|((ns, _), _)| ns == namespace).map(|(_, v)| v))
            } else {
                Box::new(objects.values())
            };
            for obj in iter {
                if keep(obj) {
                    items.push(present(obj, &ty, &resource.version));
                }
            }
        }
        Ok(ObjectList { resource_version: state.resource_version, items })
    }

    /// Create an object. `metadata.namespace` names the namespace of a namespaced resource;
    /// `metadata.generateName` is honoured. Sets uid, creationTimestamp, resourceVersion and
    /// (for types that keep it) generation 1.
    ///
    /// # Errors
    /// 409 AlreadyExists, 404 when the namespace does not exist, 422 Invalid, 400 for an object
    /// of the wrong kind, or whatever an admission hook answers.
    pub fn create(&self, resource: &ResourceRef, object: Value) -> Result<Value, ApiError> {
        self.create_with(resource, object, &WriteOptions::default())
    }

    /// [`Store::create`] with options (dry run).
    ///
    /// # Errors
    /// As [`Store::create`].
    pub fn create_with(
        &self,
        resource: &ResourceRef,
        mut object: Value,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let ty = self.resource_type(resource)?;
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        prepare_new(&ty, resource, &namespace, &mut object)?;
        // Types with a status subresource start without status (the registry's PrepareForCreate);
        // nodes report theirs at registration.
        let keeps_status = ty.group.is_empty() && matches!(ty.plural.as_str(), "nodes" | "namespaces");
        if ty.status && !keeps_status {
            if let Some(map) = object.as_object_mut() {
                map.remove("status");
            }
        }
        super::defaults::apply(&ty, &mut object);
        self.mutate(resource, Operation::Create, &mut object);
        super::validation::validate(&ty, &resource.version, &mut object, None)?;
        self.admit(resource, Operation::Create, &object, None, options.dry_run)?;
        let mut state = self.lock();
        let ty = lookup(&state, resource)?;
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        if ty.namespaced {
            let ns_key = (String::new(), "namespaces".to_string());
            let ns = state.objects.get(&ns_key).and_then(|o| o.get(&(String::new(), namespace.clone())));
            match ns {
                None => return Err(ApiError::not_found("", "namespaces", &namespace)),
                Some(ns) if !ns["metadata"]["deletionTimestamp"].is_null() => {
                    let name = object["metadata"]["name"].as_str().unwrap_or("");
                    return Err(ApiError::forbidden(
                        &ty.group,
                        &ty.plural,
                        name,
                        &format!("unable to create new content in namespace {namespace} because it is being terminated"),
                    ));
                }
                Some(_) => {}
            }
        }
        let name = object["metadata"]["name"].as_str().unwrap_or("").to_string();
        let key = (namespace.clone(), name.clone());
        let exists =
            state.objects.get(&(ty.group.clone(), ty.plural.clone())).is_some_and(|o| o.contains_key(&key));
        if exists {
            return Err(ApiError::already_exists(&ty.group, &ty.plural, &name));
        }
        let meta = object["metadata"].as_object_mut().expect("prepare_new made metadata an object");
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        if ty.generation {
            meta.insert("generation".into(), json!(1));
        }
        if ty.group == "apiextensions.k8s.io" {
            super::crds::set_accepted_status(&mut object);
        }
        if options.dry_run {
            return Ok(Arc::unwrap_or_clone(present(&Arc::new(object), &ty, &resource.version)));
        }
        if ty.group == "apiextensions.k8s.io" && ty.plural == "customresourcedefinitions" {
            register_crd(&mut state, &object)?;
        }
        let stored = commit(&self.shared, &mut state, &ty, key, Some(object), EventType::Added);
        Ok(Arc::unwrap_or_clone(present(&stored, &ty, &resource.version)))
    }

    /// Replace an object (PUT). When the object carries `metadata.resourceVersion` it must be
    /// the stored one. On types with a status subresource, status changes are ignored here.
    ///
    /// # Errors
    /// 404, 409 Conflict on a stale resourceVersion, 422 Invalid, 400 for a name mismatch.
    pub fn update(&self, resource: &ResourceRef, object: Value) -> Result<Value, ApiError> {
        self.update_with(resource, object, &WriteOptions::default())
    }

    /// [`Store::update`] with options (dry run).
    ///
    /// # Errors
    /// As [`Store::update`].
    pub fn update_with(
        &self,
        resource: &ResourceRef,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.put(resource, object, Subresource::Main, options)
    }

    /// Replace only `status` (PUT on `/status`); everything else is kept as stored.
    ///
    /// # Errors
    /// As [`Store::update`]; 404 when the type has no status subresource.
    pub fn update_status(&self, resource: &ResourceRef, object: Value) -> Result<Value, ApiError> {
        self.update_status_with(resource, object, &WriteOptions::default())
    }

    /// [`Store::update_status`] with options (dry run).
    ///
    /// # Errors
    /// As [`Store::update_status`].
    pub fn update_status_with(
        &self,
        resource: &ResourceRef,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.put(resource, object, Subresource::Status, options)
    }

    fn put(
        &self,
        resource: &ResourceRef,
        object: Value,
        subresource: Subresource,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let name = object["metadata"]["name"].as_str().unwrap_or("").to_string();
        if name.is_empty() {
            let ty = self.resource_type(resource)?;
            return Err(ApiError::invalid(
                &ty.group,
                &ty.kind,
                "",
                &[super::errors::InvalidField::required("metadata.name", "name or generateName is required")],
            ));
        }
        let precondition = match object["metadata"]["resourceVersion"].as_str() {
            Some(rv) if !rv.is_empty() => Some(rv.to_string()),
            _ => None,
        };
        // Custom resources allow no unconditional update.
        let ty = self.resource_type(resource)?;
        if ty.is_custom() && precondition.is_none() {
            return Err(ApiError::invalid(
                &ty.group,
                &ty.kind,
                &name,
                &[super::errors::InvalidField::invalid(
                    "metadata.resourceVersion",
                    "0x0",
                    "must be specified for an update",
                )],
            ));
        }
        let mut object = Some(object);
        self.guaranteed_update(
            resource,
            &namespace,
            &name,
            subresource,
            options,
            precondition.as_deref(),
            false,
            &mut |_| object.take().ok_or_else(|| ApiError::internal("update retried without an object")),
        )
    }

    /// Read-modify-write with retries: `change` edits the current object; the result is
    /// written as an update (status changes ignored on types with a status subresource). When
    /// nothing changed, nothing is written and the stored object is returned.
    ///
    /// # Errors
    /// 404, 422 Invalid, or an admission refusal.
    pub fn modify(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
        mut change: impl FnMut(&mut Value),
    ) -> Result<Value, ApiError> {
        self.guaranteed_update(
            resource,
            namespace,
            name,
            Subresource::Main,
            &WriteOptions::default(),
            None,
            false,
            &mut |current| {
                let mut object = current.cloned().unwrap_or(Value::Null);
                change(&mut object);
                Ok(object)
            },
        )
    }

    /// As [`Store::modify`] for the status subresource: only `status` changes are kept.
    ///
    /// # Errors
    /// 404, 422 Invalid.
    pub fn modify_status(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
        mut change: impl FnMut(&mut Value),
    ) -> Result<Value, ApiError> {
        self.guaranteed_update(
            resource,
            namespace,
            name,
            Subresource::Status,
            &WriteOptions::default(),
            None,
            false,
            &mut |current| {
                let mut object = current.cloned().unwrap_or(Value::Null);
                change(&mut object);
                Ok(object)
            },
        )
    }

    /// The general write behind update, patch and apply: read the current object, let
    /// `compute` produce the new one (from `None` when absent and `create_if_missing`), run
    /// defaulting, validation and admission, and commit if nothing changed in between (else
    /// retry, or 409 when `precondition` names a resourceVersion).
    ///
    /// # Errors
    /// 404 when absent (and not creating), 409 on a failed precondition, 422, admission errors,
    /// and whatever `compute` returns.
    #[allow(clippy::too_many_arguments)]
    pub fn guaranteed_update(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
        subresource: Subresource,
        options: &WriteOptions,
        precondition: Option<&str>,
        create_if_missing: bool,
        compute: &mut dyn FnMut(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        loop {
            let ty = self.resource_type(resource)?;
            let namespace = if ty.namespaced { namespace } else { "" };
            let key = (namespace.to_string(), name.to_string());
            let current = {
                let state = self.lock();
                state.objects.get(&(ty.group.clone(), ty.plural.clone())).and_then(|o| o.get(&key)).cloned()
            };
            let Some(current) = current else {
                if create_if_missing && subresource == Subresource::Main {
                    let mut object = compute(None)?;
                    if object["metadata"]["name"].as_str().unwrap_or("").is_empty() {
                        object["metadata"]["name"] = json!(name);
                    }
                    if ty.namespaced && object["metadata"]["namespace"].as_str().unwrap_or("").is_empty() {
                        object["metadata"]["namespace"] = json!(namespace);
                    }
                    check_identity(&ty, &object, namespace, name)?;
                    match self.create_with(resource, object, options) {
                        Err(e) if e.reason == "AlreadyExists" => continue,
                        other => return other,
                    }
                }
                return Err(ApiError::not_found(&ty.group, &ty.plural, name));
            };
            let current_rv = current["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string();
            if let Some(rv) = precondition {
                if rv != current_rv {
                    return Err(ApiError::conflict(&ty.group, &ty.plural, name));
                }
            }
            let presented = present(&current, &ty, &resource.version);
            let mut object = compute(Some(&presented))?;
            check_identity(&ty, &object, namespace, name)?;
            if let Some(rv) = object["metadata"]["resourceVersion"].as_str() {
                if !rv.is_empty() && rv != current_rv {
                    return Err(ApiError::conflict(&ty.group, &ty.plural, name));
                }
            }
            prepare_update(&ty, resource, &current, &mut object, subresource)?;
            if subresource == Subresource::Main {
                super::defaults::apply(&ty, &mut object);
                self.mutate(resource, Operation::Update, &mut object);
            }
            super::validation::validate(&ty, &resource.version, &mut object, Some(&current))?;
            if subresource == Subresource::Main {
                self.admit(resource, Operation::Update, &object, Some(&current), options.dry_run)?;
            }
            let changed = if ty.status {
                strip_meta_status(&object) != strip_meta_status(&current)
            } else {
                strip_meta(&object) != strip_meta(&current)
            };
            if ty.generation && changed {
                let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                object["metadata"]["generation"] = json!(generation);
            }
            let finalizing = !object["metadata"]["deletionTimestamp"].is_null()
                && object["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty());
            // A no-op update writes nothing and keeps the resourceVersion, as etcd3 storage does.
            if object == *current && !finalizing {
                return Ok(Arc::unwrap_or_clone(present(&current, &ty, &resource.version)));
            }
            if options.dry_run {
                return Ok(Arc::unwrap_or_clone(present(&Arc::new(object), &ty, &resource.version)));
            }
            let mut state = self.lock();
            let ty = lookup(&state, resource)?;
            let still =
                state.objects.get(&(ty.group.clone(), ty.plural.clone())).and_then(|o| o.get(&key)).cloned();
            match still {
                Some(still) if Arc::ptr_eq(&still, &current) => {}
                _ if precondition.is_some() => return Err(ApiError::conflict(&ty.group, &ty.plural, name)),
                _ => continue,
            }
            if ty.group == "apiextensions.k8s.io" && ty.plural == "customresourcedefinitions" {
                register_crd(&mut state, &object)?;
            }
            if finalizing {
                let removed = remove(&self.shared, &mut state, &ty, &key, Some(object));
                return Ok(Arc::unwrap_or_clone(present(&removed, &ty, &resource.version)));
            }
            let stored = commit(&self.shared, &mut state, &ty, key, Some(object), EventType::Modified);
            return Ok(Arc::unwrap_or_clone(present(&stored, &ty, &resource.version)));
        }
    }

    /// Delete an object. Objects with finalizers (and, with `Foreground`/`Orphan`
    /// propagation, the finalizer that policy adds) get `deletionTimestamp` and stay until their
    /// finalizers are removed; a scheduled pod with a grace period stays until the kubelet
    /// deletes it with grace period 0. Deleting a namespace deletes everything in it.
    ///
    /// Garbage collection of dependents (ownerReferences) is the controllers' job: they act on
    /// the `foregroundDeletion` / `orphan` finalizers and on owners that are gone.
    ///
    /// # Errors
    /// 404, 409 on a failed precondition.
    pub fn delete(
        &self,
        resource: &ResourceRef,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        {
            let ty = self.resource_type(resource)?;
            let namespace = if ty.namespaced { namespace } else { "" };
            let key = (namespace.to_string(), name.to_string());
            let mut state = self.lock();
            let Some(current) =
                state.objects.get(&(ty.group.clone(), ty.plural.clone())).and_then(|o| o.get(&key)).cloned()
            else {
                return Err(ApiError::not_found(&ty.group, &ty.plural, name));
            };
            let meta = &current["metadata"];
            if let Some(uid) = &options.precondition_uid {
                if meta["uid"].as_str() != Some(uid) {
                    return Err(ApiError::conflict_because(
                        &ty.group,
                        &ty.plural,
                        name,
                        &format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                            meta["uid"].as_str().unwrap_or("")
                        ),
                    ));
                }
            }
            if let Some(rv) = &options.precondition_resource_version {
                if meta["resourceVersion"].as_str() != Some(rv) {
                    return Err(ApiError::conflict_because(
                        &ty.group,
                        &ty.plural,
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                            meta["resourceVersion"].as_str().unwrap_or("")
                        ),
                    ));
                }
            }
            let mut object = (*current).clone();
            let mut finalizers: Vec<String> = object["metadata"]["finalizers"]
                .as_array()
                .map(|f| f.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let policy_finalizer = match options.propagation {
                Some(Propagation::Foreground) => Some("foregroundDeletion"),
                Some(Propagation::Orphan) => Some("orphan"),
                _ => None,
            };
            if let Some(f) = policy_finalizer {
                // Foreground only matters when something could depend on the object; the real
                // API server adds it regardless and lets the GC remove it.
                if !finalizers.iter().any(|x| x == f) {
                    finalizers.push(f.to_string());
                }
            }
            if options.propagation == Some(Propagation::Background) {
                finalizers.retain(|f| f != "foregroundDeletion" && f != "orphan");
            }
            let grace = if ty.group.is_empty() && ty.plural == "pods" {
                let spec_grace = object["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
                let scheduled = object["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
                let terminal = matches!(object["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
                if scheduled && !terminal {
                    options.grace_period_seconds.unwrap_or(spec_grace).max(0)
                } else {
                    0
                }
            } else {
                0
            };
            if finalizers.is_empty() && grace == 0 {
                if options.dry_run {
                    return Ok(Deleted::Now(Arc::unwrap_or_clone(present(&current, &ty, &resource.version))));
                }
                if ty.group.is_empty() && ty.plural == "namespaces" {
                    delete_namespace_contents(&self.shared, &mut state, name);
                }
                if ty.group == "apiextensions.k8s.io" && ty.plural == "customresourcedefinitions" {
                    unregister_crd(&self.shared, &mut state, &current);
                }
                let removed = remove(&self.shared, &mut state, &ty, &key, None);
                return Ok(Deleted::Now(Arc::unwrap_or_clone(present(&removed, &ty, &resource.version))));
            }
            let meta = object["metadata"].as_object_mut().expect("stored objects have metadata");
            if meta.get("deletionTimestamp").is_none_or(Value::is_null) {
                let at = if grace > 0 {
                    jiff::Timestamp::now()
                        .checked_add(jiff::SignedDuration::from_secs(grace))
                        .unwrap_or_else(|_| jiff::Timestamp::now())
                } else {
                    jiff::Timestamp::now()
                };
                meta.insert("deletionTimestamp".into(), json!(rfc3339(at)));
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            } else if grace > 0 {
                // A second delete may shorten the grace period, never lengthen it.
                let old = meta.get("deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(grace);
                if grace < old {
                    meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
                }
            }
            if finalizers.is_empty() {
                meta.remove("finalizers");
            } else {
                meta.insert("finalizers".into(), json!(finalizers));
            }
            if ty.group.is_empty() && ty.plural == "namespaces" {
                object["status"]["phase"] = json!("Terminating");
            }
            if object == *current {
                return Ok(Deleted::Pending(Arc::unwrap_or_clone(present(&current, &ty, &resource.version))));
            }
            if options.dry_run {
                return Ok(Deleted::Pending(Arc::unwrap_or_clone(present(
                    &Arc::new(object),
                    &ty,
                    &resource.version,
                ))));
            }
            let stored = commit(&self.shared, &mut state, &ty, key, Some(object), EventType::Modified);
            Ok(Deleted::Pending(Arc::unwrap_or_clone(present(&stored, &ty, &resource.version))))
        }
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

/// Fill in apiVersion/kind, namespace and name (generateName) of a new object; refuse an object
/// of another kind.
fn prepare_new(
    ty: &ResourceType,
    resource: &ResourceRef,
    namespace: &str,
    object: &mut Value,
) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(format!("the body of the request is not a {} object", ty.kind)));
    }
    check_kind(ty, resource, object)?;
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let meta = object["metadata"].as_object_mut().expect("just made metadata an object");
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
    ] {
        meta.remove(field);
    }
    if ty.namespaced {
        if namespace.is_empty() {
            meta.insert("namespace".into(), json!("default"));
        }
    } else {
        meta.remove("namespace");
    }
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        let generate = meta.get("generateName").and_then(Value::as_str).unwrap_or("");
        if !generate.is_empty() {
            meta.insert("name".into(), json!(format!("{generate}{}", random_suffix())));
        }
    }
    Ok(())
}

fn check_kind(ty: &ResourceType, resource: &ResourceRef, object: &mut Value) -> Result<(), ApiError> {
    let expected = ty.api_version(&resource.version);
    match object["apiVersion"].as_str() {
        None | Some("") => object["apiVersion"] = json!(expected),
        Some(v) if v == expected => {}
        Some(v) => {
            let (group, _) = split_api_version(v);
            if group != ty.group || !ty.serves(split_api_version(v).1) {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({expected})"
                )));
            }
            object["apiVersion"] = json!(expected);
        }
    }
    match object["kind"].as_str() {
        None | Some("") => object["kind"] = json!(ty.kind),
        Some(k) if k == ty.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                ty.kind
            )))
        }
    }
    Ok(())
}

/// The name and namespace in the body must be those of the request.
fn check_identity(ty: &ResourceType, object: &Value, namespace: &str, name: &str) -> Result<(), ApiError> {
    let body_name = object["metadata"]["name"].as_str().unwrap_or("");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if ty.namespaced {
        let body_ns = object["metadata"]["namespace"].as_str().unwrap_or("");
        if !body_ns.is_empty() && body_ns != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

/// Carry what an update cannot change from the stored object, and apply the subresource's rule
/// (main: status is kept; status: only status changes).
fn prepare_update(
    ty: &ResourceType,
    resource: &ResourceRef,
    current: &Value,
    object: &mut Value,
    subresource: Subresource,
) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(format!("the body of the request is not a {} object", ty.kind)));
    }
    check_kind(ty, resource, object)?;
    if subresource == Subresource::Status {
        let status = object.get("status").cloned();
        let mut merged = current.clone();
        match status {
            Some(s) => merged["status"] = s,
            None => {
                if let Some(m) = merged.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        merged["apiVersion"] = object["apiVersion"].clone();
        *object = merged;
        return Ok(());
    }
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let old_meta = &current["metadata"];
    let meta = object["metadata"].as_object_mut().expect("just made metadata an object");
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
        "name",
    ] {
        match old_meta.get(field) {
            Some(v) => {
                meta.insert(field.into(), v.clone());
            }
            None => {
                meta.remove(field);
            }
        }
    }
    meta.insert("resourceVersion".into(), old_meta["resourceVersion"].clone());
    meta.remove("selfLink");
    // An update that omits managedFields keeps them; an explicit empty list resets them.
    match meta.get("managedFields") {
        None | Some(Value::Null) => {
            if let Some(m) = old_meta.get("managedFields").filter(|m| !m.is_null()) {
                meta.insert("managedFields".into(), m.clone());
            }
        }
        Some(Value::Array(a))
            if a.is_empty() || a.iter().all(|e| e.as_object().is_some_and(|o| o.is_empty())) =>
        {
            meta.remove("managedFields");
        }
        _ => {}
    }
    if meta.get("generateName").is_some_and(|g| g.as_str() == Some("")) {
        meta.remove("generateName");
    }
    if !old_meta["deletionTimestamp"].is_null() {
        let old: Vec<&Value> =
            old_meta["finalizers"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        let added: Vec<String> = meta
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter().filter(|f| !old.contains(f)).filter_map(|f| f.as_str().map(str::to_string)).collect()
            })
            .unwrap_or_default();
        if !added.is_empty() {
            let name = old_meta["name"].as_str().unwrap_or("");
            return Err(ApiError::invalid(
                &ty.group,
                &ty.kind,
                name,
                &[super::errors::InvalidField::forbidden(
                    "metadata.finalizers",
                    &format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        added.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
                    ),
                )],
            ));
        }
    }
    if ty.group.is_empty() && ty.plural == "services" {
        keep_allocated_service_values(current, object);
    }
    if ty.status {
        match current.get("status") {
            Some(s) => object["status"] = s.clone(),
            None => {
                if let Some(m) = object.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    Ok(())
}

/// A Service update that leaves out what the API server allocated (cluster IPs, node ports)
/// keeps the allocated values, as kube-apiserver's `patchAllocatedValues` does.
fn keep_allocated_service_values(current: &Value, object: &mut Value) {
    let old = &current["spec"];
    if !object["spec"].is_object() {
        return;
    }
    let spec = &mut object["spec"];
    let same_type = spec["type"].is_null() || spec["type"] == old["type"];
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if (spec[field].is_null() || spec[field] == "") && !old[field].is_null() {
            spec[field] = old[field].clone();
        }
    }
    if same_type {
        let old_ports = old["ports"].as_array().cloned().unwrap_or_default();
        if let Some(ports) = spec["ports"].as_array_mut() {
            for port in ports {
                if port["nodePort"].is_null() {
                    let protocol = |p: &Value| p["protocol"].as_str().unwrap_or("TCP").to_string();
                    let same =
                        old_ports.iter().find(|p| p["port"] == port["port"] && protocol(p) == protocol(port));
                    if let Some(node_port) = same.map(|p| p["nodePort"].clone()).filter(|n| !n.is_null()) {
                        port["nodePort"] = node_port;
                    }
                }
            }
        }
    }
}

/// The object without metadata and status: what generation tracks.
fn strip_meta_status(object: &Value) -> Value {
    let mut copy = serde_json::Map::new();
    if let Some(map) = object.as_object() {
        for (k, v) in map {
            if k != "metadata" && k != "status" && k != "apiVersion" && k != "kind" {
                copy.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(copy)
}

/// The object without metadata: what generation tracks on types without a status subresource.
fn strip_meta(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("apiVersion");
        map.remove("kind");
    }
    copy
}

/// Store `object` under `key` with the next resourceVersion and log the event.
fn commit(
    shared: &Shared,
    state: &mut State,
    ty: &ResourceType,
    key: (String, String),
    object: Option<Value>,
    event_type: EventType,
) -> Arc<Value> {
    state.resource_version += 1;
    let rv = state.resource_version;
    let mut object = object.expect("commit needs an object");
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    let object = Arc::new(object);
    let objects = state.objects.entry((ty.group.clone(), ty.plural.clone())).or_default();
    let previous = objects.insert(key.clone(), object.clone());
    log_event(
        shared,
        state,
        WatchEvent {
            event_type,
            group: ty.group.clone(),
            resource: ty.plural.clone(),
            namespace: key.0,
            name: key.1,
            resource_version: rv,
            object: object.clone(),
            previous,
            json: std::sync::OnceLock::new(),
        },
    );
    object
}

/// Remove the object under `key` (its last state: `last` or the stored one) and log DELETED.
fn remove(
    shared: &Shared,
    state: &mut State,
    ty: &ResourceType,
    key: &(String, String),
    last: Option<Value>,
) -> Arc<Value> {
    state.resource_version += 1;
    let rv = state.resource_version;
    let objects = state.objects.entry((ty.group.clone(), ty.plural.clone())).or_default();
    let previous = objects.remove(key);
    let mut object = match (last, &previous) {
        (Some(v), _) => v,
        (None, Some(p)) => (**p).clone(),
        (None, None) => Value::Null,
    };
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    let object = Arc::new(object);
    log_event(
        shared,
        state,
        WatchEvent {
            event_type: EventType::Deleted,
            group: ty.group.clone(),
            resource: ty.plural.clone(),
            namespace: key.0.clone(),
            name: key.1.clone(),
            resource_version: rv,
            object: object.clone(),
            previous,
            json: std::sync::OnceLock::new(),
        },
    );
    object
}

fn log_event(shared: &Shared, state: &mut State, event: WatchEvent) {
    let event = Arc::new(event);
    if state.log.len() >= state.log_capacity {
        if let Some(old) = state.log.pop_front() {
            state.compacted = old.resource_version;
        }
    }
    state.log.push_back(event.clone());
    let _ = shared.live.send(event);
}

fn delete_namespace_contents(shared: &Shared, state: &mut State, namespace: &str) {
    let types: Vec<Arc<ResourceType>> = state.types.values().filter(|t| t.namespaced).cloned().collect();
    for ty in types {
        let keys: Vec<(String, String)> = state
            .objects
            .get(&(ty.group.clone(), ty.plural.clone()))
            .map(|o| o.keys().filter(|(ns, _)| ns == namespace).cloned().collect())
            .unwrap_or_default();
        for key in keys {
            remove(shared, state, &ty, &key, None);
        }
    }
}

fn register_crd(state: &mut State, crd: &Value) -> Result<(), ApiError> {
    let ty = resources::type_from_crd(crd).map_err(|e| {
        ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            crd["metadata"]["name"].as_str().unwrap_or(""),
            &[super::errors::InvalidField::invalid("spec", "", &e)],
        )
    })?;
    state.types.insert((ty.group.clone(), ty.plural.clone()), Arc::new(ty));
    Ok(())
}

fn unregister_crd(shared: &Shared, state: &mut State, crd: &Value) {
    let group = crd["spec"]["group"].as_str().unwrap_or("").to_string();
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or("").to_string();
    let Some(ty) = state.types.get(&(group.clone(), plural.clone())).cloned() else { return };
    if !ty.is_custom() {
        return;
    }
    let keys: Vec<(String, String)> = state
        .objects
        .get(&(group.clone(), plural.clone()))
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for key in keys {
        remove(shared, state, &ty, &key, None);
    }
    state.objects.remove(&(group.clone(), plural.clone()));
    state.types.remove(&(group, plural));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::resources::{CONFIGMAPS, DEPLOYMENTS, PODS};

    /// A minimal valid Deployment `name` in `default` (shared by the playground's unit tests).
    pub(crate) fn deployment(name: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                             "spec": {"containers": [{"name": "model", "image": "model:v1"}]}}
            }
        })
    }

    #[test]
    fn create_sets_identity_and_defaults() {
        let store = Store::new();
        let d = store.create(&DEPLOYMENTS, deployment("fraud")).unwrap();
        assert_eq!(d["metadata"]["generation"], 1);
        assert!(d["metadata"]["uid"].is_string());
        assert!(d["metadata"]["creationTimestamp"].is_string());
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        let err = store.create(&DEPLOYMENTS, deployment("fraud")).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.message, "deployments.apps \"fraud\" already exists");
    }

    #[test]
    fn stale_updates_conflict_and_generation_follows_spec() {
        let store = Store::new();
        let d = store.create(&DEPLOYMENTS, deployment("fraud")).unwrap();
        let mut newer = d.clone();
        newer["spec"]["replicas"] = json!(3);
        let newer = store.update(&DEPLOYMENTS, newer).unwrap();
        assert_eq!(newer["metadata"]["generation"], 2);
        let mut stale = d.clone();
        stale["spec"]["replicas"] = json!(5);
        let err = store.update(&DEPLOYMENTS, stale).unwrap_err();
        assert_eq!(err.code, 409);
        assert!(err.message.starts_with("Operation cannot be fulfilled on deployments.apps \"fraud\""));
        let labelled = store
            .modify(&DEPLOYMENTS, "default", "fraud", |d| d["metadata"]["labels"] = json!({"team": "risk"}))
            .unwrap();
        assert_eq!(labelled["metadata"]["generation"], 2);
        let status = store
            .modify_status(&DEPLOYMENTS, "default", "fraud", |d| d["status"] = json!({"replicas": 3}))
            .unwrap();
        assert_eq!(status["status"]["replicas"], 3);
        assert_eq!(status["metadata"]["generation"], 2);
        // The main endpoint ignores status.
        let ignored = store.modify(&DEPLOYMENTS, "default", "fraud", |d| d["status"] = json!({})).unwrap();
        assert_eq!(ignored["status"]["replicas"], 3);
        assert_eq!(ignored["metadata"]["resourceVersion"], status["metadata"]["resourceVersion"]);
    }

    #[test]
    fn service_updates_keep_the_allocated_cluster_ip() {
        let store = Store::new();
        let service = json!({"metadata": {"name": "s", "namespace": "default"},
                             "spec": {"selector": {"app": "s"}, "ports": [{"port": 80}]}});
        let created = store.create(&resources::SERVICES, service.clone()).unwrap();
        let ip = created["spec"]["clusterIP"].clone();
        assert!(ip.as_str().is_some_and(|ip| ip.starts_with("10.96.")));
        let replaced = store.update(&resources::SERVICES, service).unwrap();
        assert_eq!(replaced["spec"]["clusterIP"], ip);
        assert_eq!(replaced["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    }

    #[test]
    fn finalizers_hold_deletion() {
        let store = Store::new();
        let mut cm = json!({"metadata": {"name": "c", "namespace": "default", "finalizers": ["x/y"]}});
        cm["data"] = json!({"a": "b"});
        store.create(&CONFIGMAPS, cm).unwrap();
        let deleted = store.delete(&CONFIGMAPS, "default", "c", &DeleteOptions::default()).unwrap();
        assert!(matches!(deleted, Deleted::Pending(_)));
        assert!(deleted.object()["metadata"]["deletionTimestamp"].is_string());
        store.modify(&CONFIGMAPS, "default", "c", |c| c["metadata"]["finalizers"] = json!([])).unwrap();
        assert_eq!(store.get(&CONFIGMAPS, "default", "c").unwrap_err().code, 404);
    }

    #[test]
    fn watch_log_resumes_and_expires() {
        let store = Store::with_log_capacity(16);
        let start = store.resource_version();
        let mut live = store.subscribe();
        for i in 0..5 {
            store
                .create(&CONFIGMAPS, json!({"metadata": {"name": format!("c{i}"), "namespace": "default"}}))
                .unwrap();
        }
        let events = store.events_since(start).unwrap();
        assert_eq!(events.len(), 5);
        assert_eq!(live.try_recv().unwrap().name, "c0");
        for i in 5..40 {
            store
                .create(&CONFIGMAPS, json!({"metadata": {"name": format!("c{i}"), "namespace": "default"}}))
                .unwrap();
        }
        assert_eq!(store.events_since(start).unwrap_err().code, 410);
    }

    #[test]
    fn namespaces_must_exist_and_pods_terminate_gracefully() {
        let store = Store::new();
        let pod = json!({"metadata": {"name": "p", "namespace": "ml"},
                         "spec": {"containers": [{"name": "c", "image": "i"}]}});
        assert_eq!(store.create(&PODS, pod.clone()).unwrap_err().message, "namespaces \"ml\" not found");
        store.create(&resources::NAMESPACES, json!({"metadata": {"name": "ml"}})).unwrap();
        let mut pod = store.create(&PODS, pod).unwrap();
        pod["spec"]["nodeName"] = json!("node-1");
        store.update(&PODS, pod).unwrap();
        let deleted = store.delete(&PODS, "ml", "p", &DeleteOptions::default()).unwrap();
        assert!(matches!(deleted, Deleted::Pending(_)));
        assert_eq!(deleted.object()["metadata"]["deletionGracePeriodSeconds"], 30);
        let gone = store
            .delete(&PODS, "ml", "p", &DeleteOptions { grace_period_seconds: Some(0), ..Default::default() })
            .unwrap();
        assert!(matches!(gone, Deleted::Now(_)));
        store.delete(&resources::NAMESPACES, "", "ml", &DeleteOptions::default()).unwrap();
        assert!(store.list(&PODS, "ml").unwrap().items.is_empty());
    }
}
