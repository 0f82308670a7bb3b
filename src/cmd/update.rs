//! One cluster write done right: read the object, compute the object wanted from it, send the
//! difference as a JSON merge patch carrying the resourceVersion read (field manager
//! `kubectl-modelroll`), and on 409 Conflict read again and recompute. Works on raw JSON so that
//! fields this build does not know survive. Dry runs: client (nothing sent) and server
//! (`dryRun=All`).

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use crate::cli::DryRun;
use crate::cluster::{kept_conflicting, Cluster, WRITE_ATTEMPTS};
use crate::error::{Error, Result};
use crate::rollout::revision::{merge_patch, FIELD_MANAGER};

/// The result of [`update`].
#[derive(Debug, Clone)]
pub struct Update {
    /// The object as read before the write (the last read, after retries).
    pub before: Value,
    /// The object as written (server answer; for a client dry run, the object computed; when
    /// nothing changed, `before`).
    pub after: Value,
    /// Whether the wanted object differed from the one read.
    pub changed: bool,
}

/// Read `name` through `api`, call `edit` with it to get the wanted object, and write the
/// difference. `initial` is used instead of the first read when the caller just read the object.
/// `what` names it in messages (`deployment "fraud"`).
///
/// # Errors
/// The read or write is refused (see [`Cluster::api_error`]), `edit` fails, or the object kept
/// changing under us for [`WRITE_ATTEMPTS`] tries.
pub async fn update<F>(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    name: &str,
    what: &str,
    dry_run: DryRun,
    mut initial: Option<Value>,
    mut edit: F,
) -> Result<Update>
where
    F: FnMut(&Value) -> Result<Value>,
{
    for attempt in 1..=WRITE_ATTEMPTS {
        let before = match initial.take() {
            Some(v) => v,
            None => {
                let object = api.get(name).await.map_err(|e| cluster.api_error(e, &format!("get {what}")))?;
                serde_json::to_value(&object)
                    .map_err(|e| Error::failed(format!("cannot read {what}: {e}")).with_source(e))?
            }
        };
        let wanted = edit(&before)?;
        let Some(mut patch) = merge_patch(&before, &wanted) else {
            return Ok(Update { after: before.clone(), before, changed: false });
        };
        if dry_run == DryRun::Client {
            return Ok(Update { before, after: wanted, changed: true });
        }
        // The resourceVersion read makes the write conditional: 409 if anyone wrote since.
        let version = before.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
        if let Some(meta) =
            patch.as_object_mut().map(|p| p.entry("metadata").or_insert_with(|| serde_json::json!({})))
        {
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("resourceVersion".into(), version);
            }
        }
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            dry_run: dry_run == DryRun::Server,
            ..Default::default()
        };
        tracing::debug!("patch {what} (attempt {attempt}): {patch}");
        match api.patch(name, &params, &Patch::Merge(&patch)).await {
            Ok(object) => {
                let after = serde_json::to_value(&object)
                    .map_err(|e| Error::failed(format!("cannot read {what}: {e}")).with_source(e))?;
                return Ok(Update { before, after, changed: true });
            }
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < WRITE_ATTEMPTS => {
                tracing::debug!("{what} changed since it was read ({}); reading it again", status.message);
            }
            Err(e) => return Err(cluster.api_error(e, &format!("update {what}"))),
        }
    }
    Err(kept_conflicting("update", what))
}

/// What a `--dry-run` of `written` prints, as every dry run prints (see
/// [`crate::ui::output::dry_run`]): `deployment.apps/NAME configured (dry run)`, or with `-o` the
/// object without `managedFields`.
///
/// # Errors
/// The object cannot be rendered (a bug).
pub fn dry_run_text(
    written: &Update,
    output: Option<crate::cli::WriteOutput>,
    mode: DryRun,
) -> Result<String> {
    crate::ui::output::dry_run(&[(written.after.clone(), false)], output, mode)
}

