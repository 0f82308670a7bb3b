//! Reads of a model's objects shared by the rolling commands: the Deployment (raw JSON, for
//! writes that keep unknown fields, and typed), its ReplicaSets and pods by its label selector,
//! and Knative Services and Revisions. Each read is one API request.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::rollout::pod::PodSummary;
use crate::settings::DryRun;
use crate::watch::{knative_revision_resource, knative_service_resource};
use crate::write::{display_name, Update, Writer};

/// `set-image` and `undo` are refused (exit 2) while a canary runs on `raw` (the target as read):
/// promote or abort decide what stable becomes, and a stable changed under a canary would be
/// replaced by promote or served beside a canary of another base.
///
/// # Errors
/// Exit 2 naming the two ways to finish the canary.
pub async fn refuse_during_canary(
    cluster: &Cluster,
    target: &crate::cluster::Target,
    raw: &Value,
    verb: &str,
) -> Result<()> {
    let annotations =
        raw.pointer("/metadata/annotations").and_then(|a| serde_json::from_value(a.clone()).ok());
    let annotations = without_stale_record(cluster, annotations.as_ref()).await?;
    if crate::rollout::state::RolloutState::from_annotations(annotations.as_ref()).is_ok_and(|s| s.is_none())
    {
        return Ok(());
    }
    Err(Error::usage(format!(
        "a canary of {target} is in progress; finish it with `kubectl modelroll promote {target}` or `kubectl modelroll abort {target}` before {verb}"
    )))
}

/// A Deployment's `annotations` with a stale copy of the canary record left out: one that names
/// a canary Deployment by uid that no longer exists (or was replaced), brought back by a rollback
/// from a ReplicaSet ([`RolloutState::is_stale`]). An abort in progress is never stale: it
/// finishes what it started after its canary is gone.
///
/// # Errors
/// When the canary Deployment cannot be read.
pub async fn without_stale_record(
    cluster: &Cluster,
    annotations: Option<&std::collections::BTreeMap<String, String>>,
) -> Result<Option<std::collections::BTreeMap<String, String>>> {
    without_stale_record_of(cluster, annotations, &[]).await
}

/// [`without_stale_record`], with ReplicaSets already read: the canary's uid is taken from the
/// owner of its ReplicaSet when one is among them (no request), else read.
///
/// # Errors
/// When the canary Deployment cannot be read.
pub async fn without_stale_record_of(
    cluster: &Cluster,
    annotations: Option<&std::collections::BTreeMap<String, String>>,
    replica_sets: &[ReplicaSet],
) -> Result<Option<std::collections::BTreeMap<String, String>>> {
    use crate::rollout::state::{Phase, RolloutState, ROLLOUT_ANNOTATION};
    let Ok(Some(state)) = RolloutState::from_annotations(annotations) else {
        return Ok(annotations.cloned());
    };
    if state.canary_uid.is_none() || state.phase == Phase::Aborting {
        return Ok(annotations.cloned());
    }
    let owned = replica_sets.iter().find_map(|rs| {
        rs.metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "Deployment" && o.name == state.canary)
    });
    let live_uid = match owned {
        Some(owner) => Some(owner.uid.clone()),
        None => {
            let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
            deployments
                .get_opt(&state.canary)
                .await
                .map_err(|e| cluster.api_error(e, &format!("get deployment {}", state.canary)))?
                .and_then(|c| c.metadata.uid)
        }
    };
    if !state.is_stale(live_uid.as_deref()) {
        return Ok(annotations.cloned());
    }
    tracing::info!(
        "ignoring a stale {ROLLOUT_ANNOTATION} record: canary deployment {} is gone (a rollback copied the record back from a ReplicaSet)",
        state.canary
    );
    Ok(annotations.cloned().map(|mut a| {
        a.remove(ROLLOUT_ANNOTATION);
        a
    }))
}

/// The Deployment API resource, for raw (`DynamicObject`) access.
pub fn deployment_resource() -> ApiResource {
    ApiResource::erase::<Deployment>(&())
}

/// Raw access to Deployments in the command's namespace.
pub fn deployments_raw(cluster: &Cluster) -> Api<DynamicObject> {
    Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &deployment_resource())
}

/// Raw access to Knative Services in the command's namespace.
pub fn knative_services(cluster: &Cluster) -> Api<DynamicObject> {
    Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &knative_service_resource())
}

/// Change one object through the one conditional write ([`Writer::update_from`]), for the
/// verbs that change a single object (`set-image`, `undo`): `initial` is the object just read,
/// `edit` computes the object wanted from the one it is given (again after a conflict).
///
/// # Errors
/// See [`Writer::update_from`]; exit 1 when the object was deleted meanwhile.
pub async fn update_one(
    cluster: &Cluster,
    kind: &ApiResource,
    name: &str,
    dry_run: DryRun,
    initial: Option<Value>,
    edit: impl FnMut(&Value) -> Result<Value>,
) -> Result<Update> {
    Writer::new(cluster.clone(), dry_run).update_from(kind, name, initial, edit).await?.ok_or_else(|| {
        Error::failed(format!("{} was deleted while modelroll changed it", display_name(kind, name)))
    })
}

