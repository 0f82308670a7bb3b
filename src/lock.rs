//! Holds a model's operation lease while a write command runs, so that two commands never
//! interleave their writes on one model (issue 11: two `shift`s at once left the annotation at
//! 70% and the VirtualService at 60%).
//!
//! The lease is a `coordination.k8s.io/v1` Lease in the model's namespace (all state lives in the
//! cluster): created, or taken over once expired, with resourceVersion preconditions so that of
//! two commands racing for it exactly one wins; renewed every [`RENEW_EVERY`] while the command
//! runs (one conditional request each); deleted when it ends, Ctrl-C included. A holder that dies without deleting it (SIGKILL)
//! blocks the model until `renewTime + leaseDurationSeconds`. Reads never take it, nor do dry
//! runs. What to decide about a lease is in [`crate::rollout::lock`].

use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use crate::cluster::{Cluster, Target};
use crate::error::{Error, Result};
use crate::rollout::lock::{
    host_and_pid, identity, lease_name, refusal, verdict, LeaseRecord, Verdict, HOLDER_ANNOTATION,
    LEASE_DURATION, OPERATION_ANNOTATION, RENEW_EVERY,
};
use crate::settings::DryRun;
use crate::write::WRITE_ATTEMPTS;

/// The lease this process holds, if any: released by [`release`] when the command ends, or by
/// the Ctrl-C handler before it exits.
static HELD: Mutex<Option<Held>> = Mutex::new(None);

/// A lease this process holds, and the task renewing it.
struct Held {
    api: Api<Lease>,
    name: String,
    identity: String,
    renewer: tokio::task::JoinHandle<()>,
    /// The version of the lease this process last wrote, kept current by the renewer.
    written: LastWritten,
}

/// The resourceVersion and uid of the lease as this process last wrote it: the preconditions of
/// a delete that needs no read first (any later write by anyone fails it).
type LastWritten = Arc<Mutex<Option<Preconditions>>>;

fn preconditions(lease: &Lease) -> Preconditions {
    Preconditions {
        resource_version: lease.metadata.resource_version.clone(),
        uid: lease.metadata.uid.clone(),
    }
}

