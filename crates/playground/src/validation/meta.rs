//! ObjectMeta rules every kind shares: label and annotation keys and values, the name rule of
//! each kind, namespaces, and what `generateName` may produce.

use serde_json::Value;

use crate::errors::InvalidField;
use crate::names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_label_value, qualified_name_causes,
    DNS1035_LABEL_MSG, DNS1123_LABEL_MSG, DNS1123_SUBDOMAIN_MSG, LABEL_VALUE_MSG,
};
use crate::resources::ResourceType;

pub(super) fn labels(field: &str, labels: &Value, causes: &mut Vec<InvalidField>) {
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

pub(super) fn metadata(ty: &ResourceType, object: &Value, causes: &mut Vec<InvalidField>) {
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