/// The flags shared by commands that change things, checked.
#[derive(Debug, Clone)]
pub struct WriteSettings {
    pub timeout: std::time::Duration,
    pub no_wait: bool,
    pub dry_run: DryRun,
    pub output: Option<crate::cli::WriteOutput>,
}

impl WriteSettings {
    /// Check `--timeout`, `--dry-run` and `-o`.
    ///
    /// # Errors
    /// Exit 2 for a bad duration, or `-o` without `--dry-run`.
    pub fn parse(args: &crate::cli::WriteArgs) -> Result<Self> {
        let timeout = args.timeout;
        if timeout.is_zero() {
            return Err(Error::usage("invalid --timeout 0: give a positive duration such as 10m"));
        }
        if args.output.is_some() && args.dry_run == DryRun::None {
            return Err(Error::usage(
                "-o yaml|json prints the objects a dry run would write: add --dry-run=client or --dry-run=server",
            ));
        }
        Ok(Self { timeout, no_wait: args.no_wait, dry_run: args.dry_run, output: args.output })
    }

    pub fn dry(&self) -> bool {
        self.dry_run != DryRun::None
    }
}

#[cfg(test)]
mod tests {
    //! Request-level: exactly what `update` sends (tower-test mock API server).
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::json;

    fn object(version: &str, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "fraud", "namespace": "ml", "resourceVersion": version},
            "spec": {"template": {"spec": {"containers": [{"name": "model", "image": image, "future": 1}]}}}
        })
    }

    type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

    /// A cluster whose API server is the returned handle, and raw access to its Deployments.
    fn mock() -> (Cluster, Api<DynamicObject>, Handle) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "ml");
        let cluster = Cluster {
            proxy_client: client.clone(),
            client,
            namespace: "ml".into(),
            context: None,
            server: "https://mock".into(),
        };
        let api = Api::<DynamicObject>::namespaced_with(
            cluster.client.clone(),
            "ml",
            &kube::api::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
        );
        (cluster, api, handle)
    }

    fn respond(code: u16, body: &Value) -> Response<Body> {
        Response::builder().status(code).body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()
    }

    async fn body_json(request: Request<Body>) -> Value {
        let bytes = request.into_body().collect_bytes().await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_conditional_merge_patch_retried_on_conflict() {
        let (cluster, api, mut handle) = mock();
        let server = tokio::spawn(async move {
            let mut patches = Vec::new();
            for version in ["1", "2"] {
                let (request, send) = handle.next_request().await.expect("GET");
                assert_eq!(request.method(), http::Method::GET);
                assert_eq!(request.uri().path(), "/apis/apps/v1/namespaces/ml/deployments/fraud");
                send.send_response(respond(200, &object(version, "fraud:v1")));
                let (request, send) = handle.next_request().await.expect("PATCH");
                assert_eq!(request.method(), http::Method::PATCH);
                assert_eq!(request.headers()["content-type"], "application/merge-patch+json");
                assert!(request.uri().query().unwrap_or_default().contains("fieldManager=kubectl-modelroll"));
                patches.push(body_json(request).await);
                if version == "1" {
                    let conflict = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "message": "the object has been modified", "reason": "Conflict", "code": 409});
                    send.send_response(respond(409, &conflict));
                } else {
                    send.send_response(respond(200, &object("3", "fraud:v2")));
                }
            }
            patches
        });
        let result = update(&cluster, &api, "fraud", "deployment \"fraud\"", DryRun::None, None, |before| {
            let mut wanted = before.clone();
            wanted["spec"]["template"]["spec"]["containers"][0]["image"] = json!("fraud:v2");
            Ok(wanted)
        })
        .await
        .unwrap();
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
    async fn nothing_to_change_writes_nothing() {
        let (cluster, api, mut handle) = mock();
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.expect("GET");
            assert_eq!(request.method(), http::Method::GET);
            send.send_response(respond(200, &object("1", "fraud:v1")));
        });
        let result =
            update(&cluster, &api, "fraud", "deployment \"fraud\"", DryRun::Server, None, |b| Ok(b.clone()))
                .await
                .unwrap();
        assert!(!result.changed);
        server.await.unwrap();
    }
}
