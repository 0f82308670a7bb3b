//! Compact CRDs written by us for the groups modelroll routes traffic with (`--with istio,
//! gateway-api,knative`), so the playground works with no CRD files at hand. They type the
//! fields modelroll uses as the upstream CRDs do (a test checks our fixtures are accepted and
//! refused alike by these and by the real CRDs in `../shared/crds/`). Installing CRDs into the
//! store, ours or those read from `--crds DIR`, happens here too.

use serde_json::Value;

use super::crds::CrdError;
use super::resources::CRDS;
use super::store::Store;

/// The groups `--with` knows, and their CRDs.
pub const GROUPS: &[(&str, &str)] = &[
    ("istio", include_str!("compact_crds/istio.yaml")),
    ("gateway-api", include_str!("compact_crds/gateway-api.yaml")),
    ("knative", include_str!("compact_crds/knative.yaml")),
];

/// The compact CRDs of one group name (`istio`, `gateway-api`, `knative`).
///
/// # Errors
/// [`CrdError::UnknownGroup`], naming the unknown group and the known ones.
pub fn crds_for(group: &str) -> Result<Vec<Value>, CrdError> {
    let (_, text) = GROUPS.iter().find(|(name, _)| *name == group).ok_or_else(|| CrdError::UnknownGroup {
        group: group.to_string(),
        known: GROUPS.iter().map(|(n, _)| *n).collect(),
    })?;
    let yaml_error = |source| CrdError::CompactYaml { group: group.to_string(), source };
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let mut yaml: serde_yaml::Value = serde::Deserialize::deserialize(doc).map_err(yaml_error)?;
        yaml.apply_merge().map_err(yaml_error)?;
        let value: Value = serde_json::to_value(yaml)
            .map_err(|source| CrdError::CompactJson { group: group.to_string(), source })?;
        match value["items"].as_array() {
            Some(items) if value["kind"] == "List" => out.extend(items.iter().cloned()),
            _ => out.push(value),
        }
    }
    Ok(out)
}

/// Register the compact CRDs of each named group.
///
/// # Errors
/// An unknown group, or a CRD the store refuses.
pub fn install(store: &Store, groups: &[String]) -> Result<(), CrdError> {
    for group in groups {
        let group = group.trim();
        if group.is_empty() {
            continue;
        }
        install_crds(store, crds_for(group)?)?;
    }
    Ok(())
}

/// Create (or replace) CRDs in the store.
///
/// # Errors
/// [`CrdError::Refused`]: the first CRD the store refuses, by name.
pub fn install_crds(store: &Store, crds: Vec<Value>) -> Result<(), CrdError> {
    for mut crd in crds {
        let name = crd["metadata"]["name"].as_str().unwrap_or("").to_string();
        if let Some(meta) = crd["metadata"].as_object_mut() {
            meta.remove("creationTimestamp");
        }
        crd.as_object_mut().map(|m| m.remove("status"));
        let result = match store.get(&CRDS, "", &name) {
            Ok(existing) => {
                crd["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"].clone();
                store.update(&CRDS, crd)
            }
            Err(_) => store.create(&CRDS, crd),
        };
        result.map_err(|source| CrdError::Refused { name, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_installs() {
        let store = Store::new();
        install(&store, &["istio".into(), "gateway-api".into(), "knative".into()]).unwrap();
        let kinds: Vec<String> = store.types().iter().map(|t| format!("{}/{}", t.group, t.plural)).collect();
        for want in [
            "networking.istio.io/virtualservices",
            "gateway.networking.k8s.io/httproutes",
            "serving.knative.dev/services",
        ] {
            assert!(kinds.iter().any(|k| k == want), "{want} missing from {kinds:?}");
        }
        assert!(install(&store, &["linkerd".into()]).is_err());
    }

    #[test]
    fn a_refused_crd_keeps_the_api_servers_answer_as_its_cause() {
        let store = Store::new();
        let crd = serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "wrong.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]},
        });
        let err = install_crds(&store, vec![crd]).unwrap_err();
        let CrdError::Refused { name, source } = &err else { panic!("{err:?}") };
        assert_eq!((name.as_str(), source.code), ("wrong.example.com", 422));
        assert_eq!(
            err.to_string(),
            format!("CustomResourceDefinition \"wrong.example.com\" was refused: {}", source.message)
        );
        let cause = std::error::Error::source(&err).and_then(|c| c.downcast_ref::<crate::ApiError>());
        assert_eq!(cause.map(|c| c.code), Some(422));
        assert!(matches!(crds_for("linkerd"), Err(CrdError::UnknownGroup { .. })));
    }
}
