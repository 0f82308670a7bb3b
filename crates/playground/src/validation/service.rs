//! Service rules: ports, types and the fields each type allows.

use serde_json::Value;

use super::meta::labels;
use crate::errors::InvalidField;

pub(super) fn service(object: &Value, causes: &mut Vec<InvalidField>) {
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
