//! The one way this program changes cluster objects. Every update reads the object, computes
//! the object wanted from it, and sends the difference as a JSON merge patch carrying the
//! resourceVersion read (field manager `kubectl-modelroll`): a conditional write, read again and
//! recomputed on 409 Conflict up to [`WRITE_ATTEMPTS`] times. Requests the API server could not
//! answer (429, 5xx, cut connections) are retried below this module, in the client's stack
//! (`retry.rs`). Works on raw JSON so that fields this build does not know survive.
//!
//! One dry-run model for a single write and for a plan of several: with `--dry-run=client`
//! nothing is sent and each write is recorded; with `--dry-run=server` each write is sent with
//! `dryRun=All` and the server's answer recorded. Later reads of the same command see the
//! recorded objects, so a dry run tells the whole story and changes nothing.

use std::sync::{Mutex, MutexGuard, PoisonError};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::rollout::keys::FIELD_MANAGER;
use crate::rollout::revision::merge_patch;
use crate::settings::DryRun;

/// How many times a write is tried while others keep changing the object (409 Conflict).
pub const WRITE_ATTEMPTS: usize = 8;

/// The error when [`WRITE_ATTEMPTS`] tries to `verb` (`update`, `create`, `delete`) `what`
/// (`deployment.apps/fraud`) all met a conflict.
pub fn kept_conflicting(verb: &str, what: &str) -> Error {
    Error::failed(format!(
        "cannot {verb} {what}: it kept changing under us ({WRITE_ATTEMPTS} conflicts); run the command again"
    ))
}

/// The result of [`Writer::update_from`].
#[derive(Debug, Clone)]
pub struct Update {
    /// The object as read before the write (the last read, after retries).
    pub before: Value,
    /// The object as written (the server's answer; for a client dry run, the object computed;
    /// when nothing changed, `before`).
    pub after: Value,
    /// Whether the wanted object differed from the one read.
    pub changed: bool,
}

/// An object as the dry run left it: `None` once deleted.
#[derive(Debug, Clone)]
struct Recorded {
    key: String,
    object: Option<Value>,
    created: bool,
}