/// Take the operation lease of `target` for `operation` (`shift`), or refuse with a sentence
/// naming the command holding it. Dry runs take nothing.
///
/// # Errors
/// Exit 1 when another operation holds the lease, when the lease cannot be read or written
/// (e.g. RBAC does not allow leases: the sentence names the missing permission), or when the
/// race for it kept conflicting.
pub async fn hold(cluster: &Cluster, target: &Target, operation: &str, dry_run: DryRun) -> Result<()> {
    if dry_run != DryRun::None {
        return Ok(());
    }
    let (kind, model) = match target {
        Target::Deployment(name) => ("deployment", name),
        Target::KnativeService(name) => ("ksvc", name),
    };
    let name = lease_name(kind, model);
    // A command that runs another one on the same model (a failed metric check aborts the
    // canary as `abort` does) already holds its lease.
    if HELD.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(|h| h.name == name) {
        return Ok(());
    }
    let api: Api<Lease> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let holder = holder();
    let identity = identity(&holder, std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    for _ in 0..WRITE_ATTEMPTS {
        let current = api.get_opt(&name).await.map_err(|e| {
            cluster.api_error(e, &format!("read the lease {name:?} (leases.coordination.k8s.io)"))
        })?;
        let record = current.as_ref().map(record_of);
        let now = Timestamp::now();
        let gone = record.as_ref().is_some_and(|r| holder_process_gone(&r.holder_identity));
        // Our own earlier attempt was applied though its answer was lost (a connection cut, then
        // a retry that met 409): the lease is ours already.
        let ours = record.as_ref().is_some_and(|r| r.holder_identity == identity);
        let written = match verdict(record.as_ref(), now, gone) {
            _ if ours => Ok(current.expect("our lease exists")),
            Verdict::Held => {
                let record = record.expect("a held lease exists");
                return Err(Error::failed(refusal(&target.to_string(), &name, &record, now)));
            }
            Verdict::Create => {
                let lease = lease(&name, operation, &holder, &identity, now, 0, None);
                api.create(&PostParams::default(), &lease).await
            }
            Verdict::TakeOver => {
                let current = current.expect("a lease to take over exists");
                let transitions = current.spec.as_ref().and_then(|s| s.lease_transitions).unwrap_or(0) + 1;
                let version = current.metadata.resource_version.clone();
                let lease = lease(&name, operation, &holder, &identity, now, transitions, version);
                api.replace(&name, &PostParams::default(), &lease).await
            }
        };
        match written {
            Ok(lease) => {
                let written = Arc::new(Mutex::new(Some(preconditions(&lease))));
                let renewer =
                    tokio::spawn(renew(api.clone(), name.clone(), identity.clone(), lease, written.clone()));
                let previous = HELD.lock().unwrap_or_else(PoisonError::into_inner).replace(Held {
                    api,
                    name,
                    identity,
                    renewer,
                    written,
                });
                if let Some(previous) = previous {
                    previous.renewer.abort();
                }
                return Ok(());
            }
            // Another command created or took it first: read again, and name it.
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => {
                return Err(
                    cluster.api_error(e, &format!("write the lease {name:?} (leases.coordination.k8s.io)"))
                )
            }
        }
    }
    Err(crate::write::kept_conflicting("take", &format!("the lease {name:?}")))
}

/// Give the lease back (delete it, if it is still ours). Never fails the command: a lease that
/// cannot be deleted expires on its own.
pub async fn release() {
    let held = HELD.lock().unwrap_or_else(PoisonError::into_inner).take();
    let Some(held) = held else { return };
    held.renewer.abort();
    // Bounded: an unreachable API server must not keep the command from ending; after this
    // long the lease has expired anyway.
    let released = tokio::time::timeout(LEASE_DURATION, async {
        // The version last written is still ours unless someone wrote since (a renewal cut
        // short by the abort above, a takeover): one request, the command's last. A conflict
        // reads the lease first, as below.
        let written = held.written.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(preconditions) = written {
            let params = DeleteParams { preconditions: Some(preconditions), ..DeleteParams::default() };
            match held.api.delete(&held.name, &params).await {
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                _ => return,
            }
        }
        for _ in 0..WRITE_ATTEMPTS {
            let Ok(Some(current)) = held.api.get_opt(&held.name).await else { return };
            if current.spec.as_ref().and_then(|s| s.holder_identity.as_deref())
                != Some(held.identity.as_str())
            {
                return;
            }
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: current.metadata.resource_version.clone(),
                    uid: current.metadata.uid.clone(),
                }),
                ..DeleteParams::default()
            };
            match held.api.delete(&held.name, &params).await {
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                _ => return,
            }
        }
    })
    .await;
    if released.is_err() {
        tracing::debug!("the lease {:?} was not released in time; it expires on its own", held.name);
    }
}

/// Renew the lease every [`RENEW_EVERY`] until aborted or the lease is found taken by another
/// holder. A renewal is one request: a PUT of `lease` (as this process last wrote it) carrying its
/// resourceVersion, so it cannot overwrite anyone else's write. A conflict means the lease was
/// written since: it is read, and renewed at once if it is still ours (someone edited its labels,
/// or our last renewal was applied though its answer was lost); otherwise renewing stops. What
/// it writes is recorded in `written`, for [`release`].
async fn renew(api: Api<Lease>, name: String, identity: String, mut lease: Lease, written: LastWritten) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        for _ in 0..WRITE_ATTEMPTS {
            lease.spec.get_or_insert_with(LeaseSpec::default).renew_time = Some(MicroTime(Timestamp::now()));
            match api.replace(&name, &PostParams::default(), &lease).await {
                Ok(renewed) => {
                    *written.lock().unwrap_or_else(PoisonError::into_inner) = Some(preconditions(&renewed));
                    lease = renewed;
                    break;
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    tracing::warn!("the lease {name:?} was deleted while this command held it");
                    return;
                }
                Err(e) => {
                    // A failed renewal is retried at the next tick; the lease outlives two of them.
                    tracing::debug!("renewing the lease {name:?}: {e}");
                    break;
                }
            }
            match api.get_opt(&name).await {
                Ok(Some(current)) => {
                    let holder = current.spec.as_ref().and_then(|s| s.holder_identity.clone());
                    if holder.as_deref() != Some(identity.as_str()) {
                        tracing::warn!("the lease {name:?} was taken over by {holder:?}");
                        return;
                    }
                    lease = current;
                }
                Ok(None) => {
                    tracing::warn!("the lease {name:?} was deleted while this command held it");
                    return;
                }
                Err(e) => {
                    tracing::debug!("renewing the lease {name:?}: {e}");
                    break;
                }
            }
        }
    }
}

