//! Validation of objects before they are stored: built-in kinds must decode as their
//! k8s-openapi types (unknown fields dropped, as the API server drops them) and pass the checks
//! kube-apiserver makes; custom resources are pruned and checked against their CRD's schema.
//! Refusals are 422 Invalid with the API server's field paths and texts.
//!
//! This file decodes and dispatches by kind; the rules are modules of their own: `meta` (every
//! kind's ObjectMeta), `pods`, `workloads` (Deployment, ReplicaSet, HorizontalPodAutoscaler),
//! `service`, `lease`, `rbac` (Roles and bindings); CRDs are checked in `crds.rs`.

mod lease;
mod meta;
mod pods;
mod rbac;
mod service;
mod workloads;

use serde_json::Value;

use self::lease::lease;
use self::meta::metadata;
use self::pods::{pod_spec, pod_update};
use self::rbac::role_or_binding;
use self::service::service;
use self::workloads::{horizontal_pod_autoscaler, workload};
use super::errors::{ApiError, InvalidField};
use super::resources::ResourceType;

/// Decode `object` as `T`: a missing required field is a 422 naming it; a type mismatch is the
/// 400 the API server's decoder answers. Returns the object re-encoded (unknown fields dropped)
/// and the paths of the unknown fields.
fn decode<T>(ty: &ResourceType, version: &str, object: &Value) -> Result<(Value, Vec<String>), ApiError>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    let typed: T = match serde_path_to_error::deserialize(object) {
        Ok(t) => t,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.inner().to_string();
            if let Some(field) = inner.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                let full = if path == "." || path.is_empty() {
                    field.to_string()
                } else {
                    format!("{path}.{field}")
                };
                return Err(ApiError::invalid(
                    &ty.group,
                    &ty.kind,
                    name,
                    &[InvalidField::required(full, "")],
                ));
            }
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {path}: {inner}",
                kind = ty.kind
            )));
        }
    };
    let encoded = serde_json::to_value(&typed).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut unknown = Vec::new();
    unknown_fields(object, &encoded, "", &mut unknown);
    Ok((encoded, unknown))
}

/// Paths present (non-null) in `original` but not in `encoded`.
fn unknown_fields(original: &Value, encoded: &Value, path: &str, out: &mut Vec<String>) {
    match (original, encoded) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match b.get(k) {
                    None if !v.is_null() => out.push(p),
                    Some(w) => unknown_fields(v, w, &p, out),
                    None => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                unknown_fields(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Validate (and normalise) an object about to be stored; `old` is the stored object on update.
/// Built-in objects are replaced by their decoded form, custom resources are pruned.
///
/// # Errors
/// 422 Invalid with every cause found, or 400 when the object does not decode.
pub fn validate(
    ty: &ResourceType,
    version: &str,
    object: &mut Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    validate_reporting(ty, version, object, old).map(|_| ())
}

/// As [`validate`], returning the unknown fields that were dropped (for `fieldValidation`).
///
/// # Errors
/// As [`validate`].
pub fn validate_reporting(
    ty: &ResourceType,
    version: &str,
    object: &mut Value,
    old: Option<&Value>,
) -> Result<Vec<String>, ApiError> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, discovery::v1 as discovery};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    let mut causes = Vec::new();
    metadata(ty, object, &mut causes);
    let name = object["metadata"]["name"].as_str().unwrap_or("").to_string();
    let unknown = match (ty.group.as_str(), ty.plural.as_str()) {
        ("", "namespaces") => normalise::<core::Namespace>(ty, version, object)?,
        ("", "nodes") => normalise::<core::Node>(ty, version, object)?,
        ("", "pods") => {
            let unknown = normalise::<core::Pod>(ty, version, object)?;
            pod_spec("spec", &object["spec"], &mut causes);
            if let Some(old) = old {
                pod_update(old, object, &mut causes);
            }
            unknown
        }
        ("", "services") => {
            let unknown = normalise::<core::Service>(ty, version, object)?;
            service(object, &mut causes);
            unknown
        }
        ("", "configmaps") => normalise::<core::ConfigMap>(ty, version, object)?,
        ("", "events") => normalise::<core::Event>(ty, version, object)?,
        ("discovery.k8s.io", "endpointslices") => normalise::<discovery::EndpointSlice>(ty, version, object)?,
        ("apps", "deployments") => {
            let unknown = normalise::<apps::Deployment>(ty, version, object)?;
            workload(object, old, true, &mut causes);
            unknown
        }
        ("apps", "replicasets") => {
            let unknown = normalise::<apps::ReplicaSet>(ty, version, object)?;
            workload(object, old, false, &mut causes);
            unknown
        }
        ("autoscaling", "horizontalpodautoscalers") => {
            use k8s_openapi::api::autoscaling::v2 as autoscaling;
            let unknown = normalise::<autoscaling::HorizontalPodAutoscaler>(ty, version, object)?;
            horizontal_pod_autoscaler(&object["spec"], &mut causes);
            unknown
        }
        (
            "rbac.authorization.k8s.io",
            resource @ ("roles" | "clusterroles" | "rolebindings" | "clusterrolebindings"),
        ) => {
            use k8s_openapi::api::rbac::v1 as rbac;
            let unknown = match resource {
                "roles" => normalise::<rbac::Role>(ty, version, object)?,
                "clusterroles" => normalise::<rbac::ClusterRole>(ty, version, object)?,
                "rolebindings" => normalise::<rbac::RoleBinding>(ty, version, object)?,
                _ => normalise::<rbac::ClusterRoleBinding>(ty, version, object)?,
            };
            role_or_binding(resource, object, old, &mut causes);
            unknown
        }
        ("coordination.k8s.io", "leases") => {
            let unknown = normalise::<k8s_openapi::api::coordination::v1::Lease>(ty, version, object)?;
            lease(object, &mut causes);
            unknown
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            let unknown = normalise::<apiext::CustomResourceDefinition>(ty, version, object)?;
            super::crds::validate_crd(object, old, &mut causes);
            unknown
        }
        _ => {
            let stored_version = object["apiVersion"]
                .as_str()
                .and_then(|v| v.rsplit('/').next())
                .unwrap_or(version)
                .to_string();
            match ty.schemas.as_ref().and_then(|s| s.get(&stored_version)) {
                Some(schema) => {
                    let dropped = super::schema::prune(schema, object);
                    causes.extend(super::schema::validate_custom(schema, object));
                    dropped
                }
                None => Vec::new(),
            }
        }
    };
    if causes.is_empty() {
        Ok(unknown)
    } else {
        Err(ApiError::invalid(&ty.group, &ty.kind, &name, &causes))
    }
}

/// The fields of `object` the API server would drop as unknown (for `fieldValidation`); empty
/// when the object does not decode (validation reports that).
pub fn unknown_fields_of(ty: &ResourceType, version: &str, object: &mut Value) -> Vec<String> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, discovery::v1 as discovery};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    let found = match (ty.group.as_str(), ty.plural.as_str()) {
        ("", "namespaces") => decode::<core::Namespace>(ty, version, object),
        ("", "nodes") => decode::<core::Node>(ty, version, object),
        ("", "pods") => decode::<core::Pod>(ty, version, object),
        ("", "services") => decode::<core::Service>(ty, version, object),
        ("", "configmaps") => decode::<core::ConfigMap>(ty, version, object),
        ("", "events") => decode::<core::Event>(ty, version, object),
        ("discovery.k8s.io", "endpointslices") => decode::<discovery::EndpointSlice>(ty, version, object),
        ("apps", "deployments") => decode::<apps::Deployment>(ty, version, object),
        ("apps", "replicasets") => decode::<apps::ReplicaSet>(ty, version, object),
        ("autoscaling", "horizontalpodautoscalers") => {
            decode::<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>(ty, version, object)
        }
        ("rbac.authorization.k8s.io", "roles") => {
            decode::<k8s_openapi::api::rbac::v1::Role>(ty, version, object)
        }
        ("rbac.authorization.k8s.io", "clusterroles") => {
            decode::<k8s_openapi::api::rbac::v1::ClusterRole>(ty, version, object)
        }
        ("rbac.authorization.k8s.io", "rolebindings") => {
            decode::<k8s_openapi::api::rbac::v1::RoleBinding>(ty, version, object)
        }
        ("rbac.authorization.k8s.io", "clusterrolebindings") => {
            decode::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>(ty, version, object)
        }
        ("coordination.k8s.io", "leases") => {
            decode::<k8s_openapi::api::coordination::v1::Lease>(ty, version, object)
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            decode::<apiext::CustomResourceDefinition>(ty, version, object)
        }
        _ => {
            return match ty.schemas.as_ref().and_then(|s| s.get(version)) {
                Some(schema) => super::schema::prune(schema, object),
                None => Vec::new(),
            }
        }
    };
    found.map(|(_, unknown)| unknown).unwrap_or_default()
}

