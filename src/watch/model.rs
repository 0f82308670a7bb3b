//! Waits for the model servers of new pods to say their model is ready (`--model-ready`), and
//! warms them up (`--warmup N`).
//!
//! Each pod is asked through the API server's pod proxy
//! (`/api/v1/namespaces/NS/pods/POD:PORT/proxy/…`) with the kubeconfig's credentials, so it
//! works wherever kubectl works. Pods are asked concurrently, [`PODS_ASKED_AT_ONCE`] at a
//! time, each with its own backoff. The wait hands every pod's model state to its caller as
//! [`ModelProgress`] and draws nothing (`cmd/model_gate.rs` shows it). What an answer means,
//! which port, and the backoff are decided in [`crate::rollout::model_ready`].

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::rollout::model_ready::{
    backoff, capacity_warning, forbidden_sentence, judge, pick_port, said, warmup_line, Answer, ModelGate,
    ModelPhase, PodModel, PODS_ASKED_AT_ONCE, UNREACHABLE_GRACE,
};

/// Which pods to ask, and how to name them.
#[derive(Debug, Clone)]
pub struct ModelCheck {
    /// What the pods are, for messages: `canary deployment/fraud-canary`.
    pub what: String,
    /// The label selector of the new pods.
    pub selector: String,
    /// The pods take traffic as soon as they are Ready (the replicas router): a model still
    /// loading then is a capacity problem to report.
    pub traffic_already: bool,
}

/// How the wait ended (Ctrl-C, and pods that cannot be listed, are errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelOutcome {
    /// Every pod's model is ready (and warmed up): how many pods were asked (none when no pod
    /// was Ready), and a line per pod with its first and last warm-up latency.
    Ready { pods: usize, warmups: Vec<String> },
    /// The pod and the answer named: `pod fraud-canary-x: GET /v2/models/fraud/ready answered 404: …`.
    Failed(String),
    /// The pod proxy is refused by RBAC: the sentence naming the permission.
    Forbidden(String),
}