/// The Lease object this process writes.
fn lease(
    name: &str,
    operation: &str,
    holder: &str,
    identity: &str,
    now: Timestamp,
    transitions: i32,
    resource_version: Option<String>,
) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            resource_version,
            labels: Some(
                [("app.kubernetes.io/managed-by".to_string(), "kubectl-modelroll".to_string())].into(),
            ),
            annotations: Some(
                [
                    (OPERATION_ANNOTATION.to_string(), operation.to_string()),
                    (HOLDER_ANNOTATION.to_string(), holder.to_string()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(identity.to_string()),
            lease_duration_seconds: Some(i32::try_from(LEASE_DURATION.as_secs()).unwrap_or(i32::MAX)),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }),
    }
}

fn record_of(lease: &Lease) -> LeaseRecord {
    let spec = lease.spec.clone().unwrap_or_default();
    let annotation =
        |key: &str| lease.metadata.annotations.as_ref().and_then(|a| a.get(key)).cloned().unwrap_or_default();
    LeaseRecord {
        holder_identity: spec.holder_identity.unwrap_or_default(),
        operation: annotation(OPERATION_ANNOTATION),
        holder: annotation(HOLDER_ANNOTATION),
        acquired: spec.acquire_time.map(|t| t.0),
        renewed: spec.renew_time.map(|t| t.0),
        duration_seconds: spec.lease_duration_seconds,
    }
}

/// Whether `identity` names a process of this machine that no longer runs (its command was
/// killed). Only a missing `/proc/PID` counts, with `/proc` there to look: anywhere else the
/// lease has to run out.
fn holder_process_gone(identity: &str) -> bool {
    let Some((host, pid)) = host_and_pid(identity) else { return false };
    host == this_host()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// `user@host`, as the refusal names the holder to a colleague.
fn holder() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    format!("{user}@{}", this_host())
}

#[cfg(test)]
mod tests {
    //! Request-level: what renewing and releasing send (tower-test mock API server, as in
    //! `crate::write`).
    use super::*;
    use http::{Method, Request, Response};
    use kube::client::Body;
    use serde_json::{json, Value};

    const PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/ml/leases/modelroll-deployment-fraud";