/// A raw object as the typed one.
///
/// # Errors
/// The object does not have the shape of `T` (a bug or a very odd server).
pub fn typed<T: serde::de::DeserializeOwned>(raw: &Value, what: &str) -> Result<T> {
    serde_json::from_value(raw.clone()).map_err(|e| {
        Error::failed(format!("cannot understand {what} as the API server returned it: {e}")).with_source(e)
    })
}

/// Get Deployment `name`: raw and typed.
///
/// # Errors
/// Not found (exit 2) or refused (exit 1), in one sentence.
pub async fn get_deployment(cluster: &Cluster, name: &str) -> Result<(Value, Deployment)> {
    let object = match deployments_raw(cluster).get(name).await {
        Ok(object) => object,
        Err(kube::Error::Api(status))
            if status.code == 404 && knative_service_exists(cluster, name).await =>
        {
            return Err(Error::usage(format!(
                "deployment {name:?} not found in namespace {}; did you mean ksvc/{name}?",
                cluster.namespace
            )));
        }
        Err(e) => return Err(cluster.api_error(e, &format!("get deployment {name:?}"))),
    };
    let raw = serde_json::to_value(&object)
        .map_err(|e| Error::failed(format!("cannot read deployment {name:?}: {e}")).with_source(e))?;
    let deployment = typed(&raw, &format!("deployment {name:?}"))?;
    Ok((raw, deployment))
}

/// Whether a Knative Service `name` exists (for "did you mean ksvc/NAME?"); `false` when Knative
/// is not installed or the read is refused: the hint is a courtesy, never a new failure.
async fn knative_service_exists(cluster: &Cluster, name: &str) -> bool {
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &knative_service_resource());
    matches!(api.get_opt(name).await, Ok(Some(_)))
}

pub use crate::watch::label_selector as selector_of;

/// The ReplicaSets matching the Deployment's selector (one request; ownership is checked by the
/// callers through owner references).
///
/// # Errors
/// The list is refused.
pub async fn replica_sets_of(cluster: &Cluster, deployment: &Deployment) -> Result<Vec<ReplicaSet>> {
    let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let params = ListParams::default().labels(&selector_of(deployment)?);
    Ok(api.list(&params).await.map_err(|e| cluster.api_error(e, "list replicasets"))?.items)
}

/// The pods matching a label selector (one request), as summaries.
///
/// # Errors
/// The list is refused.
pub async fn pods_matching(cluster: &Cluster, selector: &str) -> Result<Vec<PodSummary>> {
    crate::watch::list_summaries(&cluster.client, Some(&cluster.namespace), Some(selector))
        .await
        .map_err(|e| cluster.api_error(e, "list pods"))
}

/// Get Knative Service `name` (raw).
///
/// # Errors
/// Not found, Knative not installed (exit 2), or refused (exit 1).
pub async fn get_knative_service(cluster: &Cluster, name: &str) -> Result<Value> {
    let object = knative_services(cluster)
        .get(name)
        .await
        .map_err(|e| cluster.api_error(e, &format!("get ksvc {name:?}")))?;
    serde_json::to_value(&object)
        .map_err(|e| Error::failed(format!("cannot read ksvc {name:?}: {e}")).with_source(e))
}

/// The Revisions of Knative Service `name` (raw, one request).
///
/// # Errors
/// The list is refused.
pub async fn knative_revisions(cluster: &Cluster, name: &str) -> Result<Vec<Value>> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &knative_revision_resource());
    let list = api
        .list(&ListParams::default().labels(&format!("serving.knative.dev/service={name}")))
        .await
        .map_err(|e| cluster.api_error(e, "list knative revisions"))?;
    list.items
        .iter()
        .map(|r| serde_json::to_value(r).map_err(|e| Error::failed(format!("cannot read a revision: {e}"))))
        .collect()
}

/// The route object that carries a Deployment canary's weight (the VirtualService or HTTPRoute of
/// `routing`) in namespace `namespace`, as it is now; `None` for the replicas router, or when it
/// is gone. One request (two when the cluster serves only the older API version).
///
/// # Errors
/// The read is refused.
pub async fn route_object(
    cluster: &Cluster,
    namespace: &str,
    routing: &crate::rollout::state::Routing,
) -> Result<Option<Value>> {
    use crate::rollout::state::{GatewayApiRouting, IstioRouting, Routing};
    let (group, kind, plural, name) = match routing {
        Routing::Istio(IstioRouting { virtual_service, .. }) => {
            (crate::router::istio::GROUP, "VirtualService", "virtualservices", virtual_service)
        }
        Routing::GatewayApi(GatewayApiRouting { http_route, .. }) => {
            (crate::router::gateway_api::GROUP, "HTTPRoute", "httproutes", http_route)
        }
        _ => return Ok(None),
    };
    for version in ["v1", "v1beta1"] {
        let resource = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), namespace, &resource);
        let found = api
            .get_opt(name)
            .await
            .map_err(|e| cluster.api_error(e, &format!("get {} {name}", kind.to_ascii_lowercase())))?;
        if let Some(object) = found {
            return Ok(serde_json::to_value(object).ok());
        }
    }
    Ok(None)
}

/// `-n NS ` when the namespace is not `default`, for commands suggested to the user.
pub fn namespace_flag(cluster: &Cluster) -> String {
    if cluster.namespace == "default" {
        String::new()
    } else {
        format!("-n {} ", cluster.namespace)
    }
}