/// What [`wait_models_ready`] tells as it goes, for its caller to show.
#[derive(Debug, Clone, Copy)]
pub enum ModelProgress<'a> {
    /// The Ready pods to ask were found: this many (told once, before their states; never when
    /// no pod is Ready).
    Asking(usize),
    /// Every pod's model state, after a change.
    States(&'a [PodModel]),
    /// Every pod's model state again, about once a second: only the clocks moved.
    Tick(&'a [PodModel]),
    /// A warning about one pod (its model still loads while the pod already takes traffic).
    Note(&'a str),
}

/// Why one pod does not count.
enum PodFailure {
    Model(String),
    /// The verb refused on pods/proxy, and the API server's sentence.
    Forbidden(&'static str, String),
}

enum Update {
    Phase(String, ModelPhase),
    Note(String),
}

/// One request through the pod proxy: (status, body).
/// A request through the pod proxy that got no answer; said as the cause says it.
#[derive(Debug, thiserror::Error)]
enum ProxyError {
    /// The request could not be built (a path that is no URI).
    #[error(transparent)]
    Request(#[from] http::Error),
    /// The API server did not answer, or its answer broke off.
    #[error(transparent)]
    Send(#[from] kube::Error),
}

async fn proxy(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    port: i32,
    method: http::Method,
    path: &str,
    body: Option<&str>,
) -> std::result::Result<(u16, Bytes), ProxyError> {
    let uri = format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}");
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(kube::client::Body::from(body.unwrap_or_default().as_bytes().to_vec()))?;
    let response = client.send(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect_bytes().await?;
    Ok((status, body))
}

/// Ask one pod until its model is ready (or it fails), then warm it up. Returns the warm-up
/// latencies.
async fn ask_pod(
    client: kube::Client,
    namespace: String,
    pod: Pod,
    gate: ModelGate,
    deadline: Instant,
    traffic_already: bool,
    updates: mpsc::UnboundedSender<Update>,
) -> (String, std::result::Result<Vec<Duration>, PodFailure>) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let result =
        ask_pod_inner(&client, &namespace, &pod, &name, &gate, deadline, traffic_already, &updates).await;
    (name, result)
}

#[allow(clippy::too_many_arguments)]
async fn ask_pod_inner(
    client: &kube::Client,
    namespace: &str,
    pod: &Pod,
    name: &str,
    gate: &ModelGate,
    deadline: Instant,
    traffic_already: bool,
    updates: &mpsc::UnboundedSender<Update>,
) -> std::result::Result<Vec<Duration>, PodFailure> {
    let phase = |phase: ModelPhase| {
        let _ = updates.send(Update::Phase(name.to_string(), phase));
    };
    let port = pick_port(pod).map_err(|e| PodFailure::Model(e.to_string()))?;
    let path = gate.ready_path();
    let mut attempt = 0;
    let mut unreachable_since: Option<Instant> = None;
    let mut warned = false;
    loop {
        let answer = match proxy(client, namespace, name, port, http::Method::GET, &path, None).await {
            Ok((status, body)) => judge(gate, status, &body),
            // The API server itself did not answer: a network blip, asked again.
            Err(e) => Answer::Loading(format!("the API server did not answer: {e}")),
        };
        let last = match answer {
            Answer::Ready => break,
            Answer::Loading(said) => {
                unreachable_since = None;
                if traffic_already && !warned {
                    warned = true;
                    let _ = updates.send(Update::Note(capacity_warning(name, gate, port)));
                }
                said
            }
            Answer::Unreachable(message) => {
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= UNREACHABLE_GRACE {
                    return Err(PodFailure::Model(format!(
                        "nothing answers on port {port} (for {}s): {message}",
                        UNREACHABLE_GRACE.as_secs()
                    )));
                }
                message
            }
            Answer::Failed(message) => return Err(PodFailure::Model(message)),
            Answer::Forbidden(message) => return Err(PodFailure::Forbidden("get", message)),
            Answer::PodGone => {
                return Err(PodFailure::Model("the pod went away while its model server was asked".into()))
            }
        };
        phase(ModelPhase::Loading { said: last.clone() });
        let now = Instant::now();
        if now >= deadline {
            return Err(PodFailure::Model(format!(
                "its model is not ready after {} (--model-ready-timeout); last answer: {last}",
                humantime::format_duration(gate.timeout)
            )));
        }
        tokio::time::sleep(backoff(attempt).min(deadline - now)).await;
        attempt += 1;
    }
    let mut latencies = Vec::new();
    if let (Some(path), Some(body)) = (gate.protocol.inference_path(&gate.model), gate.warmup_body.as_deref())
    {
        for done in 0..gate.warmup {
            phase(ModelPhase::WarmingUp { done, of: gate.warmup });
            let started = Instant::now();
            let (status, answer) =
                proxy(client, namespace, name, port, http::Method::POST, &path, Some(body)).await.map_err(
                    |e| PodFailure::Model(format!("warm-up request {} got no answer: {e}", done + 1)),
                )?;
            let latency = started.elapsed();
            if let Answer::Forbidden(message) = judge(gate, status, &answer) {
                return Err(PodFailure::Forbidden("create", message));
            }
            if !(200..300).contains(&status) {
                return Err(PodFailure::Model(format!(
                    "warm-up request {} (POST {path}) answered {status}: {}",
                    done + 1,
                    said(&answer)
                )));
            }
            latencies.push(latency);
        }
    }
    phase(ModelPhase::Ready);
    Ok(latencies)
}

/// When a pod turned Ready.
fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

/// Ask every Ready pod selected by `check` until its model server says the model is ready
/// (then send the warm-up requests), handing `on_progress` each pod's model state as it goes.
///
/// # Errors
/// Exit 1 when the pods cannot be listed.
pub async fn wait_models_ready(
    cluster: &Cluster,
    gate: &ModelGate,
    check: &ModelCheck,
    mut on_progress: impl FnMut(ModelProgress<'_>),
) -> Result<ModelOutcome> {
    let namespace = cluster.namespace.clone();
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &namespace);
    let listed = pods
        .list(&ListParams::default().labels(&check.selector))
        .await
        .map_err(|e| cluster.api_error(e, &format!("list the pods of {}", check.what)))?;
    let ready: Vec<Pod> = listed
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && ready_since(p).is_some())
        .collect();
    if ready.is_empty() {
        return Ok(ModelOutcome::Ready { pods: 0, warmups: Vec::new() });
    }
    let count = ready.len();
    let mut states: BTreeMap<String, PodModel> = ready
        .iter()
        .map(|p| {
            let pod = p.metadata.name.clone().unwrap_or_default();
            (pod.clone(), PodModel { pod, phase: ModelPhase::Asking, ready_since: ready_since(p) })
        })
        .collect();
    on_progress(ModelProgress::Asking(count));
    let (updates, mut received) = mpsc::unbounded_channel();
    let deadline = Instant::now() + gate.timeout;
    let mut asks = futures::stream::iter(ready.into_iter().map(|pod| {
        ask_pod(
            cluster.proxy_client.clone(),
            namespace.clone(),
            pod,
            gate.clone(),
            deadline,
            check.traffic_already,
            updates.clone(),
        )
    }))
    .buffer_unordered(PODS_ASKED_AT_ONCE);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut warmups = Vec::new();
    let list = |states: &BTreeMap<String, PodModel>| states.values().cloned().collect::<Vec<PodModel>>();
    on_progress(ModelProgress::States(&list(&states)));
    loop {
        tokio::select! {
            Some(update) = received.recv() => {
                match update {
                    Update::Phase(pod, phase) => {
                        if let Some(state) = states.get_mut(&pod) {
                            state.phase = phase;
                        }
                    }
                    Update::Note(line) => on_progress(ModelProgress::Note(&line)),
                }
                on_progress(ModelProgress::States(&list(&states)));
            }
            _ = ticker.tick() => on_progress(ModelProgress::Tick(&list(&states))),
            next = asks.next() => match next {
                None => break,
                Some((pod, Ok(latencies))) => {
                    if let Some(state) = states.get_mut(&pod) {
                        state.phase = ModelPhase::Ready;
                    }
                    warmups.extend(warmup_line(&pod, &latencies));
                    on_progress(ModelProgress::States(&list(&states)));
                }
                Some((pod, Err(PodFailure::Model(why)))) => {
                    return Ok(ModelOutcome::Failed(format!("pod {pod}: {why}")));
                }
                Some((_, Err(PodFailure::Forbidden(verb, message)))) => {
                    return Ok(ModelOutcome::Forbidden(forbidden_sentence(verb, &namespace, &message)));
                }
            },
        }
    }
    Ok(ModelOutcome::Ready { pods: count, warmups })
}

/// The label selector of the pods of Deployment `name`'s current ReplicaSet (the new pods of a
/// rollout).
///
/// # Errors
/// Exit 1 when the Deployment or its ReplicaSets cannot be read, or it has no current one.
pub async fn new_pods_selector(cluster: &Cluster, name: &str) -> Result<String> {
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let deployment =
        deployments.get(name).await.map_err(|e| cluster.api_error(e, &format!("get deployment {name}")))?;
    let selector = crate::watch::label_selector(&deployment)?;
    let revision_key = "deployment.kubernetes.io/revision";
    let revision = deployment.metadata.annotations.as_ref().and_then(|a| a.get(revision_key)).cloned();
    let sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let list = sets
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| cluster.api_error(e, &format!("list the ReplicaSets of deployment {name}")))?;
    let owned_by = |rs: &ReplicaSet| {
        rs.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| Some(&o.uid) == deployment.metadata.uid.as_ref())
    };
    let hash = list
        .items
        .iter()
        .filter(|rs| owned_by(rs))
        .find(|rs| rs.metadata.annotations.as_ref().and_then(|a| a.get(revision_key)) == revision.as_ref())
        .and_then(|rs| rs.metadata.labels.as_ref()?.get("pod-template-hash").cloned())
        .ok_or_else(|| {
            Error::failed(format!("deployment {name} has no current ReplicaSet to ask the pods of"))
        })?;
    Ok(format!("{selector},pod-template-hash={hash}"))
}
