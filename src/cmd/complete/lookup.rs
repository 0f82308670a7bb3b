//! The cluster half of completion: the names a plan asks for (Deployments, Knative Services,
//! containers, routes, namespaces), looked up with the kubeconfig and flags on the line.

use super::*;

/// Carry out the plan; whatever fails answers with no candidates.
pub async fn answer(plan: Plan) -> Completions {
    match plan {
        Plan::Fixed(completions) => completions,
        Plan::Targets { global, canary_only, prefix } => {
            let Some(cluster) = connect(global).await else {
                return Completions::none(directive::NO_FILE_COMP);
            };
            let mut candidates = targets(&cluster, canary_only, &prefix).await.unwrap_or_default();
            candidates.retain(|c| c.value.starts_with(&prefix));
            Completions { candidates, directive: directive::NO_FILE_COMP }
        }
        Plan::Namespaces { global, prefix, value_prefix } => {
            let Some(cluster) = connect(global).await else {
                return Completions::none(directive::NO_FILE_COMP);
            };
            let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
            let candidates = match namespaces.list_metadata(&ListParams::default()).await {
                Ok(list) => list
                    .items
                    .into_iter()
                    .filter_map(|ns| ns.metadata.name)
                    .filter(|name| name.starts_with(&prefix))
                    .map(|name| Candidate::new(format!("{value_prefix}{name}"), None))
                    .collect(),
                Err(_) => Vec::new(),
            };
            Completions { candidates, directive: directive::NO_FILE_COMP }
        }
        Plan::Containers { global, target, prefix, value_prefix, suffix } => {
            let directive = if suffix.is_empty() {
                directive::NO_FILE_COMP
            } else {
                directive::NO_FILE_COMP | directive::NO_SPACE
            };
            let Some(cluster) = connect(global).await else {
                return Completions::none(directive::NO_FILE_COMP);
            };
            let candidates = containers(&cluster, &target)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(name, image)| {
                    Candidate::new(
                        format!("{value_prefix}{name}{suffix}"),
                        Some(format!("container, now {image}")),
                    )
                })
                .collect();
            Completions { candidates, directive }
        }
        Plan::Routes { global, prefix, value_prefix } => {
            let Some(cluster) = connect(global).await else {
                return Completions::none(directive::NO_FILE_COMP);
            };
            let mut candidates = routes(&cluster).await;
            candidates.retain(|c| c.value.starts_with(&prefix));
            for candidate in &mut candidates {
                candidate.value = format!("{value_prefix}{}", candidate.value);
            }
            Completions { candidates, directive: directive::NO_FILE_COMP }
        }
        Plan::Kubeconfig { global, names, prefix, value_prefix } => {
            let kubeconfig_env = std::env::var_os("KUBECONFIG");
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            let Ok(loaded) =
                load_kubeconfig(global.kubeconfig.as_deref(), kubeconfig_env.as_deref(), home.as_deref())
            else {
                return Completions::none(directive::NO_FILE_COMP);
            };
            let config = loaded.config;
            let found: Vec<(String, Option<String>)> = match names {
                KubeconfigNames::Contexts => config
                    .contexts
                    .iter()
                    .map(|c| {
                        let cluster = c.context.as_ref().map(|c| format!("cluster {}", c.cluster));
                        (c.name.clone(), cluster)
                    })
                    .collect(),
                KubeconfigNames::Clusters => config
                    .clusters
                    .iter()
                    .map(|c| (c.name.clone(), c.cluster.as_ref().and_then(|c| c.server.clone())))
                    .collect(),
                KubeconfigNames::Users => config.auth_infos.iter().map(|u| (u.name.clone(), None)).collect(),
            };
            let candidates = found
                .into_iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(name, description)| Candidate::new(format!("{value_prefix}{name}"), description))
                .collect();
            Completions { candidates, directive: directive::NO_FILE_COMP }
        }
    }
}

/// The containers of the Deployment or ksvc `target`, with their images.
pub(super) async fn containers(cluster: &Cluster, target: &str) -> Option<Vec<(String, String)>> {
    let target = Target::parse(target).ok()?;
    let template_containers = match &target {
        Target::Deployment(name) => {
            let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
            let deployment = api.get(name).await.ok()?;
            serde_json::to_value(deployment.spec?.template.spec?.containers).ok()?
        }
        Target::KnativeService(name) => {
            let api: Api<DynamicObject> =
                Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &ksvc_resource());
            let ksvc = api.get(name).await.ok()?;
            ksvc.data.pointer("/spec/template/spec/containers")?.clone()
        }
    };
    let containers = template_containers
        .as_array()?
        .iter()
        .filter_map(|c| {
            let name = c.get("name")?.as_str()?.to_string();
            let image = c.get("image").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
            Some((name, image))
        })
        .collect();
    Some(containers)
}