fn normalise<T>(ty: &ResourceType, version: &str, object: &mut Value) -> Result<Vec<String>, ApiError>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let (encoded, unknown) = decode::<T>(ty, version, object)?;
    *object = encoded;
    Ok(unknown)
}

/// Go's `%#v` of a `map[string]string`, as the API server prints labels in messages.
pub fn go_string_map(map: &Value) -> String {
    let entries: Vec<String> = map
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    format!("map[string]string{{{}}}", entries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::builtin_types;
    use serde_json::json;

    fn ty(plural: &str) -> ResourceType {
        builtin_types().into_iter().find(|t| t.plural == plural).unwrap()
    }

    #[test]
    fn deployment_selector_must_match_template() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "y"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let err = validate(&ty("deployments"), "v1", &mut d, None).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(err.message, "Deployment.apps \"x\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"y\"}: `selector` does not match template `labels`");
    }

    #[test]
    fn missing_required_fields_and_bad_names() {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name", "namespace": "default"},
            "spec": {"containers": [{"image": "i"}]}});
        let err = validate(&ty("pods"), "v1", &mut p, None).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(err.message.contains("spec.containers[0].name: Required value"), "{}", err.message);
        let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}, "junk": 1});
        let err = validate(&ty("pods"), "v1", &mut p, None).unwrap_err();
        assert!(err.message.starts_with("Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{}", err.message);
        let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}, "junk": 1});
        let unknown = validate_reporting(&ty("pods"), "v1", &mut p, None).unwrap();
        assert_eq!(unknown, vec!["junk"]);
        assert!(p.get("junk").is_none());
    }

    #[test]
    fn quantities_are_checked_by_the_one_parser() {
        let pod = |cpu: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "i",
                    "resources": {"requests": {"cpu": cpu}, "limits": {"cpu": "2"}}}]}})
        };
        for good in ["1.5", "500m", "1e0", "2E0", "1"] {
            assert!(validate(&ty("pods"), "v1", &mut pod(good), None).is_ok(), "{good}");
        }
        for bad in ["1.2.3", "lots", "1Qi", "."] {
            let err = validate(&ty("pods"), "v1", &mut pod(bad), None).unwrap_err();
            assert!(
                err.message.contains("quantities must match the regular expression"),
                "{bad}: {}",
                err.message
            );
        }
        // 3 cpu requested against a limit of 2: compared exactly, not as floats.
        let err = validate(&ty("pods"), "v1", &mut pod("3"), None).unwrap_err();
        assert!(err.message.contains("must be less than or equal to cpu limit of 2"), "{}", err.message);
    }
}
