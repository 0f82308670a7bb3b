//! RBAC object rules beyond the schema, as kube-apiserver's RBAC validation makes them: rules
//! name verbs, and resources with apiGroups (or nonResourceURLs, in ClusterRoles only);
//! bindings name a role of an allowed kind and well-formed subjects; `roleRef` never changes.

use serde_json::Value;

use crate::errors::InvalidField;
use crate::rbac::strings;

/// Go's `field.NotSupported`, values quoted.
fn unsupported(field: impl Into<String>, value: &str, allowed: &[&str]) -> InvalidField {
    let allowed: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
    InvalidField::not_supported(field, format!("{value:?}"), &allowed)
}

/// The extra checks kube-apiserver's RBAC validation makes beyond the schema: rules name
/// verbs, and resources with apiGroups (or nonResourceURLs, in ClusterRoles only); bindings
/// name a role of an allowed kind and well-formed subjects; `roleRef` never changes.
pub(super) fn role_or_binding(
    resource: &str,
    object: &Value,
    old: Option<&Value>,
    causes: &mut Vec<InvalidField>,
) {
    match resource {
        "roles" | "clusterroles" => role_rules(resource == "clusterroles", object, causes),
        "rolebindings" | "clusterrolebindings" => binding_rules(resource, object, old, causes),
        _ => {}
    }
}

/// Each rule names verbs, and resources with apiGroups or (in a ClusterRole only)
/// nonResourceURLs, never both.
fn role_rules(cluster: bool, object: &Value, causes: &mut Vec<InvalidField>) {
    for (i, rule) in object["rules"].as_array().into_iter().flatten().enumerate() {
        let field = |f: &str| format!("rules[{i}].{f}");
        if strings(&rule["verbs"]).next().is_none() {
            causes.push(InvalidField::required(field("verbs"), "verbs must contain at least one value"));
        }
        let urls = strings(&rule["nonResourceURLs"]).next().is_some();
        if urls && !cluster {
            causes.push(InvalidField::invalid(
                field("nonResourceURLs"),
                format!("{:?}", strings(&rule["nonResourceURLs"]).collect::<Vec<_>>()),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if urls
            && (strings(&rule["resources"]).next().is_some() || strings(&rule["apiGroups"]).next().is_some())
        {
            causes.push(InvalidField::invalid(
                field("nonResourceURLs"),
                format!("{:?}", strings(&rule["nonResourceURLs"]).collect::<Vec<_>>()),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        if !urls {
            if strings(&rule["apiGroups"]).next().is_none() {
                causes.push(InvalidField::required(
                    field("apiGroups"),
                    "resource rules must supply at least one api group",
                ));
            }
            if strings(&rule["resources"]).next().is_none() {
                causes.push(InvalidField::required(
                    field("resources"),
                    "resource rules must supply at least one resource",
                ));
            }
        }
    }
}

/// `roleRef` names a role of a kind the binding allows and never changes; subjects are
/// well-formed ServiceAccounts, Users or Groups.
fn binding_rules(resource: &str, object: &Value, old: Option<&Value>, causes: &mut Vec<InvalidField>) {
    let role_ref = &object["roleRef"];
    if role_ref["apiGroup"].as_str() != Some("rbac.authorization.k8s.io") {
        causes.push(unsupported(
            "roleRef.apiGroup",
            role_ref["apiGroup"].as_str().unwrap_or(""),
            &["rbac.authorization.k8s.io"],
        ));
    }
    let kinds: &[&str] = if resource == "rolebindings" { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    let kind = role_ref["kind"].as_str().unwrap_or("");
    if !kinds.contains(&kind) {
        causes.push(unsupported("roleRef.kind", kind, kinds));
    }
    if role_ref["name"].as_str().unwrap_or("").is_empty() {
        causes.push(InvalidField::required("roleRef.name", ""));
    }
    for (i, subject) in object["subjects"].as_array().into_iter().flatten().enumerate() {
        let kind = subject["kind"].as_str().unwrap_or("");
        if subject["name"].as_str().unwrap_or("").is_empty() {
            causes.push(InvalidField::required(format!("subjects[{i}].name"), ""));
        }
        match kind {
            "ServiceAccount" => {
                if resource == "clusterrolebindings" && subject["namespace"].as_str().unwrap_or("").is_empty()
                {
                    causes.push(InvalidField::required(format!("subjects[{i}].namespace"), ""));
                }
            }
            "User" | "Group" => {
                if subject["apiGroup"].as_str() != Some("rbac.authorization.k8s.io") {
                    causes.push(unsupported(
                        format!("subjects[{i}].apiGroup"),
                        subject["apiGroup"].as_str().unwrap_or(""),
                        &["rbac.authorization.k8s.io"],
                    ));
                }
            }
            other => causes.push(unsupported(
                format!("subjects[{i}].kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
    if let Some(old) = old {
        if old["roleRef"] != object["roleRef"] {
            causes.push(InvalidField::invalid(
                "roleRef",
                format!("{}", object["roleRef"]),
                "cannot change roleRef",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bindings_are_validated() {
        let mut causes = Vec::new();
        role_or_binding(
            "clusterrolebindings",
            &json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"}, "subjects": [{"kind": "Robot", "name": "r"}]}),
            None,
            &mut causes,
        );
        assert_eq!(causes.len(), 2, "{causes:?}");
        let mut causes = Vec::new();
        let old = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}});
        let new = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "b"}});
        role_or_binding("rolebindings", &new, Some(&old), &mut causes);
        assert_eq!(causes.len(), 1);
        let mut causes = Vec::new();
        role_or_binding("roles", &json!({"rules": [{"verbs": ["get"]}]}), None, &mut causes);
        assert_eq!(causes.len(), 2);
    }
}