/// Reads and writes objects in the command's namespace (see the module documentation).
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

    fn patch_params(&self) -> PatchParams {
        PatchParams {
            dry_run: self.dry_run == DryRun::Server,
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        }
    }

    /// The dry run's record. A panic elsewhere while it was held cannot leave it half-written
    /// (each change is one push or one assignment), so a poisoned lock is still good to read.
    fn records(&self) -> MutexGuard<'_, Vec<Recorded>> {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn recorded(&self, key: &str) -> Option<Recorded> {
        self.records().iter().find(|r| r.key == key).cloned()
    }

    fn record(&self, key: String, object: Option<Value>, created: bool) {
        let mut recorded = self.records();
        if let Some(existing) = recorded.iter_mut().find(|r| r.key == key) {
            existing.object = object;
            existing.created |= created;
        } else {
            recorded.push(Recorded { key, object, created });
        }
    }

    /// The objects a dry run would write, in the order first written (deleted ones left out).
    pub fn written(&self) -> Vec<Value> {
        self.records().iter().filter_map(|r| r.object.clone()).collect()
    }

    /// Like [`Writer::written`], with whether each object would be created (else changed).
    pub fn written_with_action(&self) -> Vec<(Value, bool)> {
        self.records().iter().filter_map(|r| r.object.clone().map(|o| (o, r.created))).collect()
    }

    /// `kind/name` of the objects a dry run would delete.
    pub fn deleted(&self) -> Vec<String> {
        self.records().iter().filter(|r| r.object.is_none()).map(|r| r.key.clone()).collect()
    }

    /// Read one object; `None` when it does not exist (or a dry run of this command deleted it).
    ///
    /// # Errors
    /// Exit 1 (`Cluster::api_error`; 401/403 included) when the read is refused or the server unreachable.
    pub async fn get(&self, ar: &ApiResource, name: &str) -> Result<Option<Value>> {
        if self.is_dry_run() {
            if let Some(r) = self.recorded(&key(ar, name)) {
                return Ok(r.object);
            }
        }
        self.get_live(ar, name).await
    }

    /// Read one object from the server, whatever a dry run recorded.
    async fn get_live(&self, ar: &ApiResource, name: &str) -> Result<Option<Value>> {
        let what = display_name(ar, name);
        let found = self
            .api(ar)
            .get_opt(name)
            .await
            .map_err(|e| self.cluster.api_error(e, &format!("get {what}")))?;
        found.map(|o| to_json(o, &what)).transpose()
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
        list.items.into_iter().map(|o| to_json(o, &plural_name(ar))).collect()
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
                    let value = to_json(created, &display_name(ar, &name))?;
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

    /// Read `name`, apply `edit` to a copy, and write the difference: [`Writer::update_from`]
    /// for edits made in place. Returns the object as written (or unchanged), `None` if absent.
    ///
    /// # Errors
    /// See [`Writer::update_from`].
    pub async fn update(
        &self,
        ar: &ApiResource,
        name: &str,
        mut edit: impl FnMut(&mut Value) -> Result<()>,
    ) -> Result<Option<Value>> {
        let update = self
            .update_from(ar, name, None, |before| {
                let mut wanted = before.clone();
                edit(&mut wanted)?;
                Ok(wanted)
            })
            .await?;
        Ok(update.map(|u| u.after))
    }

    /// The one conditional write. Read `name` (or take `initial`, when the caller just read it),
    /// call `edit` with it for the object wanted, and send the difference as a merge patch
    /// carrying the resourceVersion read; on 409 Conflict read again and call `edit` again (so
    /// an edit must compute from the object it is given, never from an earlier read). `None`
    /// when the object does not exist.
    ///
    /// # Errors
    /// `edit`'s error; a refused read or write ([`Cluster::api_error`]); or conflicts on every
    /// one of [`WRITE_ATTEMPTS`] tries.
    pub async fn update_from(
        &self,
        ar: &ApiResource,
        name: &str,
        mut initial: Option<Value>,
        mut edit: impl FnMut(&Value) -> Result<Value>,
    ) -> Result<Option<Update>> {
        let what = display_name(ar, name);
        let k = key(ar, name);
        for attempt in 1..=WRITE_ATTEMPTS {
            let before = match initial.take() {
                Some(object) => object,
                None => match self.get(ar, name).await? {
                    Some(object) => object,
                    None => return Ok(None),
                },
            };
            let wanted = edit(&before)?;
            if merge_patch(&before, &wanted).is_none() {
                return Ok(Some(Update { after: before.clone(), before, changed: false }));
            }
            let recorded = self.recorded(&k);
            match self.dry_run {
                DryRun::Client => {
                    self.record(k, Some(wanted.clone()), false);
                    return Ok(Some(Update { before, after: wanted, changed: true }));
                }
                DryRun::Server if recorded.as_ref().is_some_and(|r| r.created) => {
                    // Only the dry run created it: the server can only check a create.
                    let mut object = wanted;
                    if let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("resourceVersion");
                        m.remove("uid");
                        m.remove("creationTimestamp");
                    }
                    let after = self.create(ar, object).await?;
                    return Ok(Some(Update { before, after, changed: true }));
                }
                _ => {}
            }
            // A server dry run patches the live object, which knows nothing of the dry run's
            // earlier writes: the patch then carries everything this dry run changed in it.
            let base = match &recorded {
                Some(_) => match self.get_live(ar, name).await? {
                    Some(live) => live,
                    None => return Ok(None),
                },
                None => before.clone(),
            };
            let Some(patch) = merge_patch(&base, &wanted) else {
                return Ok(Some(Update { after: before.clone(), before, changed: false }));
            };
            let patch = with_resource_version(patch, &base);
            tracing::debug!("patch {what} (attempt {attempt}): {patch}");
            match self.api(ar).patch(name, &self.patch_params(), &Patch::Merge(&patch)).await {
                Ok(written) => {
                    let after = to_json(written, &what)?;
                    if self.dry_run == DryRun::Server {
                        self.record(k, Some(after.clone()), false);
                    }
                    return Ok(Some(Update { before, after, changed: true }));
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    tracing::debug!(
                        "{what} changed since it was read ({}); reading it again",
                        status.message
                    );
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

/// `patch` with `metadata.resourceVersion` of `read`: the write is refused (409) if anyone
/// wrote since.
fn with_resource_version(mut patch: Value, read: &Value) -> Value {
    let version = read.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
    if let Some(patch) = patch.as_object_mut() {
        let meta = patch.entry("metadata").or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceVersion".into(), version);
        }
    }
    patch
}

/// An object the server sent, as JSON.
fn to_json(object: DynamicObject, what: &str) -> Result<Value> {
    serde_json::to_value(object).map_err(|e| Error::failed(format!("cannot read {what}: {e}")).with_source(e))
}

/// `metadata.name` of an object as JSON.
pub fn object_name(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! Request-level: exactly what the writer sends (tower-test mock API server, as
    //! kube-rs/controller-rs's fixtures do).
    use super::*;
    use http::{Method, Request, Response};
    use kube::client::Body;
    use serde_json::json;

    fn deployment(version: &str, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "fraud", "namespace": "ml", "resourceVersion": version},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "model", "image": image, "future": 1}]}}}
        })
    }

    fn kind() -> ApiResource {
        ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&())
    }

    const PATH: &str = "/apis/apps/v1/namespaces/ml/deployments/fraud";

    type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

    fn cluster_of(client: kube::Client) -> Cluster {
        let mut cluster = Cluster::of_client(client, "ml");
        cluster.server = "https://mock".into();
        cluster
    }

    /// A writer whose API server is the returned handle.
    fn mock(dry_run: DryRun) -> (Writer, Handle) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        (Writer::new(cluster_of(kube::Client::new(service, "ml")), dry_run), handle)
    }

    fn respond(code: u16, body: &Value) -> Response<Body> {
        Response::builder().status(code).body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()
    }

    fn status(code: u16, reason: &str) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": reason, "reason": reason, "code": code})
    }

    async fn body_json(request: Request<Body>) -> Value {
        let bytes = request.into_body().collect_bytes().await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn query(request: &Request<Body>) -> String {
        request.uri().query().unwrap_or_default().to_string()
    }

    /// Answer the next request, which must be `method` on `path`; returns it for more checks.
    async fn expect(
        handle: &mut Handle,
        method: Method,
        path: &str,
        code: u16,
        answer: &Value,
    ) -> Request<Body> {
        let (request, send) = handle.next_request().await.expect("a request");
        assert_eq!((request.method(), request.uri().path()), (&method, path));
        send.send_response(respond(code, answer));
        request
    }

    fn new_image(before: &Value) -> Result<Value> {
        let mut wanted = before.clone();
        wanted["spec"]["template"]["spec"]["containers"][0]["image"] = json!("fraud:v2");
        Ok(wanted)
    }

    #[tokio::test]
    async fn a_conditional_merge_patch_retried_on_conflict() {
        let (w, mut handle) = mock(DryRun::None);
        let server = tokio::spawn(async move {
            let mut patches = Vec::new();
            for version in ["1", "2"] {
                expect(&mut handle, Method::GET, PATH, 200, &deployment(version, "fraud:v1")).await;
                let (request, send) = handle.next_request().await.expect("PATCH");
                assert_eq!(request.method(), Method::PATCH);
                assert_eq!(request.headers()["content-type"], "application/merge-patch+json");
                assert!(query(&request).contains("fieldManager=kubectl-modelroll"), "{}", query(&request));
                assert!(!query(&request).contains("dryRun"), "{}", query(&request));
                patches.push(body_json(request).await);
                if version == "1" {
                    send.send_response(respond(409, &status(409, "Conflict")));
                } else {
                    send.send_response(respond(200, &deployment("3", "fraud:v2")));
                }
            }
            patches
        });
        let result = w.update_from(&kind(), "fraud", None, new_image).await.unwrap().unwrap();
        assert!(result.changed);
        assert_eq!(result.after["metadata"]["resourceVersion"], "3");
        let patches = server.await.unwrap();
        // Each attempt carries the resourceVersion it read; unknown fields survive the write.
        for (patch, version) in patches.iter().zip(["1", "2"]) {
            assert_eq!(
                patch,
                &json!({
                    "metadata": {"resourceVersion": version},
                    "spec": {"template": {"spec": {"containers": [{"name": "model", "image": "fraud:v2", "future": 1}]}}}
                })
            );
        }
    }

    #[tokio::test]
    async fn conflicts_on_every_attempt_give_up_naming_the_object() {
        let (w, mut handle) = mock(DryRun::None);
        let server = tokio::spawn(async move {
            for _ in 0..WRITE_ATTEMPTS {
                expect(&mut handle, Method::GET, PATH, 200, &deployment("1", "fraud:v1")).await;
                expect(&mut handle, Method::PATCH, PATH, 409, &status(409, "Conflict")).await;
            }
            // No ninth attempt: the client is dropped with the writer.
            assert!(handle.next_request().await.is_none());
        });
        let err = w.update_from(&kind(), "fraud", None, new_image).await.unwrap_err();
        drop(w);
        assert_eq!(
            err.message,
            "cannot update deployment.apps/fraud: it kept changing under us (8 conflicts); run the command again"
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn nothing_to_change_writes_nothing() {
        let (w, mut handle) = mock(DryRun::Server);
        let server = tokio::spawn(async move {
            expect(&mut handle, Method::GET, PATH, 200, &deployment("1", "fraud:v1")).await;
            assert!(handle.next_request().await.is_none());
        });
        let result = w.update_from(&kind(), "fraud", None, |b| Ok(b.clone())).await.unwrap().unwrap();
        assert!(!result.changed);
        drop(w);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn an_absent_object_is_none_and_not_written() {
        let (w, mut handle) = mock(DryRun::None);
        let server = tokio::spawn(async move {
            expect(&mut handle, Method::GET, PATH, 404, &status(404, "NotFound")).await;
            assert!(handle.next_request().await.is_none());
        });
        assert!(w.update(&kind(), "fraud", |_| Ok(())).await.unwrap().is_none());
        drop(w);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_client_dry_run_sends_no_write_and_later_reads_see_its_writes() {
        let (w, mut handle) = mock(DryRun::Client);
        let server = tokio::spawn(async move {
            // The one read of the live object; everything after comes from the dry run's record.
            expect(&mut handle, Method::GET, PATH, 200, &deployment("1", "fraud:v1")).await;
            assert!(handle.next_request().await.is_none(), "a client dry run sent a request");
        });
        let scaled = w
            .update(&kind(), "fraud", |d| {
                d["spec"]["replicas"] = json!(5);
                Ok(())
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(scaled["spec"]["replicas"], 5);
        let changed = w.update_from(&kind(), "fraud", None, new_image).await.unwrap().unwrap();
        assert_eq!(changed.before["spec"]["replicas"], 5, "the second write starts from the first");
        let canary =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fraud-canary"}});
        w.create(&kind(), canary.clone()).await.unwrap();
        assert_eq!(w.get(&kind(), "fraud-canary").await.unwrap(), Some(canary.clone()));
        assert!(w.delete(&kind(), "fraud-canary").await.unwrap());
        assert_eq!(w.get(&kind(), "fraud-canary").await.unwrap(), None);
        let written = w.written_with_action();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].0["spec"]["replicas"], 5);
        assert_eq!(written[0].0["spec"]["template"]["spec"]["containers"][0]["image"], "fraud:v2");
        assert!(!written[0].1, "changed, not created");
        assert_eq!(w.deleted(), ["apps/v1/Deployment/fraud-canary"]);
        drop(w);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_server_dry_run_sends_every_write_with_dry_run_all() {
        let (w, mut handle) = mock(DryRun::Server);
        let server = tokio::spawn(async move {
            let mut queries = Vec::new();
            // First update: read, then a dry-run patch.
            expect(&mut handle, Method::GET, PATH, 200, &deployment("1", "fraud:v1")).await;
            let mut scaled = deployment("1", "fraud:v1");
            scaled["spec"]["replicas"] = json!(5);
            let request = expect(&mut handle, Method::PATCH, PATH, 200, &scaled).await;
            queries.push(query(&request));
            // Second update of the same object: the server knows nothing of the first, so the
            // patch goes against the live object and carries both changes.
            expect(&mut handle, Method::GET, PATH, 200, &deployment("1", "fraud:v1")).await;
            let (request, send) = handle.next_request().await.expect("PATCH");
            assert_eq!(request.method(), Method::PATCH);
            queries.push(query(&request));
            let patch = body_json(request).await;
            assert_eq!(patch["spec"]["replicas"], 5, "{patch}");
            assert_eq!(patch["spec"]["template"]["spec"]["containers"][0]["image"], "fraud:v2", "{patch}");
            assert_eq!(patch["metadata"]["resourceVersion"], "1");
            send.send_response(respond(200, &deployment("1", "fraud:v2")));
            // A create, then an update of what only the dry run created: a dry-run create again.
            let collection = "/apis/apps/v1/namespaces/ml/deployments";
            let canary =
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fraud-canary"}});
            let request = expect(&mut handle, Method::POST, collection, 201, &canary).await;
            queries.push(query(&request));
            let (request, send) = handle.next_request().await.expect("POST");
            assert_eq!((request.method(), request.uri().path()), (&Method::POST, collection));
            queries.push(query(&request));
            let created = body_json(request).await;
            assert_eq!(created["spec"]["replicas"], 1);
            send.send_response(respond(201, &created));
            // A delete of a live object: read, then a dry-run delete.
            let other = "/apis/apps/v1/namespaces/ml/deployments/other";
            let mut live = deployment("7", "other:v1");
            live["metadata"]["name"] = json!("other");
            expect(&mut handle, Method::GET, other, 200, &live).await;
            let request = expect(&mut handle, Method::DELETE, other, 200, &live).await;
            // DeleteOptions travel in the body.
            assert_eq!(body_json(request).await["dryRun"], json!(["All"]));
            assert!(handle.next_request().await.is_none());
            queries
        });
        w.update(&kind(), "fraud", |d| {
            d["spec"]["replicas"] = json!(5);
            Ok(())
        })
        .await
        .unwrap();
        w.update_from(&kind(), "fraud", None, new_image).await.unwrap().unwrap();
        w.create(
            &kind(),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fraud-canary"}}),
        )
        .await
        .unwrap();
        w.update(&kind(), "fraud-canary", |d| {
            d["spec"]["replicas"] = json!(1);
            Ok(())
        })
        .await
        .unwrap();
        assert!(w.delete(&kind(), "other").await.unwrap());
        let written: Vec<String> = w.written().iter().map(|o| object_name(o).to_string()).collect();
        assert_eq!(written, ["fraud", "fraud-canary"]);
        drop(w);
        for query in server.await.unwrap() {
            assert!(query.contains("dryRun=All"), "{query}");
        }
    }

    #[tokio::test]
    async fn a_create_that_finds_the_object_there_returns_it() {
        let (w, mut handle) = mock(DryRun::None);
        let server = tokio::spawn(async move {
            expect(
                &mut handle,
                Method::POST,
                "/apis/apps/v1/namespaces/ml/deployments",
                409,
                &status(409, "AlreadyExists"),
            )
            .await;
            expect(&mut handle, Method::GET, PATH, 200, &deployment("4", "fraud:v1")).await;
        });
        let object = w.create(&kind(), deployment("", "fraud:v9")).await.unwrap();
        assert_eq!(object["metadata"]["resourceVersion"], "4");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_delete_of_what_is_gone_is_no_error() {
        let (w, mut handle) = mock(DryRun::None);
        let server = tokio::spawn(async move {
            let request = expect(&mut handle, Method::DELETE, PATH, 404, &status(404, "NotFound")).await;
            assert!(!query(&request).contains("dryRun"));
        });
        assert!(!w.delete(&kind(), "fraud").await.unwrap());
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_busy_server_is_retried_by_the_client_stack() {
        // The client's own stack as `Cluster::connect` builds it: retries of 429/5xx below the writer.
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let service = tower::ServiceBuilder::new()
            .layer(tower::retry::RetryLayer::new(crate::retry::RetryPolicy::new(
                crate::retry::RetryBudget::default(),
            )))
            .layer(tower::buffer::BufferLayer::new(16))
            .service(service);
        let w = Writer::new(cluster_of(kube::Client::new(service, "ml")), DryRun::None);
        let server = tokio::spawn(async move {
            expect(&mut handle, Method::GET, PATH, 200, &deployment("1", "fraud:v1")).await;
            expect(&mut handle, Method::PATCH, PATH, 503, &status(503, "ServiceUnavailable")).await;
            let (request, send) = handle.next_request().await.expect("the PATCH again");
            assert_eq!(request.method(), Method::PATCH);
            assert_eq!(body_json(request).await["metadata"]["resourceVersion"], "1");
            send.send_response(respond(200, &deployment("2", "fraud:v2")));
        });
        let result = w.update_from(&kind(), "fraud", None, new_image).await.unwrap().unwrap();
        assert_eq!(result.after["metadata"]["resourceVersion"], "2");
        server.await.unwrap();
    }
}
