//! Pod rules: the pod spec (containers, ports, resources through the one quantity parser) as
//! kube-apiserver checks it in a Pod and in a workload's template, and what a pod update may
//! change.

use serde_json::Value;

use kube_units::quantity::Quantity;

use crate::errors::InvalidField;
use crate::names::{is_dns1123_label, DNS1123_LABEL_MSG};

/// The pod spec of a Pod or of a workload's template, at `path`.
pub(super) fn pod_spec(path: &str, spec: &Value, causes: &mut Vec<InvalidField>) {
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
            resources(&field, &c["resources"], causes);
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

/// A container's `resources` (its field path is `field`): every quantity parses (the one
/// parser, `kube_units::quantity`), requests are at most the limits, and extended resources
/// request exactly their limit.
fn resources(field: &str, resources: &Value, causes: &mut Vec<InvalidField>) {
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
            let (Ok(r), Some(Ok(l))) = (Quantity::parse(req_text), limit.as_str().map(Quantity::parse))
            else {
                continue;
            };
            if r > l {
                causes.push(InvalidField::invalid(
                    format!("{field}.resources.requests"),
                    format!("{req_text:?}"),
                    &format!("must be less than or equal to {res} limit of {}", limit.as_str().unwrap_or("")),
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

/// Pod updates may change only images, activeDeadlineSeconds, tolerations (additions) and
/// terminationGracePeriodSeconds; binding (setting `nodeName` once) stands in for the
/// `pods/binding` subresource.
pub(super) fn pod_update(old: &Value, new: &Value, causes: &mut Vec<InvalidField>) {
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