    fn lease_json(version: &str, holder: &str) -> Value {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "modelroll-deployment-fraud", "namespace": "ml", "resourceVersion": version},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30,
                     "renewTime": "2026-01-01T10:00:00.000000Z"}
        })
    }

    type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

    fn respond(code: u16, body: &Value) -> Response<Body> {
        Response::builder().status(code).body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_renewal_is_one_conditional_put_every_renew_every_until_another_holder_has_it() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let api: Api<Lease> = Api::namespaced(kube::Client::new(service, "ml"), "ml");
        let created: Lease = serde_json::from_value(lease_json("1", "me")).unwrap();
        let start = tokio::time::Instant::now();
        let written: LastWritten = Arc::new(Mutex::new(None));
        let renewer = tokio::spawn(renew(
            api,
            "modelroll-deployment-fraud".into(),
            "me".into(),
            created,
            written.clone(),
        ));
        let mut seen = Vec::new();
        let mut next = async |code: u16, answer: Value| {
            let (request, send) = handle.next_request().await.expect("a request");
            let method = request.method().clone();
            assert_eq!(request.uri().path(), PATH);
            let body = request.into_body().collect_bytes().await.unwrap();
            let version = serde_json::from_slice::<Value>(&body)
                .map(|b| b["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string())
                .unwrap_or_default();
            seen.push((method, version, start.elapsed().as_secs()));
            send.send_response(respond(code, &answer));
        };
        // Two renewals, each a PUT of the version last written, RENEW_EVERY apart.
        next(200, lease_json("2", "me")).await;
        next(200, lease_json("3", "me")).await;
        // Someone edited the lease (still ours): one read, and the renewal is made at once on it.
        next(409, json!({"kind": "Status", "code": 409, "reason": "Conflict"})).await;
        next(200, lease_json("7", "me")).await;
        next(200, lease_json("8", "me")).await;
        // Another command took it over (ours had expired): read, and renewing stops.
        next(409, json!({"kind": "Status", "code": 409, "reason": "Conflict"})).await;
        next(200, lease_json("9", "someone-else")).await;
        renewer.await.unwrap();
        let every = RENEW_EVERY.as_secs();
        assert_eq!(
            seen,
            [
                (Method::PUT, "1".to_string(), every),
                (Method::PUT, "2".to_string(), 2 * every),
                (Method::PUT, "3".to_string(), 3 * every),
                (Method::GET, String::new(), 3 * every),
                (Method::PUT, "7".to_string(), 3 * every),
                (Method::PUT, "8".to_string(), 4 * every),
                (Method::GET, String::new(), 4 * every),
            ]
        );
        // What release would delete: the version last written by this process.
        let last = written.lock().unwrap().clone().expect("a renewal was recorded");
        assert_eq!(last.resource_version.as_deref(), Some("8"));
    }

    /// Answer the next request, which must be `method` on the lease; returns its JSON body.
    async fn expect(handle: &mut Handle, method: Method, code: u16, answer: &Value) -> Value {
        let (request, send) = handle.next_request().await.expect("a request");
        assert_eq!((request.method(), request.uri().path()), (&method, PATH));
        let body = request.into_body().collect_bytes().await.unwrap();
        send.send_response(respond(code, answer));
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    }

    /// Hold the lease as `hold` leaves it, last written at `resource_version`, over a mock API.
    fn held(resource_version: &str) -> Handle {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let api = Api::namespaced(kube::Client::new(service, "ml"), "ml");
        let written = Some(Preconditions {
            resource_version: Some(resource_version.to_string()),
            uid: Some("lease-uid".into()),
        });
        *HELD.lock().unwrap() = Some(Held {
            api,
            name: "modelroll-deployment-fraud".into(),
            identity: "me".into(),
            renewer: tokio::spawn(std::future::pending()),
            written: Arc::new(Mutex::new(written)),
        });
        handle
    }

    /// The command's last request is one DELETE of the version it last wrote (no read first);
    /// when that version is no longer the lease's (a renewal landed after all), the lease is
    /// read and deleted at its new version if it is still ours. One test: HELD is process-wide.
    #[tokio::test]
    async fn release_deletes_the_version_it_wrote_and_reads_only_after_a_conflict() {
        let success = json!({"kind": "Status", "apiVersion": "v1", "status": "Success"});
        let conflict = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "reason": "Conflict", "code": 409, "message": "the object has been modified"});

        let mut handle = held("7");
        let answer = success.clone();
        let server = tokio::spawn(async move {
            let body = expect(&mut handle, Method::DELETE, 200, &answer).await;
            assert_eq!(body["preconditions"], json!({"resourceVersion": "7", "uid": "lease-uid"}));
            assert!(handle.next_request().await.is_none(), "one request in all");
        });
        release().await;
        server.await.unwrap();

        let mut handle = held("7");
        let server = tokio::spawn(async move {
            expect(&mut handle, Method::DELETE, 409, &conflict).await;
            let mut lease = lease_json("9", "me");
            lease["metadata"]["uid"] = json!("lease-uid");
            expect(&mut handle, Method::GET, 200, &lease).await;
            let body = expect(&mut handle, Method::DELETE, 200, &success).await;
            assert_eq!(body["preconditions"], json!({"resourceVersion": "9", "uid": "lease-uid"}));
            assert!(handle.next_request().await.is_none(), "nothing after the delete");
        });
        release().await;
        server.await.unwrap();
        assert!(HELD.lock().unwrap().is_none());
    }
}
