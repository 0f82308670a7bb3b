//! Cluster reads and writes of the canary verbs: every update carries the resourceVersion it read
//! and is retried on conflict; with `--dry-run` writes are recorded (client) or sent as dry runs
//! (server) and later reads see them, so a dry run prints the whole story and changes nothing.

use std::sync::Mutex;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::cli::DryRun;
use crate::cluster::{kept_conflicting, Cluster, WRITE_ATTEMPTS};
use crate::error::{Error, Result};
use crate::rollout::state::FIELD_MANAGER;

/// An object as the dry run left it: `None` once deleted.
#[derive(Debug, Clone)]
struct Recorded {
    key: String,
    object: Option<Value>,
    created: bool,
}

/// Reads and writes objects in the command's namespace.
pub struct Writer {
    pub cluster: Cluster,
    pub dry_run: DryRun,
    recorded: Mutex<Vec<Recorded>>,
    /// When the command's `--timeout` runs out, for the waits a router makes itself.
    deadline: Option<tokio::time::Instant>,
}

fn key(ar: &ApiResource, name: &str) -> String {
    format!("{}/{}/{}", ar.api_version, ar.kind, name)
}

/// `kind/name` as kubectl prints it (`deployment.apps/fraud-canary`).
pub fn display_name(ar: &ApiResource, name: &str) -> String {
    let kind = ar.kind.to_ascii_lowercase();
    if ar.group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{}/{name}", ar.group)
    }
}

impl Writer {
    pub fn new(cluster: Cluster, dry_run: DryRun) -> Self {
        Self { cluster, dry_run, recorded: Mutex::new(Vec::new()), deadline: None }
    }

    /// The same, with the command's deadline for the waits a router makes itself.
    #[must_use]
    pub fn with_deadline(mut self, deadline: tokio::time::Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The command's deadline, if it gave one.
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.deadline
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run != DryRun::None
    }

    pub fn namespace(&self) -> &str {
        &self.cluster.namespace
    }

