//! Validation of objects before they are stored: built-in kinds must decode as their
//! k8s-openapi types (unknown fields dropped, as the API server drops them) and pass the checks
//! kube-apiserver makes; custom resources are pruned and checked against their CRD's schema.
//! Refusals are 422 Invalid with the API server's field paths and texts.

use serde_json::Value;

use kube_units::quantity::Quantity;

use super::errors::{ApiError, InvalidField};
use super::names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_label_value, qualified_name_causes,
    DNS1035_LABEL_MSG, DNS1123_LABEL_MSG, DNS1123_SUBDOMAIN_MSG, LABEL_VALUE_MSG,
};
use super::resources::ResourceType;
use super::selectors;

fn labels(field: &str, labels: &Value, causes: &mut Vec<InvalidField>) {
    let Some(map) = labels.as_object() else { return };
    for (k, v) in map {
        causes.extend(qualified_name_causes(field, k));
        match v.as_str() {
            Some(s) if s.len() > 63 => causes.push(InvalidField::invalid(
                field,
                format!("{s:?}"),
                "must be no more than 63 characters",
            )),
            Some(s) if !is_label_value(s) => {
                causes.push(InvalidField::invalid(field, format!("{s:?}"), LABEL_VALUE_MSG))
            }
            _ => {}
        }
    }
}