/// VirtualServices and HTTPRoutes in the namespace, where the cluster serves them.
pub(super) async fn routes(cluster: &Cluster) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for (group, kind) in [(istio::GROUP, "VirtualService"), (gateway_api::GROUP, "HTTPRoute")] {
        let Ok(api_group) = kube::discovery::oneshot::group(&cluster.client, group).await else { continue };
        let Some((resource, _)) = api_group.recommended_kind(kind) else { continue };
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &resource);
        if let Ok(list) = api.list_metadata(&ListParams::default()).await {
            candidates.extend(
                list.items
                    .into_iter()
                    .filter_map(|r| r.metadata.name)
                    .map(|name| Candidate::new(name, Some(kind.to_string()))),
            );
        }
    }
    candidates
}

pub(super) fn ksvc_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk(knative::GROUP, "v1", "Service");
    ApiResource::from_gvk_with_plural(&gvk, "services")
}

pub(super) async fn connect(mut global: GlobalArgs) -> Option<Cluster> {
    global.request_timeout.get_or_insert_with(|| CLUSTER_TIMEOUT.to_string());
    let cluster = Cluster::connect(&global).await.ok()?;
    Some(cluster)
}

/// Kinds a target may be written with, as `Target::parse` reads them.
pub(super) const DEPLOYMENT_KINDS: [&str; 5] =
    ["deploy", "deployment", "deployments", "deployment.apps", "deployments.apps"];
pub(super) const KSVC_KINDS: [&str; 6] =
    ["ksvc", "kservice", "ksvcs", "kservices", "service.serving.knative.dev", "services.serving.knative.dev"];

/// Deployments and ksvcs in the namespace, written as the user started writing them: a bare
/// name is a Deployment, `ksvc/NAME` a Knative Service, `deploy/…` keeps its kind.
pub(super) async fn targets(
    cluster: &Cluster,
    canary_only: bool,
    prefix: &str,
) -> kube::Result<Vec<Candidate>> {
    let kind = prefix.split_once('/').map(|(kind, _)| kind.to_ascii_lowercase());
    let (want_deployments, want_ksvcs) = match kind.as_deref() {
        None => (true, true),
        Some(kind) if DEPLOYMENT_KINDS.contains(&kind) => (true, false),
        Some(kind) if KSVC_KINDS.contains(&kind) => (false, true),
        Some(_) => (false, false),
    };
    let typed_kind = prefix.split_once('/').map(|(kind, _)| kind);
    let mut candidates = Vec::new();
    if want_deployments {
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let deployments = api.list_metadata(&ListParams::default()).await?.items;
        for deployment in &deployments {
            let Some(name) = deployment.metadata.name.as_deref() else { continue };
            let labels = deployment.metadata.labels.as_ref();
            // Knative's revision Deployments are reached through their ksvc.
            if labels.is_some_and(|l| l.contains_key("serving.knative.dev/service")) {
                continue;
            }
            // A canary Deployment is handled through its stable one.
            if deployment.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(CANARY_OF_ANNOTATION))
            {
                continue;
            }
            if canary_only && !has_canary(deployment) {
                continue;
            }
            let value = match typed_kind {
                Some(kind) => format!("{kind}/{name}"),
                None => name.to_string(),
            };
            candidates.push(Candidate::new(value, Some(describe("Deployment", deployment))));
        }
    }
    if want_ksvcs {
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &ksvc_resource());
        // No Knative in the cluster (404) or no right to list it: offer the Deployments alone.
        if let Ok(list) = api.list_metadata(&ListParams::default()).await {
            for ksvc in &list.items {
                let Some(name) = ksvc.metadata.name.as_deref() else { continue };
                if canary_only && !has_canary(ksvc) {
                    continue;
                }
                let kind = typed_kind.unwrap_or("ksvc");
                candidates
                    .push(Candidate::new(format!("{kind}/{name}"), Some(describe("Knative Service", ksvc))));
            }
        }
    }
    Ok(candidates)
}

pub(super) fn has_canary<K>(object: &PartialObjectMeta<K>) -> bool {
    object.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(ROLLOUT_ANNOTATION))
}

/// "Deployment", or "Deployment, Canary (10%)" while a canary is in progress.
pub(super) fn describe<K>(kind: &str, object: &PartialObjectMeta<K>) -> String {
    match RolloutState::from_annotations(object.metadata.annotations.as_ref()) {
        Ok(Some(state)) => format!("{kind}, {}", state.phase_text()),
        Ok(None) => kind.to_string(),
        Err(_) => format!("{kind}, canary state unreadable"),
    }
}