    fn api(&self, ar: &ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.cluster.client.clone(), &self.cluster.namespace, ar)
    }

    fn params(&self) -> PostParams {
        PostParams { dry_run: self.dry_run == DryRun::Server, field_manager: Some(FIELD_MANAGER.to_string()) }
    }

    fn recorded(&self, key: &str) -> Option<Recorded> {
        self.recorded.lock().expect("lock").iter().find(|r| r.key == key).cloned()
    }

    fn record(&self, key: String, object: Option<Value>, created: bool) {
        let mut recorded = self.recorded.lock().expect("lock");
        if let Some(existing) = recorded.iter_mut().find(|r| r.key == key) {
            existing.object = object;
            existing.created |= created;
        } else {
            recorded.push(Recorded { key, object, created });
        }
    }

    /// The objects a dry run would write, in the order first written (deleted ones left out).
    pub fn written(&self) -> Vec<Value> {
        self.recorded.lock().expect("lock").iter().filter_map(|r| r.object.clone()).collect()
    }

    /// Like [`Writer::written`], with whether each object would be created (else changed).
    pub fn written_with_action(&self) -> Vec<(Value, bool)> {
        self.recorded
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|r| r.object.clone().map(|o| (o, r.created)))
            .collect()
    }

    /// `kind/name` of the objects a dry run would delete.
    pub fn deleted(&self) -> Vec<String> {
        self.recorded
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.object.is_none())
            .map(|r| r.key.clone())
            .collect()
    }

    /// Read one object; `None` when it does not exist.
    ///
    /// # Errors
    /// Exit 1 (`Cluster::api_error`; 401/403 included) when the read is refused or the server unreachable.
    pub async fn get(&self, ar: &ApiResource, name: &str) -> Result<Option<Value>> {
        if self.is_dry_run() {
            if let Some(r) = self.recorded(&key(ar, name)) {
                return Ok(r.object);
            }
        }
        let found = self
            .api(ar)
            .get_opt(name)
            .await
            .map_err(|e| self.cluster.api_error(e, &format!("get {}", display_name(ar, name))))?;
        Ok(found.map(|o| serde_json::to_value(o).expect("object serializes")))
    }

    /// List the objects of a kind in the namespace, optionally by label selector.
    ///
    /// # Errors
    /// When the list is refused or the server unreachable.
    pub async fn list(&self, ar: &ApiResource, label_selector: Option<&str>) -> Result<Vec<Value>> {
        let mut params = ListParams::default();
        if let Some(selector) = label_selector {
            params = params.labels(selector);
        }
        let list = self
            .api(ar)
            .list(&params)
            .await
            .map_err(|e| self.cluster.api_error(e, &format!("list {}", plural_name(ar))))?;
        Ok(list.items.into_iter().map(|o| serde_json::to_value(o).expect("object serializes")).collect())
    }

    /// Create `object`; when it already exists (a re-run), return the existing one.
    ///
    /// # Errors
    /// When the server refuses the object or cannot be reached.
    pub async fn create(&self, ar: &ApiResource, object: Value) -> Result<Value> {
        let name = object_name(&object).to_string();
        let k = key(ar, &name);
        if self.dry_run == DryRun::Client {
            self.record(k, Some(object.clone()), true);
            return Ok(object);
        }
        let dynamic: DynamicObject = serde_json::from_value(object)
            .map_err(|e| Error::failed(format!("cannot encode {}: {e}", display_name(ar, &name))))?;
        for _ in 0..WRITE_ATTEMPTS {
            match self.api(ar).create(&self.params(), &dynamic).await {
                Ok(created) => {
                    let value = serde_json::to_value(created).expect("object serializes");
                    if self.dry_run == DryRun::Server {
                        self.record(k, Some(value.clone()), true);
                    }
                    return Ok(value);
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    // Already there (a re-run): use it. Otherwise a passing conflict: try again.
                    if let Some(existing) = self.get(ar, &name).await? {
                        return Ok(existing);
                    }
                }
                Err(e) => {
                    return Err(self.cluster.api_error(e, &format!("create {}", display_name(ar, &name))))
                }
            }
        }
        Err(kept_conflicting("create", &display_name(ar, &name)))
    }

    /// Read `name`, apply `edit`, and write it back with the resourceVersion read; on 409 Conflict
    /// read again and re-apply. Returns the object as written (or unchanged), `None` if absent.
    ///
    /// # Errors
    /// The edit's error, a refused write, or conflicts that retries could not resolve.
    pub async fn update(
        &self,
        ar: &ApiResource,
        name: &str,
        mut edit: impl FnMut(&mut Value) -> Result<()>,
    ) -> Result<Option<Value>> {
        let what = display_name(ar, name);
        for _ in 0..WRITE_ATTEMPTS {
            let Some(current) = self.get(ar, name).await? else {
                return Ok(None);
            };
            let mut next = current.clone();
            edit(&mut next)?;
            if next == current {
                return Ok(Some(current));
            }
            let k = key(ar, name);
            if self.dry_run == DryRun::Client {
                self.record(k, Some(next.clone()), false);
                return Ok(Some(next));
            }
            if self.dry_run == DryRun::Server {
                if let Some(r) = self.recorded(&k) {
                    if r.created {
                        // Only the dry run created it: the server can only check a create.
                        if let Some(m) = next.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.remove("resourceVersion");
                            m.remove("uid");
                            m.remove("creationTimestamp");
                        }
                        return self.create(ar, next).await.map(Some);
                    }
                }
            }
            let dynamic: DynamicObject = serde_json::from_value(next)
                .map_err(|e| Error::failed(format!("cannot encode {what}: {e}")))?;
            match self.api(ar).replace(name, &self.params(), &dynamic).await {
                Ok(written) => {
                    let value = serde_json::to_value(written).expect("object serializes");
                    if self.dry_run == DryRun::Server {
                        self.record(k, Some(value.clone()), false);
                    }
                    return Ok(Some(value));
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    tracing::debug!("conflict updating {what}; reading it again");
                    continue;
                }
                Err(e) => return Err(self.cluster.api_error(e, &format!("update {what}"))),
            }
        }
        Err(kept_conflicting("update", &what))
    }

    /// Delete `name` (absent is fine). Returns whether it existed.
    ///
    /// # Errors
    /// When the server refuses the delete or cannot be reached.
    pub async fn delete(&self, ar: &ApiResource, name: &str) -> Result<bool> {
        let k = key(ar, name);
        if self.is_dry_run() {
            let existed = self.get(ar, name).await?.is_some();
            if existed && self.dry_run == DryRun::Server && self.recorded(&k).is_none_or(|r| !r.created) {
                let params = DeleteParams { dry_run: true, ..DeleteParams::background() };
                self.api(ar)
                    .delete(name, &params)
                    .await
                    .map_err(|e| self.cluster.api_error(e, &format!("delete {}", display_name(ar, name))))?;
            }
            if existed {
                self.record(k, None, false);
            }
            return Ok(existed);
        }
        for _ in 0..WRITE_ATTEMPTS {
            match self.api(ar).delete(name, &DeleteParams::background()).await {
                Ok(_) => return Ok(true),
                Err(kube::Error::Api(status)) if status.code == 404 => return Ok(false),
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(e) => {
                    return Err(self.cluster.api_error(e, &format!("delete {}", display_name(ar, name))))
                }
            }
        }
        Err(kept_conflicting("delete", &display_name(ar, name)))
    }
}

fn plural_name(ar: &ApiResource) -> String {
    if ar.group.is_empty() {
        ar.plural.clone()
    } else {
        format!("{}.{}", ar.plural, ar.group)
    }
}

/// `metadata.name` of an object as JSON.
pub fn object_name(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}