fn annotations(field: &str, annotations: &Value, causes: &mut Vec<InvalidField>) {
    let Some(map) = annotations.as_object() else { return };
    let mut total = 0;
    for (k, v) in map {
        causes.extend(qualified_name_causes(field, &k.to_ascii_lowercase()));
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > 256 * 1024 {
        causes.push(InvalidField::too_long(field, 256 * 1024));
    }
}

/// The name rule of each kind.
#[derive(Clone, Copy)]
enum NameRule {
    Subdomain,
    Label,
    Dns1035,
}

fn name_rule(ty: &ResourceType) -> NameRule {
    match (ty.group.as_str(), ty.plural.as_str()) {
        ("", "namespaces") => NameRule::Label,
        ("", "services") => NameRule::Dns1035,
        _ => NameRule::Subdomain,
    }
}

fn metadata(ty: &ResourceType, object: &Value, causes: &mut Vec<InvalidField>) {
    let meta = &object["metadata"];
    let name = meta["name"].as_str().unwrap_or("");
    if name.is_empty() {
        causes.push(InvalidField::required("metadata.name", "name or generateName is required"));
    } else {
        let (ok, msg) = match name_rule(ty) {
            NameRule::Subdomain => (is_dns1123_subdomain(name), DNS1123_SUBDOMAIN_MSG),
            NameRule::Label => (is_dns1123_label(name), DNS1123_LABEL_MSG),
            NameRule::Dns1035 => (is_dns1035_label(name), DNS1035_LABEL_MSG),
        };
        if !ok {
            causes.push(InvalidField::invalid("metadata.name", format!("{name:?}"), msg));
        }
    }
    if ty.namespaced {
        let ns = meta["namespace"].as_str().unwrap_or("");
        if !is_dns1123_label(ns) {
            causes.push(InvalidField::invalid("metadata.namespace", format!("{ns:?}"), DNS1123_LABEL_MSG));
        }
    }
    labels("metadata.labels", &meta["labels"], causes);
    annotations("metadata.annotations", &meta["annotations"], causes);
    if let Some(owners) = meta["ownerReferences"].as_array() {
        for (i, owner) in owners.iter().enumerate() {
            for field in ["apiVersion", "kind", "name", "uid"] {
                if owner[field].as_str().unwrap_or("").is_empty() {
                    causes.push(InvalidField::required(format!("metadata.ownerReferences[{i}].{field}"), ""));
                }
            }
        }
        let controllers = owners.iter().filter(|o| o["controller"] == true).count();
        if controllers > 1 {
            causes.push(InvalidField::invalid(
                "metadata.ownerReferences",
                "[]v1.OwnerReference{...}",
                "Only one reference can have Controller set to true",
            ));
        }
    }
}

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
            super::rbac::validate(resource, object, old, &mut causes);
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

fn int_or_percent(value: &Value, replicas_hint: i64) -> Option<(i64, bool)> {
    match value {
        Value::Number(n) => n.as_i64().map(|v| (v, false)),
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map(|p| (p * replicas_hint.max(1) / 100, true)),
        _ => None,
    }
}

/// Deployment and ReplicaSet rules.
/// kube-apiserver's `ValidateHorizontalPodAutoscalerSpec` (autoscaling/v2, without the
/// HPAScaleToZero feature gate): the scale target named, the replica bounds ordered, each metric
/// of a known type with its source filled in and a valid target.
fn horizontal_pod_autoscaler(spec: &Value, causes: &mut Vec<InvalidField>) {
    let target = &spec["scaleTargetRef"];
    for field in ["kind", "name"] {
        match target[field].as_str() {
            None | Some("") => {
                causes.push(InvalidField::required(format!("spec.scaleTargetRef.{field}"), ""))
            }
            Some(value) if value.contains('/') || value.contains('%') || value == "." || value == ".." => {
                causes.push(InvalidField::invalid(
                    format!("spec.scaleTargetRef.{field}"),
                    format!("{value:?}"),
                    "may not contain '/' or '%', and may not be '.' or '..'",
                ));
            }
            Some(_) => {}
        }
    }
    let min = spec["minReplicas"].as_i64();
    let max = spec["maxReplicas"].as_i64().unwrap_or(0);
    if let Some(min) = min.filter(|&m| m < 1) {
        causes.push(InvalidField::invalid("spec.minReplicas", min, "must be greater than or equal to 1"));
    }
    if max < 1 {
        causes.push(InvalidField::invalid("spec.maxReplicas", max, "must be greater than 0"));
    }
    if min.is_some_and(|min| max < min) {
        causes.push(InvalidField::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    const SOURCES: [(&str, &str); 5] = [
        ("ContainerResource", "containerResource"),
        ("External", "external"),
        ("Object", "object"),
        ("Pods", "pods"),
        ("Resource", "resource"),
    ];
    for (i, metric) in spec["metrics"].as_array().into_iter().flatten().enumerate() {
        let field = format!("spec.metrics[{i}]");
        let type_ = metric["type"].as_str().unwrap_or_default();
        let Some((_, source)) = SOURCES.iter().find(|(t, _)| *t == type_) else {
            let allowed: Vec<String> = SOURCES.iter().map(|(t, _)| format!("{t:?}")).collect();
            causes.push(InvalidField::not_supported(format!("{field}.type"), format!("{type_:?}"), &allowed));
            continue;
        };
        let populated: Vec<&str> =
            SOURCES.iter().map(|(_, s)| *s).filter(|s| !metric[*s].is_null()).collect();
        if metric[*source].is_null() {
            causes.push(InvalidField::required(
                format!("{field}.{source}"),
                "must populate information for the given metric source",
            ));
            continue;
        }
        if populated.len() > 1 {
            causes.push(InvalidField::forbidden(
                format!("{field}.{}", populated.iter().find(|s| *s != source).copied().unwrap_or_default()),
                "must populate the given metric source only",
            ));
        }
        let metric_target = &metric[*source]["target"];
        match metric_target["type"].as_str() {
            Some("Utilization") => match metric_target["averageUtilization"].as_i64() {
                None => causes.push(InvalidField::required(
                    format!("{field}.{source}.target.averageUtilization"),
                    "must set either a target raw value or a target utilization",
                )),
                Some(u) if u < 1 => causes.push(InvalidField::invalid(
                    format!("{field}.{source}.target.averageUtilization"),
                    u,
                    "must be greater than 0",
                )),
                Some(_) => {}
            },
            Some("Value" | "AverageValue") => {}
            Some(other) => causes.push(InvalidField::not_supported(
                format!("{field}.{source}.target.type"),
                format!("{other:?}"),
                &["\"AverageValue\"".into(), "\"Utilization\"".into(), "\"Value\"".into()],
            )),
            None => causes.push(InvalidField::required(
                format!("{field}.{source}.target.type"),
                "must specify a metric target type",
            )),
        }
    }
}

fn workload(object: &Value, old: Option<&Value>, deployment: bool, causes: &mut Vec<InvalidField>) {
    let spec = &object["spec"];
    let selector = &spec["selector"];
    let empty = selector["matchLabels"].as_object().is_none_or(|m| m.is_empty())
        && selector["matchExpressions"].as_array().is_none_or(|e| e.is_empty());
    let kind = if deployment { "deployment" } else { "replicaset" };
    if selector.is_null() {
        causes.push(InvalidField::required("spec.selector", ""));
    } else if empty {
        causes.push(InvalidField::invalid(
            "spec.selector",
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}",
            &format!("empty selector is invalid for {kind}"),
        ));
    } else {
        labels("spec.selector.matchLabels", &selector["matchLabels"], causes);
        let template_labels = &spec["template"]["metadata"]["labels"];
        match selectors::LabelSelector::from_object(selector) {
            Ok(sel) => {
                if !sel.matches(template_labels) {
                    causes.push(InvalidField::invalid(
                        "spec.template.metadata.labels",
                        go_string_map(template_labels),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            Err(e) => causes.push(InvalidField::invalid("spec.selector", "", &e)),
        }
    }
    labels("spec.template.metadata.labels", &spec["template"]["metadata"]["labels"], causes);
    if let Some(r) = spec["replicas"].as_i64() {
        if r < 0 {
            causes.push(InvalidField::invalid("spec.replicas", r, "must be greater than or equal to 0"));
        }
    }
    if let Some(r) = spec["minReadySeconds"].as_i64() {
        if r < 0 {
            causes.push(InvalidField::invalid(
                "spec.minReadySeconds",
                r,
                "must be greater than or equal to 0",
            ));
        }
    }
    let template_spec = &spec["template"]["spec"];
    if spec["template"].is_null() {
        causes.push(InvalidField::required("spec.template", ""));
    } else {
        pod_spec("spec.template.spec", template_spec, causes);
        let restart = template_spec["restartPolicy"].as_str().unwrap_or("Always");
        if restart != "Always" {
            causes.push(InvalidField::not_supported(
                "spec.template.spec.restartPolicy",
                format!("{restart:?}"),
                &["\"Always\"".to_string()],
            ));
        }
    }
    if deployment {
        let strategy = &spec["strategy"];
        match strategy["type"].as_str() {
            Some("Recreate") => {
                if !strategy["rollingUpdate"].is_null() {
                    causes.push(InvalidField::forbidden(
                        "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'",
                    ));
                }
            }
            Some("RollingUpdate") | None => {
                let rolling = &strategy["rollingUpdate"];
                let surge = int_or_percent(&rolling["maxSurge"], 100);
                let unavailable = int_or_percent(&rolling["maxUnavailable"], 100);
                for (field, v, raw) in [
                    ("spec.strategy.rollingUpdate.maxSurge", surge, &rolling["maxSurge"]),
                    ("spec.strategy.rollingUpdate.maxUnavailable", unavailable, &rolling["maxUnavailable"]),
                ] {
                    match (raw, v) {
                        (Value::Null, _) => {}
                        (_, None) => causes.push(InvalidField::invalid(field, raw, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")),
                        (_, Some((n, _))) if n < 0 => {
                            causes.push(InvalidField::invalid(field, raw, "must be greater than or equal to 0"))
                        }
                        (_, Some((n, true))) if n > 100 && field.ends_with("maxUnavailable") => {
                            causes.push(InvalidField::invalid(field, raw, "must not be greater than 100%"))
                        }
                        _ => {}
                    }
                }
                if let (Some((0, _)), Some((0, _))) = (surge, unavailable) {
                    causes.push(InvalidField::invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        format!(
                            "intstr.IntOrString{{Type:{}, IntVal:0, StrVal:{:?}}}",
                            if rolling["maxUnavailable"].is_string() { 1 } else { 0 },
                            rolling["maxUnavailable"].as_str().unwrap_or("")
                        ),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
            }
            Some(other) => causes.push(InvalidField::not_supported(
                "spec.strategy.type",
                format!("{other:?}"),
                &["\"Recreate\"".to_string(), "\"RollingUpdate\"".to_string()],
            )),
        }
        if let (Some(deadline), min_ready) =
            (spec["progressDeadlineSeconds"].as_i64(), spec["minReadySeconds"].as_i64().unwrap_or(0))
        {
            if deadline <= min_ready {
                causes.push(InvalidField::invalid(
                    "spec.progressDeadlineSeconds",
                    deadline,
                    "must be greater than minReadySeconds",
                ));
            }
        }
        if let Some(limit) = spec["revisionHistoryLimit"].as_i64() {
            if limit < 0 {
                causes.push(InvalidField::invalid(
                    "spec.revisionHistoryLimit",
                    limit,
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    if let Some(old) = old {
        if old["spec"]["selector"] != spec["selector"] {
            causes.push(InvalidField::invalid(
                "spec.selector",
                format!(
                    "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}",
                    go_string_map(&spec["selector"]["matchLabels"])
                ),
                "field is immutable",
            ));
        }
    }
}

fn pod_spec(path: &str, spec: &Value, causes: &mut Vec<InvalidField>) {
    let containers = spec["containers"].as_array();
    match containers {
        None => causes.push(InvalidField::required(format!("{path}.containers"), "")),
        Some(list) if list.is_empty() => {
            causes.push(InvalidField::required(format!("{path}.containers"), ""))
        }
        Some(_) => {}
    }
    let mut names: Vec<&str> = Vec::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in spec[list].as_array().map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
            let field = format!("{path}.{list}[{i}]");
            let name = c["name"].as_str().unwrap_or("");
            if name.is_empty() {
                causes.push(InvalidField::required(format!("{field}.name"), ""));
            } else if !is_dns1123_label(name) {
                causes.push(InvalidField::invalid(
                    format!("{field}.name"),
                    format!("{name:?}"),
                    DNS1123_LABEL_MSG,
                ));
            } else if names.contains(&name) {
                causes.push(InvalidField::duplicate(format!("{field}.name"), format!("{name:?}")));
            } else {
                names.push(name);
            }
            let image = c["image"].as_str().unwrap_or("");
            if image.trim().is_empty() {
                causes.push(InvalidField::required(format!("{field}.image"), ""));
            } else if image != image.trim() {
                causes.push(InvalidField::invalid(
                    format!("{field}.image"),
                    format!("{image:?}"),
                    "must not have leading or trailing whitespace",
                ));
            }
            if let Some(policy) = c["imagePullPolicy"].as_str() {
                if !["Always", "IfNotPresent", "Never"].contains(&policy) {
                    causes.push(InvalidField::not_supported(
                        format!("{field}.imagePullPolicy"),
                        format!("{policy:?}"),
                        &["\"Always\"".into(), "\"IfNotPresent\"".into(), "\"Never\"".into()],
                    ));
                }
            }
            for (j, p) in c["ports"].as_array().map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
                let port = p["containerPort"].as_i64().unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    causes.push(InvalidField::invalid(
                        format!("{field}.ports[{j}].containerPort"),
                        port,
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
            let resources = &c["resources"];
            for kind in ["requests", "limits"] {
                if let Some(map) = resources[kind].as_object() {
                    for (res, q) in map {
                        let text = q.as_str().map(str::to_string).unwrap_or_else(|| q.to_string());
                        if let Err(e) = Quantity::parse(&text) {
                            causes.push(InvalidField::invalid(
                                format!("{field}.resources.{kind}[{res}]"),
                                format!("{text:?}"),
                                &e.to_string(),
                            ));
                        }
                    }
                }
            }
            if let (Some(requests), Some(limits)) =
                (resources["requests"].as_object(), resources["limits"].as_object())
            {
                for (res, req) in requests {
                    let (Some(limit), Some(req_text)) = (limits.get(res), req.as_str()) else { continue };
                    let (Ok(r), Some(Ok(l))) =
                        (Quantity::parse(req_text), limit.as_str().map(Quantity::parse))
                    else {
                        continue;
                    };
                    if r > l {
                        causes.push(InvalidField::invalid(
                            format!("{field}.resources.requests"),
                            format!("{req_text:?}"),
                            &format!(
                                "must be less than or equal to {res} limit of {}",
                                limit.as_str().unwrap_or("")
                            ),
                        ));
                    }
                    if res.contains('/') && !res.starts_with("kubernetes.io/") && r != l {
                        causes.push(InvalidField::invalid(
                            format!("{field}.resources.requests[{res}]"),
                            format!("{req_text:?}"),
                            &format!("must be equal to {res} limit of {}", limit.as_str().unwrap_or("")),
                        ));
                    }
                }
            }
        }
    }
    if let Some(policy) = spec["restartPolicy"].as_str() {
        if !["Always", "OnFailure", "Never"].contains(&policy) {
            causes.push(InvalidField::not_supported(
                format!("{path}.restartPolicy"),
                format!("{policy:?}"),
                &["\"Always\"".into(), "\"OnFailure\"".into(), "\"Never\"".into()],
            ));
        }
    }
}

/// Pod updates may change only images, activeDeadlineSeconds, tolerations (additions) and
/// terminationGracePeriodSeconds; binding (setting `nodeName` once) stands in for the
/// `pods/binding` subresource.
fn pod_update(old: &Value, new: &Value, causes: &mut Vec<InvalidField>) {
    let mut a = old["spec"].clone();
    let mut b = new["spec"].clone();
    for spec in [&mut a, &mut b] {
        for list in ["containers", "initContainers"] {
            if let Some(cs) = spec[list].as_array_mut() {
                for c in cs {
                    c["image"] = Value::Null;
                }
            }
        }
        if let Some(m) = spec.as_object_mut() {
            m.remove("activeDeadlineSeconds");
            m.remove("tolerations");
            m.remove("terminationGracePeriodSeconds");
        }
    }
    if a["nodeName"].as_str().unwrap_or("").is_empty() {
        if let Some(m) = a.as_object_mut() {
            m.remove("nodeName");
        }
        if let Some(m) = b.as_object_mut() {
            m.remove("nodeName");
        }
    }
    if a != b {
        causes.push(InvalidField::forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ));
    }
}

/// `ValidateLeaseSpec` of pkg/apis/coordination/validation: a duration, when given, is
/// positive; transitions are never negative.
fn lease(object: &Value, causes: &mut Vec<InvalidField>) {
    let spec = &object["spec"];
    if let Some(seconds) = spec["leaseDurationSeconds"].as_i64().filter(|s| *s <= 0) {
        causes.push(InvalidField::invalid("spec.leaseDurationSeconds", seconds, "must be greater than 0"));
    }
    if let Some(transitions) = spec["leaseTransitions"].as_i64().filter(|t| *t < 0) {
        causes.push(InvalidField::invalid(
            "spec.leaseTransitions",
            transitions,
            "must be greater than or equal to 0",
        ));
    }
}

fn service(object: &Value, causes: &mut Vec<InvalidField>) {
    let spec = &object["spec"];
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&kind) {
        causes.push(InvalidField::not_supported(
            "spec.type",
            format!("{kind:?}"),
            &[
                "\"ClusterIP\"".into(),
                "\"ExternalName\"".into(),
                "\"LoadBalancer\"".into(),
                "\"NodePort\"".into(),
            ],
        ));
    }
    let ports = spec["ports"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if ports.is_empty() && kind != "ExternalName" && spec["clusterIP"] != "None" {
        causes.push(InvalidField::required("spec.ports", ""));
    }
    let mut names = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let port = p["port"].as_i64().unwrap_or(0);
        if !(1..=65535).contains(&port) {
            causes.push(InvalidField::invalid(
                format!("spec.ports[{i}].port"),
                port,
                "must be between 1 and 65535, inclusive",
            ));
        }
        let name = p["name"].as_str().unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            causes.push(InvalidField::required(format!("spec.ports[{i}].name"), ""));
        }
        if !name.is_empty() {
            if names.contains(&name) {
                causes.push(InvalidField::duplicate(format!("spec.ports[{i}].name"), format!("{name:?}")));
            }
            names.push(name);
        }
    }
    labels("spec.selector", &spec["selector"], causes);
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
